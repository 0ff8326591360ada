//! The function table: Go's template builtins, the Sprig functions charts use, and Helm's own
//! (`include`, `tpl`, `required`, `fail`, `toYaml`, `fromYaml`, `toJson`, `fromJson`, `toToml`,
//! `lookup`, …). Each function follows the Go implementation's behaviour for the values Helm
//! passes (strings, `float64` numbers, `[]interface{}`, `map[string]interface{}`).

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::OnceLock;

use base64::Engine as _;

use crate::gofmt::{sprint, sprintf, sprintln};
use crate::template::exec::{Exec, ExecError};
use crate::template::parse::TemplateSet;
use crate::value::{Map, Object, Value};

/// A failure inside a function.
#[derive(Debug, Clone)]
pub enum FuncError {
    /// A message (Go's returned `error`).
    Message(String),
    /// An error from a template executed by the function (`include`, `tpl`).
    Exec(ExecError),
}

impl From<String> for FuncError {
    fn from(s: String) -> Self {
        FuncError::Message(s)
    }
}

impl From<&str> for FuncError {
    fn from(s: &str) -> Self {
        FuncError::Message(s.to_string())
    }
}

/// A template function.
pub type Func = fn(&mut Exec, Vec<Value>) -> Result<Value, FuncError>;

/// Functions by name.
pub type Funcs = HashMap<&'static str, Func>;

type FR = Result<Value, FuncError>;

/// Prefix and suffix Helm puts around `required`/`fail` messages.
pub const WARN_START: &str = "HELM_ERR_START";
/// See [`WARN_START`].
pub const WARN_END: &str = "HELM_ERR_END";

/// Sprig's `strval`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_go_string(),
    }
}

/// `cast.ToInt64`.
pub fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let t = s.trim();
            let t = t.strip_suffix(".0").unwrap_or(t);
            crate::yaml::resolve_plain(t);
            parse_int_base0(t).unwrap_or(0)
        }
        _ => 0,
    }
}

fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, b) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = b.strip_prefix("0x").or_else(|| b.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = b.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(bb) = b.strip_prefix("0b") {
        i64::from_str_radix(bb, 2).ok()?
    } else if b.len() > 1 && b.starts_with('0') {
        i64::from_str_radix(&b[1..], 8).ok()?
    } else {
        b.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `cast.ToFloat64`.
pub fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Sprig's `empty`.
pub fn empty(v: &Value) -> bool {
    !v.truthy()
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or_default()
}

fn s_arg(args: &[Value], i: usize) -> String {
    match args.get(i) {
        Some(Value::Nil) | None => String::new(),
        Some(v) => strval(v),
    }
}

fn want(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() != n {
        return Err(FuncError::Message(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn list_of(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::List(l) => Ok(l.to_vec()),
        Value::Nil => Ok(Vec::new()),
        Value::Object(o) => match &**o {
            Object::VersionSet(vs) => Ok(vs.iter().map(|s| Value::str(s.as_str())).collect()),
            _ => Err(format!("Cannot find first on type {}", v.type_name())),
        },
        other => Err(format!("Cannot find first on type {}", other.type_name())),
    }
}

/// Sprig's `strslice`: a list's elements as strings (nil elements dropped).
fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().filter(|x| !x.is_nil()).map(strval).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn dict_arg(v: &Value, name: &str) -> Result<Rc<std::cell::RefCell<Map>>, FuncError> {
    match v {
        Value::Map(m) => Ok(m.clone()),
        other => Err(FuncError::Message(format!(
            "wrong type for value; expected map[string]interface {{}}; got {} in {name}",
            other.type_name()
        ))),
    }
}

fn rand_string(n: usize, charset: &[u8]) -> String {
    crate::crypto::random_string(n, charset).unwrap_or_default()
}

/// Deep merge of `src` into `dst` as `mergo.Merge` does (existing values kept unless
/// `overwrite`; maps merged recursively).
fn merge_into(dst: &mut Map, src: &Map, overwrite: bool) {
    for (k, sv) in src {
        match dst.get(k) {
            None => {
                dst.insert(k.clone(), sv.clone());
            }
            Some(dv) => {
                if let (Value::Map(dm), Value::Map(sm)) = (dv, sv) {
                    if Rc::ptr_eq(dm, sm) {
                        continue;
                    }
                    let s = sm.borrow().clone();
                    merge_into(&mut dm.borrow_mut(), &s, overwrite);
                } else if overwrite {
                    if !empty(sv) {
                        dst.insert(k.clone(), sv.clone());
                    }
                } else if empty(dv) && !matches!(dv, Value::Map(_)) {
                    dst.insert(k.clone(), sv.clone());
                }
            }
        }
    }
}

/// Go's path.Base.
fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// Go's path.Clean.
fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let j = parts.join("/");
    if rooted {
        format!("/{j}")
    } else if j.is_empty() {
        ".".into()
    } else {
        j
    }
}

fn path_dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => path_clean(&p[..=i]),
        None => ".".into(),
    }
}

/// `gobwas/glob` matching with `/` as separator: `*` stays within a segment, `**` crosses.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn expand(p: &str) -> Vec<String> {
        if let Some(start) = p.find('{')
            && let Some(len) = p[start..].find('}')
        {
            let end = start + len;
            let mut out = Vec::new();
            for alt in p[start + 1..end].split(',') {
                for rest in expand(&p[end + 1..]) {
                    out.push(format!("{}{alt}{rest}", &p[..start]));
                }
            }
            return out;
        }
        vec![p.to_string()]
    }
    fn m(p: &[char], s: &[char]) -> bool {
        if p.is_empty() {
            return s.is_empty();
        }
        match p[0] {
            '*' if p.get(1) == Some(&'*') => (0..=s.len()).any(|i| m(&p[2..], &s[i..])),
            '*' => {
                for i in 0..=s.len() {
                    if m(&p[1..], &s[i..]) {
                        return true;
                    }
                    if i < s.len() && s[i] == '/' {
                        break;
                    }
                }
                false
            }
            '?' => !s.is_empty() && s[0] != '/' && m(&p[1..], &s[1..]),
            '[' => {
                let Some(close) = p.iter().position(|c| *c == ']') else {
                    return false;
                };
                if s.is_empty() {
                    return false;
                }
                let class = &p[1..close];
                let (neg, class) = match class.first() {
                    Some('!') | Some('^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        if class[i] <= s[0] && s[0] <= class[i + 2] {
                            hit = true;
                        }
                        i += 3;
                    } else {
                        if class[i] == s[0] {
                            hit = true;
                        }
                        i += 1;
                    }
                }
                hit != neg && m(&p[close + 1..], &s[1..])
            }
            '\\' if p.len() > 1 => !s.is_empty() && s[0] == p[1] && m(&p[2..], &s[1..]),
            c => !s.is_empty() && s[0] == c && m(&p[1..], &s[1..]),
        }
    }
    let s: Vec<char> = name.chars().collect();
    expand(pattern).iter().any(|p| {
        let pc: Vec<char> = p.chars().collect();
        m(&pc, &s)
    })
}

