//! Multi-document YAML into [`serde_json::Value`]s, with the YAML as Kubernetes repositories
//! write it: anchors (a repeated anchor name rebinds it, as go-yaml does), aliases, merge keys
//! (`<<`), and plain scalars resolved the way go-yaml v3 resolves them (so `matchType: =` is the
//! string `=`, `0644` is the octal integer 420, `yes` is a string and `"1"` stays a string).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use serde_json::{Map, Number, Value};

use crate::alias::{AliasBudget, AliasLimit};
use crate::kyaml::kyaml_folded;

/// Why a YAML stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The text is not valid YAML.
    #[error("invalid YAML in document {document} at line {line}, column {column}: {message}")]
    Syntax {
        /// Index of the document in the stream (0-based).
        document: usize,
        /// Line (1-based).
        line: usize,
        /// Column (1-based).
        column: usize,
        /// What the parser reported.
        message: String,
    },
    /// A mapping repeats a key (go-yaml, and so kustomize, rejects this).
    #[error(
        "invalid YAML in document {document} at line {line}: mapping key {key:?} already defined"
    )]
    DuplicateKey {
        /// Index of the document in the stream (0-based).
        document: usize,
        /// Line of the repeated key (1-based).
        line: usize,
        /// The repeated key.
        key: String,
    },
    /// Aliases expand to too many nodes (a "billion laughs" document); refused with go-yaml
    /// v3's rule before the expansion is made.
    #[error(
        "YAML alias expansion exceeds the limit in document {document} at line {line}: {limit}"
    )]
    AliasLimit {
        /// Index of the document in the stream (0-based).
        document: usize,
        /// Line of the alias that crossed the limit (1-based).
        line: usize,
        /// The counts at that alias.
        limit: AliasLimit,
    },
    /// A construct a Kubernetes manifest cannot hold (a mapping or sequence used as a key, a
    /// merge key whose value is not a mapping, an unknown alias).
    #[error("invalid YAML in document {document} at line {line}: {message}")]
    Unsupported {
        /// Index of the document in the stream (0-based).
        document: usize,
        /// Line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl ParseError {
    /// The line (1-based) the error is at.
    pub fn line(&self) -> usize {
        match self {
            ParseError::Syntax { line, .. }
            | ParseError::DuplicateKey { line, .. }
            | ParseError::AliasLimit { line, .. }
            | ParseError::Unsupported { line, .. } => *line,
        }
    }
}

/// One parsed YAML document: its value and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The document's content (`Value::Null` for an empty document).
    pub value: Value,
    /// The line of the document's first node (1-based).
    pub line: usize,
}

/// Which reader's view of the text to give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// YAML as go-yaml v3 reads it.
    #[default]
    GoYaml,
    /// As kustomize's resources hold it after kyaml writes them back and reads them again:
    /// folded scalars changed as [`kyaml_folded`](crate::kyaml_folded) says (not the YAML spec).
    Kyaml,
}

/// Parses every document of a YAML stream, empty documents included (as `Value::Null`).
///
/// # Errors
/// [`ParseError`] naming the document and line of the first problem.
pub fn parse_stream(text: &str) -> Result<Vec<Document>, ParseError> {
    parse_stream_as(text, Dialect::GoYaml)
}

/// Parses the non-empty documents of a YAML stream as `dialect` reads them.
///
/// # Errors
/// [`ParseError`] naming the document and line of the first problem.
pub fn parse_documents_as(text: &str, dialect: Dialect) -> Result<Vec<Value>, ParseError> {
    Ok(parse_stream_as(text, dialect)?
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|d| d.value)
        .collect())
}

/// [`parse_stream`] as `dialect` reads the text.
///
/// # Errors
/// [`ParseError`] naming the document and line of the first problem.
pub fn parse_stream_as(text: &str, dialect: Dialect) -> Result<Vec<Document>, ParseError> {
    let mut builder = Builder {
        dialect,
        document: 0,
        anchors: HashMap::new(),
        stack: Vec::new(),
        docs: Vec::new(),
        doc_line: 1,
        budget: AliasBudget::new(),
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|err| builder.syntax(&err))?;
        if builder.handle(event, span)? {
            break;
        }
    }
    Ok(builder.docs)
}

/// Parses a YAML stream into its non-empty documents.
///
/// # Errors
/// [`ParseError`] naming the document and line of the first problem.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, ParseError> {
    Ok(parse_stream(text)?
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|d| d.value)
        .collect())
}

