//! Running one active check: the monitor's settings become a probe, the probe's observation is judged by
//! the monitor's conditions, and the verdict becomes a [`CheckOutcome`] with its details.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use upkeep_probe::conditions::{Condition, evaluate_all};
use upkeep_probe::{
    DnsCheck, HttpCheck, IcmpCheck, Observation, TcpCheck, TlsCheck, check_dns, check_http,
    check_icmp, check_tcp, check_tls, system_dns_server,
};
use upkeep_storage::Monitor;

use super::state::CheckOutcome;

/// Bytes of a response body kept for conditions.
const MAX_BODY: usize = 64 * 1024;

fn text(settings: &Value, key: &str) -> Option<String> {
    settings
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn timeout(settings: &Value) -> Duration {
    Duration::from_millis(
        settings
            .get("timeout_ms")
            .and_then(Value::as_u64)
            .unwrap_or(10_000),
    )
}

fn port(settings: &Value) -> u16 {
    settings
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(0)
}

/// Reach out to the monitor's target.
pub async fn observe(monitor: &Monitor) -> Observation {
    let settings = &monitor.settings;
    let host = text(settings, "host").unwrap_or_default();
    match monitor.kind.as_str() {
        "http" => {
            let headers = settings
                .get("headers")
                .and_then(|h| serde_json::from_value::<Vec<(String, String)>>(h.clone()).ok())
                .unwrap_or_default();
            let check = HttpCheck {
                url: text(settings, "url").unwrap_or_default(),
                method: text(settings, "method").unwrap_or_else(|| "GET".into()),
                headers,
                body: text(settings, "body"),
                timeout: timeout(settings),
                follow_redirects: settings
                    .get("follow_redirects")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                verify_tls: settings
                    .get("verify_tls")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                max_body_bytes: MAX_BODY,
                ..HttpCheck::default()
            };
            check_http(&check).await
        }
        "tcp" => {
            let mut check = TcpCheck::new(host, port(settings));
            check.timeout = timeout(settings);
            check.send = text(settings, "send").map(String::into_bytes);
            check.expect = text(settings, "expect").map(String::into_bytes);
            check_tcp(&check).await
        }
        "tls" => {
            let mut check = TlsCheck::new(host, port(settings));
            check.timeout = timeout(settings);
            check_tls(&check).await
        }
        "dns" => {
            let server = text(settings, "dns_server")
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(system_dns_server);
            let check = DnsCheck {
                name: text(settings, "name").unwrap_or_default(),
                record_type: text(settings, "record_type").unwrap_or_else(|| "A".into()),
                server,
                timeout: timeout(settings),
            };
            check_dns(&check).await
        }
        "icmp" => {
            let mut check = IcmpCheck::new(host);
            check.timeout = timeout(settings);
            check_icmp(&check).await
        }
        other => Observation {
            error: Some(format!("{other} monitors are not checked actively")),
            ..Observation::default()
        },
    }
}

fn ms(duration: Option<Duration>) -> Value {
    duration.map_or(Value::Null, |d| json!(d.as_secs_f64() * 1000.0))
}

/// Judge an observation with the monitor's conditions: success when every condition holds.
pub fn judge(
    monitor: &Monitor,
    observation: &Observation,
    at: Timestamp,
) -> (CheckOutcome, Option<i32>, Value) {
    let conditions: Vec<Condition> = monitor
        .settings
        .get("conditions")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .filter_map(|text| Condition::parse(text).ok())
                .collect()
        })
        .unwrap_or_default();
    let results = evaluate_all(&conditions, observation);
    let success = !results.is_empty() && results.iter().all(|result| result.success);
    let failed_condition = results
        .iter()
        .find(|result| !result.success)
        .map(|result| result.explanation.clone());
    let error = if success {
        None
    } else {
        match (&observation.error, failed_condition) {
            (Some(error), _) => Some(error.clone()),
            (None, Some(condition)) => Some(condition),
            (None, None) => Some("no conditions to check".to_string()),
        }
    };
    let timings = &observation.timings;
    let details = json!({
        "timings_ms": {
            "dns": ms(timings.dns),
            "connect": ms(timings.connect),
            "tls": ms(timings.tls),
            "first_byte": ms(timings.first_byte),
            "total": timings.total.as_secs_f64() * 1000.0,
        },
        "conditions": results,
        "ip": observation.ip,
        "certificate_expires_in_s": observation.certificate_expiration.map(|d| d.as_secs()),
        "dns_rcode": observation.dns_rcode,
        "error": observation.error,
    });
    let duration_ms = i64::try_from(observation.response_time.as_millis()).unwrap_or(i64::MAX);
    let outcome = CheckOutcome {
        at,
        success,
        duration_ms,
        error,
    };
    (outcome, observation.status.map(i32::from), details)
}