/// The methods of `.Files`.
pub fn files_method(
    files: &BTreeMap<String, Rc<[u8]>>,
    name: &str,
    args: Vec<Value>,
) -> Result<Value, String> {
    let a0 = args.first().map(strval).unwrap_or_default();
    match name {
        // a Go string holds any bytes; a file that is not UTF-8 stays bytes here (b64enc,
        // sha256sum read them as they are)
        "Get" => Ok(match files.get(&a0) {
            Some(b) => match std::str::from_utf8(b) {
                Ok(s) => Value::str(s),
                Err(_) => Value::Bytes(b.clone()),
            },
            None => Value::str(""),
        }),
        "GetBytes" => Ok(Value::Bytes(
            files
                .get(&a0)
                .cloned()
                .unwrap_or_else(|| Rc::from(Vec::new())),
        )),
        "Glob" => {
            let sel = files
                .iter()
                .filter(|(k, _)| glob_match(&a0, k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok(Value::Object(Rc::new(Object::Files(sel))))
        }
        "AsConfig" | "AsSecrets" => {
            let mut m = Map::new();
            for (k, v) in files {
                let val = if name == "AsConfig" {
                    String::from_utf8_lossy(v).into_owned()
                } else {
                    base64::engine::general_purpose::STANDARD.encode(v)
                };
                m.insert(path_base(k), Value::str(val));
            }
            if m.is_empty() {
                return Ok(Value::str("{}"));
            }
            Ok(Value::str(to_yaml_str(&Value::map(m))))
        }
        "Lines" => {
            let Some(b) = files.get(&a0).filter(|b| !b.is_empty()) else {
                return Ok(Value::list(Vec::new()));
            };
            let s = String::from_utf8_lossy(b);
            let s = s.strip_suffix('\n').unwrap_or(&s);
            Ok(Value::list(s.split('\n').map(Value::from).collect()))
        }
        other => {
            // a map type: unknown names are keys
            if let Some(b) = files.get(other) {
                return Ok(Value::Bytes(b.clone()));
            }
            Ok(Value::Nil)
        }
    }
}

/// The full function table.
pub fn funcs() -> &'static Funcs {
    static FUNCS: OnceLock<Funcs> = OnceLock::new();
    FUNCS.get_or_init(build)
}

/// Helm's `toYAML`: `yaml.Marshal` with one trailing newline removed (`strings.TrimSuffix`).
fn to_yaml_str(v: &Value) -> String {
    let y = crate::yaml::to_yaml(v);
    y.strip_suffix('\n').unwrap_or(&y).to_string()
}

fn cmp_basic(name: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering, FuncError> {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Equal)),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Nil, _) | (_, Value::Nil) => {
            Err(format!("error calling {name}: invalid type for comparison").into())
        }
        (Value::Bool(_), Value::Bool(_)) => Err("invalid type for comparison".into()),
        (x, y) if x.type_name() == y.type_name() => Err("invalid type for comparison".into()),
        _ => Err("incompatible types for comparison".into()),
    }
}

fn go_eq(a: &Value, b: &Value) -> Result<bool, FuncError> {
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Nil, _) | (_, Value::Nil) => false,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (
            Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Bool(_),
            Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Bool(_),
        ) => {
            return Err("incompatible types for comparison".into());
        }
        (Value::List(_) | Value::Map(_) | Value::Bytes(_), _)
        | (_, Value::List(_) | Value::Map(_) | Value::Bytes(_)) => {
            return Err(format!(
                "non-comparable type {}: {}",
                a.to_go_string(),
                a.type_name()
            )
            .into());
        }
        _ => return Err("incompatible types for comparison".into()),
    })
}

fn title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_letter = false;
    for c in s.chars() {
        let is_sep = c.is_whitespace() || (c.is_ascii_punctuation() && c != '\'' && c != '_');
        if !prev_letter && !is_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = !is_sep;
    }
    out
}

fn words(s: &str) -> Vec<String> {
    // split camel case and separators, as xstrings does for snake/kebab case
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' || c == ' ' || c == '.' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn regex(p: &str) -> Result<regex::Regex, FuncError> {
    regex::Regex::new(&go_regex(p)).map_err(|e| FuncError::Message(e.to_string()))
}

