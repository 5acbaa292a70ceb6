//! Conversions of record headers: to and from rdkafka headers, and to and from
//! the `jsonb` form stored in `outbox.headers` and `dead_letters.headers`.
//!
//! Stored form: a JSON array of `{"name": "...", "value": "..."}` objects, with
//! `"value_base64"` instead of `"value"` for values that are not UTF-8.

use base64::Engine as _;
use rdkafka::message::{Header, OwnedHeaders};
use serde_json::{json, Value};

use crate::error::BusError;

/// Record headers in order: name and raw value. A null header value is an empty one.
pub type HeaderList = Vec<(String, Vec<u8>)>;

/// Builds rdkafka headers.
pub(crate) fn to_kafka(headers: &[(String, Vec<u8>)]) -> OwnedHeaders {
    headers.iter().fold(
        OwnedHeaders::new_with_capacity(headers.len()),
        |acc, (k, v)| {
            acc.insert(Header {
                key: k,
                value: Some(v),
            })
        },
    )
}

/// Copies the headers of a consumed record.
pub(crate) fn from_kafka<H: rdkafka::message::Headers>(headers: &H) -> HeaderList {
    headers
        .iter()
        .map(|h| {
            (
                h.key.to_owned(),
                h.value.map(<[u8]>::to_vec).unwrap_or_default(),
            )
        })
        .collect()
}

/// Encodes headers for a `jsonb` column.
pub(crate) fn to_json(headers: &[(String, Vec<u8>)]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(k, v)| {
                // jsonb cannot hold U+0000: such a name is shown with U+FFFD,
                // such a value kept exactly, in base64, like one not UTF-8.
                let k = k.replace('\0', "\u{fffd}");
                match std::str::from_utf8(v) {
                    Ok(s) if !s.contains('\0') => json!({ "name": k, "value": s }),
                    _ => json!({
                        "name": k,
                        "value_base64": base64::engine::general_purpose::STANDARD.encode(v),
                    }),
                }
            })
            .collect(),
    )
}

/// Decodes headers from a `jsonb` column written by [`to_json`].
pub(crate) fn from_json(value: &Value) -> Result<HeaderList, BusError> {
    let malformed = |what: &str| BusError::StoredHeaders(what.to_owned());
    let items = value.as_array().ok_or_else(|| malformed("not an array"))?;
    items
        .iter()
        .map(|item| {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("an entry has no string \"name\""))?;
            let bytes = if let Some(s) = item.get("value").and_then(Value::as_str) {
                s.as_bytes().to_vec()
            } else if let Some(b) = item.get("value_base64").and_then(Value::as_str) {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| BusError::StoredHeaders(format!("header {name}: {e}")))?
            } else {
                Vec::new()
            };
            Ok((name.to_owned(), bytes))
        })
        .collect()
}

/// The first header called `name` (exact match), if any.
pub(crate) fn find<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_slice())
}

/// Sets `name` to `value`, replacing every earlier header of that name.
pub(crate) fn set(headers: &mut HeaderList, name: &str, value: Vec<u8>) {
    headers.retain(|(k, _)| k != name);
    headers.push((name.to_owned(), value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_text_and_binary_values() {
        let headers: HeaderList = vec![
            ("ce_id".into(), b"abc".to_vec()),
            ("bin".into(), vec![0xff, 0x00, 0xfe]),
            ("empty".into(), Vec::new()),
            ("ce_id".into(), b"dup".to_vec()),
            ("nul".into(), b"a\0b".to_vec()),
        ];
        let json = to_json(&headers);
        assert!(
            !json.to_string().contains("\\u0000"),
            "jsonb cannot store U+0000: {json}"
        );
        let back = from_json(&json).expect("decode");
        assert_eq!(back, headers);
    }

    #[test]
    fn malformed_json_is_a_typed_error() {
        assert!(matches!(
            from_json(&json!({"a": 1})),
            Err(BusError::StoredHeaders(_))
        ));
        assert!(matches!(
            from_json(&json!([{"value": "x"}])),
            Err(BusError::StoredHeaders(_))
        ));
    }

    #[test]
    fn set_replaces_existing() {
        let mut h: HeaderList = vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())];
        set(&mut h, "a", b"3".to_vec());
        assert_eq!(find(&h, "a"), Some(&b"3"[..]));
        assert_eq!(h.len(), 2);
    }
}
