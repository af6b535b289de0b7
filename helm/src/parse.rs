//! The parser of Go's `text/template`: tokens to a tree of [`Node`]s.
//!
//! It checks what Go's parser checks, so that errors come at parse time with a line: unknown
//! functions (`function "foo" not defined`), undefined variables, `break` outside `range`,
//! unbalanced `end`s. `define` and `block` bodies are returned apart, by name.

use std::rc::Rc;

use crate::lex::{Tok, Token, lex};

/// A pipeline: optional variable declarations, then commands joined by `|`.
#[derive(Clone, Debug)]
pub struct Pipe {
    /// The variables declared or assigned (`$x :=`, `$i, $v :=`).
    pub decl: Vec<String>,
    /// `=` rather than `:=`.
    pub assign: bool,
    /// The commands; each after the first receives the previous result as its last argument.
    pub cmds: Vec<Cmd>,
    /// Where it is.
    pub line: usize,
}

/// A command: a function or value and its arguments.
#[derive(Clone, Debug)]
pub struct Cmd {
    /// The operands; the first decides what the command is.
    pub args: Vec<Arg>,
    /// Where it is.
    pub line: usize,
}

/// An operand.
#[derive(Clone, Debug)]
pub enum Arg {
    /// `.a.b` on dot.
    Field(Vec<String>),
    /// `$x.a.b`.
    Var(String, Vec<String>),
    /// `.`.
    Dot,
    /// `nil`.
    Nil,
    /// `true`/`false`.
    Bool(bool),
    /// An integer constant.
    Int(i64),
    /// A float constant.
    Float(f64),
    /// A string constant.
    Str(Rc<str>),
    /// A function name.
    Func(String),
    /// `(pipeline).a.b`.
    Sub(Box<Pipe>, Vec<String>),
}

/// A node of a template body.
#[derive(Clone, Debug)]
pub enum Node {
    /// Literal text.
    Text(Rc<str>),
    /// `{{ pipeline }}`: printed unless it declares variables.
    Action(Pipe),
    /// `{{if}}`.
    If(Pipe, Vec<Node>, Vec<Node>),
    /// `{{range}}`.
    Range(Pipe, Vec<Node>, Vec<Node>),
    /// `{{with}}`.
    With(Pipe, Vec<Node>, Vec<Node>),
    /// `{{template "name" pipeline}}`.
    Template(String, Option<Pipe>, usize),
    /// `{{break}}`.
    Break,
    /// `{{continue}}`.
    Continue,
}

/// A parsed template: its body and the templates it defines.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The top-level nodes.
    pub root: Vec<Node>,
    /// `define`d (and `block`) templates, in order.
    pub defines: Vec<(String, Vec<Node>)>,
}

/// A parse error: line and message.
pub type ParseError = (usize, String);

/// How deep parentheses and control structures may nest: deeper input is refused rather than
/// risking the stack.
const MAX_NESTING: usize = 100;

/// Parses a template. `is_func` says which function names exist.
pub fn parse(src: &str, is_func: &dyn Fn(&str) -> bool) -> Result<Parsed, ParseError> {
    let tokens = lex(src)?;
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        is_func,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        nesting: 0,
        defines: Vec::new(),
    };
    let (root, end) = p.list(true)?;
    if let Some((line, what)) = end {
        return Err((line, format!("unexpected {{{{{what}}}}}")));
    }
    Ok(Parsed { root, defines: p.defines })
}

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    is_func: &'a dyn Fn(&str) -> bool,
    vars: Vec<String>,
    range_depth: usize,
    nesting: usize,
    defines: Vec<(String, Vec<Node>)>,
}

