//! A YAML reader that keeps key order and comments, producing the sops tree.
//!
//! It covers what sops files and Kubernetes manifests use: block mappings and sequences, flow
//! collections, plain / single-quoted / double-quoted / literal / folded scalars, anchors and
//! aliases, tags `!!str` / `!!binary`, several documents. Scalars resolve to types with the
//! YAML 1.2 core rules of go-yaml v3 (which sops uses). Comments are attached the way sops maps
//! go-yaml's head / line / foot comments into its tree:
//! - comment lines before an entry become comment items before it;
//! - a comment after a scalar on its line becomes an *inline* comment item before the entry;
//! - a comment after `key:` whose value is a collection becomes a comment item before the entry;
//! - comment lines after the last entry of a block, indented at least as far as the block, stay
//!   in that block; shallower ones go to the enclosing block.

use std::collections::HashMap;

use keelson_manifest::AliasBudget;

use crate::tree::{Branch, Comment, Item, Value};

pub use super::resolve::{parse_timestamp, resolve};

mod scalars;

use scalars::apply_tag;

/// A YAML syntax error with its 1-based line.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct YamlError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

type Result<T> = std::result::Result<T, YamlError>;

struct Pending {
    col: usize,
    text: String,
    /// An empty line separates this comment from what precedes it.
    blank_before: bool,
    /// A block closed before this comment without taking it as foot: it can no longer be one.
    closed: bool,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    /// Each anchor's value and how many nodes it expands to (for the alias bound).
    anchors: HashMap<String, (Value, u64)>,
    /// Full-line comments read but not yet attached.
    pending: Vec<Pending>,
    /// Index of the current document (0-based), for errors.
    document: usize,
    /// go-yaml v3's bound on alias expansion, per document (sops decodes with go-yaml).
    budget: AliasBudget,
}

/// Parses every document of a YAML stream into branches (documents must be mappings or empty).
pub fn parse(text: &str) -> Result<Vec<Branch>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        anchors: HashMap::new(),
        pending: Vec::new(),
        document: 0,
        budget: AliasBudget::new(),
    };
    p.stream()
}

fn is_blank(c: Option<char>) -> bool {
    matches!(c, None | Some(' ' | '\t' | '\n' | '\r'))
}

