//! YAML as Helm's `toYaml` writes it: `sigs.k8s.io/yaml.Marshal`, i.e. the JSON form of the
//! value read back by `yaml.v2` and written by `yaml.v2`'s emitter.
//!
//! The emitter is followed step by step (emitterc.go: `analyze_scalar`, `select_scalar_style`,
//! the block mapping/sequence states, the plain/quoted/literal writers with their column
//! tracking), because the text itself matters: charts put `toYaml` output inside block scalars
//! (`config.yaml: |` + `toYaml … | nindent 4`), so a different line folding, block indentation
//! indicator or chomping indicator changes the rendered ConfigMap value. Facts kept:
//! keys in `yaml.v2`'s natural order, lines folded at spaces past column 80 (plain and quoted
//! scalars, never keys), `|2` when a block scalar starts with a space or line break, `|-`/`|`/`|+`
//! from the trailing line breaks, double quotes (with `\U` escapes) for what is not printable
//! (tabs, C1 controls, characters outside the BMP).

use std::cmp::Ordering;

use crate::gofmt::{format_float_g, format_float_json};
use crate::value::{Map, Value};
use crate::yaml::{Resolved, resolve};

const BEST_INDENT: i64 = 2;
const BEST_WIDTH: usize = 80;

/// Writes `v` as `yaml.v2`'s `Marshal` of its JSON form does, with its trailing newline; `None`
/// when the JSON encoding fails (NaN or an infinity), as `toYaml` then yields "".
pub fn to_yaml(v: &Value) -> Option<String> {
    if has_non_finite(v) {
        return None;
    }
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        indent: -1,
        indents: Vec::new(),
    };
    e.node(v, Ctx::ROOT);
    // DOCUMENT-END: a final line break
    e.indent = -1;
    e.write_indent();
    Some(e.out)
}

fn has_non_finite(v: &Value) -> bool {
    match v {
        Value::Float(f) => !f.is_finite(),
        Value::List(l) => l.iter().any(has_non_finite),
        Value::Map(m) => m.borrow().values().any(has_non_finite),
        _ => false,
    }
}

#[derive(Clone, Copy)]
struct Ctx {
    root: bool,
    mapping: bool,
    simple_key: bool,
}

impl Ctx {
    const ROOT: Ctx = Ctx {
        root: true,
        mapping: false,
        simple_key: false,
    };
    const SEQ: Ctx = Ctx {
        root: false,
        mapping: false,
        simple_key: false,
    };
    const MAP: Ctx = Ctx {
        root: false,
        mapping: true,
        simple_key: false,
    };
    const KEY: Ctx = Ctx {
        root: false,
        mapping: true,
        simple_key: true,
    };
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// What `yaml_emitter_analyze_scalar` finds.
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: i64,
    indents: Vec<i64>,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable` (on the UTF-8 form): characters outside the BMP are not.
fn is_printable(c: char) -> bool {
    let n = c as u32;
    n == 0x0A
        || (0x20..=0x7E).contains(&n)
        || (0xA0..=0xD7FF).contains(&n)
        || ((0xE000..=0xFFFD).contains(&n) && n != 0xFEFF)
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_by_ws = true;
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_ws = next.is_none_or(|n| n == ' ' || n == '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i + 1 == chars.len();
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= i + 1 == chars.len();
            space_break |= prev_space;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = c == ' ' || c == '\t' || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// `yaml.v2`'s `isBase60Float` regex `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        // `[0-5]?[0-9]` with backtracking: two digits when the first is 0-5, else one
        match (b.get(i), b.get(i + 1)) {
            (Some(x), Some(y)) if (b'0'..=b'5').contains(x) && y.is_ascii_digit() => i += 2,
            (Some(x), _) if x.is_ascii_digit() => i += 1,
            _ => return false,
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

/// `yaml.v2`'s natural key order (sorter.go `keyList.Less`) for string keys: letters after
/// other characters, runs of digits compared as numbers.
pub fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let digit = |c: char| c.is_numeric();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && digit(ar[j - 1]) {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && digit(ar[ai]) {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai].to_digit(10).unwrap_or(0)));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && digit(br[bi]) {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi].to_digit(10).unwrap_or(0)));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

