//! Each override action, their order, and merging of adjacent shifts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn add_puts_a_user_on_call_alongside() {
    let add = OverrideAction::Add { user_id: 9 };
    let spec = with_override(
        daily_pair(),
        "2026-06-01T12:00Z",
        "2026-06-02T12:00Z",
        add.clone(),
    );
    let entries = on_call_at(&spec, ts("2026-06-01T13:00Z")).unwrap();
    let override_source = Source::Override {
        index: 0,
        action: add,
    };
    assert_eq!(
        entries,
        vec![
            OnCallEntry {
                user_id: 1,
                source: layer_source(0, "Primary")
            },
            OnCallEntry {
                user_id: 9,
                source: override_source.clone()
            },
        ]
    );
    assert_eq!(override_source.to_string(), "overrides[0] (add user 9)");
    assert_eq!(
        plain(&shifts(&spec, ts("2026-06-01T09:00Z"), ts("2026-06-03T09:00Z")).unwrap()),
        vec![
            (1, ts("2026-06-01T09:00Z"), ts("2026-06-02T09:00Z")),
            // One shift for user 9 even though the layer handed off underneath it.
            (9, ts("2026-06-01T12:00Z"), ts("2026-06-02T12:00Z")),
            (2, ts("2026-06-02T09:00Z"), ts("2026-06-03T09:00Z")),
        ]
    );
}

#[test]
fn add_of_someone_already_on_call_keeps_the_layer_as_the_reason_while_it_lasts() {
    let add = OverrideAction::Add { user_id: 1 };
    let spec = with_override(
        daily_pair(),
        "2026-06-02T00:00Z",
        "2026-06-02T12:00Z",
        add.clone(),
    );
    assert_eq!(
        shifts(&spec, ts("2026-06-01T09:00Z"), ts("2026-06-02T12:00Z")).unwrap(),
        vec![
            Shift {
                user_id: 1,
                start: ts("2026-06-01T09:00Z"),
                end: ts("2026-06-02T09:00Z"),
                source: layer_source(0, "Primary"),
            },
            Shift {
                user_id: 2,
                start: ts("2026-06-02T09:00Z"),
                end: ts("2026-06-02T12:00Z"),
                source: layer_source(0, "Primary"),
            },
            Shift {
                user_id: 1,
                start: ts("2026-06-02T09:00Z"),
                end: ts("2026-06-02T12:00Z"),
                source: Source::Override {
                    index: 0,
                    action: add,
                },
            },
        ]
    );
}

#[test]
fn remove_takes_a_user_off_and_leaves_a_gap() {
    let spec = with_override(
        daily_pair(),
        "2026-06-01T12:00Z",
        "2026-06-01T14:00Z",
        OverrideAction::Remove { user_id: 1 },
    );
    assert_eq!(users_at(&spec, "2026-06-01T13:00Z"), Vec::<i64>::new());
    assert_eq!(users_at(&spec, "2026-06-01T14:00Z"), vec![1]);
    assert_eq!(
        gaps(&spec, ts("2026-06-01T09:00Z"), ts("2026-06-02T09:00Z")).unwrap(),
        vec![(ts("2026-06-01T12:00Z"), ts("2026-06-01T14:00Z"))]
    );
    // Removing someone who is not on call changes nothing.
    let spec = with_override(
        daily_pair(),
        "2026-06-01T12:00Z",
        "2026-06-01T14:00Z",
        OverrideAction::Remove { user_id: 2 },
    );
    assert_eq!(users_at(&spec, "2026-06-01T13:00Z"), vec![1]);
}

