//! YAML as Helm reads and writes it.
//!
//! Reading follows `sigs.k8s.io/yaml`: YAML 1.1 scalar resolution of `gopkg.in/yaml.v2`
//! (`yes`/`on` are booleans, `0777` is octal, `~` is null), merge keys, non-string keys turned
//! into strings, and — when `json_numbers` is set, as for values — every number a `float64`, as
//! the trip through JSON makes it. Writing follows `yaml.v2`'s emitter: sorted keys, sequences not
//! indented under their key, strings quoted only when they would read back as something else.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

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

/// What a plain scalar resolves to in `yaml.v2` (`resolve("", s)`).
#[derive(Debug, Clone)]
pub enum Resolved {
    /// A string (`!!str`).
    Str,
    /// A timestamp: decoded into `interface{}` it stays a string, but it is quoted when written.
    Timestamp,
    /// Any other tag: null, bool, int, float (an unsigned int past `int64` is a float here).
    Other(Value),
}

/// `yaml.v2`'s `resolve("", s)`: the `resolveTable` hint of the first byte decides what is
/// tried — `M` (`yYnNtTfFoO~`) only the fixed words, `.` the words and `ParseFloat`, a digit or
/// sign the words, a timestamp, `ParseInt(s without _, 0)`, `ParseUint`, then a float matching
/// `yamlStyleFloat`. Anything else is a string.
pub fn resolve(s: &str) -> Resolved {
    use crate::template::number::{go_parse_float, go_parse_int0, go_parse_uint0};
    let word = match s {
        "" | "~" | "null" | "Null" | "NULL" => Some(Value::Nil),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(Value::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(Value::Bool(false))
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(Value::Float(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => Some(Value::Float(f64::NAN)),
        _ => None,
    };
    if let Some(v) = word {
        return Resolved::Other(v);
    }
    match s.as_bytes()[0] {
        b'.' => match go_parse_float(s) {
            Some(f) => Resolved::Other(Value::Float(f)),
            None => Resolved::Str,
        },
        b'+' | b'-' | b'0'..=b'9' => {
            if looks_like_timestamp(s) {
                return Resolved::Timestamp;
            }
            let plain = s.replace('_', "");
            if let Some(i) = go_parse_int0(&plain) {
                return Resolved::Other(Value::Int(i));
            }
            if let Some(u) = go_parse_uint0(&plain) {
                return Resolved::Other(Value::Float(u as f64));
            }
            if is_yaml_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Resolved::Other(Value::Float(f));
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Resolves a plain scalar as `yaml.v2` decodes it into `interface{}` (a timestamp stays a
/// string).
pub fn resolve_plain(s: &str) -> Value {
    match resolve(s) {
        Resolved::Other(v) => v,
        Resolved::Str | Resolved::Timestamp => Value::str(s),
    }
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

/// A map key as `sigs.k8s.io/yaml` turns it into a JSON key: ints in decimal, floats with
/// `FormatFloat(f, 'g', -1, 32)` (`.inf`, `-.inf`, `.nan` for the specials), bools as words; a
/// null (or uint64) key is refused.
fn key_string(k: &Value) -> Result<String, String> {
    Ok(match k {
        Value::Str(s) => s.to_string(),
        Value::Nil => {
            return Err("unsupported map key of type: %!s(<nil>), key: <nil>".into());
        }
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float32_g(*f),
        other => {
            return Err(format!(
                "map key of type {} is not supported",
                other.type_name()
            ));
        }
    })
}

/// `strconv.FormatFloat(f, 'g', -1, 32)` with yaml's names for the specials.
fn format_float32_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    // the shortest digits that read back as this float32
    let e = format!("{:e}", f as f32);
    let (neg, e) = match e.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, e.as_str()),
    };
    let (mant, exp) = e.split_once('e').unwrap_or((e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let es = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{es}{:02}", exp.abs());
    }
    let dp = exp + 1;
    let out = if dp <= 0 {
        format!("0.{}{digits}", "0".repeat((-dp) as usize))
    } else if (dp as usize) >= digits.len() {
        format!("{digits}{}", "0".repeat(dp as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    };
    format!("{sign}{out}")
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

/// go-yaml's bound on alias expansion (`allowedAliasRatio` in decode.go, the same in v2 and
/// v3): once more than 1000 nodes were decoded and more than 100 came from aliases, at most
/// 99 % of them may come from aliases up to 400 000 nodes, falling linearly to 10 % at
/// 4 000 000.
fn allowed_alias_ratio(decoded: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

/// Counts nodes as go-yaml's decoder does: every node of the text is one (mapping keys too), an
/// alias one plus every node it expands to. go-yaml checks after each node; during an alias'
/// expansion the alias share only grows and the allowed share only shrinks, so one check with
/// the whole expansion refuses the same documents — before anything is copied.
#[derive(Default)]
struct AliasBudget {
    decoded: u64,
    from_aliases: u64,
}

impl AliasBudget {
    fn node(&mut self) {
        self.decoded = self.decoded.saturating_add(1);
    }

    fn alias(&mut self, expands_to: u64) -> Result<(), String> {
        self.decoded = self.decoded.saturating_add(1).saturating_add(expands_to);
        self.from_aliases = self.from_aliases.saturating_add(expands_to);
        if self.from_aliases > 100
            && self.decoded > 1000
            && self.from_aliases as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
        {
            return Err(format!(
                "{} of {} nodes would come from aliases (at most {:.0} % allowed, as go-yaml)",
                self.from_aliases,
                self.decoded,
                100.0 * allowed_alias_ratio(self.decoded)
            ));
        }
        Ok(())
    }
}

/// A collection being built: its items, its anchor, and how many nodes it stands for.
enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        nodes: u64,
    },
    Map {
        map: Map,
        /// The key read, waiting for its value; `true` for a merge key (a plain `<<`).
        key: Option<(Value, bool)>,
        anchor: usize,
        nodes: u64,
    },
}

/// Applies a merge key's value as yaml.v2 does: at its place among the keys (later keys, and
/// the merge itself over earlier ones, win); in a sequence of maps the earlier maps win.
fn apply_merge(m: &mut Map, merge: &Value) -> Result<(), String> {
    let want = "map merge requires map or sequence of maps as the value";
    match merge {
        Value::Map(src) => {
            for (k, v) in src.borrow().iter() {
                m.insert(k.clone(), v.clone());
            }
        }
        Value::List(l) => {
            for item in l.iter().rev() {
                let Value::Map(src) = item else {
                    return Err(want.into());
                };
                for (k, v) in src.borrow().iter() {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        _ => return Err(want.into()),
    }
    Ok(())
}

fn parse_all_strict(src: &str) -> Result<Vec<Value>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // anchor id -> (value, nodes it expands to)
    let mut anchors: HashMap<usize, (Value, u64)> = HashMap::new();
    let mut doc: Option<Value> = None;
    let mut budget = AliasBudget::default();
    let mut doc_no = 0usize;
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
        let mut uint_key = false;
        let (value, nodes, plain_merge_key) = match ev {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                doc = None;
                doc_no += 1;
                budget = AliasBudget::default();
                continue;
            }
            Event::DocumentEnd => {
                docs.push(doc.take().unwrap_or(Value::Nil));
                anchors.clear();
                continue;
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((v, n)) => {
                    budget.alias(*n).map_err(|m| {
                        err(format!(
                            "YAML alias expansion exceeds the limit in document {}: {m}",
                            doc_no.max(1)
                        ))
                    })?;
                    (v.deep_copy(), 1 + *n, false)
                }
                None => return Err(err("unknown anchor".into())),
            },
            Event::Scalar(text, style, anchor, tag) => {
                budget.node();
                let plain = style == ScalarStyle::Plain;
                let v = match &tag {
                    Some(t) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => {
                        match t.suffix.as_str() {
                            "str" => Value::str(&*text),
                            "binary" => {
                                use base64::Engine as _;
                                let clean: String =
                                    text.chars().filter(|c| !c.is_whitespace()).collect();
                                match base64::engine::general_purpose::STANDARD.decode(clean) {
                                    Ok(b) => Value::str(String::from_utf8_lossy(&b)),
                                    Err(_) => {
                                        return Err(err(
                                            "!!binary value contains invalid base64 data".into(),
                                        ));
                                    }
                                }
                            }
                            "int" | "float" | "bool" | "null" | "timestamp" => resolve_plain(&text),
                            _ => Value::str(&*text),
                        }
                    }
                    // a local tag (`!foo`) keeps the text; `!` alone too
                    Some(_) => Value::str(&*text),
                    None if plain => resolve_plain(&text),
                    None => Value::str(&*text),
                };
                if plain && tag.is_none() && matches!(v, Value::Float(_)) {
                    let digits = text.replace('_', "");
                    uint_key = crate::template::number::go_parse_int0(&digits).is_none()
                        && crate::template::number::go_parse_uint0(&digits).is_some();
                }
                let merge = plain
                    && &*text == "<<"
                    && tag
                        .as_ref()
                        .is_none_or(|t| t.suffix == "merge" || t.suffix.is_empty());
                if anchor > 0 {
                    anchors.insert(anchor, (v.clone(), 1));
                }
                (v, 1, merge)
            }
            Event::SequenceStart(anchor, _) => {
                budget.node();
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    nodes: 1,
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                budget.node();
                stack.push(Frame::Map {
                    map: Map::new(),
                    key: None,
                    anchor,
                    nodes: 1,
                });
                continue;
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq {
                    items,
                    anchor,
                    nodes,
                }) = stack.pop()
                else {
                    return Err(err("unbalanced sequence".into()));
                };
                let v = Value::list(items);
                if anchor > 0 {
                    anchors.insert(anchor, (v.clone(), nodes));
                }
                (v, nodes, false)
            }
            Event::MappingEnd => {
                let Some(Frame::Map {
                    map, anchor, nodes, ..
                }) = stack.pop()
                else {
                    return Err(err("unbalanced mapping".into()));
                };
                let v = Value::map(map);
                if anchor > 0 {
                    anchors.insert(anchor, (v.clone(), nodes));
                }
                (v, nodes, false)
            }
        };
        // attach the value to its parent
        match stack.last_mut() {
            None => doc = Some(value),
            Some(Frame::Seq {
                items, nodes: n, ..
            }) => {
                *n = n.saturating_add(nodes);
                items.push(value);
            }
            Some(Frame::Map {
                map, key, nodes: n, ..
            }) => {
                *n = n.saturating_add(nodes);
                match key.take() {
                    None if uint_key => {
                        return Err(err("unsupported map key of type: uint64".into()));
                    }
                    None => *key = Some((value, plain_merge_key)),
                    Some((_, true)) => apply_merge(map, &value).map_err(err)?,
                    Some((k, false)) => {
                        if matches!(k, Value::Map(_) | Value::List(_)) {
                            return Err(err(format!("invalid map key: {}", k.type_name())));
                        }
                        let ks = key_string(&k).map_err(err)?;
                        map.insert(ks, value);
                    }
                }
            }
        }
    }
    if let Some(d) = doc {
        docs.push(d);
    }
    Ok(docs)
}

/// Parses a single-document YAML text (an empty text is `nil`).
///
/// Helm reads such texts (values, `Chart.yaml`, `fromYaml`) through `sigs.k8s.io/yaml`, which
/// converts them to JSON: a NaN or infinity (`.inf`) cannot be, and the text is refused.
pub fn parse(src: &str) -> Result<Value, YamlError> {
    let v = parse_all(src)?.into_iter().next().unwrap_or(Value::Nil);
    if let Some(f) = first_non_finite(&v) {
        let word = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        let (line, col) = non_finite_position(src);
        return Err(YamlError {
            line,
            col,
            message: format!("error converting YAML to JSON: json: unsupported value: {word}"),
        });
    }
    Ok(v)
}

fn first_non_finite(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) if !f.is_finite() => Some(*f),
        Value::List(l) => l.iter().find_map(first_non_finite),
        Value::Map(m) => m.borrow().values().find_map(first_non_finite),
        _ => None,
    }
}

/// Where the first `.inf`/`.nan` word stands (1-based), for the error.
fn non_finite_position(src: &str) -> (usize, usize) {
    let words = [".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"];
    for (n, line) in src.lines().enumerate() {
        if let Some(col) = words.iter().filter_map(|w| line.find(w)).min() {
            let col = if col > 0 && matches!(line.as_bytes()[col - 1], b'+' | b'-') {
                col - 1
            } else {
                col
            };
            return (n + 1, col + 1);
        }
    }
    (1, 1)
}

/// Writes `v` as `yaml.v2`'s `Marshal` of its JSON form does (what Helm's `toYaml` produces),
/// with a trailing newline; "" when the JSON encoding fails (NaN, infinities), as in Helm.
pub fn to_yaml(v: &Value) -> String {
    crate::yaml_emit::to_yaml(v).unwrap_or_default()
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

    /// The classic billion laughs: nine levels of nine aliases, 9^9 strings from ~600 bytes.
    const LAUGHS: &str =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
";

    #[test]
    fn billion_laughs_is_refused_quickly_with_a_location() {
        let started = std::time::Instant::now();
        let e = parse(LAUGHS).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let msg = e.to_string();
        assert!(
            msg.contains("YAML alias expansion exceeds the limit in document 1"),
            "{msg}"
        );
        // go-yaml refuses within the fourth level (line 4): 100+ alias nodes, > 1000 decoded
        // is not yet reached before; the first alias past the bound is reported
        assert!(e.line >= 3 && e.line <= 5, "{msg}");
        assert!(e.col > 1, "{msg}");
    }

    #[test]
    fn moderate_aliasing_is_accepted() {
        // three levels: 729 strings, within go-yaml's bound (fewer than 1000 nodes decoded)
        let src: String = LAUGHS.lines().take(3).collect::<Vec<_>>().join("\n");
        let v = parse(&src).unwrap();
        assert_eq!(v.as_map().unwrap().len(), 3);
    }

    #[test]
    fn merge_keys_apply_at_their_place_as_yaml_v2() {
        // a merge after a key overrides it; a quoted "<<" is an ordinary key
        let v = parse("base: &b {x: 1}\nm:\n  x: 0\n  <<: *b\nq:\n  \"<<\": *b\n").unwrap();
        let m = v.as_map().unwrap();
        let mm = m.get("m").unwrap().as_map().unwrap().clone();
        assert!(matches!(mm.get("x"), Some(Value::Int(1))));
        assert!(m.get("q").unwrap().as_map().unwrap().contains_key("<<"));
        // in a sequence of maps the earlier map wins
        let v = parse("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nc:\n  <<: [*a, *b]\n").unwrap();
        let c = v
            .as_map()
            .unwrap()
            .get("c")
            .unwrap()
            .as_map()
            .unwrap()
            .clone();
        assert!(matches!(c.get("x"), Some(Value::Int(1))));
        assert!(matches!(c.get("z"), Some(Value::Int(2))));
    }

    #[test]
    fn resolves_yaml_1_1_scalars() {
        assert!(matches!(resolve_plain("0-0"), Value::Str(_)));
        assert!(matches!(resolve_plain("08"), Value::Float(f) if f == 8.0));
        assert!(matches!(resolve_plain("0o14"), Value::Int(12)));
        assert!(matches!(resolve_plain(".5_0"), Value::Float(f) if f == 0.5));
        assert!(matches!(resolve_plain("1e400"), Value::Str(_)));
        assert!(matches!(resolve_plain("2001-12-14"), Value::Str(_)));
        assert!(parse("v: .inf").is_err());
        assert!(parse("null: 1").is_err());
    }
}
