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
    value: serde_json::Value,
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

/// Parses JSON, mapping errors to 400 (syntax, UTF-8) or 422 (shape) with a field pointer.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(err) = std::str::from_utf8(bytes) {
        return Err(ApiError::BadRequest(format!(
            "the body is not valid UTF-8 (byte {})",
            err.valid_up_to()
        )));
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
