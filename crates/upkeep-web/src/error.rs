//! The one error shape every JSON endpoint answers with.
//!
//! Policy (read before adding a variant):
//! - Every failure leaves as `{"error":{"code":…,"message":…,"field":…}}` with the status below; `code` is
//!   stable and documented, `message` is for people, `field` names the offending input where there is one.
//! - Domain errors ([`CoreError`]) map one to one: validation 422, unauthenticated 401, forbidden 403,
//!   not found 404, conflict 409, rate limited 429 (with `Retry-After`), unavailable 503.
//! - Malformed bodies are 400 `invalid_json` (naming the field or position), wrong content types 415,
//!   oversized bodies 413.
//! - Internal errors are logged once here with their detail and answered with a generic message:
//!   nothing about the database, file paths or code ever reaches a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use upkeep_core::CoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

/// The JSON body of every error (documented in the OpenAPI document as `ErrorBody`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: String,
    pub message: String,
    /// The input field the error is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with_field(field)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "missing or wrong CSRF token; reload the page, or send X-CSRF-Token with session requests",
        )
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        match err {
            CoreError::Validation { field, message } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                format!("{field}: {message}"),
            )
            .with_field(field),
            CoreError::NotFound(message) => Self::not_found(message),
            CoreError::Conflict { message, field } => {
                let mut err = Self::new(StatusCode::CONFLICT, "conflict", message);
                err.field = field;
                err
            }
            CoreError::Unauthenticated(message) => Self::unauthenticated(message),
            CoreError::Forbidden(message) => Self::new(StatusCode::FORBIDDEN, "forbidden", message),
            CoreError::RateLimited {
                message,
                retry_after,
            } => {
                let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
                err.retry_after = Some(retry_after.as_secs().max(1));
                err
            }
            CoreError::Unavailable(detail) => {
                tracing::error!(%detail, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again shortly",
                )
            }
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on our side; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
