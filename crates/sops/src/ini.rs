//! INI as sops reads and writes it (through the go-ini library): sections of `key = value`,
//! `;`/`#` comments, keys before any section in `DEFAULT`.

use crate::tree::{Branch, Comment, Item, Value};

fn strip_comment_char(c: &str) -> String {
    if c.starts_with(';') {
        c.trim_start_matches([';', ' ']).to_string()
    } else if c.starts_with('#') {
        c.trim_start_matches(['#', ' ']).to_string()
    } else {
        c.to_string()
    }
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// Parses INI text into one entry per section, each a mapping of its keys.
pub fn parse(text: &str) -> Result<Branch, String> {
    let mut sections: Vec<(String, Branch)> = vec![("DEFAULT".to_string(), Branch::default())];
    let mut pending: Vec<String> = Vec::new();
    let mut section_comment: Vec<Option<String>> = vec![None];
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let n = i + 1;
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() {
            continue;
        }
        if line.starts_with(';') || line.starts_with('#') {
            pending.push(line.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(format!("line {n}: unclosed section header"));
            };
            let name = rest[..end].trim().to_string();
            let comment = (!pending.is_empty()).then(|| pending.join("\n"));
            pending.clear();
            match sections.iter().position(|(s, _)| *s == name) {
                Some(_) => {}
                None => {
                    sections.push((name, Branch::default()));
                    section_comment.push(comment);
                }
            }
            continue;
        }
        let Some(pos) = line.find(['=', ':']) else {
            return Err(format!("line {n}: expected key = value"));
        };
        let key = unquote(line[..pos].trim()).to_string();
        let mut value = line[pos + 1..].trim().to_string();
        let mut inline_comment = None;
        if let Some(rest) = value.strip_prefix("\"\"\"") {
            // Multi-line value.
            let mut v = rest.to_string();
            while !v.ends_with("\"\"\"") && i < lines.len() {
                v.push('\n');
                v.push_str(lines[i]);
                i += 1;
            }
            value = v.strip_suffix("\"\"\"").unwrap_or(&v).to_string();
        } else if let Some(rest) = value.strip_prefix('`') {
            value = rest.strip_suffix('`').unwrap_or(rest).to_string();
        } else {
            if let Some(p) = value.find(['#', ';']) {
                inline_comment = Some(value[p..].to_string());
                value = value[..p].trim().to_string();
            }
            value = unquote(&value).to_string();
        }
        let mut comment = pending.join("\n");
        pending.clear();
        if let Some(ic) = inline_comment {
            if !comment.is_empty() {
                comment.push('\n');
            }
            comment.push_str(&ic);
        }
        let Some((_, branch)) = sections.last_mut() else {
            return Err(format!("line {n}: internal error"));
        };
        branch.push(key, Value::Str(value));
        if !comment.is_empty() {
            branch
                .0
                .push(Item::Comment(Comment::line(strip_comment_char(&comment))));
        }
    }
    let mut out = Branch::default();
    for ((name, mut keys), comment) in sections.into_iter().zip(section_comment) {
        if name == "DEFAULT" && keys.0.is_empty() {
            continue;
        }
        if let Some(c) = comment {
            keys.0
                .insert(0, Item::Comment(Comment::line(strip_comment_char(&c))));
        }
        out.push(name, Value::Map(keys));
    }
    Ok(out)
}

fn comment_lines(out: &mut String, c: &str) {
    for line in c.split('\n') {
        if !(line.starts_with(';') || line.starts_with('#')) {
            out.push_str("; ");
        }
        out.push_str(line);
        out.push('\n');
    }
}

/// Writes INI text the way go-ini's `WriteTo` does (aligned `=`, blank line after sections).
pub fn emit(b: &Branch) -> Result<String, String> {
    let mut out = String::new();
    for (n, (name, value)) in b.entries().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let Value::Map(keys) = value else {
            return Err("section values should always be mappings".to_string());
        };
        let mut items: &[Item] = &keys.0;
        if let Some(Item::Comment(c)) = items.first() {
            comment_lines(&mut out, &c.value);
            items = &items[1..];
        }
        if name != "DEFAULT" || !items.is_empty() {
            out.push('[');
            out.push_str(name);
            out.push_str("]\n");
        }
        let align = items
            .iter()
            .filter_map(|i| match i {
                Item::Entry(k, _) => Some(k.len()),
                Item::Comment(_) => None,
            })
            .max()
            .unwrap_or(0);
        // go-ini keeps one comment per key, written above it; sops stores it after the key.
        let mut idx = 0;
        while idx < items.len() {
            if let Item::Entry(k, v) = &items[idx] {
                if let Some(Item::Comment(c)) = items.get(idx + 1) {
                    comment_lines(&mut out, &c.value);
                }
                let mut val = v.to_plain_string();
                if val.contains(['\n', '`']) {
                    val = format!("\"\"\"{val}\"\"\"");
                } else if val.contains(['#', ';']) {
                    val = format!("`{val}`");
                } else if val.trim() != val {
                    val = format!("\"{val}\"");
                }
                out.push_str(k);
                out.push_str(&" ".repeat(align - k.len()));
                out.push_str(" = ");
                out.push_str(&val);
                out.push('\n');
            }
            idx += 1;
        }
    }
    Ok(out)
}
