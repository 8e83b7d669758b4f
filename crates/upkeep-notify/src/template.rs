//! Webhook body templates: a JSON document with `{{incident.title}}`-style placeholders, for receivers that
//! want their own shape (Mattermost, Rocket.Chat, a home-grown bot). Deliberately tiny and dependency-free:
//! substitution only, no logic.
//!
//! Rules:
//! * `{{name}}` (spaces inside the braces allowed) is replaced by the value, **JSON-escaped without the
//!   surrounding quotes**, so it belongs inside a JSON string: `{"text": "{{incident.title}}"}`.
//!   `{{incident.id}}` and `{{bundle.count}}` are numbers and may stand outside quotes.
//! * Absent values (`{{incident.acknowledge_url}}` without an acknowledge link) are empty strings.
//! * An unknown name, or a `{{` never closed, is refused when the channel is saved, naming it.
//! * The result must be valid JSON (checked at save time with sample values).
//! * There is no escape for a literal `{{`.
//!
//! Placeholders: see [`PLACEHOLDERS`].

use thiserror::Error;

use crate::message::{IncidentStatus, Notification, Severity};
use crate::render;

/// Every placeholder name a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "incident.id",
    "incident.title",
    "incident.summary",
    "incident.severity",
    "incident.status",
    "incident.url",
    "incident.acknowledge_url",
    "incident.resolve_url",
    "service.name",
    "reason",
    "idempotency_key",
    "bundle.count",
    // The bundled incidents as text lines ("12 more incidents for you:\n- #43 …"), empty without a bundle.
    "bundle.text",
    // The whole message as plain text, as the email body has it.
    "text",
];

/// A template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{{{0}}}}}; known: {known}", known = known_list())]
    UnknownPlaceholder(String),
    #[error("`{{{{` at character {0} is never closed with `}}}}`")]
    Unclosed(usize),
    #[error("the body is not valid JSON once the placeholders are filled in: {0}")]
    NotJson(String),
}

fn known_list() -> String {
    PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{{{p}}}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Save-time check: every placeholder known, every `{{` closed, and valid JSON with sample values.
pub fn check(template: &str) -> Result<(), TemplateError> {
    let body = render(template, &sample())?;
    serde_json::from_str::<serde_json::Value>(&body)
        .map(drop)
        .map_err(|e| TemplateError::NotJson(e.to_string()))
}

/// Fills in the placeholders for `n`.
pub fn render(template: &str, n: &Notification) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            let at = template.len() - rest.len() + open;
            return Err(TemplateError::Unclosed(template[..at].chars().count()));
        };
        let name = after[..close].trim();
        let value =
            value(name, n).ok_or_else(|| TemplateError::UnknownPlaceholder(name.to_string()))?;
        out.push_str(&json_escape(&value));
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn value(name: &str, n: &Notification) -> Option<String> {
    Some(match name {
        "incident.id" => n.incident_id.to_string(),
        "incident.title" => n.title.clone(),
        "incident.summary" => n.summary.clone(),
        "incident.severity" => n.severity.to_string(),
        "incident.status" => n.status.to_string(),
        "incident.url" => n.incident_url.clone(),
        "incident.acknowledge_url" => n.acknowledge_url.clone().unwrap_or_default(),
        "incident.resolve_url" => n.resolve_url.clone().unwrap_or_default(),
        "service.name" => n.service_name.clone(),
        "reason" => n.reason.clone(),
        "idempotency_key" => n.idempotency_key.clone(),
        "bundle.count" => n.bundle.len().to_string(),
        "bundle.text" => render::bundle_text(n),
        "text" => render::plain_text(n),
        _ => return None,
    })
}

/// The inside of a JSON string literal for `value`.
fn json_escape(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// Values with quotes, backslashes and newlines, so a placeholder outside a JSON string shows up as
/// invalid JSON at save time.
fn sample() -> Notification {
    Notification {
        incident_id: 1,
        title: "Sample \"incident\"".to_string(),
        summary: "line one\nline two \\ end".to_string(),
        severity: Severity::Critical,
        status: IncidentStatus::Triggered,
        service_name: "sample service".to_string(),
        incident_url: "https://upkeep.example/incidents/1".to_string(),
        acknowledge_url: Some("https://upkeep.example/a/1".to_string()),
        resolve_url: None,
        reason: "sample reason".to_string(),
        idempotency_key: "sample-key".to_string(),
        bundle: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_escapes() {
        let n = sample();
        let body = render(
            r#"{"id": {{incident.id}}, "t": "{{ incident.title }}", "s": "{{incident.summary}}", "r": "{{incident.resolve_url}}"}"#,
            &n,
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"id": 1, "t": "Sample \"incident\"", "s": "line one\nline two \\ end", "r": ""})
        );
    }

    #[test]
    fn refuses_unknown_unclosed_and_non_json() {
        assert_eq!(
            check(r#"{"t": "{{incident.titel}}"}"#),
            Err(TemplateError::UnknownPlaceholder(
                "incident.titel".to_string()
            ))
        );
        let message = check(r#"{"t": "{{incident.titel}}"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("unknown placeholder {{incident.titel}}; known: {{incident.id}}"),
            "{message}"
        );
        assert_eq!(
            check(r#"{"t": "é{{reason"}"#),
            Err(TemplateError::Unclosed(8))
        );
        assert!(matches!(
            check(r#"{"t": {{incident.title}}}"#),
            Err(TemplateError::NotJson(_))
        ));
        assert!(check(r#"{"text": "{{text}}", "n": {{bundle.count}}}"#).is_ok());
    }
}
