//! Opaque pagination cursors: base64url of a small JSON position. A cursor
//! that does not decode is the caller's error (400), never a 500.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::problem::ApiError;

/// Encodes a keyset position as an opaque cursor.
pub fn encode<T: Serialize>(position: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// Decodes a cursor produced by [`encode`]; anything else is a 400.
pub fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, ApiError> {
    let bad =
        || ApiError::BadRequest("the `cursor` parameter is not a cursor this API issued".into());
    if cursor.len() > 512 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Pos {
        t: i64,
        id: String,
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let pos = Pos {
            t: 42,
            id: "abc".into(),
        };
        assert_eq!(decode::<Pos>(&encode(&pos)).unwrap(), pos);
        for bad in ["", "!!!", "bm90IGpzb24", &"A".repeat(600)] {
            assert!(
                matches!(decode::<Pos>(bad), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