#[test]
fn replace_swaps_one_user_only_while_they_are_on_call() {
    let replace = OverrideAction::Replace {
        user_id: Some(1),
        with_user_id: 7,
    };
    let spec = with_override(
        daily_pair(),
        "2026-06-02T00:00Z",
        "2026-06-03T00:00Z",
        replace.clone(),
    );
    let source = Source::Override {
        index: 0,
        action: replace,
    };
    assert_eq!(
        source.to_string(),
        "overrides[0] (replace user 1 with user 7)"
    );
    assert_eq!(
        shifts(&spec, ts("2026-06-01T09:00Z"), ts("2026-06-03T09:00Z")).unwrap(),
        vec![
            Shift {
                user_id: 1,
                start: ts("2026-06-01T09:00Z"),
                end: ts("2026-06-02T00:00Z"),
                source: layer_source(0, "Primary"),
            },
            Shift {
                user_id: 7,
                start: ts("2026-06-02T00:00Z"),
                end: ts("2026-06-02T09:00Z"),
                source,
            },
            // User 1 is not on call after 09:00: user 2 is, untouched.
            Shift {
                user_id: 2,
                start: ts("2026-06-02T09:00Z"),
                end: ts("2026-06-03T09:00Z"),
                source: layer_source(0, "Primary"),
            },
        ]
    );
}

#[test]
fn replace_without_a_user_replaces_everyone_and_covers_gaps() {
    let mut spec = with_override(
        daily_pair(),
        "2026-06-01T10:00Z",
        "2026-06-01T20:00Z",
        OverrideAction::Add { user_id: 9 },
    );
    let replace = OverrideAction::Replace {
        user_id: None,
        with_user_id: 7,
    };
    spec = with_override(
        spec,
        "2026-06-01T12:00Z",
        "2026-06-01T14:00Z",
        replace.clone(),
    );
    // Before the layer starts, to show the gap is covered too.
    spec = with_override(
        spec,
        "2026-05-31T00:00Z",
        "2026-05-31T06:00Z",
        replace.clone(),
    );
    assert_eq!(users_at(&spec, "2026-06-01T11:00Z"), vec![1, 9]);
    assert_eq!(
        on_call_at(&spec, ts("2026-06-01T13:00Z")).unwrap(),
        vec![OnCallEntry {
            user_id: 7,
            source: Source::Override {
                index: 1,
                action: replace.clone()
            }
        }]
    );
    assert_eq!(users_at(&spec, "2026-05-31T03:00Z"), vec![7]);
    assert_eq!(
        Source::Override {
            index: 2,
            action: replace
        }
        .to_string(),
        "overrides[2] (replace everyone with user 7)"
    );
    assert_eq!(
        gaps(&spec, ts("2026-05-31T00:00Z"), ts("2026-06-02T00:00Z")).unwrap(),
        vec![(ts("2026-05-31T06:00Z"), ts("2026-06-01T09:00Z"))]
    );
}

#[test]
fn later_overrides_see_the_effect_of_earlier_ones() {
    // Replace 1 by 5, then remove 5: nobody. The other order: removing 5 first does nothing.
    let replace = OverrideAction::Replace {
        user_id: Some(1),
        with_user_id: 5,
    };
    let remove = OverrideAction::Remove { user_id: 5 };
    let both = |first: &OverrideAction, second: &OverrideAction| {
        let spec = with_override(
            daily_pair(),
            "2026-06-01T10:00Z",
            "2026-06-01T11:00Z",
            first.clone(),
        );
        with_override(
            spec,
            "2026-06-01T10:00Z",
            "2026-06-01T11:00Z",
            second.clone(),
        )
    };
    assert_eq!(
        users_at(&both(&replace, &remove), "2026-06-01T10:30Z"),
        Vec::<i64>::new()
    );
    assert_eq!(
        users_at(&both(&remove, &replace), "2026-06-01T10:30Z"),
        vec![5]
    );
    // Replacing with someone already on call leaves them once.
    let spec = with_override(
        daily_pair(),
        "2026-06-01T10:00Z",
        "2026-06-01T11:00Z",
        OverrideAction::Add { user_id: 5 },
    );
    let spec = with_override(spec, "2026-06-01T10:00Z", "2026-06-01T11:00Z", replace);
    assert_eq!(users_at(&spec, "2026-06-01T10:30Z"), vec![5]);
}

