//! Validation of a schedule spec: every problem at once, each naming its field path
//! (`layers[1].rotation.handoff_time: "25:00" is not a time of day (HH:MM)`), so an editor can show them
//! all next to their fields.

use std::fmt;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::rotation::{CheckedLayer, CheckedRestriction, CheckedRotation, resolve};
use super::schedule::{
    Layer, Override, OverrideAction, Restriction, Rotation, RotationKind, ScheduleSpec,
};
use crate::CoreError;

/// Longest layer name.
const MAX_NAME: usize = 100;
/// Caps that keep one schedule's evaluation cheap.
const MAX_LAYERS: usize = 50;
const MAX_PARTICIPANTS: usize = 500;
const MAX_RESTRICTIONS: usize = 50;
const MAX_OVERRIDES: usize = 1000;
/// Longest custom rotation, in hours (a year).
const MAX_CUSTOM_HOURS: u32 = 8760;

/// One problem with a spec: the field path (`layers[1].rotation.handoff_time`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a spec, in field order; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSchedule {
    pub errors: Vec<FieldError>,
}

impl fmt::Display for InvalidSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidSchedule {}

impl From<FieldError> for CoreError {
    fn from(error: FieldError) -> Self {
        CoreError::validation(error.field, error.message)
    }
}

/// The first problem names the field; any others follow in the message.
impl From<InvalidSchedule> for CoreError {
    fn from(invalid: InvalidSchedule) -> Self {
        let mut errors = invalid.errors.into_iter();
        let Some(first) = errors.next() else {
            return CoreError::validation("schedule", "is not valid");
        };
        let rest: Vec<String> = errors.map(|error| error.to_string()).collect();
        if rest.is_empty() {
            first.into()
        } else {
            CoreError::validation(
                first.field,
                format!("{}; also {}", first.message, rest.join("; ")),
            )
        }
    }
}

/// Check every field of `spec`; the time zone and the layers ready for evaluation, or every problem.
pub(super) fn check(spec: &ScheduleSpec) -> Result<(TimeZone, Vec<CheckedLayer>), InvalidSchedule> {
    let mut errors = Vec::new();
    let time_zone = match TimeZone::get(spec.time_zone.trim()) {
        Ok(time_zone) => Some(time_zone),
        Err(_) => {
            errors.push(error(
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone name, e.g. Europe/Berlin",
                    spec.time_zone
                ),
            ));
            None
        }
    };
    if spec.layers.len() > MAX_LAYERS {
        errors.push(error(
            "layers",
            format!("at most {MAX_LAYERS} layers, not {}", spec.layers.len()),
        ));
    }
    let layers: Vec<CheckedLayer> = spec
        .layers
        .iter()
        .enumerate()
        .filter_map(|(index, layer)| {
            check_layer(
                &format!("layers[{index}]"),
                layer,
                time_zone.as_ref(),
                &mut errors,
            )
        })
        .collect();
    if spec.overrides.len() > MAX_OVERRIDES {
        errors.push(error(
            "overrides",
            format!(
                "at most {MAX_OVERRIDES} overrides, not {}; remove the ones that have ended",
                spec.overrides.len()
            ),
        ));
    }
    for (index, item) in spec.overrides.iter().enumerate() {
        check_override(&format!("overrides[{index}]"), item, &mut errors);
    }
    match time_zone {
        Some(time_zone) if errors.is_empty() => Ok((time_zone, layers)),
        _ => Err(InvalidSchedule { errors }),
    }
}

