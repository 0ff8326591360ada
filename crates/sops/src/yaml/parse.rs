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

use crate::tree::{Branch, Comment, Item, Value};

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
    anchors: HashMap<String, Value>,
    /// Full-line comments read but not yet attached.
    pending: Vec<Pending>,
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
            self.anchors.insert(a, v.clone());
        }
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
        let value = match self.peek() {
            Some('*') => {
                self.pos += 1;
                let name = self.read_word();
                match self.anchors.get(&name) {
                    Some(v) => v.clone(),
                    None => return self.err(format!("unknown anchor {name:?}")),
                }
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

    /// A plain scalar; multi-line continuation lines must be indented more than `parent`.
    fn plain_scalar(&mut self, parent: i64, key: bool) -> Result<String> {
        let mut out = String::new();
        let mut line_text = String::new();
        loop {
            // One line.
            while let Some(c) = self.peek() {
                if c == '\n' || c == '\r' {
                    break;
                }
                if c == ':' && is_blank(self.peek_at(1)) {
                    break;
                }
                if c == '#' && line_text.ends_with([' ', '\t']) {
                    break;
                }
                if c == '#' && line_text.is_empty() && !out.is_empty() {
                    break;
                }
                line_text.push(c);
                self.pos += 1;
            }
            let trimmed = line_text.trim_end_matches([' ', '\t']).to_string();
            if !out.is_empty() {
                out.push_str(&trimmed);
            } else {
                out = trimmed;
            }
            line_text.clear();
            if key || !self.at_eol() || self.peek().is_none() {
                // Put back trailing spaces before a comment or ':' (they were consumed).
                return Ok(out);
            }
            // Look ahead for a continuation line.
            let save = (self.pos, self.line);
            self.skip_eol();
            let mut breaks = 0;
            loop {
                let start = self.pos;
                self.skip_spaces();
                if self.at_eol() && self.peek().is_some() {
                    breaks += 1;
                    self.skip_eol();
                    continue;
                }
                let col = self.pos - start;
                let c = self.peek();
                let cont = c.is_some()
                    && (col as i64) > parent
                    && c != Some('#')
                    && !(col == 0 && (self.is_doc_marker('-') || self.is_doc_marker('.')))
                    && !self.at_map_key_after_continuation();
                if !cont {
                    (self.pos, self.line) = save;
                    return Ok(out);
                }
                break;
            }
            if breaks == 0 {
                out.push(' ');
            } else {
                for _ in 0..breaks {
                    out.push('\n');
                }
            }
        }
    }

    fn at_map_key_after_continuation(&self) -> bool {
        // A continuation line may not contain "key: " (that would start a mapping entry).
        let mut i = self.pos;
        while let Some(&c) = self.chars.get(i) {
            if c == '\n' {
                break;
            }
            if c == ':' && is_blank(self.chars.get(i + 1).copied()) {
                return true;
            }
            i += 1;
        }
        false
    }

    fn single_quoted(&mut self, _parent: i64) -> Result<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated single-quoted scalar"),
                Some('\'') => {
                    if self.peek_at(1) == Some('\'') {
                        out.push('\'');
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(out);
                    }
                }
                Some('\n' | '\r') => self.fold_quoted_break(&mut out),
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Folds a line break inside a quoted scalar: trailing spaces dropped, one break becomes a
    /// space, n>1 breaks become n-1 newlines, leading spaces of the next line dropped.
    fn fold_quoted_break(&mut self, out: &mut String) {
        while out.ends_with([' ', '\t']) {
            out.pop();
        }
        self.skip_eol();
        let mut breaks = 0;
        loop {
            self.skip_spaces();
            if matches!(self.peek(), Some('\n' | '\r')) {
                breaks += 1;
                self.skip_eol();
            } else {
                break;
            }
        }
        if breaks == 0 {
            out.push(' ');
        } else {
            for _ in 0..breaks {
                out.push('\n');
            }
        }
    }

    fn double_quoted(&mut self, _parent: i64) -> Result<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated double-quoted scalar"),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\n' | '\r') => self.fold_quoted_break(&mut out),
                Some('\\') => {
                    self.pos += 1;
                    let Some(e) = self.bump() else {
                        return self.err("unterminated escape");
                    };
                    let simple = match e {
                        '0' => Some('\0'),
                        'a' => Some('\x07'),
                        'b' => Some('\x08'),
                        't' | '\t' => Some('\t'),
                        'n' => Some('\n'),
                        'v' => Some('\x0b'),
                        'f' => Some('\x0c'),
                        'r' => Some('\r'),
                        'e' => Some('\x1b'),
                        ' ' => Some(' '),
                        '"' => Some('"'),
                        '/' => Some('/'),
                        '\\' => Some('\\'),
                        'N' => Some('\u{85}'),
                        '_' => Some('\u{a0}'),
                        'L' => Some('\u{2028}'),
                        'P' => Some('\u{2029}'),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        out.push(c);
                        continue;
                    }
                    let digits = match e {
                        'x' => 2,
                        'u' => 4,
                        'U' => 8,
                        '\n' | '\r' => {
                            if e == '\r' && self.peek() == Some('\n') {
                                self.bump();
                            }
                            // Escaped line break: join without a space.
                            loop {
                                self.skip_spaces();
                                if matches!(self.peek(), Some('\n' | '\r')) {
                                    out.push('\n');
                                    self.skip_eol();
                                } else {
                                    break;
                                }
                            }
                            continue;
                        }
                        _ => return self.err(format!("unknown escape \\{e}")),
                    };
                    let mut code = 0u32;
                    for _ in 0..digits {
                        let Some(d) = self.bump().and_then(|c| c.to_digit(16)) else {
                            return self.err("bad hexadecimal escape");
                        };
                        code = code * 16 + d;
                    }
                    match char::from_u32(code) {
                        Some(c) => out.push(c),
                        None => return self.err("escape is not a valid character"),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `|` or `>` block scalar; the cursor is on the indicator. Leaves the cursor at the start
    /// of the first line after the scalar, positioned so that `end_of_line` sees an empty line.
    fn block_scalar(&mut self, parent: i64) -> Result<String> {
        let folded = self.bump() == Some('>');
        let mut chomp = 0i8; // -1 strip, 0 clip, 1 keep
        let mut explicit: Option<usize> = None;
        for _ in 0..2 {
            match self.peek() {
                Some('-') => {
                    chomp = -1;
                    self.pos += 1;
                }
                Some('+') => {
                    chomp = 1;
                    self.pos += 1;
                }
                Some(d @ '1'..='9') => {
                    explicit = d.to_digit(10).map(|d| d as usize);
                    self.pos += 1;
                }
                _ => {}
            }
        }
        self.skip_spaces();
        if self.peek() == Some('#') {
            let _ = self.read_comment();
        }
        if !self.at_eol() {
            return self.err("unexpected text after a block scalar indicator");
        }
        self.skip_eol();
        let base = if parent < 0 { 0 } else { parent as usize + 1 };
        // Collect lines.
        let mut lines: Vec<String> = Vec::new();
        let mut indent: Option<usize> = explicit.map(|e| (parent.max(0) as usize) + e);
        if parent < 0 {
            indent = explicit;
        }
        loop {
            if self.peek().is_none() {
                break;
            }
            let line_start = (self.pos, self.line);
            let mut n = 0;
            while self.peek() == Some(' ') {
                n += 1;
                self.pos += 1;
            }
            if self.at_eol() {
                // Blank (or spaces-only) line.
                let rest: String = match indent {
                    Some(i) if n > i => " ".repeat(n - i),
                    _ => String::new(),
                };
                lines.push(rest);
                if self.peek().is_none() {
                    break;
                }
                self.skip_eol();
                continue;
            }
            let ind = match indent {
                Some(i) => i,
                None => {
                    if n < base {
                        (self.pos, self.line) = line_start;
                        break;
                    }
                    indent = Some(n);
                    n
                }
            };
            if n < ind || (n == 0 && (self.is_doc_marker('-') || self.is_doc_marker('.'))) {
                (self.pos, self.line) = line_start;
                break;
            }
            let mut text = " ".repeat(n - ind);
            text.push_str(&self.rest_of_line());
            if text.ends_with('\r') {
                text.pop();
            }
            lines.push(text);
            self.skip_eol();
        }
        // Trailing blank lines belong to the scalar only for chomping purposes.
        let mut trailing = 0;
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
            trailing += 1;
        }
        let mut body = if folded {
            refold(&lines)
        } else {
            lines.join("\n")
        };
        if !lines.is_empty() {
            match chomp {
                -1 => {}
                0 => body.push('\n'),
                _ => {
                    body.push('\n');
                    for _ in 0..trailing {
                        body.push('\n');
                    }
                }
            }
        } else if chomp == 1 {
            for _ in 0..trailing {
                body.push('\n');
            }
        }
        // Leave the cursor at the start of the next line with an empty "rest of line".
        if self.pos > 0 && self.chars.get(self.pos - 1) == Some(&'\n') {
            self.pos -= 1;
            self.line -= 1;
        }
        Ok(body)
    }

    fn skip_flow_space(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => self.pos += 1,
                Some('\n') => {
                    self.bump();
                }
                Some('#') => {
                    let _ = self.read_comment();
                }
                _ => return,
            }
        }
    }

    fn flow_node(&mut self) -> Result<Value> {
        self.skip_flow_space();
        let (anchor, tag) = self.properties()?;
        self.skip_flow_space();
        let v = match self.peek() {
            Some('[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_flow_space();
                    if self.peek() == Some(']') {
                        self.pos += 1;
                        break;
                    }
                    let item = self.flow_node()?;
                    self.skip_flow_space();
                    if self.peek() == Some(':') {
                        // Single-pair mapping inside a sequence.
                        self.pos += 1;
                        let v = self.flow_node()?;
                        let mut b = Branch::default();
                        b.push(flow_key(&item), v);
                        items.push(Value::Map(b));
                        self.skip_flow_space();
                    } else {
                        items.push(item);
                    }
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        Some(']') => {}
                        _ => return self.err("expected ',' or ']' in a flow sequence"),
                    }
                }
                Value::Seq(items)
            }
            Some('{') => {
                self.pos += 1;
                let mut b = Branch::default();
                loop {
                    self.skip_flow_space();
                    if self.peek() == Some('}') {
                        self.pos += 1;
                        break;
                    }
                    let k = self.flow_node()?;
                    let key = flow_key(&k);
                    self.skip_flow_space();
                    let v = if self.peek() == Some(':') {
                        self.pos += 1;
                        self.flow_node()?
                    } else {
                        Value::Null
                    };
                    if b.get(&key).is_some() {
                        return self.err(format!("mapping key {key:?} already defined"));
                    }
                    b.push(key, v);
                    self.skip_flow_space();
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        Some('}') => {}
                        _ => return self.err("expected ',' or '}' in a flow mapping"),
                    }
                }
                Value::Map(b)
            }
            Some('"') => Value::Str(self.double_quoted(-1)?),
            Some('\'') => Value::Str(self.single_quoted(-1)?),
            Some('*') => {
                self.pos += 1;
                let name = self.read_word();
                match self.anchors.get(&name) {
                    Some(v) => v.clone(),
                    None => return self.err(format!("unknown anchor {name:?}")),
                }
            }
            _ => {
                let mut s = String::new();
                while let Some(c) = self.peek() {
                    if matches!(c, ',' | ']' | '}' | '\n' | '\r')
                        || (c == ':'
                            && (is_blank(self.peek_at(1))
                                || matches!(self.peek_at(1), Some(',' | ']' | '}'))))
                        || (c == '#' && s.ends_with(' '))
                    {
                        break;
                    }
                    s.push(c);
                    self.pos += 1;
                }
                let s = s.trim().to_string();
                if tag.is_some() {
                    Value::Str(s)
                } else {
                    resolve(&s)
                }
            }
        };
        let v = apply_tag(tag.as_deref(), v);
        self.register(anchor, &v);
        Ok(v)
    }
}

