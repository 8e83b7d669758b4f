//! The calendar on a schedule's page, drawn on the server as SVG: one row per local day of the schedule's
//! time zone, midnight to midnight (a 23- or 25-hour day fills the same width, so bars stay true to real
//! time), shifts as coloured bars with the person's name, spans with nobody on call in red, and a line at
//! the current time. Colours are presentation attributes, not CSS, so the page's style policy allows them.

use std::collections::HashMap;
use std::fmt::Write;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::svg::escape;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 96.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 20.0;
const ROW: f64 = 26.0;
const ROW_GAP: f64 = 4.0;
/// Average width of a label character at the bar font size, to decide what fits.
const CHAR_WIDTH: f64 = 6.6;
/// Fill and text colour per person, in order of first appearance.
const PALETTE: [(&str, &str); 8] = [
    ("#cfe3fb", "#123a66"),
    ("#d4f0dc", "#13502b"),
    ("#fde9c8", "#6b4300"),
    ("#e6dcfb", "#3c2475"),
    ("#fbd7e8", "#6e1840"),
    ("#d3f1f1", "#0f5151"),
    ("#ece6d6", "#4d4126"),
    ("#dfe5ee", "#2c3a4f"),
];

/// One bar: who, when, and the tooltip.
pub struct Bar {
    pub user_id: i64,
    pub label: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Shown on hover, e.g. `Ana: Mon 30 Mar 09:00 – Tue 31 Mar 09:00 CEST · layer "Weekdays"`.
    pub title: String,
}

/// What to draw: `days` local days from `first_day`, the bars and the gaps (`[start, end)` spans).
pub struct Calendar<'a> {
    pub time_zone: &'a TimeZone,
    pub first_day: Date,
    pub days: usize,
    pub bars: &'a [Bar],
    pub gaps: &'a [(Timestamp, Timestamp)],
    pub now: Timestamp,
}

/// The instant local `day` starts (midnight, or the first instant after it when a clock change skips it).
fn day_start(tz: &TimeZone, day: Date) -> Option<Timestamp> {
    day.to_zoned(tz.clone()).ok().map(|zoned| zoned.timestamp())
}

