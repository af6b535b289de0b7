//! The evaluator of Go's `text/template`, with Helm's choices: missing map keys are nil
//! (`missingkey=zero`), and the functions are Go's built-ins plus Helm's and sprig's
//! ([`crate::funcs`]). `include`, `tpl` and `template` need the set of named templates, so
//! they are served here.
//!
//! Named templates live in a [`Templates`] set shared by every file of a chart, as in Helm,
//! where all files are parsed into one set: a `define` anywhere is visible everywhere.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use crate::funcs;
use crate::parse::{Arg, Cmd, Node, Pipe, parse};
use crate::value::{Native, Val};

/// How deeply `include`, `template` and `tpl` may nest (Helm allows 1000; a chart that needs
/// more than this loops).
pub const MAX_INCLUDE_DEPTH: usize = 100;
/// The most output one render may produce.
pub const MAX_OUTPUT: usize = 64 << 20;
/// The most nodes one render may execute: a bound on time for nested loops that print nothing.
pub const MAX_STEPS: u64 = 5_000_000;

/// A template error, located like Helm's: `chart/templates/x.yaml:12: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    /// The template (file) the failing node is in.
    pub template: String,
    /// The line in that file.
    pub line: usize,
    /// What went wrong. Never holds a value from the chart's values, only types and names.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.template, self.line, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// A template body and the file it came from.
#[derive(Clone, Debug)]
pub struct Body {
    /// The file's name (`chart/templates/_helpers.tpl`), for errors and `.Template.Name`.
    pub source: Rc<str>,
    /// The nodes.
    pub nodes: Rc<Vec<Node>>,
}

/// The named templates (`define`) of a chart, and the render's budgets.
#[derive(Debug, Default)]
pub struct Templates {
    defines: RefCell<HashMap<String, Body>>,
    steps: Cell<u64>,
}

impl Templates {
    /// An empty set.
    pub fn new() -> Templates {
        Templates::default()
    }

    /// Parses a file, adds its `define`s to the set, and returns its body.
    pub fn add(&self, source: &str, text: &str) -> Result<Body, TemplateError> {
        let parsed = parse(text, &funcs::exists).map_err(|(line, message)| TemplateError {
            template: source.to_owned(),
            line,
            message,
        })?;
        let source: Rc<str> = source.into();
        let mut defines = self.defines.borrow_mut();
        for (name, nodes) in parsed.defines {
            defines.insert(name, Body { source: source.clone(), nodes: Rc::new(nodes) });
        }
        Ok(Body { source, nodes: Rc::new(parsed.root) })
    }

    /// Runs a body with `dot` as `.` and `$`, returning the output.
    pub fn execute(&self, body: &Body, dot: Val) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut ex = Exec {
            t: self,
            vars: vec![("$".to_owned(), dot.clone())],
            source: body.source.clone(),
            depth: 0,
        };
        ex.list(&body.nodes, &dot, &mut out)?;
        Ok(out)
    }

    /// Runs the named template (`include`).
    pub fn include(&self, name: &str, dot: Val) -> Result<String, TemplateError> {
        let mut ex =
            Exec { t: self, vars: vec![("$".to_owned(), dot.clone())], source: "include".into(), depth: 0 };
        ex.include(name, dot, 1)
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'t> {
    t: &'t Templates,
    vars: Vec<(String, Val)>,
    source: Rc<str>,
    depth: usize,
}

