//! Rotations of each kind, layer precedence and restrictions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn daily_rotation_hands_off_at_the_handoff_time_and_cycles() {
    let spec = build_spec(
        "UTC",
        vec![layer(
            "Primary",
            rotation(RotationKind::Daily, &[1, 2, 3], "2026-03-02", "09:00"),
        )],
    );
    let all = shifts(&spec, ts("2026-03-02T00:00Z"), ts("2026-03-06T00:00Z")).unwrap();
    assert_eq!(
        plain(&all),
        vec![
            (1, ts("2026-03-02T09:00Z"), ts("2026-03-03T09:00Z")),
            (2, ts("2026-03-03T09:00Z"), ts("2026-03-04T09:00Z")),
            (3, ts("2026-03-04T09:00Z"), ts("2026-03-05T09:00Z")),
            (1, ts("2026-03-05T09:00Z"), ts("2026-03-06T00:00Z")),
        ]
    );
    assert!(
        all.iter()
            .all(|shift| shift.source == layer_source(0, "Primary"))
    );
    // Before the start nobody is on call; the turn runs up to, not including, the next handoff.
    assert_eq!(users_at(&spec, "2026-03-02T08:59:59Z"), Vec::<i64>::new());
    assert_eq!(users_at(&spec, "2026-03-02T09:00Z"), vec![1]);
    assert_eq!(users_at(&spec, "2026-03-03T08:59:59.999Z"), vec![1]);
    assert_eq!(users_at(&spec, "2026-03-03T09:00Z"), vec![2]);
    // Far in the future the order still holds: 2026-03-02 + 300 days is turn 300, 300 % 3 = 0.
    assert_eq!(users_at(&spec, "2026-12-27T10:00Z"), vec![1]);
    assert_eq!(
        gaps(&spec, ts("2026-03-01T00:00Z"), ts("2026-03-04T00:00Z")).unwrap(),
        vec![(ts("2026-03-01T00:00Z"), ts("2026-03-02T09:00Z"))]
    );
}

#[test]
fn hourly_rotation_hands_off_every_hour_at_the_minute() {
    let spec = build_spec(
        "Europe/Berlin",
        vec![layer(
            "Hours",
            rotation(RotationKind::Hourly, &[1, 2], "2026-06-01", "00:15"),
        )],
    );
    let all = shifts(
        &spec,
        ts("2026-06-01T10:00+02:00"),
        ts("2026-06-01T13:00+02:00"),
    )
    .unwrap();
    assert_eq!(
        plain(&all),
        vec![
            // 10:15 is 10 hours after 00:15: turn 10, participant 0.
            (
                2,
                ts("2026-06-01T10:00+02:00"),
                ts("2026-06-01T10:15+02:00")
            ),
            (
                1,
                ts("2026-06-01T10:15+02:00"),
                ts("2026-06-01T11:15+02:00")
            ),
            (
                2,
                ts("2026-06-01T11:15+02:00"),
                ts("2026-06-01T12:15+02:00")
            ),
            (
                1,
                ts("2026-06-01T12:15+02:00"),
                ts("2026-06-01T13:00+02:00")
            ),
        ]
    );
}

#[test]
fn weekly_rotation_hands_off_on_the_start_weekday() {
    // 2026-03-02 is a Monday.
    let spec = build_spec(
        "Europe/Berlin",
        vec![layer(
            "Weekly",
            rotation(RotationKind::Weekly, &[1, 2], "2026-03-02", "09:00"),
        )],
    );
    assert_eq!(users_at(&spec, "2026-03-08T23:00+01:00"), vec![1]);
    assert_eq!(users_at(&spec, "2026-03-09T08:59+01:00"), vec![1]);
    assert_eq!(users_at(&spec, "2026-03-09T09:00+01:00"), vec![2]);
    assert_eq!(users_at(&spec, "2026-03-16T09:00+01:00"), vec![1]);
    assert_eq!(
        handoffs(&spec, "2026-03-02T00:00+01:00", "2026-04-01T00:00+02:00"),
        vec![
            ts("2026-03-02T09:00+01:00"),
            ts("2026-03-09T09:00+01:00"),
            ts("2026-03-16T09:00+01:00"),
            ts("2026-03-23T09:00+01:00"),
            // After the change to summer time (2026-03-29) still Monday 09:00, local.
            ts("2026-03-30T09:00+02:00"),
        ]
    );
}

