//! Notification rules: "reach me through this contact method this long after a page starts", and the
//! default when a person has none (every verified method at once).

use std::time::Duration;

use upkeep_storage::{AuditContext, ContactMethod, NewNotificationRule, NotificationRule};

use super::{authorize, owned_method};
use crate::identity::Principal;
use crate::{Core, CoreError, CoreResult};

/// The longest delay a rule may have.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);
/// Rules one person may have.
const MAX_RULES: usize = 50;

/// `0`, `30s`, `5m`, `1h30m` … up to `24h`.
pub fn parse_delay(text: &str) -> CoreResult<Duration> {
    let text = text.trim();
    let delay = if text == "0" || text.eq_ignore_ascii_case("now") {
        Duration::ZERO
    } else {
        crate::config::parse_duration(text)
            .map_err(|message| CoreError::validation("delay", message))?
    };
    if delay > MAX_DELAY {
        return Err(CoreError::validation(
            "delay",
            format!("{text:?} is longer than the most, 24h"),
        ));
    }
    Ok(delay)
}

/// `0s`, `5m`, `1h30m`: a delay as people type it.
pub fn format_delay(delay: Duration) -> String {
    let mut rest = delay.as_secs();
    let mut text = String::new();
    for (unit, seconds) in [("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= seconds {
            text.push_str(&format!("{}{unit}", rest / seconds));
            rest %= seconds;
        }
    }
    if text.is_empty() { "0s".into() } else { text }
}

/// A stored rule's delay.
pub fn rule_delay(rule: &NotificationRule) -> Duration {
    Duration::from_millis(u64::try_from(rule.delay_ms).unwrap_or(0))
}

/// Which of `user_id`'s contact methods to notify and how long after the page starts: the person's rules
/// (those whose contact method is among `methods`), shortest delay first; when they have none, every
/// verified method of theirs at once. `methods` and `rules` may hold other people's rows (as
/// `contact_methods_for_users` returns them); only `user_id`'s are used.
pub fn rules_or_default(
    user_id: i64,
    methods: &[ContactMethod],
    rules: &[NotificationRule],
) -> Vec<(i64, Duration)> {
    let mine = |id: i64| methods.iter().any(|m| m.id == id && m.user_id == user_id);
    let mut chosen: Vec<(i64, Duration, i64)> = rules
        .iter()
        .filter(|rule| rule.user_id == user_id && mine(rule.contact_method_id))
        .map(|rule| (rule.contact_method_id, rule_delay(rule), rule.id))
        .collect();
    if chosen.is_empty() {
        chosen = methods
            .iter()
            .filter(|m| m.user_id == user_id && m.verified)
            .map(|m| (m.id, Duration::ZERO, m.id))
            .collect();
    }
    chosen.sort_by_key(|&(_, delay, order)| (delay, order));
    chosen.dedup_by_key(|&mut (method, delay, _)| (method, delay));
    chosen
        .into_iter()
        .map(|(method, delay, _)| (method, delay))
        .collect()
}

/// Adds a rule for `owner_id`: `contact_method_id` must be theirs; the same method and delay twice is a
/// conflict.
pub async fn create_rule(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    owner_id: i64,
    contact_method_id: i64,
    delay: &str,
) -> CoreResult<NotificationRule> {
    authorize(by, owner_id, true)?;
    let delay = parse_delay(delay)?;
    owned_method(core, owner_id, contact_method_id)
        .await
        .map_err(|err| match err {
            CoreError::NotFound(_) => CoreError::validation(
                "contact_method_id",
                format!("you have no contact method {contact_method_id}"),
            ),
            other => other,
        })?;
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    let existing = core.storage.notification_rules_for_user(owner_id).await?;
    if existing
        .iter()
        .any(|r| r.contact_method_id == contact_method_id && r.delay_ms == delay_ms)
    {
        return Err(CoreError::Conflict {
            message: format!(
                "there is already a rule for contact method {contact_method_id} after {}",
                format_delay(delay)
            ),
            field: Some("delay".into()),
        });
    }
    if existing.len() >= MAX_RULES {
        return Err(CoreError::validation(
            "contact_method_id",
            format!("a person can have at most {MAX_RULES} notification rules"),
        ));
    }
    let rule = NewNotificationRule {
        user_id: owner_id,
        contact_method_id,
        delay_ms,
    };
    Ok(core.storage.create_notification_rule(ctx, rule).await?)
}

