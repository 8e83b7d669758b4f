//! Tests of the schedule engine, with the helpers they share: rotations and layers, overrides and
//! merging, the daylight-saving rules in three zones, and validation. Instants are written with explicit
//! offsets so the expected local time and offset (EST or EDT, …) can be read off each one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::CoreError;

mod dst;
mod overrides;
mod rotations;
mod validation;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn rotation(kind: RotationKind, participants: &[i64], start_date: &str, handoff: &str) -> Rotation {
    Rotation {
        kind,
        length_hours: None,
        participants: participants.to_vec(),
        start_date: start_date.into(),
        handoff_time: handoff.into(),
    }
}

fn layer(name: &str, rotation: Rotation) -> Layer {
    Layer {
        name: name.into(),
        rotation,
        restrictions: Vec::new(),
    }
}

fn restricted(mut layer: Layer, days: &[&str], start: &str, end: &str) -> Layer {
    layer.restrictions.push(Restriction {
        days: days.iter().map(|day| day.to_string()).collect(),
        start: start.into(),
        end: end.into(),
    });
    layer
}

fn build_spec(time_zone: &str, layers: Vec<Layer>) -> ScheduleSpec {
    ScheduleSpec {
        time_zone: time_zone.into(),
        layers,
        overrides: Vec::new(),
    }
}

fn with_override(
    mut spec: ScheduleSpec,
    start: &str,
    end: &str,
    action: OverrideAction,
) -> ScheduleSpec {
    spec.overrides.push(Override {
        start: ts(start),
        end: ts(end),
        action,
    });
    spec
}

fn schedule(spec: &ScheduleSpec) -> Schedule {
    Schedule::new(spec).unwrap()
}

/// Users on call at `at`, in order.
fn users_at(spec: &ScheduleSpec, at: &str) -> Vec<i64> {
    on_call_at(spec, ts(at))
        .unwrap()
        .into_iter()
        .map(|entry| entry.user_id)
        .collect()
}

/// `(user, start, end)` of each shift.
fn plain(shifts: &[Shift]) -> Vec<(i64, Timestamp, Timestamp)> {
    shifts
        .iter()
        .map(|shift| (shift.user_id, shift.start, shift.end))
        .collect()
}

fn layer_source(index: usize, name: &str) -> Source {
    Source::Layer {
        index,
        name: name.into(),
    }
}

/// The handoffs (shift starts) of a single-layer schedule in `[from, to)`, excluding `from` itself.
fn handoffs(spec: &ScheduleSpec, from: &str, to: &str) -> Vec<Timestamp> {
    shifts(spec, ts(from), ts(to))
        .unwrap()
        .into_iter()
        .map(|shift| shift.start)
        .filter(|start| *start != ts(from))
        .collect()
}

/// Layer 0: everyone, daily. Layer 1: business hours on weekdays. Layer 2: weekend nights.
fn layered() -> ScheduleSpec {
    build_spec(
        "Europe/Berlin",
        vec![
            layer(
                "Base",
                rotation(RotationKind::Daily, &[1, 2], "2026-06-01", "09:00"),
            ),
            restricted(
                layer(
                    "Business hours",
                    rotation(RotationKind::Weekly, &[3, 4], "2026-06-01", "09:00"),
                ),
                &["mon", "tue", "wed", "thu", "fri"],
                "09:00",
                "17:00",
            ),
            restricted(
                layer(
                    "Weekend nights",
                    rotation(RotationKind::Weekly, &[5], "2026-06-01", "00:00"),
                ),
                &["Friday", "sat"],
                "22:00",
                "06:00",
            ),
        ],
    )
}

fn daily_pair() -> ScheduleSpec {
    build_spec(
        "UTC",
        vec![layer(
            "Primary",
            rotation(RotationKind::Daily, &[1, 2], "2026-06-01", "09:00"),
        )],
    )
}