/// Rewrites the character classes of a Go (RE2) pattern where the `regex` crate reads them
/// differently: a `-` next to a class escape (`[\w-\.]`) is a literal in Go and an error
/// here; a `[` that opens no `[:name:]` is a literal in Go and a nested class here; `&&`, `--`,
/// `~~` are set operations here and literals in Go.
fn go_regex(p: &str) -> String {
    let c: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => {
                out.push(c[i]);
                if let Some(n) = c.get(i + 1) {
                    out.push(*n);
                }
                i += 2;
            }
            '[' => {
                out.push('[');
                i += 1;
                if c.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if c.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                let mut prev_escape_class = false;
                while i < c.len() && c[i] != ']' {
                    match c[i] {
                        '\\' if i + 1 < c.len() => {
                            out.push('\\');
                            out.push(c[i + 1]);
                            prev_escape_class = "wWdDsSpP".contains(c[i + 1]);
                            i += 2;
                            continue;
                        }
                        '[' if c.get(i + 1) == Some(&':') => {
                            let end = (i + 2..c.len().saturating_sub(1))
                                .find(|&j| c[j] == ':' && c[j + 1] == ']');
                            match end {
                                Some(e) => {
                                    out.extend(&c[i..e + 2]);
                                    i = e + 2;
                                    prev_escape_class = true;
                                    continue;
                                }
                                None => out.push_str("\\["),
                            }
                        }
                        '[' => out.push_str("\\["),
                        '-' if prev_escape_class || matches!(c.get(i + 1), Some(']' | '-')) => {
                            out.push_str("\\-")
                        }
                        '&' | '~' if c.get(i + 1) == Some(&c[i]) => {
                            out.push('\\');
                            out.push(c[i]);
                        }
                        ch => out.push(ch),
                    }
                    prev_escape_class = false;
                    i += 1;
                }
                if i < c.len() {
                    out.push(']');
                    i += 1;
                }
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bitlen = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bitlen.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

/// A list's items as strings (Sprig's `[]interface{}` arguments of the certificate functions).
fn str_items(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().filter(|x| !x.is_nil()).map(strval).collect(),
        _ => Vec::new(),
    }
}

/// A field of a struct value (`.Cert` of a certificate), or of a map.
fn struct_field(v: &Value, name: &str) -> String {
    match v {
        Value::Object(o) => match &**o {
            Object::Struct { fields, .. } => fields.get(name).map(strval).unwrap_or_default(),
            _ => String::new(),
        },
        Value::Map(m) => m.borrow().get(name).map(strval).unwrap_or_default(),
        _ => String::new(),
    }
}

#[allow(clippy::too_many_lines)]
fn build() -> Funcs {
    let mut f: Funcs = HashMap::new();
    // --- Go builtins
    f.insert("not", |_, a| Ok(Value::Bool(!arg(&a, 0).truthy())));
    f.insert("len", |_, a| {
        want("len", &a, 1)?;
        Ok(Value::Int(match &a[0] {
            Value::Str(s) => s.len() as i64,
            Value::Bytes(b) => b.len() as i64,
            Value::List(l) => l.len() as i64,
            Value::Map(m) => m.borrow().len() as i64,
            Value::Object(o) => match &**o {
                Object::Files(f) => f.len() as i64,
                Object::VersionSet(v) => v.len() as i64,
                _ => return Err("len of type struct".into()),
            },
            Value::Nil => return Err("len of nil pointer".into()),
            other => return Err(format!("len of type {}", other.type_name()).into()),
        }))
    });
    f.insert("index", |_, a| {
        let mut cur = arg(&a, 0);
        for k in a.iter().skip(1) {
            cur = match (&cur, k) {
                (Value::Map(m), _) => m.borrow().get(&strval(k)).cloned().unwrap_or(Value::Nil),
                (Value::List(l), Value::Int(_) | Value::Float(_)) => {
                    let i = to_i64(k);
                    if i < 0 || i as usize >= l.len() {
                        return Err(format!("index out of range: {i}").into());
                    }
                    l[i as usize].clone()
                }
                (Value::Nil, _) => return Err("index of untyped nil".into()),
                (Value::Object(o), _) => match &**o {
                    Object::Files(fs) => fs
                        .get(&strval(k))
                        .map(|b| Value::Bytes(b.clone()))
                        .unwrap_or_default(),
                    _ => return Err(format!("can't index item of type {}", cur.type_name()).into()),
                },
                _ => return Err(format!("can't index item of type {}", cur.type_name()).into()),
            };
        }
        Ok(cur)
    });
    f.insert("print", |_, a| Ok(Value::str(sprint(&a))));
    f.insert("println", |_, a| Ok(Value::str(sprintln(&a))));
    f.insert("printf", |_, a| {
        let fmt = s_arg(&a, 0);
        Ok(Value::str(sprintf(&fmt, a.get(1..).unwrap_or(&[]))))
    });
    f.insert("eq", |_, a| {
        if a.len() < 2 {
            return Err("missing argument for comparison".into());
        }
        for b in &a[1..] {
            if go_eq(&a[0], b)? {
                return Ok(Value::Bool(true));
            }
        }
        Ok(Value::Bool(false))
    });
    f.insert("ne", |_, a| {
        want("ne", &a, 2)?;
        Ok(Value::Bool(!go_eq(&a[0], &a[1])?))
    });
    f.insert("lt", |_, a| {
        want("lt", &a, 2)?;
        Ok(Value::Bool(cmp_basic("lt", &a[0], &a[1])?.is_lt()))
    });
    f.insert("le", |_, a| {
        want("le", &a, 2)?;
        Ok(Value::Bool(cmp_basic("le", &a[0], &a[1])?.is_le()))
    });
    f.insert("gt", |_, a| {
        want("gt", &a, 2)?;
        Ok(Value::Bool(cmp_basic("gt", &a[0], &a[1])?.is_gt()))
    });
    f.insert("ge", |_, a| {
        want("ge", &a, 2)?;
        Ok(Value::Bool(cmp_basic("ge", &a[0], &a[1])?.is_ge()))
    });
    f.insert("html", |_, a| {
        let s = sprint(&a);
        Ok(Value::str(
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;"),
        ))
    });
    f.insert("js", |_, a| {
        let s = sprint(&a);
        let mut o = String::new();
        for c in s.chars() {
            match c {
                '\\' => o.push_str("\\\\"),
                '\'' => o.push_str("\\'"),
                '"' => o.push_str("\\\""),
                '<' => o.push_str("\\u003C"),
                '>' => o.push_str("\\u003E"),
                '&' => o.push_str("\\u0026"),
                '=' => o.push_str("\\u003D"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c => o.push(c),
            }
        }
        Ok(Value::str(o))
    });
    f.insert("urlquery", |_, a| {
        let s = sprint(&a);
        let mut o = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    o.push(b as char)
                }
                b' ' => o.push('+'),
                _ => o.push_str(&format!("%{b:02X}")),
            }
        }
        Ok(Value::str(o))
    });
    // --- Helm
    f.insert("include", |ex, a| {
        want("include", &a, 2)?;
        let name = s_arg(&a, 0);
        let count = ex.include_counts.entry(name.clone()).or_insert(0);
        if *count > 1000 {
            return Err(format!(
                "rendering template has a nested reference name: {name}: unable to execute template"
            )
            .into());
        }
        *count += 1;
        let mut buf = String::new();
        let r = ex.execute(&name, arg(&a, 1), &mut buf);
        if let Some(c) = ex.include_counts.get_mut(&name) {
            *c -= 1;
        }
        r.map_err(FuncError::Exec)?;
        Ok(Value::str(buf))
    });
    f.insert("tpl", |ex, a| {
        want("tpl", &a, 2)?;
        let src = s_arg(&a, 0);
        let mut set = TemplateSet::new();
        set.add("gotpl", &src)
            .map_err(|e| FuncError::Message(format!("cannot parse template {src:?}: {e}")))?;
        ex.sets.push(Rc::new(set));
        let mut buf = String::new();
        let r = ex.execute("gotpl", arg(&a, 1), &mut buf);
        ex.sets.pop();
        r.map_err(|e| {
            FuncError::Message(format!(
                "error during tpl function execution for {src:?}: {e}"
            ))
        })?;
        Ok(Value::str(buf.replace("<no value>", "")))
    });
    f.insert("required", |_, a| {
        want("required", &a, 2)?;
        let v = arg(&a, 1);
        match &v {
            Value::Nil => Err(format!("{WARN_START}{}{WARN_END}", s_arg(&a, 0)).into()),
            Value::Str(s) if s.is_empty() => {
                Err(format!("{WARN_START}{}{WARN_END}", s_arg(&a, 0)).into())
            }
            _ => Ok(v),
        }
    });
    f.insert("fail", |_, a| {
        Err(format!("{WARN_START}{}{WARN_END}", s_arg(&a, 0)).into())
    });
    f.insert("lookup", |ex, a| {
        want("lookup", &a, 4)?;
        let Some(l) = ex.lookup.clone() else {
            return Ok(Value::map(Map::new()));
        };
        let (api, kind, ns, name) = (s_arg(&a, 0), s_arg(&a, 1), s_arg(&a, 2), s_arg(&a, 3));
        let found =
            l.0.lookup(&api, &kind, &ns, &name)
                .map_err(FuncError::Message)?;
        Ok(crate::json::from_serde_ints(&found))
    });
    f.insert("getHostByName", |_, _| Ok(Value::str("")));
    f.insert("toYaml", |_, a| Ok(Value::str(to_yaml_str(&arg(&a, 0)))));
    f.insert("mustToYaml", |_, a| {
        Ok(Value::str(to_yaml_str(&arg(&a, 0))))
    });
    f.insert("toYamlPretty", |_, a| {
        Ok(Value::str(to_yaml_str(&arg(&a, 0))))
    });
    f.insert("fromYaml", |_, a| {
        Ok(match crate::yaml::parse(&s_arg(&a, 0)) {
            Ok(v) => match crate::yaml::json_numbers(v) {
                Value::Map(m) => Value::Map(m),
                Value::Nil => Value::map(Map::new()),
                _ => {
                    let mut m = Map::new();
                    m.insert("Error".into(), Value::str("error unmarshaling JSON: json: cannot unmarshal into Go value of type map[string]interface {}"));
                    Value::map(m)
                }
            },
            Err(e) => {
                let mut m = Map::new();
                m.insert("Error".into(), Value::str(e.to_string()));
                Value::map(m)
            }
        })
    });
    f.insert("fromYamlArray", |_, a| {
        Ok(match crate::yaml::parse(&s_arg(&a, 0)) {
            Ok(v) => match crate::yaml::json_numbers(v) {
                Value::List(l) => Value::List(l),
                _ => Value::list(vec![Value::str("error unmarshaling JSON")]),
            },
            Err(e) => Value::list(vec![Value::str(e.to_string())]),
        })
    });
    f.insert("toJson", |_, a| {
        Ok(Value::str(crate::json::to_json(&arg(&a, 0), true)))
    });
    f.insert("mustToJson", |_, a| {
        Ok(Value::str(crate::json::to_json(&arg(&a, 0), true)))
    });
    f.insert("toRawJson", |_, a| {
        Ok(Value::str(crate::json::to_json(&arg(&a, 0), false)))
    });
    f.insert("mustToRawJson", |_, a| {
        Ok(Value::str(crate::json::to_json(&arg(&a, 0), false)))
    });
    f.insert("toPrettyJson", |_, a| {
        Ok(Value::str(crate::json::to_json_pretty(&arg(&a, 0), "  ")))
    });
    f.insert("mustToPrettyJson", |_, a| {
        Ok(Value::str(crate::json::to_json_pretty(&arg(&a, 0), "  ")))
    });
    f.insert("fromJson", |_, a| {
        Ok(match crate::json::parse(&s_arg(&a, 0)) {
            Ok(Value::Map(m)) => Value::Map(m),
            Ok(_) | Err(_) => {
                let mut m = Map::new();
                m.insert("Error".into(), Value::str("json: cannot unmarshal"));
                Value::map(m)
            }
        })
    });
    f.insert("mustFromJson", |_, a| {
        crate::json::parse(&s_arg(&a, 0)).map_err(|e| FuncError::Message(e.to_string()))
    });
    f.insert("fromJsonArray", |_, a| {
        Ok(match crate::json::parse(&s_arg(&a, 0)) {
            Ok(Value::List(l)) => Value::List(l),
            _ => Value::list(vec![Value::str("json: cannot unmarshal")]),
        })
    });
    f.insert("toToml", |_, a| {
        Ok(Value::str(crate::toml::to_toml(&arg(&a, 0))))
    });
    // --- Sprig: strings
    f.insert("toString", |_, a| Ok(Value::str(strval(&arg(&a, 0)))));
    f.insert("toStrings", |_, a| {
        Ok(Value::list(match arg(&a, 0) {
            Value::List(l) => l.iter().map(|x| Value::str(strval(x))).collect(),
            Value::Nil => Vec::new(),
            other => vec![Value::str(strval(&other))],
        }))
    });
    f.insert("trim", |_, a| Ok(Value::str(s_arg(&a, 0).trim())));
    f.insert("trimAll", |_, a| {
        let cut: Vec<char> = s_arg(&a, 0).chars().collect();
        Ok(Value::str(s_arg(&a, 1).trim_matches(|c| cut.contains(&c))))
    });
    f.insert("trimSuffix", |_, a| {
        let s = s_arg(&a, 1);
        Ok(Value::str(
            s.strip_suffix(s_arg(&a, 0).as_str()).unwrap_or(&s),
        ))
    });
    f.insert("trimPrefix", |_, a| {
        let s = s_arg(&a, 1);
        Ok(Value::str(
            s.strip_prefix(s_arg(&a, 0).as_str()).unwrap_or(&s),
        ))
    });
    f.insert("upper", |_, a| Ok(Value::str(s_arg(&a, 0).to_uppercase())));
    f.insert("lower", |_, a| Ok(Value::str(s_arg(&a, 0).to_lowercase())));
    f.insert("title", |_, a| Ok(Value::str(title(&s_arg(&a, 0)))));
    f.insert("untitle", |_, a| {
        let s = s_arg(&a, 0);
        let mut out = String::new();
        let mut start = true;
        for c in s.chars() {
            if start && !c.is_whitespace() {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
            start = c.is_whitespace();
        }
        Ok(Value::str(out))
    });
    f.insert("repeat", |_, a| {
        Ok(Value::str(
            s_arg(&a, 1).repeat(to_i64(&arg(&a, 0)).max(0) as usize),
        ))
    });
    f.insert("substr", |_, a| {
        let s = s_arg(&a, 2);
        let (mut st, mut en) = (to_i64(&arg(&a, 0)), to_i64(&arg(&a, 1)));
        let n = s.len() as i64;
        if st < 0 {
            return Ok(Value::str(s.get(..en.clamp(0, n) as usize).unwrap_or(&s)));
        }
        if en < 0 || en > n {
            en = n;
        }
        if st > en {
            st = en;
        }
        Ok(Value::str(s.get(st as usize..en as usize).unwrap_or("")))
    });
    f.insert("nospace", |_, a| {
        Ok(Value::str(
            s_arg(&a, 0)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        ))
    });
    f.insert("trunc", |_, a| {
        let c = to_i64(&arg(&a, 0));
        let s = s_arg(&a, 1);
        let n = s.len() as i64;
        Ok(Value::str(if c < 0 && n + c > 0 {
            s.get((n + c) as usize..).unwrap_or(&s).to_string()
        } else if c >= 0 && n > c {
            s.get(..c as usize).unwrap_or(&s).to_string()
        } else {
            s
        }))
    });
    f.insert("abbrev", |_, a| {
        let w = to_i64(&arg(&a, 0));
        let s = s_arg(&a, 1);
        if w < 4 || s.len() as i64 <= w {
            return Ok(Value::str(s));
        }
        Ok(Value::str(format!("{}...", &s[..(w - 3) as usize])))
    });
    f.insert("initials", |_, a| {
        Ok(Value::str(
            s_arg(&a, 0)
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .collect::<String>(),
        ))
    });
    f.insert("randAlphaNum", |_, a| {
        Ok(Value::str(rand_string(
            to_i64(&arg(&a, 0)).max(0) as usize,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        )))
    });
    f.insert("randAlpha", |_, a| {
        Ok(Value::str(rand_string(
            to_i64(&arg(&a, 0)).max(0) as usize,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        )))
    });
    f.insert("randNumeric", |_, a| {
        Ok(Value::str(rand_string(
            to_i64(&arg(&a, 0)).max(0) as usize,
            b"0123456789",
        )))
    });
    f.insert("randAscii", |_, a| Ok(Value::str(rand_string(to_i64(&arg(&a, 0)).max(0) as usize, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%&()*+,-./:;<=>?@[]^_{|}~"))));
    f.insert("randInt", |_, a| {
        let (lo, hi) = (to_i64(&arg(&a, 0)), to_i64(&arg(&a, 1)));
        let r: i64 = rand_string(8, b"0123456789").parse().unwrap_or(0);
        Ok(Value::Int(if hi > lo { lo + r % (hi - lo) } else { lo }))
    });
    f.insert("uuidv4", |_, _| {
        Ok(Value::str(uuid::Uuid::new_v4().to_string()))
    });
    f.insert("wrap", |_, a| {
        Ok(Value::str(wrap(
            &s_arg(&a, 1),
            to_i64(&arg(&a, 0)) as usize,
            "\n",
        )))
    });
    f.insert("wrapWith", |_, a| {
        Ok(Value::str(wrap(
            &s_arg(&a, 2),
            to_i64(&arg(&a, 0)) as usize,
            &s_arg(&a, 1),
        )))
    });
    f.insert("contains", |_, a| {
        Ok(Value::Bool(s_arg(&a, 1).contains(s_arg(&a, 0).as_str())))
    });
    f.insert("hasPrefix", |_, a| {
        Ok(Value::Bool(s_arg(&a, 1).starts_with(s_arg(&a, 0).as_str())))
    });
    f.insert("hasSuffix", |_, a| {
        Ok(Value::Bool(s_arg(&a, 1).ends_with(s_arg(&a, 0).as_str())))
    });
    f.insert("quote", |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|x| !x.is_nil())
            .map(|x| crate::gofmt::go_quote(&strval(x)))
            .collect();
        Ok(Value::str(parts.join(" ")))
    });
    f.insert("squote", |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|x| !x.is_nil())
            .map(|x| format!("'{}'", strval(x)))
            .collect();
        Ok(Value::str(parts.join(" ")))
    });
    f.insert("cat", |_, a| {
        let parts: Vec<String> = a.iter().filter(|x| !x.is_nil()).map(strval).collect();
        Ok(Value::str(parts.join(" ")))
    });
    f.insert("indent", |_, a| {
        let pad = " ".repeat(to_i64(&arg(&a, 0)).max(0) as usize);
        Ok(Value::str(format!(
            "{pad}{}",
            s_arg(&a, 1).replace('\n', &format!("\n{pad}"))
        )))
    });
    f.insert("nindent", |_, a| {
        let pad = " ".repeat(to_i64(&arg(&a, 0)).max(0) as usize);
        Ok(Value::str(format!(
            "\n{pad}{}",
            s_arg(&a, 1).replace('\n', &format!("\n{pad}"))
        )))
    });
    f.insert("replace", |_, a| {
        Ok(Value::str(
            s_arg(&a, 2).replace(s_arg(&a, 0).as_str(), &s_arg(&a, 1)),
        ))
    });
    f.insert("plural", |_, a| {
        Ok(Value::str(if to_i64(&arg(&a, 2)) == 1 {
            s_arg(&a, 0)
        } else {
            s_arg(&a, 1)
        }))
    });
    f.insert("snakecase", |_, a| {
        Ok(Value::str(
            words(&s_arg(&a, 0))
                .iter()
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
                .join("_"),
        ))
    });
    f.insert("kebabcase", |_, a| {
        Ok(Value::str(
            words(&s_arg(&a, 0))
                .iter()
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
                .join("-"),
        ))
    });
    f.insert("camelcase", |_, a| {
        let s = s_arg(&a, 0);
        Ok(Value::str(
            s.split('_')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
                        None => String::new(),
                    }
                })
                .collect::<String>(),
        ))
    });
    f.insert("swapcase", |_, a| {
        Ok(Value::str(
            s_arg(&a, 0)
                .chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<String>()
                    } else {
                        c.to_uppercase().collect()
                    }
                })
                .collect::<String>(),
        ))
    });
    f.insert("join", |_, a| {
        Ok(Value::str(strslice(&arg(&a, 1)).join(&s_arg(&a, 0))))
    });
    f.insert("splitList", |_, a| {
        Ok(Value::list(
            s_arg(&a, 1)
                .split(s_arg(&a, 0).as_str())
                .map(Value::from)
                .collect(),
        ))
    });
    f.insert("split", |_, a| {
        let m: Map = s_arg(&a, 1)
            .split(s_arg(&a, 0).as_str())
            .enumerate()
            .map(|(i, p)| (format!("_{i}"), Value::from(p)))
            .collect();
        Ok(Value::map(m))
    });
    f.insert("splitn", |_, a| {
        let n = to_i64(&arg(&a, 1));
        let s = s_arg(&a, 2);
        let sep = s_arg(&a, 0);
        let parts: Vec<&str> = if n < 0 {
            s.split(sep.as_str()).collect()
        } else {
            s.splitn(n as usize, sep.as_str()).collect()
        };
        Ok(Value::map(
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("_{i}"), Value::from(*p)))
                .collect(),
        ))
    });
    f.insert("sortAlpha", |_, a| {
        let mut v = strslice(&arg(&a, 0));
        v.sort();
        Ok(Value::list(v.into_iter().map(Value::from).collect()))
    });
    f.insert("regexMatch", |_, a| {
        Ok(Value::Bool(regex(&s_arg(&a, 0))?.is_match(&s_arg(&a, 1))))
    });
    f.insert("mustRegexMatch", |_, a| {
        Ok(Value::Bool(regex(&s_arg(&a, 0))?.is_match(&s_arg(&a, 1))))
    });
    f.insert("regexFind", |_, a| {
        Ok(Value::str(
            regex(&s_arg(&a, 0))?
                .find(&s_arg(&a, 1))
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        ))
    });
    f.insert("regexFindAll", |_, a| {
        let re = regex(&s_arg(&a, 0))?;
        let s = s_arg(&a, 1);
        let n = to_i64(&arg(&a, 2));
        let it = re.find_iter(&s).map(|m| Value::str(m.as_str()));
        Ok(Value::list(if n < 0 {
            it.collect()
        } else {
            it.take(n as usize).collect()
        }))
    });
    f.insert("regexReplaceAll", |_, a| {
        Ok(Value::str(
            regex(&s_arg(&a, 0))?
                .replace_all(&s_arg(&a, 1), s_arg(&a, 2).as_str())
                .into_owned(),
        ))
    });
    f.insert("regexReplaceAllLiteral", |_, a| {
        Ok(Value::str(
            regex(&s_arg(&a, 0))?
                .replace_all(&s_arg(&a, 1), regex::NoExpand(&s_arg(&a, 2)))
                .into_owned(),
        ))
    });
    f.insert("regexSplit", |_, a| {
        let re = regex(&s_arg(&a, 0))?;
        let s = s_arg(&a, 1);
        let n = to_i64(&arg(&a, 2));
        let parts: Vec<Value> = if n < 0 {
            re.split(&s).map(Value::from).collect()
        } else {
            re.splitn(&s, n as usize).map(Value::from).collect()
        };
        Ok(Value::list(parts))
    });
    f.insert("regexQuoteMeta", |_, a| {
        Ok(Value::str(regex::escape(&s_arg(&a, 0))))
    });
    // --- conversions and math
    f.insert("atoi", |_, a| {
        Ok(Value::Int(s_arg(&a, 0).parse().unwrap_or(0)))
    });
    f.insert("int", |_, a| Ok(Value::Int(to_i64(&arg(&a, 0)))));
    f.insert("int64", |_, a| Ok(Value::Int(to_i64(&arg(&a, 0)))));
    f.insert("float64", |_, a| Ok(Value::Float(to_f64(&arg(&a, 0)))));
    f.insert("toDecimal", |_, a| {
        Ok(Value::Int(
            i64::from_str_radix(&s_arg(&a, 0), 8).unwrap_or(0),
        ))
    });
    f.insert("add1", |_, a| Ok(Value::Int(to_i64(&arg(&a, 0)) + 1)));
    f.insert("add", |_, a| Ok(Value::Int(a.iter().map(to_i64).sum())));
    f.insert("sub", |_, a| {
        Ok(Value::Int(to_i64(&arg(&a, 0)) - to_i64(&arg(&a, 1))))
    });
    f.insert("mul", |_, a| Ok(Value::Int(a.iter().map(to_i64).product())));
    f.insert("div", |_, a| {
        let d = to_i64(&arg(&a, 1));
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_i64(&arg(&a, 0)) / d))
    });
    f.insert("mod", |_, a| {
        let d = to_i64(&arg(&a, 1));
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_i64(&arg(&a, 0)) % d))
    });
    f.insert("max", |_, a| {
        Ok(Value::Int(a.iter().map(to_i64).max().unwrap_or(0)))
    });
    f.insert("min", |_, a| {
        Ok(Value::Int(a.iter().map(to_i64).min().unwrap_or(0)))
    });
    f.insert("addf", |_, a| Ok(Value::Float(a.iter().map(to_f64).sum())));
    f.insert("add1f", |_, a| Ok(Value::Float(to_f64(&arg(&a, 0)) + 1.0)));
    f.insert("subf", |_, a| {
        Ok(Value::Float(
            a.iter()
                .skip(1)
                .fold(to_f64(&arg(&a, 0)), |x, y| x - to_f64(y)),
        ))
    });
    f.insert("mulf", |_, a| {
        Ok(Value::Float(a.iter().map(to_f64).product()))
    });
    f.insert("divf", |_, a| {
        Ok(Value::Float(
            a.iter()
                .skip(1)
                .fold(to_f64(&arg(&a, 0)), |x, y| x / to_f64(y)),
        ))
    });
    f.insert("maxf", |_, a| {
        Ok(Value::Float(
            a.iter().map(to_f64).fold(f64::NEG_INFINITY, f64::max),
        ))
    });
    f.insert("minf", |_, a| {
        Ok(Value::Float(
            a.iter().map(to_f64).fold(f64::INFINITY, f64::min),
        ))
    });
    f.insert("floor", |_, a| {
        Ok(Value::Float(to_f64(&arg(&a, 0)).floor()))
    });
    f.insert("ceil", |_, a| Ok(Value::Float(to_f64(&arg(&a, 0)).ceil())));
    f.insert("round", |_, a| {
        let p = 10f64.powi(to_i64(&arg(&a, 1)) as i32);
        Ok(Value::Float((to_f64(&arg(&a, 0)) * p).round() / p))
    });
    f.insert("until", |_, a| {
        let n = to_i64(&arg(&a, 0));
        Ok(Value::list(if n >= 0 {
            (0..n).map(Value::Int).collect()
        } else {
            (n + 1..=0).rev().map(Value::Int).collect()
        }))
    });
    f.insert("untilStep", |_, a| {
        let (start, stop, step) = (
            to_i64(&arg(&a, 0)),
            to_i64(&arg(&a, 1)),
            to_i64(&arg(&a, 2)),
        );
        let mut v = Vec::new();
        if step > 0 {
            let mut i = start;
            while i < stop {
                v.push(Value::Int(i));
                i += step;
            }
        } else if step < 0 {
            let mut i = start;
            while i > stop {
                v.push(Value::Int(i));
                i += step;
            }
        }
        Ok(Value::list(v))
    });
    f.insert("seq", |_, a| {
        let n: Vec<i64> = a.iter().map(to_i64).collect();
        let (start, step, end) = match n.len() {
            1 => (1, 1, n[0]),
            2 => (n[0], if n[1] >= n[0] { 1 } else { -1 }, n[1]),
            3 => (n[0], n[1], n[2]),
            _ => return Ok(Value::str("")),
        };
        let mut out = Vec::new();
        let mut i = start;
        if step > 0 {
            while i <= end {
                out.push(i.to_string());
                i += step;
            }
        } else if step < 0 {
            while i >= end {
                out.push(i.to_string());
                i += step;
            }
        }
        Ok(Value::str(out.join(" ")))
    });
    // --- defaults and flow
    f.insert("default", |_, a| {
        let d = arg(&a, 0);
        match a.get(1) {
            Some(v) if !empty(v) => Ok(v.clone()),
            _ => Ok(d),
        }
    });
    f.insert("empty", |_, a| Ok(Value::Bool(empty(&arg(&a, 0)))));
    f.insert("coalesce", |_, a| {
        Ok(a.iter().find(|x| !empty(x)).cloned().unwrap_or(Value::Nil))
    });
    f.insert("all", |_, a| Ok(Value::Bool(a.iter().all(|x| !empty(x)))));
    f.insert("any", |_, a| Ok(Value::Bool(a.iter().any(|x| !empty(x)))));
    f.insert("ternary", |_, a| {
        Ok(if arg(&a, 2).truthy() {
            arg(&a, 0)
        } else {
            arg(&a, 1)
        })
    });
    f.insert("typeOf", |_, a| Ok(Value::str(arg(&a, 0).type_name())));
    f.insert("kindOf", |_, a| Ok(Value::str(kind_of(&arg(&a, 0)))));
    f.insert("typeIs", |_, a| {
        Ok(Value::Bool(s_arg(&a, 0) == arg(&a, 1).type_name()))
    });
    f.insert("kindIs", |_, a| {
        Ok(Value::Bool(s_arg(&a, 0) == kind_of(&arg(&a, 1))))
    });
    f.insert("typeIsLike", |_, a| {
        let t = arg(&a, 1).type_name();
        let w = s_arg(&a, 0);
        Ok(Value::Bool(w == t || format!("*{t}") == w))
    });
    f.insert("deepEqual", |_, a| {
        Ok(Value::Bool(arg(&a, 0).deep_eq(&arg(&a, 1))))
    });
    // --- encoding and hashing
    f.insert("b64enc", |_, a| {
        // a Go string holds bytes: `.Files.Get` of a binary file is encoded as it is
        let enc = match arg(&a, 0) {
            Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(&b),
            _ => base64::engine::general_purpose::STANDARD.encode(s_arg(&a, 0)),
        };
        Ok(Value::str(enc))
    });
    f.insert("b64dec", |_, a| {
        Ok(Value::str(
            match base64::engine::general_purpose::STANDARD.decode(s_arg(&a, 0)) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => e.to_string(),
            },
        ))
    });
    f.insert("b32enc", |_, a| {
        Ok(Value::str(base32(s_arg(&a, 0).as_bytes())))
    });
    f.insert("sha256sum", |_, a| {
        use sha2::Digest as _;
        Ok(Value::str(hex_lower(&sha2::Sha256::digest(
            s_arg(&a, 0).as_bytes(),
        ))))
    });
    f.insert("sha512sum", |_, a| {
        use sha2::Digest as _;
        Ok(Value::str(hex_lower(&sha2::Sha512::digest(
            s_arg(&a, 0).as_bytes(),
        ))))
    });
    f.insert("sha1sum", |_, a| {
        Ok(Value::str(sha1_hex(s_arg(&a, 0).as_bytes())))
    });
    f.insert("adler32sum", |_, a| {
        let (mut x, mut y) = (1u32, 0u32);
        for b in s_arg(&a, 0).bytes() {
            x = (x + u32::from(b)) % 65521;
            y = (y + x) % 65521;
        }
        Ok(Value::str(((y << 16) | x).to_string()))
    });
    f.insert("htpasswd", |_, a| {
        Ok(Value::str(crate::crypto::htpasswd(
            &s_arg(&a, 0),
            &s_arg(&a, 1),
        )?))
    });
    f.insert("genCA", |_, a| {
        Ok(crate::crypto::gen_ca(
            &s_arg(&a, 0),
            to_i64(&arg(&a, 1)),
            None,
        )?)
    });
    f.insert("genCAWithKey", |_, a| {
        Ok(crate::crypto::gen_ca(
            &s_arg(&a, 0),
            to_i64(&arg(&a, 1)),
            Some(&s_arg(&a, 2)),
        )?)
    });
    f.insert("genSelfSignedCert", |_, a| {
        Ok(crate::crypto::gen_self_signed(
            &s_arg(&a, 0),
            &str_items(&arg(&a, 1)),
            &str_items(&arg(&a, 2)),
            to_i64(&arg(&a, 3)),
            None,
        )?)
    });
    f.insert("genSelfSignedCertWithKey", |_, a| {
        Ok(crate::crypto::gen_self_signed(
            &s_arg(&a, 0),
            &str_items(&arg(&a, 1)),
            &str_items(&arg(&a, 2)),
            to_i64(&arg(&a, 3)),
            Some(&s_arg(&a, 4)),
        )?)
    });
    f.insert("genSignedCert", |_, a| {
        let ca = arg(&a, 4);
        Ok(crate::crypto::gen_signed(
            &s_arg(&a, 0),
            &str_items(&arg(&a, 1)),
            &str_items(&arg(&a, 2)),
            to_i64(&arg(&a, 3)),
            &struct_field(&ca, "Cert"),
            &struct_field(&ca, "Key"),
            None,
        )?)
    });
    f.insert("genSignedCertWithKey", |_, a| {
        let ca = arg(&a, 4);
        Ok(crate::crypto::gen_signed(
            &s_arg(&a, 0),
            &str_items(&arg(&a, 1)),
            &str_items(&arg(&a, 2)),
            to_i64(&arg(&a, 3)),
            &struct_field(&ca, "Cert"),
            &struct_field(&ca, "Key"),
            Some(&s_arg(&a, 5)),
        )?)
    });
    f.insert("genPrivateKey", |_, a| {
        Ok(Value::str(crate::crypto::gen_private_key(&s_arg(&a, 0))?))
    });
    f.insert("buildCustomCert", |_, a| {
        Ok(crate::crypto::build_custom_cert(
            &s_arg(&a, 0),
            &s_arg(&a, 1),
        )?)
    });
    // --- lists
    f.insert("list", |_, a| Ok(Value::list(a)));
    f.insert("tuple", |_, a| Ok(Value::list(a)));
    f.insert("first", |_, a| {
        Ok(list_of(&arg(&a, 0))?.first().cloned().unwrap_or(Value::Nil))
    });
    f.insert("mustFirst", |_, a| {
        Ok(list_of(&arg(&a, 0))?.first().cloned().unwrap_or(Value::Nil))
    });
    f.insert("last", |_, a| {
        Ok(list_of(&arg(&a, 0))?.last().cloned().unwrap_or(Value::Nil))
    });
    f.insert("mustLast", |_, a| {
        Ok(list_of(&arg(&a, 0))?.last().cloned().unwrap_or(Value::Nil))
    });
    f.insert("rest", |_, a| {
        let l = list_of(&arg(&a, 0))?;
        Ok(if l.is_empty() {
            Value::Nil
        } else {
            Value::list(l[1..].to_vec())
        })
    });
    f.insert("initial", |_, a| {
        let l = list_of(&arg(&a, 0))?;
        Ok(if l.is_empty() {
            Value::Nil
        } else {
            Value::list(l[..l.len() - 1].to_vec())
        })
    });
    f.insert("append", |_, a| {
        let mut l = list_of(&arg(&a, 0))?;
        l.push(arg(&a, 1));
        Ok(Value::list(l))
    });
    f.insert("mustAppend", |_, a| {
        let mut l = list_of(&arg(&a, 0))?;
        l.push(arg(&a, 1));
        Ok(Value::list(l))
    });
    f.insert("push", |_, a| {
        let mut l = list_of(&arg(&a, 0))?;
        l.push(arg(&a, 1));
        Ok(Value::list(l))
    });
    f.insert("prepend", |_, a| {
        let mut l = list_of(&arg(&a, 0))?;
        l.insert(0, arg(&a, 1));
        Ok(Value::list(l))
    });
    f.insert("concat", |_, a| {
        let mut out = Vec::new();
        for x in &a {
            out.extend(list_of(x)?);
        }
        Ok(Value::list(out))
    });
    f.insert("reverse", |_, a| {
        let mut l = list_of(&arg(&a, 0))?;
        l.reverse();
        Ok(Value::list(l))
    });
    f.insert("uniq", |_, a| {
        let mut out: Vec<Value> = Vec::new();
        for x in list_of(&arg(&a, 0))? {
            if !out.iter().any(|y| y.deep_eq(&x)) {
                out.push(x);
            }
        }
        Ok(Value::list(out))
    });
    f.insert("without", |_, a| {
        let l = list_of(&arg(&a, 0))?;
        Ok(Value::list(
            l.into_iter()
                .filter(|x| !a[1..].iter().any(|y| y.deep_eq(x)))
                .collect(),
        ))
    });
    f.insert("has", |_, a| {
        let l = list_of(&arg(&a, 1)).unwrap_or_default();
        let n = arg(&a, 0);
        Ok(Value::Bool(l.iter().any(|x| x.deep_eq(&n))))
    });
    f.insert("compact", |_, a| {
        Ok(Value::list(
            list_of(&arg(&a, 0))?
                .into_iter()
                .filter(|x| !empty(x))
                .collect(),
        ))
    });
    f.insert("slice", |_, a| {
        let v = arg(&a, 0);
        let idx: Vec<i64> = a[1..].iter().map(to_i64).collect();
        match &v {
            Value::Str(s) => {
                let st = idx.first().copied().unwrap_or(0).max(0) as usize;
                let en = idx.get(1).copied().map_or(s.len(), |e| e as usize);
                Ok(Value::str(s.get(st..en).unwrap_or("")))
            }
            _ => {
                let l = list_of(&v)?;
                let st = idx.first().copied().unwrap_or(0).max(0) as usize;
                let en = idx
                    .get(1)
                    .copied()
                    .map_or(l.len(), |e| (e.max(0) as usize).min(l.len()));
                Ok(Value::list(
                    l.get(st..en).map(<[Value]>::to_vec).unwrap_or_default(),
                ))
            }
        }
    });
    f.insert("chunk", |_, a| {
        let n = to_i64(&arg(&a, 0)).max(1) as usize;
        let l = list_of(&arg(&a, 1))?;
        Ok(Value::list(
            l.chunks(n).map(|c| Value::list(c.to_vec())).collect(),
        ))
    });
    // --- dicts
    f.insert("dict", |_, a| {
        let mut m = Map::new();
        let mut i = 0;
        while i < a.len() {
            m.insert(
                strval(&a[i]),
                a.get(i + 1).cloned().unwrap_or_else(|| Value::str("")),
            );
            i += 2;
        }
        Ok(Value::map(m))
    });
    f.insert("get", |_, a| {
        let d = dict_arg(&arg(&a, 0), "get")?;
        let k = s_arg(&a, 1);
        Ok(d.borrow()
            .get(&k)
            .cloned()
            .unwrap_or_else(|| Value::str("")))
    });
    f.insert("set", |_, a| {
        let d = dict_arg(&arg(&a, 0), "set")?;
        d.borrow_mut().insert(s_arg(&a, 1), arg(&a, 2));
        Ok(Value::Map(d))
    });
    f.insert("unset", |_, a| {
        let d = dict_arg(&arg(&a, 0), "unset")?;
        d.borrow_mut().remove(&s_arg(&a, 1));
        Ok(Value::Map(d))
    });
    f.insert("hasKey", |_, a| {
        let d = dict_arg(&arg(&a, 0), "hasKey")?;
        let r = d.borrow().contains_key(&s_arg(&a, 1));
        Ok(Value::Bool(r))
    });
    f.insert("pluck", |_, a| {
        let k = s_arg(&a, 0);
        let mut out = Vec::new();
        for d in &a[1..] {
            if let Some(m) = d.as_map()
                && let Some(v) = m.get(&k)
            {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    });
    f.insert("dig", |_, a| {
        if a.len() < 3 {
            return Err("dig needs at least three arguments".into());
        }
        let dict = a[a.len() - 1].clone();
        let def = a[a.len() - 2].clone();
        let mut cur = dict;
        for k in &a[..a.len() - 2] {
            let next = match cur.as_map() {
                Some(m) => m.get(&strval(k)).cloned(),
                None => None,
            };
            match next {
                Some(v) => cur = v,
                None => return Ok(def),
            }
        }
        Ok(cur)
    });
    f.insert("keys", |_, a| {
        let mut out = Vec::new();
        for d in &a {
            if let Some(m) = d.as_map() {
                out.extend(m.keys().map(|k| Value::str(k.as_str())));
            }
        }
        Ok(Value::list(out))
    });
    f.insert("values", |_, a| {
        let d = dict_arg(&arg(&a, 0), "values")?;
        let r = d.borrow().values().cloned().collect();
        Ok(Value::list(r))
    });
    f.insert("pick", |_, a| {
        let d = dict_arg(&arg(&a, 0), "pick")?;
        let keys: Vec<String> = a[1..].iter().map(strval).collect();
        let r = d
            .borrow()
            .iter()
            .filter(|(k, _)| keys.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Value::map(r))
    });
    f.insert("omit", |_, a| {
        let d = dict_arg(&arg(&a, 0), "omit")?;
        let keys: Vec<String> = a[1..].iter().map(strval).collect();
        let r = d
            .borrow()
            .iter()
            .filter(|(k, _)| !keys.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Value::map(r))
    });
    f.insert("merge", |_, a| merge_fn(a, false));
    f.insert("mustMerge", |_, a| merge_fn(a, false));
    f.insert("mergeOverwrite", |_, a| merge_fn(a, true));
    f.insert("mustMergeOverwrite", |_, a| merge_fn(a, true));
    f.insert("deepCopy", |_, a| Ok(arg(&a, 0).deep_copy()));
    f.insert("mustDeepCopy", |_, a| Ok(arg(&a, 0).deep_copy()));
    // --- semver
    f.insert("semverCompare", |_, a| {
        let c = crate::semver::Constraints::parse(&s_arg(&a, 0))
            .map_err(|e| FuncError::Message(e.0))?;
        let v =
            crate::semver::Version::parse(&s_arg(&a, 1)).map_err(|e| FuncError::Message(e.0))?;
        Ok(Value::Bool(c.matches(&v)))
    });
    f.insert("semver", |_, a| {
        let v =
            crate::semver::Version::parse(&s_arg(&a, 0)).map_err(|e| FuncError::Message(e.0))?;
        let mut m = Map::new();
        m.insert("Major".into(), Value::Int(v.major as i64));
        m.insert("Minor".into(), Value::Int(v.minor as i64));
        m.insert("Patch".into(), Value::Int(v.patch as i64));
        m.insert("Prerelease".into(), Value::str(v.pre.as_str()));
        m.insert("Metadata".into(), Value::str(v.meta.as_str()));
        m.insert("Original".into(), Value::str(v.original.as_str()));
        Ok(crate::template::exec::object_struct(
            "*semver.Version",
            m,
            Some(format!("{}.{}.{}", v.major, v.minor, v.patch)),
        ))
    });
    // --- paths and urls
    f.insert("base", |_, a| Ok(Value::str(path_base(&s_arg(&a, 0)))));
    f.insert("dir", |_, a| Ok(Value::str(path_dir(&s_arg(&a, 0)))));
    f.insert("clean", |_, a| Ok(Value::str(path_clean(&s_arg(&a, 0)))));
    f.insert("ext", |_, a| {
        let b = path_base(&s_arg(&a, 0));
        Ok(Value::str(
            b.rfind('.').map(|i| b[i..].to_string()).unwrap_or_default(),
        ))
    });
    f.insert("isAbs", |_, a| {
        Ok(Value::Bool(s_arg(&a, 0).starts_with('/')))
    });
    // --- dates (non-deterministic by nature; enough for charts that stamp annotations)
    f.insert("now", |_, _| Ok(Value::str(now_rfc3339())));
    f.insert("date", |_, _| Ok(Value::str(now_rfc3339())));
    f.insert("dateInZone", |_, _| Ok(Value::str(now_rfc3339())));
    f.insert("htmlDate", |_, _| {
        Ok(Value::str(
            now_rfc3339().get(..10).unwrap_or("").to_string(),
        ))
    });
    f.insert("unixEpoch", |_, _| Ok(Value::str(unix_now().to_string())));
    // Sprig's must* variants return errors instead of panicking; ours never panic.
    for name in [
        "append",
        "prepend",
        "first",
        "last",
        "rest",
        "initial",
        "reverse",
        "uniq",
        "without",
        "has",
        "compact",
        "slice",
        "chunk",
        "push",
        "regexFindAll",
        "regexFind",
        "regexReplaceAll",
        "regexReplaceAllLiteral",
        "regexSplit",
        "dig",
    ] {
        if let Some(func) = f.get(name).copied() {
            let must: &'static str = Box::leak(
                format!("must{}{}", name[..1].to_uppercase(), &name[1..]).into_boxed_str(),
            );
            f.entry(must).or_insert(func);
        }
    }
    f
}

