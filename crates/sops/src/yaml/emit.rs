//! A YAML writer that prints the sops tree the way sops (go-yaml v3) does: the same indentation
//! rules, scalar styles and comment placement, so `keelson sops decrypt` output matches
//! `sops -d` byte for byte in the common cases.

use crate::tree::{Branch, Comment, Item, Value, go_float_g};
use crate::yaml::parse::resolve;

/// Writes the documents, separated by `---` lines; `indent` is the indentation step (sops' default
/// is 4).
pub fn emit(docs: &[Branch], indent: usize) -> String {
    let mut e = Emitter {
        out: String::new(),
        best: indent.max(2),
    };
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            e.out.push_str("---\n");
        }
        if doc.0.iter().all(|item| matches!(item, Item::Comment(_))) && !doc.0.is_empty() {
            for item in &doc.0 {
                if let Item::Comment(c) = item {
                    e.comment_line(0, c);
                }
            }
            e.out.push_str("{}\n");
            continue;
        }
        if doc.0.is_empty() {
            e.out.push_str("{}\n");
            continue;
        }
        e.map(doc, 0);
    }
    e.out
}

struct Emitter {
    out: String,
    best: usize,
}

/// go-yaml v3's indentation rule for block collections and block scalars that are values of a
/// mapping key: round up to the next multiple of the indentation step.
fn next_indent(current: usize, best: usize) -> usize {
    best * ((current + best) / best)
}

#[derive(Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

impl Emitter {
    fn pad(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
    }

    fn comment_line(&mut self, col: usize, c: &Comment) {
        self.pad(col);
        self.out.push('#');
        self.out.push_str(&c.value);
        self.out.push('\n');
    }

    fn line_comments(&mut self, comments: &[Comment]) {
        if comments.is_empty() {
            return;
        }
        self.out.push_str(" #");
        let joined: Vec<&str> = comments.iter().map(|c| c.value.as_str()).collect();
        self.out.push_str(&joined.join("\n#"));
    }

    /// A block mapping whose keys start at column `col`; the cursor is already at `col` on the
    /// current line when `inline_first` is set (mapping inside a sequence item).
    fn map_inner(&mut self, branch: &Branch, col: usize, mut inline_first: bool) {
        let mut head: Vec<Comment> = Vec::new();
        let mut inline: Vec<Comment> = Vec::new();
        for item in &branch.0 {
            match item {
                Item::Comment(c) if c.inline => inline.push(c.clone()),
                Item::Comment(c) => head.push(c.clone()),
                Item::Entry(key, value) => {
                    if inline_first && !head.is_empty() {
                        // Comments cannot precede the first key on the "- " line: go-yaml puts
                        // them above the item.
                        inline_first = false;
                        self.out.push('\n');
                        for c in head.drain(..) {
                            self.comment_line(col, &c);
                        }
                    }
                    for c in head.drain(..) {
                        self.comment_line(col, &c);
                    }
                    if !inline_first {
                        self.pad(col);
                    }
                    inline_first = false;
                    self.key(key);
                    self.out.push(':');
                    let comments = std::mem::take(&mut inline);
                    self.value_after_key(value, col, &comments);
                }
            }
        }
        head.extend(inline);
        if inline_first {
            self.out.push_str("{}\n");
        }
        for c in head {
            self.comment_line(col, &c);
        }
    }

    fn map(&mut self, branch: &Branch, col: usize) {
        self.map_inner(branch, col, false);
    }

    fn is_empty_collection(v: &Value) -> bool {
        match v {
            Value::Map(b) => !b.0.iter().any(|i| matches!(i, Item::Entry(..))),
            Value::Seq(items) => !items.iter().any(|i| !matches!(i, Value::Comment(_))),
            _ => false,
        }
    }

    fn value_after_key(&mut self, value: &Value, col: usize, comments: &[Comment]) {
        match value {
            Value::Map(b) if !Self::is_empty_collection(value) => {
                self.line_comments(comments);
                self.out.push('\n');
                self.map(b, next_indent(col, self.best));
            }
            Value::Seq(items) if !Self::is_empty_collection(value) => {
                self.line_comments(comments);
                self.out.push('\n');
                self.seq(items, next_indent(col, self.best));
            }
            _ => {
                self.out.push(' ');
                self.scalar(value, next_indent(col, self.best), comments);
            }
        }
    }