/// Parses a YAML text holding at most one document (`Value::Null` when empty).
///
/// # Errors
/// [`ParseError`] if the text is invalid YAML or holds more than one document.
pub fn parse_value(text: &str) -> Result<Value, ParseError> {
    let mut docs = parse_stream(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0).value),
        _ => Err(ParseError::Unsupported {
            document: 1,
            line: docs[1].line,
            message: "expected a single YAML document".into(),
        }),
    }
}

enum Frame {
    Seq {
        anchor: usize,
        items: Vec<Value>,
        /// Nodes in the sequence so far, itself included, as go-yaml's decoder counts them.
        nodes: u64,
    },
    Map {
        anchor: usize,
        /// The keys written explicitly (merge keys `<<` are applied at the end of the map).
        map: Map<String, Value>,
        pending_key: Option<(String, bool, usize)>,
        merges: Vec<Value>,
        /// Nodes in the mapping so far (keys included), itself included.
        nodes: u64,
    },
}

/// What an anchor names: its value, how many nodes it expands to (for the alias bound), and,
/// for a scalar, its text (an alias of it may be a mapping key).
struct Anchor {
    value: Value,
    nodes: u64,
    key: Option<String>,
}

struct Builder {
    dialect: Dialect,
    document: usize,
    anchors: HashMap<usize, Anchor>,
    stack: Vec<Frame>,
    docs: Vec<Document>,
    doc_line: usize,
    budget: AliasBudget,
}

impl Builder {
    fn syntax(&self, err: &ScanError) -> ParseError {
        ParseError::Syntax {
            document: self.document,
            line: err.marker().line(),
            column: err.marker().col() + 1,
            message: err.info().to_string(),
        }
    }

    fn unsupported(&self, line: usize, message: impl Into<String>) -> ParseError {
        ParseError::Unsupported {
            document: self.document,
            line,
            message: message.into(),
        }
    }

    /// The map waiting for a key, if the next node is one.
    fn expecting_key(&mut self) -> Option<&mut Frame> {
        match self.stack.last_mut() {
            Some(
                frame @ Frame::Map {
                    pending_key: None, ..
                },
            ) => Some(frame),
            _ => None,
        }
    }

