//! Execution of parsed templates with Go's semantics (Helm's `missingkey=zero` option).

use std::collections::HashMap;
use std::rc::Rc;

use super::parse::{Arg, Branch, Command, Node, Number, Pipe, TemplateSet, Tree};
use crate::funcs::{Func, Funcs};
use crate::value::{Map, Object, Value};

/// A failure while executing a template, located as Go locates it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("template: {name}:{line}:{col}: executing {name:?} at <{context}>: {message}")]
pub struct ExecError {
    /// The template being executed.
    pub name: String,
    /// 1-based line of the failing action.
    pub line: usize,
    /// 0-based byte column of the failing action.
    pub col: usize,
    /// The operand or function that failed.
    pub context: String,
    /// What went wrong.
    pub message: String,
}

/// Control flow out of a list.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// An error before it is located: the message and the context text.
pub(crate) struct Fail {
    pub(crate) message: String,
    pub(crate) context: String,
    /// Already a complete, located error from a nested template.
    pub(crate) located: Option<Box<ExecError>>,
    /// Byte offset of the failing node, when known.
    pub(crate) pos: Option<usize>,
}

impl Fail {
    pub(crate) fn new(context: impl Into<String>, message: impl Into<String>) -> Fail {
        Fail {
            message: message.into(),
            context: context.into(),
            located: None,
            pos: None,
        }
    }
}

type R<T> = Result<T, Fail>;

/// Go's limit on nested template calls.
const MAX_DEPTH: usize = 100_000;

/// Executes templates of a set; carries the function table and Helm's include bookkeeping.
pub struct Exec<'a> {
    /// The template sets in scope: the chart's, then any added by `tpl` (searched last first).
    pub(crate) sets: Vec<Rc<TemplateSet>>,
    pub(crate) funcs: &'a Funcs,
    pub(crate) include_counts: HashMap<String, usize>,
    depth: usize,
    /// Per-tree node positions for error locations.
    current: Vec<Rc<Tree>>,
    /// What Helm's `lookup` reads (none: `lookup` yields an empty map).
    pub lookup: Option<crate::render::LookupFn>,
}

/// The variables of one template invocation.
struct Vars {
    stack: Vec<(Rc<str>, Value)>,
}

impl Vars {
    fn get(&self, name: &str) -> Option<&Value> {
        self.stack
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }
    fn set(&mut self, name: &str, v: Value) -> bool {
        match self.stack.iter_mut().rev().find(|(n, _)| &**n == name) {
            Some(slot) => {
                slot.1 = v;
                true
            }
            None => false,
        }
    }
}

fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Dot => ".".into(),
        Arg::Nil => "nil".into(),
        Arg::Bool(b) => b.to_string(),
        Arg::Number(Number::Int(i)) => i.to_string(),
        Arg::Number(Number::Float(f)) => f.to_string(),
        Arg::Str(s) => crate::gofmt::go_quote(s),
        Arg::Field(f) => f.iter().map(|x| format!(".{x}")).collect(),
        Arg::Variable(v, f) => format!(
            "{v}{}",
            f.iter().map(|x| format!(".{x}")).collect::<String>()
        ),
        Arg::Ident(i) => i.to_string(),
        Arg::Pipe(p) => format!("({})", pipe_text(p)),
        Arg::Chain(b, f) => format!(
            "{}{}",
            arg_text(b),
            f.iter().map(|x| format!(".{x}")).collect::<String>()
        ),
    }
}

