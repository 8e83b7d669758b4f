//! Teams and services, the hub of the product: validation of slugs, names and links, owner teams, and
//! service dependencies that must never form a cycle.

use std::collections::{BTreeMap, BTreeSet};

use upkeep_storage::{
    AuditContext, NewService, NewTeam, Page, PageRequest, Service, ServiceChanges, ServiceLink,
    Team, TeamChanges,
};

use crate::{Core, CoreError, CoreResult};

/// Input for creating a service; `team` and `depends_on` are slugs.
#[derive(Debug, Clone, Default)]
pub struct ServiceInput {
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub team: Option<String>,
    pub links: Vec<ServiceLink>,
    pub depends_on: Vec<String>,
}

/// A partial update; `team: Some(None)` removes the owner team.
#[derive(Debug, Clone, Default)]
pub struct ServicePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub team: Option<Option<String>>,
    pub links: Option<Vec<ServiceLink>>,
    pub depends_on: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct TeamInput {
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
}

/// Slugs appear in URLs and CLI arguments: lower-case letters, digits and dashes, 1–63 characters.
pub fn validate_slug(field: &str, slug: &str) -> CoreResult<String> {
    let valid = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if valid {
        Ok(slug.to_string())
    } else {
        Err(CoreError::validation(
            field,
            format!(
                "{slug:?} is not a valid slug: use 1-63 lower-case letters, digits and dashes, not starting or ending with a dash"
            ),
        ))
    }
}

fn validate_text(field: &str, text: &str, max: usize) -> CoreResult<String> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(CoreError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(text.to_string())
}

fn validate_links(links: Vec<ServiceLink>) -> CoreResult<Vec<ServiceLink>> {
    if links.len() > 50 {
        return Err(CoreError::validation("links", "at most 50 links"));
    }
    links
        .into_iter()
        .enumerate()
        .map(|(index, link)| {
            let title = validate_text(&format!("links[{index}].title"), &link.title, 100)?;
            let url = link.url.trim().to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2000 {
                return Err(CoreError::validation(
                    format!("links[{index}].url"),
                    "must be an http:// or https:// URL",
                ));
            }
            Ok(ServiceLink {
                title: if title.is_empty() { url.clone() } else { title },
                url,
            })
        })
        .collect()
}

pub async fn create_team(core: &Core, ctx: &AuditContext, input: TeamInput) -> CoreResult<Team> {
    let slug = validate_slug("slug", &input.slug)?;
    let name = validate_text("name", input.name.as_deref().unwrap_or(""), 200)?;
    let description = validate_text(
        "description",
        input.description.as_deref().unwrap_or(""),
        10_000,
    )?;
    Ok(core
        .storage
        .create_team(
            ctx,
            NewTeam {
                name: if name.is_empty() { slug.clone() } else { name },
                slug,
                description,
            },
        )
        .await?)
}

pub async fn team(core: &Core, slug: &str) -> CoreResult<Team> {
    core.storage
        .team_by_slug(slug)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("no team with slug {slug}")))
}

pub async fn list_teams(core: &Core, page: PageRequest) -> CoreResult<Page<Team>> {
    Ok(core.storage.list_teams(page).await?)
}

pub async fn update_team(
    core: &Core,
    ctx: &AuditContext,
    slug: &str,
    name: Option<String>,
    description: Option<String>,
) -> CoreResult<Team> {
    let existing = team(core, slug).await?;
    let changes = TeamChanges {
        name: name
            .map(|name| validate_text("name", &name, 200))
            .transpose()?,
        description: description
            .map(|text| validate_text("description", &text, 10_000))
            .transpose()?,
    };
    Ok(core.storage.update_team(ctx, existing.id, changes).await?)
}

pub async fn delete_team(core: &Core, ctx: &AuditContext, slug: &str) -> CoreResult<()> {
    let existing = team(core, slug).await?;
    Ok(core.storage.delete_team(ctx, existing.id).await?)
}

pub async fn service(core: &Core, slug: &str) -> CoreResult<Service> {
    core.storage
        .service_by_slug(slug)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("no service with slug {slug}")))
}

pub async fn list_services(
    core: &Core,
    team_slug: Option<&str>,
    page: PageRequest,
) -> CoreResult<Page<Service>> {
    let team_id = match team_slug {
        Some(slug) => Some(team(core, slug).await?.id),
        None => None,
    };
    Ok(core.storage.list_services(team_id, page).await?)
}

async fn team_id_for(core: &Core, slug: &str) -> CoreResult<i64> {
    core.storage
        .team_by_slug(slug)
        .await?
        .map(|team| team.id)
        .ok_or_else(|| CoreError::validation("team", format!("no team with slug {slug}")))
}