impl Parser {
    fn err<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(YamlError {
            line: self.line,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn col(&self) -> usize {
        let mut i = self.pos;
        while i > 0 && self.chars[i - 1] != '\n' {
            i -= 1;
        }
        self.pos - i
    }

    fn at_line_start(&self) -> bool {
        self.pos == 0 || self.chars.get(self.pos - 1) == Some(&'\n')
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn at_eol(&self) -> bool {
        matches!(self.peek(), None | Some('\n' | '\r'))
    }

    fn skip_eol(&mut self) {
        if self.peek() == Some('\r') {
            self.pos += 1;
        }
        if self.peek() == Some('\n') {
            self.bump();
        }
    }

    fn rest_of_line(&mut self) -> String {
        let mut s = String::new();
        while !self.at_eol() {
            if let Some(c) = self.bump() {
                s.push(c);
            }
        }
        s
    }

    /// Reads `# …` at the cursor (cursor on `#`), returning the text after `#`.
    fn read_comment(&mut self) -> String {
        self.bump();
        let mut s = self.rest_of_line();
        if s.ends_with('\r') {
            s.pop();
        }
        s
    }

    /// Skips blank lines and full-line comments (collected into `pending`), leaving the cursor at
    /// the first content character of the next content line (after its indentation). Returns
    /// false at the end of input.
    fn next_content(&mut self) -> bool {
        let mut blank = false;
        loop {
            if !self.at_line_start() {
                self.skip_spaces();
                if self.peek() == Some('#') {
                    let _ = self.read_comment();
                }
                if self.at_eol() {
                    if self.peek().is_none() {
                        return false;
                    }
                    self.skip_eol();
                } else {
                    return true;
                }
                continue;
            }
            self.skip_spaces();
            match self.peek() {
                None => return false,
                Some('\n' | '\r') => {
                    blank = true;
                    self.skip_eol();
                }
                Some('#') => {
                    let col = self.col();
                    let text = self.read_comment();
                    self.pending.push(Pending {
                        col,
                        text,
                        blank_before: blank,
                        closed: false,
                    });
                    blank = false;
                    self.skip_eol();
                }
                Some(_) => return true,
            }
        }
    }

    fn is_doc_marker(&self, marker: char) -> bool {
        self.col() == 0
            && self.peek() == Some(marker)
            && self.peek_at(1) == Some(marker)
            && self.peek_at(2) == Some(marker)
            && is_blank(self.peek_at(3))
    }

    fn take_pending(&mut self) -> Vec<Item> {
        self.pending
            .drain(..)
            .map(|p| Item::Comment(Comment::line(p.text)))
            .collect()
    }

    fn stream(&mut self) -> Result<Vec<Branch>> {
        let mut docs = Vec::new();
        // A `---` was read and its document has no content yet.
        let mut open = false;
        // A document's content was just read: only a marker or the end may follow.
        let mut finished = false;
        loop {
            let has = self.next_content();
            if !has {
                if open || (docs.is_empty() && !self.pending.is_empty()) {
                    docs.push(Branch(self.take_pending()));
                } else if let Some(last) = docs.last_mut() {
                    last.0.extend(self.take_pending());
                }
                return Ok(docs);
            }
            if self.col() == 0 && self.peek() == Some('%') && !finished {
                self.rest_of_line();
                continue;
            }
            if self.is_doc_marker('-') || self.is_doc_marker('.') {
                let start = self.peek() == Some('-');
                if open {
                    docs.push(Branch(self.take_pending()));
                }
                self.pos += 3;
                open = start;
                finished = false;
                self.skip_spaces();
                if start && !self.at_eol() && self.peek() != Some('#') {
                    return self.err("content on the document start line is not supported");
                }
                continue;
            }
            if finished {
                return self.err("unexpected content after the end of a document");
            }
            let col = self.col();
            let mut branch = Branch(self.take_pending());
            self.document = docs.len();
            self.budget = AliasBudget::new();
            match self.block_node(-1, col)? {
                Value::Map(b) => branch.0.extend(b.0),
                Value::Null => {}
                Value::Seq(_) => {
                    return self.err("YAML documents that are sequences are not supported");
                }
                _ => return self.err("YAML documents that are values are not supported"),
            }
            let _ = self.next_content();
            branch.0.extend(self.take_pending());
            docs.push(branch);
            open = false;
            finished = true;
        }
    }

    /// Whether the cursor starts a block sequence entry (`-` followed by a blank).
    fn at_seq_entry(&self) -> bool {
        self.peek() == Some('-') && is_blank(self.peek_at(1))
    }

    /// Whether the text from the cursor to the end of the line starts with a mapping key.
    fn at_map_key(&self) -> bool {
        let mut i = self.pos;
        let get = |i: usize| self.chars.get(i).copied();
        // Properties (`!!merge <<:`, `&anchor key:`) may precede a key.
        while matches!(get(i), Some('!' | '&')) {
            while !is_blank(get(i)) {
                i += 1;
            }
            while matches!(get(i), Some(' ' | '\t')) {
                i += 1;
            }
        }
        match get(i) {
            Some('"') | Some('\'') => {
                let q = get(i).unwrap_or('"');
                i += 1;
                while let Some(c) = get(i) {
                    if c == '\n' {
                        return false;
                    }
                    if c == '\\' && q == '"' {
                        i += 2;
                        continue;
                    }
                    if c == q {
                        if q == '\'' && get(i + 1) == Some('\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                while matches!(get(i), Some(' ' | '\t')) {
                    i += 1;
                }
                get(i) == Some(':') && is_blank(get(i + 1))
            }
            Some('[' | '{' | '#' | '|' | '>' | '*' | '!' | '&' | '%' | '@' | '`') | None => false,
            Some('?') if is_blank(get(i + 1)) => false,
            _ => {
                let mut prev_space = false;
                while let Some(c) = get(i) {
                    if c == '\n' || c == '\r' {
                        return false;
                    }
                    if c == '#' && prev_space {
                        return false;
                    }
                    if c == ':' && is_blank(get(i + 1)) {
                        return true;
                    }
                    prev_space = c == ' ' || c == '\t';
                    i += 1;
                }
                false
            }
        }
    }

    /// Parses a block node whose first character is at the cursor (column `col`), inside a
    /// parent block with indentation `parent`.
    fn block_node(&mut self, parent: i64, col: usize) -> Result<Value> {
        if self.at_seq_entry() {
            return self.block_seq(col);
        }
        // Properties before a key on the same line belong to the key.
        if self.at_map_key() {
            return self.block_map(col);
        }
        // Properties of the node.
        let (anchor, tag) = self.properties()?;
        if anchor.is_some() || tag.is_some() {
            self.skip_spaces();
            if self.peek() == Some('#') || self.at_eol() {
                if self.peek() == Some('#') {
                    let _ = self.read_comment();
                }
                // The node is on the following lines.
                if !self.next_content() || (self.col() as i64) <= parent && !self.at_seq_entry() {
                    self.budget.node();
                    let v = Value::Null;
                    self.register(anchor, &v);
                    return Ok(v);
                }
                let c = self.col();
                let v = self.block_node(parent, c)?;
                let v = apply_tag(tag.as_deref(), v);
                self.register(anchor, &v);
                return Ok(v);
            }
            let c = self.col();
            let v = self.block_node(parent, c)?;
            let v = apply_tag(tag.as_deref(), v);
            self.register(anchor, &v);
            return Ok(v);
        }
        if self.at_seq_entry() {
            return self.block_seq(col);
        }
        if self.at_map_key() {
            return self.block_map(col);
        }
        let (v, _) = self.inline_value(parent)?;
        Ok(v)
    }

    fn register(&mut self, anchor: Option<String>, v: &Value) {
        if let Some(a) = anchor {
            self.anchors.insert(a, (v.clone(), count_nodes(v)));
        }
    }

    /// The value of the alias `*name` (cursor after `*`), refused past go-yaml's expansion bound
    /// before it is copied.
    pub(super) fn alias(&mut self) -> Result<Value> {
        let line = self.line;
        let name = self.read_word();
        let Some((value, nodes)) = self.anchors.get(&name) else {
            return self.err(format!("unknown anchor {name:?}"));
        };
        if let Err(limit) = self.budget.alias(*nodes) {
            return Err(YamlError {
                line,
                message: format!(
                    "YAML alias expansion exceeds the limit in document {} (alias *{name}): {limit}",
                    self.document
                ),
            });
        }
        Ok(value.clone())
    }

    /// Reads `&anchor` and `!tag` properties at the cursor.
    fn properties(&mut self) -> Result<(Option<String>, Option<String>)> {
        let mut anchor = None;
        let mut tag = None;
        loop {
            match self.peek() {
                Some('&') => {
                    self.pos += 1;
                    anchor = Some(self.read_word());
                    self.skip_spaces();
                }
                Some('!') => {
                    tag = Some(self.read_word());
                    self.skip_spaces();
                }
                _ => return Ok((anchor, tag)),
            }
        }
    }

    fn read_word(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if is_blank(Some(c)) || matches!(c, ',' | '[' | ']' | '{' | '}') {
                break;
            }
            s.push(c);
            self.pos += 1;
        }
        s
    }

    /// A value that starts on the current line: alias, flow collection, quoted, block or plain
    /// scalar. Returns the value and whether it was a scalar (for comment attachment). Consumes
    /// a trailing comment into `self.line_comment`.
    fn inline_value(&mut self, parent: i64) -> Result<(Value, bool)> {
        let (anchor, tag) = self.properties()?;
        if !matches!(self.peek(), Some('*' | '[' | '{')) {
            self.budget.node();
        }
        let value = match self.peek() {
            Some('*') => {
                self.pos += 1;
                self.alias()?
            }
            Some('[' | '{') => self.flow_node()?,
            Some('"') => Value::Str(self.double_quoted(parent)?),
            Some('\'') => Value::Str(self.single_quoted(parent)?),
            Some('|' | '>') => Value::Str(self.block_scalar(parent)?),
            None | Some('\n' | '\r' | '#') => Value::Null,
            _ => {
                let s = self.plain_scalar(parent, false)?;
                if tag.is_some() {
                    Value::Str(s)
                } else {
                    resolve(&s)
                }
            }
        };
        let value = apply_tag(tag.as_deref(), value);
        self.register(anchor, &value);
        Ok((value, true))
    }

    /// Reads the comment at the end of the current line, if any, and moves to the next line.
    fn end_of_line(&mut self) -> Result<Option<String>> {
        self.skip_spaces();
        let comment = if self.peek() == Some('#') {
            Some(self.read_comment())
        } else {
            None
        };
        if !self.at_eol() {
            return self.err(format!(
                "unexpected character {:?}",
                self.peek().unwrap_or(' ')
            ));
        }
        self.skip_eol();
        Ok(comment)
    }

    fn block_map(&mut self, indent: usize) -> Result<Value> {
        self.budget.node();
        let mut branch = Branch::default();
        let mut first = true;
        loop {
            if !first {
                if !self.next_content() {
                    break;
                }
                let c = self.col();
                if c < indent || self.is_doc_marker('-') || self.is_doc_marker('.') {
                    break;
                }
                if c > indent {
                    return self.err("bad indentation of a mapping entry");
                }
                if !self.at_map_key() {
                    if self.at_seq_entry() {
                        return self.err("a sequence entry cannot follow mapping entries at the same indentation");
                    }
                    return self.err("expected a mapping key");
                }
            }
            first = false;
            branch.0.extend(self.take_pending());
            let key_line = self.line;
            self.budget.node();
            let key = self.map_key()?;
            if branch.get(&key).is_some() {
                return Err(YamlError {
                    line: key_line,
                    message: format!("mapping key {key:?} already defined"),
                });
            }
            // After ':'.
            self.skip_spaces();
            let (anchor, tag) = self.properties()?;
            self.skip_spaces();
            if self.peek() == Some('#') || self.at_eol() {
                let key_comment = if self.peek() == Some('#') {
                    Some(self.read_comment())
                } else {
                    None
                };
                self.skip_eol();
                // Value on the following lines, or null.
                let has = self.next_content();
                let c = self.col();
                let nested = has
                    && !self.is_doc_marker('-')
                    && !self.is_doc_marker('.')
                    && (c > indent || (c == indent && self.at_seq_entry()));
                if let Some(text) = key_comment {
                    branch.0.push(Item::Comment(Comment::line(text)));
                }
                if nested {
                    // Comments between the key and its value open the nested block, whatever
                    // their column (go-yaml: head comment of its first entry); they stay pending
                    // for the nested block to take.
                    let v = self.block_node(indent as i64, c)?;
                    let v = apply_tag(tag.as_deref(), v);
                    self.register(anchor, &v);
                    branch.0.push(Item::Entry(key, v));
                } else {
                    self.budget.node();
                    let v = apply_tag(tag.as_deref(), Value::Null);
                    self.register(anchor, &v);
                    branch.0.push(Item::Entry(key, v));
                }
                continue;
            }
            let flow = matches!(self.peek(), Some('[' | '{'));
            let (v, _) = self.inline_value(indent as i64)?;
            let mut v = apply_tag(tag.as_deref(), v);
            self.register(anchor, &v);
            let comment = self.end_of_line()?;
            match (comment, &mut v) {
                // sops keeps the line comment of a collection value inside the collection, as
                // its first (head) comment.
                (Some(text), Value::Seq(items)) if flow => {
                    items.insert(0, Value::Comment(Comment::line(text)));
                }
                (Some(text), Value::Map(b)) if flow => {
                    b.0.insert(0, Item::Comment(Comment::line(text)));
                }
                (Some(text), _) => branch.0.push(Item::Comment(Comment {
                    value: text,
                    inline: true,
                })),
                (None, _) => {}
            }
            branch.0.push(Item::Entry(key, v));
        }
        branch
            .0
            .extend(self.take_foot().into_iter().map(Item::Comment));
        Ok(Value::Map(branch))
    }

    /// At the end of a block: its foot comments, as go-yaml attaches them. Only the first group
    /// of comment lines after the block (up to an empty line) can be a foot, and only its lines
    /// indented deeper than the next token; they go to the innermost block that ends here (the
    /// first caller). The other comments belong to what follows.
    fn take_foot(&mut self) -> Vec<Comment> {
        let next_col = if self.peek().is_some() { self.col() } else { 0 };
        let n = self
            .pending
            .iter()
            .enumerate()
            .take_while(|(i, p)| !p.closed && p.col > next_col && (*i == 0 || !p.blank_before))
            .count();
        let foot = self
            .pending
            .drain(..n)
            .map(|p| Comment::line(p.text))
            .collect();
        for p in &mut self.pending {
            p.closed = true;
        }
        foot
    }

    fn map_key(&mut self) -> Result<String> {
        // Key properties are accepted and dropped (sops keeps keys as plain strings).
        let _ = self.properties()?;
        let key = match self.peek() {
            Some('"') => self.double_quoted(-1)?,
            Some('\'') => self.single_quoted(-1)?,
            _ => {
                let s = self.plain_scalar(-1, true)?;
                match resolve(&s) {
                    Value::Str(s) => s,
                    _ if s == "<<" => s,
                    _ => {
                        return self.err(format!(
                            "non-string mapping key {s:?} is not supported by sops"
                        ));
                    }
                }
            }
        };
        self.skip_spaces();
        if self.peek() != Some(':') {
            return self.err("expected ':' after a mapping key");
        }
        self.pos += 1;
        Ok(key)
    }

    fn block_seq(&mut self, indent: usize) -> Result<Value> {
        self.budget.node();
        let mut items: Vec<Value> = Vec::new();
        let mut first = true;
        loop {
            if !first {
                if !self.next_content() {
                    break;
                }
                let c = self.col();
                if c < indent || !self.at_seq_entry() || self.is_doc_marker('-') {
                    break;
                }
                if c > indent {
                    return self.err("bad indentation of a sequence entry");
                }
            }
            first = false;
            items.extend(
                self.pending
                    .drain(..)
                    .map(|p| Value::Comment(Comment::line(p.text))),
            );
            self.pos += 1; // '-'
            self.skip_spaces();
            if self.peek() == Some('#') || self.at_eol() {
                let comment = if self.peek() == Some('#') {
                    Some(self.read_comment())
                } else {
                    None
                };
                self.skip_eol();
                if let Some(text) = comment {
                    items.push(Value::Comment(Comment::line(text)));
                }
                let has = self.next_content();
                let c = self.col();
                if has && c > indent && !self.is_doc_marker('-') {
                    items.extend(
                        self.pending
                            .drain(..)
                            .map(|p| Value::Comment(Comment::line(p.text))),
                    );
                    let v = self.block_node(indent as i64, c)?;
                    items.push(v);
                } else {
                    self.budget.node();
                    items.push(Value::Null);
                }
                continue;
            }
            let c = self.col();
            if self.at_seq_entry() || self.at_map_key() || matches!(self.peek(), Some('&' | '!')) {
                let v = self.block_node(indent as i64, c)?;
                let nested_map_or_seq = matches!(v, Value::Map(_) | Value::Seq(_));
                if !nested_map_or_seq {
                    let comment = self.end_of_line()?;
                    if let Some(text) = comment {
                        items.push(Value::Comment(Comment {
                            value: text,
                            inline: true,
                        }));
                    }
                }
                items.push(v);
                continue;
            }
            let (v, _) = self.inline_value(indent as i64)?;
            let comment = self.end_of_line()?;
            if let Some(text) = comment {
                items.push(Value::Comment(Comment {
                    value: text,
                    inline: true,
                }));
            }
            items.push(v);
        }
        items.extend(self.take_foot().into_iter().map(Value::Comment));
        Ok(Value::Seq(items))
    }
}

/// How many nodes go-yaml's decoder counts for `v`: one per scalar, collection and key.
fn count_nodes(v: &Value) -> u64 {
    match v {
        Value::Map(b) => {
            1 + b
                .0
                .iter()
                .map(|item| match item {
                    Item::Entry(_, v) => 1 + count_nodes(v),
                    Item::Comment(_) => 0,
                })
                .sum::<u64>()
        }
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<u64>(),
        Value::Comment(_) => 0,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn one(text: &str) -> Branch {
        let mut docs = parse(text).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0)
    }

    #[test]
    fn scalars_resolve() {
        assert_eq!(resolve("12"), Value::Int(12));
        assert_eq!(resolve("0x1F"), Value::Int(31));
        assert_eq!(resolve("1.50"), Value::Float(1.5));
        assert_eq!(resolve("true"), Value::Bool(true));
        assert_eq!(resolve("yes"), Value::Str("yes".into()));
        assert_eq!(
            resolve("2024-01-02"),
            Value::Time("2024-01-02T00:00:00Z".into())
        );
        assert_eq!(
            resolve("2001-12-14t21:59:43.10-05:00"),
            Value::Time("2001-12-14T21:59:43.1-05:00".into())
        );
        assert_eq!(
            resolve("2002-12-14T10:00:00"),
            Value::Str("2002-12-14T10:00:00".into())
        );
        assert_eq!(resolve("1e3"), Value::Float(1000.0));
        assert_eq!(resolve("-"), Value::Str("-".into()));
    }

    #[test]
    fn nested_with_comments() {
        let b = one(
            "# top\na: 1 # inline\nb:\n  c: [x, 'y', \"z\"]\n  d:\n    - 1\n    - k: v\n      l: w\n  # foot of b\n# head of e\ne: |\n  line1\n  line2\n",
        );
        let keys: Vec<_> = b.entries().map(|(k, _)| k.to_string()).collect();
        assert_eq!(keys, ["a", "b", "e"]);
        assert_eq!(b.0[0], Item::Comment(Comment::line(" top")));
        assert_eq!(
            b.0[1],
            Item::Comment(Comment {
                value: " inline".into(),
                inline: true
            })
        );
        assert_eq!(b.get("e"), Some(&Value::Str("line1\nline2\n".into())));
        let Some(Value::Map(inner)) = b.get("b") else {
            panic!()
        };
        // go-yaml gives a foot comment to the innermost block that ends before it.
        let Some(Value::Seq(d)) = inner.get("d") else {
            panic!()
        };
        let Some(Value::Map(last)) = d.last() else {
            panic!()
        };
        assert_eq!(
            last.0.last(),
            Some(&Item::Comment(Comment::line(" foot of b")))
        );
        assert!(b.0.contains(&Item::Comment(Comment::line(" head of e"))));
    }

    #[test]
    fn multi_documents() {
        let docs = parse("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        let docs = parse("---\na: 1\n---\nb: 2\n...\n").unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn folded_and_quoted() {
        let b = one("f: >\n  a\n  b\n\n  c\nq: \"x\\ty\"\ns: 'it''s'\np: multi\n  line\n");
        assert_eq!(b.get("f"), Some(&Value::Str("a b\nc\n".into())));
        assert_eq!(b.get("q"), Some(&Value::Str("x\ty".into())));
        assert_eq!(b.get("s"), Some(&Value::Str("it's".into())));
        assert_eq!(b.get("p"), Some(&Value::Str("multi line".into())));
    }

    #[test]
    fn anchors_and_duplicates() {
        let b = one("a: &x {k: v}\nb: *x\n");
        assert_eq!(b.get("a"), b.get("b"));
        assert!(parse("a: 1\na: 2\n").is_err());
        assert!(parse("- a\n").is_err());
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        // Nine levels of nine aliases (9^9 strings), block and flow forms.
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        let mut flow = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        let mut block = String::from("a: &a\n");
        for _ in 0..9 {
            block.push_str("  - lol\n");
        }
        for w in names.windows(2) {
            let (prev, next) = (w[0], w[1]);
            flow.push_str(&format!("{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            block.push_str(&format!("{next}: &{next}\n"));
            for _ in 0..9 {
                block.push_str(&format!("  - *{prev}\n"));
            }
        }
        for text in [flow, block] {
            let text = format!("x: 1\n---\n{text}");
            let start = std::time::Instant::now();
            let err = parse(&text).unwrap_err();
            assert!(start.elapsed() < std::time::Duration::from_secs(2));
            let msg = err.to_string();
            assert!(
                msg.contains("YAML alias expansion exceeds the limit in document 1 (alias *c)"),
                "{msg}"
            );
        }
    }

    #[test]
    fn moderate_aliasing_is_accepted() {
        let text = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
        let b = one(text);
        let Some(Value::Seq(c)) = b.get("c") else {
            panic!()
        };
        assert_eq!(c.len(), 9);
    }
}
