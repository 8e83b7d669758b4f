//! The service form shared by "new service" and the edit form on a service's page: reading the text
//! fields back into the domain's input (comma-separated dependencies, one `title=url` link per line) and
//! the team choices.

use serde::Deserialize;
use upkeep_core::Core;
use upkeep_core::catalog::{self, ServiceInput, ServicePatch};
use upkeep_core::storage::{PageRequest, Service, ServiceLink};

use super::Choice;
use super::error::UiError;

/// How many teams the team menu lists at most.
const MAX_TEAM_CHOICES: usize = 2_000;

/// The form as posted, and as shown again when it is refused.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ServiceForm {
    pub slug: String,
    pub name: String,
    pub description: String,
    /// A team slug, or `none`.
    pub team: String,
    /// Comma-separated service slugs.
    pub depends_on: String,
    /// One `title=url` per line.
    pub links: String,
    pub csrf_token: String,
}

impl ServiceForm {
    pub fn from_service(service: &Service) -> Self {
        Self {
            slug: service.slug.clone(),
            name: service.name.clone(),
            description: service.description.clone(),
            team: service.team_slug.clone().unwrap_or_default(),
            depends_on: service.depends_on.join(", "),
            links: service
                .links
                .iter()
                .map(|link| format!("{}={}", link.title, link.url))
                .collect::<Vec<_>>()
                .join("\n"),
            csrf_token: String::new(),
        }
    }

    fn team(&self) -> Option<String> {
        let team = self.team.trim();
        (!team.is_empty() && team != "none").then(|| team.to_string())
    }

    fn depends_on(&self) -> Vec<String> {
        self.depends_on
            .split(|ch: char| ch == ',' || ch.is_whitespace())
            .map(str::trim)
            .filter(|slug| !slug.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `title=url` per line; a line that is only a URL is a link titled by its URL.
    fn links(&self) -> Vec<ServiceLink> {
        self.links
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                let bare = line.starts_with("http://") || line.starts_with("https://");
                match line.split_once('=') {
                    Some((title, url)) if !bare => ServiceLink {
                        title: title.trim().to_string(),
                        url: url.trim().to_string(),
                    },
                    _ => ServiceLink {
                        title: String::new(),
                        url: line.to_string(),
                    },
                }
            })
            .collect()
    }

    pub fn input(&self) -> ServiceInput {
        ServiceInput {
            slug: self.slug.trim().to_string(),
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            team: self.team(),
            links: self.links(),
            depends_on: self.depends_on(),
        }
    }

    pub fn patch(&self) -> ServicePatch {
        ServicePatch {
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            team: Some(self.team()),
            links: Some(self.links()),
            depends_on: Some(self.depends_on()),
        }
    }

    /// Without the token, for showing the form again.
    pub fn shown(self) -> Self {
        Self {
            csrf_token: String::new(),
            ..self
        }
    }
}

/// "none" and every team's slug, with the form's current choice selected.
pub async fn team_choices(core: &Core, current: &str) -> Result<Vec<Choice>, UiError> {
    let mut slugs = Vec::new();
    let mut page = PageRequest::new(500, None);
    loop {
        let teams = catalog::list_teams(core, page).await?;
        slugs.extend(teams.items.into_iter().map(|team| team.slug));
        match teams.next_cursor.and_then(|cursor| cursor.parse().ok()) {
            Some(cursor) if slugs.len() < MAX_TEAM_CHOICES => {
                page = PageRequest::new(500, Some(cursor))
            }
            _ => break,
        }
    }
    let current = if current.is_empty() { "none" } else { current };
    let mut choices = Choice::list(["none"], current);
    choices.extend(Choice::list(slugs.iter().map(String::as_str), current));
    if let Some(none) = choices.first_mut() {
        none.label = "— none —".to_string();
    }
    Ok(choices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_become_lists() {
        let form = ServiceForm {
            depends_on: "db, cache ,,queue".into(),
            links: "Runbook=https://wiki.example.com/x?a=b\n\nhttps://grafana.example.com/d\n"
                .into(),
            team: "none".into(),
            ..ServiceForm::default()
        };
        assert_eq!(form.depends_on(), ["db", "cache", "queue"]);
        let links = form.links();
        assert_eq!(links[0].title, "Runbook");
        assert_eq!(links[0].url, "https://wiki.example.com/x?a=b");
        assert_eq!(links[1].url, "https://grafana.example.com/d");
        assert_eq!(form.team(), None);
    }
}
