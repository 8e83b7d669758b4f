//! The orders a monitor list can take, and the keyset cursors that continue them.
//!
//! A page continues after the last row it showed: `(sort value, id)` compared as a pair, so rows with the
//! same value (two monitors named alike, a hundred monitors that are up) are split by id and none is
//! skipped or shown twice. The cursor carries the sort value itself, not only the id: statuses and check
//! times change all the time, and a cursor that looked the value up again would jump. Creation order needs
//! the id alone, so its cursors stay plain ids.

use super::Monitor;
use crate::{Page, PageRequest};

/// What a monitor list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MonitorSortKey {
    /// Creation order (the id).
    #[default]
    Created,
    /// Name, case-insensitively (ASCII), then id.
    Name,
    /// The status shown, worst first: down, degraded, pending, up, maintenance, paused.
    Status,
    /// The last check or ping; never-checked monitors count as the oldest.
    LastChecked,
}

impl MonitorSortKey {
    pub const ALL: [Self; 4] = [Self::Created, Self::Name, Self::Status, Self::LastChecked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Name => "name",
            Self::Status => "status",
            Self::LastChecked => "last_checked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|key| key.as_str() == text)
    }

    fn code(self) -> char {
        match self {
            Self::Created => 'c',
            Self::Name => 'n',
            Self::Status => 's',
            Self::LastChecked => 'l',
        }
    }
}

/// Rank of each stored status for [`MonitorSortKey::Status`]; maintenance and paused are worked out from
/// the maintenance scope and the `paused` flag (see the backends' list queries).
pub const STATUS_RANKS: [(&str, i64); 4] =
    [("down", 0), ("degraded", 1), ("pending", 2), ("up", 3)];
pub const MAINTENANCE_RANK: i64 = 4;
pub const PAUSED_RANK: i64 = 5;
/// A stored status outside [`STATUS_RANKS`] (none today).
pub const OTHER_RANK: i64 = 6;

/// The sort value of one row: a number (status rank, check time in epoch ms) or a text (lowercased name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

/// How a monitor list is ordered, and where the page continues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorSort {
    pub key: MonitorSortKey,
    pub descending: bool,
    /// The sort value of the row the page continues after; that row's id is the page's cursor. Only for
    /// keys other than `Created` (set by [`MonitorSort::continue_after`]).
    pub after: Option<SortValue>,
}

fn hex(text: &str) -> String {
    text.bytes().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

impl MonitorSort {
    pub fn new(key: MonitorSortKey, descending: bool) -> Self {
        Self {
            key,
            descending,
            after: None,
        }
    }

    /// The `next_cursor` after the row `id` whose sort value is `value`.
    pub fn cursor_of(&self, id: i64, value: &SortValue) -> String {
        match (self.key, value) {
            (MonitorSortKey::Created, _) => id.to_string(),
            (key, SortValue::Int(number)) => format!("{id}.{}{number}", key.code()),
            (key, SortValue::Text(text)) => format!("{id}.{}{}", key.code(), hex(text)),
        }
    }

    /// Read a `next_cursor` of a previous page of this same order: sets [`MonitorSort::after`] and returns
    /// the id for the page request; `None` when it is not such a cursor (another order's, or garbage).
    pub fn continue_after(&mut self, cursor: &str) -> Option<i64> {
        if self.key == MonitorSortKey::Created {
            return cursor.parse().ok();
        }
        let (id, rest) = cursor.split_once('.')?;
        let id = id.parse().ok()?;
        let rest = rest.strip_prefix(self.key.code())?;
        self.after = Some(match self.key {
            MonitorSortKey::Name => SortValue::Text(unhex(rest)?),
            _ => SortValue::Int(rest.parse().ok()?),
        });
        Some(id)
    }
}

impl MonitorSort {
    /// A page from rows fetched with [`PageRequest::fetch_limit`], each with its sort value.
    pub fn page_of(&self, mut rows: Vec<(Monitor, SortValue)>, page: PageRequest) -> Page<Monitor> {
        let limit = page.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last()
                .map(|(monitor, value)| self.cursor_of(monitor.id, value))
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(|(monitor, _)| monitor).collect(),
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_order() {
        let by_name = MonitorSort::new(MonitorSortKey::Name, false);
        let cursor = by_name.cursor_of(42, &SortValue::Text("api ü.1".into()));
        let mut reading = MonitorSort::new(MonitorSortKey::Name, false);
        assert_eq!(reading.continue_after(&cursor), Some(42));
        assert_eq!(reading.after, Some(SortValue::Text("api ü.1".into())));

        let by_time = MonitorSort::new(MonitorSortKey::LastChecked, true);
        let cursor = by_time.cursor_of(7, &SortValue::Int(-1));
        let mut reading = MonitorSort::new(MonitorSortKey::LastChecked, true);
        assert_eq!(reading.continue_after(&cursor), Some(7));
        assert_eq!(reading.after, Some(SortValue::Int(-1)));
        // Another order's cursor, a plain id, or garbage is not a cursor of this order.
        assert_eq!(
            MonitorSort::new(MonitorSortKey::Status, false).continue_after(&cursor),
            None
        );
        assert_eq!(
            MonitorSort::new(MonitorSortKey::Name, false).continue_after("12"),
            None
        );
        assert_eq!(
            MonitorSort::new(MonitorSortKey::Name, false).continue_after("1.nzz"),
            None
        );
        // Creation order keeps plain ids.
        let mut created = MonitorSort::default();
        assert_eq!(created.cursor_of(9, &SortValue::Int(9)), "9");
        assert_eq!(created.continue_after("9"), Some(9));
        assert_eq!(created.after, None);
    }
}
