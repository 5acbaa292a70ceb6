//! Campaign vocabulary shared by engagement and campaign-optimization:
//! [`Objective`], [`CampaignStatus`] and [`InteractionKind`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A string that names no value of an enumeration; says which values exist.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be one of {expected}")]
pub struct UnknownValue {
    /// The accepted values, comma separated.
    pub expected: &'static str,
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $expected:literal, { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The serialised (snake case) name; also the database value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or(UnknownValue { expected: $expected })
            }
        }
    };
}

string_enum!(
    /// What a campaign optimises for: the interaction that counts as a
    /// success of a send.
    Objective, "click, reply, conversion", {
        /// A `clicked` interaction.
        Click => "click",
        /// A `replied` interaction.
        Reply => "reply",
        /// A `converted` interaction.
        Conversion => "conversion",
    }
);

impl Objective {
    /// The interaction kind that counts as an outcome for this objective.
    pub const fn outcome(self) -> InteractionKind {
        match self {
            Objective::Click => InteractionKind::Clicked,
            Objective::Reply => InteractionKind::Replied,
            Objective::Conversion => InteractionKind::Converted,
        }
    }
}

string_enum!(
    /// Lifecycle of a campaign. Only `active` campaigns get new sends.
    CampaignStatus, "active, paused, archived", {
        /// Targets leads and sends.
        Active => "active",
        /// Sends nothing new (paused by a user or by budget exhaustion); can resume.
        Paused => "paused",
        /// Finished; read-only, cannot resume.
        Archived => "archived",
    }
);

string_enum!(
    /// What happened to a send or a lead, as carried by
    /// `engagement.interaction.v1`.
    InteractionKind,
    "sent, delivered, opened, clicked, replied, converted, bounced, unsubscribed",
    {
        /// The provider accepted the message (published by engagement itself).
        Sent => "sent",
        /// The provider reports delivery.
        Delivered => "delivered",
        /// The recipient opened the message.
        Opened => "opened",
        /// The recipient clicked a link.
        Clicked => "clicked",
        /// The recipient replied.
        Replied => "replied",
        /// The recipient converted (the campaign's business goal).
        Converted => "converted",
        /// The message bounced; withdraws consent for the channel.
        Bounced => "bounced",
        /// The recipient unsubscribed; withdraws consent for the channel.
        Unsubscribed => "unsubscribed",
    }
);

impl InteractionKind {
    /// Whether this interaction withdraws the lead's consent for the channel.
    pub const fn withdraws_consent(self) -> bool {
        matches!(
            self,
            InteractionKind::Bounced | InteractionKind::Unsubscribed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_text_and_json() {
        for o in Objective::ALL {
            assert_eq!(o.as_str().parse::<Objective>(), Ok(*o));
            assert_eq!(serde_json::to_string(o).unwrap(), format!("\"{o}\""));
        }
        for s in CampaignStatus::ALL {
            assert_eq!(s.as_str().parse::<CampaignStatus>(), Ok(*s));
        }
        for k in InteractionKind::ALL {
            assert_eq!(k.as_str().parse::<InteractionKind>(), Ok(*k));
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{k}\""));
        }
        assert_eq!(InteractionKind::ALL.len(), 8);
    }

    #[test]
    fn unknown_values_name_the_accepted_ones() {
        let err = "impressions".parse::<Objective>().unwrap_err();
        assert_eq!(err.to_string(), "must be one of click, reply, conversion");
        assert!("Sent".parse::<InteractionKind>().is_err());
        assert!(serde_json::from_str::<CampaignStatus>("\"draft\"").is_err());
    }

    #[test]
    fn objectives_map_to_their_outcome() {
        assert_eq!(Objective::Click.outcome(), InteractionKind::Clicked);
        assert_eq!(Objective::Reply.outcome(), InteractionKind::Replied);
        assert_eq!(Objective::Conversion.outcome(), InteractionKind::Converted);
        assert!(InteractionKind::Unsubscribed.withdraws_consent());
        assert!(InteractionKind::Bounced.withdraws_consent());
        assert!(!InteractionKind::Clicked.withdraws_consent());
    }
}
