//! Extractors that turn every malformed input into a 4xx problem naming the field.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::problem::ApiError;

/// One failing field, addressed by a JSON Pointer into the request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) of the field, e.g. `/leads/3/email`; empty for the whole body.
    pub pointer: String,
    /// What is wrong with it.
    pub detail: String,
}

impl FieldError {
    /// A field error at `pointer`.
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// Semantic checks run after a body deserialized.
pub trait Validate {
    /// Every problem found, or `Ok(())`.
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
}

/// A JSON body that parsed and validated. Rejections: 415 wrong media type,
/// 413 too large, 400 bad syntax or UTF-8, 422 wrong types / unknown or
/// missing fields / failed [`Validate`], each naming the field path.
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        ValidJsonBytes::<T>::from_request(req, state)
            .await
            .map(|v| Self(v.value))
    }
}

/// Like [`ValidJson`], keeping the raw body too (for idempotency hashes).
#[derive(Debug, Clone)]
pub struct ValidJsonBytes<T> {
    /// The parsed, validated body.
    pub value: T,
    /// The body exactly as received.
    pub bytes: Bytes,
}

impl<S, T> FromRequest<S> for ValidJsonBytes<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("the body could not be read".into())
            }
        })?;
        let value: T = parse_json(&bytes)?;
        value.validate().map_err(ApiError::Validation)?;
        Ok(Self { value, bytes })
    }
}

fn is_json(value: Option<&header::HeaderValue>) -> bool {
    let Some(Ok(value)) = value.map(|v| v.to_str()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Deserializes an already parsed JSON value (e.g. one item of a batch),
/// mapping errors to 422 with pointers under `prefix`.
pub fn from_value<T: DeserializeOwned>(
    mut value: serde_json::Value,
    prefix: &str,
) -> Result<T, Vec<FieldError>> {
    if let Err(ApiError::Validation(errors)) = check_nul(&value, prefix) {
        return Err(errors);
    }
    loop {
        match from_value_ref(&value, prefix) {
            Err(errors) if integer_written_as_float(&mut value, &errors, prefix) => continue,
            parsed => return parsed,
        }
    }
}

fn from_value_ref<T: DeserializeOwned>(
    value: &serde_json::Value,
    prefix: &str,
) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let pointer = format!("{prefix}{}", pointer_of(err.path()));
        let message = err.into_inner().to_string();
        let pointer = match missing_field(&message) {
            Some(field) => format!("{pointer}/{field}"),
            None => pointer,
        };
        vec![FieldError::new(pointer, message)]
    })
}

/// Refuses a body with U+0000 in any string or key: Postgres can store it in
/// neither `text` nor `jsonb`, so it is bad input (422), not a server error.
/// The escape is looked for first, so a body without it costs one scan.
fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    let escape = b"\\u0000";
    if !bytes.windows(escape.len()).any(|w| w == escape) {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => check_nul(&value, ""),
        // Not JSON: the parse that follows says why.
        Err(_) => Ok(()),
    }
}

/// Refuses U+0000 anywhere in `value`'s strings or keys, naming where.
pub fn check_nul(value: &serde_json::Value, pointer: &str) -> Result<(), ApiError> {
    use serde_json::Value;
    let refuse = |at: String| Err(ApiError::invalid(at, NUL_MESSAGE));
    match value {
        Value::String(s) if s.contains('\0') => refuse(pointer.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_nul(v, &format!("{pointer}/{i}"))),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let at = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
            if k.contains('\0') {
                refuse(at)
            } else {
                check_nul(v, &at)
            }
        }),
        _ => Ok(()),
    }
}

/// What a field with U+0000 is told.
const NUL_MESSAGE: &str = "must not contain the character U+0000";

/// Whether serde refused a number with a fraction where it wanted an integer.
fn float_for_integer(error: &FieldError) -> bool {
    error.detail.starts_with("invalid type: floating point")
}

/// When the first error is an integer field given a number with a zero
/// fraction (`7.0`, an integer to JSON Schema), rewrites that one number as
/// an integer and says so, so the caller tries again. Other numbers (e.g.
/// in free-form attributes) are left as they were sent.
fn integer_written_as_float(
    value: &mut serde_json::Value,
    errors: &[FieldError],
    prefix: &str,
) -> bool {
    let Some(error) = errors.first() else {
        return false;
    };
    if !float_for_integer(error) {
        return false;
    }
    let Some(pointer) = error.pointer.strip_prefix(prefix) else {
        return false;
    };
    let Some(serde_json::Value::Number(n)) = value.pointer_mut(pointer) else {
        return false;
    };
    match n.as_f64() {
        // `as` saturates; the range check keeps only exact integers.
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            *n = serde_json::Number::from(f as i64);
            true
        }
        _ => false,
    }
}

