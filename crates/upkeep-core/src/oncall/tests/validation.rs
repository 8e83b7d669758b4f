//! Validation errors naming their field paths, and the JSON form.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn fields(spec: &ScheduleSpec) -> Vec<String> {
    validate(spec)
        .unwrap_err()
        .errors
        .into_iter()
        .map(|error| error.to_string())
        .collect()
}

#[test]
fn a_bad_time_zone_is_named() {
    let mut spec = daily_pair();
    spec.time_zone = "Mars/Olympus_Mons".into();
    assert_eq!(
        fields(&spec),
        vec!["time_zone: \"Mars/Olympus_Mons\" is not an IANA time zone name, e.g. Europe/Berlin"]
    );
}

#[test]
fn a_bad_time_of_day_is_named_with_its_path() {
    let mut spec = layered();
    spec.layers[1].rotation.handoff_time = "25:00".into();
    spec.layers[2].restrictions[0].end = "6pm".into();
    spec.layers[2].restrictions[0].days[1] = "someday".into();
    assert_eq!(
        fields(&spec),
        vec![
            "layers[1].rotation.handoff_time: \"25:00\" is not a time of day (HH:MM)",
            "layers[2].restrictions[0].days[1]: \"someday\" is not a weekday; use mon, tue, wed, thu, fri, sat or sun",
            "layers[2].restrictions[0].end: \"6pm\" is not a time of day (HH:MM)",
        ]
    );
    for bad in ["9:00", "09:60", "+9:00", "09:00:00", "", "24:00"] {
        spec = layered();
        spec.layers[0].rotation.handoff_time = bad.into();
        assert_eq!(
            fields(&spec),
            vec![format!(
                "layers[0].rotation.handoff_time: {bad:?} is not a time of day (HH:MM)"
            )]
        );
    }
    spec = layered();
    spec.layers[0].rotation.start_date = "2026-02-30".into();
    assert_eq!(
        fields(&spec),
        vec!["layers[0].rotation.start_date: \"2026-02-30\" is not a date (YYYY-MM-DD)"]
    );
}

#[test]
fn empty_participants_and_bad_ids_are_named() {
    let mut spec = layered();
    spec.layers[0].rotation.participants.clear();
    spec.layers[1].rotation.participants[1] = 0;
    spec.layers[2].name = "  ".into();
    assert_eq!(
        fields(&spec),
        vec![
            "layers[0].rotation.participants: must name at least one user",
            "layers[1].rotation.participants[1]: 0 is not a user id",
            "layers[2].name: must not be empty",
        ]
    );
}

#[test]
fn custom_lengths_are_checked() {
    let mut spec = daily_pair();
    spec.layers[0].rotation.kind = RotationKind::Custom;
    assert_eq!(
        fields(&spec),
        vec!["layers[0].rotation.length_hours: required for a custom rotation: 1 to 8760 hours"]
    );
    spec.layers[0].rotation.length_hours = Some(0);
    assert_eq!(
        fields(&spec),
        vec!["layers[0].rotation.length_hours: must be 1 to 8760 hours, not 0"]
    );
    spec.layers[0].rotation.kind = RotationKind::Daily;
    spec.layers[0].rotation.length_hours = Some(24);
    assert_eq!(
        fields(&spec),
        vec![
            "layers[0].rotation.length_hours: only a custom rotation has a length; hourly, daily and weekly ones have theirs"
        ]
    );
}

#[test]
fn an_override_ending_before_it_starts_is_named() {
    let spec = with_override(
        daily_pair(),
        "2026-06-02T00:00Z",
        "2026-06-01T00:00Z",
        OverrideAction::Replace {
            user_id: Some(3),
            with_user_id: 3,
        },
    );
    assert_eq!(
        fields(&spec),
        vec![
            "overrides[0].end: 2026-06-01T00:00:00Z is not after start 2026-06-02T00:00:00Z",
            "overrides[0].action.with_user_id: must differ from user_id",
        ]
    );
    // Every function refuses an invalid spec rather than guessing.
    assert!(on_call_at(&spec, ts("2026-06-01T12:00Z")).is_err());
    assert!(shifts(&spec, ts("2026-06-01T00:00Z"), ts("2026-06-03T00:00Z")).is_err());
    assert!(gaps(&spec, ts("2026-06-01T00:00Z"), ts("2026-06-03T00:00Z")).is_err());
    // As a CoreError: the first field, every message.
    let error = CoreError::from(validate(&spec).unwrap_err());
    match error {
        CoreError::Validation { field, message } => {
            assert_eq!(field, "overrides[0].end");
            assert_eq!(
                message,
                "2026-06-01T00:00:00Z is not after start 2026-06-02T00:00:00Z; also overrides[0].action.with_user_id: must differ from user_id"
            );
        }
        other => panic!("{other:?}"),
    }
}

