//! upkeep's integration tests, in one binary so they share helpers and build once.

// Tests state their expectations with `expect`; a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod active_checks;
mod alert_ingest;
mod api_story;
mod authorization;
mod browser;
mod cli;
mod contacts;
mod escalation;
mod escalation_pages;
mod heartbeats;
mod incident_pages;
mod incidents;
mod jobs_runtime;
mod maintenance;
mod monitor_metrics;
mod monitor_pages;
mod monitor_storage;
mod openapi_contract;
mod rollups;
mod schedule_storage;
mod schedules;
mod storage_conformance;
mod storage_faults;
mod ui_pages;
