//! A consumed record, owned (detached from the client's buffers).

use chrono::{DateTime, Utc};
use rdkafka::message::{BorrowedMessage, Message as _};

use crate::cloudevents::CloudEvent;
use crate::error::CloudEventError;
use crate::headers::{self, HeaderList};

/// One consumed Kafka record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Topic (full, prefixed name).
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// Key, if any.
    pub key: Option<Vec<u8>>,
    /// Body; `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: HeaderList,
    /// Record timestamp (create or log-append time), if the broker set one.
    pub timestamp: Option<DateTime<Utc>>,
}

impl Record {
    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        headers::find(&self.headers, name)
    }

    /// The value of the first header called `name`, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The body, empty for a tombstone.
    pub fn body(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or_default()
    }

    /// Decodes the record as a CloudEvent (binary or structured mode).
    pub fn cloud_event(&self) -> Result<CloudEvent, CloudEventError> {
        CloudEvent::decode(&self.headers, self.body())
    }

    pub(crate) fn from_message(m: &BorrowedMessage<'_>) -> Self {
        Self {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().map(<[u8]>::to_vec),
            headers: m.headers().map(headers::from_kafka).unwrap_or_default(),
            timestamp: m
                .timestamp()
                .to_millis()
                .and_then(DateTime::<Utc>::from_timestamp_millis),
        }
    }
}
