//! Reading `UPKEEP_…` environment variables, each also settable as `…_FILE` (a path whose contents are the
//! value, for secrets), and flagging `UPKEEP_…` variables that look like misspelt settings.

use std::collections::BTreeMap;

use super::settings::{SETTINGS, Setting, closest};
use super::{Config, ConfigProblem, NON_SETTING_ENV_VARS};

const SOURCE: &str = "environment";
const FILE_SUFFIX: &str = "_FILE";

/// Apply the settings found in `env` to `config`; returns the problems found.
pub(super) fn apply_env(env: &BTreeMap<String, String>, config: &mut Config) -> Vec<ConfigProblem> {
    let known: Vec<(String, &Setting)> = SETTINGS
        .iter()
        .filter_map(|setting| setting.env_name().map(|name| (name, setting)))
        .collect();
    let mut problems = Vec::new();

    for (name, setting) in &known {
        let file_name = format!("{name}{FILE_SUFFIX}");
        let (variable, value) = match (env.get(name), env.get(&file_name)) {
            (None, None) => continue,
            (Some(_), Some(_)) => {
                problems.push(problem(
                    name,
                    format!("both {name} and {file_name} are set; set only one"),
                ));
                continue;
            }
            (Some(value), None) => (name.as_str(), value.clone()),
            (None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(contents) => (
                    file_name.as_str(),
                    contents.trim_end_matches(['\n', '\r']).to_string(),
                ),
                Err(err) => {
                    problems.push(problem(&file_name, format!("cannot read {path:?}: {err}")));
                    continue;
                }
            },
        };
        if let Err(message) = setting.apply_text(config, &value) {
            problems.push(problem(variable, message));
        }
    }

    for name in env.keys().filter(|name| name.starts_with("UPKEEP_")) {
        let base = name.strip_suffix(FILE_SUFFIX).unwrap_or(name);
        if NON_SETTING_ENV_VARS.contains(&name.as_str())
            || known
                .iter()
                .any(|(known, _)| known == base || known == name)
        {
            continue;
        }
        let message = match suggest(base, &known) {
            Some(suggestion) if base.len() < name.len() => {
                format!("unknown setting; did you mean {suggestion}{FILE_SUFFIX}?")
            }
            Some(suggestion) => format!("unknown setting; did you mean {suggestion}?"),
            None => {
                "unknown setting; see upkeep.example.toml for the UPKEEP_… variables".to_string()
            }
        };
        problems.push(problem(name, message));
    }
    problems
}

/// A known variable `name` was probably meant as: a close spelling, or one whose key it ends with
/// (`UPKEEP_SESSION_TTL` → `UPKEEP_AUTH_SESSION_TTL`).
fn suggest<'a>(name: &str, known: &'a [(String, &Setting)]) -> Option<&'a str> {
    let names = || known.iter().map(|(known, _)| known.as_str());
    closest(name, names()).or_else(|| {
        let tail = name
            .strip_prefix("UPKEEP_")
            .filter(|tail| !tail.is_empty())?;
        names().find(|known| known.ends_with(&format!("_{tail}")))
    })
}

fn problem(variable: &str, message: String) -> ConfigProblem {
    ConfigProblem {
        source: SOURCE.to_string(),
        line: None,
        key: variable.to_string(),
        message,
    }
}