fn merge_fn(a: Vec<Value>, overwrite: bool) -> FR {
    let d = dict_arg(&arg(&a, 0), "merge")?;
    for src in &a[1..] {
        if let Value::Map(sm) = src {
            if Rc::ptr_eq(sm, &d) {
                continue;
            }
            let s = sm.borrow().clone();
            merge_into(&mut d.borrow_mut(), &s, overwrite);
        }
    }
    Ok(Value::Map(d))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::Bytes(_) | Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Object(o) => match &**o {
            Object::Files(_) => "map",
            Object::VersionSet(_) => "slice",
            Object::Struct { .. } => "ptr",
        },
    }
}

fn wrap(s: &str, width: usize, nl: &str) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for (i, w) in s.split(' ').enumerate() {
        if i > 0 {
            if line_len + 1 + w.len() > width && line_len > 0 {
                out.push_str(nl);
                line_len = 0;
            } else {
                out.push(' ');
                line_len += 1;
            }
        }
        out.push_str(w);
        line_len += w.len();
    }
    out
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn base32(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(A[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn now_rfc3339() -> String {
    let secs = unix_now() as i64;
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn go_character_classes_compile_as_in_go() {
        // redis-ha's masterGroupName: a `-` after `\w` is a literal in RE2
        let re = regex(r"^[\w-\.]+$").unwrap();
        assert!(re.is_match("my-group.1") && !re.is_match("a b"));
        // `[` inside a class is a literal; `[:alpha:]` stays a class
        assert!(regex(r"^[[a]+$").unwrap().is_match("[a["));
        assert!(regex(r"^[[:alpha:]-]+$").unwrap().is_match("ab-c"));
        assert!(regex(r"^[a&&b]+$").unwrap().is_match("&a"));
        assert!(regex(r"^[a-z]+$").unwrap().is_match("abc"));
    }
}
