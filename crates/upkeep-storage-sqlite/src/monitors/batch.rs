//! A write batch on SQLite: the whole transaction in one call to the connection's thread.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every statement is a hand-off between
//! threads, and on a busy two-core machine each costs about 0.1 ms of waiting. A batch of pings is
//! therefore written as one multi-statement text, `BEGIN IMMEDIATE; UPDATE …; INSERT …; COMMIT`, with
//! bound values: rows go in as `VALUES (?, …), (?, …)` of at most [`CHUNK`] rows per table, every table of
//! a round padded with NULL rows up to the same power of two (rows whose first column is NULL change
//! nothing). So a few dozen statement texts serve every batch size and each is prepared once per
//! connection. A batch with more than [`CHUNK`] rows of a table takes one call per round of chunks
//! between a separate `BEGIN IMMEDIATE` and `COMMIT`.
//!
//! Bound values cost a fraction of what JSON did: `json_each` with `->>` per column re-serialised each row
//! once per column read (about 190,000 instructions per row against 30,000 here, measured with callgrind).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection};
use upkeep_storage::{
    CheckResult, HeartbeatPing, MonitorState, MonitorWrite, NewMonitorEvent, StorageResult,
};

use crate::support::{db_err, millis};

/// Most rows per table and statement (12 columns × 64 rows × 4 tables stays far below SQLite's 32,766
/// bound values).
const CHUNK: usize = 64;
/// Row counts of a round: 1, 2, 4, … [`CHUNK`].
const SIZES: usize = CHUNK.trailing_zeros() as usize + 1;

/// One table's statement: its head, its columns per row and its tail.
struct Table {
    head: &'static str,
    columns: usize,
    tail: &'static str,
}

/// In the order rounds write them: the monitors' state, then their events, pings and results.
const TABLES: [Table; 4] = [
    Table {
        head: "UPDATE monitors SET status = v.column2, consecutive_failures = v.column3,
            consecutive_successes = v.column4, last_checked_at = v.column5, last_change_at = v.column6,
            last_ping_at = v.column7, last_start_at = v.column8, last_start_rid = v.column9,
            deadline_at = v.column10, last_error = v.column11, last_duration_ms = v.column12 FROM",
        columns: 12,
        tail: "AS v WHERE monitors.id = v.column1",
    },
    Table {
        head: "INSERT INTO monitor_events (monitor_id, at, from_status, to_status, reason, in_maintenance)
            SELECT * FROM",
        columns: 6,
        tail: "WHERE column1 IS NOT NULL",
    },
    Table {
        head: "INSERT INTO heartbeat_pings (monitor_id, at, kind, exit_status, rid, duration_ms, body, method,
            remote_addr, user_agent) SELECT * FROM",
        columns: 10,
        tail: "WHERE column1 IS NOT NULL",
    },
    Table {
        head: "INSERT INTO check_results (monitor_id, at, success, duration_ms, status_code, error,
            details_json) SELECT * FROM",
        columns: 7,
        tail: "WHERE column1 IS NOT NULL",
    },
];

/// Statement texts by round size, tables present (a bit per table) and whether the text is the whole
/// transaction; built on first use.
static TEXTS: [[[OnceLock<String>; 2]; 16]; SIZES] =
    [const { [const { [const { OnceLock::new() }; 2] }; 16] }; SIZES];

fn text(exponent: usize, tables: usize, whole: bool) -> &'static str {
    TEXTS[exponent][tables][usize::from(whole)].get_or_init(|| {
        let mut text = String::new();
        if whole {
            text.push_str("BEGIN IMMEDIATE;\n");
        }
        for (index, table) in TABLES.iter().enumerate() {
            if tables & (1 << index) == 0 {
                continue;
            }
            let row = format!("({})", vec!["?"; table.columns].join(", "));
            let rows = vec![row.as_str(); 1 << exponent].join(", ");
            text.push_str(&format!("{} (VALUES {rows}) {};\n", table.head, table.tail));
        }
        if whole {
            text.push_str("COMMIT;\n");
        }
        text
    })
}

type Q<'q> = Query<'q, Sqlite, SqliteArguments<'q>>;

