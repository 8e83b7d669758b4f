//! One module per channel kind: its settings, the exact request it sends, and how it reads the answer.

pub mod discord;
pub mod email;
pub mod ntfy;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod webhook;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use crate::outbound::{GuardedClient, Method, OutboundError, OutboundResponse};

/// POSTs `body` as `application/json` with `headers` added.
pub(crate) async fn post_json(
    client: &GuardedClient,
    url: &str,
    mut headers: HeaderMap,
    body: Vec<u8>,
) -> Result<OutboundResponse, OutboundError> {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    client.execute(Method::POST, url, headers, Some(body)).await
}

/// Serialises a JSON value (cannot fail for `serde_json::Value`, but no panics either way).
pub(crate) fn to_body(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}
