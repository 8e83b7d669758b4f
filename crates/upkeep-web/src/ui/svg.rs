//! Small server-side SVG charts for the monitor pages: a line chart of durations over time with failures
//! marked, and a row of status bars. Pure functions returning markup that pages insert as is, so every
//! text they embed (labels, tooltips) is escaped here.

use std::fmt::Write;

use jiff::Timestamp;

/// Space for the y-axis labels on the left and the time labels below.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

/// Text for XML: `&`, `<`, `>` and both quotes become entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// A duration in milliseconds as people read it: `840 ms`, `1.2 s`, `3 min`.
pub fn duration_text(ms: f64) -> String {
    if !ms.is_finite() {
        return "—".to_string();
    }
    let (value, unit) = if ms < 10.0 {
        (format!("{ms:.1}"), "ms")
    } else if ms < 1_000.0 {
        (format!("{ms:.0}"), "ms")
    } else if ms < 60_000.0 {
        (format!("{:.1}", ms / 1_000.0), "s")
    } else {
        (format!("{:.1}", ms / 60_000.0), "min")
    };
    format!("{} {unit}", value.strip_suffix(".0").unwrap_or(&value))
}

/// A point in time as a chart label, in UTC.
fn time_text(ms: i64, with_date: bool) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(at) if with_date => at.strftime("%b %d %H:%M").to_string(),
        Ok(at) => at.strftime("%H:%M:%S").to_string(),
        Err(_) => "?".to_string(),
    }
}

/// The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10ⁿ) at or above `value`, for the top label.
fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(value)
}

/// An empty chart that says so.
fn no_data(label: &str, width: u32, height: u32) -> String {
    let label = escape(label);
    format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{label}: no data yet"><title>{label}: no data yet</title><rect class="chart-frame" x="0.5" y="0.5" width="{w}" height="{h}" rx="6"/><text class="chart-empty" x="{cx}" y="{cy}" text-anchor="middle">No data yet</text></svg>"#,
        w = width.saturating_sub(1),
        h = height.saturating_sub(1),
        cx = width / 2,
        cy = height / 2,
    )
}

/// A line chart of `points` — (unix milliseconds, duration in ms, failed) — in time order: a polyline of the
/// values, failures as red dots, a `<title>` per point for hover tooltips, 0 and the maximum on the y
/// axis, the first and last time on the x axis, and an `aria-label` that sums it up.
pub fn line_chart(label: &str, points: &[(i64, f64, bool)], width: u32, height: u32) -> String {
    let points: Vec<(i64, f64, bool)> = points
        .iter()
        .copied()
        .filter(|(_, value, _)| value.is_finite())
        .map(|(at, value, failed)| (at, value.max(0.0), failed))
        .collect();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return no_data(label, width, height);
    };
    let (w, h) = (f64::from(width), f64::from(height));
    let plot_w = (w - LEFT - RIGHT).max(1.0);
    let plot_h = (h - TOP - BOTTOM).max(1.0);
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let min = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let top = nice_ceiling(max);
    let (start, end) = (first.0.min(last.0), first.0.max(last.0));
    let span = end - start;
    let x = |at: i64| {
        if span == 0 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * ((at - start) as f64 / span as f64)
        }
    };
    let y = |value: f64| TOP + plot_h * (1.0 - value / top);
    let failures = points.iter().filter(|p| p.2).count();
    let with_date = span > 86_400_000 / 2;
    let summary = format!(
        "{label}: {count} {noun} from {from} to {to} UTC, lowest {min}, highest {max}, {failures} failed",
        count = points.len(),
        noun = if points.len() == 1 { "point" } else { "points" },
        from = time_text(start, true),
        to = time_text(end, true),
        min = duration_text(min),
        max = duration_text(max),
    );
    let summary = escape(&summary);

    let mut svg = String::with_capacity(600 + points.len() * 160);
    let _ = write!(
        svg,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{summary}"><title>{summary}</title>"#
    );
    // Grid lines at 0, half and the top, labelled on the left.
    for (value, text) in [
        (0.0, "0".to_string()),
        (top / 2.0, duration_text(top / 2.0)),
        (top, duration_text(top)),
    ] {
        let gy = y(value);
        let _ = write!(
            svg,
            r#"<line class="chart-grid" x1="{LEFT}" y1="{gy:.1}" x2="{x2:.1}" y2="{gy:.1}"/>"#,
            x2 = w - RIGHT
        );
        if !text.is_empty() {
            let _ = write!(
                svg,
                r#"<text class="chart-axis" x="{tx:.1}" y="{ty:.1}" text-anchor="end">{text}</text>"#,
                tx = LEFT - 8.0,
                ty = gy + 4.0,
                text = escape(&text)
            );
        }
    }
    let base = h - 8.0;
    let _ = write!(
        svg,
        r#"<text class="chart-axis" x="{LEFT}" y="{base:.1}" text-anchor="start">{from}</text>"#,
        from = escape(&time_text(start, with_date))
    );
    if span > 0 {
        let _ = write!(
            svg,
            r#"<text class="chart-axis" x="{tx:.1}" y="{base:.1}" text-anchor="end">{to}</text>"#,
            tx = w - RIGHT,
            to = escape(&time_text(end, with_date))
        );
    }

    let line: Vec<String> = points
        .iter()
        .map(|&(at, value, _)| format!("{:.1},{:.1}", x(at), y(value)))
        .collect();
    let _ = write!(
        svg,
        r#"<polyline class="chart-line" points="{}"/>"#,
        line.join(" ")
    );
    if points.len() == 1 {
        let _ = write!(
            svg,
            r#"<circle class="chart-dot" cx="{:.1}" cy="{:.1}" r="3.5"/>"#,
            x(first.0),
            y(first.1)
        );
    }
    for &(at, value, failed) in points.iter().filter(|p| p.2) {
        let _ = write!(
            svg,
            r#"<circle class="chart-fail" cx="{:.1}" cy="{:.1}" r="4"><title>{}</title></circle>"#,
            x(at),
            y(value),
            escape(&point_text(at, value, failed))
        );
    }
    // One invisible column per point, so hovering anywhere above a point shows its tooltip.
    let column = (plot_w / points.len() as f64).clamp(2.0, 24.0);
    svg.push_str(r#"<g class="chart-hover">"#);
    for &(at, value, failed) in &points {
        let cx = x(at);
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{TOP}" width="{column:.1}" height="{plot_h:.1}"><title>{}</title></rect>"#,
            (cx - column / 2.0).max(LEFT - column / 2.0),
            escape(&point_text(at, value, failed))
        );
    }
    svg.push_str("</g></svg>");
    svg
}

