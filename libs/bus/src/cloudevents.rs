//! CloudEvents 1.0 over Kafka: binary content mode for everything we produce
//! (attributes in `ce_*` headers, JSON data in the body), and decoding of
//! binary or structured mode (`application/cloudevents+json`) records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CloudEventError;
use crate::headers::HeaderList;
use crate::trace::TRACEPARENT;

mod wire;
use wire::{check_version, format_time, header_str, is_json, media_type, parse_time};

/// The CloudEvents version we read and write.
pub const SPEC_VERSION: &str = "1.0";
/// Content type of the body in binary mode.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Content type of a structured-mode record (whole event in the body).
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

/// Header names of the Kafka protocol binding (binary mode).
pub mod header {
    /// Event id.
    pub const ID: &str = "ce_id";
    /// Event source (URI reference naming the producer).
    pub const SOURCE: &str = "ce_source";
    /// Event type, versioned (`lead.triaged.v1`).
    pub const TYPE: &str = "ce_type";
    /// Always `1.0`.
    pub const SPECVERSION: &str = "ce_specversion";
    /// RFC 3339 time of the occurrence.
    pub const TIME: &str = "ce_time";
    /// Subject within the source (e.g. the lead id).
    pub const SUBJECT: &str = "ce_subject";
    /// `correlationid` extension: follows one lead through all agents.
    pub const CORRELATION_ID: &str = "ce_correlationid";
    /// Media type of the body.
    pub const CONTENT_TYPE: &str = "content-type";
}

/// One CloudEvent with JSON data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Unique id (UUIDv7 when created here); consumers dedupe on it.
    pub id: String,
    /// URI reference of the producer, e.g. `/lead-triage`.
    pub source: String,
    /// Versioned event type, e.g. `lead.triaged.v1`.
    #[serde(rename = "type")]
    pub type_: String,
    /// What the event is about, e.g. the lead id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When the occurrence happened.
    pub time: DateTime<Utc>,
    /// The payload.
    #[serde(default)]
    pub data: Value,
    /// `correlationid` extension attribute.
    #[serde(
        rename = "correlationid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub correlation_id: Option<String>,
    /// W3C `traceparent` (distributed tracing extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// An event encoded in binary content mode, ready to become a Kafka record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryEvent {
    /// `ce_*`, `content-type` and (if set) `traceparent` headers.
    pub headers: HeaderList,
    /// The JSON data.
    pub payload: Vec<u8>,
}

/// Structured-mode wire form: every attribute plus `specversion` in one JSON object.
#[derive(Deserialize)]
struct StructuredIn {
    specversion: Option<String>,
    id: Option<String>,
    source: Option<String>,
    #[serde(rename = "type")]
    type_: Option<String>,
    subject: Option<String>,
    time: Option<String>,
    datacontenttype: Option<String>,
    #[serde(default)]
    data: Value,
    correlationid: Option<String>,
    traceparent: Option<String>,
}

#[derive(Serialize)]
struct StructuredOut<'a> {
    specversion: &'static str,
    datacontenttype: &'static str,
    #[serde(flatten)]
    event: &'a CloudEvent,
}

