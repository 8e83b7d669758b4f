//! Monitor definitions: what a person (or a config file) asks for, checked field by field, and turned into
//! the kind-specific `settings` stored with the monitor.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use upkeep_probe::conditions::Condition;

use super::heartbeat::{HeartbeatSettings, Schedule, parse_cron};
use crate::{CoreError, CoreResult};

pub const KINDS: [&str; 6] = ["http", "tcp", "dns", "tls", "icmp", "heartbeat"];
/// Kinds that upkeep checks itself on an interval.
pub const ACTIVE_KINDS: [&str; 5] = ["http", "tcp", "dns", "tls", "icmp"];
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// A monitor as asked for; every field but `name` and `kind` is optional and kind-specific.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    pub name: String,
    /// Defaults to a slug made from the name.
    #[serde(default)]
    pub slug: Option<String>,
    pub kind: String,
    /// http(s) URL; `host:port` for tcp and tls; a host name for dns and icmp.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<String>,
    /// e.g. `30s`; active kinds only (default 60s).
    #[serde(default)]
    pub interval: Option<String>,
    /// e.g. `10s` (default 10s, never more than the interval).
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    #[serde(default)]
    pub verify_tls: Option<bool>,
    #[serde(default)]
    pub conditions: Vec<String>,
    /// DNS record type (default A).
    #[serde(default)]
    pub record_type: Option<String>,
    /// DNS server `ip:port` (default the system's).
    #[serde(default)]
    pub dns_server: Option<String>,
    /// TCP: bytes to send and to expect back.
    #[serde(default)]
    pub send: Option<String>,
    #[serde(default)]
    pub expect: Option<String>,
    /// Heartbeats: a ping every `period` …
    #[serde(default)]
    pub period: Option<String>,
    /// … or at every fire of `cron` in `tz`.
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub tz: Option<String>,
    /// Heartbeats: how late a ping may be (default 1h).
    #[serde(default)]
    pub grace: Option<String>,
    #[serde(default)]
    pub failure_threshold: Option<i32>,
    #[serde(default)]
    pub success_threshold: Option<i32>,
}

/// The checked parts that become a monitor row.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedSpec {
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub settings: Value,
    pub interval_ms: i64,
    pub failure_threshold: i32,
    pub success_threshold: i32,
}

fn duration(field: &str, text: &str) -> CoreResult<Duration> {
    let parsed = crate::config::parse_duration(text)
        .map_err(|message| CoreError::validation(field, message))?;
    if parsed.is_zero() {
        return Err(CoreError::validation(field, "must be longer than zero"));
    }
    Ok(parsed)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A slug from a name: lower-case letters and digits, other runs become one dash.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-')
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

fn conditions(spec: &MonitorSpec) -> CoreResult<Vec<String>> {
    spec.conditions
        .iter()
        .enumerate()
        .map(|(index, text)| {
            Condition::parse(text).map(|_| text.clone()).map_err(|err| {
                CoreError::validation(format!("conditions[{index}]"), format!("{text:?}: {err}"))
            })
        })
        .collect()
}

fn target(spec: &MonitorSpec) -> CoreResult<String> {
    let url = spec.url.as_deref().map(str::trim).unwrap_or("");
    if url.is_empty() {
        return Err(CoreError::validation(
            "url",
            format!("a {} monitor needs a target (--url)", spec.kind),
        ));
    }
    Ok(url.to_string())
}

fn host_port(spec: &MonitorSpec, default_port: Option<u16>) -> CoreResult<(String, u16)> {
    let target = target(spec)?;
    let target = target
        .trim_start_matches("tcp://")
        .trim_start_matches("tls://");
    match target.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => {
            let port = port.parse::<u16>().map_err(|_| {
                CoreError::validation("url", format!("{port:?} is not a port number"))
            })?;
            Ok((host.trim_matches(['[', ']']).to_string(), port))
        }
        _ => match default_port {
            Some(port) => Ok((target.to_string(), port)),
            None => Err(CoreError::validation(
                "url",
                format!("{target:?}: use host:port"),
            )),
        },
    }
}

