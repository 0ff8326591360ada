//! `toToml`: values written as TOML (as `BurntSushi/toml`'s encoder lays them out).

use crate::value::{Map, Value};

/// Writes a map as TOML: plain keys first, then tables.
pub fn to_toml(v: &Value) -> String {
    let mut out = String::new();
    if let Some(m) = v.as_map() {
        write_table(&mut out, &m, "");
    }
    out
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        crate::gofmt::go_quote(k)
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Str(s) => crate::gofmt::go_quote(s),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                crate::gofmt::format_float_g(*f, None)
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::List(l) => format!("[{}]", l.iter().map(scalar).collect::<Vec<_>>().join(", ")),
        _ => "\"\"".into(),
    }
}

fn write_table(out: &mut String, m: &Map, prefix: &str) {
    for (k, v) in m {
        if !matches!(v, Value::Map(_) | Value::Nil) {
            out.push_str(&format!("{} = {}\n", key(k), scalar(v)));
        }
    }
    for (k, v) in m {
        if let Some(sub) = v.as_map() {
            let name = if prefix.is_empty() {
                key(k)
            } else {
                format!("{prefix}.{}", key(k))
            };
            out.push_str(&format!("\n[{name}]\n"));
            write_table(out, &sub, &name);
        }
    }
}