/// Parses JSON, mapping errors to 400 (syntax, UTF-8) or 422 (shape) with a
/// field pointer. A number with a zero fraction (`7.0`) is accepted where an
/// integer is expected, as JSON Schema (and so the OpenAPI documents) allow.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    refuse_nul(bytes)?;
    match parse_typed(bytes) {
        Err(ApiError::Validation(errors)) if errors.first().is_some_and(float_for_integer) => {
            let value: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
            from_value(value, "").map_err(ApiError::Validation)
        }
        parsed => parsed,
    }
}

fn parse_typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(err) = std::str::from_utf8(bytes) {
        return Err(ApiError::BadRequest(format!(
            "the body is not valid UTF-8 (byte {})",
            err.valid_up_to()
        )));
    }
    // Every body is a JSON object; serde would also read a struct from an
    // array of its fields in order, which no document allows.
    if let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        if *first == b'[' {
            return Err(ApiError::invalid("", "the body must be a JSON object"));
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let pointer = pointer_of(err.path());
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                let pointer = match missing_field(&message) {
                    Some(field) => format!("{pointer}/{field}"),
                    None => pointer,
                };
                ApiError::Validation(vec![FieldError::new(pointer, message)])
            }
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => {}
        }
    }
    pointer
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// For `#[serde(deserialize_with = "suite_http::extract::object")]` on a
/// nested struct: it must be written as a JSON object (serde alone would also
/// read it from an array of its fields in order, which no document allows).
pub fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize as _;
    let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
    nested(map)
}

/// Like [`object`], for an optional nested struct (`null` or absent is `None`;
/// needs `#[serde(default)]` too).
pub fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize as _;
    Option::<serde_json::Map<String, serde_json::Value>>::deserialize(deserializer)?
        .map(nested)
        .transpose()
}

/// Like [`object`], for a list of nested structs: each item must be an object.
pub fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize as _;
    nested_items(Vec::<serde_json::Map<String, serde_json::Value>>::deserialize(deserializer)?)
}

/// Like [`objects`], for an optional list (`null` or absent is `None`; needs
/// `#[serde(default)]` too).
pub fn optional_objects<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize as _;
    Option::<Vec<serde_json::Map<String, serde_json::Value>>>::deserialize(deserializer)?
        .map(nested_items)
        .transpose()
}

/// Like [`object`], for an optional map whose values are nested structs
/// (`null` or absent is `None`; needs `#[serde(default)]` too).
pub fn optional_object_map<'de, D, T>(
    deserializer: D,
) -> Result<Option<std::collections::BTreeMap<String, T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize as _;
    type Objects = std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>;
    Option::<Objects>::deserialize(deserializer)?
        .map(|entries| {
            entries
                .into_iter()
                .map(|(key, map)| match nested::<D::Error, T>(map) {
                    Ok(value) => Ok((key, value)),
                    Err(e) => Err(serde::de::Error::custom(format!("at /{key}: {e}"))),
                })
                .collect()
        })
        .transpose()
}

/// Each item read as a nested struct; an error names the item's index.
fn nested_items<E: serde::de::Error, T: DeserializeOwned>(
    items: Vec<serde_json::Map<String, serde_json::Value>>,
) -> Result<Vec<T>, E> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, map)| nested::<E, T>(map).map_err(|e| E::custom(format!("at /{i}: {e}"))))
        .collect()
}

fn nested<E: serde::de::Error, T: DeserializeOwned>(
    map: serde_json::Map<String, serde_json::Value>,
) -> Result<T, E> {
    // The same rules as a body: integral floats are integers (retried).
    from_value(serde_json::Value::Object(map), "").map_err(|errors| {
        let detail = errors
            .into_iter()
            .map(|e| match e.pointer.as_str() {
                "" => e.detail,
                pointer => format!("at {pointer}: {}", e.detail),
            })
            .collect::<Vec<_>>()
            .join("; ");
        E::custom(detail)
    })
}

/// Path parameters; a value of the wrong type is a 404 (no such resource) rather than a 500.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|_| ApiError::NotFound)
    }
}

