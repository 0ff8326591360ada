//! YAML as Helm reads and writes it.
//!
//! Reading follows `sigs.k8s.io/yaml`: YAML 1.1 scalar resolution of `gopkg.in/yaml.v2`
//! (`yes`/`on` are booleans, `0777` is octal, `~` is null), merge keys, non-string keys turned
//! into strings, and — when `json_numbers` is set, as for values — every number a `float64`, as
//! the trip through JSON makes it. Writing follows `yaml.v2`'s emitter: sorted keys, sequences not
//! indented under their key, strings quoted only when they would read back as something else.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::gofmt::{format_float_g, format_float_json};
use crate::value::{Map, Value};

/// A YAML document that could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("failed to parse YAML at line {line}, column {col}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map, Option<Value>, usize, Vec<Value>),
}

/// Resolves a plain scalar as `yaml.v2` does.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Nil,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.') {
        let plain = s.replace('_', "");
        if let Some(i) = parse_go_int(&plain) {
            return Value::Int(i);
        }
        if is_yaml_float(&plain)
            && let Ok(f) = plain.parse::<f64>()
        {
            return Value::Float(f);
        }
    }
    Value::str(s)
}

/// `strconv.ParseInt(s, 0, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if body.is_empty() {
        return None;
    }
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        if !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && matches!(b[i], b'-' | b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == fs {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'-' | b'+') {
            i += 1;
        }
        let es = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == es {
            return false;
        }
    }
    i == b.len()
}

fn key_string(k: &Value) -> Result<String, String> {
    Ok(match k {
        Value::Str(s) => s.to_string(),
        Value::Nil => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float_g(*f, None),
        other => {
            return Err(format!(
                "map key of type {} is not supported",
                other.type_name()
            ));
        }
    })
}

/// Converts every number to `float64`, as decoding the JSON form into `interface{}` does.
pub fn json_numbers(v: Value) -> Value {
    match v {
        Value::Int(i) => Value::Float(i as f64),
        Value::List(l) => Value::list(l.iter().cloned().map(json_numbers).collect()),
        Value::Map(m) => {
            let inner = m.borrow().clone();
            Value::map(
                inner
                    .into_iter()
                    .map(|(k, v)| (k, json_numbers(v)))
                    .collect(),
            )
        }
        other => other,
    }
}

/// Parses every document of a YAML stream. Empty documents are `nil`.
///
/// Like go-yaml, lines inside a flow collection (`[…]`, `{…}`) may be indented no deeper than
/// the line that opened it (charts write `command: [` … `]` with the `]` under the key): when
/// the strict parse fails, such lines are indented past their opener and the text is parsed
/// again (whitespace there is insignificant).
pub fn parse_all(src: &str) -> Result<Vec<Value>, YamlError> {
    match parse_all_strict(src) {
        Ok(v) => Ok(v),
        Err(e) => match reindent_flow(src) {
            Some(fixed) => parse_all_strict(&fixed).map_err(|_| e),
            None => Err(e),
        },
    }
}

/// Indents lines that start inside a flow collection past the line that opened it; `None`
/// when no line needed it.
fn reindent_flow(src: &str) -> Option<String> {
    let mut out = String::with_capacity(src.len() + 64);
    let mut depth = 0usize;
    let mut opener_indent = 0usize;
    let mut quote: Option<char> = None;
    let mut changed = false;
    for line in src.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if depth > 0 && quote.is_none() && indent <= opener_indent && !line.trim().is_empty() {
            out.push_str(&" ".repeat(opener_indent + 1 - indent));
            changed = true;
        }
        out.push_str(line);
        let mut prev_sig: Option<char> = None; // last non-space char before this one, on the line
        let mut prev: Option<char> = None;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some('\'') => {
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            quote = None;
                        }
                    }
                }
                Some(_) => {
                    if c == '\\' {
                        chars.next();
                    } else if c == '"' {
                        quote = None;
                    }
                }
                None => match c {
                    '#' if prev.is_none_or(|p| p == ' ' || p == '\t') => break,
                    '\'' | '"' if prev.is_none_or(|p| " \t[{,:".contains(p)) => quote = Some(c),
                    '[' | '{' => {
                        let value_start = prev_sig.is_none_or(|p| {
                            p == ':' || p == '-' || p == ',' || p == '[' || p == '{'
                        });
                        if depth > 0 || value_start {
                            if depth == 0 {
                                opener_indent = indent;
                            }
                            depth += 1;
                        }
                    }
                    ']' | '}' if depth > 0 => depth -= 1,
                    _ => {}
                },
            }
            if !c.is_whitespace() {
                prev_sig = Some(c);
            }
            prev = Some(c);
        }
    }
    changed.then_some(out)
}

