//! The dynamic values templates work on, modelled on the Go values Helm hands to `text/template`.
//!
//! Helm's values come from YAML through JSON, so they are `nil`, `bool`, `float64`, `string`,
//! `[]interface{}` and `map[string]interface{}`; Sprig adds `int`/`int64` results. A few Helm
//! objects (`.Files`, `.Capabilities`) carry methods and are [`Value::Object`]s.

use std::cell::{Ref, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// A map with Go's iteration order (sorted keys).
pub type Map = BTreeMap<String, Value>;

/// A template value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Go's `nil` (also what a missing map key yields).
    #[default]
    Nil,
    /// A `bool`.
    Bool(bool),
    /// A signed integer (`int`, `int64`).
    Int(i64),
    /// A `float64`.
    Float(f64),
    /// A `string`.
    Str(Rc<str>),
    /// A `[]byte`.
    Bytes(Rc<[u8]>),
    /// A slice.
    List(Rc<Vec<Value>>),
    /// A `map[string]interface{}`: shared and mutable like a Go map (Sprig's `set` changes it).
    Map(Rc<RefCell<Map>>),
    /// A Helm object with methods.
    Object(Rc<Object>),
}

/// Helm objects that carry methods.
#[derive(Debug)]
pub enum Object {
    /// `.Files`: chart files by path, with `Get`, `GetBytes`, `Glob`, `Lines`, `AsConfig`, `AsSecrets`.
    Files(BTreeMap<String, Rc<[u8]>>),
    /// `.Capabilities.APIVersions`, with `Has`.
    VersionSet(Vec<String>),
    /// A struct: fields by name, and what `String()` returns if it has that method.
    Struct {
        /// The Go type name, for messages.
        type_name: &'static str,
        /// Fields (and zero-argument methods) by name.
        fields: Map,
        /// The result of its `String` method.
        stringer: Option<String>,
    },
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    /// A list value.
    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(v))
    }

    /// A map value.
    pub fn map(m: Map) -> Value {
        Value::Map(Rc::new(RefCell::new(m)))
    }

    /// The map if this is one.
    pub fn as_map(&self) -> Option<Ref<'_, Map>> {
        match self {
            Value::Map(m) => Some(m.borrow()),
            _ => None,
        }
    }

    /// A deep copy: maps and lists are copied, so changes to the copy do not show in `self`.
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::Map(m) => Value::map(
                m.borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.deep_copy()))
                    .collect(),
            ),
            Value::List(l) => Value::list(l.iter().map(Value::deep_copy).collect()),
            other => other.clone(),
        }
    }

    /// Go template truth: false, 0, nil, and empty strings, slices and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Object(o) => match &**o {
                Object::Files(f) => !f.is_empty(),
                Object::VersionSet(v) => !v.is_empty(),
                Object::Struct { .. } => true,
            },
        }
    }

    /// The Go type name as `fmt`'s `%T` prints it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Bytes(_) => "[]uint8",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Object(o) => match &**o {
                Object::Files(_) => "engine.files",
                Object::VersionSet(_) => "common.VersionSet",
                Object::Struct { type_name, .. } => type_name,
            },
        }
    }

    /// The string if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// True for `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Go's `%v` formatting.
    pub fn to_go_string(&self) -> String {
        let mut out = String::new();
        write_v(&mut out, self, true);
        out
    }

    /// Deep equality as Go's `reflect.DeepEqual` would see these values.
    pub fn deep_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_eq(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                let (a, b) = (a.borrow(), b.borrow());
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, va), (kb, vb))| ka == kb && va.deep_eq(vb))
            }
            (Value::Object(a), Value::Object(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

/// Writes `v` as Go's `%v` does; `top` is false inside containers (where nil prints `<nil>` too).
pub(crate) fn write_v(out: &mut String, v: &Value, top: bool) {
    let _ = top;
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&crate::gofmt::format_float_g(*f, None)),
        Value::Str(s) => out.push_str(s),
        Value::Bytes(b) => {
            out.push('[');
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{x}");
            }
            out.push(']');
        }
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, x, false);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, x, false);
            }
            out.push(']');
        }
        Value::Object(o) => match &**o {
            Object::Files(f) => {
                out.push_str("map[");
                for (i, (k, x)) in f.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    write_v(out, &Value::Bytes(x.clone()), false);
                }
                out.push(']');
            }
            Object::VersionSet(v) => {
                out.push('[');
                out.push_str(&v.join(" "));
                out.push(']');
            }
            Object::Struct {
                fields, stringer, ..
            } => {
                if let Some(s) = stringer {
                    out.push_str(s);
                } else {
                    out.push('{');
                    for (i, x) in fields.values().enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        write_v(out, x, false);
                    }
                    out.push('}');
                }
            }
        },
    }
}