fn pipe_text(p: &Pipe) -> String {
    p.cmds
        .iter()
        .map(|c| c.args.iter().map(arg_text).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}

impl<'a> Exec<'a> {
    /// An executor over `set` with the functions `funcs`.
    pub fn new(set: Rc<TemplateSet>, funcs: &'a Funcs) -> Self {
        Exec {
            sets: vec![set],
            funcs,
            include_counts: HashMap::new(),
            depth: 0,
            current: Vec::new(),
            lookup: None,
        }
    }

    /// Finds a template in the sets in scope.
    pub fn lookup(&self, name: &str) -> Option<Rc<Tree>> {
        self.sets.iter().rev().find_map(|s| s.get(name).cloned())
    }

    /// Executes the template `name` with `dot` as data, appending to `out`.
    pub fn execute(&mut self, name: &str, dot: Value, out: &mut String) -> Result<(), ExecError> {
        let Some(tree) = self.lookup(name) else {
            return Err(ExecError {
                name: name.to_string(),
                line: 0,
                col: 0,
                context: String::new(),
                message: format!("no such template {name:?}"),
            });
        };
        self.execute_tree(&tree, dot, out)
    }

    /// Executes a tree with `dot` as data.
    pub fn execute_tree(
        &mut self,
        tree: &Rc<Tree>,
        dot: Value,
        out: &mut String,
    ) -> Result<(), ExecError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err(ExecError {
                name: tree.name.to_string(),
                line: 0,
                col: 0,
                context: String::new(),
                message: "exceeded maximum template depth (100000)".into(),
            });
        }
        self.current.push(tree.clone());
        let mut vars = Vars {
            stack: vec![("$".into(), dot.clone())],
        };
        let r = self.walk_list(&tree.root, &dot, &mut vars, out, 0);
        self.current.pop();
        self.depth -= 1;
        match r {
            Ok(_) => Ok(()),
            Err((fail, pos)) => Err(match fail.located {
                Some(e) => *e,
                None => {
                    let (line, col) = tree.location(fail.pos.unwrap_or(pos));
                    ExecError {
                        name: tree.name.to_string(),
                        line,
                        col,
                        context: fail.context,
                        message: fail.message,
                    }
                }
            }),
        }
    }

    fn walk_list(
        &mut self,
        list: &[Node],
        dot: &Value,
        vars: &mut Vars,
        out: &mut String,
        loop_depth: usize,
    ) -> Result<Flow, (Fail, usize)> {
        for node in list {
            match self.walk(node, dot, vars, out, loop_depth)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(
        &mut self,
        node: &Node,
        dot: &Value,
        vars: &mut Vars,
        out: &mut String,
        loop_depth: usize,
    ) -> Result<Flow, (Fail, usize)> {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(pipe) => {
                let v = self.eval_pipe(pipe, dot, vars).map_err(|f| (f, pipe.pos))?;
                if pipe.decl.is_empty() {
                    print_value(out, &v);
                }
            }
            Node::If(b) | Node::With(b) => {
                let mark = vars.stack.len();
                let v = self
                    .eval_pipe(&b.pipe, dot, vars)
                    .map_err(|f| (f, b.pipe.pos))?;
                let is_with = matches!(node, Node::With(_));
                let r = if v.truthy() {
                    let d = if is_with { v } else { dot.clone() };
                    self.walk_list(&b.list, &d, vars, out, loop_depth)
                } else if let Some(e) = &b.else_list {
                    self.walk_list(e, dot, vars, out, loop_depth)
                } else {
                    Ok(Flow::Normal)
                };
                vars.stack.truncate(mark);
                return r;
            }
            Node::Range(b) => return self.walk_range(b, dot, vars, out, loop_depth),
            Node::Template { name, pipe, pos } => {
                let data = match pipe {
                    Some(p) => self.eval_pipe(p, dot, vars).map_err(|f| (f, *pos))?,
                    None => Value::Nil,
                };
                let Some(tree) = self.lookup(name) else {
                    return Err((
                        Fail::new(
                            format!("template {name}"),
                            format!("template {name:?} not defined"),
                        ),
                        *pos,
                    ));
                };
                self.execute_tree(&tree, data, out).map_err(|e| {
                    (
                        Fail {
                            message: String::new(),
                            context: String::new(),
                            located: Some(Box::new(e)),
                            pos: None,
                        },
                        *pos,
                    )
                })?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_range(
        &mut self,
        b: &Branch,
        dot: &Value,
        vars: &mut Vars,
        out: &mut String,
        loop_depth: usize,
    ) -> Result<Flow, (Fail, usize)> {
        let pos = b.pipe.pos;
        let mark = vars.stack.len();
        // evaluate without declaring: the range variables are bound per element
        let mut pipe = b.pipe.clone();
        let decl = std::mem::take(&mut pipe.decl);
        let v = self.eval_pipe(&pipe, dot, vars).map_err(|f| (f, pos))?;
        let items: Vec<(Value, Value)> = match &v {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::Int(i as i64), x.clone()))
                .collect(),
            Value::Map(m) => m
                .borrow()
                .iter()
                .map(|(k, x)| (Value::str(k.as_str()), x.clone()))
                .collect(),
            Value::Bytes(bs) => bs
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::Int(i as i64), Value::Int(*x as i64)))
                .collect(),
            Value::Object(o) => match &**o {
                Object::Files(f) => f
                    .iter()
                    .map(|(k, x)| (Value::str(k.as_str()), Value::Bytes(x.clone())))
                    .collect(),
                Object::VersionSet(vs) => vs
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (Value::Int(i as i64), Value::str(x.as_str())))
                    .collect(),
                Object::Struct { .. } => {
                    return Err((
                        Fail::new(
                            "range",
                            format!("range can't iterate over {}", v.to_go_string()),
                        ),
                        pos,
                    ));
                }
            },
            Value::Int(n) => {
                if decl.len() > 1 {
                    return Err((
                        Fail::new("range", "can't use two variables to range over an integer"),
                        pos,
                    ));
                }
                (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            Value::Nil => Vec::new(),
            other => {
                return Err((
                    Fail::new(
                        "range",
                        format!("range can't iterate over {}", other.to_go_string()),
                    ),
                    pos,
                ));
            }
        };
        if items.is_empty() {
            let r = match &b.else_list {
                Some(e) => self.walk_list(e, dot, vars, out, loop_depth),
                None => Ok(Flow::Normal),
            };
            vars.stack.truncate(mark);
            return r.map(|_| Flow::Normal);
        }
        for (k, x) in items {
            let inner = vars.stack.len();
            match decl.len() {
                0 => {}
                1 => vars.stack.push((decl[0].clone(), x.clone())),
                _ => {
                    vars.stack.push((decl[0].clone(), k));
                    vars.stack.push((decl[1].clone(), x.clone()));
                }
            }
            let flow = self.walk_list(&b.list, &x, vars, out, loop_depth + 1);
            vars.stack.truncate(inner);
            match flow {
                Ok(Flow::Break) => break,
                Ok(_) => {}
                Err(e) => {
                    vars.stack.truncate(mark);
                    return Err(e);
                }
            }
        }
        vars.stack.truncate(mark);
        Ok(Flow::Normal)
    }

    fn eval_pipe(&mut self, pipe: &Pipe, dot: &Value, vars: &mut Vars) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_cmd(cmd, dot, vars, value)?);
        }
        let value = value.unwrap_or_default();
        if !pipe.decl.is_empty() {
            if pipe.is_assign {
                for name in &pipe.decl {
                    if !vars.set(name, value.clone()) {
                        return Err(Fail::new(
                            name.to_string(),
                            format!("undefined variable: {name}"),
                        ));
                    }
                }
            } else {
                for name in &pipe.decl {
                    vars.stack.push((name.clone(), value.clone()));
                }
            }
        }
        Ok(value)
    }

    fn eval_cmd(
        &mut self,
        cmd: &Command,
        dot: &Value,
        vars: &mut Vars,
        fin: Option<Value>,
    ) -> R<Value> {
        self.eval_cmd_inner(cmd, dot, vars, fin).map_err(|mut f| {
            if f.pos.is_none() {
                f.pos = Some(cmd.pos);
            }
            f
        })
    }

    fn eval_cmd_inner(
        &mut self,
        cmd: &Command,
        dot: &Value,
        vars: &mut Vars,
        fin: Option<Value>,
    ) -> R<Value> {
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match first {
            Arg::Field(names) => {
                self.eval_fields(dot.clone(), names, rest, fin, dot, vars, first, true)
            }
            Arg::Variable(name, names) => {
                let Some(v) = vars.get(name).cloned() else {
                    return Err(Fail::new(
                        name.to_string(),
                        format!("undefined variable: {name}"),
                    ));
                };
                if names.is_empty() {
                    no_args(first, rest, &fin)?;
                    return Ok(v);
                }
                self.eval_fields(v, names, rest, fin, dot, vars, first, true)
            }
            Arg::Chain(base, names) => {
                let v = self.eval_arg(base, dot, vars)?;
                self.eval_fields(v, names, rest, fin, dot, vars, first, true)
            }
            Arg::Ident(name) => self.call(name, rest, fin, dot, vars),
            Arg::Pipe(p) => {
                no_args(first, rest, &fin)?;
                self.eval_pipe(p, dot, vars)
            }
            other => {
                no_args(first, rest, &fin)?;
                self.eval_arg(other, dot, vars)
            }
        }
    }

    /// Evaluates an operand used as an argument.
    fn eval_arg(&mut self, arg: &Arg, dot: &Value, vars: &mut Vars) -> R<Value> {
        Ok(match arg {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Number(Number::Int(i)) => Value::Int(*i),
            Arg::Number(Number::Float(f)) => Value::Float(*f),
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Field(names) => {
                self.eval_fields(dot.clone(), names, &[], None, dot, vars, arg, true)?
            }
            Arg::Variable(name, names) => {
                let Some(v) = vars.get(name).cloned() else {
                    return Err(Fail::new(
                        name.to_string(),
                        format!("undefined variable: {name}"),
                    ));
                };
                if names.is_empty() {
                    v
                } else {
                    self.eval_fields(v, names, &[], None, dot, vars, arg, true)?
                }
            }
            Arg::Ident(name) => self.call(name, &[], None, dot, vars)?,
            Arg::Pipe(p) => self.eval_pipe(p, dot, vars)?,
            Arg::Chain(base, names) => {
                let v = self.eval_arg(base, dot, vars)?;
                self.eval_fields(v, names, &[], None, dot, vars, arg, true)?
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_fields(
        &mut self,
        mut recv: Value,
        names: &[Rc<str>],
        args: &[Arg],
        fin: Option<Value>,
        dot: &Value,
        vars: &mut Vars,
        node: &Arg,
        lenient_start: bool,
    ) -> R<Value> {
        let n = names.len();
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == n;
            if recv.is_nil() {
                if i == 0 && lenient_start {
                    // an invalid receiver (nil data) yields no value
                    if last && (!args.is_empty() || fin.is_some()) {
                        return Err(Fail::new(
                            arg_text(node),
                            format!("nil data; no entry for key {name:?}"),
                        ));
                    }
                    return Ok(Value::Nil);
                }
                return Err(Fail::new(
                    arg_text(node),
                    format!("nil pointer evaluating interface {{}}.{name}"),
                ));
            }
            let (call_args, has_args) = if last {
                let mut v = Vec::new();
                for a in args {
                    v.push(self.eval_arg(a, dot, vars)?);
                }
                let has = !args.is_empty() || fin.is_some();
                if let Some(f) = &fin {
                    v.push(f.clone());
                }
                (v, has)
            } else {
                (Vec::new(), false)
            };
            recv = field(&recv, name, call_args, has_args)
                .map_err(|m| Fail::new(arg_text(node), m))?;
        }
        Ok(recv)
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Arg],
        fin: Option<Value>,
        dot: &Value,
        vars: &mut Vars,
    ) -> R<Value> {
        // and/or evaluate lazily and return an operand
        if name == "and" || name == "or" {
            let want = name == "or";
            let total = args.len() + usize::from(fin.is_some());
            if total == 0 {
                return Err(Fail::new(
                    name,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Nil;
            for a in args {
                last = self.eval_arg(a, dot, vars)?;
                if last.truthy() == want {
                    return Ok(last);
                }
            }
            if let Some(f) = fin {
                last = f;
            }
            return Ok(last);
        }
        let Some(func) = self.funcs.get(name).copied() else {
            return Err(Fail::new(name, format!("function {name:?} not defined")));
        };
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.eval_arg(a, dot, vars)?);
        }
        if let Some(f) = fin {
            vals.push(f);
        }
        self.call_func(name, func, vals)
    }

    fn call_func(&mut self, name: &str, func: Func, vals: Vec<Value>) -> R<Value> {
        func(self, vals).map_err(|e| match e {
            crate::funcs::FuncError::Message(m) => {
                Fail::new(name, format!("error calling {name}: {m}"))
            }
            crate::funcs::FuncError::Exec(inner) => {
                Fail::new(name, format!("error calling {name}: {inner}"))
            }
        })
    }
}

fn no_args(first: &Arg, rest: &[Arg], fin: &Option<Value>) -> R<()> {
    if !rest.is_empty() || fin.is_some() {
        return Err(Fail::new(
            arg_text(first),
            format!("can't give argument to non-function {}", arg_text(first)),
        ));
    }
    Ok(())
}

/// Looks up a field, map key or method of `recv`.
fn field(recv: &Value, name: &str, args: Vec<Value>, has_args: bool) -> Result<Value, String> {
    match recv {
        Value::Map(m) => {
            if has_args {
                return Err(format!("{name} is not a method but has arguments"));
            }
            Ok(m.borrow().get(name).cloned().unwrap_or(Value::Nil))
        }
        Value::Object(o) => match &**o {
            Object::Files(files) => crate::funcs::files_method(files, name, args),
            Object::VersionSet(vs) => match name {
                "Has" => {
                    let want = args.first().and_then(|a| a.as_str()).unwrap_or("");
                    Ok(Value::Bool(vs.iter().any(|v| v == want)))
                }
                _ => Err(format!(
                    "can't evaluate field {name} in type common.VersionSet"
                )),
            },
            Object::Struct {
                type_name, fields, ..
            } => match fields.get(name) {
                Some(v) => {
                    if has_args {
                        return Err(format!(
                            "{name} has arguments but cannot be invoked as function"
                        ));
                    }
                    Ok(v.clone())
                }
                None => Err(format!("can't evaluate field {name} in type {type_name}")),
            },
        },
        other => Err(format!(
            "can't evaluate field {name} in type {}",
            other.type_name()
        )),
    }
}

/// How `{{pipeline}}` prints a value: nil is `<no value>`, the rest as `fmt.Print`.
pub(crate) fn print_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::Str(s) => out.push_str(s),
        other => crate::value::write_v(out, other, true),
    }
}

/// Makes a struct-like object with a `String()` form.
pub fn object_struct(type_name: &'static str, fields: Map, stringer: Option<String>) -> Value {
    Value::Object(Rc::new(Object::Struct {
        type_name,
        fields,
        stringer,
    }))
}
