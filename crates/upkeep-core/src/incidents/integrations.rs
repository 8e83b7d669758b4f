//! Integration keys (the secret in each alert source's URL or PagerDuty routing key) and change events.
//!
//! Every service has one key per kind. The PagerDuty routing key is 32 characters, like PagerDuty's own,
//! so tools that check its length accept it. Keys are made the first time a service's integrations are
//! shown, and rotating one stops the old key at once.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use upkeep_storage::{
    AuditContext, ChangeEvent, IntegrationKind, NewChangeEvent, Page, PageRequest,
};

use crate::identity::random_hex;
use crate::{Core, CoreError, CoreResult};

/// Longest change-event summary kept (PagerDuty's limit for summaries).
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// What `upkeep service show --json` and the API show as `integrations`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Integrations {
    /// PagerDuty Events API v2 routing key for `POST /v2/enqueue`.
    pub pagerduty_routing_key: String,
    /// `POST /v2/enqueue` on this upkeep.
    pub pagerduty_events_url: String,
    /// Alertmanager webhook receiver URL (`webhook_configs.url`).
    pub alertmanager_url: String,
    /// Grafana contact point (webhook) URL.
    pub grafana_url: String,
    /// Generic JSON webhook URL.
    pub webhook_url: String,
}

fn fresh_key() -> String {
    random_hex(16)
}

/// The URL path of an integration kind's endpoint with `key`.
pub fn ingest_path(kind: IntegrationKind, key: &str) -> String {
    match kind {
        IntegrationKind::Pagerduty => "/v2/enqueue".to_string(),
        other => format!("/integrations/{}/{key}", other.as_str()),
    }
}

/// The service's integrations, making any key it does not have yet.
pub async fn integrations(core: &Core, service_id: i64) -> CoreResult<Integrations> {
    let fresh: Vec<(IntegrationKind, String)> = IntegrationKind::ALL
        .iter()
        .map(|kind| (*kind, fresh_key()))
        .collect();
    let keys = core
        .storage
        .ensure_integration_keys(service_id, &fresh, core.now())
        .await?;
    let key_of = |kind: IntegrationKind| -> CoreResult<String> {
        keys.iter()
            .find(|key| key.kind == kind)
            .map(|key| key.key.clone())
            .ok_or_else(|| CoreError::Internal(format!("service {service_id} has no {kind} key")))
    };
    let base = core.config.base_url();
    let url = |kind: IntegrationKind| -> CoreResult<String> {
        Ok(format!("{base}{}", ingest_path(kind, &key_of(kind)?)))
    };
    Ok(Integrations {
        pagerduty_routing_key: key_of(IntegrationKind::Pagerduty)?,
        pagerduty_events_url: format!("{base}/v2/enqueue"),
        alertmanager_url: url(IntegrationKind::Alertmanager)?,
        grafana_url: url(IntegrationKind::Grafana)?,
        webhook_url: url(IntegrationKind::Webhook)?,
    })
}

/// Replace one of the service's keys; the old one stops working at once.
pub async fn rotate(
    core: &Core,
    ctx: &AuditContext,
    service_id: i64,
    kind: IntegrationKind,
) -> CoreResult<Integrations> {
    integrations(core, service_id).await?;
    core.storage
        .rotate_integration_key(ctx, service_id, kind, &fresh_key())
        .await?;
    integrations(core, service_id).await
}

/// The service an ingestion key belongs to, or `None` for an unknown key.
pub async fn service_for_key(
    core: &Core,
    kind: IntegrationKind,
    key: &str,
) -> CoreResult<Option<i64>> {
    Ok(core.storage.service_for_integration_key(kind, key).await?)
}

/// A change event (deploy) as parsed from its source.
#[derive(Debug, Clone)]
pub struct ChangeInput {
    pub summary: String,
    pub source: Option<String>,
    pub happened_at: Option<Timestamp>,
    pub links: Value,
    pub custom_details: Value,
}

/// Record a change event on the service's timeline; returns once it is committed.
pub async fn record_change(
    core: &Core,
    service_id: i64,
    input: ChangeInput,
) -> CoreResult<ChangeEvent> {
    let now = core.now();
    Ok(core
        .storage
        .record_change_event(&NewChangeEvent {
            service_id,
            summary: input.summary.chars().take(MAX_SUMMARY_CHARS).collect(),
            source: input.source,
            happened_at: input.happened_at.unwrap_or(now),
            received_at: now,
            links: input.links,
            custom_details: input.custom_details,
        })
        .await?)
}

/// Newest first.
pub async fn changes(
    core: &Core,
    service_id: i64,
    since: Option<Timestamp>,
    page: PageRequest,
) -> CoreResult<Page<ChangeEvent>> {
    Ok(core
        .storage
        .list_change_events(service_id, since, page)
        .await?)
}
