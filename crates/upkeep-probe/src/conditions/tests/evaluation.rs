//! Every placeholder, operator and function against observations, with the explanations they give.

use std::time::Duration;

use super::{fails, judge, observation, passes, with_body};
use crate::Observation;
use crate::conditions::{Condition, Placeholder, evaluate_all};

#[test]
fn status_with_every_operator() {
    let ok = observation();
    assert_eq!(passes("[STATUS] == 200", &ok), "[STATUS] (200) == 200");
    passes("[STATUS] != 500", &ok);
    passes("[STATUS] <= 200", &ok);
    passes("[STATUS] >= 200", &ok);
    passes("[STATUS] < 300", &ok);
    passes("[STATUS] > 199", &ok);
    fails("[STATUS] > 200", &ok);
    fails("[STATUS] < 200", &ok);
    let down = Observation {
        status: Some(503),
        ..observation()
    };
    assert_eq!(fails("[STATUS] == 200", &down), "[STATUS] (503) == 200");
    assert_eq!(
        fails("[status] < 500", &down),
        "[status] (503) < 500",
        "placeholders are case-insensitive"
    );
}

#[test]
fn missing_status_fails_every_comparison() {
    let none = Observation {
        status: None,
        ..observation()
    };
    assert_eq!(
        fails("[STATUS] == 200", &none),
        "[STATUS] (no status) == 200"
    );
    fails("[STATUS] != 200", &none);
    fails("[STATUS] < 500", &none);
}

#[test]
fn response_time_in_milliseconds_or_durations() {
    let ok = observation();
    assert_eq!(
        passes("[RESPONSE_TIME] < 300", &ok),
        "[RESPONSE_TIME] (150) < 300"
    );
    assert_eq!(
        fails("[RESPONSE_TIME] > 300", &ok),
        "[RESPONSE_TIME] (150) > 300"
    );
    passes("[RESPONSE_TIME] <= 150", &ok);
    passes("[RESPONSE_TIME] >= 150", &ok);
    passes("[RESPONSE_TIME] < 1s", &ok);
    passes("[RESPONSE_TIME] > 0.1s", &ok);
    passes("[RESPONSE_TIME] == 150ms", &ok);
    let sub_millisecond = Observation {
        response_time: Duration::from_micros(1_999),
        ..observation()
    };
    passes("[RESPONSE_TIME] == 1", &sub_millisecond);
}

#[test]
fn ip_and_dns_rcode_are_text() {
    let dns = Observation {
        dns_rcode: Some("NOERROR".to_string()),
        ..observation()
    };
    passes("[IP] == 127.0.0.1", &dns);
    passes("[IP] == pat(127.0.*)", &dns);
    passes("[IP] == any(10.0.0.1, 127.0.0.1)", &dns);
    passes("[DNS_RCODE] == NOERROR", &dns);
    assert_eq!(
        fails("[DNS_RCODE] == NXDOMAIN", &dns),
        "[DNS_RCODE] (NOERROR) == NXDOMAIN"
    );
    fails("[DNS_RCODE] == noerror", &dns);
    let nothing = Observation::default();
    assert_eq!(
        fails("[IP] == 127.0.0.1", &nothing),
        "[IP] (no IP) == 127.0.0.1"
    );
    assert_eq!(
        fails("[DNS_RCODE] == NOERROR", &nothing),
        "[DNS_RCODE] (no DNS rcode) == NOERROR"
    );
}

#[test]
fn connected() {
    passes("[CONNECTED] == true", &observation());
    passes("[CONNECTED] == TRUE", &observation());
    passes("[CONNECTED] != false", &observation());
    assert_eq!(
        fails("[CONNECTED] == true", &Observation::default()),
        "[CONNECTED] (false) == true"
    );
    passes("[CONNECTED] == false", &Observation::default());
}