/// What ended a list: `end`, `else`, or `else if`/`else with` (the keyword).
type Ending = Option<(usize, String)>;

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.kind)
    }

    fn line(&self) -> usize {
        self.toks.get(self.pos).or(self.toks.last()).map_or(1, |t| t.line)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect_close(&mut self, context: &str) -> Result<(), ParseError> {
        let line = self.line();
        match self.next().map(|t| t.kind) {
            Some(Tok::Close) => Ok(()),
            _ => Err((line, format!("unexpected token in {context}"))),
        }
    }

    /// Nodes up to `{{end}}`/`{{else}}` (returned as the ending) or the end of input.
    fn list(&mut self, top: bool) -> Result<(Vec<Node>, Ending), ParseError> {
        let mut nodes = Vec::new();
        while let Some(tok) = self.next() {
            match tok.kind {
                Tok::Text(t) => nodes.push(Node::Text(t.into())),
                Tok::Open => {
                    let line = self.line();
                    match self.peek().cloned() {
                        Some(Tok::Ident(word)) => match word.as_str() {
                            "end" => {
                                self.pos += 1;
                                self.expect_close("end")?;
                                return Ok((nodes, Some((line, "end".to_owned()))));
                            }
                            "else" => {
                                self.pos += 1;
                                match self.peek().cloned() {
                                    Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                                        return Ok((nodes, Some((line, format!("else {k}")))));
                                    }
                                    _ => {
                                        self.expect_close("else")?;
                                        return Ok((nodes, Some((line, "else".to_owned()))));
                                    }
                                }
                            }
                            "if" | "range" | "with" => {
                                self.pos += 1;
                                nodes.push(self.control(&word, line)?);
                            }
                            "define" | "block" => {
                                self.pos += 1;
                                if !top && word == "define" {
                                    return Err((line, "unexpected <define> in command".to_owned()));
                                }
                                if let Some(node) = self.define(&word, line)? {
                                    nodes.push(node);
                                }
                            }
                            "template" => {
                                self.pos += 1;
                                nodes.push(self.template(line)?);
                            }
                            "break" | "continue" => {
                                self.pos += 1;
                                if self.range_depth == 0 {
                                    return Err((line, format!("{{{{{word}}}}} outside {{{{range}}}}")));
                                }
                                self.expect_close(&word)?;
                                nodes.push(if word == "break" { Node::Break } else { Node::Continue });
                            }
                            _ => nodes.push(Node::Action(self.pipeline("command", true)?)),
                        },
                        _ => nodes.push(Node::Action(self.pipeline("command", true)?)),
                    }
                }
                other => return Err((tok.line, format!("unexpected {other:?}"))),
            }
        }
        Ok((nodes, None))
    }

    fn control(&mut self, word: &str, line: usize) -> Result<Node, ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err((line, "too deeply nested".to_owned()));
        }
        let mark = self.vars.len();
        let pipe = self.pipeline(word, word == "range")?;
        if pipe.cmds.is_empty() {
            return Err((line, format!("missing value for {word}")));
        }
        if word == "range" {
            self.range_depth += 1;
        }
        let (body, ending) = self.list(false)?;
        if word == "range" {
            self.range_depth -= 1;
        }
        let els = match ending {
            Some((_, e)) if e == "end" => Vec::new(),
            Some((_, e)) if e == "else" => {
                let (els, ending) = self.list(false)?;
                match ending {
                    Some((_, e)) if e == "end" => els,
                    Some((l, e)) => return Err((l, format!("expected end; found {{{{{e}}}}}"))),
                    None => return Err((line, format!("unexpected EOF: {{{{{word}}}}} has no {{{{end}}}}"))),
                }
            }
            Some((l, e)) => {
                // `else if`/`else with`: the rest is a nested control structure that shares
                // our `end`.
                let inner = e.trim_start_matches("else ").to_owned();
                if inner != word || word == "range" {
                    return Err((l, format!("unexpected {{{{{e}}}}} in {{{{{word}}}}}")));
                }
                self.pos += 1;
                vec![self.control(&inner, l)?]
            }
            None => return Err((line, format!("unexpected EOF: {{{{{word}}}}} has no {{{{end}}}}"))),
        };
        self.vars.truncate(mark);
        self.nesting -= 1;
        Ok(match word {
            "if" => Node::If(pipe, body, els),
            "range" => Node::Range(pipe, body, els),
            _ => Node::With(pipe, body, els),
        })
    }

    fn define(&mut self, word: &str, line: usize) -> Result<Option<Node>, ParseError> {
        let name = match self.next().map(|t| t.kind) {
            Some(Tok::Str(s)) => s,
            _ => return Err((line, format!("unexpected name in {word} clause: want a string"))),
        };
        let pipe = if word == "block" {
            let p = self.pipeline("block", false)?;
            Some(p)
        } else {
            self.expect_close("define clause")?;
            None
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (body, ending) = self.list(false)?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        match ending {
            Some((_, e)) if e == "end" => {}
            Some((l, e)) => return Err((l, format!("unexpected {{{{{e}}}}} in {word}"))),
            None => return Err((line, format!("unexpected EOF: {{{{{word}}}}} has no {{{{end}}}}"))),
        }
        self.defines.push((name.clone(), body));
        Ok(pipe.map(|p| Node::Template(name, if p.cmds.is_empty() { None } else { Some(p) }, line)))
    }

    fn template(&mut self, line: usize) -> Result<Node, ParseError> {
        let name = match self.next().map(|t| t.kind) {
            Some(Tok::Str(s)) => s,
            _ => return Err((line, "unexpected name in template clause: want a string".to_owned())),
        };
        let pipe = self.pipeline("template", false)?;
        Ok(Node::Template(name, if pipe.cmds.is_empty() { None } else { Some(pipe) }, line))
    }

    /// A pipeline up to `}}` (consumed) — or, inside parentheses, up to `)`.
    fn pipeline(&mut self, context: &str, allow_two_vars: bool) -> Result<Pipe, ParseError> {
        let line = self.line();
        let mut decl = Vec::new();
        let mut assign = false;
        // Declarations: `$x :=`, `$x =`, `$i, $v :=`.
        if let Some(Tok::Var(name, fields)) = self.peek().cloned()
            && fields.is_empty()
        {
            let save = self.pos;
            self.pos += 1;
            match self.peek() {
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    assign = self.peek() == Some(&Tok::Assign);
                    self.pos += 1;
                    decl.push(name);
                }
                Some(Tok::Comma) if allow_two_vars => {
                    self.pos += 1;
                    match (self.next().map(|t| t.kind), self.peek()) {
                        (Some(Tok::Var(second, f)), Some(Tok::Declare | Tok::Assign)) if f.is_empty() => {
                            assign = self.peek() == Some(&Tok::Assign);
                            self.pos += 1;
                            decl.push(name);
                            decl.push(second);
                        }
                        _ => return Err((line, format!("too many declarations in {context}"))),
                    }
                }
                _ => self.pos = save,
            }
        }
        if assign {
            for v in &decl {
                if !self.vars.contains(v) {
                    return Err((line, format!("undefined variable \"{v}\"")));
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Close) => {
                    self.pos += 1;
                    break;
                }
                Some(Tok::RParen) if context == "parenthesized pipeline" => {
                    self.pos += 1;
                    break;
                }
                None => return Err((line, format!("unclosed action in {context}"))),
                _ => {}
            }
            let cmd = self.command()?;
            cmds.push(cmd);
            match self.peek() {
                Some(Tok::Pipe) => {
                    self.pos += 1;
                    if matches!(self.peek(), Some(Tok::Close | Tok::RParen) | None) {
                        return Err((line, "missing command after |".to_owned()));
                    }
                }
                Some(Tok::Close) | Some(Tok::RParen) => {}
                _ => return Err((self.line(), format!("unexpected token in {context}"))),
            }
        }
        if !decl.is_empty() && cmds.is_empty() {
            return Err((line, format!("missing value for {context}")));
        }
        for (i, c) in cmds.iter().enumerate() {
            if i > 0
                && matches!(
                    c.args.first(),
                    Some(Arg::Nil | Arg::Bool(_) | Arg::Int(_) | Arg::Float(_) | Arg::Str(_))
                )
            {
                return Err((c.line, "non executable command in pipeline stage".to_owned()));
            }
        }
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe { decl, assign, cmds, line })
    }

    fn command(&mut self) -> Result<Cmd, ParseError> {
        let line = self.line();
        let mut args = Vec::new();
        while let Some(tok) = self.peek().cloned() {
            let arg = match tok {
                Tok::Close | Tok::RParen | Tok::Pipe => break,
                Tok::Ident(w) => {
                    self.pos += 1;
                    match w.as_str() {
                        "true" => Arg::Bool(true),
                        "false" => Arg::Bool(false),
                        "nil" => Arg::Nil,
                        _ if (self.is_func)(&w) => Arg::Func(w),
                        _ => return Err((line, format!("function \"{w}\" not defined"))),
                    }
                }
                Tok::Field(f) => {
                    self.pos += 1;
                    Arg::Field(f)
                }
                Tok::Dot => {
                    self.pos += 1;
                    Arg::Dot
                }
                Tok::Var(name, fields) => {
                    self.pos += 1;
                    if !self.vars.contains(&name) {
                        return Err((line, format!("undefined variable \"{name}\"")));
                    }
                    Arg::Var(name, fields)
                }
                Tok::Str(s) => {
                    self.pos += 1;
                    Arg::Str(s.into())
                }
                Tok::Int(i) => {
                    self.pos += 1;
                    Arg::Int(i)
                }
                Tok::Float(f) => {
                    self.pos += 1;
                    Arg::Float(f)
                }
                Tok::LParen => {
                    self.pos += 1;
                    self.nesting += 1;
                    if self.nesting > MAX_NESTING {
                        return Err((line, "too deeply nested".to_owned()));
                    }
                    let inner = self.pipeline("parenthesized pipeline", false)?;
                    self.nesting -= 1;
                    if inner.cmds.is_empty() {
                        return Err((line, "missing value for parenthesized pipeline".to_owned()));
                    }
                    let chain = match self.peek().cloned() {
                        Some(Tok::Chain(f)) => {
                            self.pos += 1;
                            f
                        }
                        _ => Vec::new(),
                    };
                    Arg::Sub(Box::new(inner), chain)
                }
                Tok::Chain(_) => return Err((line, "unexpected . after term".to_owned())),
                Tok::Declare | Tok::Assign | Tok::Comma => {
                    return Err((line, "unexpected declaration or comma in operand".to_owned()));
                }
                Tok::Open | Tok::Text(_) => return Err((line, "unexpected token in operand".to_owned())),
            };
            args.push(arg);
        }
        if args.is_empty() {
            return Err((line, "empty command".to_owned()));
        }
        if matches!(args.first(), Some(Arg::Nil)) {
            return Err((line, "nil is not a command".to_owned()));
        }
        Ok(Cmd { args, line })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funcs(name: &str) -> bool {
        matches!(name, "printf" | "include" | "eq")
    }

    #[test]
    fn defines_are_collected_and_errors_have_lines() {
        let p = parse("{{ define \"a\" }}x{{ end }}y{{ block \"b\" . }}z{{ end }}", &funcs).unwrap();
        assert_eq!(p.defines.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.root.len(), 2);
        assert_eq!(
            parse("a\n\n{{ foo }}", &funcs).unwrap_err(),
            (3, "function \"foo\" not defined".to_owned())
        );
        assert_eq!(parse("{{ $x }}", &funcs).unwrap_err().1, "undefined variable \"$x\"");
        assert!(parse("{{ if 1 }}", &funcs).is_err());
        assert!(parse("{{ end }}", &funcs).is_err());
        assert!(parse("{{ break }}", &funcs).is_err());
        assert!(parse("{{ range . }}{{ break }}{{ end }}", &funcs).is_ok());
        assert!(parse("{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}", &funcs).is_err());
        assert!(parse("{{ $x := 1 }}{{ if 1 }}{{ $x = 2 }}{{ end }}{{ $x }}", &funcs).is_ok());
    }
}
