//! Scalar and flow-collection readers of the YAML parser: plain (multi-line folding),
//! single- and double-quoted (escapes), literal and folded block scalars, flow `[...]`/`{...}`,
//! and tag application.

use super::{Parser, Result, is_blank, resolve};
use crate::tree::{Branch, Value};

impl Parser {
    /// A plain scalar; multi-line continuation lines must be indented more than `parent`.
    pub(super) fn plain_scalar(&mut self, parent: i64, key: bool) -> Result<String> {
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

    pub(super) fn at_map_key_after_continuation(&self) -> bool {
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

    pub(super) fn single_quoted(&mut self, _parent: i64) -> Result<String> {
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
    pub(super) fn fold_quoted_break(&mut self, out: &mut String) {
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

    pub(super) fn double_quoted(&mut self, _parent: i64) -> Result<String> {
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
    pub(super) fn block_scalar(&mut self, parent: i64) -> Result<String> {
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

    pub(super) fn skip_flow_space(&mut self) {
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

    pub(super) fn flow_node(&mut self) -> Result<Value> {
        self.skip_flow_space();
        let (anchor, tag) = self.properties()?;
        self.skip_flow_space();
        if self.peek() != Some('*') {
            self.budget.node();
        }
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
                        self.budget.node();
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
                self.alias()?
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

pub(super) fn apply_tag(tag: Option<&str>, v: Value) -> Value {
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
