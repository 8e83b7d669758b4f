//! `/escalation`: the escalation policies with their level counts and a warning when one would page
//! nobody, and a policy's page — its levels in order (how long each waits, whom it pages, all at once or
//! in turn), its repeats and acknowledgement timeout, and what keeps it from paging anyone right now,
//! flagged at the top. Policies are created and changed through the API or the CLI; the pages say so.

use askama::Template;
use axum::extract::State;
use upkeep_core::identity::Capability;
use upkeep_core::incidents::escalation::{self, LevelMode, PolicySpec, Target};
use upkeep_core::storage::EscalationPolicy;
use upkeep_core::{Core, CoreResult};

use super::error::{UiPath, UiQuery, UiResult};
use super::shell::{Page, SignedIn, html};
use super::{ListQuery, Pager, page_request, when};
use crate::AppState;

pub struct PolicyRow {
    pub slug: String,
    pub name: String,
    pub levels: usize,
    pub gaps: usize,
}

#[derive(Template)]
#[template(path = "escalation_list.html")]
struct PoliciesPage {
    page: Page,
    rows: Vec<PolicyRow>,
    pager: Pager,
}

/// Whom a level pages: a person by email, or a schedule linked to its page.
pub struct TargetView {
    pub label: String,
    /// A schedule's slug (linked); `None` for a person.
    pub schedule: Option<String>,
}

pub struct LevelView {
    pub number: usize,
    pub delay: String,
    /// What happens when the delay passes without an acknowledgement.
    pub then: String,
    pub targets: Vec<TargetView>,
    pub mode: &'static str,
    pub gaps: Vec<String>,
}

#[derive(Template)]
#[template(path = "escalation.html")]
struct PolicyPage {
    page: Page,
    policy: EscalationPolicy,
    updated: String,
    levels: Vec<LevelView>,
    repeat: u32,
    ack_timeout: Option<String>,
    gaps: Vec<String>,
}

/// `level 2: nobody to page (…)` → `Level 2: nobody to page (…)`.
fn shown_gap(gap: &str) -> String {
    let mut chars = gap.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The gaps of level `number` (1-based), as `gaps` words them.
fn level_gaps(gaps: &[String], number: usize) -> Vec<String> {
    let prefix = format!("Level {number}: ");
    gaps.iter()
        .filter_map(|gap| gap.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

fn mode_label(mode: LevelMode) -> &'static str {
    match mode {
        LevelMode::All => "everyone at once",
        LevelMode::RoundRobin => "one at a time, in turn (round robin)",
    }
}

/// The policy's gaps with people named by email rather than id.
async fn named_gaps(core: &Core, policy: &EscalationPolicy) -> CoreResult<Vec<String>> {
    let mut shown = Vec::new();
    for gap in escalation::gaps(core, policy).await? {
        shown.push(shown_gap(&name_user(core, &gap).await?));
    }
    Ok(shown)
}

/// `… user 7 has no verified contact method` → `… ana@example.com has no verified contact method`.
async fn name_user(core: &Core, gap: &str) -> CoreResult<String> {
    let Some(start) = gap.find("user ") else {
        return Ok(gap.to_string());
    };
    let digits: String = gap[start + 5..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let Ok(id) = digits.parse::<i64>() else {
        return Ok(gap.to_string());
    };
    Ok(match core.storage.user_by_id(id).await? {
        Some(user) => format!(
            "{}{}{}",
            &gap[..start],
            user.email,
            &gap[start + 5 + digits.len()..]
        ),
        None => gap.to_string(),
    })
}

async fn target_view(core: &Core, target: &Target) -> CoreResult<TargetView> {
    Ok(match target {
        Target::User(id) => TargetView {
            label: match core.storage.user_by_id(*id).await? {
                Some(user) => user.email,
                None => format!("user {id} (no longer here)"),
            },
            schedule: None,
        },
        Target::Schedule(slug) => TargetView {
            label: format!("whoever is on call for {slug}"),
            schedule: Some(slug.clone()),
        },
    })
}

async fn level_views(
    core: &Core,
    spec: &PolicySpec,
    gaps: &[String],
) -> CoreResult<Vec<LevelView>> {
    let mut levels = Vec::with_capacity(spec.levels.len());
    let count = spec.levels.len();
    for (index, level) in spec.levels.iter().enumerate() {
        let number = index + 1;
        let mut targets = Vec::with_capacity(level.targets.len());
        for target in &level.targets {
            targets.push(target_view(core, target).await?);
        }
        let then = if number < count {
            format!("then level {}", number + 1)
        } else if spec.repeat > 0 {
            "then the policy starts again from level 1".to_string()
        } else {
            "then paging stops".to_string()
        };
        levels.push(LevelView {
            number,
            delay: level.delay.clone(),
            then,
            targets,
            mode: mode_label(level.mode),
            gaps: level_gaps(gaps, number),
        });
    }
    Ok(levels)
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(query): UiQuery<ListQuery>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let cursor = query.cursor.as_deref();
    let policies = escalation::list(&state.core, page_request(cursor)?).await?;
    let mut rows = Vec::with_capacity(policies.items.len());
    for policy in policies.items {
        let gaps = escalation::gaps(&state.core, &policy).await?.len();
        let levels = escalation::spec_of(&policy)?.levels.len();
        rows.push(PolicyRow {
            slug: policy.slug,
            name: policy.name,
            levels,
            gaps,
        });
    }
    Ok(html(&PoliciesPage {
        page: signed.page("escalation"),
        rows,
        pager: Pager::new("/escalation", cursor, policies.next_cursor),
    }))
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let core = &state.core;
    let policy = escalation::policy(core, &slug).await?;
    let spec = escalation::spec_of(&policy)?;
    let gaps = named_gaps(core, &policy).await?;
    let levels = level_views(core, &spec, &gaps).await?;
    Ok(html(&PolicyPage {
        page: signed.page("escalation"),
        updated: when(policy.updated_at),
        levels,
        repeat: spec.repeat,
        ack_timeout: spec.ack_timeout,
        gaps,
        policy,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_sorted_to_their_level() {
        let gaps: Vec<String> = [
            "level 1: nobody to page (nobody is on call for schedule primary)",
            "level 2: ana@example.com has no verified contact method",
            "level 12: nobody to page ()",
        ]
        .into_iter()
        .map(shown_gap)
        .collect();
        assert_eq!(
            gaps[0],
            "Level 1: nobody to page (nobody is on call for schedule primary)"
        );
        assert_eq!(
            level_gaps(&gaps, 2),
            ["ana@example.com has no verified contact method"]
        );
        assert_eq!(level_gaps(&gaps, 1).len(), 1);
        assert!(level_gaps(&gaps, 3).is_empty());
    }
}