fn point_text(at: i64, value: f64, failed: bool) -> String {
    format!(
        "{} UTC: {}{}",
        time_text(at, true),
        duration_text(value),
        if failed { ", failed" } else { "" }
    )
}

/// One bar of [`status_bars`]: a stretch of time and how its checks (or pings) went.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The stretch, e.g. `13:00–14:00 UTC`.
    pub label: String,
    pub good: u32,
    pub bad: u32,
    /// What `good` counts, e.g. `checks up` or `pings OK`.
    pub noun: &'static str,
}

impl Bucket {
    /// `none`, `ok`, `some` (a few failed) or `bad` (mostly failing).
    pub fn level(&self) -> &'static str {
        let total = self.good + self.bad;
        if total == 0 {
            "none"
        } else if self.bad == 0 {
            "ok"
        } else if self.bad * 2 > total {
            "bad"
        } else {
            "some"
        }
    }

    fn title(&self) -> String {
        let total = self.good + self.bad;
        if total == 0 {
            format!("{}: no data", self.label)
        } else {
            format!("{}: {}/{total} {}", self.label, self.good, self.noun)
        }
    }
}

/// A row of bars, one per bucket: green when all went well, amber when some failed, red when most failed,
/// grey without data; each with a `<title>` like `13:00–14:00 UTC: 58/60 checks up`.
pub fn status_bars(buckets: &[Bucket]) -> String {
    const BAR: usize = 10;
    const GAP: usize = 3;
    const HEIGHT: usize = 32;
    let count = buckets.len().max(1);
    let width = count * (BAR + GAP) - GAP;
    let levels = ["ok", "some", "bad", "none"].map(|level| {
        buckets
            .iter()
            .filter(|bucket| bucket.level() == level)
            .count()
    });
    let summary = if buckets.is_empty() {
        "No data yet".to_string()
    } else {
        format!(
            "{} bars: {} all good, {} with some failures, {} mostly failing, {} without data",
            buckets.len(),
            levels[0],
            levels[1],
            levels[2],
            levels[3]
        )
    };
    let summary = escape(&summary);
    let mut svg = format!(
        r#"<svg class="bars" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" preserveAspectRatio="none" role="img" aria-label="{summary}"><title>{summary}</title>"#
    );
    for (index, bucket) in buckets.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<rect class="bar bar-{level}" x="{x}" y="0" width="{BAR}" height="{HEIGHT}" rx="2"><title>{title}</title></rect>"#,
            level = bucket.level(),
            x = index * (BAR + GAP),
            title = escape(&bucket.title()),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn empty_input_says_no_data_yet() {
        let svg = line_chart("Response time", &[], 600, 200);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains("No data yet") && svg.contains("role=\"img\""));
        assert!(!svg.contains("<polyline"));
        let bars = status_bars(&[]);
        assert!(bars.contains("No data yet") && bars.ends_with("</svg>"));
    }

    #[test]
    fn one_point_is_centred_and_drawn() {
        let svg = line_chart("Response time", &[(T0, 120.0, false)], 600, 200);
        assert!(svg.contains("<polyline") && svg.contains("<circle class=\"chart-dot\""));
        assert!(svg.contains("1 point from"), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn equal_values_and_zeros_do_not_divide_by_zero() {
        let flat: Vec<_> = (0..5).map(|i| (T0 + i * 30_000, 80.0, false)).collect();
        let svg = line_chart("Response time", &flat, 600, 200);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(
            svg.contains(">80 ms<") && svg.contains(">40 ms<"),
            "round labels: {svg}"
        );
        let zeros: Vec<_> = (0..3).map(|i| (T0 + i, 0.0, false)).collect();
        let svg = line_chart("Response time", &zeros, 600, 200);
        assert!(!svg.contains("NaN") && svg.contains("<polyline"), "{svg}");
        let same_time = [(T0, 5.0, false), (T0, 9.0, true)];
        assert!(!line_chart("x", &same_time, 600, 200).contains("NaN"));
    }

    #[test]
    fn failures_are_red_dots_with_tooltips() {
        let points = [
            (T0, 100.0, false),
            (T0 + 60_000, 2_500.0, true),
            (T0 + 120_000, 90.0, false),
        ];
        let svg = line_chart("Response time", &points, 600, 200);
        assert_eq!(svg.matches("<circle class=\"chart-fail\"").count(), 1);
        assert_eq!(svg.matches("<title>").count(), 1 + 1 + 3, "{svg}");
        assert!(svg.contains("2.5 s, failed") && svg.contains("1 failed"));
        assert!(svg.contains(">2.5 s<"), "the top label: {svg}");
    }

    #[test]
    fn labels_are_escaped() {
        let svg = line_chart("<b>\"x\" & 'y'</b>", &[(T0, 1.0, false)], 600, 200);
        assert!(!svg.contains("<b>") && svg.contains("&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;"));
        let empty = line_chart("<script>", &[], 600, 200);
        assert!(!empty.contains("<script>") && empty.contains("&lt;script&gt;"));
        let bars = status_bars(&[Bucket {
            label: "<i>13:00</i>".into(),
            good: 1,
            bad: 0,
            noun: "checks up",
        }]);
        assert!(!bars.contains("<i>") && bars.contains("&lt;i&gt;13:00&lt;/i&gt;: 1/1 checks up"));
    }

    #[test]
    fn bars_are_coloured_by_how_checks_went() {
        let bucket = |good, bad| Bucket {
            label: "13:00–14:00 UTC".into(),
            good,
            bad,
            noun: "checks up",
        };
        let levels: Vec<_> = [(0, 0), (60, 0), (58, 2), (10, 50), (5, 5)]
            .into_iter()
            .map(|(good, bad)| bucket(good, bad).level())
            .collect();
        assert_eq!(levels, ["none", "ok", "some", "bad", "some"]);
        let svg = status_bars(&[bucket(58, 2), bucket(0, 0)]);
        assert!(svg.contains("<title>13:00–14:00 UTC: 58/60 checks up</title>"));
        assert!(svg.contains("<title>13:00–14:00 UTC: no data</title>"));
        assert!(svg.contains("bar-some") && svg.contains("bar-none"));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_text(4.3), "4.3 ms");
        assert_eq!(duration_text(840.0), "840 ms");
        assert_eq!(duration_text(1_250.0), "1.2 s");
        assert_eq!(duration_text(2_000.0), "2 s");
        assert_eq!(duration_text(90_000.0), "1.5 min");
        assert_eq!(nice_ceiling(80.0), 80.0);
        assert_eq!(nice_ceiling(5_500.0), 6_000.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(2_100.0), 2_500.0);
    }
}