    /// Handles one event; returns true at the end of the stream.
    fn handle(&mut self, event: Event<'_>, span: Span) -> Result<bool, ParseError> {
        let line = span.start.line();
        match event {
            Event::StreamEnd => return Ok(true),
            Event::StreamStart | Event::Nothing => {}
            Event::DocumentStart(_) => {
                self.doc_line = line;
                self.anchors.clear();
                self.budget = AliasBudget::new();
                self.docs.push(Document {
                    value: Value::Null,
                    line,
                });
            }
            Event::DocumentEnd => self.document += 1,
            Event::Alias(id) => {
                let Some(anchor) = self.anchors.get(&id) else {
                    return Err(self.unsupported(line, "unknown alias"));
                };
                let nodes = anchor.nodes;
                // Counted before anything is copied: a billion-laughs document stops here.
                if let Err(limit) = self.budget.alias(nodes) {
                    return Err(ParseError::AliasLimit {
                        document: self.document,
                        line,
                        limit,
                    });
                }
                let key = anchor.key.clone();
                let value = anchor.value.clone();
                if let Some(Frame::Map {
                    pending_key,
                    nodes: map_nodes,
                    ..
                }) = self.expecting_key()
                {
                    // An alias of a scalar is a valid key (`*app : x`, go-yaml accepts it).
                    let Some(key) = key else {
                        return Err(
                            self.unsupported(line, "a mapping or sequence cannot be a mapping key")
                        );
                    };
                    *map_nodes += 1 + nodes;
                    *pending_key = Some((key, false, line));
                    return Ok(false);
                }
                self.push_value(value, 1 + nodes, line)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.budget.node();
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let value = if style == ScalarStyle::Folded && self.dialect == Dialect::Kyaml {
                    resolve_scalar(&kyaml_folded(&text), style, tag.as_deref())
                } else {
                    resolve_scalar(&text, style, tag.as_deref())
                };
                if anchor > 0 {
                    self.anchors.insert(
                        anchor,
                        Anchor {
                            value: value.clone(),
                            nodes: 1,
                            key: Some(text.to_string()),
                        },
                    );
                }
                let is_merge = style == ScalarStyle::Plain && text == "<<";
                if let Some(Frame::Map {
                    pending_key, nodes, ..
                }) = self.expecting_key()
                {
                    *nodes += 1;
                    *pending_key = Some((text.into_owned(), is_merge, line));
                    return Ok(false);
                }
                self.push_value(value, 1, line)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.budget.node();
                self.check_not_key(line)?;
                self.stack.push(Frame::Seq {
                    anchor,
                    items: Vec::new(),
                    nodes: 1,
                });
            }
            Event::MappingStart(anchor, _) => {
                self.budget.node();
                self.check_not_key(line)?;
                self.stack.push(Frame::Map {
                    anchor,
                    map: Map::new(),
                    pending_key: None,
                    merges: Vec::new(),
                    nodes: 1,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    anchor,
                    items,
                    nodes,
                }) = self.stack.pop()
                {
                    let value = Value::Array(items);
                    self.remember(anchor, &value, nodes);
                    self.push_value(value, nodes, line)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    anchor,
                    mut map,
                    merges,
                    nodes,
                    ..
                }) = self.stack.pop()
                {
                    // Merge keys: explicit keys win; earlier merge sources win over later ones.
                    for source in merges {
                        if let Value::Object(source) = source {
                            for (k, v) in source {
                                if !map.contains_key(&k) {
                                    map.insert(k, v);
                                }
                            }
                        }
                    }
                    let value = Value::Object(map);
                    self.remember(anchor, &value, nodes);
                    self.push_value(value, nodes, line)?;
                }
            }
        }
        Ok(false)
    }

    fn remember(&mut self, anchor: usize, value: &Value, nodes: u64) {
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Anchor {
                    value: value.clone(),
                    nodes,
                    key: None,
                },
            );
        }
    }

    fn check_not_key(&self, line: usize) -> Result<(), ParseError> {
        if let Some(Frame::Map { pending_key, .. }) = self.stack.last()
            && pending_key.is_none()
        {
            return Err(self.unsupported(line, "a mapping or sequence cannot be a mapping key"));
        }
        Ok(())
    }

    /// Adds a finished node (`nodes` of them, as go-yaml counts) to its parent.
    fn push_value(&mut self, value: Value, nodes: u64, line: usize) -> Result<(), ParseError> {
        let document = self.document;
        match self.stack.last_mut() {
            None => {
                if let Some(doc) = self.docs.last_mut() {
                    doc.value = value;
                } else {
                    self.docs.push(Document {
                        value,
                        line: self.doc_line,
                    });
                }
            }
            Some(Frame::Seq {
                items,
                nodes: seq_nodes,
                ..
            }) => {
                *seq_nodes += nodes;
                items.push(value);
            }
            Some(Frame::Map {
                map,
                pending_key,
                merges,
                nodes: map_nodes,
                ..
            }) => {
                *map_nodes += nodes;
                let Some((key, is_merge, key_line)) = pending_key.take() else {
                    return Err(ParseError::Unsupported {
                        document,
                        line,
                        message: "a mapping or sequence cannot be a mapping key".into(),
                    });
                };
                if is_merge {
                    match value {
                        Value::Object(_) => merges.push(value),
                        Value::Array(items) => merges.extend(items),
                        Value::Null => {}
                        _ => {
                            return Err(ParseError::Unsupported {
                                document,
                                line: key_line,
                                message: "map merge requires map or sequence of maps as the value"
                                    .into(),
                            });
                        }
                    }
                    return Ok(());
                }
                if map.contains_key(&key) {
                    return Err(ParseError::DuplicateKey {
                        document,
                        line: key_line,
                        key,
                    });
                }
                map.insert(key, value);
            }
        }
        Ok(())
    }
}

/// Resolves a scalar as go-yaml v3 does: quoted and block scalars are strings; plain scalars
/// may be null, booleans, integers or floats; an explicit core tag decides where given.
pub fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("tag:yaml.org,2002:str") | Some("!!str") => return Value::String(text.into()),
        Some("tag:yaml.org,2002:int")
        | Some("!!int")
        | Some("tag:yaml.org,2002:float")
        | Some("!!float")
        | Some("tag:yaml.org,2002:bool")
        | Some("!!bool")
        | Some("tag:yaml.org,2002:null")
        | Some("!!null") => {
            let value = resolve_plain(text);
            if !value.is_string() {
                return value;
            }
            return Value::String(text.into());
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.into());
    }
    resolve_plain(text)
}