/// `owner_id`'s rules, shortest delay first.
pub async fn list_rules(
    core: &Core,
    by: Option<&Principal>,
    owner_id: i64,
) -> CoreResult<Vec<NotificationRule>> {
    authorize(by, owner_id, false)?;
    Ok(core.storage.notification_rules_for_user(owner_id).await?)
}

/// Removes one of `owner_id`'s rules; someone else's is not found.
pub async fn delete_rule(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    owner_id: i64,
    id: i64,
) -> CoreResult<()> {
    authorize(by, owner_id, true)?;
    match core.storage.notification_rule_by_id(id).await? {
        Some(rule) if rule.user_id == owner_id => {
            Ok(core.storage.delete_notification_rule(ctx, id).await?)
        }
        _ => Err(CoreError::not_found("notification rule not found")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn method(id: i64, user_id: i64, verified: bool) -> ContactMethod {
        ContactMethod {
            id,
            user_id,
            label: format!("m{id}"),
            kind: "webhook".into(),
            config_sealed: "v1:…".into(),
            verified,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn rule(id: i64, user_id: i64, contact_method_id: i64, minutes: i64) -> NotificationRule {
        NotificationRule {
            id,
            user_id,
            contact_method_id,
            delay_ms: minutes * 60_000,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn without_rules_every_verified_method_at_once() {
        let methods = [
            method(1, 7, true),
            method(2, 7, false),
            method(3, 7, true),
            method(4, 8, true),
        ];
        assert_eq!(
            rules_or_default(7, &methods, &[]),
            vec![(1, Duration::ZERO), (3, Duration::ZERO)]
        );
        assert_eq!(
            rules_or_default(8, &methods, &[]),
            vec![(4, Duration::ZERO)]
        );
        assert_eq!(rules_or_default(9, &methods, &[]), vec![]);
        let unverified = [method(2, 7, false)];
        assert_eq!(rules_or_default(7, &unverified, &[]), vec![]);
    }

    #[test]
    fn rules_win_in_delay_order_and_only_the_persons_own() {
        let methods = [method(1, 7, true), method(2, 7, false), method(4, 8, true)];
        let rules = [
            rule(10, 7, 2, 5),
            rule(11, 7, 1, 0),
            rule(12, 8, 4, 1),
            // Someone else's method: ignored.
            rule(13, 7, 4, 0),
            rule(14, 7, 1, 15),
        ];
        assert_eq!(
            rules_or_default(7, &methods, &rules),
            vec![(1, Duration::ZERO), (2, 5 * MIN), (1, 15 * MIN)]
        );
        assert_eq!(rules_or_default(8, &methods, &rules), vec![(4, MIN)]);
    }

    #[test]
    fn rules_pointing_nowhere_fall_back_to_the_default() {
        let methods = [method(1, 7, true)];
        let rules = [rule(10, 7, 99, 5)];
        assert_eq!(
            rules_or_default(7, &methods, &rules),
            vec![(1, Duration::ZERO)]
        );
    }

    #[test]
    fn delays_are_zero_to_a_day() {
        assert_eq!(parse_delay("5m").unwrap(), 5 * MIN);
        assert_eq!(parse_delay("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_delay("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_delay("24h").unwrap(), MAX_DELAY);
        for bad in ["25h", "2d", "-5m", "5", "soon", ""] {
            assert!(
                matches!(parse_delay(bad), Err(CoreError::Validation { ref field, .. }) if field == "delay"),
                "{bad:?}"
            );
        }
        assert_eq!(format_delay(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_delay(Duration::ZERO), "0s");
    }
}
