//! Lexing and parsing of Go `text/template` source into trees.
//!
//! Follows `text/template/parse`: `{{` `}}` delimiters, `{{- ` and ` -}}` trim markers, comments,
//! pipelines with declarations (`$x :=`, `$x =`, `$i, $v :=`), parenthesised pipelines, field
//! chains, and the control structures if/else if/range/with/define/template/block/break/continue.

use std::collections::HashMap;
use std::rc::Rc;

/// A parse failure: the template name, line and what is wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// The name of the template being parsed.
    pub name: String,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A numeric constant as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// An integer constant (`int`).
    Int(i64),
    /// A floating-point constant (`float64`).
    Float(f64),
}

/// An operand of a command.
#[derive(Debug, Clone)]
pub enum Arg {
    /// `.` (dot).
    Dot,
    /// `nil`.
    Nil,
    /// `true`/`false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string constant.
    Str(Rc<str>),
    /// `.A.B`: fields of dot.
    Field(Vec<Rc<str>>),
    /// `$x.A.B`: a variable and optional fields.
    Variable(Rc<str>, Vec<Rc<str>>),
    /// A function name.
    Ident(Rc<str>),
    /// A parenthesised pipeline.
    Pipe(Box<Pipe>),
    /// `(pipeline).A.B` or `ident.A`: fields of another operand.
    Chain(Box<Arg>, Vec<Rc<str>>),
}

/// One command of a pipeline: a function or operand with arguments.
#[derive(Debug, Clone)]
pub struct Command {
    /// The operands; the first names what to call or evaluate.
    pub args: Vec<Arg>,
    /// Byte offset in the source.
    pub pos: usize,
}

/// A pipeline, with optional variable declaration or assignment.
#[derive(Debug, Clone)]
pub struct Pipe {
    /// Declared or assigned variables (`$x` or `$i, $v`).
    pub decl: Vec<Rc<str>>,
    /// True for `=` (assignment), false for `:=`.
    pub is_assign: bool,
    /// The commands separated by `|`.
    pub cmds: Vec<Command>,
    /// Byte offset in the source.
    pub pos: usize,
}

/// A node of a template tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// Literal text.
    Text(Rc<str>),
    /// `{{pipeline}}`.
    Action(Pipe),
    /// `{{if}}`.
    If(Branch),
    /// `{{range}}`.
    Range(Branch),
    /// `{{with}}`.
    With(Branch),
    /// `{{template "name" pipeline}}`.
    Template {
        /// The template to run.
        name: Rc<str>,
        /// Its data.
        pipe: Option<Pipe>,
        /// Byte offset.
        pos: usize,
    },
    /// `{{break}}`.
    Break,
    /// `{{continue}}`.
    Continue,
}

/// The parts of if/range/with.
#[derive(Debug, Clone)]
pub struct Branch {
    /// The condition or the data.
    pub pipe: Pipe,
    /// The body.
    pub list: Vec<Node>,
    /// The `{{else}}` part.
    pub else_list: Option<Vec<Node>>,
}

/// A parsed template: name, body and source (for locating errors).
#[derive(Debug)]
pub struct Tree {
    /// The template name.
    pub name: Rc<str>,
    /// The body.
    pub root: Vec<Node>,
    /// The source text of the file the template came from.
    pub source: Rc<str>,
}