/// Check a spec and build the stored settings.
pub fn check(spec: &MonitorSpec) -> CoreResult<CheckedSpec> {
    let name = spec.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CoreError::validation("name", "must be 1-200 characters"));
    }
    let kind = spec.kind.trim().to_lowercase();
    if !KINDS.contains(&kind.as_str()) {
        return Err(CoreError::validation(
            "kind",
            format!("{kind:?} is not one of {}", KINDS.join(", ")),
        ));
    }
    let slug = match &spec.slug {
        Some(slug) => crate::catalog::validate_slug("slug", slug)?,
        None => {
            let slug = slugify(&name);
            crate::catalog::validate_slug("slug", &slug).map_err(|_| {
                CoreError::validation("slug", "cannot make a slug from this name; give one")
            })?
        }
    };
    let failure_threshold =
        spec.failure_threshold
            .unwrap_or(if kind == "heartbeat" { 1 } else { 3 });
    let success_threshold =
        spec.success_threshold
            .unwrap_or(if kind == "heartbeat" { 1 } else { 2 });
    if !(1..=100).contains(&failure_threshold) {
        return Err(CoreError::validation(
            "failure_threshold",
            "must be between 1 and 100",
        ));
    }
    if !(1..=100).contains(&success_threshold) {
        return Err(CoreError::validation(
            "success_threshold",
            "must be between 1 and 100",
        ));
    }

    if kind == "heartbeat" {
        let grace = duration("grace", spec.grace.as_deref().unwrap_or("1h"))?;
        let schedule = match (&spec.period, &spec.cron) {
            (Some(_), Some(_)) => {
                return Err(CoreError::validation(
                    "cron",
                    "give either a period or a cron schedule, not both",
                ));
            }
            (_, Some(cron)) => {
                let tz = spec.tz.clone().unwrap_or_else(|| "UTC".to_string());
                parse_cron(cron, &tz).map_err(|message| {
                    let field = if message.contains("time zone") {
                        "tz"
                    } else {
                        "cron"
                    };
                    CoreError::validation(field, message)
                })?;
                Schedule::Cron {
                    cron: cron.trim().to_string(),
                    tz,
                }
            }
            (period, None) => {
                let period = duration("period", period.as_deref().unwrap_or("1d"))?;
                if period < Duration::from_secs(60) {
                    return Err(CoreError::validation("period", "must be at least 1m"));
                }
                Schedule::Period {
                    period_ms: millis(period),
                }
            }
        };
        let settings = HeartbeatSettings {
            schedule,
            grace_ms: millis(grace),
        };
        let settings =
            serde_json::to_value(settings).map_err(|err| CoreError::Internal(err.to_string()))?;
        return Ok(CheckedSpec {
            name,
            slug,
            kind,
            settings,
            interval_ms: 0,
            failure_threshold,
            success_threshold,
        });
    }

    let interval = duration("interval", spec.interval.as_deref().unwrap_or("60s"))?;
    if interval < MIN_INTERVAL || interval > MAX_INTERVAL {
        return Err(CoreError::validation(
            "interval",
            "must be between 1s and 24h",
        ));
    }
    let timeout = duration("timeout", spec.timeout.as_deref().unwrap_or("10s"))?
        .min(interval)
        .min(Duration::from_secs(60));
    let conditions = conditions(spec)?;
    let mut settings = json!({ "timeout_ms": millis(timeout), "conditions": conditions });
    match kind.as_str() {
        "http" => {
            let url = target(spec)?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(CoreError::validation(
                    "url",
                    "an http monitor needs an http:// or https:// URL",
                ));
            }
            let method = spec
                .method
                .clone()
                .unwrap_or_else(|| "GET".to_string())
                .to_uppercase();
            if !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                .contains(&method.as_str())
            {
                return Err(CoreError::validation(
                    "method",
                    format!("{method:?} is not an HTTP method"),
                ));
            }
            settings["url"] = json!(url);
            settings["method"] = json!(method);
            settings["headers"] = json!(spec.headers);
            settings["body"] = json!(spec.body);
            settings["follow_redirects"] = json!(spec.follow_redirects.unwrap_or(true));
            settings["verify_tls"] = json!(spec.verify_tls.unwrap_or(true));
            if spec.conditions.is_empty() {
                settings["conditions"] = json!(["[STATUS] < 400"]);
            }
        }
        "tcp" | "tls" => {
            let (host, port) = host_port(spec, (kind == "tls").then_some(443))?;
            settings["host"] = json!(host);
            settings["port"] = json!(port);
            settings["send"] = json!(spec.send);
            settings["expect"] = json!(spec.expect);
            if spec.conditions.is_empty() {
                settings["conditions"] = json!(if kind == "tls" {
                    ["[CERTIFICATE_EXPIRATION] > 168h"]
                } else {
                    ["[CONNECTED] == true"]
                });
            }
        }
        "dns" => {
            settings["name"] = json!(target(spec)?);
            let record_type = spec
                .record_type
                .clone()
                .unwrap_or_else(|| "A".to_string())
                .to_uppercase();
            if !["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "PTR", "SRV"]
                .contains(&record_type.as_str())
            {
                return Err(CoreError::validation(
                    "record_type",
                    format!("{record_type:?} is not a supported record type"),
                ));
            }
            settings["record_type"] = json!(record_type);
            if let Some(server) = &spec.dns_server {
                server.parse::<std::net::SocketAddr>().map_err(|_| {
                    CoreError::validation("dns_server", "use ip:port, e.g. 1.1.1.1:53")
                })?;
            }
            settings["dns_server"] = json!(spec.dns_server);
            if spec.conditions.is_empty() {
                settings["conditions"] = json!(["[DNS_RCODE] == NOERROR"]);
            }
        }
        _ => {
            settings["host"] = json!(target(spec)?);
            if spec.conditions.is_empty() {
                settings["conditions"] = json!(["[CONNECTED] == true"]);
            }
        }
    }
    Ok(CheckedSpec {
        name,
        slug,
        kind,
        settings,
        interval_ms: millis(interval),
        failure_threshold,
        success_threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str) -> MonitorSpec {
        MonitorSpec {
            name: "Nightly backup".into(),
            kind: kind.into(),
            ..MonitorSpec::default()
        }
    }

    fn field_of(result: CoreResult<CheckedSpec>) -> Option<String> {
        match result {
            Err(CoreError::Validation { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn heartbeats_get_a_schedule_and_a_slug() {
        let checked = check(&spec("heartbeat")).ok();
        assert_eq!(
            checked.as_ref().map(|c| c.slug.as_str()),
            Some("nightly-backup")
        );
        let settings = checked.map(|c| c.settings).unwrap_or_default();
        assert_eq!(settings["schedule"]["period_ms"], 86_400_000);
        assert_eq!(settings["grace_ms"], 3_600_000);
        let cron = MonitorSpec {
            cron: Some("0 3 * * *".into()),
            tz: Some("Europe/Berlin".into()),
            ..spec("heartbeat")
        };
        assert!(check(&cron).is_ok());
    }

    #[test]
    fn bad_input_names_its_field() {
        let bad_cron = MonitorSpec {
            cron: Some("61 * * * *".into()),
            ..spec("heartbeat")
        };
        assert_eq!(field_of(check(&bad_cron)).as_deref(), Some("cron"));
        let bad_tz = MonitorSpec {
            cron: Some("0 3 * * *".into()),
            tz: Some("Mars/Olympus".into()),
            ..spec("heartbeat")
        };
        assert_eq!(field_of(check(&bad_tz)).as_deref(), Some("tz"));
        let fast = MonitorSpec {
            url: Some("https://x.example".into()),
            interval: Some("500ms".into()),
            ..spec("http")
        };
        assert_eq!(field_of(check(&fast)).as_deref(), Some("interval"));
        let slow = MonitorSpec {
            url: Some("https://x.example".into()),
            interval: Some("2d".into()),
            ..spec("http")
        };
        assert_eq!(field_of(check(&slow)).as_deref(), Some("interval"));
        let condition = MonitorSpec {
            url: Some("https://x.example".into()),
            conditions: vec!["[STATUS] == 200".into(), "[STATSU] == 200".into()],
            ..spec("http")
        };
        assert_eq!(
            field_of(check(&condition)).as_deref(),
            Some("conditions[1]")
        );
        assert_eq!(field_of(check(&spec("http"))).as_deref(), Some("url"));
        assert_eq!(
            field_of(check(&spec("carrier-pigeon"))).as_deref(),
            Some("kind")
        );
        let tcp = MonitorSpec {
            url: Some("db.internal".into()),
            ..spec("tcp")
        };
        assert_eq!(field_of(check(&tcp)).as_deref(), Some("url"));
    }

    #[test]
    fn one_second_intervals_are_allowed() {
        let fast = MonitorSpec {
            url: Some("http://127.0.0.1:8080/health".into()),
            interval: Some("1s".into()),
            ..spec("http")
        };
        let checked = check(&fast).ok();
        assert_eq!(checked.as_ref().map(|c| c.interval_ms), Some(1000));
        assert_eq!(
            checked.map(|c| c.settings["timeout_ms"].clone()),
            Some(json!(1000)),
            "the timeout never exceeds the interval"
        );
    }
}