fn parse_all_strict(src: &str) -> Result<Vec<Value>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut doc: Option<Value> = None;
    let mut parser = Parser::new_from_str(src);
    for item in parser.by_ref() {
        let (ev, span) = item.map_err(|e| YamlError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        let last_pos = (span.start.line(), span.start.col() + 1);
        let err = |m: String| YamlError {
            line: last_pos.0,
            col: last_pos.1,
            message: m,
        };
        let value = match ev {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                doc = None;
                continue;
            }
            Event::DocumentEnd => {
                docs.push(doc.take().unwrap_or(Value::Nil));
                anchors.clear();
                continue;
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(v) => v.deep_copy(),
                None => return Err(err("unknown anchor".into())),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let v = match (&tag, style) {
                    (Some(t), _) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => {
                        match t.suffix.as_str() {
                            "str" | "binary" => Value::str(&*text),
                            "int" | "float" | "bool" | "null" => resolve_plain(&text),
                            _ => resolve_plain(&text),
                        }
                    }
                    (Some(_), ScalarStyle::Plain) => resolve_plain(&text),
                    (_, ScalarStyle::Plain) => resolve_plain(&text),
                    _ => Value::str(&*text),
                };
                if anchor > 0 {
                    anchors.insert(anchor, v.clone());
                }
                v
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Map::new(), None, anchor, Vec::new()));
                continue;
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq(items, anchor)) = stack.pop() else {
                    return Err(err("unbalanced sequence".into()));
                };
                let v = Value::list(items);
                if anchor > 0 {
                    anchors.insert(anchor, v.clone());
                }
                v
            }
            Event::MappingEnd => {
                let Some(Frame::Map(mut m, _, anchor, merges)) = stack.pop() else {
                    return Err(err("unbalanced mapping".into()));
                };
                for merge in merges {
                    let sources = match &merge {
                        Value::List(l) => l.iter().cloned().collect(),
                        other => vec![other.clone()],
                    };
                    for src in sources {
                        if let Some(sm) = src.as_map() {
                            for (k, v) in sm.iter() {
                                m.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                    }
                }
                let v = Value::map(m);
                if anchor > 0 {
                    anchors.insert(anchor, v.clone());
                }
                v
            }
        };
        // attach the value to its parent
        match stack.last_mut() {
            None => doc = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(m, key, _, merges)) => match key.take() {
                None => *key = Some(value),
                Some(k) => {
                    if matches!(&k, Value::Str(s) if &**s == "<<") {
                        merges.push(value);
                    } else {
                        let ks = key_string(&k).map_err(err)?;
                        m.insert(ks, value);
                    }
                }
            },
        }
    }
    if let Some(d) = doc {
        docs.push(d);
    }
    Ok(docs)
}

/// Parses a single-document YAML text (an empty text is `nil`).
pub fn parse(src: &str) -> Result<Value, YamlError> {
    Ok(parse_all(src)?.into_iter().next().unwrap_or(Value::Nil))
}

/// Writes `v` as `yaml.v2`'s `Marshal` of its JSON form does (what Helm's `toYaml` produces),
/// with a trailing newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Map(m) if !m.borrow().is_empty() => emit_map(&mut out, &m.borrow(), 0),
        Value::List(l) if !l.is_empty() => emit_seq(&mut out, l, 0),
        other => {
            emit_scalar_inline(&mut out, other, 0);
            out.push('\n');
        }
    }
    out
}