#[test]
fn custom_rotation_counts_whole_hours_on_the_local_clock() {
    let mut twelve = rotation(RotationKind::Custom, &[1, 2, 3], "2026-03-02", "08:00");
    twelve.length_hours = Some(12);
    let spec = build_spec("UTC", vec![layer("Halves", twelve)]);
    assert_eq!(
        plain(&shifts(&spec, ts("2026-03-02T08:00Z"), ts("2026-03-04T08:00Z")).unwrap()),
        vec![
            (1, ts("2026-03-02T08:00Z"), ts("2026-03-02T20:00Z")),
            (2, ts("2026-03-02T20:00Z"), ts("2026-03-03T08:00Z")),
            (3, ts("2026-03-03T08:00Z"), ts("2026-03-03T20:00Z")),
            (1, ts("2026-03-03T20:00Z"), ts("2026-03-04T08:00Z")),
        ]
    );
    // 36 hours across the New York spring change: 09:00 / 21:00 local, never drifting.
    let mut long = rotation(RotationKind::Custom, &[1, 2], "2026-03-06", "09:00");
    long.length_hours = Some(36);
    let spec = build_spec("America/New_York", vec![layer("Long", long)]);
    assert_eq!(
        handoffs(&spec, "2026-03-06T00:00-05:00", "2026-03-12T00:00-04:00"),
        vec![
            ts("2026-03-06T09:00-05:00"),
            ts("2026-03-07T21:00-05:00"),
            ts("2026-03-09T09:00-04:00"),
            ts("2026-03-10T21:00-04:00"),
        ]
    );
}

#[test]
fn a_user_listed_twice_in_a_row_has_one_merged_shift() {
    let spec = build_spec(
        "UTC",
        vec![layer(
            "Primary",
            rotation(RotationKind::Daily, &[1, 1, 2], "2026-03-02", "09:00"),
        )],
    );
    assert_eq!(
        plain(&shifts(&spec, ts("2026-03-02T09:00Z"), ts("2026-03-06T09:00Z")).unwrap()),
        vec![
            (1, ts("2026-03-02T09:00Z"), ts("2026-03-04T09:00Z")),
            (2, ts("2026-03-04T09:00Z"), ts("2026-03-05T09:00Z")),
            (1, ts("2026-03-05T09:00Z"), ts("2026-03-06T09:00Z")),
        ]
    );
}

#[test]
fn empty_or_reversed_ranges_give_nothing() {
    let spec = build_spec(
        "UTC",
        vec![layer(
            "Primary",
            rotation(RotationKind::Daily, &[1], "2026-03-02", "09:00"),
        )],
    );
    let at = ts("2026-03-05T00:00Z");
    assert!(shifts(&spec, at, at).unwrap().is_empty());
    assert!(gaps(&spec, at, ts("2026-03-01T00:00Z")).unwrap().is_empty());
    // The extremes of time do not break anything.
    assert_eq!(users_at(&spec, &Timestamp::MAX.to_string()), vec![1]);
    assert!(on_call_at(&spec, Timestamp::MIN).unwrap().is_empty());
    assert_eq!(
        plain(&shifts(&spec, Timestamp::MIN, ts("2026-03-03T00:00Z")).unwrap()),
        vec![(1, ts("2026-03-02T09:00Z"), ts("2026-03-03T00:00Z"))]
    );
    assert_eq!(
        plain(&shifts(&spec, ts("9999-12-01T00:00Z"), Timestamp::MAX).unwrap()),
        vec![(1, ts("9999-12-01T00:00Z"), Timestamp::MAX)]
    );
}

