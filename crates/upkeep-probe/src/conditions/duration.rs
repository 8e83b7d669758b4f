//! Go-style durations (`48h`, `1h30m`, `1.5s`, `500ms`) plus days (`7d`), as compared with
//! `[CERTIFICATE_EXPIRATION]` and `[RESPONSE_TIME]`, and their display (`1227h3m20s`, like Gatus).

use std::time::Duration;

const UNITS: &str = "ns, us, ms, s, m, h or d";

/// Parse a duration into milliseconds. On failure, returns the byte offset into `text` where the problem starts
/// and what it is.
pub(super) fn parse_duration(text: &str) -> Result<f64, (usize, String)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&sign) = bytes.first()
        && (sign == b'+' || sign == b'-')
    {
        negative = sign == b'-';
        i = 1;
    }
    if i == bytes.len() {
        return Err((
            i,
            "expected a duration such as 48h, 7d or 1h30m".to_string(),
        ));
    }
    if &text[i..] == "0" {
        return Ok(0.0);
    }
    let mut total = 0.0_f64;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let mut digits = i - start;
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fraction = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            digits += i - fraction;
        }
        if digits == 0 {
            return Err((
                start,
                "expected a number, as in 48h, 7d or 1h30m".to_string(),
            ));
        }
        let Ok(number) = text[start..i].parse::<f64>() else {
            return Err((start, format!("`{}` is not a number", &text[start..i])));
        };
        let unit_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b'.' {
            i += 1;
        }
        let factor = match &text[unit_start..i] {
            "ns" => 1e-6,
            "us" | "µs" | "μs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3_600e3,
            "d" => 86_400e3,
            "" => {
                return Err((
                    unit_start,
                    format!("missing unit after `{}`; use {UNITS}", &text[start..i]),
                ));
            }
            unit => return Err((unit_start, format!("unknown unit `{unit}`; use {UNITS}"))),
        };
        total += number * factor;
    }
    if !total.is_finite() {
        return Err((0, "the duration is too large".to_string()));
    }
    Ok(if negative { -total } else { total })
}

/// A duration the way Gatus shows one: whole seconds, largest unit hours, zero tails dropped (`48h`, `1h30m`,
/// `1h0m15s`, `45s`, `0s`).
pub(super) fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (hours, minutes, seconds) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}
