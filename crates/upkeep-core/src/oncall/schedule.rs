//! The schedule model as stored and accepted over the API, and its evaluation: who is on call at an
//! instant, the final shifts and the gaps of a range.

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::rotation::{CheckedLayer, Segment};
use super::validation::{InvalidSchedule, check};

/// A whole on-call schedule (see the module documentation for its meaning).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// IANA time zone name, e.g. `Europe/Berlin`; handoffs and restrictions are local times in it.
    pub time_zone: String,
    /// Lowest precedence first: a later layer wins wherever it has someone on call.
    #[serde(default)]
    pub layers: Vec<Layer>,
    /// Applied on top of the layers, in this order.
    #[serde(default)]
    pub overrides: Vec<Override>,
}

/// One rotation, optionally narrowed to windows of the week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Shown as the reason someone is on call, e.g. `Primary` or `Weekend`.
    pub name: String,
    pub rotation: Rotation,
    /// None means the layer is never restricted.
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
}

/// Participants taking turns, handing off at a wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    pub kind: RotationKind,
    /// Only for `custom`: hours on the local clock between handoffs, 1 to 8760.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_hours: Option<u32>,
    /// User ids in turn order; the same user may appear more than once.
    pub participants: Vec<i64>,
    /// `YYYY-MM-DD`: the local date participant 0's first shift starts on (for `weekly`, also the
    /// handoff weekday).
    pub start_date: String,
    /// `HH:MM`: the local time of every handoff (for `hourly`, its minute).
    pub handoff_time: String,
}

/// How long each turn is, on the local clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationKind {
    Hourly,
    Daily,
    Weekly,
    /// `length_hours` hours.
    Custom,
}

/// A window of local time on chosen weekdays during which a layer has someone on call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// `mon` … `sun` (or full names) the window starts on; none means every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`; not after `start` means the next day (equal to `start`: 24 hours).
    pub end: String,
}

/// A change to who is on call during `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub start: Timestamp,
    pub end: Timestamp,
    pub action: OverrideAction,
}

/// What an override does; JSON `{"kind": "add", "user_id": 7}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OverrideAction {
    /// On call alongside whoever else is.
    Add { user_id: i64 },
    /// Off call for the span.
    Remove { user_id: i64 },
    /// `with_user_id` takes the place of `user_id` while that user is on call; without `user_id`,
    /// `with_user_id` is the only one on call for the span, gaps included.
    Replace {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<i64>,
        with_user_id: i64,
    },
}

/// Why someone is on call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// Their turn in `layers[index]`.
    Layer { index: usize, name: String },
    /// `overrides[index]` put them on call.
    Override {
        index: usize,
        action: OverrideAction,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Layer { index, name } => write!(f, "layers[{index}] {name:?}"),
            Source::Override { index, action } => {
                write!(f, "overrides[{index}] (")?;
                match action {
                    OverrideAction::Add { user_id } => write!(f, "add user {user_id}")?,
                    OverrideAction::Remove { user_id } => write!(f, "remove user {user_id}")?,
                    OverrideAction::Replace {
                        user_id: Some(user_id),
                        with_user_id,
                    } => write!(f, "replace user {user_id} with user {with_user_id}")?,
                    OverrideAction::Replace {
                        user_id: None,
                        with_user_id,
                    } => write!(f, "replace everyone with user {with_user_id}")?,
                }
                write!(f, ")")
            }
        }
    }
}

/// Someone on call at an instant, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCallEntry {
    pub user_id: i64,
    pub source: Source,
}

/// A final stretch of one user on call for one reason, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub user_id: i64,
    pub start: Timestamp,
    pub end: Timestamp,
    pub source: Source,
}

/// A validated spec, ready to evaluate many times.
#[derive(Debug, Clone)]
pub struct Schedule {
    time_zone: TimeZone,
    layers: Vec<CheckedLayer>,
    overrides: Vec<Override>,
}

/// Check `spec`; the error lists every problem, each naming its field path.
pub fn validate(spec: &ScheduleSpec) -> Result<(), InvalidSchedule> {
    Schedule::new(spec).map(|_| ())
}

/// Who is on call at `at`, and why: the layers' user first, then users overrides added, in order.
pub fn on_call_at(spec: &ScheduleSpec, at: Timestamp) -> Result<Vec<OnCallEntry>, InvalidSchedule> {
    Ok(Schedule::new(spec)?.on_call_at(at))
}