#[test]
fn a_later_layer_wins_where_it_has_someone_and_lower_layers_show_through() {
    let spec = layered();
    // Monday 2026-06-01.
    assert_eq!(users_at(&spec, "2026-06-01T10:00+02:00"), vec![3]);
    assert_eq!(users_at(&spec, "2026-06-01T17:00+02:00"), vec![1]);
    assert_eq!(users_at(&spec, "2026-06-02T08:00+02:00"), vec![1]);
    assert_eq!(users_at(&spec, "2026-06-02T12:00+02:00"), vec![3]);
    assert_eq!(users_at(&spec, "2026-06-02T18:00+02:00"), vec![2]);
    // The second week of the business-hours rotation.
    assert_eq!(users_at(&spec, "2026-06-08T12:00+02:00"), vec![4]);
    // Saturday daytime: layer 1 restricted, layer 0 shows through.
    assert_eq!(users_at(&spec, "2026-06-06T12:00+02:00"), vec![2]);
    let entries = on_call_at(&spec, ts("2026-06-01T10:00+02:00")).unwrap();
    assert_eq!(
        entries,
        vec![OnCallEntry {
            user_id: 3,
            source: layer_source(1, "Business hours")
        }]
    );
    assert_eq!(
        entries[0].source.to_string(),
        "layers[1] \"Business hours\""
    );
}

#[test]
fn restrictions_cross_midnight_and_belong_to_the_day_they_start() {
    let spec = layered();
    // Friday 2026-06-05 22:00 to Saturday 06:00, Saturday 22:00 to Sunday 06:00.
    assert_eq!(users_at(&spec, "2026-06-05T21:59+02:00"), vec![1]);
    assert_eq!(users_at(&spec, "2026-06-05T22:00+02:00"), vec![5]);
    assert_eq!(users_at(&spec, "2026-06-06T05:59+02:00"), vec![5]);
    assert_eq!(users_at(&spec, "2026-06-06T06:00+02:00"), vec![1]);
    assert_eq!(users_at(&spec, "2026-06-07T03:00+02:00"), vec![5]);
    assert_eq!(users_at(&spec, "2026-06-07T06:00+02:00"), vec![2]);
    // Not on Thursday night, and not Sunday night.
    assert_eq!(users_at(&spec, "2026-06-04T23:00+02:00"), vec![2]);
    assert_eq!(users_at(&spec, "2026-06-07T23:00+02:00"), vec![1]);

    let week = shifts(
        &spec,
        ts("2026-06-05T09:00+02:00"),
        ts("2026-06-07T09:00+02:00"),
    )
    .unwrap();
    assert_eq!(
        plain(&week),
        vec![
            (
                3,
                ts("2026-06-05T09:00+02:00"),
                ts("2026-06-05T17:00+02:00")
            ),
            (
                1,
                ts("2026-06-05T17:00+02:00"),
                ts("2026-06-05T22:00+02:00")
            ),
            (
                5,
                ts("2026-06-05T22:00+02:00"),
                ts("2026-06-06T06:00+02:00")
            ),
            (
                1,
                ts("2026-06-06T06:00+02:00"),
                ts("2026-06-06T09:00+02:00")
            ),
            (
                2,
                ts("2026-06-06T09:00+02:00"),
                ts("2026-06-06T22:00+02:00")
            ),
            (
                5,
                ts("2026-06-06T22:00+02:00"),
                ts("2026-06-07T06:00+02:00")
            ),
            (
                2,
                ts("2026-06-07T06:00+02:00"),
                ts("2026-06-07T09:00+02:00")
            ),
        ]
    );
    // A query starting inside a window that opened the day before still sees it.
    assert_eq!(
        plain(
            &shifts(
                &spec,
                ts("2026-06-06T05:00+02:00"),
                ts("2026-06-06T07:00+02:00")
            )
            .unwrap()
        ),
        vec![
            (
                5,
                ts("2026-06-06T05:00+02:00"),
                ts("2026-06-06T06:00+02:00")
            ),
            (
                1,
                ts("2026-06-06T06:00+02:00"),
                ts("2026-06-06T07:00+02:00")
            ),
        ]
    );
}

