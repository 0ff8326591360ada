//! dotenv as sops reads and writes it: `KEY=value` lines, `#` comment lines, `\n` escapes.

use crate::tree::{Branch, Comment, Item, Value};

/// Parses dotenv text. Every value is a string; `\n` in a value stands for a newline.
pub fn parse(text: &str) -> Result<Branch, String> {
    let mut b = Branch::default();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            b.0.push(Item::Comment(Comment::line(c)));
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: invalid dotenv line (no '=')", n + 1));
        };
        b.push(k, Value::Str(v.replace("\\n", "\n")));
    }
    Ok(b)
}

/// Writes dotenv text.
pub fn emit(b: &Branch) -> Result<String, String> {
    let mut out = String::new();
    for item in &b.0 {
        match item {
            Item::Comment(c) => {
                out.push('#');
                out.push_str(&c.value);
                out.push('\n');
            }
            Item::Entry(k, v) => {
                let text = match v {
                    Value::Map(_) | Value::Seq(_) => {
                        return Err(format!(
                            "cannot use complex value in dotenv file; offending key {k}"
                        ));
                    }
                    Value::Str(s) => s.replace('\n', "\\n"),
                    other => other.to_plain_string(),
                };
                out.push_str(k);
                out.push('=');
                out.push_str(&text);
                out.push('\n');
            }
        }
    }
    Ok(out)
}
