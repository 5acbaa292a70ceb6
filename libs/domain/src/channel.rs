//! Outreach channels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A string that names no channel.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be one of phone, sms, email")]
pub struct ChannelError;

/// An outreach channel. Serialised in lower case (`"sms"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A phone call (through a voice gateway).
    Phone,
    /// A text message.
    Sms,
    /// An email.
    Email,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 3] = [Channel::Phone, Channel::Sms, Channel::Email];

    /// The lower-case name, as serialised (also used in Redis keys and metric labels).
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = ChannelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(ChannelError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_and_serialise_in_lower_case() {
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
            assert_eq!(
                serde_json::to_string(&channel).unwrap(),
                format!("\"{channel}\"")
            );
        }
        assert_eq!("fax".parse::<Channel>(), Err(ChannelError));
        assert_eq!("Email".parse::<Channel>(), Err(ChannelError));
    }
}
