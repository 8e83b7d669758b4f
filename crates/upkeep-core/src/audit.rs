//! Who did what: building [`AuditContext`]s for the three ways a change can arrive (browser or token over
//! HTTP, the CLI on the server, upkeep itself) and reading the log. Writing happens inside each storage
//! change, so there is nothing here that writes a record on its own.

use upkeep_storage::{Actor, ActorKind, AuditContext, AuditFilter, AuditRecord, Page, PageRequest};

use crate::{Core, CoreResult};

/// The actor for commands run on the server: the operating-system user, since the CLI has no login.
pub fn cli_actor() -> Actor {
    let os_user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    Actor {
        kind: ActorKind::Cli,
        user_id: None,
        label: format!("cli ({os_user})"),
    }
}

/// The actor for changes upkeep makes by itself.
pub fn system_actor() -> Actor {
    Actor {
        kind: ActorKind::System,
        user_id: None,
        label: "upkeep".to_string(),
    }
}

pub fn context(core: &Core, actor: Actor, origin: Option<String>) -> AuditContext {
    AuditContext {
        actor,
        origin,
        at: core.now(),
    }
}

pub async fn list(
    core: &Core,
    filter: &AuditFilter,
    page: PageRequest,
) -> CoreResult<Page<AuditRecord>> {
    Ok(core.storage.list_audit(filter, page).await?)
}