#[test]
fn certificate_expiration() {
    let days = |d: u64| Observation {
        certificate_expiration: Some(Duration::from_secs(d * 86_400)),
        ..observation()
    };
    assert_eq!(
        passes("[CERTIFICATE_EXPIRATION] > 48h", &days(3)),
        "[CERTIFICATE_EXPIRATION] (72h) > 48h"
    );
    passes("[CERTIFICATE_EXPIRATION] > 2d", &days(3));
    fails("[CERTIFICATE_EXPIRATION] > 7d", &days(3));
    passes(
        "[CERTIFICATE_EXPIRATION] < 1h30m",
        &Observation {
            certificate_expiration: Some(Duration::from_secs(3_600 + 15)),
            ..observation()
        },
    );
    passes("[CERTIFICATE_EXPIRATION] > 1000", &days(1));
    let expired = Observation {
        certificate_expired: true,
        ..observation()
    };
    assert_eq!(
        fails("[CERTIFICATE_EXPIRATION] > 48h", &expired),
        "[CERTIFICATE_EXPIRATION] (expired) > 48h"
    );
    passes("[CERTIFICATE_EXPIRATION] < 1h", &expired);
    assert_eq!(
        fails("[CERTIFICATE_EXPIRATION] > 48h", &observation()),
        "[CERTIFICATE_EXPIRATION] (no certificate) > 48h"
    );
}

#[test]
fn whole_body_equality_and_patterns() {
    let body = with_body("  all ok\n");
    assert_eq!(
        passes("[BODY] == all ok", &body),
        "[BODY] (all ok) == all ok"
    );
    fails("[BODY] == All ok", &body);
    passes("[BODY] == pat(*ok*)", &body);
    passes("[BODY] == pat(all*)", &body);
    fails("[BODY] == pat(ok*)", &body);
    passes("[BODY] != pat(*error*)", &body);
    let html = with_body("<html><h1>Example Domain</h1></html>");
    passes("[BODY] == pat(*<h1>Example Domain</h1>*)", &html);
    assert_eq!(
        fails("[BODY] == ok", &Observation::default()),
        "[BODY] (no body) == ok"
    );
}

#[test]
fn any_matches_one_of_several() {
    let limited = Observation {
        status: Some(429),
        ..observation()
    };
    passes("[STATUS] == any(200, 429)", &limited);
    assert_eq!(
        fails("[STATUS] != any(200, 429)", &limited),
        "[STATUS] (429) != any(200, 429)"
    );
    fails("[STATUS] == any(200, 204)", &limited);
    passes("[RESPONSE_TIME] == any(1s, 150ms)", &observation());
}

#[test]
fn operator_order_and_parenthesised_operators() {
    // Like Gatus, `==` is tried first: the right side is everything after it.
    passes("[BODY] == a != b", &with_body("a != b"));
    // An operator inside pat() does not split the condition when another one is outside.
    passes("[BODY] != pat(*==*)", &with_body("fine"));
    fails("[BODY] != pat(* == *)", &with_body("x == y"));
    passes("[BODY] == pat(* < *)", &with_body("1 < 2"));
}