const EXAMPLE: &str = r#"{
  "time_zone": "Europe/Berlin",
  "layers": [
    {
      "name": "Primary",
      "rotation": {
        "kind": "weekly",
        "participants": [1, 2, 3],
        "start_date": "2026-03-02",
        "handoff_time": "09:00"
      }
    },
    {
      "name": "Follow the sun",
      "rotation": {
        "kind": "custom",
        "length_hours": 12,
        "participants": [4, 5],
        "start_date": "2026-03-02",
        "handoff_time": "08:00"
      },
      "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "20:00"}]
    }
  ],
  "overrides": [
    {"start": "2026-03-10T00:00:00Z", "end": "2026-03-11T00:00:00Z", "action": {"kind": "replace", "user_id": 2, "with_user_id": 6}},
    {"start": "2026-03-12T00:00:00Z", "end": "2026-03-13T00:00:00Z", "action": {"kind": "add", "user_id": 7}}
  ]
}"#;

#[test]
fn the_json_form_round_trips() {
    let spec: ScheduleSpec = serde_json::from_str(EXAMPLE).unwrap();
    validate(&spec).unwrap();
    assert_eq!(spec.layers[1].rotation.length_hours, Some(12));
    let text = serde_json::to_string(&spec).unwrap();
    assert_eq!(serde_json::from_str::<ScheduleSpec>(&text).unwrap(), spec);
    // Overrides and restrictions may be left out.
    let minimal: ScheduleSpec = serde_json::from_str(
        r#"{"time_zone":"UTC","layers":[{"name":"A","rotation":{"kind":"daily","participants":[1],"start_date":"2026-01-01","handoff_time":"00:00"}}]}"#,
    )
    .unwrap();
    validate(&minimal).unwrap();
    // The answer types serialize too, with the reason tagged.
    // Tuesday 23:00 local: layer 1 is restricted, layer 0 has user 2, whom override 0 replaces.
    let entries = on_call_at(&spec, ts("2026-03-10T22:00:00Z")).unwrap();
    assert_eq!(
        serde_json::to_value(&entries).unwrap(),
        serde_json::json!([
            {"user_id": 6, "source": {"type": "override", "index": 0, "action": {"kind": "replace", "user_id": 2, "with_user_id": 6}}},
        ])
    );
}

/// What the API's strict JSON extractor does: unknown fields are errors naming their path.
fn json_error(text: &str) -> String {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let error = serde_path_to_error::deserialize::<_, ScheduleSpec>(&mut deserializer).unwrap_err();
    let message = error.inner().to_string();
    format!(
        "{}: {}",
        error.path(),
        message.split(" at line ").next().unwrap()
    )
}

#[test]
fn unknown_fields_are_refused_and_named() {
    let with_colour = EXAMPLE.replacen(
        "\"kind\": \"weekly\",",
        "\"kind\": \"weekly\", \"colour\": \"red\",",
        1,
    );
    assert!(
        json_error(&with_colour).starts_with("layers[0].rotation.colour: unknown field `colour`"),
        "{}",
        json_error(&with_colour)
    );
    let in_action = EXAMPLE.replacen(
        "\"kind\": \"add\", \"user_id\": 7",
        "\"kind\": \"add\", \"user_id\": 7, \"note\": \"x\"",
        1,
    );
    // Inside the tagged action serde names the field in the message and the path stops at the action.
    assert_eq!(
        json_error(&in_action),
        "overrides[1].action: unknown field `note`, expected `user_id`"
    );
    let in_restriction = EXAMPLE.replacen(
        "\"start\": \"08:00\",",
        "\"start\": \"08:00\", \"tz\": \"UTC\",",
        1,
    );
    assert!(
        json_error(&in_restriction).starts_with("layers[1].restrictions[0].tz: unknown field `tz`"),
        "{}",
        json_error(&in_restriction)
    );
    let top = EXAMPLE.replacen("\"time_zone\"", "\"timezone\": \"UTC\", \"time_zone\"", 1);
    assert!(
        json_error(&top).contains("unknown field `timezone`"),
        "{}",
        json_error(&top)
    );
    let kind = EXAMPLE.replacen("\"weekly\"", "\"monthly\"", 1);
    assert!(
        json_error(&kind).starts_with("layers[0].rotation.kind: unknown variant `monthly`"),
        "{}",
        json_error(&kind)
    );
}
