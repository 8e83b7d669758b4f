//! Wall-clock arithmetic of one layer: when each handoff happens, whose turn it is, and when the layer's
//! restriction windows are open, as boundaries in a range (see the time rules in the `oncall` module docs).

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A span `[start, end)` during which one user is on call for a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    pub start: Timestamp,
    pub end: Timestamp,
    pub user_id: i64,
}

/// A validated layer.
#[derive(Debug, Clone)]
pub(super) struct CheckedLayer {
    pub name: String,
    pub rotation: CheckedRotation,
    pub restrictions: Vec<CheckedRestriction>,
}

impl CheckedLayer {
    /// Who this layer has on call in `[from, to)`, sorted and disjoint.
    pub fn segments(&self, tz: &TimeZone, from: Timestamp, to: Timestamp) -> Vec<Segment> {
        let turns = self.rotation.segments(tz, from, to);
        if self.restrictions.is_empty() {
            return turns;
        }
        restrict(&turns, &open_windows(&self.restrictions, tz, from, to))
    }
}

/// A validated rotation.
#[derive(Debug, Clone)]
pub(super) struct CheckedRotation {
    /// Local date and time of participant 0's first handoff.
    pub first_handoff: DateTime,
    /// Hours on the local clock between handoffs.
    pub step_hours: i64,
    /// Never empty.
    pub participants: Vec<i64>,
}

/// A validated restriction window.
#[derive(Debug, Clone)]
pub(super) struct CheckedRestriction {
    /// Indexed by days from Monday; all true when the spec named no days.
    pub days: [bool; 7],
    pub start: Time,
    /// Not after `start` means the window ends on the next day.
    pub end: Time,
}

/// The instant at which the local clock in `tz` shows `local`: the first instant after the gap when the
/// clocks skip it (rule 2), its first occurrence when they repeat it (rule 3). `None` only at the edges
/// of the representable range.
pub(super) fn resolve(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok(),
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the offset after the change, the local time lies before the change; the next
            // transition is the change itself, the first instant the local clock shows a valid time.
            let probe = after.to_timestamp(local).ok()?;
            tz.following(probe)
                .next()
                .map(|transition| transition.timestamp())
        }
    }
}

impl CheckedRotation {
    /// The instant of the handoff that starts turn `turn` (turn 0 is participant 0's first shift).
    /// `None` when it lies beyond the representable range.
    pub fn handoff(&self, tz: &TimeZone, turn: i64) -> Option<Timestamp> {
        let hours = turn.checked_mul(self.step_hours)?;
        let local = self
            .first_handoff
            .checked_add(SignedDuration::from_hours(hours))
            .ok()?;
        resolve(tz, local)
    }

    /// Whose turn `turn` is.
    pub fn participant(&self, turn: i64) -> i64 {
        let len = self.participants.len() as i64;
        let index = usize::try_from(turn.rem_euclid(len.max(1))).unwrap_or(0);
        self.participants.get(index).copied().unwrap_or_default()
    }

    /// The turn running at `at`: the last handoff at or before it. `None` before the first handoff.
    fn turn_at(&self, tz: &TimeZone, at: Timestamp) -> Option<i64> {
        let first = self.handoff(tz, 0)?;
        if at < first {
            return None;
        }
        // Estimate from the local clock, then correct for clock changes (at most a step or two).
        let elapsed = self.first_handoff.duration_until(tz.to_datetime(at));
        let step_seconds = self.step_hours.saturating_mul(3600).max(1);
        let mut turn = elapsed.as_secs().div_euclid(step_seconds).max(0);
        while turn > 0 && self.handoff(tz, turn).is_none_or(|handoff| handoff > at) {
            turn -= 1;
        }
        while let Some(next) = turn.checked_add(1)
            && self.handoff(tz, next).is_some_and(|handoff| handoff <= at)
        {
            turn = next;
        }
        Some(turn)
    }

    /// The turns overlapping `[from, to)`, clipped to it, in order. Turns of no length (a handoff inside
    /// a skipped hour) are left out.
    pub fn segments(&self, tz: &TimeZone, from: Timestamp, to: Timestamp) -> Vec<Segment> {
        let mut segments = Vec::new();
        let mut turn = match self.turn_at(tz, from) {
            Some(turn) => turn,
            None => match self.handoff(tz, 0) {
                Some(first) if first < to => 0,
                _ => return segments,
            },
        };
        let mut start = match self.handoff(tz, turn) {
            Some(start) => start,
            None => return segments,
        };
        while start < to {
            let next = turn.checked_add(1);
            let end = next.and_then(|next| self.handoff(tz, next));
            let clipped_end = end.map_or(to, |end| end.min(to));
            let clipped_start = start.max(from);
            if clipped_start < clipped_end {
                segments.push(Segment {
                    start: clipped_start,
                    end: clipped_end,
                    user_id: self.participant(turn),
                });
            }
            match (next, end) {
                (Some(next), Some(end)) => {
                    turn = next;
                    start = end;
                }
                _ => break,
            }
        }
        segments
    }
}

impl CheckedRestriction {
    /// This window's occurrence starting on local `date`, if it applies to that weekday and is not empty.
    fn occurrence(&self, tz: &TimeZone, date: Date) -> Option<(Timestamp, Timestamp)> {
        let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).ok()?;
        if !self.days.get(weekday).copied().unwrap_or(false) {
            return None;
        }
        let end_date = if self.end <= self.start {
            date.tomorrow().ok()?
        } else {
            date
        };
        let start = resolve(tz, date.to_datetime(self.start))?;
        let end = resolve(tz, end_date.to_datetime(self.end))?;
        (start < end).then_some((start, end))
    }
}

/// The spans of `[from, to)` inside any of `restrictions`, sorted, merged and clipped.
fn open_windows(
    restrictions: &[CheckedRestriction],
    tz: &TimeZone,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let mut windows = Vec::new();
    // A window lasts at most 24 local hours, so one open at `from` started the local day before at the
    // earliest.
    let first = tz.to_datetime(from).date();
    let mut date = first.yesterday().unwrap_or(first);
    let last = tz.to_datetime(to).date();
    while date <= last {
        for restriction in restrictions {
            if let Some((start, end)) = restriction.occurrence(tz, date) {
                let (start, end) = (start.max(from), end.min(to));
                if start < end {
                    windows.push((start, end));
                }
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    windows.sort_unstable();
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(windows.len());
    for (start, end) in windows {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// The parts of `segments` inside `windows` (both sorted and disjoint).
fn restrict(segments: &[Segment], windows: &[(Timestamp, Timestamp)]) -> Vec<Segment> {
    let mut kept = Vec::new();
    let (mut s, mut w) = (0, 0);
    while let (Some(segment), Some(&(open, close))) = (segments.get(s), windows.get(w)) {
        let (start, end) = (segment.start.max(open), segment.end.min(close));
        if start < end {
            kept.push(Segment {
                start,
                end,
                user_id: segment.user_id,
            });
        }
        if segment.end <= close {
            s += 1;
        } else {
            w += 1;
        }
    }
    kept
}