/// Resolve dependency slugs to ids, refusing unknown services, self-dependencies and cycles.
async fn resolve_dependencies(
    core: &Core,
    service: Option<(i64, &str)>,
    slugs: &[String],
) -> CoreResult<Vec<i64>> {
    let mut ids = BTreeSet::new();
    for slug in slugs {
        if service.is_some_and(|(_, own)| own == slug) {
            return Err(CoreError::validation(
                "depends_on",
                format!("a service cannot depend on itself ({slug})"),
            ));
        }
        let target = core.storage.service_by_slug(slug).await?.ok_or_else(|| {
            CoreError::validation("depends_on", format!("no service with slug {slug}"))
        })?;
        ids.insert(target.id);
    }
    if let Some((id, own_slug)) = service {
        let mut graph: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        for (from, to) in core.storage.dependency_edges().await? {
            if from != id {
                graph.entry(from).or_default().insert(to);
            }
        }
        graph.insert(id, ids.clone());
        if let Some(cycle_via) = reaches(&graph, &ids, id) {
            let via = core
                .storage
                .service_by_id(cycle_via)
                .await?
                .map_or_else(|| cycle_via.to_string(), |s| s.slug);
            return Err(CoreError::validation(
                "depends_on",
                format!(
                    "this would make a dependency cycle: {via} already depends on {own_slug}, directly or through other services"
                ),
            ));
        }
    }
    Ok(ids.into_iter().collect())
}

/// Which of `starts` (if any) leads back to `target` in `graph`.
fn reaches(
    graph: &BTreeMap<i64, BTreeSet<i64>>,
    starts: &BTreeSet<i64>,
    target: i64,
) -> Option<i64> {
    for &start in starts {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            if node == target {
                return Some(start);
            }
            if seen.insert(node) {
                stack.extend(graph.get(&node).into_iter().flatten().copied());
            }
        }
    }
    None
}

pub async fn create_service(
    core: &Core,
    ctx: &AuditContext,
    input: ServiceInput,
) -> CoreResult<Service> {
    let slug = validate_slug("slug", &input.slug)?;
    let name = validate_text("name", input.name.as_deref().unwrap_or(""), 200)?;
    let description = validate_text(
        "description",
        input.description.as_deref().unwrap_or(""),
        10_000,
    )?;
    let links = validate_links(input.links)?;
    let team_id = match &input.team {
        Some(team) => Some(team_id_for(core, team).await?),
        None => None,
    };
    if input.depends_on.contains(&slug) {
        return Err(CoreError::validation(
            "depends_on",
            format!("a service cannot depend on itself ({slug})"),
        ));
    }
    // A new service has no dependents yet, so its own dependencies cannot close a cycle.
    let depends_on = resolve_dependencies(core, None, &input.depends_on).await?;
    Ok(core
        .storage
        .create_service(
            ctx,
            NewService {
                name: if name.is_empty() { slug.clone() } else { name },
                slug,
                description,
                team_id,
                links,
                depends_on,
                ping_key: crate::identity::random_secret(24).to_lowercase(),
            },
        )
        .await?)
}

pub async fn update_service(
    core: &Core,
    ctx: &AuditContext,
    slug: &str,
    patch: ServicePatch,
) -> CoreResult<Service> {
    let existing = service(core, slug).await?;
    let team_id = match patch.team {
        Some(Some(team)) => Some(Some(team_id_for(core, &team).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let depends_on = match &patch.depends_on {
        Some(slugs) => {
            Some(resolve_dependencies(core, Some((existing.id, &existing.slug)), slugs).await?)
        }
        None => None,
    };
    let changes = ServiceChanges {
        name: patch
            .name
            .map(|name| validate_text("name", &name, 200))
            .transpose()?,
        description: patch
            .description
            .map(|text| validate_text("description", &text, 10_000))
            .transpose()?,
        team_id,
        links: patch.links.map(validate_links).transpose()?,
        depends_on,
    };
    Ok(core
        .storage
        .update_service(ctx, existing.id, changes)
        .await?)
}

pub async fn delete_service(core: &Core, ctx: &AuditContext, slug: &str) -> CoreResult<()> {
    let existing = service(core, slug).await?;
    Ok(core.storage.delete_service(ctx, existing.id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked() {
        assert!(validate_slug("slug", "api-gateway-2").is_ok());
        for bad in ["", "-a", "a-", "Api", "a_b", "a b", &"x".repeat(64)] {
            assert!(
                validate_slug("slug", bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn cycles_are_found() {
        let mut graph: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        graph.entry(2).or_default().insert(3);
        graph.entry(3).or_default().insert(1);
        let starts: BTreeSet<i64> = [2].into_iter().collect();
        assert_eq!(reaches(&graph, &starts, 1), Some(2));
        let starts: BTreeSet<i64> = [3].into_iter().collect();
        assert_eq!(reaches(&graph, &starts, 4), None);
    }

    #[test]
    fn links_need_http_urls() {
        let bad = validate_links(vec![ServiceLink {
            title: "x".into(),
            url: "ftp://x".into(),
        }]);
        assert!(
            matches!(bad, Err(CoreError::Validation { ref field, .. }) if field == "links[0].url")
        );
        let good = validate_links(vec![ServiceLink {
            title: " ".into(),
            url: "https://git.example.com/x".into(),
        }]);
        assert_eq!(
            good.ok().map(|links| links[0].title.clone()).as_deref(),
            Some("https://git.example.com/x")
        );
    }
}
