//! Acknowledge and resolve from the notification itself: each message carries two single-use links made
//! when it is sent. Only the SHA-256 of a link's token is stored; a link works once, until it expires,
//! and acts as the person it was sent to (the audit log and timeline say it came from a link).

use std::time::Duration;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use upkeep_storage::{ActionLink, Actor, ActorKind, Incident};

use super::IncidentChange;
use crate::{Core, CoreError, CoreResult};

/// How long an action link works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(7 * 86_400);

pub struct Links {
    pub acknowledge_url: String,
    pub resolve_url: String,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Make an acknowledge and a resolve link for `user_id` on an incident.
pub async fn create_links(
    core: &Core,
    incident_id: i64,
    user_id: Option<i64>,
    now: Timestamp,
) -> CoreResult<Links> {
    let base = core.config.base_url();
    let mut urls = Vec::with_capacity(2);
    for action in ["acknowledge", "resolve"] {
        let token = crate::identity::random_secret(40);
        core.storage
            .create_action_link(
                &hash(&token),
                &ActionLink {
                    incident_id,
                    user_id,
                    action: action.to_string(),
                    expires_at: crate::clock::add(now, LINK_LIFETIME),
                    used_at: None,
                },
            )
            .await?;
        urls.push(format!("{base}/actions/{token}"));
    }
    let resolve_url = urls.pop().unwrap_or_default();
    let acknowledge_url = urls.pop().unwrap_or_default();
    Ok(Links {
        acknowledge_url,
        resolve_url,
    })
}

/// What a link would do, without using it (for the confirmation page).
pub async fn describe(core: &Core, token: &str) -> CoreResult<(ActionLink, Incident)> {
    let link = core
        .storage
        .action_link(&hash(token))
        .await?
        .ok_or_else(|| CoreError::not_found("this link is not valid"))?;
    let incident = super::incident(core, link.incident_id).await?;
    Ok((link, incident))
}

/// Use a link once: acknowledge or resolve its incident as the person it was sent to.
pub async fn perform(core: &Core, token: &str, origin: Option<String>) -> CoreResult<Incident> {
    let now = core.now();
    let link = core
        .storage
        .use_action_link(&hash(token), now)
        .await?
        .ok_or_else(|| CoreError::Conflict {
            message: "this link was already used or has expired".into(),
            field: None,
        })?;
    let label = match link.user_id {
        Some(id) => match core.storage.user_by_id(id).await? {
            Some(user) => format!("{} (link)", user.email),
            None => format!("user {id} (link)"),
        },
        None => "notification link".to_string(),
    };
    let actor = Actor {
        kind: ActorKind::User,
        user_id: link.user_id,
        label,
    };
    let ctx = crate::audit::context(core, actor, origin);
    let change = if link.action == "resolve" {
        IncidentChange::Resolve
    } else {
        IncidentChange::Acknowledge
    };
    super::change(core, &ctx, link.incident_id, change).await
}