    fn seq(&mut self, items: &[Value], col: usize) {
        let mut head: Vec<Comment> = Vec::new();
        let mut inline: Vec<Comment> = Vec::new();
        let mut first = true;
        for item in items {
            match item {
                Value::Comment(c) if c.inline => inline.push(c.clone()),
                Value::Comment(c) => head.push(c.clone()),
                value => {
                    // sops hoists the comments that open a mapping item above its "- " line
                    // (go-yaml head comment of the item). For the first item, go-yaml then
                    // loses the sequence's own opening comments.
                    let (own, rest) = split_leading_comments(value);
                    if first && !own.is_empty() {
                        head.clear();
                    }
                    first = false;
                    for c in head.drain(..).chain(own) {
                        self.comment_line(col, &c);
                    }
                    self.pad(col);
                    self.out.push_str("- ");
                    let comments = std::mem::take(&mut inline);
                    match &rest {
                        Value::Map(b) if !Self::is_empty_collection(&rest) => {
                            self.map_inner(b, col + 2, true);
                        }
                        Value::Seq(inner) if !Self::is_empty_collection(&rest) => {
                            self.seq_inline(inner, col + 2);
                        }
                        _ => self.scalar(&rest, col + 2, &comments),
                    }
                }
            }
        }
        head.extend(inline);
        for c in head {
            self.comment_line(col, &c);
        }
    }

    /// A sequence nested directly in a sequence item: the first "- " goes on the current line.
    fn seq_inline(&mut self, items: &[Value], col: usize) {
        let mut first = true;
        let mut head: Vec<Comment> = Vec::new();
        let mut inline: Vec<Comment> = Vec::new();
        for item in items {
            match item {
                Value::Comment(c) if c.inline => inline.push(c.clone()),
                Value::Comment(c) => head.push(c.clone()),
                value => {
                    if first && !head.is_empty() {
                        self.out.push('\n');
                        first = false;
                    }
                    for c in head.drain(..) {
                        self.comment_line(col, &c);
                    }
                    if !first {
                        self.pad(col);
                    }
                    first = false;
                    self.out.push_str("- ");
                    let comments = std::mem::take(&mut inline);
                    match value {
                        Value::Map(b) if !Self::is_empty_collection(value) => {
                            self.map_inner(b, col + 2, true);
                        }
                        Value::Seq(inner) if !Self::is_empty_collection(value) => {
                            self.seq_inline(inner, col + 2);
                        }
                        _ => self.scalar(value, col + 2, &comments),
                    }
                }
            }
        }
        head.extend(inline);
        for c in head {
            self.comment_line(col, &c);
        }
    }

    fn key(&mut self, key: &str) {
        if key == "<<" {
            // go-yaml resolves `<<` to the merge tag and prints the tag when it re-emits it.
            self.out.push_str("!!merge <<");
            return;
        }
        let style = string_style(key, true);
        self.write_string(key, style, 0);
    }

    /// A scalar (or empty collection) at the cursor, then the line comments and a newline;
    /// `block_indent` is where the lines of a literal block go.
    fn scalar(&mut self, value: &Value, block_indent: usize, comments: &[Comment]) {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => {
                let s = if f.is_nan() {
                    ".nan".to_string()
                } else if f.is_infinite() {
                    if *f > 0.0 { ".inf" } else { "-.inf" }.to_string()
                } else {
                    go_float_g(*f, 6)
                };
                self.out.push_str(&s);
            }
            Value::Time(t) => self.out.push_str(t),
            Value::Str(s) => {
                let style = string_style(s, false);
                self.write_string(s, style, block_indent);
                if matches!(style, Style::Literal) {
                    // The literal block already ended its last line.
                    if !comments.is_empty() {
                        // go-yaml would put them on the indicator line; rare enough to place
                        // them after the block.
                        for c in comments {
                            self.comment_line(block_indent, c);
                        }
                    }
                    return;
                }
            }
            Value::Bytes(b) => {
                let s = String::from_utf8_lossy(b).into_owned();
                let style = string_style(&s, false);
                self.write_string(&s, style, block_indent);
                if matches!(style, Style::Literal) {
                    return;
                }
            }
            Value::Map(_) => self.out.push_str("{}"),
            Value::Seq(_) => self.out.push_str("[]"),
            Value::Comment(c) => {
                self.out.push('#');
                self.out.push_str(&c.value);
            }
        }
        self.line_comments(comments);
        self.out.push('\n');
    }

    fn write_string(&mut self, s: &str, style: Style, block_indent: usize) {
        match style {
            Style::Plain => self.out.push_str(s),
            Style::Single => {
                self.out.push('\'');
                self.out.push_str(&s.replace('\'', "''"));
                self.out.push('\'');
            }
            Style::Double => self.double_quoted(s),
            Style::Literal => self.literal(s, block_indent),
        }
    }

    fn double_quoted(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '\0' => self.out.push_str("\\0"),
                '\x07' => self.out.push_str("\\a"),
                '\x08' => self.out.push_str("\\b"),
                '\t' => self.out.push_str("\\t"),
                '\n' => self.out.push_str("\\n"),
                '\x0b' => self.out.push_str("\\v"),
                '\x0c' => self.out.push_str("\\f"),
                '\r' => self.out.push_str("\\r"),
                '\x1b' => self.out.push_str("\\e"),
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\u{85}' => self.out.push_str("\\N"),
                '\u{a0}' => self.out.push_str("\\_"),
                '\u{2028}' => self.out.push_str("\\L"),
                '\u{2029}' => self.out.push_str("\\P"),
                c if !is_printable(c) || c == '\u{feff}' => {
                    let v = c as u32;
                    if v <= 0xff {
                        self.out.push_str(&format!("\\x{v:02X}"));
                    } else if v <= 0xffff {
                        self.out.push_str(&format!("\\u{v:04X}"));
                    } else {
                        self.out.push_str(&format!("\\U{v:08X}"));
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.out.push('|');
        if s.starts_with([' ', '\n']) {
            self.out.push_str(&self.best.to_string());
        }
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s == "\n" || s[..s.len() - 1].ends_with('\n') {
            "+"
        } else {
            ""
        };
        self.out.push_str(chomp);
        self.out.push('\n');
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            if !line.is_empty() {
                self.pad(indent);
                self.out.push_str(line);
            }
            self.out.push('\n');
        }
        if chomp == "+" {
            // `split` above already produced the lines; nothing more to add.
        }
    }
}