impl CloudEvent {
    /// A new event with a fresh UUIDv7 id and the current time.
    pub fn new(
        type_: impl Into<String>,
        source: impl Into<String>,
        subject: Option<String>,
        data: Value,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            source: source.into(),
            type_: type_.into(),
            subject,
            time: Utc::now(),
            data,
            correlation_id: None,
            traceparent: None,
        }
    }

    /// Sets the `correlationid` extension.
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// Deserializes the data into a typed struct.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, CloudEventError> {
        Ok(T::deserialize(&self.data)?)
    }

    /// Encodes the event in Kafka binary content mode.
    pub fn to_binary(&self) -> Result<BinaryEvent, CloudEventError> {
        let mut h: HeaderList = vec![
            (header::ID.into(), self.id.clone().into_bytes()),
            (header::SOURCE.into(), self.source.clone().into_bytes()),
            (header::TYPE.into(), self.type_.clone().into_bytes()),
            (header::SPECVERSION.into(), SPEC_VERSION.as_bytes().to_vec()),
            (header::TIME.into(), format_time(&self.time).into_bytes()),
            (
                header::CONTENT_TYPE.into(),
                JSON_CONTENT_TYPE.as_bytes().to_vec(),
            ),
        ];
        if let Some(s) = &self.subject {
            h.push((header::SUBJECT.into(), s.clone().into_bytes()));
        }
        if let Some(c) = &self.correlation_id {
            h.push((header::CORRELATION_ID.into(), c.clone().into_bytes()));
        }
        if let Some(t) = &self.traceparent {
            h.push((TRACEPARENT.into(), t.clone().into_bytes()));
        }
        Ok(BinaryEvent {
            headers: h,
            payload: serde_json::to_vec(&self.data)?,
        })
    }

    /// Encodes the event in structured content mode (one JSON object); the
    /// record then needs `content-type: application/cloudevents+json`.
    pub fn to_structured(&self) -> Result<Vec<u8>, CloudEventError> {
        Ok(serde_json::to_vec(&StructuredOut {
            specversion: SPEC_VERSION,
            datacontenttype: JSON_CONTENT_TYPE,
            event: self,
        })?)
    }

    /// Decodes a record in binary or structured content mode. Anything else
    /// (e.g. plain JSON without CloudEvents headers) is
    /// [`CloudEventError::NotACloudEvent`]. An absent `time` (optional in the
    /// spec) reads as the time of decoding.
    pub fn decode(headers: &[(String, Vec<u8>)], body: &[u8]) -> Result<Self, CloudEventError> {
        let content_type = header_str(headers, header::CONTENT_TYPE)?;
        if let Some(version) = header_str(headers, header::SPECVERSION)? {
            check_version(version)?;
            if let Some(ct) = content_type {
                if !is_json(ct) {
                    return Err(CloudEventError::UnsupportedContentType(ct.to_owned()));
                }
            }
            return Self::decode_binary(headers, body);
        }
        match content_type {
            Some(ct) if media_type(ct) == STRUCTURED_CONTENT_TYPE => Self::decode_structured(body),
            _ => Err(CloudEventError::NotACloudEvent),
        }
    }

    fn decode_binary(headers: &[(String, Vec<u8>)], body: &[u8]) -> Result<Self, CloudEventError> {
        let required = |name: &'static str, attr: &'static str| {
            header_str(headers, name)?
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(CloudEventError::MissingAttribute(attr))
        };
        let optional =
            |name: &str| Ok::<_, CloudEventError>(header_str(headers, name)?.map(str::to_owned));
        let data = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)?
        };
        Ok(Self {
            id: required(header::ID, "id")?,
            source: required(header::SOURCE, "source")?,
            type_: required(header::TYPE, "type")?,
            subject: optional(header::SUBJECT)?,
            time: parse_time(header_str(headers, header::TIME)?)?,
            data,
            correlation_id: optional(header::CORRELATION_ID)?,
            traceparent: optional(TRACEPARENT)?.or(optional("ce_traceparent")?),
        })
    }

    fn decode_structured(body: &[u8]) -> Result<Self, CloudEventError> {
        let s: StructuredIn = serde_json::from_slice(body)?;
        check_version(s.specversion.as_deref().unwrap_or(""))?;
        if let Some(ct) = &s.datacontenttype {
            if !is_json(ct) {
                return Err(CloudEventError::UnsupportedContentType(ct.clone()));
            }
        }
        let required = |v: Option<String>, attr: &'static str| {
            v.filter(|v| !v.is_empty())
                .ok_or(CloudEventError::MissingAttribute(attr))
        };
        Ok(Self {
            id: required(s.id, "id")?,
            source: required(s.source, "source")?,
            type_: required(s.type_, "type")?,
            subject: s.subject,
            time: parse_time(s.time.as_deref())?,
            data: s.data,
            correlation_id: s.correlationid,
            traceparent: s.traceparent,
        })
    }
}

#[cfg(test)]
mod tests;
