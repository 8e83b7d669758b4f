//! The iCalendar (RFC 5545) feed of on-call shifts, so people see their shifts in their own calendar app.
//!
//! One `VEVENT` per shift, times in UTC. Its `UID` is derived from the schedule id, the user id and the
//! shift's start, so a client re-fetching the feed updates events instead of duplicating them. Shifts are
//! usually clipped to the range the feed covers; choose that range's start on a fixed boundary (e.g. the
//! start of the current week) so the first event's start, and so its `UID`, stays the same between
//! fetches. Events are `TRANSP:TRANSPARENT`: being on call does not make anyone look busy.

use std::fmt::Write as _;

use jiff::Timestamp;

/// One shift as it appears in a calendar; the caller fills in the names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarShift {
    pub schedule_id: i64,
    pub schedule_name: String,
    pub user_id: i64,
    pub user_name: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `DTSTAMP`: when this information last changed, e.g. the schedule's last update (RFC 5545 for a
    /// feed without `METHOD`). Keeping it stable makes an unchanged feed render byte for byte the same.
    pub revised_at: Timestamp,
    /// `DESCRIPTION`, e.g. `Layer "Primary"` or `Override: replaces Bo`.
    pub description: Option<String>,
}

/// The calendar `name` with one event per shift. Shifts that last less than a second (start and end are
/// written to the second) are left out, since an event must end after it starts.
pub fn render_calendar(name: &str, shifts: &[CalendarShift]) -> String {
    let mut out = String::new();
    push_line(&mut out, "BEGIN:VCALENDAR");
    push_line(&mut out, "VERSION:2.0");
    push_line(&mut out, "PRODID:-//upkeep//on-call//EN");
    push_line(&mut out, "CALSCALE:GREGORIAN");
    push_line(&mut out, &format!("X-WR-CALNAME:{}", escape_text(name)));
    for shift in shifts {
        let (start, end) = (utc(shift.start), utc(shift.end));
        if start.as_second() >= end.as_second() {
            continue;
        }
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}", uid(shift)));
        push_line(&mut out, &format!("DTSTAMP:{}", utc_text(shift.revised_at)));
        push_line(&mut out, &format!("DTSTART:{}", utc_text(start)));
        push_line(&mut out, &format!("DTEND:{}", utc_text(end)));
        let summary = format!("On call: {} ({})", shift.schedule_name, shift.user_name);
        push_line(&mut out, &format!("SUMMARY:{}", escape_text(&summary)));
        if let Some(description) = &shift.description {
            push_line(
                &mut out,
                &format!("DESCRIPTION:{}", escape_text(description)),
            );
        }
        push_line(&mut out, "TRANSP:TRANSPARENT");
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

/// Stable across fetches: the same shift of the same user in the same schedule keeps its UID.
fn uid(shift: &CalendarShift) -> String {
    let mut uid = format!(
        "oncall-{}-{}-{}",
        shift.schedule_id,
        shift.user_id,
        shift.start.as_second()
    );
    let nanos = shift.start.subsec_nanosecond();
    if nanos != 0 {
        let _ = write!(uid, ".{nanos:09}");
    }
    uid.push_str("@upkeep");
    uid
}

/// `instant` truncated to the second (iCalendar has no fractions).
fn utc(instant: Timestamp) -> Timestamp {
    Timestamp::from_second(instant.as_second()).unwrap_or(instant)
}

/// `20260308T070000Z`.
fn utc_text(instant: Timestamp) -> String {
    instant.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Escape a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and line breaks; other control
/// characters, which TEXT may not contain, are dropped.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Longest content line, in octets, without the CRLF.
const MAX_LINE: usize = 75;

/// Append one content line, folded (RFC 5545 3.1): at most 75 octets per line, continuation lines start
/// with a space, and a UTF-8 character is never split.
fn push_line(out: &mut String, line: &str) {
    let mut rest = line;
    // The first line holds 75 octets; a continuation line holds 74 after its leading space.
    let mut room = MAX_LINE;
    while rest.len() > room {
        let mut cut = room;
        while cut > 0 && !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let Some((head, tail)) = rest.split_at_checked(cut) else {
            break;
        };
        out.push_str(head);
        out.push_str("\r\n ");
        rest = tail;
        room = MAX_LINE - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::str::FromStr;

    use icalendar::{CalendarDateTime, Component, DatePerhapsTime};

    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn shift(user_id: i64, user_name: &str, start: &str, end: &str) -> CalendarShift {
        CalendarShift {
            schedule_id: 3,
            schedule_name: "Primary".into(),
            user_id,
            user_name: user_name.into(),
            start: ts(start),
            end: ts(end),
            revised_at: ts("2026-03-01T12:00:00Z"),
            description: Some("Layer \"Weekdays\"".into()),
        }
    }

    #[test]
    fn renders_the_calendar_with_crlf_lines() {
        let text = render_calendar(
            "Primary",
            &[shift(
                7,
                "Alice",
                "2026-03-02T09:00:00Z",
                "2026-03-03T09:00:00Z",
            )],
        );
        let expected = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//upkeep//on-call//EN",
            "CALSCALE:GREGORIAN",
            "X-WR-CALNAME:Primary",
            "BEGIN:VEVENT",
            "UID:oncall-3-7-1772442000@upkeep",
            "DTSTAMP:20260301T120000Z",
            "DTSTART:20260302T090000Z",
            "DTEND:20260303T090000Z",
            "SUMMARY:On call: Primary (Alice)",
            "DESCRIPTION:Layer \"Weekdays\"",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
        .join("\r\n");
        assert_eq!(text, expected);
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
    }

    #[test]
    fn uid_depends_only_on_schedule_user_and_start() {
        let first = shift(7, "Alice", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z");
        let mut longer = first.clone();
        longer.end = ts("2026-03-04T09:00:00Z");
        longer.user_name = "Alice B.".into();
        longer.revised_at = ts("2026-03-02T00:00:00Z");
        assert_eq!(uid(&first), uid(&longer));
        let mut other_user = first.clone();
        other_user.user_id = 8;
        let mut other_schedule = first.clone();
        other_schedule.schedule_id = 4;
        let mut other_start = first.clone();
        other_start.start = ts("2026-03-02T09:00:00.5Z");
        let uids = [
            uid(&first),
            uid(&other_user),
            uid(&other_schedule),
            uid(&other_start),
        ];
        for (i, a) in uids.iter().enumerate() {
            for b in uids.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
        assert_eq!(uid(&other_start), "oncall-3-7-1772442000.500000000@upkeep");
    }

    #[test]
    fn escapes_text_values() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\r\nf\rg\u{7}h\ti"),
            "a\\\\b\\;c\\,d\\ne\\nf\\ngh\ti"
        );
        let mut one = shift(
            7,
            "Doe, Jane; \\ops",
            "2026-03-02T09:00:00Z",
            "2026-03-03T09:00:00Z",
        );
        one.description = Some("line one\nline two".into());
        let text = render_calendar("Team; one, two", &[one]);
        assert!(text.contains("\r\nX-WR-CALNAME:Team\\; one\\, two\r\n"));
        assert!(text.contains("\r\nSUMMARY:On call: Primary (Doe\\, Jane\\; \\\\ops)\r\n"));
        assert!(text.contains("\r\nDESCRIPTION:line one\\nline two\r\n"));
    }

    #[test]
    fn folds_long_lines_at_75_octets_without_splitting_characters() {
        // 2-, 3- and 4-byte characters, so some fold points fall inside a character.
        let name = "Zoë Ålvarez-Øster 東京チーム 🚀🚀🚀 ".repeat(6);
        let mut one = shift(7, &name, "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z");
        one.description = Some(format!("{name}; {name}"));
        let text = render_calendar(&name, &[one]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.last(), Some(&""));
        let mut folded = 0;
        for line in &lines {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
            if line.starts_with(' ') {
                folded += 1;
            }
        }
        assert!(folded > 10, "{folded} continuation lines");
        // A line is only folded when full: the fold lands at most 3 octets short of the limit (the
        // start of a 4-byte character).
        for pair in lines.windows(2) {
            if pair[1].starts_with(' ') {
                assert!(pair[0].len() >= 72, "folded early: {:?}", pair[0]);
            }
        }
        let unfolded = text.replace("\r\n ", "");
        let summary = format!("SUMMARY:On call: Primary ({})", name);
        assert!(unfolded.contains(&format!("\r\n{summary}\r\n")));
        assert!(unfolded.contains(&format!("\r\nX-WR-CALNAME:{name}\r\n")));
    }

    #[test]
    fn push_line_folds_exactly_at_the_limit() {
        let mut out = String::new();
        push_line(&mut out, &"a".repeat(75));
        assert_eq!(out, format!("{}\r\n", "a".repeat(75)));
        let mut out = String::new();
        push_line(&mut out, &"a".repeat(76 + 74));
        assert_eq!(
            out,
            format!("{}\r\n {}\r\n {}\r\n", "a".repeat(75), "a".repeat(74), "a")
        );
        // "é" is two octets; 37 of them plus "x" is 75 octets, one more "é" must move whole.
        let mut out = String::new();
        push_line(&mut out, &format!("x{}", "é".repeat(38)));
        assert_eq!(out, format!("x{}\r\n é\r\n", "é".repeat(37)));
    }

    #[test]
    fn skips_events_shorter_than_a_second() {
        let text = render_calendar(
            "Primary",
            &[shift(
                7,
                "Alice",
                "2026-03-02T09:00:00.2Z",
                "2026-03-02T09:00:00.9Z",
            )],
        );
        assert!(!text.contains("BEGIN:VEVENT"));
    }

    #[test]
    fn a_real_parser_reads_it_back() {
        let awkward = "Zoë \"Z\" Ålvarez; on-call, night\\shift 🚀".repeat(3);
        let mut first = shift(7, &awkward, "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z");
        first.description = Some(format!("Layer \"Weekdays\"\nreplaces {awkward}"));
        let mut second = shift(8, "Bo", "2026-03-03T09:00:00Z", "2026-03-04T09:00:00Z");
        second.description = None;
        let text = render_calendar("On call, Primary", &[first.clone(), second.clone()]);

        let calendar = icalendar::Calendar::from_str(&text).unwrap();
        assert_eq!(calendar.get_name(), Some("On call, Primary"));
        let events: Vec<&icalendar::Event> = calendar
            .components
            .iter()
            .filter_map(|component| component.as_event())
            .collect();
        assert_eq!(events.len(), 2);
        for (event, shift) in events.iter().zip([&first, &second]) {
            assert_eq!(event.get_uid(), Some(uid(shift).as_str()));
            assert_eq!(
                event.get_summary(),
                Some(format!("On call: Primary ({})", shift.user_name).as_str())
            );
            assert_eq!(event.get_description(), shift.description.as_deref());
            let seconds = |value: Option<DatePerhapsTime>| match value {
                Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(at))) => at.timestamp(),
                other => panic!("not a UTC date-time: {other:?}"),
            };
            assert_eq!(seconds(event.get_start()), shift.start.as_second());
            assert_eq!(seconds(event.get_end()), shift.end.as_second());
            assert_eq!(
                event.get_timestamp().map(|at| at.timestamp()),
                Some(shift.revised_at.as_second())
            );
        }
    }
}
