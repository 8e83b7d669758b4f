//! A strict JSON body extractor: wrong content type, oversized or malformed bodies, unknown fields and
//! wrong types all become the one error shape, naming the field or the position.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted anywhere (1 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .split(';')
                    .next()
                    .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the body is larger than {BODY_LIMIT} bytes"),
                )
            } else {
                ApiError::bad_request("invalid_body", rejection.body_text())
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parse a body, classifying failures: syntax errors are 400 `invalid_json` with line and column; a
/// well-formed body with an unknown, missing or mistyped field is 422 `validation_failed` naming it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    result.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(
                "invalid_json",
                format!("the body is not valid JSON: {message}"),
            );
        }
        // The path already ends at an unknown field; at the top level serde names it only in the message.
        let field = match path.as_str() {
            "." => unknown_field(&message).unwrap_or_default(),
            _ => path,
        };
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            strip_position(&message),
        );
        if !field.is_empty() {
            error.message = format!("{field}: {}", error.message);
            error.field = Some(field);
        }
        error
    })
}

/// serde names an unknown field inside backticks: "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next().map(str::to_string)
}

fn strip_position(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        count: Option<u32>,
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse::<Body>(br#"{"email":"a","nope":1}"#)
            .err()
            .map(|e| (e.code, e.field));
        assert_eq!(err, Some(("validation_failed", Some("nope".into()))));
        let err = parse::<Body>(br#"{"email":"a","count":"x"}"#)
            .err()
            .map(|e| (e.code, e.field));
        assert_eq!(err, Some(("validation_failed", Some("count".into()))));
        let err = parse::<Body>(br#"{"email":"#).err().map(|e| e.code);
        assert_eq!(err, Some("invalid_json"));
        let err = parse::<Body>(br#"{}"#).err().map(|e| e.message);
        assert_eq!(err.as_deref(), Some("missing field `email`"));
    }
}