fn sorted_keys(m: &Map) -> Vec<&String> {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by(|a, b| {
        if key_less(a, b) {
            Ordering::Less
        } else if key_less(b, a) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
    keys
}

/// How a float64 comes out of the JSON → YAML round trip.
fn yaml_float(f: f64) -> String {
    let j = format_float_json(f);
    // the JSON text read back by yaml.v2: an int (or uint64) is written as that int (`-0` is 0)
    if let Some(i) = crate::template::number::go_parse_int0(&j) {
        return i.to_string();
    }
    if let Some(u) = crate::template::number::go_parse_uint0(&j) {
        return u.to_string();
    }
    format_float_g(f, None)
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        ind: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, v: &Value, ctx: Ctx) {
        match v {
            Value::Map(m) if !m.borrow().is_empty() => self.block_mapping(&m.borrow()),
            Value::List(l) if !l.is_empty() => self.block_sequence(l, ctx),
            Value::Map(_) => self.empty_flow("{", "}"),
            Value::List(_) => self.empty_flow("[", "]"),
            Value::Nil => self.scalar("null", Style::Plain, ctx),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, Style::Plain, ctx),
            Value::Int(i) => self.scalar(&i.to_string(), Style::Plain, ctx),
            Value::Float(f) => self.scalar(&yaml_float(*f), Style::Plain, ctx),
            Value::Str(s) => self.string(s, ctx),
            Value::Bytes(b) => {
                use base64::Engine as _;
                let s = base64::engine::general_purpose::STANDARD.encode(b);
                self.string(&s, ctx);
            }
            Value::Object(_) => {
                let j = crate::json::to_json(v, false);
                match crate::json::parse(&j) {
                    Ok(x) if !matches!(x, Value::Object(_)) => self.node(&x, ctx),
                    _ => self.empty_flow("{", "}"),
                }
            }
        }
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    fn block_mapping(&mut self, m: &Map) {
        self.increase_indent(false, false);
        for k in sorted_keys(m) {
            self.write_indent();
            let v = &m[k];
            let simple = k.len() <= 128 && !analyze(k).multiline;
            if simple {
                self.string(k, Ctx::KEY);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.string(k, Ctx::MAP);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(v, Ctx::MAP);
        }
        self.pop_indent();
    }

    fn block_sequence(&mut self, l: &[Value], ctx: Ctx) {
        let indentless = ctx.mapping && !self.indention;
        self.increase_indent(false, indentless);
        for item in l {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Ctx::SEQ);
        }
        self.pop_indent();
    }

    /// `encoder.stringv`: literal when multi-line, plain when it reads back as this string,
    /// else double-quoted; then the emitter may still change the style.
    fn string(&mut self, s: &str, ctx: Ctx) {
        let can_plain = matches!(resolve(s), Resolved::Str) && !is_base60_float(s);
        let style = if s.contains('\n') {
            Style::Literal
        } else if can_plain {
            Style::Plain
        } else {
            Style::Double
        };
        self.scalar(s, style, ctx);
    }

    fn scalar(&mut self, s: &str, requested: Style, ctx: Ctx) {
        let a = analyze(s);
        let mut style = requested;
        if ctx.simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if !a.block_plain_allowed {
                style = Style::Single;
            }
            if s.is_empty() && ctx.simple_key {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || ctx.simple_key) {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !ctx.simple_key;
        match style {
            Style::Plain => self.write_plain(s, allow_breaks),
            Style::Single => self.write_single(s, allow_breaks),
            Style::Double => self.write_double(s, allow_breaks),
            Style::Literal => self.write_literal(s),
        }
        let _ = ctx.root;
        self.pop_indent();
    }

    fn write_plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let esc = match c {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match esc {
                    Some(e) => self.put(e),
                    None => {
                        let n = c as u32;
                        let (ind, w) = if n <= 0xFF {
                            ('x', 2)
                        } else if n <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(ind);
                        for ch in format!("{n:0w$X}").chars() {
                            self.put(ch);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, s: &str) {
        self.write_indicator("|", true, false, false);
        // block scalar hints: an indentation indicator when the text starts with a space or
        // a line break, then the chomping indicator from the trailing line breaks
        if s.starts_with(' ') || s.starts_with(is_break) {
            self.write_indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        let mut rev = s.chars().rev();
        let chomp = match (rev.next(), rev.next()) {
            (None, _) => Some("-"),
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(prev)) if is_break(prev) => Some("+"),
            _ => None,
        };
        if let Some(c) = chomp {
            self.write_indicator(c, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn y(src: &str) -> String {
        to_yaml(&crate::yaml::parse(src).unwrap()).unwrap()
    }

    #[test]
    fn emits_like_yaml_v2() {
        assert_eq!(
            y("a: 1\nb: [x, {w: 2}]\nc: {}\n"),
            "a: 1\nb:\n- x\n- w: 2\nc: {}\n"
        );
        assert_eq!(
            y("k: \"line1\\nline2\\n\\n\""),
            "k: |+\n  line1\n  line2\n\n"
        );
        assert_eq!(y("k: \" lead\\nx\""), "k: |2-\n   lead\n  x\n");
        assert_eq!(y("k: \"tab\\there\""), "k: \"tab\\there\"\n");
        assert_eq!(y("k: \"8080\""), "k: \"8080\"\n");
        assert_eq!(y("k: \"1:20\""), "k: \"1:20\"\n");
        assert_eq!(y("k: \"- x\""), "k: '- x'\n");
        assert_eq!(
            y("a10: 1\na9: 2\n_x: 3\nB: 4\n"),
            "_x: 3\nB: 4\na9: 2\na10: 1\n"
        );
        let long = "word ".repeat(30);
        let out = y(&format!("k: {}", long.trim()));
        assert!(out.lines().count() > 1, "{out}");
        assert!(out.lines().all(|l| l.len() <= 90), "{out}");
    }

    #[test]
    fn non_finite_is_refused() {
        assert!(to_yaml(&Value::Float(f64::NAN)).is_none());
    }
}
