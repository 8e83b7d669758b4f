//! The monitor list on PostgreSQL: filters, the maintenance scope, and keyset pages in any order.
//!
//! The inner query computes each row's sort value (and whether a maintenance window covers it) once; the
//! outer one filters, continues after the cursor's `(value, id)` and orders by the same pair. Names
//! compare byte-wise (`COLLATE "C"`), as SQLite compares them, so both backends page alike.

use sqlx::{Postgres, QueryBuilder};
use upkeep_storage::{
    MAINTENANCE_RANK, Monitor, MonitorFilter, MonitorSortKey, MonitorStatus, OTHER_RANK,
    PAUSED_RANK, Page, PageRequest, STATUS_RANKS, SortValue, StorageResult,
};

use super::monitor_from_row;
use crate::PostgresStorage;
use crate::support::{db_err, get};

/// The sort value of a row, in SQL over `m` (the monitor and `covered`).
fn sort_expression(key: MonitorSortKey) -> String {
    match key {
        MonitorSortKey::Created => "m.id".to_string(),
        MonitorSortKey::Name => "lower(m.name) COLLATE \"C\"".to_string(),
        MonitorSortKey::LastChecked => "COALESCE(m.last_checked_at, -1)".to_string(),
        MonitorSortKey::Status => {
            let ranks: String = STATUS_RANKS
                .iter()
                .map(|(status, rank)| format!(" WHEN m.status = '{status}' THEN {rank}"))
                .collect();
            format!(
                "(CASE WHEN m.paused THEN {PAUSED_RANK} WHEN m.covered THEN {MAINTENANCE_RANK}{ranks} ELSE {OTHER_RANK} END)::BIGINT"
            )
        }
    }
}

pub(super) async fn list(
    storage: &PostgresStorage,
    filter: &MonitorFilter,
    page: PageRequest,
) -> StorageResult<Page<Monitor>> {
    let sort = &filter.sort;
    let scope = filter.maintenance.clone().unwrap_or_default();
    let mut query = QueryBuilder::<Postgres>::new("SELECT * FROM (SELECT m.*, ");
    query.push(sort_expression(sort.key));
    query.push(" AS sort_value FROM (SELECT m.*, s.slug AS service_slug, (m.service_id = ANY(");
    query.push_bind(scope.service_ids);
    query.push(") OR m.id = ANY(");
    query.push_bind(scope.monitor_ids);
    query.push(")) AS covered FROM monitors m JOIN services s ON s.id = m.service_id WHERE TRUE");
    if let Some(service_id) = filter.service_id {
        query.push(" AND m.service_id = ").push_bind(service_id);
    }
    if let Some(kind) = &filter.kind {
        query.push(" AND m.kind = ").push_bind(kind.clone());
    }
    if let Some(search) = &filter.search {
        // `ESCAPE ''` makes a backslash in the search an ordinary character, as SQLite's LIKE does.
        let pattern = format!("%{search}%");
        query.push(" AND (m.name ILIKE ").push_bind(pattern.clone());
        query
            .push(" ESCAPE '' OR m.slug ILIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '')");
    }
    query.push(") AS m) AS l WHERE TRUE");
    match filter.status {
        None => {}
        Some(MonitorStatus::Maintenance) => {
            query.push(" AND NOT l.paused AND l.covered");
        }
        Some(MonitorStatus::Paused) => {
            query.push(" AND l.status = 'paused'");
        }
        Some(status) => {
            query.push(" AND l.status = ").push_bind(status.as_str());
            query.push(" AND NOT l.covered");
        }
    }
    let (after, order) = if sort.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let value_sql = if sort.key == MonitorSortKey::Name {
        "l.sort_value COLLATE \"C\""
    } else {
        "l.sort_value"
    };
    if let Some(cursor) = page.cursor {
        match (sort.key, &sort.after) {
            (MonitorSortKey::Created, _) | (_, None) => {
                query.push(format!(" AND l.id {after} ")).push_bind(cursor);
            }
            (_, Some(value)) => {
                let bind_value = |query: &mut QueryBuilder<Postgres>| match value {
                    SortValue::Int(number) => {
                        query.push_bind(*number);
                    }
                    SortValue::Text(text) => {
                        query.push_bind(text.clone());
                    }
                };
                query.push(format!(" AND ({value_sql} {after} "));
                bind_value(&mut query);
                query.push(format!(" OR ({value_sql} = "));
                bind_value(&mut query);
                query
                    .push(format!(" AND l.id {after} "))
                    .push_bind(cursor)
                    .push("))");
            }
        }
    }
    query.push(format!(
        " ORDER BY {value_sql} {order}, l.id {order} LIMIT "
    ));
    query.push_bind(page.fetch_limit());
    let rows = query
        .build()
        .fetch_all(&storage.pool)
        .await
        .map_err(db_err)?;
    let rows = rows
        .iter()
        .map(|row| {
            let value = match sort.key {
                MonitorSortKey::Name => SortValue::Text(get(row, "sort_value")?),
                _ => SortValue::Int(get(row, "sort_value")?),
            };
            Ok((monitor_from_row(row)?, value))
        })
        .collect::<StorageResult<Vec<_>>>()?;
    Ok(sort.page_of(rows, page))
}