/// Splits the comments that open a mapping (before its first entry, not inline) from the rest.
fn split_leading_comments(value: &Value) -> (Vec<Comment>, Value) {
    match value {
        Value::Map(b) => {
            let n =
                b.0.iter()
                    .take_while(|i| matches!(i, Item::Comment(c) if !c.inline))
                    .count();
            let own = b.0[..n]
                .iter()
                .filter_map(|i| match i {
                    Item::Comment(c) => Some(c.clone()),
                    Item::Entry(..) => None,
                })
                .collect();
            (own, Value::Map(Branch(b.0[n..].to_vec())))
        }
        other => (Vec::new(), other.clone()),
    }
}

fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0a
        || (0x20..=0x7e).contains(&v)
        || v == 0x85
        || (0xa0..=0xd7ff).contains(&v)
        || ((0xe000..=0xfffd).contains(&v) && v != 0xfeff)
        || (0x10000..=0x10ffff).contains(&v)
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let g = &s[start..i];
        let ok = match g.len() {
            1 => true,
            2 => g.as_bytes()[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

struct Analysis {
    block_plain: bool,
    single: bool,
    block: bool,
    multiline: bool,
}

/// libyaml's scalar analysis (block context).
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain: true,
            single: true,
            block: false,
            multiline: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special, mut tabs) = (false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_by_ws = true;
    let n = chars.len();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = i + 1 >= n || matches!(chars[i + 1], ' ' | '\t' | '\n' | '\r');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' if followed_by_ws => block_indicators = true,
                '-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}') {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t' | '\n' | '\r');
    }
    let mut a = Analysis {
        block_plain: true,
        single: true,
        block: true,
        multiline: line_breaks,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || tabs || special {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block = false;
    }
    if line_breaks {
        a.block_plain = false;
    }
    if block_indicators {
        a.block_plain = false;
    }
    a
}

/// The style go-yaml v3 picks for a string (`key` = simple-key context).
fn string_style(s: &str, key: bool) -> Style {
    let a = analyze(s);
    let needs_quotes =
        !matches!(resolve_for_output(s), Value::Str(_)) || is_base60_float(s) || is_old_bool(s);
    let mut style = if s.contains('\n') {
        Style::Literal
    } else if needs_quotes {
        Style::Double
    } else {
        Style::Plain
    };
    if key && a.multiline {
        style = Style::Double;
    }
    if matches!(style, Style::Plain) && (!a.block_plain || (s.is_empty() && key)) {
        style = Style::Single;
    }
    if matches!(style, Style::Single) && !a.single {
        style = Style::Double;
    }
    if matches!(style, Style::Literal) && (!a.block || key) {
        style = Style::Double;
    }
    style
}

fn resolve_for_output(s: &str) -> Value {
    if s == "<<" {
        return Value::Null;
    }
    if s.is_empty() {
        return Value::Null;
    }
    resolve(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn styled(s: &str) -> String {
        let mut e = Emitter {
            out: String::new(),
            best: 4,
        };
        e.scalar(&Value::Str(s.to_string()), 4, &[]);
        e.out
    }

    #[test]
    fn string_styles_match_go_yaml() {
        assert_eq!(styled("plain"), "plain\n");
        assert_eq!(styled(""), "\"\"\n");
        assert_eq!(styled("123"), "\"123\"\n");
        assert_eq!(styled("yes"), "\"yes\"\n");
        assert_eq!(styled("a: b"), "'a: b'\n");
        assert_eq!(styled("  lead"), "'  lead'\n");
        assert_eq!(styled("a\tb"), "\"a\\tb\"\n");
        assert_eq!(styled("?x"), "?x\n");
        assert_eq!(styled("- x"), "'- x'\n");
        assert_eq!(styled("2024-01-02"), "\"2024-01-02\"\n");
        assert_eq!(styled("l1\nl2\n"), "|\n    l1\n    l2\n");
        assert_eq!(styled("l1\nl2"), "|-\n    l1\n    l2\n");
        assert_eq!(styled("line1 \nline2"), "\"line1 \\nline2\"\n");
    }
}
