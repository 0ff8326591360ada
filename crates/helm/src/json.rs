//! JSON as Go's `encoding/json` writes and reads template values.

use crate::gofmt::format_float_json;
use crate::value::{Map, Object, Value};

/// `json.Marshal` (HTML-escaping `<`, `>`, `&` when `escape_html`), keys sorted.
pub fn to_json(v: &Value, escape_html: bool) -> String {
    let mut out = String::new();
    write(&mut out, v, escape_html, None, 0);
    out
}

/// `json.MarshalIndent(v, "", indent)`.
pub fn to_json_pretty(v: &Value, indent: &str) -> String {
    let mut out = String::new();
    write(&mut out, v, true, Some(indent), 0);
    out
}

fn newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(i) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(i);
        }
    }
}

fn write(out: &mut String, v: &Value, esc: bool, indent: Option<&str>, depth: usize) {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => {
            if f.is_finite() {
                out.push_str(&format_float_json(*f));
            } else {
                out.push_str("null");
            }
        }
        Value::Str(s) => write_str(out, s, esc),
        Value::Bytes(b) => {
            use base64::Engine as _;
            write_str(
                out,
                &base64::engine::general_purpose::STANDARD.encode(b),
                esc,
            );
        }
        Value::List(l) => {
            if l.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write(out, x, esc, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Map(m) => write_map(out, &m.borrow(), esc, indent, depth),
        Value::Object(o) => match &**o {
            Object::Files(f) => {
                let m: Map = f
                    .iter()
                    .map(|(k, b)| (k.clone(), Value::Bytes(b.clone())))
                    .collect();
                write_map(out, &m, esc, indent, depth);
            }
            Object::VersionSet(vs) => {
                let l: Vec<Value> = vs.iter().map(|s| Value::str(s.as_str())).collect();
                write(out, &Value::list(l), esc, indent, depth);
            }
            Object::Struct { fields, .. } => write_map(out, fields, esc, indent, depth),
        },
    }
}

fn write_map(out: &mut String, m: &Map, esc: bool, indent: Option<&str>, depth: usize) {
    if m.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (k, x)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, indent, depth + 1);
        write_str(out, k, esc);
        out.push(':');
        if indent.is_some() {
            out.push(' ');
        }
        write(out, x, esc, indent, depth + 1);
    }
    newline(out, indent, depth);
    out.push('}');
}

fn write_str(out: &mut String, s: &str, esc: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if esc => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `json.Unmarshal` into `interface{}`: numbers are `float64`.
pub fn parse(s: &str) -> Result<Value, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_str(s)?;
    Ok(from_serde(&v))
}

/// Converts a `serde_json` value (numbers become `float64`).
pub fn from_serde(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s.as_str()),
        serde_json::Value::Array(a) => Value::list(a.iter().map(from_serde).collect()),
        serde_json::Value::Object(o) => {
            Value::map(o.iter().map(|(k, v)| (k.clone(), from_serde(v))).collect())
        }
    }
}

/// Converts a `serde_json` value as Kubernetes' unstructured decoding does: integers become
/// `int64`, other numbers `float64` (what `lookup` hands to templates).
pub fn from_serde_ints(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::Array(a) => Value::list(a.iter().map(from_serde_ints).collect()),
        serde_json::Value::Object(o) => Value::map(
            o.iter()
                .map(|(k, v)| (k.clone(), from_serde_ints(v)))
                .collect(),
        ),
        other => from_serde(other),
    }
}

/// Converts to a `serde_json` value (for schema validation and comparisons).
pub fn to_serde(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                serde_json::Value::from(*f as i64)
            } else {
                serde_json::Number::from_f64(*f)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::Bytes(_) | Value::Object(_) => match serde_json::from_str(&to_json(v, false)) {
            Ok(x) => x,
            Err(_) => serde_json::Value::Null,
        },
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_serde).collect()),
        Value::Map(m) => serde_json::Value::Object(
            m.borrow()
                .iter()
                .map(|(k, v)| (k.clone(), to_serde(v)))
                .collect(),
        ),
    }
}
