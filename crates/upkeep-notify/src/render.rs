//! Wording shared by every channel (headline, subject, the plain-text message, bundle lines) and safe
//! truncation, so all channels say the same thing and no channel cuts a string inside a character.

use crate::message::{BundledIncident, Notification};

/// How many bundled incidents a message lists before saying "and N more".
pub(crate) const BUNDLE_SHOWN: usize = 10;

/// `Triggered: Database down`.
pub(crate) fn headline(n: &Notification) -> String {
    format!("{}: {}", n.status.label(), n.title)
}

/// `[Triggered] [critical] Database down (checkout)`: email subject, Discord content, ntfy title fallback.
pub(crate) fn subject(n: &Notification) -> String {
    format!(
        "[{}] [{}] {} ({})",
        n.status.label(),
        n.severity,
        n.title,
        n.service_name
    )
}

/// `Why you got this: …`.
pub(crate) fn reason_line(n: &Notification) -> String {
    format!("Why you got this: {}", n.reason)
}

/// `12 more incidents for you:` (or `1 more incident for you:`), when there is a bundle.
pub(crate) fn bundle_heading(n: &Notification) -> Option<String> {
    match n.bundle.len() {
        0 => None,
        1 => Some("1 more incident for you:".to_string()),
        count => Some(format!("{count} more incidents for you:")),
    }
}

/// `#43 [warning] Disk almost full`.
pub(crate) fn bundle_label(b: &BundledIncident) -> String {
    format!("#{} [{}] {}", b.incident_id, b.severity, b.title)
}

/// The bundled incidents shown (at most [`BUNDLE_SHOWN`]) and how many are left unlisted.
pub(crate) fn bundle_shown(n: &Notification) -> (&[BundledIncident], usize) {
    let shown = n.bundle.len().min(BUNDLE_SHOWN);
    (&n.bundle[..shown], n.bundle.len() - shown)
}

/// `and 3 more`.
pub(crate) fn bundle_rest(rest: usize) -> String {
    format!("and {rest} more")
}

/// The bundle as plain-text lines (`- #43 [warning] Disk almost full: https://…`), heading first; empty
/// without a bundle.
pub(crate) fn bundle_text(n: &Notification) -> String {
    let Some(heading) = bundle_heading(n) else {
        return String::new();
    };
    let (shown, rest) = bundle_shown(n);
    let mut out = heading;
    for b in shown {
        out.push_str(&format!("\n- {}: {}", bundle_label(b), b.url));
    }
    if rest > 0 {
        out.push_str(&format!("\n- {}", bundle_rest(rest)));
    }
    out
}

/// The whole message as plain text: headline, service, summary, reason, links, bundle.
pub(crate) fn plain_text(n: &Notification) -> String {
    let mut out = format!(
        "{} [{}]\nService: {}",
        headline(n),
        n.severity,
        n.service_name
    );
    if !n.summary.trim().is_empty() {
        out.push_str(&format!("\n\n{}", n.summary.trim()));
    }
    out.push_str(&format!("\n\n{}\n", reason_line(n)));
    if let Some(url) = &n.acknowledge_url {
        out.push_str(&format!("\nAcknowledge: {url}"));
    }
    if let Some(url) = &n.resolve_url {
        out.push_str(&format!("\nResolve: {url}"));
    }
    out.push_str(&format!("\nIncident: {}", n.incident_url));
    let bundle = bundle_text(n);
    if !bundle.is_empty() {
        out.push_str(&format!("\n\n{bundle}"));
    }
    out
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("héllo", 10), "héllo");
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 1), "…");
        assert_eq!(truncate("abc", 0), "");
    }
}