#[test]
fn right_side_brackets_that_are_not_placeholders_are_literals() {
    passes("[BODY] == [1,2]", &with_body("[1,2]"));
    passes("[BODY].tags == []", &with_body(r#"{"tags":[]}"#));
}

#[test]
fn ordering_on_non_numbers_fails_with_an_explanation() {
    let body = with_body(r#"{"v":"abc","uptime":"2h"}"#);
    assert_eq!(
        fails("[BODY].v > 5", &body),
        "[BODY].v (abc) > 5 (`abc` is not a number)"
    );
    passes("[BODY].uptime > 90m", &body);
    fails("[BODY].uptime > 3h", &body);
}

#[test]
fn two_placeholders() {
    let body = with_body(r#"{"a":1,"b":1.0,"c":"x","list":[1,2],"more":[1,2,3]}"#);
    assert_eq!(
        passes("[BODY].a == [BODY].b", &body),
        "[BODY].a (1) == [BODY].b (1.0)"
    );
    fails("[BODY].a == [BODY].c", &body);
    passes("len([BODY].list) < len([BODY].more)", &body);
    passes("[BODY].a < [STATUS]", &body);
    passes("200 == [STATUS]", &body);
}

#[test]
fn explanations_truncate_long_bodies() {
    let long = "x".repeat(5_000);
    let explanation = fails("[BODY] == short", &with_body(&long));
    assert!(
        explanation.chars().count() < 260,
        "{} characters",
        explanation.chars().count()
    );
    assert!(explanation.contains('…'));
    let lines = fails("[BODY] == one line", &with_body("two\nlines"));
    assert_eq!(lines, "[BODY] (two\\nlines) == one line");
}

#[test]
fn placeholders_text_display_and_evaluate_all() {
    let condition = Condition::parse("len([BODY].items) < [STATUS]").unwrap();
    assert_eq!(
        condition.placeholders(),
        vec![Placeholder::Body, Placeholder::Status]
    );
    assert_eq!(
        Condition::parse("[BODY].a == [BODY].b")
            .unwrap()
            .placeholders(),
        vec![Placeholder::Body]
    );
    assert_eq!(
        Condition::parse("has([DNS_RCODE]) == true")
            .unwrap()
            .placeholders(),
        vec![Placeholder::DnsRcode]
    );
    assert_eq!(condition.text(), "len([BODY].items) < [STATUS]");
    assert_eq!(condition.to_string(), condition.text());
    assert_eq!(
        Placeholder::CertificateExpiration.to_string(),
        "[CERTIFICATE_EXPIRATION]"
    );
    let conditions: Vec<Condition> = ["[STATUS] == 200", "[RESPONSE_TIME] > 1s"]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let results = evaluate_all(&conditions, &observation());
    assert_eq!(
        results.iter().map(|r| r.success).collect::<Vec<_>>(),
        vec![true, false]
    );
    assert_eq!(results[1].condition, "[RESPONSE_TIME] > 1s");
}

#[test]
fn serde_round_trip_and_result_json() {
    let condition: Condition = serde_json::from_str(r#""[STATUS] == 200""#).unwrap();
    assert_eq!(
        serde_json::to_string(&condition).unwrap(),
        r#""[STATUS] == 200""#
    );
    let error = serde_json::from_str::<Condition>(r#""[STATUS]==200""#).unwrap_err();
    assert!(error.to_string().contains("at position 8"), "{error}");
    let result = judge("[STATUS] == 200", &observation());
    assert_eq!(
        serde_json::to_value(&result).unwrap(),
        serde_json::json!({"condition": "[STATUS] == 200", "success": true, "explanation": "[STATUS] (200) == 200"})
    );
}

#[test]
fn evaluate_never_panics_on_weird_bodies() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"   ".to_vec(),
        b"null".to_vec(),
        b"{".to_vec(),
        b"[]".to_vec(),
        b"\"just a string\"".to_vec(),
        b"{\"data\": null, \"a\": [[1,[2,3]]], \"v\": 1e400}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80, b'{'],
        "héllo ✓ \u{0}\u{7f}".as_bytes().to_vec(),
        deep.into_bytes(),
        "*".repeat(3_000).into_bytes(),
        "9".repeat(400).into_bytes(),
    ];
    let conditions = [
        "[BODY] == pat(*a*b*c*d*e*)",
        "[BODY].data[0].id == 7",
        "[BODY][0][0] > 1",
        "[BODY].a[0][1][1] == 3",
        "len([BODY]) > 0",
        "len([BODY].data) >= 1",
        "has([BODY].data) == false",
        "has([BODY]) == true",
        "[BODY].v < 1",
        "[BODY] > 5",
        "[BODY] == any(a, b)",
        "[BODY] != [STATUS]",
        "[CERTIFICATE_EXPIRATION] > 48h",
    ];
    for body in &bodies {
        let observation = Observation {
            body: Some(body.clone()),
            ..Observation::default()
        };
        for text in conditions {
            let result = judge(text, &observation);
            assert!(!result.explanation.is_empty());
            assert!(
                result.explanation.chars().count() < 700,
                "{text}: {}",
                result.explanation
            );
        }
    }
}
