//! `/audit`: the audit log, newest first, filtered by action prefix (admins).

use askama::Template;
use axum::extract::State;
use serde::Deserialize;
use upkeep_core::audit;
use upkeep_core::identity::Capability;
use upkeep_core::storage::{AuditFilter, AuditRecord};

use super::error::{UiQuery, UiResult};
use super::shell::{Page, SignedIn, html, url_encode};
use super::{Pager, page_request, when};
use crate::AppState;

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    origin: String,
    before: Option<String>,
    after: Option<String>,
}

impl From<AuditRecord> for AuditRow {
    fn from(record: AuditRecord) -> Self {
        let pretty = |value: Option<serde_json::Value>| {
            value.and_then(|value| serde_json::to_string_pretty(&value).ok())
        };
        Self {
            at: when(record.at),
            actor: record.actor_label,
            target: format!("{} {}", record.target_kind, record.target_id),
            origin: record.origin.unwrap_or_default(),
            action: record.action,
            before: pretty(record.before),
            after: pretty(record.after),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Page,
    rows: Vec<AuditRow>,
    action: String,
    pager: Pager,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuditQuery {
    action: String,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(query): UiQuery<AuditQuery>,
) -> UiResult {
    signed.require(Capability::Admin)?;
    let action = query.action.trim().to_string();
    let filter = AuditFilter {
        action_prefix: (!action.is_empty()).then(|| action.clone()),
        ..AuditFilter::default()
    };
    let cursor = query.cursor.as_deref();
    let records = audit::list(&state.core, &filter, page_request(cursor)?).await?;
    let base = if action.is_empty() {
        "/audit".to_string()
    } else {
        format!("/audit?action={}", url_encode(&action))
    };
    Ok(html(&AuditPage {
        page: signed.page("audit"),
        rows: records.items.into_iter().map(AuditRow::from).collect(),
        pager: Pager::new(&base, cursor, records.next_cursor).older(),
        action,
    }))
}