/// `name` cut to `max` characters, with an ellipsis when cut.
fn fit(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let mut cut: String = name.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Lanes for overlapping bars within a row: each bar's lane index and the number of lanes.
fn lanes(pieces: &[(usize, Timestamp, Timestamp)]) -> (Vec<usize>, usize) {
    let mut ends: Vec<Timestamp> = Vec::new();
    let mut assigned = Vec::with_capacity(pieces.len());
    for &(_, start, end) in pieces {
        match ends.iter().position(|&lane_end| lane_end <= start) {
            Some(lane) => {
                if let Some(slot) = ends.get_mut(lane) {
                    *slot = end;
                }
                assigned.push(lane);
            }
            None => {
                ends.push(end);
                assigned.push(ends.len() - 1);
            }
        }
    }
    (assigned, ends.len().max(1))
}

/// The calendar as an `<svg>` element.
pub fn render(calendar: &Calendar<'_>) -> String {
    let plot = WIDTH - LEFT - RIGHT;
    let height = TOP + calendar.days as f64 * (ROW + ROW_GAP) + 4.0;
    let mut colours: HashMap<i64, usize> = HashMap::new();
    for bar in calendar.bars {
        let next = colours.len();
        colours.entry(bar.user_id).or_insert(next);
    }
    let summary = escape(&format!(
        "On-call calendar, {} days from {}: {} shifts, {} spans with nobody on call",
        calendar.days,
        calendar.first_day.strftime("%a %d %b %Y"),
        calendar.bars.len(),
        calendar.gaps.len()
    ));
    let mut svg = String::with_capacity(4_000 + calendar.bars.len() * 300);
    let _ = write!(
        svg,
        r##"<svg class="oncall-calendar" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{summary}" font-family="system-ui, sans-serif" font-size="11"><title>{summary}</title>"##
    );
    for hour in [0u8, 6, 12, 18, 24] {
        let x = LEFT + plot * f64::from(hour) / 24.0;
        let anchor = match hour {
            0 => "start",
            24 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="13" text-anchor="{anchor}" fill="#5d6878">{hour:02}:00</text>"##
        );
    }
    let mut day = calendar.first_day;
    for row in 0..calendar.days {
        let next = day.tomorrow().unwrap_or(day);
        let (Some(start), Some(end)) = (
            day_start(calendar.time_zone, day),
            day_start(calendar.time_zone, next),
        ) else {
            break;
        };
        let y = TOP + row as f64 * (ROW + ROW_GAP);
        draw_row(&mut svg, calendar, &colours, day, (start, end), y, plot);
        day = next;
    }
    svg.push_str("</svg>");
    svg
}

/// One day: its label, background, hour lines, gaps, bars and the now line.
fn draw_row(
    svg: &mut String,
    calendar: &Calendar<'_>,
    colours: &HashMap<i64, usize>,
    day: Date,
    (start, end): (Timestamp, Timestamp),
    y: f64,
    plot: f64,
) {
    let length = start.duration_until(end).as_secs_f64().max(1.0);
    let x_of = |at: Timestamp| LEFT + plot * (start.duration_until(at).as_secs_f64() / length);
    let today = start <= calendar.now && calendar.now < end;
    let weekend = matches!(
        day.weekday(),
        jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
    );
    let _ = write!(
        svg,
        r##"<text x="4" y="{ty:.1}" fill="{ink}"{weight}>{label}</text><rect x="{LEFT}" y="{y:.1}" width="{plot:.1}" height="{ROW}" rx="3" fill="{bg}" stroke="#dde3ec"/>"##,
        ty = y + ROW / 2.0 + 4.0,
        ink = if today { "#1f2a3a" } else { "#5d6878" },
        weight = if today { r#" font-weight="700""# } else { "" },
        label = escape(&day.strftime("%a %d %b").to_string()),
        bg = if weekend { "#f4f6f9" } else { "#ffffff" },
    );
    for hour in [6i8, 12, 18] {
        let tick = day
            .at(hour, 0, 0, 0)
            .to_zoned(calendar.time_zone.clone())
            .ok()
            .map(|zoned| zoned.timestamp());
        if let Some(tick) = tick.filter(|tick| start < *tick && *tick < end) {
            let x = x_of(tick);
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{y2:.1}" stroke="#e6eaf0"/>"##,
                y2 = y + ROW
            );
        }
    }
    for &(gap_start, gap_end) in calendar.gaps {
        let (from, to) = (gap_start.max(start), gap_end.min(end));
        if from >= to {
            continue;
        }
        let (x1, x2) = (x_of(from), x_of(to));
        let width = (x2 - x1).max(1.0);
        let _ = write!(
            svg,
            r##"<rect class="gap" x="{x1:.1}" y="{y:.1}" width="{width:.1}" height="{ROW}" fill="#fbe3e4" stroke="#d64545" stroke-dasharray="3 2"><title>Nobody on call</title></rect>"##
        );
        let room = (width - 6.0) / CHAR_WIDTH;
        let words = ["nobody on call", "nobody"]
            .into_iter()
            .find(|words| words.len() as f64 <= room);
        if let Some(words) = words {
            let _ = write!(
                svg,
                r##"<text x="{tx:.1}" y="{ty:.1}" fill="#8f1d1d">{words}</text>"##,
                tx = x1 + 4.0,
                ty = y + ROW / 2.0 + 4.0
            );
        }
    }
    let pieces: Vec<(usize, Timestamp, Timestamp)> = calendar
        .bars
        .iter()
        .enumerate()
        .filter_map(|(index, bar)| {
            let (from, to) = (bar.start.max(start), bar.end.min(end));
            (from < to).then_some((index, from, to))
        })
        .collect();
    let (assigned, lane_count) = lanes(&pieces);
    let lane_height = ROW / lane_count as f64;
    for (&(index, from, to), lane) in pieces.iter().zip(assigned) {
        let Some(bar) = calendar.bars.get(index) else {
            continue;
        };
        let colour = colours.get(&bar.user_id).copied().unwrap_or(0);
        let (fill, ink) = PALETTE[colour % PALETTE.len()];
        let (x1, x2) = (x_of(from), x_of(to));
        let width = (x2 - x1).max(1.0);
        let by = y + lane as f64 * lane_height;
        let _ = write!(
            svg,
            r##"<g class="shift"><title>{title}</title><rect x="{x1:.1}" y="{by:.1}" width="{width:.1}" height="{h:.1}" rx="3" fill="{fill}" stroke="#ffffff"/>"##,
            title = escape(&bar.title),
            h = lane_height,
        );
        let room = ((width - 6.0) / CHAR_WIDTH).floor();
        if room >= 3.0 && lane_height >= 11.0 {
            let _ = write!(
                svg,
                r##"<text x="{tx:.1}" y="{ty:.1}" fill="{ink}">{name}</text>"##,
                tx = x1 + 4.0,
                ty = by + lane_height / 2.0 + 4.0,
                name = escape(&fit(&bar.label, room as usize)),
            );
        }
        svg.push_str("</g>");
    }
    if today {
        let x = x_of(calendar.now);
        let _ = write!(
            svg,
            r##"<line class="now" x1="{x:.1}" y1="{y1:.1}" x2="{x:.1}" y2="{y2:.1}" stroke="#d64545" stroke-width="2"><title>Now</title></line>"##,
            y1 = y - 2.0,
            y2 = y + ROW + 2.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn rows_follow_local_days_and_bars_carry_names() {
        let tz = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
        let bars = [
            Bar {
                user_id: 1,
                label: "Ana <admin>".into(),
                start: at("2026-03-28T08:00:00Z"),
                end: at("2026-03-29T07:00:00Z"),
                title: "Ana: weekdays".into(),
            },
            Bar {
                user_id: 2,
                label: "Bo".into(),
                start: at("2026-03-28T12:00:00Z"),
                end: at("2026-03-28T13:00:00Z"),
                title: "Bo: added".into(),
            },
        ];
        let gaps = [(at("2026-03-29T07:00:00Z"), at("2026-03-30T07:00:00Z"))];
        let svg = render(&Calendar {
            time_zone: &tz,
            first_day: Date::constant(2026, 3, 28),
            days: 3,
            bars: &bars,
            gaps: &gaps,
            now: at("2026-03-29T10:00:00Z"),
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains(">Sat 28 Mar<") && svg.contains(">Mon 30 Mar<"));
        assert!(svg.contains("Ana &lt;admin&gt;") && !svg.contains("<admin>"));
        assert!(svg.contains("nobody on call") && svg.contains("class=\"now\""));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        assert_eq!(svg.matches("<g class=\"shift\">").count(), 3, "{svg}");
    }

    #[test]
    fn overlapping_bars_get_their_own_lanes() {
        let t = |h: i64| Timestamp::from_second(h * 3600).unwrap_or(Timestamp::UNIX_EPOCH);
        let (lanes_of, count) = lanes(&[(0, t(0), t(5)), (1, t(2), t(3)), (2, t(5), t(6))]);
        assert_eq!((lanes_of, count), (vec![0, 1, 0], 2));
        assert_eq!(fit("Alexandra", 5), "Alex…");
        assert_eq!(fit("Bo", 5), "Bo");
    }
}
