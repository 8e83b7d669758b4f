//! The shape of a schedule spec in the OpenAPI document. The engine's types live in `upkeep-core`, which
//! knows nothing of OpenAPI; these mirror them field for field (the API parses into the engine's types,
//! so a drift shows up as a failing story, not a silent difference).

// Only described, never built: the handlers deserialise `upkeep_core::oncall::ScheduleSpec`.
#![allow(dead_code)]

use serde::Deserialize;
use utoipa::ToSchema;

/// An on-call schedule. Handoffs and restrictions are wall-clock times in `time_zone`; a later layer wins
/// wherever it has someone on call; overrides apply on top, in order. A handoff at a time skipped by a
/// clock change happens when the gap ends; one at a repeated time happens at its first occurrence.
#[derive(Deserialize, ToSchema)]
#[schema(as = ScheduleSpec)]
pub struct ScheduleSpecDoc {
    /// IANA time zone, e.g. `Europe/Berlin`.
    time_zone: String,
    /// Lowest precedence first.
    #[serde(default)]
    layers: Vec<LayerDoc>,
    #[serde(default)]
    overrides: Vec<OverrideDoc>,
}

/// One rotation, optionally narrowed to windows of the week.
#[derive(Deserialize, ToSchema)]
#[schema(as = ScheduleLayer)]
pub struct LayerDoc {
    /// Shown as the reason someone is on call, e.g. `Weekdays`.
    name: String,
    rotation: RotationDoc,
    /// Windows in which the layer has someone on call; none means always.
    #[serde(default)]
    restrictions: Vec<RestrictionDoc>,
}

/// Participants taking turns, handing off at a wall-clock time.
#[derive(Deserialize, ToSchema)]
#[schema(as = ScheduleRotation)]
pub struct RotationDoc {
    /// `hourly`, `daily`, `weekly` or `custom` (`length_hours`).
    kind: RotationKindDoc,
    /// Only for `custom`: hours on the local clock between handoffs, 1 to 8760.
    length_hours: Option<u32>,
    /// User ids in turn order.
    participants: Vec<i64>,
    /// `YYYY-MM-DD`: the local date the first participant's first shift starts (for `weekly`, also the
    /// handoff weekday).
    start_date: String,
    /// `HH:MM`: the local time of every handoff (for `hourly`, its minute).
    handoff_time: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = ScheduleRotationKind)]
#[serde(rename_all = "snake_case")]
pub enum RotationKindDoc {
    Hourly,
    Daily,
    Weekly,
    Custom,
}

/// A window of local time on chosen weekdays.
#[derive(Deserialize, ToSchema)]
#[schema(as = ScheduleRestriction)]
pub struct RestrictionDoc {
    /// `mon` … `sun`; none means every day.
    #[serde(default)]
    days: Vec<String>,
    /// `HH:MM`.
    start: String,
    /// `HH:MM`; not after `start` means the next day.
    end: String,
}

/// A change to who is on call from `start` to `end`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ScheduleOverride)]
pub struct OverrideDoc {
    #[schema(value_type = String, format = DateTime)]
    start: String,
    #[schema(value_type = String, format = DateTime)]
    end: String,
    action: OverrideActionDoc,
}

/// `add` puts `user_id` on call alongside the others, `remove` takes them off, `replace` puts
/// `with_user_id` in the place of `user_id` (or, without `user_id`, makes them the only one on call).
#[derive(Deserialize, ToSchema)]
#[schema(as = ScheduleOverrideAction)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OverrideActionDoc {
    Add {
        user_id: i64,
    },
    Remove {
        user_id: i64,
    },
    Replace {
        user_id: Option<i64>,
        with_user_id: i64,
    },
}