/// The final shifts overlapping `[from, to)`, clipped to it, ordered by start.
pub fn shifts(
    spec: &ScheduleSpec,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Shift>, InvalidSchedule> {
    Ok(Schedule::new(spec)?.shifts(from, to))
}

/// The spans of `[from, to)` with nobody on call, ordered.
pub fn gaps(
    spec: &ScheduleSpec,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(Timestamp, Timestamp)>, InvalidSchedule> {
    Ok(Schedule::new(spec)?.gaps(from, to))
}

impl Schedule {
    /// Validate `spec` (every problem, each naming its field path) and prepare it for evaluation.
    pub fn new(spec: &ScheduleSpec) -> Result<Self, InvalidSchedule> {
        let (time_zone, layers) = check(spec)?;
        Ok(Schedule {
            time_zone,
            layers,
            overrides: spec.overrides.clone(),
        })
    }

    /// Who is on call at `at`, and why: the layers' user first, then users overrides added, in order.
    pub fn on_call_at(&self, at: Timestamp) -> Vec<OnCallEntry> {
        let nanosecond = SignedDuration::from_nanos(1);
        // The piece of the timeline starting at `at` (at the very end of time, the one ending there).
        let (from, to) = match at.checked_add(nanosecond) {
            Ok(next) => (at, next),
            Err(_) => (at.checked_sub(nanosecond).unwrap_or(at), at),
        };
        let mut found = Vec::new();
        self.timeline(from, to, |_, _, entries| found = entries.to_vec());
        found
    }

    /// The final shifts overlapping `[from, to)`, clipped to it, ordered by start (users starting at the
    /// same instant in the order [`Schedule::on_call_at`] gives). Adjacent pieces of the same user from
    /// the same source are one shift.
    pub fn shifts(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        let mut shifts: Vec<Shift> = Vec::new();
        // Indexes into `shifts` of the ones still running at the current boundary.
        let mut running: Vec<usize> = Vec::new();
        let mut still_running: Vec<usize> = Vec::new();
        self.timeline(from, to, |start, end, entries| {
            still_running.clear();
            for entry in entries {
                let continued = running.iter().copied().find(|&index| {
                    shifts.get(index).is_some_and(|shift| {
                        shift.end == start
                            && shift.user_id == entry.user_id
                            && shift.source == entry.source
                    })
                });
                match continued.and_then(|index| shifts.get_mut(index).map(|shift| (index, shift)))
                {
                    Some((index, shift)) => {
                        shift.end = end;
                        still_running.push(index);
                    }
                    None => {
                        still_running.push(shifts.len());
                        shifts.push(Shift {
                            user_id: entry.user_id,
                            start,
                            end,
                            source: entry.source.clone(),
                        });
                    }
                }
            }
            std::mem::swap(&mut running, &mut still_running);
        });
        shifts
    }

    /// The spans of `[from, to)` with nobody on call, ordered.
    pub fn gaps(&self, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        let mut gaps: Vec<(Timestamp, Timestamp)> = Vec::new();
        self.timeline(from, to, |start, end, entries| {
            if !entries.is_empty() {
                return;
            }
            match gaps.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => gaps.push((start, end)),
            }
        });
        gaps
    }

    /// Split `[from, to)` at every boundary (handoff, window edge, override edge) and call `visit` with
    /// each piece, in order, and who is on call during it.
    fn timeline(
        &self,
        from: Timestamp,
        to: Timestamp,
        mut visit: impl FnMut(Timestamp, Timestamp, &[OnCallEntry]),
    ) {
        if from >= to {
            return;
        }
        let layer_segments: Vec<Vec<Segment>> = self
            .layers
            .iter()
            .map(|layer| layer.segments(&self.time_zone, from, to))
            .collect();
        let overrides: Vec<(usize, &Override)> = self
            .overrides
            .iter()
            .enumerate()
            .filter(|(_, item)| item.start < to && from < item.end)
            .collect();

        let mut boundaries = vec![from, to];
        for segment in layer_segments.iter().flatten() {
            boundaries.extend([segment.start, segment.end]);
        }
        for (_, item) in &overrides {
            boundaries.extend([item.start.max(from), item.end.min(to)]);
        }
        boundaries.sort_unstable();
        boundaries.dedup();

        let mut cursors = vec![0usize; layer_segments.len()];
        let mut entries: Vec<OnCallEntry> = Vec::new();
        for pair in boundaries.windows(2) {
            let &[start, end] = pair else { continue };
            entries.clear();
            // Advance every layer's cursor, then take the highest layer with someone on call.
            let mut top: Option<(usize, i64)> = None;
            for (index, (segments, cursor)) in
                layer_segments.iter().zip(cursors.iter_mut()).enumerate()
            {
                while segments
                    .get(*cursor)
                    .is_some_and(|segment| segment.end <= start)
                {
                    *cursor += 1;
                }
                if let Some(segment) = segments.get(*cursor)
                    && segment.start <= start
                {
                    top = Some((index, segment.user_id));
                }
            }
            if let Some((index, user_id)) = top
                && let Some(layer) = self.layers.get(index)
            {
                entries.push(OnCallEntry {
                    user_id,
                    source: Source::Layer {
                        index,
                        name: layer.name.clone(),
                    },
                });
            }
            for (index, item) in &overrides {
                if item.start <= start && start < item.end {
                    apply(*index, &item.action, &mut entries);
                }
            }
            visit(start, end, &entries);
        }
    }
}

/// Apply `overrides[index]` to who is on call.
fn apply(index: usize, action: &OverrideAction, entries: &mut Vec<OnCallEntry>) {
    let entry = |user_id| OnCallEntry {
        user_id,
        source: Source::Override {
            index,
            action: action.clone(),
        },
    };
    match *action {
        OverrideAction::Add { user_id } => {
            if !entries.iter().any(|entry| entry.user_id == user_id) {
                entries.push(entry(user_id));
            }
        }
        OverrideAction::Remove { user_id } => entries.retain(|entry| entry.user_id != user_id),
        OverrideAction::Replace {
            user_id: Some(user_id),
            with_user_id,
        } => {
            let Some(position) = entries.iter().position(|entry| entry.user_id == user_id) else {
                return;
            };
            if entries.iter().any(|entry| entry.user_id == with_user_id) {
                entries.remove(position);
            } else if let Some(slot) = entries.get_mut(position) {
                *slot = entry(with_user_id);
            }
        }
        OverrideAction::Replace {
            user_id: None,
            with_user_id,
        } => {
            entries.clear();
            entries.push(entry(with_user_id));
        }
    }
}