#[test]
fn a_restricted_rotation_keeps_turning_and_leaves_gaps_when_alone() {
    let spec = build_spec(
        "UTC",
        vec![restricted(
            layer(
                "Office",
                rotation(RotationKind::Daily, &[1, 2], "2026-06-01", "00:00"),
            ),
            &[],
            "09:00",
            "17:00",
        )],
    );
    assert_eq!(
        plain(&shifts(&spec, ts("2026-06-01T00:00Z"), ts("2026-06-03T00:00Z")).unwrap()),
        vec![
            (1, ts("2026-06-01T09:00Z"), ts("2026-06-01T17:00Z")),
            (2, ts("2026-06-02T09:00Z"), ts("2026-06-02T17:00Z")),
        ]
    );
    assert_eq!(
        gaps(&spec, ts("2026-06-01T00:00Z"), ts("2026-06-03T00:00Z")).unwrap(),
        vec![
            (ts("2026-06-01T00:00Z"), ts("2026-06-01T09:00Z")),
            (ts("2026-06-01T17:00Z"), ts("2026-06-02T09:00Z")),
            (ts("2026-06-02T17:00Z"), ts("2026-06-03T00:00Z")),
        ]
    );
}

#[test]
fn a_window_whose_end_equals_its_start_lasts_a_day_and_touching_windows_merge() {
    let full_day = restricted(
        layer(
            "Mondays",
            rotation(RotationKind::Weekly, &[1], "2026-06-01", "00:00"),
        ),
        &["mon"],
        "12:00",
        "12:00",
    );
    let spec = build_spec("UTC", vec![full_day.clone()]);
    assert_eq!(
        plain(&shifts(&spec, ts("2026-06-01T00:00Z"), ts("2026-06-08T00:00Z")).unwrap()),
        vec![(1, ts("2026-06-01T12:00Z"), ts("2026-06-02T12:00Z"))]
    );
    // Two windows meeting at 12:00 Tuesday make one shift.
    let spec = build_spec(
        "UTC",
        vec![restricted(full_day, &["tue"], "12:00", "18:00")],
    );
    assert_eq!(
        plain(&shifts(&spec, ts("2026-06-01T00:00Z"), ts("2026-06-08T00:00Z")).unwrap()),
        vec![(1, ts("2026-06-01T12:00Z"), ts("2026-06-02T18:00Z"))]
    );
}

#[test]
fn a_layer_not_started_yet_lets_lower_layers_show_through() {
    let spec = build_spec(
        "UTC",
        vec![
            layer(
                "Old",
                rotation(RotationKind::Daily, &[1], "2026-01-01", "00:00"),
            ),
            layer(
                "New",
                rotation(RotationKind::Daily, &[2], "2026-06-10", "09:00"),
            ),
        ],
    );
    assert_eq!(users_at(&spec, "2026-06-10T08:00Z"), vec![1]);
    assert_eq!(users_at(&spec, "2026-06-10T09:00Z"), vec![2]);
    assert_eq!(
        shifts(&spec, ts("2026-06-09T00:00Z"), ts("2026-06-11T00:00Z")).unwrap(),
        vec![
            Shift {
                user_id: 1,
                start: ts("2026-06-09T00:00Z"),
                end: ts("2026-06-10T09:00Z"),
                source: layer_source(0, "Old"),
            },
            Shift {
                user_id: 2,
                start: ts("2026-06-10T09:00Z"),
                end: ts("2026-06-11T00:00Z"),
                source: layer_source(1, "New"),
            },
        ]
    );
}
