//! Reading the TOML file: parsed with `toml_edit` (which keeps byte positions) and walked by hand, so
//! every unknown key, wrong type and bad value is reported with its line, not only the first.

use std::path::Path;

/// Top-level key of the monitor declarations that `upkeep apply` reads from the same file.
pub const DECLARED_MONITORS: &str = "monitor";

use toml_edit::{ImDocument, Item, TableLike, Value};

use super::settings::{Raw, SECTIONS, SETTINGS, Setting, closest, with_article};
use super::{Config, ConfigProblem};

/// Read `path` and apply its settings to `config`; returns the problems found, in line order.
pub(super) fn apply_file(path: &Path, config: &mut Config) -> Vec<ConfigProblem> {
    let source = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => apply_text(&source, &text, config),
        Err(err) => vec![ConfigProblem {
            source,
            line: None,
            key: String::new(),
            message: format!("cannot read the configuration file: {err}"),
        }],
    }
}

/// Apply the TOML in `text` (read from `source`) to `config`; returns the problems found, in line order.
pub(super) fn apply_text(source: &str, text: &str, config: &mut Config) -> Vec<ConfigProblem> {
    let mut walker = Walker {
        source,
        text,
        problems: Vec::new(),
    };
    match ImDocument::parse(text) {
        Ok(document) => walker.root(document.as_table(), config),
        Err(err) => {
            let message = err.message().trim().replace('\n', "; ");
            walker.report(
                err.span().map(|span| span.start),
                "",
                format!("not valid TOML: {message}"),
            );
        }
    }
    let mut problems = walker.problems;
    problems.sort_by_key(|problem| problem.line);
    problems
}

struct Walker<'a> {
    source: &'a str,
    text: &'a str,
    problems: Vec<ConfigProblem>,
}

impl Walker<'_> {
    fn root(&mut self, root: &dyn TableLike, config: &mut Config) {
        for (key, item) in root.iter() {
            let offset = position(root, key, item);
            if key == DECLARED_MONITORS {
                // `[[monitor]]` tables declare monitors for `upkeep apply`, which checks them itself.
                if !item.is_array_of_tables() {
                    self.report(
                        offset,
                        key,
                        "expected [[monitor]] tables (see upkeep apply --help)".to_string(),
                    );
                }
            } else if SECTIONS.contains(&key) {
                match item.as_table_like() {
                    Some(table) => self.section(key, table, config),
                    None => {
                        let found = with_article(item.type_name());
                        self.report(
                            offset,
                            key,
                            format!("expected a table [{key}], found {found}"),
                        );
                    }
                }
            } else if let Some(setting) = find(None, key) {
                self.setting(setting, item, offset, config);
            } else {
                let allowed: Vec<String> = settings_in(None)
                    .map(|setting| setting.key.to_string())
                    .chain(SECTIONS.iter().map(|section| format!("[{section}]")))
                    .collect();
                let candidates = settings_in(None)
                    .map(|setting| setting.key)
                    .chain(SECTIONS.iter().copied());
                let message = unknown_key(key, None, closest(key, candidates), &allowed);
                self.report(offset, key, message);
            }
        }
    }

    fn section(&mut self, section: &str, table: &dyn TableLike, config: &mut Config) {
        for (key, item) in table.iter() {
            let offset = position(table, key, item);
            let dotted = format!("{section}.{key}");
            match find(Some(section), key) {
                Some(setting) => self.setting(setting, item, offset, config),
                None => {
                    let allowed: Vec<String> = settings_in(Some(section))
                        .map(|s| s.key.to_string())
                        .collect();
                    let suggestion =
                        closest(key, settings_in(Some(section)).map(|setting| setting.key));
                    let message = unknown_key(key, Some(section), suggestion, &allowed);
                    self.report(offset, &dotted, message);
                }
            }
        }
    }

    fn setting(
        &mut self,
        setting: &Setting,
        item: &Item,
        offset: Option<usize>,
        config: &mut Config,
    ) {
        let raw = match item.as_value() {
            Some(Value::String(text)) => Raw::Text(text.value()),
            Some(Value::Integer(number)) => Raw::Int(*number.value()),
            Some(Value::Boolean(flag)) => Raw::Bool(*flag.value()),
            Some(other) => Raw::Other(other.type_name()),
            None => Raw::Other(item.type_name()),
        };
        if let Err(message) = setting.apply(config, raw) {
            self.report(offset, &setting.dotted(), message);
        }
    }

    fn report(&mut self, offset: Option<usize>, key: &str, message: String) {
        self.problems.push(ConfigProblem {
            source: self.source.to_string(),
            line: offset.map(|offset| line_of(self.text, offset)),
            key: key.to_string(),
            message,
        });
    }
}

fn find(section: Option<&str>, key: &str) -> Option<&'static Setting> {
    settings_in(section).find(|setting| setting.key == key)
}

fn settings_in(section: Option<&str>) -> impl Iterator<Item = &'static Setting> + '_ {
    SETTINGS
        .iter()
        .filter(move |setting| setting.section == section)
}

fn unknown_key(
    key: &str,
    section: Option<&str>,
    suggestion: Option<&str>,
    allowed: &[String],
) -> String {
    let place = section
        .map(|section| format!(" in [{section}]"))
        .unwrap_or_default();
    let hint = suggestion
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    format!(
        "unknown key `{key}`{place}{hint}; expected one of: {}",
        allowed.join(", ")
    )
}

/// Where a key is written: the key itself when the parser kept its position, else its value.
fn position(table: &dyn TableLike, key: &str, item: &Item) -> Option<usize> {
    table
        .key(key)
        .and_then(|key| key.span())
        .or_else(|| item.span())
        .map(|span| span.start)
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}
