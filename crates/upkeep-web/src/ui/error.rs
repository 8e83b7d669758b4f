//! Failures as HTML pages with the right status (403, 404, 422, 429 with `Retry-After`, …), form errors
//! shown next to their form, and extractors whose parse failures become pages instead of plain text.

use askama::Template;
use axum::extract::{Form, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use upkeep_core::CoreError;

use super::shell::{Page, PageSlot, render};
use crate::error::ApiError;

/// A page-level failure; handlers return it with `?` and it renders as the error page.
#[derive(Debug, Clone)]
pub struct UiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

pub type UiResult = Result<Response, UiError>;

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "the form expired or came from another site; reload and try again",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ApiError> for UiError {
    fn from(err: ApiError) -> Self {
        Self {
            status: err.status,
            message: err.message,
            retry_after: err.retry_after,
        }
    }
}

impl From<CoreError> for UiError {
    fn from(err: CoreError) -> Self {
        ApiError::from(err).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Page,
    title: &'a str,
    message: &'a str,
}

impl UiError {
    fn render(&self, page: Page) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let mut response = render(
            self.status,
            &ErrorPage {
                page,
                title,
                message: &self.message,
            },
        );
        if let Some(value) = self
            .retry_after
            .and_then(|seconds| HeaderValue::from_str(&seconds.to_string()).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let mut response = self.render(Page::anonymous());
        response.extensions_mut().insert(self);
        response
    }
}

/// Middleware: re-render error pages with the signed-in person's nav when the handler got that far.
pub async fn with_error_pages(mut request: Request, next: Next) -> Response {
    let slot = PageSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    match (response.extensions_mut().remove::<UiError>(), slot.0.get()) {
        (Some(failure), Some(page)) => failure.render(page.clone()),
        _ => response,
    }
}

/// A domain refusal to show next to the form that caused it.
pub struct FormError {
    pub status: StatusCode,
    pub message: String,
}

impl FormError {
    /// Validation (422) and conflicts (409) stay on the form; anything else becomes an error page.
    pub fn from_core(err: CoreError) -> Result<Self, UiError> {
        match err {
            CoreError::Validation { field, message } => Ok(Self {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!("{}: {message}", label(&field)),
            }),
            CoreError::Conflict { message, .. } => Ok(Self {
                status: StatusCode::CONFLICT,
                message,
            }),
            other => Err(other.into()),
        }
    }

    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{}: {message}", label(field)),
        }
    }
}

/// `depends_on` → `Depends on`, for messages people read.
fn label(field: &str) -> String {
    let text = field.replace('_', " ");
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A form body; a malformed one is a 400 page.
pub struct UiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for UiForm<T> {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Form::<T>::from_request(request, state)
            .await
            .map(|Form(value)| Self(value))
            .map_err(|err| {
                UiError::bad_request(format!("the form could not be read: {}", err.body_text()))
            })
    }
}

/// Query parameters; malformed ones are a 400 page.
pub struct UiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for UiQuery<T> {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|err| {
                UiError::bad_request(format!(
                    "the address could not be read: {}",
                    err.body_text()
                ))
            })
    }
}

/// A path parameter; one that does not parse names nothing, so it is a 404 page.
pub struct UiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for UiPath<T> {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|_| UiError::new(StatusCode::NOT_FOUND, "there is no such page"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_as_words() {
        assert_eq!(label("depends_on"), "Depends on");
        assert_eq!(label(""), "");
        let err = FormError::from_core(CoreError::validation("new_password", "too short"))
            .ok()
            .map(|e| e.message);
        assert_eq!(err.as_deref(), Some("New password: too short"));
    }
}