fn flow_key(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_plain_string(),
    }
}

/// Folding of `>` scalars per YAML 1.2 §8.1.3.
fn refold(lines: &[String]) -> String {
    let mut out = String::new();
    let mut i = 0;
    let mut prev_more_indented = false;
    let mut first = true;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            // Count the run of empty lines.
            let mut n = 0;
            while i < lines.len() && lines[i].is_empty() {
                n += 1;
                i += 1;
            }
            if first {
                for _ in 0..n {
                    out.push('\n');
                }
            } else {
                let next_more = lines.get(i).is_some_and(|l| l.starts_with([' ', '\t']));
                let extra = if prev_more_indented || next_more {
                    1
                } else {
                    0
                };
                for _ in 0..(n + extra) {
                    out.push('\n');
                }
            }
            if i < lines.len() {
                out.push_str(&lines[i]);
                prev_more_indented = lines[i].starts_with([' ', '\t']);
                first = false;
                i += 1;
            }
            continue;
        }
        let more = l.starts_with([' ', '\t']);
        if !first {
            if more || prev_more_indented {
                out.push('\n');
            } else {
                out.push(' ');
            }
        }
        out.push_str(l);
        prev_more_indented = more;
        first = false;
        i += 1;
    }
    out
}

fn apply_tag(tag: Option<&str>, v: Value) -> Value {
    match (tag, v) {
        (Some("!!str" | "!<tag:yaml.org,2002:str>"), Value::Str(s)) => Value::Str(s),
        (Some("!!str"), other @ (Value::Null | Value::Map(_) | Value::Seq(_))) => other,
        (Some("!!str"), other) => Value::Str(other.to_plain_string()),
        (Some("!!binary"), Value::Str(s)) => {
            use base64::Engine;
            let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()) {
                Ok(bytes) => Value::Str(String::from_utf8_lossy(&bytes).into_owned()),
                Err(_) => Value::Str(s),
            }
        }
        (Some("!!int" | "!!float" | "!!bool" | "!!null"), Value::Str(s)) => resolve(&s),
        (_, v) => v,
    }
}

