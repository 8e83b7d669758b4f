//! Listing monitors: filters, the order (creation, name, status shown, last check; either way) and the
//! `maintenance` status, which is not stored. Whether a window covers a monitor depends on the time and on
//! recurring rules in time zones, so the domain works out which monitors active windows cover now and
//! hands that scope to the storage query. Windows are few (tens), and only lists that filter or sort by
//! status read them.

use upkeep_storage::{
    MaintenanceFilter, MaintenanceScope, Monitor, MonitorFilter, MonitorSortKey, Page, PageRequest,
};

use super::maintenance::active_at;
use crate::{Core, CoreResult};

/// Windows read per query while collecting the active ones.
const WINDOW_PAGE: u32 = 500;

/// The monitors and services that a maintenance window covers now.
pub async fn maintenance_scope(core: &Core) -> CoreResult<MaintenanceScope> {
    let now = core.now();
    let mut scope = MaintenanceScope::default();
    let mut cursor = None;
    loop {
        let page = core
            .storage
            .list_maintenance_windows(
                &MaintenanceFilter::default(),
                PageRequest::new(WINDOW_PAGE, cursor),
            )
            .await?;
        for window in page.items.iter().filter(|window| active_at(window, now)) {
            scope.service_ids.extend(window.service_id);
            scope.monitor_ids.extend(window.monitor_id);
        }
        match page.next_cursor.and_then(|next| next.parse().ok()) {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for ids in [&mut scope.service_ids, &mut scope.monitor_ids] {
        ids.sort_unstable();
        ids.dedup();
    }
    Ok(scope)
}

/// One page of monitors in `filter.sort` order. A status filter or the status order means the status
/// shown: `maintenance` for unpaused monitors that an active window covers.
pub async fn list_monitors(
    core: &Core,
    filter: &MonitorFilter,
    page: PageRequest,
) -> CoreResult<Page<Monitor>> {
    let needs_scope = filter.status.is_some() || filter.sort.key == MonitorSortKey::Status;
    if needs_scope && filter.maintenance.is_none() {
        let filter = MonitorFilter {
            maintenance: Some(maintenance_scope(core).await?),
            ..filter.clone()
        };
        return Ok(core.storage.list_monitors(&filter, page).await?);
    }
    Ok(core.storage.list_monitors(filter, page).await?)
}
