//! The document tree sops works on: ordered mappings, sequences, typed scalars and comments.
//!
//! Every file format is read into a [`Tree`] (one [`Branch`] per document) and written back from
//! it. Order is significant: the MAC covers the values in document order.

/// A comment line, without its leading `#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The text after `#`.
    pub value: String,
    /// Whether the comment stood at the end of a value's line (YAML line comment).
    pub inline: bool,
}

impl Comment {
    /// A comment on a line of its own.
    pub fn line(value: impl Into<String>) -> Self {
        Comment {
            value: value.into(),
            inline: false,
        }
    }
}

/// A value in the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null` / an empty value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// Raw bytes (the `bytes` type tag).
    Bytes(Vec<u8>),
    /// A timestamp, kept as its RFC 3339 text (the `time` type tag; YAML plain timestamps).
    Time(String),
    /// An ordered mapping.
    Map(Branch),
    /// A sequence; its items may include [`Value::Comment`]s.
    Seq(Vec<Value>),
    /// A comment inside a sequence.
    Comment(Comment),
}

/// One entry of a mapping: a key with its value, or a comment.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A key and its value.
    Entry(String, Value),
    /// A comment between entries.
    Comment(Comment),
}

/// An ordered mapping (the sops `TreeBranch`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Branch(pub Vec<Item>);

impl Branch {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find_map(|item| match item {
            Item::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// Removes every entry named `key` and returns the first one's value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let mut found = None;
        self.0.retain_mut(|item| match item {
            Item::Entry(k, v) if k == key => {
                if found.is_none() {
                    found = Some(std::mem::replace(v, Value::Null));
                }
                false
            }
            _ => true,
        });
        found
    }

    /// Appends an entry.
    pub fn push(&mut self, key: impl Into<String>, value: Value) {
        self.0.push(Item::Entry(key.into(), value));
    }

    /// The entries (without comments), in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().filter_map(|item| match item {
            Item::Entry(k, v) => Some((k.as_str(), v)),
            Item::Comment(_) => None,
        })
    }
}

/// A whole document set: one branch per document (YAML may hold several).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    /// The documents, in order.
    pub branches: Vec<Branch>,
}

/// Formats a float the way Go's `strconv.FormatFloat(v, 'f', -1, 64)` does (what sops hashes and
/// encrypts).
pub fn go_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        // Rust's Display prints the shortest round-tripping digits without an exponent, as Go's
        // 'f' with precision -1 does.
        let s = format!("{v}");
        if s == "-0" { "-0".to_string() } else { s }
    }
}

/// Formats a float the way Go's `strconv.FormatFloat(v, 'g', -1, 64)` does (what YAML and JSON
/// encoders print).
pub fn go_float_g(v: f64, exp_threshold: i32) -> String {
    if !v.is_finite() {
        return go_float_f(v);
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Shortest digits and decimal exponent via the `{:e}` formatting (shortest round-trip).
    let e = format!("{:e}", v.abs());
    let (mantissa, exp) = match e.split_once('e') {
        Some((m, x)) => (m.to_string(), x.parse::<i32>().unwrap_or(0)),
        None => (e.clone(), 0),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let neg = if v < 0.0 { "-" } else { "" };
    if exp < -4 || exp >= exp_threshold {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        let a = exp.abs();
        let x = if a < 10 {
            format!("0{a}")
        } else {
            a.to_string()
        };
        format!("{neg}{m}e{sign}{x}")
    } else {
        format!("{neg}{}", go_float_f(v.abs()))
    }
}

impl Value {
    /// The bytes sops feeds into the MAC for this value (`sops.ToBytes`); `None` for values that
    /// are not hashed (null, collections, comments).
    pub fn mac_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Str(s) => Some(s.as_bytes().to_vec()),
            Value::Int(i) => Some(i.to_string().into_bytes()),
            Value::Float(f) => Some(go_float_f(*f).into_bytes()),
            Value::Bool(b) => Some(if *b {
                b"True".to_vec()
            } else {
                b"False".to_vec()
            }),
            Value::Bytes(b) => Some(b.clone()),
            Value::Time(t) => Some(t.as_bytes().to_vec()),
            Value::Null | Value::Map(_) | Value::Seq(_) | Value::Comment(_) => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value rendered as sops's `ValToString` does (dotenv and INI output).
    pub fn to_plain_string(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => {
                let g = go_float_g(*f, 6).replace('e', "E");
                if !g.contains('.') && !g.contains('E') {
                    format!("{g}.0")
                } else {
                    g
                }
            }
            Value::Bool(b) => b.to_string(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Time(t) => t.clone(),
            Value::Null => "<nil>".to_string(),
            Value::Comment(c) => c.value.clone(),
            Value::Map(_) | Value::Seq(_) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_formats() {
        for (v, f, g) in [
            (1.5, "1.5", "1.5"),
            (1.0, "1", "1"),
            (1234567.0, "1234567", "1.234567e+06"),
            (0.0001, "0.0001", "0.0001"),
            (0.00001, "0.00001", "1e-05"),
            (-2.5e30, "-2500000000000000000000000000000", "-2.5e+30"),
        ] {
            assert_eq!(go_float_f(v), f);
            assert_eq!(go_float_g(v, 6), g);
        }
    }
}
