//! Config as code: monitors declared in files are reconciled with the database. A plan lists what would
//! be created, updated and deleted; applying it changes nothing unless every declaration is valid.
//! Monitors created this way remember their file (`managed_by`) and are changed only through it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use upkeep_storage::{AuditContext, Monitor, MonitorFilter, PageRequest};

use super::definition::{CheckedSpec, MonitorSpec, check};
use crate::{Core, CoreError, CoreResult, catalog};

/// One monitor as declared in a file.
#[derive(Debug, Clone)]
pub struct Declared {
    /// The file it comes from, as given on the command line.
    pub source: String,
    /// 1-based position among the file's monitors.
    pub index: usize,
    pub service: String,
    pub spec: MonitorSpec,
}

/// Something wrong with a declaration, located in its file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyProblem {
    pub source: String,
    pub index: usize,
    pub name: String,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ApplyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: monitor #{} ({}): {}: {}",
            self.source, self.index, self.name, self.field, self.message
        )
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    Create {
        service: String,
        slug: String,
        source: String,
    },
    Update {
        id: i64,
        service: String,
        slug: String,
        source: String,
        fields: Vec<String>,
    },
    Delete {
        id: i64,
        service: String,
        slug: String,
        source: String,
    },
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unchanged: usize,
    #[serde(skip)]
    work: Vec<Work>,
}

#[derive(Debug, Clone)]
enum Work {
    Create(Declared),
    Update(i64, Declared),
    Delete(i64),
}