impl Exec<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> TemplateError {
        TemplateError { template: self.source.to_string(), line, message: message.into() }
    }

    /// Counts one step of work against [`MAX_STEPS`].
    fn step(&self, line: usize) -> Result<(), TemplateError> {
        let steps = self.t.steps.get() + 1;
        self.t.steps.set(steps);
        if steps > MAX_STEPS {
            return Err(self.err(line, "the template runs too long (nested loops without end?)"));
        }
        Ok(())
    }

    fn list(&mut self, nodes: &[Node], dot: &Val, out: &mut String) -> Result<Flow, TemplateError> {
        for node in nodes {
            self.step(0)?;
            match self.node(node, dot, out)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, node: &Node, dot: &Val, out: &mut String) -> Result<Flow, TemplateError> {
        match node {
            Node::Text(t) => self.write(out, t, 0)?,
            Node::Action(pipe) => {
                let v = self.pipe(pipe, dot)?;
                if pipe.decl.is_empty() {
                    match v {
                        Val::Nil => self.write(out, "<no value>", pipe.line)?,
                        v => self.write(out, &v.go_string(), pipe.line)?,
                    }
                }
            }
            Node::If(pipe, then, els) => {
                let mark = self.vars.len();
                let v = self.pipe(pipe, dot)?;
                let flow = if v.truthy() { self.list(then, dot, out)? } else { self.list(els, dot, out)? };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::With(pipe, then, els) => {
                let mark = self.vars.len();
                let v = self.pipe(pipe, dot)?;
                let flow = if v.truthy() { self.list(then, &v, out)? } else { self.list(els, dot, out)? };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::Range(pipe, body, els) => {
                let mark = self.vars.len();
                self.range(pipe, body, els, dot, out)?;
                self.vars.truncate(mark);
            }
            Node::Template(name, pipe, line) => {
                let data = match pipe {
                    Some(p) => self.pipe(p, dot)?,
                    None => Val::Nil,
                };
                let s = self.include(name, data, *line)?;
                self.write(out, &s, *line)?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn write(&self, out: &mut String, s: &str, line: usize) -> Result<(), TemplateError> {
        if out.len() + s.len() > MAX_OUTPUT {
            return Err(self.err(line, "the template's output is too large"));
        }
        out.push_str(s);
        Ok(())
    }

    fn range(
        &mut self,
        pipe: &Pipe,
        body: &[Node],
        els: &[Node],
        dot: &Val,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        // The pipeline's own declarations are the loop variables, not an assignment of its
        // value: evaluate the commands only.
        let plain = Pipe { decl: Vec::new(), assign: false, cmds: pipe.cmds.clone(), line: pipe.line };
        let v = self.pipe(&plain, dot)?;
        let items: Vec<(Val, Val)> = match &v {
            Val::List(l) => l.iter().enumerate().map(|(i, v)| (Val::Int(i as i64), v.clone())).collect(),
            Val::Map(m) => m.borrow().iter().map(|(k, v)| (Val::str(k.as_str()), v.clone())).collect(),
            Val::Int(n) => (0..(*n).max(0)).map(|i| (Val::Int(i), Val::Int(i))).collect(),
            Val::Nil => Vec::new(),
            other => {
                return Err(self.err(
                    pipe.line,
                    format!("range can't iterate over a value of type {}", other.type_name()),
                ));
            }
        };
        if items.is_empty() {
            self.list(els, dot, out)?;
            return Ok(());
        }
        let mark = self.vars.len();
        for (key, elem) in items {
            self.step(pipe.line)?;
            self.vars.truncate(mark);
            match pipe.decl.as_slice() {
                [] => {}
                [one] => self.set_var(
                    one,
                    if matches!(v, Val::Int(_)) { key.clone() } else { elem.clone() },
                    pipe.assign,
                ),
                [k, e, ..] => {
                    self.set_var(k, key.clone(), pipe.assign);
                    self.set_var(e, elem.clone(), pipe.assign);
                }
            }
            match self.list(body, &elem, out)? {
                Flow::Break => break,
                Flow::Continue | Flow::Normal => {}
            }
        }
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: Val, assign: bool) {
        if assign && let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
            return;
        }
        self.vars.push((name.to_owned(), v));
    }

    fn pipe(&mut self, pipe: &Pipe, dot: &Val) -> Result<Val, TemplateError> {
        let mut v: Option<Val> = None;
        for cmd in &pipe.cmds {
            v = Some(self.cmd(cmd, dot, v)?);
        }
        let v = v.unwrap_or_default();
        for name in &pipe.decl {
            self.set_var(name, v.clone(), pipe.assign);
        }
        Ok(v)
    }

    fn var(&self, name: &str, line: usize) -> Result<Val, TemplateError> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.err(line, format!("undefined variable: {name}")))
    }

    fn cmd(&mut self, cmd: &Cmd, dot: &Val, last: Option<Val>) -> Result<Val, TemplateError> {
        let line = cmd.line;
        let Some(first) = cmd.args.first() else { return Ok(Val::Nil) };
        let rest = &cmd.args[1..];
        match first {
            Arg::Func(name) => self.call(name, rest, dot, last, line),
            Arg::Field(chain) => {
                let args = self.args(rest, dot, last, line)?;
                self.chain(dot.clone(), chain, args, line)
            }
            Arg::Var(name, chain) => {
                let recv = self.var(name, line)?;
                let args = self.args(rest, dot, last, line)?;
                self.chain(recv, chain, args, line)
            }
            Arg::Sub(pipe, chain) => {
                let recv = self.sub(pipe, dot)?;
                let args = self.args(rest, dot, last, line)?;
                self.chain(recv, chain, args, line)
            }
            _ => {
                if !rest.is_empty() || last.is_some() {
                    return Err(self.err(line, "can't give argument to non-function"));
                }
                self.arg(first, dot, line)
            }
        }
    }

    /// A parenthesised pipeline; its declarations stay visible afterwards, as in Go.
    fn sub(&mut self, pipe: &Pipe, dot: &Val) -> Result<Val, TemplateError> {
        self.pipe(pipe, dot)
    }

    fn args(
        &mut self,
        args: &[Arg],
        dot: &Val,
        last: Option<Val>,
        line: usize,
    ) -> Result<Vec<Val>, TemplateError> {
        let mut out = Vec::with_capacity(args.len() + 1);
        for a in args {
            out.push(self.arg(a, dot, line)?);
        }
        out.extend(last);
        Ok(out)
    }

    fn arg(&mut self, a: &Arg, dot: &Val, line: usize) -> Result<Val, TemplateError> {
        Ok(match a {
            Arg::Field(chain) => self.chain(dot.clone(), chain, Vec::new(), line)?,
            Arg::Var(name, chain) => {
                let v = self.var(name, line)?;
                self.chain(v, chain, Vec::new(), line)?
            }
            Arg::Dot => dot.clone(),
            Arg::Nil => Val::Nil,
            Arg::Bool(b) => Val::Bool(*b),
            Arg::Int(i) => Val::Int(*i),
            Arg::Float(f) => Val::Float(*f),
            Arg::Str(s) => Val::Str(s.clone()),
            Arg::Func(name) => self.call(name, &[], dot, None, line)?,
            Arg::Sub(pipe, chain) => {
                let v = self.sub(pipe, dot)?;
                self.chain(v, chain, Vec::new(), line)?
            }
        })
    }

    /// `recv.a.b.c args...`: the arguments go to the last name, which must then be a method.
    fn chain(&self, recv: Val, chain: &[String], args: Vec<Val>, line: usize) -> Result<Val, TemplateError> {
        if chain.is_empty() {
            if !args.is_empty() {
                return Err(self.err(line, "can't give argument to non-function"));
            }
            return Ok(recv);
        }
        let mut v = recv;
        let mut args = Some(args);
        for (i, name) in chain.iter().enumerate() {
            let a = if i + 1 == chain.len() { args.take().unwrap_or_default() } else { Vec::new() };
            v = self.field(&v, name, a, line)?;
        }
        Ok(v)
    }

    fn field(&self, v: &Val, name: &str, args: Vec<Val>, line: usize) -> Result<Val, TemplateError> {
        match v {
            Val::Map(m) => {
                if !args.is_empty() {
                    return Err(self.err(line, format!("{name} is not a method but has arguments")));
                }
                Ok(m.borrow().get(name).cloned().unwrap_or(Val::Nil))
            }
            Val::Native(n) => native_method(n, name, &args).map_err(|m| self.err(line, m)),
            Val::Nil => Err(self.err(line, format!("nil pointer evaluating interface {{}}.{name}"))),
            other => {
                Err(self.err(line, format!("can't evaluate field {name} in type {}", other.type_name())))
            }
        }
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Arg],
        dot: &Val,
        last: Option<Val>,
        line: usize,
    ) -> Result<Val, TemplateError> {
        match name {
            "and" | "or" => {
                let n = args.len() + usize::from(last.is_some());
                if n == 0 {
                    return Err(
                        self.err(line, format!("wrong number of args for {name}: want at least 1 got 0"))
                    );
                }
                let mut v = Val::Nil;
                for a in args {
                    v = self.arg(a, dot, line)?;
                    if v.truthy() != (name == "and") {
                        return Ok(v);
                    }
                }
                if let Some(l) = last {
                    v = l;
                }
                Ok(v)
            }
            "include" | "tpl" => {
                let vals = self.args(args, dot, last, line)?;
                if vals.len() != 2 {
                    return Err(
                        self.err(line, format!("wrong number of args for {name}: want 2 got {}", vals.len()))
                    );
                }
                let mut it = vals.into_iter();
                let (first, data) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
                let Val::Str(text) = first else {
                    return Err(self.err(
                        line,
                        format!(
                            "error calling {name}: wrong type for value; expected string; got {}",
                            first.type_name()
                        ),
                    ));
                };
                let s = if name == "include" {
                    self.include(&text, data, line)?
                } else {
                    self.tpl(&text, data, line)?
                };
                Ok(Val::str(s))
            }
            _ => {
                let vals = self.args(args, dot, last, line)?;
                funcs::call(name, vals).map_err(|m| self.err(line, m))
            }
        }
    }

    fn include(&mut self, name: &str, data: Val, line: usize) -> Result<String, TemplateError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(self.err(
                line,
                format!("rendering template has a nested reference name: {name}: unable to execute template"),
            ));
        }
        let body = self.t.defines.borrow().get(name).cloned();
        let Some(body) = body else {
            return Err(self.err(line, format!("error calling include: template: no template \"{name}\" associated with template \"gotpl\"")));
        };
        let mut inner = Exec {
            t: self.t,
            vars: vec![("$".to_owned(), data.clone())],
            source: body.source.clone(),
            depth: self.depth + 1,
        };
        let mut out = String::new();
        inner.list(&body.nodes, &data, &mut out)?;
        Ok(out)
    }

    fn tpl(&mut self, text: &str, data: Val, line: usize) -> Result<String, TemplateError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(self.err(
                line,
                "rendering template has a nested reference name: tpl: unable to execute template",
            ));
        }
        let source = self.source.clone();
        let body = self.t.add(&source, text).map_err(|e| {
            self.err(
                line,
                format!("error calling tpl: cannot parse template: line {}: {}", e.line, e.message),
            )
        })?;
        let mut inner =
            Exec { t: self.t, vars: vec![("$".to_owned(), data.clone())], source, depth: self.depth + 1 };
        let mut out = String::new();
        inner.list(&body.nodes, &data, &mut out)?;
        Ok(out.replace("<no value>", ""))
    }
}

fn native_method(n: &Native, name: &str, args: &[Val]) -> Result<Val, String> {
    let one_string = |what: &str| -> Result<String, String> {
        match args {
            [Val::Str(s)] => Ok(s.to_string()),
            [other] => Err(format!(
                "error calling {what}: wrong type for value; expected string; got {}",
                other.type_name()
            )),
            _ => Err(format!("wrong number of args for {what}: want 1 got {}", args.len())),
        }
    };
    match (n, name) {
        (Native::ApiVersions(set), "Has") => {
            let want = one_string("Has")?;
            Ok(Val::Bool(set.contains(&want)))
        }
        (Native::Files(files), "Get") => {
            let path = one_string("Get")?;
            Ok(Val::str(
                files.get(&path).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(),
            ))
        }
        (Native::Files(files), "Lines") => {
            let path = one_string("Lines")?;
            let text = files.get(&path).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            Ok(Val::list(text.split('\n').map(Val::str).collect()))
        }
        (Native::ApiVersions(_), _) => {
            Err(format!("can't evaluate field {name} in type chartutil.VersionSet"))
        }
        (Native::Files(_), _) => Err(format!("can't evaluate field {name} in type chart.Files")),
    }
}
