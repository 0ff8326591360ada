//! JSON as sops reads and writes it: key order kept, numbers split into int and float as Go's
//! `json.Number` does, output indented like Go's `json.Indent` (tab by default).

use crate::tree::{Branch, Item, Value};

/// Parses a JSON document whose top level is an object.
pub fn parse(text: &str) -> Result<Branch, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match v {
        serde_json::Value::Object(_) => match convert(v) {
            Value::Map(b) => Ok(b),
            _ => Err("internal error converting JSON".to_string()),
        },
        _ => Err(
            "sops only supports JSON files with a top-level object (starting with '{')".to_string(),
        ),
    }
}

fn convert(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(a) => Value::Seq(a.into_iter().map(convert).collect()),
        serde_json::Value::Object(o) => {
            let mut b = Branch::default();
            for (k, v) in o {
                b.push(k, convert(v));
            }
            Value::Map(b)
        }
    }
}

/// Go's `json.Marshal` of a string (HTML-safe escaping).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Marshal` of a float64.
fn float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!("unsupported value: {}", crate::tree::go_float_f(f)));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // 'e' format, exponent without zero padding.
        let g = crate::tree::go_float_g(f, -100);
        Ok(g.replace("e-0", "e-").replace("e+0", "e+"))
    } else {
        Ok(crate::tree::go_float_f(f))
    }
}

/// Writes the branch as JSON; `indent` is `None` for a tab, else that many spaces.
pub fn emit(branch: &Branch, indent: Option<usize>) -> Result<String, String> {
    let unit = match indent {
        None => "\t".to_string(),
        Some(n) => " ".repeat(n),
    };
    let mut out = String::new();
    map(&mut out, branch, &unit, 0)?;
    out.push('\n');
    Ok(out)
}

fn newline(out: &mut String, unit: &str, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(unit);
    }
}

fn map(out: &mut String, b: &Branch, unit: &str, depth: usize) -> Result<(), String> {
    let entries: Vec<_> = b.entries().collect();
    if entries.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, unit, depth + 1);
        string(out, k);
        out.push_str(": ");
        value(out, v, unit, depth + 1)?;
    }
    newline(out, unit, depth);
    out.push('}');
    Ok(())
}

fn value(out: &mut String, v: &Value, unit: &str, depth: usize) -> Result<(), String> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float(*f)?),
        Value::Str(s) | Value::Time(s) => string(out, s),
        Value::Bytes(b) => {
            use base64::Engine;
            string(out, &base64::engine::general_purpose::STANDARD.encode(b));
        }
        Value::Map(b) => map(out, b, unit, depth)?,
        Value::Seq(items) => {
            let items: Vec<_> = items
                .iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .collect();
            if items.is_empty() {
                out.push_str("[]");
            } else {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, unit, depth + 1);
                    value(out, item, unit, depth + 1)?;
                }
                newline(out, unit, depth);
                out.push(']');
            }
        }
        Value::Comment(_) => {}
    }
    Ok(())
}

/// Drops comment items (JSON has none) — used when a tree from another format is written.
pub fn strip_comments(b: &mut Branch) {
    b.0.retain(|i| !matches!(i, Item::Comment(_)));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_like_go() {
        let b = parse(r#"{"a": 1, "b": [1.5, "x<y"], "c": {}, "d": 1e-7}"#).unwrap();
        assert_eq!(
            emit(&b, None).unwrap(),
            "{\n\t\"a\": 1,\n\t\"b\": [\n\t\t1.5,\n\t\t\"x\\u003cy\"\n\t],\n\t\"c\": {},\n\t\"d\": 1e-7\n}\n"
        );
    }
}