/// Query parameters that parsed and validated; failures are 422 naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Validate + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if value.contains('\0') || name.contains('\0') {
                return Err(ApiError::invalid(format!("?{name}"), NUL_MESSAGE));
            }
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(de).map_err(|err| {
            let name = err.path().to_string();
            let message = err.into_inner().to_string();
            let name = if name == "." { String::new() } else { name };
            ApiError::Validation(vec![FieldError::new(format!("?{name}"), message)])
        })?;
        value.validate().map_err(ApiError::Validation)?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Wrapper {
        #[serde(deserialize_with = "object")]
        inner: Counted,
        #[serde(default, deserialize_with = "optional_object")]
        maybe: Option<Counted>,
    }

    #[test]
    fn a_nul_character_is_refused_wherever_it_is() {
        for (body, pointer) in [
            (
                &br#"{"inner": {"n": 1, "ratio": 1}, "note": "a\u0000b"}"#[..],
                "/note",
            ),
            (
                br#"{"inner": {"n": 1, "ratio": 1}, "x": [{"k\u0000": 1}]}"#,
                "/x/0/k\u{0}",
            ),
        ] {
            let Err(ApiError::Validation(errors)) = parse_json::<serde_json::Value>(body) else {
                panic!("accepted {}", String::from_utf8_lossy(body));
            };
            assert_eq!(errors[0].pointer, pointer);
        }
        // An escaped backslash before `u0000` is text, not the character.
        let text: serde_json::Value = parse_json(br#"{"note": "\\u0000"}"#).unwrap();
        assert_eq!(text["note"], "\\u0000");
        let errors =
            from_value::<serde_json::Value>(serde_json::json!({"a": "\u{0}"}), "/b/1").unwrap_err();
        assert_eq!(errors[0].pointer, "/b/1/a");
    }

    #[test]
    fn structs_are_objects_never_arrays() {
        let parsed: Wrapper =
            parse_json(br#"{"inner": {"n": 1, "ratio": 1}, "maybe": null}"#).unwrap();
        assert_eq!(parsed.inner.n, 1);
        assert_eq!(parsed.maybe, None);
        for body in [
            &br#"[{"n": 1, "ratio": 1}]"#[..],
            br#" [1, 1]"#,
            br#"{"inner": [1, 1.5]}"#,
            br#"{"inner": {"n": 1, "ratio": 1}, "maybe": [2, 2]}"#,
        ] {
            assert!(
                matches!(parse_json::<Wrapper>(body), Err(ApiError::Validation(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Counted {
        n: i32,
        ratio: f64,
        #[serde(default)]
        items: Vec<Counted>,
    }

    #[test]
    fn an_integer_written_with_a_zero_fraction_is_an_integer() {
        let parsed: Counted =
            parse_json(br#"{"n": 7.0, "ratio": 2.0, "items": [{"n": -3.0, "ratio": 0.5}]}"#)
                .unwrap();
        assert_eq!(parsed.n, 7);
        assert_eq!(parsed.ratio, 2.0);
        assert_eq!(parsed.items[0].n, -3);
        let batch: Counted =
            from_value(serde_json::json!({"n": 1e3, "ratio": 1}), "/leads/0").unwrap();
        assert_eq!(batch.n, 1000);
        // Only the integer fields are rewritten; free-form numbers stay as sent.
        let free: serde_json::Value =
            serde_json::from_value(serde_json::json!({"n": 2.0, "free": {"x": 1.0}})).unwrap();
        #[derive(serde::Deserialize)]
        struct WithFree {
            n: i32,
            free: serde_json::Value,
        }
        let parsed: WithFree = from_value(free, "").unwrap();
        assert_eq!(parsed.n, 2);
        assert!(parsed.free["x"].is_f64(), "{}", parsed.free);
    }

    #[test]
    fn a_fraction_is_still_refused_where_an_integer_is_expected() {
        let Err(ApiError::Validation(errors)) = parse_json::<Counted>(br#"{"n": 7.5, "ratio": 1}"#)
        else {
            panic!("7.5 accepted as an integer");
        };
        assert_eq!(errors[0].pointer, "/n");
        let errors =
            from_value::<Counted>(serde_json::json!({"n": 2.5, "ratio": 1}), "/x").unwrap_err();
        assert_eq!(errors[0].pointer, "/x/n");
    }
}
