//! How commands print: a short human line by default, the full record as JSON with `--json`. Errors go to
//! stderr (as `{"error":{…}}` with `--json`) and make the command exit non-zero.

use serde::Serialize;

pub struct Output {
    pub json: bool,
}

impl Output {
    /// Print `value` as JSON, or `human` otherwise.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(text) => println!("{text}"),
                Err(err) => eprintln!("error: cannot print JSON: {err}"),
            }
        } else {
            println!("{}", human());
        }
    }

    pub fn error(&self, err: &anyhow::Error) {
        let message = format!("{err:#}");
        if self.json {
            eprintln!("{}", serde_json::json!({ "error": { "message": message } }));
        } else {
            eprintln!("error: {message}");
        }
    }
}

/// Lay out rows as aligned columns.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                format!(
                    "{cell:<width$}",
                    width = widths.get(index).copied().unwrap_or(0)
                )
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    if rows.is_empty() {
        out.push("(none)".to_string());
    }
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

/// Every item of a paginated list, fetched page by page.
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(upkeep_core::storage::PageRequest) -> Fut,
    Fut: std::future::Future<Output = upkeep_core::CoreResult<upkeep_core::storage::Page<T>>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(upkeep_core::storage::PageRequest::new(500, cursor)).await?;
        items.extend(page.items);
        match page.next_cursor.and_then(|next| next.parse().ok()) {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}
