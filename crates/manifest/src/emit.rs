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

/// Whether a YAML 1.1 reader — go-yaml v2, which kubectl, kustomize's older paths and Flux's CLI
/// use — resolves the plain scalar `s` to something other than a string: booleans (`yes`, `On`),
/// null (`~`), integers (`0x1F`, `0b101`, `017`, `1_000`, sexagesimal `12:30`), floats (`1e3`,
/// `.inf`, `.NaN`) and timestamps (`2001-12-14`). go-yaml writes such strings double-quoted; so
/// does keelson, so that every reader reads them back as strings.
pub fn yaml11_non_string(s: &str) -> bool {
    if is_old_bool(s)
        || matches!(
            s,
            "" | "~"
                | "null"
                | "Null"
                | "NULL"
                | "true"
                | "True"
                | "TRUE"
                | "false"
                | "False"
                | "FALSE"
        )
    {
        return true;
    }
    // go-yaml only tries numbers and timestamps for scalars starting like one.
    if !s.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c)) {
        return false;
    }
    let special = [".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"];
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if special.contains(&s) || (s.len() > unsigned.len() && special[..3].contains(&unsigned)) {
        return true;
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    go_int(&plain) || plain.parse::<f64>().is_ok() || sexagesimal(s) || timestamp(s)
}

/// Go's `strconv.ParseInt(s, 0, 64)` syntax: sign, then `0x`/`0o`/`0b`/leading-`0` octal or
/// decimal digits.
fn go_int(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (body, radix) = match digits.get(..2) {
        Some("0x" | "0X") => (&digits[2..], 16),
        Some("0o" | "0O") => (&digits[2..], 8),
        Some("0b" | "0B") => (&digits[2..], 2),
        _ if digits.len() > 1 && digits.starts_with('0') => (&digits[1..], 8),
        _ => (digits, 10),
    };
    !body.is_empty() && body.chars().all(|c| c.is_digit(radix))
}

/// YAML 1.1 base-60 numbers: `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?`.
fn sexagesimal(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (body, fraction) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = body.split(':');
    let head = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && head.starts_with(|c: char| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_')
        && rest.iter().all(|p| {
            matches!(p.len(), 1 | 2)
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || p.as_bytes()[0] <= b'5')
        })
        && fraction.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// A YAML 1.1 timestamp: `YYYY-M-D`, alone or followed by a time (`T`, `t` or a space).
fn timestamp(s: &str) -> bool {
    let mut parts = s.splitn(3, '-');
    let (Some(year), Some(month), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let day_len = rest.chars().take_while(char::is_ascii_digit).count();
    let after = &rest[day_len..];
    year.len() == 4
        && year.chars().all(|c| c.is_ascii_digit())
        && matches!(month.len(), 1 | 2)
        && month.chars().all(|c| c.is_ascii_digit())
        && matches!(day_len, 1 | 2)
        && (after.is_empty()
            || (after.starts_with(['T', 't', ' '])
                && after[1..].starts_with(|c: char| c.is_ascii_digit())))
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || yaml11_non_string(s) || !resolve_plain(s).is_string() {
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
    fn yaml11_look_alikes_are_quoted_as_go_yaml_quotes_them() {
        // Double-quoted by `flux create … --export` (go-yaml v2), checked by hand against flux 2.7.
        for s in [
            "2001-12-14",
            ".inf",
            "-.Inf",
            ".NaN",
            "0b101",
            "-0",
            "1__0",
            "1_",
            "+.5",
            "Yes",
            "ON",
            "1.0e+3",
            "12:30:45",
            "1.0",
            "true",
            "null",
            "NULL",
            "~",
            "0x1F",
            "017",
            "1e3",
            "0o17",
            "+1",
            "y",
            "",
        ] {
            assert!(yaml11_non_string(s), "{s}");
            assert_eq!(to_yaml(&json!({ "a": s })), format!("a: \"{s}\"\n"));
        }
        // Plain in flux's output.
        for s in [
            "inf", "1.2.3", "v1.0", "1e", "0x", "yES", "=", "<<", "infinity", "2001-12",
        ] {
            assert!(!yaml11_non_string(s), "{s}");
        }
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
