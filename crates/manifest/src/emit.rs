//! [`serde_json::Value`]s back to YAML, laid out as kustomize lays out its output: two-space
//! indentation, sequences under a mapping key not indented, multi-line strings as literal blocks,
//! and strings quoted only where a plain scalar would read back as something else.

use std::fmt::Write;

use serde_json::Value;

use crate::parse::resolve_plain;

/// Writes a list of objects as a multi-document YAML stream (`---` between documents), as
/// `kustomize build` prints it.
pub fn to_yaml_stream<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(value));
    }
    out
}

/// Writes one value as a YAML document (without a `---` line).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            write_inline(&mut out, other, 0);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    let mut first = true;
    for (key, value) in map {
        if !first {
            indent(out, level);
        }
        first = false;
        write_string(out, key, level, true);
        out.push(':');
        write_after_key(out, value, level);
    }
}

/// Writes what follows `key:` (or `- `) for a value nested at `level`.
fn write_after_key(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            indent(out, level + 2);
            write_map(out, map, level + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            indent(out, level);
            write_seq(out, items, level);
        }
        other => {
            out.push(' ');
            write_inline(out, other, level + 2);
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    let mut first = true;
    for item in items {
        if !first {
            indent(out, level);
        }
        first = false;
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, level + 2),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, level + 2),
            other => {
                write_inline(out, other, level + 2);
                out.push('\n');
            }
        }
    }
}

fn write_inline(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s, level, false),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// YAML 1.1 booleans that go-yaml quotes on output so that older readers keep them strings.
fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || is_old_bool(s) || !resolve_plain(s).is_string() {
        return false;
    }
    if s.starts_with(' ') || s.ends_with(' ') || s.ends_with(':') {
        return false;
    }
    let first = s.as_bytes()[0];
    if matches!(
        first,
        b'[' | b']'
            | b'{'
            | b'}'
            | b','
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    ) {
        return false;
    }
    if matches!(first, b'-' | b'?' | b':') {
        match s.as_bytes().get(1) {
            None | Some(b' ') => return false,
            _ => {}
        }
        if s.starts_with("---") {
            return false;
        }
    }
    if s.starts_with("...") {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains('\t') {
        return false;
    }
    !s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}'
    })
}

fn write_string(out: &mut String, s: &str, level: usize, key: bool) {
    if plain_ok(s) {
        out.push_str(s);
        return;
    }
    if !key && literal_ok(s) {
        write_literal(out, s, level);
        return;
    }
    write_double_quoted(out, s);
}

/// A multi-line string that a literal block can carry exactly.
fn literal_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with(' ')
        && !s.starts_with('\n')
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
        && !s.split('\n').any(|line| line.ends_with(' '))
}

fn write_literal(out: &mut String, s: &str, level: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    out.push('|');
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = if trailing == 1 { &s[..s.len() - 1] } else { s };
    let body = if trailing > 1 {
        &body[..body.len() - 1]
    } else {
        body
    };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
    }
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse::parse_value;
    use serde_json::json;

    fn roundtrip(v: Value) {
        let text = to_yaml(&v);
        assert_eq!(parse_value(&text).unwrap(), v, "{text}");
    }

    #[test]
    fn round_trips() {
        roundtrip(json!({
            "apiVersion": "v1",
            "data": {"a": "1", "b": "true", "c": "line1\nline2\n", "d": "x: y", "e": "", "f": "yes",
                     "g": "  lead", "h": "no newline\nend", "i": "trail\n\n", "j": "-x", "k": "#c", "l": "=",
                     "m": "tab\there", "n": "a #b", "o": "1.0", "p": "0644", "q": "null"},
            "list": [{"a": 1, "b": [1, 2, []]}, [1, [2]], {}, null, 1.5],
            "empty": {},
        }));
    }

    #[test]
    fn layout_matches_kustomize() {
        let v = json!({"metadata": {"name": "x"}, "items": [{"a": 1, "b": 2}, "s"]});
        assert_eq!(
            to_yaml(&v),
            "metadata:\n  name: x\nitems:\n- a: 1\n  b: 2\n- s\n"
        );
    }
}