fn emit_map(out: &mut String, m: &Map, indent: usize) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        emit_string(out, k, indent, true);
        out.push(':');
        emit_value_after_key(out, v, indent);
    }
}

fn emit_value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Map(m) if !m.borrow().is_empty() => {
            out.push('\n');
            emit_map(out, &m.borrow(), indent + 2);
        }
        Value::List(l) if !l.is_empty() => {
            out.push('\n');
            emit_seq(out, l, indent);
        }
        other => {
            out.push(' ');
            emit_scalar_inline(out, other, indent + 2);
            out.push('\n');
        }
    }
}

fn emit_seq(out: &mut String, l: &[Value], indent: usize) {
    for v in l {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            Value::Map(m) if !m.borrow().is_empty() => {
                out.push(' ');
                let mut first = true;
                for (k, x) in m.borrow().iter() {
                    if !first {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    first = false;
                    emit_string(out, k, indent + 2, true);
                    out.push(':');
                    emit_value_after_key(out, x, indent + 2);
                }
            }
            Value::List(inner) if !inner.is_empty() => {
                out.push(' ');
                let mut s = String::new();
                emit_seq(&mut s, inner, indent + 2);
                out.push_str(s.trim_start());
            }
            other => {
                out.push(' ');
                emit_scalar_inline(out, other, indent + 2);
                out.push('\n');
            }
        }
    }
}

fn emit_scalar_inline(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&yaml_float(*f)),
        Value::Str(s) => emit_string(out, s, indent, false),
        Value::Bytes(b) => {
            use base64::Engine as _;
            let s = base64::engine::general_purpose::STANDARD.encode(b);
            emit_string(out, &s, indent, false);
        }
        Value::Map(_) => out.push_str("{}"),
        Value::List(_) => out.push_str("[]"),
        Value::Object(_) => {
            let j = crate::json::to_json(v, false);
            match crate::json::parse(&j) {
                Ok(x) if !matches!(x, Value::Object(_)) => emit_scalar_inline(out, &x, indent),
                _ => out.push_str("{}"),
            }
        }
    }
}

/// How a float64 comes out of the JSON → YAML round trip.
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let j = format_float_json(f);
    if parse_go_int(&j).is_some() {
        return j;
    }
    format_float_g(f, None)
}

/// yaml.v2's `parseTimestamp`: a plain scalar that would read back as a timestamp (and is
/// therefore quoted when written): `YYYY-M-D`, optionally followed by `T`/`t`/space and
/// `H:M:S[.frac]`, with a zone (`Z`, `±hh:mm`) only after `T`/`t`.
pub fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    fn num(b: &[u8], i: &mut usize, max_digits: usize) -> Option<u32> {
        let start = *i;
        while *i < b.len() && *i - start < max_digits && b[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            return None;
        }
        std::str::from_utf8(&b[start..*i]).ok()?.parse().ok()
    }
    let year: u32 = s[..4].parse().unwrap_or(0);
    let mut i = 5;
    let Some(month) = num(b, &mut i, 2) else {
        return false;
    };
    if i >= b.len() || b[i] != b'-' {
        return false;
    }
    i += 1;
    let Some(day) = num(b, &mut i, 2) else {
        return false;
    };
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days {
        return false;
    }
    if i == b.len() {
        return true;
    }
    let sep = b[i];
    if !matches!(sep, b'T' | b't' | b' ') {
        return false;
    }
    i += 1;
    for (k, max) in [(0, 23), (1, 59), (2, 59)] {
        let Some(v) = num(b, &mut i, 2) else {
            return false;
        };
        if v > max {
            return false;
        }
        if k < 2 {
            if i >= b.len() || b[i] != b':' {
                return false;
            }
            i += 1;
        }
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if i == b.len() {
        return sep == b' ';
    }
    if sep == b' ' {
        return false;
    }
    match b[i] {
        b'Z' => i + 1 == b.len(),
        b'+' | b'-' => {
            let z = &s[i + 1..];
            z.len() == 5
                && z.as_bytes()[2] == b':'
                && z[..2].bytes().all(|c| c.is_ascii_digit())
                && z[3..].bytes().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

fn plain_safe(s: &str) -> bool {
    if s.is_empty() || s != s.trim() {
        return false;
    }
    if !matches!(resolve_plain(s), Value::Str(_)) || looks_like_timestamp(s) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        let second = s[first.len_utf8()..].chars().next();
        let dash_ok = first == '-' && second.is_some_and(|c| c != ' ') && !s.starts_with("---");
        if !dash_ok {
            return false;
        }
    }
    if s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with("---")
        || s.starts_with("...")
    {
        return false;
    }
    if s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}'
    }) {
        return false;
    }
    // base-60 floats of YAML 1.1 (`1:20`) are quoted by yaml.v2
    if s.contains(':')
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.' || c == '_' || c == '-' || c == '+')
    {
        return false;
    }
    true
}

