//! How listing commands print: a kubectl/flux-like table, or the objects as YAML or JSON.
//!
//! [`Table`] aligns columns with three spaces between them (as kubectl's tab writer does) and
//! never leaves trailing blanks; [`print_objects`] prints one object as itself and several as a
//! `v1/List`, without `metadata.managedFields` (as `kubectl get -o yaml` does by default).

use std::io::Write;

use anyhow::Context as _;
use serde_json::{Value, json};

/// The `-o/--output` formats of listing commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A human-readable table.
    #[default]
    Table,
    /// The objects as YAML.
    Yaml,
    /// The objects as JSON.
    Json,
}

/// A table of text cells under upper-case headers.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Spaces between two columns.
const GAP: usize = 3;

impl Table {
    /// An empty table with these headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells print empty, extra cells are dropped.
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = row.into_iter().map(Into::into).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// The table as text: the header line, then one line per row, each ending in `\n`.
    pub fn render(&self) -> String {
        let width = |cell: &str| cell.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (i, cell) in line.iter().enumerate() {
                // Cells never span lines: a multi-line message would break the columns.
                let cell = cell.replace(['\n', '\r'], " ");
                text.push_str(&cell);
                if i + 1 < line.len() {
                    let pad = widths[i] - width(&cell) + GAP;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Drops what `kubectl get -o yaml` hides by default.
fn tidy(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    object
}

/// Formats `objects` as YAML or JSON: a single object as itself when `single`, otherwise a
/// `v1/List` of them. `Table` is not an object format and yields an error.
pub fn format_objects(
    format: OutputFormat,
    objects: Vec<Value>,
    single: bool,
) -> anyhow::Result<String> {
    let mut objects: Vec<Value> = objects.into_iter().map(tidy).collect();
    let value = if single && objects.len() == 1 {
        objects.remove(0)
    } else {
        json!({"apiVersion": "v1", "kind": "List", "items": objects, "metadata": {"resourceVersion": ""}})
    };
    match format {
        OutputFormat::Yaml => Ok(keelson_manifest::to_yaml(&value)),
        OutputFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&value).context("failed to serialise as JSON")?;
            text.push('\n');
            Ok(text)
        }
        OutputFormat::Table => anyhow::bail!("a table is not an object format"),
    }
}

/// Writes `text` to stdout.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("failed to write to stdout")
}

/// Prints `objects` as [`format_objects`] formats them.
pub fn print_objects(
    format: OutputFormat,
    objects: Vec<Value>,
    single: bool,
) -> anyhow::Result<()> {
    print(&format_objects(format, objects, single)?)
}

/// A progress line on stderr, prefixed with a symbol as Flux's CLI prints them
/// (`►` action, `✚` generate, `◎` waiting, `✔` success, `✗` failure, `!` warning).
pub fn progress(symbol: char, message: &str) {
    eprintln!("{symbol} {message}");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_blanks() {
        let mut table = Table::new(["NAME", "READY", "MESSAGE"]);
        table.push(["a", "True", "stored artifact"]);
        table.push(["longer-name", "False", ""]);
        assert_eq!(
            table.render(),
            "NAME          READY   MESSAGE\n\
             a             True    stored artifact\n\
             longer-name   False\n"
        );
    }

    #[test]
    fn multi_line_cells_stay_on_one_line_and_short_rows_are_padded() {
        let mut table = Table::new(["A", "B"]);
        table.push(["x\ny"]);
        assert_eq!(table.render(), "A     B\nx y\n");
    }

    #[test]
    fn one_object_or_a_list() {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "managedFields": [{"manager": "x"}]}});
        let one = format_objects(OutputFormat::Yaml, vec![object.clone()], true).unwrap();
        assert_eq!(
            one,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
        );
        let list: Value = serde_json::from_str(
            &format_objects(OutputFormat::Json, vec![object.clone(), object], false).unwrap(),
        )
        .unwrap();
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
        assert!(list["items"][0]["metadata"].get("managedFields").is_none());
    }
}
