//! The daylight-saving rules in America/New_York, Europe/Berlin and Australia/Sydney (2026 changes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

struct Change {
    zone: &'static str,
    /// The local date of the change.
    date: &'static str,
    /// The day before, for rotations starting then.
    day_before: &'static str,
    /// Where a daily 02:30 handoff lands on the day before, the day and the day after.
    at_0230: [&'static str; 3],
    /// A daily 09:00 handoff on the day before, the day and the day after.
    at_0900: [&'static str; 3],
    /// Real hours of the 09:00-to-09:00 shift spanning the change.
    shift_hours: i64,
}

const CHANGES: [Change; 6] = [
    // Spring forward: 02:00 EST becomes 03:00 EDT, so 02:30 does not exist.
    Change {
        zone: "America/New_York",
        date: "2026-03-08",
        day_before: "2026-03-07",
        at_0230: [
            "2026-03-07T02:30-05:00",
            "2026-03-08T03:00-04:00",
            "2026-03-09T02:30-04:00",
        ],
        at_0900: [
            "2026-03-07T09:00-05:00",
            "2026-03-08T09:00-04:00",
            "2026-03-09T09:00-04:00",
        ],
        shift_hours: 23,
    },
    // Fall back: 02:00 EDT becomes 01:00 EST; 01:00-02:00 repeats, 02:30 exists once (EST).
    Change {
        zone: "America/New_York",
        date: "2026-11-01",
        day_before: "2026-10-31",
        at_0230: [
            "2026-10-31T02:30-04:00",
            "2026-11-01T02:30-05:00",
            "2026-11-02T02:30-05:00",
        ],
        at_0900: [
            "2026-10-31T09:00-04:00",
            "2026-11-01T09:00-05:00",
            "2026-11-02T09:00-05:00",
        ],
        shift_hours: 25,
    },
    // Spring forward: 02:00 CET becomes 03:00 CEST.
    Change {
        zone: "Europe/Berlin",
        date: "2026-03-29",
        day_before: "2026-03-28",
        at_0230: [
            "2026-03-28T02:30+01:00",
            "2026-03-29T03:00+02:00",
            "2026-03-30T02:30+02:00",
        ],
        at_0900: [
            "2026-03-28T09:00+01:00",
            "2026-03-29T09:00+02:00",
            "2026-03-30T09:00+02:00",
        ],
        shift_hours: 23,
    },
    // Fall back: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, the handoff is at the first.
    Change {
        zone: "Europe/Berlin",
        date: "2026-10-25",
        day_before: "2026-10-24",
        at_0230: [
            "2026-10-24T02:30+02:00",
            "2026-10-25T02:30+02:00",
            "2026-10-26T02:30+01:00",
        ],
        at_0900: [
            "2026-10-24T09:00+02:00",
            "2026-10-25T09:00+01:00",
            "2026-10-26T09:00+01:00",
        ],
        shift_hours: 25,
    },
    // Fall back: 03:00 AEDT becomes 02:00 AEST; 02:30 happens twice.
    Change {
        zone: "Australia/Sydney",
        date: "2026-04-05",
        day_before: "2026-04-04",
        at_0230: [
            "2026-04-04T02:30+11:00",
            "2026-04-05T02:30+11:00",
            "2026-04-06T02:30+10:00",
        ],
        at_0900: [
            "2026-04-04T09:00+11:00",
            "2026-04-05T09:00+10:00",
            "2026-04-06T09:00+10:00",
        ],
        shift_hours: 25,
    },
    // Spring forward: 02:00 AEST becomes 03:00 AEDT.
    Change {
        zone: "Australia/Sydney",
        date: "2026-10-04",
        day_before: "2026-10-03",
        at_0230: [
            "2026-10-03T02:30+10:00",
            "2026-10-04T03:00+11:00",
            "2026-10-05T02:30+11:00",
        ],
        at_0900: [
            "2026-10-03T09:00+10:00",
            "2026-10-04T09:00+11:00",
            "2026-10-05T09:00+11:00",
        ],
        shift_hours: 23,
    },
];

fn daily(zone: &str, start_date: &str, handoff: &str) -> ScheduleSpec {
    build_spec(
        zone,
        vec![layer(
            "Daily",
            rotation(RotationKind::Daily, &[1, 2], start_date, handoff),
        )],
    )
}

#[test]
fn a_0230_handoff_skipped_or_repeated_by_a_change_happens_after_the_gap_or_at_the_first() {
    for change in &CHANGES {
        let spec = daily(change.zone, change.day_before, "02:30");
        let [before, on, after] = change.at_0230.map(ts);
        let all = shifts(&spec, before, after).unwrap();
        assert_eq!(
            plain(&all),
            vec![(1, before, on), (2, on, after)],
            "{} {}",
            change.zone,
            change.date
        );
        // The handoff is exact to the instant: user 1 until it, user 2 from it.
        assert_eq!(
            users_at(&spec, &(on - SignedDuration::from_nanos(1)).to_string()),
            vec![1]
        );
        assert_eq!(users_at(&spec, &on.to_string()), vec![2]);
        // A rotation starting on the change day itself starts at the same instant.
        let starting = daily(change.zone, change.date, "02:30");
        assert_eq!(
            handoffs(&starting, change.at_0230[0], change.at_0230[2]),
            vec![on]
        );
    }
}

#[test]
fn a_handoff_in_the_repeated_hour_is_at_its_first_occurrence_in_new_york() {
    // 01:30 happens twice on 2026-11-01: 01:30 EDT (05:30Z), then 01:30 EST (06:30Z).
    let spec = daily("America/New_York", "2026-10-31", "01:30");
    assert_eq!(
        plain(
            &shifts(
                &spec,
                ts("2026-10-31T01:30-04:00"),
                ts("2026-11-02T01:30-05:00")
            )
            .unwrap()
        ),
        vec![
            (
                1,
                ts("2026-10-31T01:30-04:00"),
                ts("2026-11-01T01:30-04:00")
            ),
            // 01:30 EDT to 01:30 EST the next day: 25 real hours.
            (
                2,
                ts("2026-11-01T01:30-04:00"),
                ts("2026-11-02T01:30-05:00")
            ),
        ]
    );
    // During the second 01:30 the shift that started at the first one is still running.
    assert_eq!(users_at(&spec, "2026-11-01T01:45-05:00"), vec![2]);
}

#[test]
fn a_daily_0900_handoff_stays_at_0900_local_and_the_spanning_shift_is_23_or_25_hours() {
    for change in &CHANGES {
        let spec = daily(change.zone, change.day_before, "09:00");
        let [before, on, after] = change.at_0900.map(ts);
        let all = shifts(&spec, before, after).unwrap();
        assert_eq!(
            plain(&all),
            vec![(1, before, on), (2, on, after)],
            "{} {}",
            change.zone,
            change.date
        );
        assert_eq!(
            before.duration_until(on),
            SignedDuration::from_hours(change.shift_hours),
            "{} {}",
            change.zone,
            change.date
        );
        assert_eq!(on.duration_until(after), SignedDuration::from_hours(24));
        let tz = jiff::tz::TimeZone::get(change.zone).unwrap();
        for handoff in [before, on, after] {
            assert_eq!(
                tz.to_datetime(handoff).time(),
                jiff::civil::time(9, 0, 0, 0)
            );
        }
    }
}

/// Local hour and minute of each handoff, with the real minutes each shift lasts.
fn hourly_handoffs(change: &Change, minute: &str) -> Vec<(String, i64)> {
    let spec = build_spec(
        change.zone,
        vec![layer(
            "Hourly",
            rotation(
                RotationKind::Hourly,
                &[1, 2, 3],
                change.day_before,
                &format!("00:{minute}"),
            ),
        )],
    );
    let tz = jiff::tz::TimeZone::get(change.zone).unwrap();
    let day = change.date.parse::<jiff::civil::Date>().unwrap();
    let from = day.to_zoned(tz.clone()).unwrap().timestamp();
    let to = day
        .tomorrow()
        .unwrap()
        .to_zoned(tz.clone())
        .unwrap()
        .timestamp();
    shifts(&spec, from, to)
        .unwrap()
        .into_iter()
        .filter(|shift| shift.end < to)
        .map(|shift| {
            let local = shift.start.to_zoned(tz.clone());
            (
                format!(
                    "{:02}:{:02}{}",
                    local.hour(),
                    local.minute(),
                    local.offset()
                ),
                shift.start.duration_until(shift.end).as_mins(),
            )
        })
        .take(6)
        .collect()
}

#[test]
fn hourly_rotations_stay_on_wall_clock_hours_across_changes() {
    let expected: [(&str, [(&str, i64); 6]); 6] = [
        // New York spring: the 02:00 turn has no length; its participant misses it.
        (
            "America/New_York 2026-03-08",
            [
                ("00:00-05", 60),
                ("01:00-05", 60),
                ("03:00-04", 60),
                ("04:00-04", 60),
                ("05:00-04", 60),
                ("06:00-04", 60),
            ],
        ),
        // New York fall: the 01:00 shift covers both 01:00 hours, 2 real hours.
        (
            "America/New_York 2026-11-01",
            [
                ("00:00-04", 60),
                ("01:00-04", 120),
                ("02:00-05", 60),
                ("03:00-05", 60),
                ("04:00-05", 60),
                ("05:00-05", 60),
            ],
        ),
        (
            "Europe/Berlin 2026-03-29",
            [
                ("00:00+01", 60),
                ("01:00+01", 60),
                ("03:00+02", 60),
                ("04:00+02", 60),
                ("05:00+02", 60),
                ("06:00+02", 60),
            ],
        ),
        (
            "Europe/Berlin 2026-10-25",
            [
                ("00:00+02", 60),
                ("01:00+02", 60),
                ("02:00+02", 120),
                ("03:00+01", 60),
                ("04:00+01", 60),
                ("05:00+01", 60),
            ],
        ),
        (
            "Australia/Sydney 2026-04-05",
            [
                ("00:00+11", 60),
                ("01:00+11", 60),
                ("02:00+11", 120),
                ("03:00+10", 60),
                ("04:00+10", 60),
                ("05:00+10", 60),
            ],
        ),
        (
            "Australia/Sydney 2026-10-04",
            [
                ("00:00+10", 60),
                ("01:00+10", 60),
                ("03:00+11", 60),
                ("04:00+11", 60),
                ("05:00+11", 60),
                ("06:00+11", 60),
            ],
        ),
    ];
    for (change, (label, want)) in CHANGES.iter().zip(expected) {
        assert_eq!(label, format!("{} {}", change.zone, change.date));
        let want: Vec<(String, i64)> = want
            .iter()
            .map(|(local, minutes)| (local.to_string(), *minutes))
            .collect();
        assert_eq!(hourly_handoffs(change, "00"), want, "{label}");
    }
    // At :30 the shift that would start in the skipped half hour starts when the gap ends (03:00), so
    // the 01:30 shift is cut to half an hour and the "02:30" one runs 03:00-03:30.
    let spring = &CHANGES[0];
    assert_eq!(
        hourly_handoffs(spring, "30")[2..5].to_vec(),
        vec![
            ("01:30-05".to_string(), 30),
            ("03:00-04".to_string(), 30),
            ("03:30-04".to_string(), 60),
        ]
    );
}

#[test]
fn hourly_turns_follow_the_local_clock_so_the_order_survives_changes() {
    // Participant of the turn starting at local hour h on the change day: turns counted in local hours
    // from 00:00 the day before, so 24 + h, modulo 3.
    for change in &CHANGES {
        let spec = build_spec(
            change.zone,
            vec![layer(
                "Hourly",
                rotation(RotationKind::Hourly, &[1, 2, 3], change.day_before, "00:00"),
            )],
        );
        let tz = jiff::tz::TimeZone::get(change.zone).unwrap();
        let day = change.date.parse::<jiff::civil::Date>().unwrap();
        for hour in [0i8, 1, 4, 5, 12, 23] {
            let at = day
                .at(hour, 10, 0, 0)
                .to_zoned(tz.clone())
                .unwrap()
                .timestamp();
            let expected = [1, 2, 3][(24 + hour as usize) % 3];
            assert_eq!(
                users_at(&spec, &at.to_string()),
                vec![expected],
                "{} {} {hour}:10",
                change.zone,
                change.date
            );
        }
    }
}

#[test]
fn restriction_windows_are_wall_clock_across_changes() {
    // Every day 09:00-17:00 Berlin time: 08:00-16:00 UTC in winter, 07:00-15:00 UTC in summer.
    let office = restricted(
        layer(
            "Office",
            rotation(RotationKind::Weekly, &[1], "2026-03-23", "00:00"),
        ),
        &[],
        "09:00",
        "17:00",
    );
    let spec = build_spec("Europe/Berlin", vec![office]);
    assert_eq!(
        plain(&shifts(&spec, ts("2026-03-28T00:00Z"), ts("2026-03-30T00:00Z")).unwrap()),
        vec![
            (1, ts("2026-03-28T08:00Z"), ts("2026-03-28T16:00Z")),
            (1, ts("2026-03-29T07:00Z"), ts("2026-03-29T15:00Z")),
        ]
    );
    // A window opening inside the skipped hour opens when the gap ends; one closing inside the repeated
    // hour closes at its first occurrence.
    let mut spec = spec;
    spec.layers[0].restrictions = vec![Restriction {
        days: vec!["sun".into()],
        start: "02:30".into(),
        end: "04:00".into(),
    }];
    assert_eq!(
        plain(
            &shifts(
                &spec,
                ts("2026-03-29T00:00+01:00"),
                ts("2026-03-30T00:00+02:00")
            )
            .unwrap()
        ),
        vec![(
            1,
            ts("2026-03-29T03:00+02:00"),
            ts("2026-03-29T04:00+02:00")
        )]
    );
    spec.layers[0].restrictions = vec![Restriction {
        days: vec!["sun".into()],
        start: "01:00".into(),
        end: "02:30".into(),
    }];
    assert_eq!(
        plain(
            &shifts(
                &spec,
                ts("2026-10-25T00:00+02:00"),
                ts("2026-10-26T00:00+01:00")
            )
            .unwrap()
        ),
        vec![(
            1,
            ts("2026-10-25T01:00+02:00"),
            ts("2026-10-25T02:30+02:00")
        )]
    );
}
