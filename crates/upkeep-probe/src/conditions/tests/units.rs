//! The internal pieces: durations, their display, numbers and globs.

use std::time::Duration;

use crate::conditions::compare::{Num, glob_match, parse_number};
use crate::conditions::duration::{format_duration, parse_duration};

#[test]
fn durations_parse_like_go_plus_days() {
    let cases = [
        ("48h", 172_800_000.0),
        ("1h30m", 5_400_000.0),
        ("500ms", 500.0),
        ("1.5s", 1_500.0),
        ("7d", 604_800_000.0),
        ("90s", 90_000.0),
        ("-1h", -3_600_000.0),
        ("+2m", 120_000.0),
        ("0", 0.0),
        ("1500us", 1.5),
        ("2µs", 0.002),
        ("1000000ns", 1.0),
        ("1d12h", 129_600_000.0),
    ];
    for (text, millis) in cases {
        let parsed = parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert!(
            (parsed - millis).abs() < 1e-9,
            "{text}: {parsed} != {millis}"
        );
    }
}

#[test]
fn duration_errors_say_where() {
    let cases = [
        ("48x", 2, "unknown unit `x`"),
        ("1h30", 4, "missing unit"),
        ("h", 0, "expected a number"),
        ("", 0, "expected a duration"),
        ("-", 1, "expected a duration"),
        ("5", 1, "missing unit"),
        ("1h 30m", 1, "unknown unit `h `"),
    ];
    for (text, offset, needle) in cases {
        let Err((at, message)) = parse_duration(text) else {
            panic!("{text} should not parse")
        };
        assert_eq!(at, offset, "{text}: {message}");
        assert!(message.contains(needle), "{text}: {message}");
    }
}

#[test]
fn durations_display_like_gatus() {
    let secs = Duration::from_secs;
    assert_eq!(format_duration(secs(0)), "0s");
    assert_eq!(format_duration(Duration::from_millis(999)), "0s");
    assert_eq!(format_duration(secs(45)), "45s");
    assert_eq!(format_duration(secs(10)), "10s");
    assert_eq!(format_duration(secs(600)), "10m");
    assert_eq!(format_duration(secs(615)), "10m15s");
    assert_eq!(format_duration(secs(172_800)), "48h");
    assert_eq!(format_duration(secs(5_400)), "1h30m");
    assert_eq!(format_duration(secs(3_615)), "1h0m15s");
}

#[test]
fn numbers() {
    assert_eq!(parse_number("200"), Some(Num::Int(200)));
    assert_eq!(parse_number("-3"), Some(Num::Int(-3)));
    assert_eq!(parse_number("+7"), Some(Num::Int(7)));
    assert_eq!(parse_number("1.5"), Some(Num::Float(1.5)));
    assert_eq!(parse_number(".5"), Some(Num::Float(0.5)));
    assert_eq!(parse_number("1e3"), Some(Num::Float(1000.0)));
    for not_a_number in [
        "",
        " 1",
        "1 ",
        "inf",
        "NaN",
        "0x1F",
        "1.2.3",
        "127.0.0.1",
        "1e400",
        "e5",
        "-",
        "1-2",
        "true",
    ] {
        assert_eq!(parse_number(not_a_number), None, "{not_a_number:?}");
    }
}

#[test]
fn globs() {
    assert!(glob_match("*", ""));
    assert!(glob_match("*", "anything"));
    assert!(glob_match("", ""));
    assert!(!glob_match("", "x"));
    assert!(glob_match("a*c", "abbbc"));
    assert!(glob_match("a*c", "ac"));
    assert!(!glob_match("a*c", "acb"));
    assert!(glob_match("*ok*", "all ok here"));
    assert!(glob_match("192.168.*.*", "192.168.1.20"));
    assert!(!glob_match("192.168.*.*", "10.0.0.1"));
    assert!(glob_match("a?b", "a?b"), "? is literal");
    assert!(!glob_match("a?b", "axb"));
    assert!(glob_match("[x]", "[x]"), "brackets are literal");
    assert!(glob_match("*/health", "/api/health"), "* crosses slashes");
    assert!(glob_match("*ö*", "héllo wörld"));
    assert!(glob_match("**a**", "bab"));
    assert!(!glob_match("*a*b*c*", &"ab".repeat(5_000)));
}
