//! Identifiers: [`LeadId`], [`WorkspaceId`] (UUIDs) and [`CorrelationId`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use uuid::Uuid;

/// A string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be a UUID")]
pub struct IdError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (for example one read from the database).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// Parses the hyphenated (or any other standard) UUID text form.
            pub fn parse(input: &str) -> Result<Self, IdError> {
                Uuid::try_parse(input.trim()).map(Self).map_err(|_| IdError)
            }

            /// The UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

uuid_id!(
    /// The id of a lead; the Kafka key of its triage events.
    LeadId
);
uuid_id!(
    /// The id of a workspace (tenant).
    WorkspaceId
);
uuid_id!(
    /// The id of a campaign; the Kafka key of interactions and allocations.
    CampaignId
);
uuid_id!(
    /// The id of a campaign variant.
    VariantId
);
uuid_id!(
    /// The id of one interaction (a send or an outcome); the CloudEvents id
    /// of its `engagement.interaction.v1` event.
    InteractionId
);

/// Longest correlation id accepted, in bytes.
pub const MAX_CORRELATION_ID_LEN: usize = 128;

/// A correlation id that is empty, too long or not visible ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be 1 to 128 visible ASCII characters")]
pub struct CorrelationIdError;

/// Follows one lead through all three agents (the CloudEvents
/// `correlationid` extension). Ids from external producers are kept as
/// given when they are 1–128 visible ASCII characters (safe in a Kafka
/// header and a log line); otherwise the caller generates one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CorrelationId(String);

impl CorrelationId {
    /// A fresh id (a v7 UUID in text form).
    pub fn generate() -> Self {
        Self(Uuid::now_v7().hyphenated().to_string())
    }

    /// Validates an id received from outside.
    pub fn parse(input: &str) -> Result<Self, CorrelationIdError> {
        let ok = !input.is_empty()
            && input.len() <= MAX_CORRELATION_ID_LEN
            && input.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(CorrelationIdError)
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CorrelationId {
    type Err = CorrelationIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for CorrelationId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CorrelationId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn uuid_ids_parse_display_and_serialise() {
        let id = LeadId::new();
        assert_eq!(LeadId::parse(&id.to_string()), Ok(id));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        assert_eq!(WorkspaceId::parse("not-a-uuid"), Err(IdError));
        assert!(serde_json::from_str::<WorkspaceId>("\"nope\"").is_err());
        assert_ne!(LeadId::new(), LeadId::new());
    }

    #[test]
    fn correlation_ids_are_bounded_visible_ascii() {
        assert!(CorrelationId::parse("req-123_abc:1").is_ok());
        assert_eq!(CorrelationId::parse(""), Err(CorrelationIdError));
        assert_eq!(CorrelationId::parse("has space"), Err(CorrelationIdError));
        assert_eq!(CorrelationId::parse("ünïcode"), Err(CorrelationIdError));
        assert!(CorrelationId::parse(&"a".repeat(128)).is_ok());
        assert!(CorrelationId::parse(&"a".repeat(129)).is_err());
        let generated = CorrelationId::generate();
        assert_eq!(CorrelationId::parse(generated.as_str()), Ok(generated));
    }

    proptest! {
        #[test]
        fn any_uuid_round_trips(bytes in any::<[u8; 16]>()) {
            let id = WorkspaceId::from_uuid(Uuid::from_bytes(bytes));
            prop_assert_eq!(WorkspaceId::parse(&id.to_string()), Ok(id));
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<WorkspaceId>(&json).unwrap(), id);
        }
    }
}