fn error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn check_layer(
    path: &str,
    layer: &Layer,
    tz: Option<&TimeZone>,
    errors: &mut Vec<FieldError>,
) -> Option<CheckedLayer> {
    let before = errors.len();
    let name = layer.name.trim();
    if name.is_empty() {
        errors.push(error(format!("{path}.name"), "must not be empty"));
    } else if name.chars().count() > MAX_NAME {
        errors.push(error(
            format!("{path}.name"),
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    let rotation = check_rotation(&format!("{path}.rotation"), &layer.rotation, tz, errors);
    if layer.restrictions.len() > MAX_RESTRICTIONS {
        errors.push(error(
            format!("{path}.restrictions"),
            format!(
                "at most {MAX_RESTRICTIONS} restrictions, not {}",
                layer.restrictions.len()
            ),
        ));
    }
    let restrictions: Vec<CheckedRestriction> = layer
        .restrictions
        .iter()
        .enumerate()
        .filter_map(|(index, restriction)| {
            check_restriction(
                &format!("{path}.restrictions[{index}]"),
                restriction,
                errors,
            )
        })
        .collect();
    if errors.len() > before {
        return None;
    }
    Some(CheckedLayer {
        name: name.to_string(),
        rotation: rotation?,
        restrictions,
    })
}

fn check_rotation(
    path: &str,
    rotation: &Rotation,
    tz: Option<&TimeZone>,
    errors: &mut Vec<FieldError>,
) -> Option<CheckedRotation> {
    let before = errors.len();
    let step_hours = match (rotation.kind, rotation.length_hours) {
        (RotationKind::Custom, None) => {
            errors.push(error(
                format!("{path}.length_hours"),
                format!("required for a custom rotation: 1 to {MAX_CUSTOM_HOURS} hours"),
            ));
            0
        }
        (RotationKind::Custom, Some(hours)) if hours == 0 || hours > MAX_CUSTOM_HOURS => {
            errors.push(error(
                format!("{path}.length_hours"),
                format!("must be 1 to {MAX_CUSTOM_HOURS} hours, not {hours}"),
            ));
            0
        }
        (RotationKind::Custom, Some(hours)) => i64::from(hours),
        (_, Some(_)) => {
            errors.push(error(
                format!("{path}.length_hours"),
                "only a custom rotation has a length; hourly, daily and weekly ones have theirs",
            ));
            0
        }
        (RotationKind::Hourly, None) => 1,
        (RotationKind::Daily, None) => 24,
        (RotationKind::Weekly, None) => 7 * 24,
    };
    if rotation.participants.is_empty() {
        errors.push(error(
            format!("{path}.participants"),
            "must name at least one user",
        ));
    } else if rotation.participants.len() > MAX_PARTICIPANTS {
        errors.push(error(
            format!("{path}.participants"),
            format!(
                "at most {MAX_PARTICIPANTS} participants, not {}",
                rotation.participants.len()
            ),
        ));
    }
    for (index, &user_id) in rotation.participants.iter().enumerate() {
        if user_id <= 0 {
            errors.push(error(
                format!("{path}.participants[{index}]"),
                format!("{user_id} is not a user id"),
            ));
        }
    }
    let start_date = parse_date(&rotation.start_date);
    if start_date.is_none() {
        errors.push(error(
            format!("{path}.start_date"),
            format!("{:?} is not a date (YYYY-MM-DD)", rotation.start_date),
        ));
    }
    let handoff_time = parse_time(&rotation.handoff_time);
    if handoff_time.is_none() {
        errors.push(error(
            format!("{path}.handoff_time"),
            format!("{:?} is not a time of day (HH:MM)", rotation.handoff_time),
        ));
    }
    let first_handoff = start_date?.to_datetime(handoff_time?);
    if let Some(tz) = tz
        && resolve(tz, first_handoff).is_none()
    {
        errors.push(error(
            format!("{path}.start_date"),
            format!("{:?} is out of range", rotation.start_date),
        ));
    }
    if errors.len() > before {
        return None;
    }
    Some(CheckedRotation {
        first_handoff,
        step_hours,
        participants: rotation.participants.clone(),
    })
}

fn check_restriction(
    path: &str,
    restriction: &Restriction,
    errors: &mut Vec<FieldError>,
) -> Option<CheckedRestriction> {
    let before = errors.len();
    let mut days = [restriction.days.is_empty(); 7];
    for (index, text) in restriction.days.iter().enumerate() {
        let day = parse_weekday(text)
            .and_then(|day| usize::try_from(day.to_monday_zero_offset()).ok())
            .and_then(|offset| days.get_mut(offset));
        match day {
            Some(day) => *day = true,
            None => errors.push(error(
                format!("{path}.days[{index}]"),
                format!("{text:?} is not a weekday; use mon, tue, wed, thu, fri, sat or sun"),
            )),
        }
    }
    let start = parse_time(&restriction.start);
    if start.is_none() {
        errors.push(error(
            format!("{path}.start"),
            format!("{:?} is not a time of day (HH:MM)", restriction.start),
        ));
    }
    let end = parse_time(&restriction.end);
    if end.is_none() {
        errors.push(error(
            format!("{path}.end"),
            format!("{:?} is not a time of day (HH:MM)", restriction.end),
        ));
    }
    if errors.len() > before {
        return None;
    }
    Some(CheckedRestriction {
        days,
        start: start?,
        end: end?,
    })
}

fn check_override(path: &str, item: &Override, errors: &mut Vec<FieldError>) {
    if item.end <= item.start {
        errors.push(error(
            format!("{path}.end"),
            format!("{} is not after start {}", item.end, item.start),
        ));
    }
    let mut check_user = |field: &str, user_id: i64| {
        if user_id <= 0 {
            errors.push(error(
                format!("{path}.action.{field}"),
                format!("{user_id} is not a user id"),
            ));
        }
    };
    match item.action {
        OverrideAction::Add { user_id } | OverrideAction::Remove { user_id } => {
            check_user("user_id", user_id);
        }
        OverrideAction::Replace {
            user_id,
            with_user_id,
        } => {
            if let Some(user_id) = user_id {
                check_user("user_id", user_id);
            }
            check_user("with_user_id", with_user_id);
            if user_id == Some(with_user_id) {
                errors.push(error(
                    format!("{path}.action.with_user_id"),
                    "must differ from user_id",
                ));
            }
        }
    }
}

/// `HH:MM`, 00:00 to 23:59.
fn parse_time(text: &str) -> Option<Time> {
    let (hour, minute) = text.trim().split_once(':')?;
    let digits = |part: &str| part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit());
    if !(digits(hour) && digits(minute)) {
        return None;
    }
    let hour: i8 = hour.parse().ok()?;
    let minute: i8 = minute.parse().ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

/// `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.trim().splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if !(digits(year) && digits(month) && digits(day)) {
        return None;
    }
    Date::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?).ok()
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}