/// Resolves a plain scalar to its YAML 1.2 core-schema type, as go-yaml v3 does (timestamps
/// stay strings, as go-yaml returns them into `interface{}`).
pub fn resolve(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        if let Ok(f) = s.parse::<f64>()
            && s[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'e' | b'E' | b'+' | b'-'))
        {
            return Value::Float(f);
        }
        return Value::Str(s.to_string());
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Value::Str(s.to_string());
    }
    if let Some(t) = parse_timestamp(s) {
        return Value::Time(t);
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Value::Int(i);
    }
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -magnitude } else { magnitude };
    i64::try_from(v).ok()
}

fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Parses go-yaml's timestamp forms (`YYYY-M-D`, `YYYY-M-D[Tt]h:m:s[.f](Z|±hh:mm)`,
/// `YYYY-M-D h:m:s[.f]`) and returns the time as Go's RFC 3339 (nano) text, which is what sops
/// hashes, encrypts (type `time`) and prints.
pub fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        s[start..*i].parse().ok()
    };
    let expect = |i: &mut usize, c: u8| -> Option<()> { (b.get(*i) == Some(&c)).then(|| *i += 1) };
    let year = num(&mut i, 4, 4)?;
    expect(&mut i, b'-')?;
    let month = num(&mut i, 1, 2)?;
    expect(&mut i, b'-')?;
    let day = num(&mut i, 1, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if i == b.len() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let sep = *b.get(i)?;
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    i += 1;
    let hour = num(&mut i, 1, 2)?;
    expect(&mut i, b':')?;
    let min = num(&mut i, 1, 2)?;
    expect(&mut i, b':')?;
    let sec = num(&mut i, 1, 2)?;
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut frac = String::new();
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        frac = s[start..i].chars().take(9).collect::<String>();
        while frac.ends_with('0') {
            frac.pop();
        }
    }
    let zone = &s[i..];
    let zone = if sep == b' ' {
        if !zone.is_empty() {
            return None;
        }
        "Z".to_string()
    } else if zone == "Z" {
        "Z".to_string()
    } else {
        let z = zone.as_bytes();
        if z.len() != 6
            || !matches!(z[0], b'+' | b'-')
            || z[3] != b':'
            || !z[1..3].iter().chain(&z[4..6]).all(u8::is_ascii_digit)
        {
            return None;
        }
        if &zone[1..] == "00:00" {
            "Z".to_string()
        } else {
            zone.to_string()
        }
    };
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!("{date}T{hour:02}:{min:02}:{sec:02}{frac}{zone}"))
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
}