fn emit_string(out: &mut String, s: &str, indent: usize, is_key: bool) {
    if plain_safe(s) {
        out.push_str(s);
        return;
    }
    let resolves_other =
        !s.is_empty() && (!matches!(resolve_plain(s), Value::Str(_)) || looks_like_timestamp(s));
    if !is_key && s.contains('\n') && literal_ok(s) {
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        out.push('|');
        out.push_str(chomp);
        let pad = " ".repeat(indent.max(2));
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
        return;
    }
    let printable = !s.chars().any(|c| c.is_control() || c == '\u{feff}');
    if printable && !resolves_other && !s.is_empty() {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
        return;
    }
    out.push_str(&double_quoted(s));
}

fn literal_ok(s: &str) -> bool {
    if s.starts_with(' ') || s.starts_with('\n') {
        return false;
    }
    if s.chars()
        .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
    {
        return false;
    }
    // trailing spaces before a line break are not allowed in block scalars by yaml.v2
    !s.split('\n').any(|l| l.ends_with(' '))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else {
                    out.push_str(&format!("\\u{n:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_yaml_v2() {
        assert!(matches!(resolve_plain("yes"), Value::Bool(true)));
        assert!(matches!(resolve_plain("Off"), Value::Bool(false)));
        assert!(matches!(resolve_plain("0777"), Value::Int(511)));
        assert!(matches!(resolve_plain("0x1F"), Value::Int(31)));
        assert!(matches!(resolve_plain("1_000"), Value::Int(1000)));
        assert!(matches!(resolve_plain("1e3"), Value::Float(f) if f == 1000.0));
        assert!(matches!(resolve_plain("~"), Value::Nil));
        assert!(matches!(resolve_plain("1.2.3"), Value::Str(_)));
        // keys resolve too: `y:` is the boolean true, written back as "true"
        let v = parse("y: 1").unwrap();
        assert!(v.as_map().unwrap().contains_key("true"));
    }

    #[test]
    fn round_trips() {
        let src = "a: 1\nb:\n- x\n- w: [1, 2]\n  z: 'q: r'\nc: |\n  line1\n  line2\nd: \"8080\"\ne: {}\nf: null\n";
        let v = parse(src).unwrap();
        let out = to_yaml(&v);
        let back = parse(&out).unwrap();
        assert!(v.deep_eq(&back), "{out}");
        assert_eq!(
            out,
            "a: 1\nb:\n- x\n- w:\n  - 1\n  - 2\n  z: 'q: r'\nc: |\n  line1\n  line2\nd: \"8080\"\ne: {}\nf: null\n"
        );
    }

    #[test]
    fn merge_keys_and_anchors() {
        let v = parse("base: &b {x: 1, w: 2}\nderived:\n  <<: *b\n  w: 3\n").unwrap();
        let m = v.as_map().unwrap();
        let d = m.get("derived").unwrap().as_map().unwrap().clone();
        assert!(matches!(d.get("x"), Some(Value::Int(1))));
        assert!(matches!(d.get("w"), Some(Value::Int(3))));
    }
}