fn problem(declared: &Declared, field: &str, message: impl Into<String>) -> ApplyProblem {
    ApplyProblem {
        source: declared.source.clone(),
        index: declared.index,
        name: declared.spec.name.clone(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// What differs between a stored monitor and a checked declaration.
fn differences(existing: &Monitor, checked: &CheckedSpec) -> Vec<String> {
    let mut fields = Vec::new();
    if existing.name != checked.name {
        fields.push("name".to_string());
    }
    let mut stored = existing.settings.clone();
    if let Some(object) = stored.as_object_mut() {
        // The SLO is set through the API, not declared in files.
        object.remove("slo");
    }
    if stored != checked.settings {
        fields.push("settings".to_string());
    }
    if existing.interval_ms != checked.interval_ms {
        fields.push("interval".to_string());
    }
    if existing.failure_threshold != checked.failure_threshold
        || existing.success_threshold != checked.success_threshold
    {
        fields.push("thresholds".to_string());
    }
    fields
}

async fn every_monitor(core: &Core) -> CoreResult<Vec<Monitor>> {
    let mut monitors = Vec::new();
    let mut page = PageRequest::new(500, None);
    loop {
        let batch = core
            .storage
            .list_monitors(&MonitorFilter::default(), page)
            .await?;
        monitors.extend(batch.items);
        match batch.next_cursor.and_then(|cursor| cursor.parse().ok()) {
            Some(cursor) => page = PageRequest::new(500, Some(cursor)),
            None => return Ok(monitors),
        }
    }
}

/// Which file-managed monitors an apply is responsible for: those of the files given, or of any file
/// in the folder given (so a file removed from the folder takes its monitors with it).
#[derive(Debug, Clone)]
pub enum Scope {
    Files(Vec<String>),
    Folder(String),
}

impl Scope {
    fn covers(&self, managed_by: &str) -> bool {
        match self {
            Self::Files(files) => files.iter().any(|file| file == managed_by),
            Self::Folder(folder) => {
                managed_by.starts_with(&format!("{}/", folder.trim_end_matches('/')))
            }
        }
    }
}

/// Check every declaration and work out the changes. Monitors managed from within `scope` that are no
/// longer declared will be deleted.
pub async fn plan(
    core: &Core,
    declared: Vec<Declared>,
    scope: &Scope,
) -> CoreResult<Result<Plan, Vec<ApplyProblem>>> {
    let mut problems = Vec::new();
    let existing: BTreeMap<(String, String), Monitor> = every_monitor(core)
        .await?
        .into_iter()
        .map(|m| ((m.service_slug.clone(), m.slug.clone()), m))
        .collect();
    let mut known_services = BTreeSet::new();
    let mut seen = BTreeMap::new();
    let mut plan = Plan::default();
    for item in declared {
        let checked = match check(&item.spec) {
            Ok(checked) => checked,
            Err(CoreError::Validation { field, message }) => {
                problems.push(problem(&item, &field, message));
                continue;
            }
            Err(err) => return Err(err),
        };
        if !known_services.contains(&item.service) {
            if catalog::service(core, &item.service).await.is_err() {
                problems.push(problem(
                    &item,
                    "service",
                    format!("no service with slug {}", item.service),
                ));
                continue;
            }
            known_services.insert(item.service.clone());
        }
        let key = (item.service.clone(), checked.slug.clone());
        if let Some(first) = seen.insert(
            key.clone(),
            format!("{} monitor #{}", item.source, item.index),
        ) {
            problems.push(problem(
                &item,
                "slug",
                format!("{}/{} is declared twice (also in {first})", key.0, key.1),
            ));
            continue;
        }
        match existing.get(&key) {
            None => {
                plan.changes.push(Change::Create {
                    service: key.0,
                    slug: key.1,
                    source: item.source.clone(),
                });
                plan.work.push(Work::Create(item));
            }
            Some(monitor) if monitor.managed_by.is_none() => {
                problems.push(problem(&item, "slug", format!("{}/{} already exists and was not created from a file; delete it first or give this one another slug", key.0, key.1)));
            }
            Some(monitor) if monitor.kind != checked.kind => {
                problems.push(problem(
                    &item,
                    "kind",
                    "the kind of an existing monitor cannot change; use a new slug",
                ));
            }
            Some(monitor) => {
                let fields = differences(monitor, &checked);
                if fields.is_empty() && monitor.managed_by.as_deref() == Some(item.source.as_str())
                {
                    plan.unchanged += 1;
                } else {
                    let mut fields = fields;
                    if monitor.managed_by.as_deref() != Some(item.source.as_str()) {
                        fields.push("file".to_string());
                    }
                    plan.changes.push(Change::Update {
                        id: monitor.id,
                        service: key.0,
                        slug: key.1,
                        source: item.source.clone(),
                        fields,
                    });
                    plan.work.push(Work::Update(monitor.id, item));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    for ((service, slug), monitor) in &existing {
        let managed_here = monitor
            .managed_by
            .as_deref()
            .is_some_and(|file| scope.covers(file));
        if managed_here && !seen.contains_key(&(service.clone(), slug.clone())) {
            plan.changes.push(Change::Delete {
                id: monitor.id,
                service: service.clone(),
                slug: slug.clone(),
                source: monitor.managed_by.clone().unwrap_or_default(),
            });
            plan.work.push(Work::Delete(monitor.id));
        }
    }
    Ok(Ok(plan))
}

/// Carry out a plan made by [`plan`].
pub async fn execute(core: &Core, ctx: &AuditContext, plan: &Plan) -> CoreResult<()> {
    for work in &plan.work {
        match work {
            Work::Create(item) => {
                super::create_monitor(
                    core,
                    ctx,
                    &item.service,
                    &item.spec,
                    Some(item.source.clone()),
                )
                .await?;
            }
            Work::Update(id, item) => {
                super::update_monitor(core, ctx, *id, &item.spec).await?;
                let existing = super::monitor(core, *id).await?;
                if existing.managed_by.as_deref() != Some(item.source.as_str()) {
                    let changes = upkeep_storage::MonitorChanges {
                        managed_by: Some(Some(item.source.clone())),
                        ..Default::default()
                    };
                    core.storage.update_monitor(ctx, *id, changes).await?;
                }
            }
            Work::Delete(id) => super::delete_monitor(core, ctx, *id).await?,
        }
    }
    Ok(())
}