/// The rows of a batch, per table.
struct Rows<'a> {
    states: Vec<(i64, &'a MonitorState)>,
    events: Vec<(i64, &'a NewMonitorEvent)>,
    pings: Vec<(i64, &'a HeartbeatPing)>,
    results: Vec<(i64, &'a CheckResult)>,
}

impl<'a> Rows<'a> {
    /// The last state of each monitor, and every event, ping and result, in order.
    fn of(writes: &'a [MonitorWrite]) -> Self {
        let mut last_state: BTreeMap<i64, &MonitorState> = BTreeMap::new();
        let mut rows = Self {
            states: Vec::new(),
            events: Vec::new(),
            pings: Vec::new(),
            results: Vec::new(),
        };
        for write in writes {
            let id = write.monitor_id;
            last_state.insert(id, &write.state);
            rows.events
                .extend(write.event.as_ref().map(|event| (id, event)));
            rows.pings
                .extend(write.ping.as_ref().map(|ping| (id, ping)));
            rows.results
                .extend(write.result.as_ref().map(|result| (id, result)));
        }
        rows.states = last_state.into_iter().collect();
        rows
    }

    fn lengths(&self) -> [usize; 4] {
        [
            self.states.len(),
            self.events.len(),
            self.pings.len(),
            self.results.len(),
        ]
    }

    /// Bind round `round` of table `table`, padded to `slots` rows.
    fn bind<'q>(&'q self, mut query: Q<'q>, table: usize, round: usize, slots: usize) -> Q<'q> {
        let window = |length: usize| (round * CHUNK).min(length)..((round + 1) * CHUNK).min(length);
        let bound = match table {
            0 => {
                let chunk = &self.states[window(self.states.len())];
                for (id, state) in chunk {
                    query = query
                        .bind(*id)
                        .bind(state.status.as_str())
                        .bind(state.consecutive_failures)
                        .bind(state.consecutive_successes)
                        .bind(state.last_checked_at.map(millis))
                        .bind(state.last_change_at.map(millis))
                        .bind(state.last_ping_at.map(millis))
                        .bind(state.last_start_at.map(millis))
                        .bind(state.last_start_rid.as_deref())
                        .bind(state.deadline_at.map(millis))
                        .bind(state.last_error.as_deref())
                        .bind(state.last_duration_ms);
                }
                chunk.len()
            }
            1 => {
                let chunk = &self.events[window(self.events.len())];
                for (id, event) in chunk {
                    query = query
                        .bind(*id)
                        .bind(millis(event.at))
                        .bind(event.from_status.as_str())
                        .bind(event.to_status.as_str())
                        .bind(event.reason.as_str())
                        .bind(event.in_maintenance);
                }
                chunk.len()
            }
            2 => {
                let chunk = &self.pings[window(self.pings.len())];
                for (id, ping) in chunk {
                    query = query
                        .bind(*id)
                        .bind(millis(ping.at))
                        .bind(ping.kind.as_str())
                        .bind(ping.exit_status)
                        .bind(ping.rid.as_deref())
                        .bind(ping.duration_ms)
                        .bind(ping.body.as_deref())
                        .bind(ping.method.as_str())
                        .bind(ping.remote_addr.as_deref())
                        .bind(ping.user_agent.as_deref());
                }
                chunk.len()
            }
            _ => {
                let chunk = &self.results[window(self.results.len())];
                for (id, result) in chunk {
                    query = query
                        .bind(*id)
                        .bind(millis(result.at))
                        .bind(result.success)
                        .bind(result.duration_ms)
                        .bind(result.status_code)
                        .bind(result.error.as_deref())
                        .bind(result.details.to_string());
                }
                chunk.len()
            }
        };
        for _ in bound * TABLES[table].columns..slots * TABLES[table].columns {
            query = query.bind(None::<i64>);
        }
        query
    }
}

/// Run `rounds` of `rows` on `conn`: as one whole transaction when there is one round, else between a
/// separate `BEGIN IMMEDIATE` and `COMMIT`.
async fn execute(conn: &mut SqliteConnection, rows: &Rows<'_>) -> StorageResult<()> {
    let lengths = rows.lengths();
    let rounds = lengths
        .iter()
        .map(|length| length.div_ceil(CHUNK))
        .max()
        .unwrap_or(0);
    let whole = rounds <= 1;
    if !whole {
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    for round in 0..rounds.max(1) {
        let in_round = lengths.map(|length| length.saturating_sub(round * CHUNK).min(CHUNK));
        let tables = (0..TABLES.len())
            .filter(|&table| in_round[table] > 0)
            .fold(0, |mask, table| mask | (1 << table));
        if tables == 0 {
            continue;
        }
        let slots = in_round.into_iter().max().unwrap_or(1).next_power_of_two();
        let mut query = sqlx::query(text(slots.trailing_zeros() as usize, tables, whole));
        for table in (0..TABLES.len()).filter(|table| tables & (1 << table) != 0) {
            query = rows.bind(query, table, round, slots);
        }
        query.execute(&mut *conn).await.map_err(db_err)?;
    }
    if !whole {
        sqlx::query("COMMIT")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Apply a batch in one transaction: the last state of each monitor, and every event, ping and result.
/// On failure the transaction is rolled back; `Err(true)` asks the caller to close the connection (the
/// rollback itself failed, so it may still be inside the transaction).
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    writes: &[MonitorWrite],
) -> Result<(), (upkeep_storage::StorageError, bool)> {
    let rows = Rows::of(writes);
    let Err(err) = execute(conn, &rows).await else {
        return Ok(());
    };
    let rolled_back = match sqlx::query("ROLLBACK").execute(&mut *conn).await {
        Ok(_) => true,
        // Nothing to roll back: BEGIN failed, or the error ended the transaction already.
        Err(sqlx::Error::Database(db)) => db.message().contains("no transaction is active"),
        Err(_) => false,
    };
    Err((err, !rolled_back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_is_the_whole_transaction_with_padded_rounds() {
        let whole = text(3, 0b0101, true);
        assert!(whole.starts_with("BEGIN IMMEDIATE;"));
        assert!(whole.ends_with("COMMIT;\n"));
        assert_eq!(
            whole.matches("(?").count(),
            8 + 8,
            "states and pings, 8 rows each"
        );
        assert_eq!(whole.matches('?').count(), 8 * 12 + 8 * 10);
        assert!(!whole.contains("monitor_events"));
        let round = text(6, 0b1111, false);
        assert!(!round.contains("BEGIN") && !round.contains("COMMIT"));
        assert_eq!(round.matches("(?").count(), 4 * 64);
    }
}