impl Tree {
    /// "line:col" of a byte offset, as Go's `ErrorContext` gives it.
    pub fn location(&self, pos: usize) -> (usize, usize) {
        let pos = pos.min(self.source.len());
        let before = &self.source[..pos];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(i) => pos - i - 1,
            None => pos,
        };
        (line, col)
    }

    /// True if the body is only whitespace text (Go's `IsEmptyTree`).
    pub fn is_empty(&self) -> bool {
        self.root.iter().all(|n| match n {
            Node::Text(t) => t.trim().is_empty(),
            _ => false,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Field(Rc<str>),
    Var(Rc<str>),
    Ident(Rc<str>),
    Str(Rc<str>),
    Num(Number),
    Char(i64),
    Pipe,
    LParen,
    RParen,
    Comma,
    Declare,
    Assign,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
    space_before: bool,
}

/// An item of the raw stream: text or the tokens of one action.
enum Item {
    Text(String),
    Action(Vec<Token>, usize),
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

struct Lexer<'a> {
    src: &'a str,
    name: &'a str,
}

impl<'a> Lexer<'a> {
    fn err(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            name: self.name.to_string(),
            line: 1 + self.src[..pos.min(self.src.len())].matches('\n').count(),
            message: message.into(),
        }
    }

    fn items(&self) -> Result<Vec<Item>, ParseError> {
        let b = self.src.as_bytes();
        let mut items = Vec::new();
        let mut i = 0;
        let mut trim_next = false;
        while i <= b.len() {
            let start = i;
            let open = self.src[i..].find("{{").map(|o| o + i);
            let text_end = open.unwrap_or(b.len());
            let mut text = &self.src[start..text_end];
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let Some(open) = open else {
                if !text.is_empty() {
                    items.push(Item::Text(text.to_string()));
                }
                break;
            };
            let mut j = open + 2;
            if b.get(j) == Some(&b'-') && b.get(j + 1).is_some_and(|c| is_space(*c)) {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
                j += 2;
            }
            if !text.is_empty() {
                items.push(Item::Text(text.to_string()));
            }
            // comment
            let mut k = j;
            while k < b.len() && is_space(b[k]) {
                k += 1;
            }
            if self.src[k..].starts_with("/*") {
                let Some(end) = self.src[k + 2..].find("*/") else {
                    return Err(self.err(open, "unclosed comment"));
                };
                let mut e = k + 2 + end + 2;
                let mut trim = false;
                if self.src[e..].starts_with(" -}}") {
                    trim = true;
                    e += 4;
                } else if self.src[e..].starts_with("}}") {
                    e += 2;
                } else {
                    return Err(self.err(e, "comment ends before closing delimiter"));
                }
                trim_next = trim;
                i = e;
                continue;
            }
            let (toks, end, trim) = self.action(j, open)?;
            items.push(Item::Action(toks, open));
            trim_next = trim;
            i = end;
        }
        Ok(items)
    }

    /// Lexes one action starting at `i`; returns tokens, the offset after `}}`, and the right trim.
    fn action(&self, mut i: usize, open: usize) -> Result<(Vec<Token>, usize, bool), ParseError> {
        let b = self.src.as_bytes();
        let mut toks = Vec::new();
        let mut space = true;
        let mut paren = 0i32;
        loop {
            if i >= b.len() {
                return Err(self.err(open, "unclosed action"));
            }
            let c = b[i];
            if is_space(c) {
                if self.src[i..].starts_with(" -}}")
                    || (is_space(c) && self.src[i + 1..].starts_with("-}}"))
                {
                    let end = i + 1 + 3;
                    return Ok((toks, end, true));
                }
                if c == b'\n' && paren == 0 {
                    // newlines are allowed inside actions in modern Go
                }
                space = true;
                i += 1;
                continue;
            }
            if self.src[i..].starts_with("}}") {
                return Ok((toks, i + 2, false));
            }
            let pos = i;
            let tok = match c {
                b'|' => {
                    i += 1;
                    Tok::Pipe
                }
                b'(' => {
                    paren += 1;
                    i += 1;
                    Tok::LParen
                }
                b')' => {
                    paren -= 1;
                    i += 1;
                    Tok::RParen
                }
                b',' => {
                    i += 1;
                    Tok::Comma
                }
                b':' if b.get(i + 1) == Some(&b'=') => {
                    i += 2;
                    Tok::Declare
                }
                b'=' => {
                    i += 1;
                    Tok::Assign
                }
                b'"' => {
                    let (s, e) = self.quoted(i)?;
                    i = e;
                    Tok::Str(s.into())
                }
                b'`' => {
                    let Some(end) = self.src[i + 1..].find('`') else {
                        return Err(self.err(i, "unterminated raw quoted string"));
                    };
                    let s = &self.src[i + 1..i + 1 + end];
                    i = i + 2 + end;
                    Tok::Str(s.into())
                }
                b'\'' => {
                    let (s, e) = self.char_const(i)?;
                    i = e;
                    Tok::Char(s)
                }
                // `.5` is a number, `.x` a field (Go looks at the next byte only)
                b'.' if b
                    .get(i + 1)
                    .is_some_and(|c| is_alnum(*c) && !c.is_ascii_digit()) =>
                {
                    let e = scan_alnum(b, i + 1);
                    let name = &self.src[i + 1..e];
                    i = e;
                    Tok::Field(name.into())
                }
                b'.' if !b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                    i += 1;
                    Tok::Dot
                }
                b'$' => {
                    let e = scan_alnum(b, i + 1);
                    let name = &self.src[i..e];
                    i = e;
                    Tok::Var(name.into())
                }
                b'+' | b'-' | b'0'..=b'9' | b'.' => {
                    let sc = super::number::scan(self.src, i)
                        .map_err(|t| self.err(i, format!("bad number syntax: {t:?}")))?;
                    let text = &self.src[i..sc.end];
                    let num = super::number::value(text, sc.complex).map_err(|m| self.err(i, m))?;
                    i = sc.end;
                    Tok::Num(num)
                }
                c if is_alnum(c) => {
                    let e = scan_alnum(b, i);
                    let s = &self.src[i..e];
                    i = e;
                    Tok::Ident(s.into())
                }
                _ => {
                    let ch = self.src[i..].chars().next().unwrap_or('?');
                    if ch.is_alphabetic() {
                        let mut e = i;
                        for (o, c2) in self.src[i..].char_indices() {
                            if c2.is_alphanumeric() || c2 == '_' {
                                e = i + o + c2.len_utf8();
                            } else {
                                break;
                            }
                        }
                        let s = &self.src[i..e];
                        i = e;
                        Tok::Ident(s.into())
                    } else {
                        return Err(self.err(i, format!("unexpected {ch:?} in command")));
                    }
                }
            };
            toks.push(Token {
                tok,
                pos,
                space_before: space,
            });
            space = false;
        }
    }

    fn quoted(&self, start: usize) -> Result<(String, usize), ParseError> {
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((o, c)) = chars.next() {
            match c {
                '"' => return Ok((out, start + 1 + o + 1)),
                '\n' => break,
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        '\'' => out.push('\''),
                        'x' | 'u' | 'U' => {
                            let n = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String =
                                (0..n).filter_map(|_| chars.next().map(|x| x.1)).collect();
                            let v = u32::from_str_radix(&hex, 16)
                                .map_err(|_| self.err(start, "invalid syntax in string"))?;
                            if e == 'x' {
                                // a byte; keep ASCII, others as the replacement character
                                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                            } else {
                                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                            }
                        }
                        '0'..='7' => {
                            let mut s = e.to_string();
                            for _ in 0..2 {
                                if let Some((_, d)) = chars.next() {
                                    s.push(d);
                                }
                            }
                            let v = u32::from_str_radix(&s, 8)
                                .map_err(|_| self.err(start, "invalid syntax in string"))?;
                            out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.err(start, "invalid syntax in string")),
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.err(start, "unterminated quoted string"))
    }

    /// Go's `lexChar` (to the closing quote, `\\` escaping one character) and then
    /// `strconv.UnquoteChar` of the text.
    fn char_const(&self, start: usize) -> Result<(i64, usize), ParseError> {
        let mut it = self.src[start + 1..].char_indices();
        let end = loop {
            match it.next() {
                Some((_, '\\')) => match it.next() {
                    Some((_, c)) if c != '\n' => {}
                    _ => return Err(self.err(start, "unterminated character constant")),
                },
                None | Some((_, '\n')) => {
                    return Err(self.err(start, "unterminated character constant"));
                }
                Some((o, '\'')) => break start + 1 + o + 1,
                Some(_) => {}
            }
        };
        let v = super::number::char_value(&self.src[start..end]).map_err(|m| self.err(start, m))?;
        Ok((v, end))
    }
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn scan_alnum(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_alnum(b[i]) {
        i += 1;
    }
    i
}

/// Parses `src` (the file named `name`) into its templates: the file itself first, then every
/// `define`/`block`.
pub fn parse(name: &str, src: &str) -> Result<Vec<Tree>, ParseError> {
    let lexer = Lexer { src, name };
    let items = lexer.items()?;
    let source: Rc<str> = src.into();
    let mut p = Parser {
        items,
        i: 0,
        name,
        src,
        defined: Vec::new(),
        source: source.clone(),
    };
    let (root, end) = p.list(0)?;
    if let Some(end) = end {
        return Err(p.err(end.1, format!("unexpected {}", end.0)));
    }
    let mut trees = vec![Tree {
        name: name.into(),
        root,
        source,
    }];
    trees.append(&mut p.defined);
    Ok(trees)
}

struct Parser<'a> {
    items: Vec<Item>,
    i: usize,
    name: &'a str,
    src: &'a str,
    defined: Vec<Tree>,
    source: Rc<str>,
}

/// What ended a list: `end` or `else` (with the rest of the else action), and its offset.
type Ender = (String, usize, Vec<Token>);

struct Toks<'t> {
    toks: &'t [Token],
    i: usize,
}