#[test]
fn overrides_outside_the_range_do_not_matter() {
    let spec = with_override(
        daily_pair(),
        "2026-07-01T00:00Z",
        "2026-07-02T00:00Z",
        OverrideAction::Remove { user_id: 1 },
    );
    assert_eq!(
        plain(&shifts(&spec, ts("2026-06-01T09:00Z"), ts("2026-06-02T09:00Z")).unwrap()),
        vec![(1, ts("2026-06-01T09:00Z"), ts("2026-06-02T09:00Z"))]
    );
}

#[test]
fn shifts_merge_adjacent_pieces_of_the_same_user_and_source_only() {
    // Layer 1 (user 1 in business hours) and layer 0 (user 1 as well, all day): same user, different
    // sources, so three shifts on Monday, not one.
    let spec = build_spec(
        "UTC",
        vec![
            layer(
                "All day",
                rotation(RotationKind::Weekly, &[1], "2026-06-01", "00:00"),
            ),
            restricted(
                layer(
                    "Office",
                    rotation(RotationKind::Weekly, &[1], "2026-06-01", "00:00"),
                ),
                &["mon"],
                "09:00",
                "17:00",
            ),
        ],
    );
    let monday = shifts(&spec, ts("2026-06-01T00:00Z"), ts("2026-06-02T00:00Z")).unwrap();
    assert_eq!(
        monday
            .iter()
            .map(|shift| (shift.start, shift.end, shift.source.clone()))
            .collect::<Vec<_>>(),
        vec![
            (
                ts("2026-06-01T00:00Z"),
                ts("2026-06-01T09:00Z"),
                layer_source(0, "All day")
            ),
            (
                ts("2026-06-01T09:00Z"),
                ts("2026-06-01T17:00Z"),
                layer_source(1, "Office")
            ),
            (
                ts("2026-06-01T17:00Z"),
                ts("2026-06-02T00:00Z"),
                layer_source(0, "All day")
            ),
        ]
    );
    // Override edges and other users' shifts do not split a shift: a month of a single-user layer with
    // some adds on top is one shift for that user.
    let mut spec = build_spec(
        "UTC",
        vec![layer(
            "All day",
            rotation(RotationKind::Daily, &[1], "2026-06-01", "00:00"),
        )],
    );
    for day in 2..20 {
        spec = with_override(
            spec,
            &format!("2026-06-{day:02}T10:00Z"),
            &format!("2026-06-{day:02}T11:00Z"),
            OverrideAction::Add { user_id: 2 },
        );
    }
    let month = shifts(&spec, ts("2026-06-02T00:00Z"), ts("2026-06-29T00:00Z")).unwrap();
    let user_one: Vec<_> = month.iter().filter(|shift| shift.user_id == 1).collect();
    assert_eq!(user_one.len(), 1);
    assert_eq!(
        (user_one[0].start, user_one[0].end),
        (ts("2026-06-02T00:00Z"), ts("2026-06-29T00:00Z"))
    );
    assert_eq!(month.iter().filter(|shift| shift.user_id == 2).count(), 18);
}

#[test]
fn the_schedule_can_be_evaluated_many_times() {
    let prepared = schedule(&layered());
    let from = ts("2026-06-01T09:00+02:00");
    let to = ts("2026-07-01T00:00+02:00");
    let month = prepared.shifts(from, to);
    // Shifts tile the month without overlap (one user at a time here), and agree with on_call_at.
    let mut covered = SignedDuration::ZERO;
    for pair in month.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
    for shift in &month {
        covered += shift.start.duration_until(shift.end);
        let at_start = prepared.on_call_at(shift.start);
        assert_eq!(at_start.len(), 1);
        assert_eq!(
            (at_start[0].user_id, &at_start[0].source),
            (shift.user_id, &shift.source)
        );
    }
    assert_eq!(covered, from.duration_until(to));
    assert!(prepared.gaps(from, to).is_empty());
}