/// Resolves the text of a plain (unquoted) scalar.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::String(text.into());
    }
    if let Some(n) = parse_int(text) {
        return n;
    }
    // go-yaml matches its float pattern after removing underscores (`1_000.0` is 1000.0).
    let plain = text.replace('_', "");
    if is_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.into())
}

fn parse_int(text: &str) -> Option<Value> {
    let plain = text.replace('_', "");
    let (neg, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    if digits.is_empty() {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if neg {
        if magnitude <= i64::MAX as u64 + 1 {
            let v = (magnitude as i128).checked_neg()?;
            return Some(Value::Number(Number::from(i64::try_from(v).ok()?)));
        }
        return None;
    }
    Some(Value::Number(Number::from(magnitude)))
}

/// go-yaml's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_float(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - digits_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_resolve_like_go_yaml() {
        let v = parse_value(
            "a: 1\nb: '1'\nc: true\nd: yes\ne: =\nf: 0644\ng: 1.5\nh: ~\ni: 0x1F\nj: 1e3\nk: 08\nl: -7\nm: 1_000.5\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a":1,"b":"1","c":true,"d":"yes","e":"=","f":420,"g":1.5,"h":null,"i":31,"j":1000.0,"k":8.0,"l":-7,"m":1000.5})
        );
    }

    #[test]
    fn anchors_merge_keys_and_duplicate_anchors() {
        let v = parse_value(
            "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nagain: &b [1]\nuse: *b\n",
        )
        .unwrap();
        assert_eq!(v["other"], json!({"x":1,"y":3}));
        assert_eq!(v["use"], json!([1]));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_value("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(
            matches!(err, ParseError::DuplicateKey { line: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn multi_document_streams() {
        let docs = parse_documents("---\na: 1\n---\n# nothing\n---\nb: 2\n").unwrap();
        assert_eq!(docs, vec![json!({"a":1}), json!({"b":2})]);
    }

    /// Nine levels of nine aliases: 9^9 strings from a few hundred bytes.
    pub(crate) fn billion_laughs() -> String {
        let mut text = String::from(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        );
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let (prev, next) = (w[0], w[1]);
            text.push_str(&format!(
                "  {next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        text
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let text = format!("a: 1\n---\n{}", billion_laughs());
        assert!(text.len() < 1000, "{}", text.len());
        let start = std::time::Instant::now();
        let err = parse_documents(&text).unwrap_err();
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        let ParseError::AliasLimit { document, line, .. } = err else {
            panic!("{err}")
        };
        assert_eq!(document, 1);
        // The level whose expansion crosses go-yaml's bound: `d` (each `*c` is 910 nodes).
        assert_eq!(line, 11, "{err}");
        assert!(
            err.to_string()
                .starts_with("YAML alias expansion exceeds the limit in document 1 at line 11:"),
            "{err}"
        );
    }

    #[test]
    fn moderate_aliasing_is_accepted() {
        // Three levels of nine: 729 strings from aliases, within go-yaml's bound.
        let text = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
        let v = parse_value(text).unwrap();
        assert_eq!(v["c"][8][8][8], json!("x"));
        // The budget is per document.
        let many = format!("{text}---\n{text}---\n{text}");
        assert_eq!(parse_documents(&many).unwrap().len(), 3);
    }

    #[test]
    fn alias_as_mapping_key() {
        // Home-lab repositories write `*app :` under `name: &app qui` (valid YAML, go-yaml
        // accepts it).
        let v = parse_value("metadata:\n  name: &app qui\nlabels:\n  *app : web\n  other: x\n")
            .unwrap();
        assert_eq!(v["labels"], json!({"qui": "web", "other": "x"}));
        // A collection's alias still cannot be a key.
        let err = parse_value("a: &m {x: 1}\nb:\n  *m : 2\n").unwrap_err();
        assert!(err.to_string().contains("cannot be a mapping key"), "{err}");
        // The key keeps the scalar's text: an anchored number is the key `8080`.
        let v = parse_value("port: &p 8080\nnames:\n  *p : http\n").unwrap();
        assert_eq!(v["names"], json!({"8080": "http"}));
    }
}