impl Toks<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }
    fn next(&mut self) -> Option<&Token> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }
}

impl Parser<'_> {
    fn err(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            name: self.name.to_string(),
            line: 1 + self.src[..pos.min(self.src.len())].matches('\n').count(),
            message: message.into(),
        }
    }

    /// Parses nodes up to `{{end}}`/`{{else ...}}` (returned) or the end of input (`None`).
    fn list(&mut self, depth: usize) -> Result<(Vec<Node>, Option<Ender>), ParseError> {
        let mut nodes = Vec::new();
        while self.i < self.items.len() {
            let idx = self.i;
            self.i += 1;
            match &self.items[idx] {
                Item::Text(t) => nodes.push(Node::Text(t.as_str().into())),
                Item::Action(toks, pos) => {
                    let toks = toks.clone();
                    let pos = *pos;
                    let Some(first) = toks.first() else {
                        return Err(self.err(pos, "missing value for command"));
                    };
                    if let Tok::Ident(kw) = &first.tok {
                        match &**kw {
                            "end" | "else" => {
                                if depth == 0 {
                                    return Err(self.err(pos, format!("unexpected {{{{{kw}}}}}")));
                                }
                                return Ok((
                                    nodes,
                                    Some((kw.to_string(), pos, toks[1..].to_vec())),
                                ));
                            }
                            "if" | "range" | "with" => {
                                nodes.push(self.branch(kw, &toks[1..], pos, depth)?);
                                continue;
                            }
                            "define" => {
                                self.define(&toks[1..], pos, depth)?;
                                continue;
                            }
                            "block" => {
                                let node = self.block(&toks[1..], pos, depth)?;
                                nodes.push(node);
                                continue;
                            }
                            "template" => {
                                let kw_pos = first.pos;
                                nodes.push(self.template(&toks[1..], kw_pos)?);
                                continue;
                            }
                            "break" => {
                                nodes.push(Node::Break);
                                continue;
                            }
                            "continue" => {
                                nodes.push(Node::Continue);
                                continue;
                            }
                            _ => {}
                        }
                    }
                    let pipe = self.pipeline(&toks, pos, true)?;
                    nodes.push(Node::Action(pipe));
                }
            }
        }
        Ok((nodes, None))
    }

    fn branch(
        &mut self,
        kw: &str,
        toks: &[Token],
        pos: usize,
        depth: usize,
    ) -> Result<Node, ParseError> {
        let pipe = self.pipeline(toks, pos, true)?;
        if pipe.cmds.is_empty() {
            return Err(self.err(pos, format!("missing value for {kw}")));
        }
        let (list, end) = self.list(depth + 1)?;
        let Some((ender, epos, rest)) = end else {
            return Err(self.err(pos, format!("unexpected EOF in {kw}")));
        };
        let else_list = if ender == "else" {
            if let Some(Token {
                tok: Tok::Ident(k), ..
            }) = rest.first()
                && (**k == *"if" || **k == *"with")
                && (**k == *kw || kw != "range")
            {
                // `else if` / `else with`: a nested branch that shares our end.
                let nested = self.branch(k, &rest[1..], epos, depth)?;
                Some(vec![nested])
            } else {
                if !rest.is_empty() {
                    return Err(self.err(epos, "unexpected tokens after else"));
                }
                let (l, e2) = self.list(depth + 1)?;
                match e2 {
                    Some((e, _, _)) if e == "end" => Some(l),
                    Some((_, p, _)) => return Err(self.err(p, "expected end; found else")),
                    None => return Err(self.err(pos, format!("unexpected EOF in {kw}"))),
                }
            }
        } else {
            None
        };
        let branch = Branch {
            pipe,
            list,
            else_list,
        };
        Ok(match kw {
            "if" => Node::If(branch),
            "range" => Node::Range(branch),
            _ => Node::With(branch),
        })
    }

    fn name_and_pipe(
        &mut self,
        toks: &[Token],
        pos: usize,
        what: &str,
    ) -> Result<(Rc<str>, Option<Pipe>), ParseError> {
        let name = match toks.first() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => s.clone(),
            _ => return Err(self.err(pos, format!("unexpected token in {what} clause"))),
        };
        let pipe = if toks.len() > 1 {
            Some(self.pipeline(&toks[1..], pos, false)?)
        } else {
            None
        };
        Ok((name, pipe))
    }

    fn define(&mut self, toks: &[Token], pos: usize, depth: usize) -> Result<(), ParseError> {
        let (name, pipe) = self.name_and_pipe(toks, pos, "define")?;
        if pipe.is_some() {
            return Err(self.err(pos, "unexpected token in define clause"));
        }
        let (list, end) = self.list(depth + 1)?;
        match end {
            Some((e, _, _)) if e == "end" => {}
            _ => return Err(self.err(pos, "unexpected EOF in define")),
        }
        self.defined.push(Tree {
            name,
            root: list,
            source: self.source.clone(),
        });
        Ok(())
    }

    fn block(&mut self, toks: &[Token], pos: usize, depth: usize) -> Result<Node, ParseError> {
        let (name, pipe) = self.name_and_pipe(toks, pos, "block")?;
        let (list, end) = self.list(depth + 1)?;
        match end {
            Some((e, _, _)) if e == "end" => {}
            _ => return Err(self.err(pos, "unexpected EOF in block")),
        }
        self.defined.push(Tree {
            name: name.clone(),
            root: list,
            source: self.source.clone(),
        });
        Ok(Node::Template { name, pipe, pos })
    }

    fn template(&mut self, toks: &[Token], pos: usize) -> Result<Node, ParseError> {
        let (name, pipe) = self.name_and_pipe(toks, pos, "template")?;
        Ok(Node::Template { name, pipe, pos })
    }

    fn pipeline(&self, toks: &[Token], pos: usize, allow_decl: bool) -> Result<Pipe, ParseError> {
        let mut t = Toks { toks, i: 0 };
        self.pipe_inner(&mut t, pos, allow_decl, false)
    }

    fn pipe_inner(
        &self,
        t: &mut Toks,
        pos: usize,
        allow_decl: bool,
        in_paren: bool,
    ) -> Result<Pipe, ParseError> {
        let mut decl = Vec::new();
        let mut is_assign = false;
        // declarations: $x := / $x = / $i, $v :=
        if allow_decl {
            let save = t.i;
            let mut vars = Vec::new();
            loop {
                match t.peek().map(|x| x.tok.clone()) {
                    Some(Tok::Var(v)) => {
                        t.next();
                        vars.push(v);
                        match t.peek().map(|x| x.tok.clone()) {
                            Some(Tok::Comma) if vars.len() == 1 => {
                                t.next();
                                continue;
                            }
                            Some(Tok::Declare) => {
                                t.next();
                                decl = vars;
                                break;
                            }
                            Some(Tok::Assign) => {
                                t.next();
                                decl = vars;
                                is_assign = true;
                                break;
                            }
                            _ => {
                                t.i = save;
                                break;
                            }
                        }
                    }
                    _ => {
                        t.i = save;
                        break;
                    }
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            let cpos = t.peek().map_or(pos, |x| x.pos);
            let mut args = Vec::new();
            loop {
                match t.peek().map(|x| x.tok.clone()) {
                    None => break,
                    Some(Tok::Pipe) => break,
                    Some(Tok::RParen) if in_paren => break,
                    Some(Tok::RParen) => return Err(self.err(cpos, "unexpected right paren")),
                    _ => {}
                }
                if !args.is_empty() && t.peek().is_some_and(|x| !x.space_before) {
                    // operands must be separated by space
                    let tk = t.peek().map(|x| x.tok.clone());
                    if !matches!(tk, Some(Tok::LParen)) {
                        return Err(self.err(cpos, format!("unexpected {tk:?} in operand")));
                    }
                }
                args.push(self.operand(t, pos)?);
            }
            if args.is_empty() {
                if cmds.is_empty() && !decl.is_empty() {
                    return Err(self.err(pos, "missing value for command"));
                }
                if !cmds.is_empty() || t.peek().is_some() {
                    return Err(self.err(pos, "missing value for command"));
                }
                break;
            }
            cmds.push(Command { args, pos: cpos });
            match t.peek().map(|x| x.tok.clone()) {
                Some(Tok::Pipe) => {
                    t.next();
                }
                _ => break,
            }
        }
        Ok(Pipe {
            decl,
            is_assign,
            cmds,
            pos,
        })
    }

    fn fields(&self, t: &mut Toks) -> Vec<Rc<str>> {
        let mut fields = Vec::new();
        while let Some(Token {
            tok: Tok::Field(f),
            space_before: false,
            ..
        }) = t.peek()
        {
            fields.push(f.clone());
            t.next();
        }
        fields
    }

    fn operand(&self, t: &mut Toks, pos: usize) -> Result<Arg, ParseError> {
        let Some(tok) = t.next().cloned() else {
            return Err(self.err(pos, "missing operand"));
        };
        let base = match tok.tok {
            Tok::Dot => Arg::Dot,
            Tok::Field(f) => {
                let mut fs = vec![f];
                fs.extend(self.fields(t));
                return Ok(Arg::Field(fs));
            }
            Tok::Var(v) => {
                let fs = self.fields(t);
                return Ok(Arg::Variable(v, fs));
            }
            Tok::Ident(id) => match &*id {
                "nil" => Arg::Nil,
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                _ => Arg::Ident(id),
            },
            Tok::Str(s) => Arg::Str(s),
            Tok::Num(n) => Arg::Number(n),
            Tok::Char(c) => Arg::Number(Number::Int(c)),
            Tok::LParen => {
                let p = self.pipe_inner(t, tok.pos, true, true)?;
                match t.next() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => {}
                    _ => return Err(self.err(tok.pos, "unclosed left paren")),
                }
                Arg::Pipe(Box::new(p))
            }
            other => return Err(self.err(tok.pos, format!("unexpected {other:?} in operand"))),
        };
        let fs = self.fields(t);
        if fs.is_empty() {
            Ok(base)
        } else {
            Ok(Arg::Chain(Box::new(base), fs))
        }
    }
}

/// A set of named templates, as Go's `*template.Template` with its associated templates.
#[derive(Debug, Default, Clone)]
pub struct TemplateSet {
    templates: HashMap<Rc<str>, Rc<Tree>>,
}

impl TemplateSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `src` as the template `name` and adds it and its definitions. As in Go, a
    /// definition with an empty body does not replace an existing one.
    pub fn add(&mut self, name: &str, src: &str) -> Result<(), ParseError> {
        for tree in parse(name, src)? {
            if tree.is_empty() && self.templates.contains_key(&tree.name) {
                continue;
            }
            self.templates.insert(tree.name.clone(), Rc::new(tree));
        }
        Ok(())
    }

    /// The template called `name`.
    pub fn get(&self, name: &str) -> Option<&Rc<Tree>> {
        self.templates.get(name)
    }
}
