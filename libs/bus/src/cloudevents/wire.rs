//! Wire-format helpers of the CloudEvents codec.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::CloudEventError;
use crate::headers;

use super::{header, JSON_CONTENT_TYPE, SPEC_VERSION};

pub(super) fn check_version(version: &str) -> Result<(), CloudEventError> {
    if version == SPEC_VERSION {
        Ok(())
    } else {
        Err(CloudEventError::UnsupportedSpecVersion(version.to_owned()))
    }
}

/// The value of the first header called `name` (content type matched
/// case-insensitively, `ce_*` exactly), as UTF-8.
pub(super) fn header_str<'a>(
    headers: &'a [(String, Vec<u8>)],
    name: &str,
) -> Result<Option<&'a str>, CloudEventError> {
    let value = if name == header::CONTENT_TYPE {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    } else {
        headers::find(headers, name)
    };
    value
        .map(|v| {
            std::str::from_utf8(v).map_err(|_| CloudEventError::InvalidHeader(name.to_owned()))
        })
        .transpose()
}

/// `application/json; charset=utf-8` → `application/json`.
pub(super) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub(super) fn is_json(content_type: &str) -> bool {
    let m = media_type(content_type);
    m == JSON_CONTENT_TYPE || m == "text/json" || m.ends_with("+json")
}

pub(super) fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub(super) fn parse_time(raw: Option<&str>) -> Result<DateTime<Utc>, CloudEventError> {
    match raw {
        None => Ok(Utc::now()),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| CloudEventError::InvalidTime(s.to_owned())),
    }
}
