//! The functions templates can call: Go's built-ins (`eq`, `len`, `index`, `printf`, ...) and
//! the Helm and sprig functions charts use ([`crate::sprig`]). `and`, `or`, `include` and `tpl`
//! are served by the evaluator (they need laziness or the named templates) but are listed here
//! so that the parser knows them.
//!
//! Argument types are checked as Go checks a function's typed parameters: a string parameter
//! given nil fails with `invalid value; expected string`, given a float64 with `wrong type for
//! value; expected string; got float64`. Untyped (`interface{}`) parameters convert as sprig
//! does (`cast.ToInt64`).

use std::rc::Rc;

use crate::printf;
use crate::sprig;
use crate::value::Val;

/// Every function name, for the parser's `function "x" not defined` check.
const NAMES: &[&str] = &[
    // Go's built-ins.
    "and",
    "or",
    "not",
    "len",
    "index",
    "slice",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "html",
    "urlquery",
    // Helm's.
    "include",
    "tpl",
    "required",
    "fail",
    "toYaml",
    "fromYaml",
    "fromYamlArray",
    "toJson",
    "fromJson",
    "fromJsonArray",
    "lookup",
    // sprig's.
    "default",
    "empty",
    "coalesce",
    "ternary",
    "quote",
    "squote",
    "upper",
    "lower",
    "title",
    "untitle",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "trunc",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "replace",
    "repeat",
    "indent",
    "nindent",
    "nospace",
    "cat",
    "substr",
    "split",
    "splitList",
    "splitn",
    "join",
    "toString",
    "toStrings",
    "list",
    "append",
    "push",
    "prepend",
    "first",
    "rest",
    "last",
    "initial",
    "reverse",
    "uniq",
    "without",
    "has",
    "compact",
    "concat",
    "sortAlpha",
    "until",
    "untilStep",
    "dict",
    "get",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "values",
    "pick",
    "omit",
    "dig",
    "merge",
    "mergeOverwrite",
    "deepCopy",
    "add",
    "add1",
    "sub",
    "mul",
    "div",
    "mod",
    "max",
    "min",
    "int",
    "int64",
    "float64",
    "atoi",
    "b64enc",
    "b64dec",
    "sha256sum",
    "kindOf",
    "kindIs",
    "typeOf",
    "typeIs",
    "semverCompare",
    "regexMatch",
    "regexSplit",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexFind",
    "regexFindAll",
    "toPrettyJson",
    "toRawJson",
];

/// Whether a function of this name exists.
pub fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Calls a function (not `and`, `or`, `include`, `tpl`: the evaluator serves those). Errors
/// read as Go's: argument problems as they are, failures inside as `error calling f: ...`.
pub fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    match dispatch(name, args) {
        Ok(v) => Ok(v),
        Err(e)
            if e.starts_with("wrong number")
                || e.starts_with("wrong type")
                || e.starts_with("invalid value") =>
        {
            Err(e)
        }
        Err(e) => Err(format!("error calling {name}: {e}")),
    }
}

/// Checks the number of arguments.
pub fn arity(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!("wrong number of args for {name}: want {n} got {}", args.len()));
    }
    Ok(())
}

/// Checks for at least `n` arguments (variadic functions).
pub fn at_least(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() < n {
        return Err(format!("wrong number of args for {name}: want at least {n} got {}", args.len()));
    }
    Ok(())
}

/// A `string` parameter.
pub fn string(v: &Val) -> Result<Rc<str>, String> {
    match v {
        Val::Str(s) => Ok(s.clone()),
        Val::Nil => Err("invalid value; expected string".to_owned()),
        other => Err(format!("wrong type for value; expected string; got {}", other.type_name())),
    }
}

/// An `int` parameter.
pub fn int(v: &Val) -> Result<i64, String> {
    match v {
        Val::Int(i) => Ok(*i),
        Val::Nil => Err("invalid value; expected int".to_owned()),
        other => Err(format!("wrong type for value; expected int; got {}", other.type_name())),
    }
}

/// A `bool` parameter.
pub fn boolean(v: &Val) -> Result<bool, String> {
    match v {
        Val::Bool(b) => Ok(*b),
        Val::Nil => Err("invalid value; expected bool".to_owned()),
        other => Err(format!("wrong type for value; expected bool; got {}", other.type_name())),
    }
}

fn dispatch(name: &str, args: Vec<Val>) -> Result<Val, String> {
    match name {
        "not" => {
            arity(name, &args, 1)?;
            Ok(Val::Bool(!args[0].truthy()))
        }
        "len" => {
            arity(name, &args, 1)?;
            match &args[0] {
                Val::Str(s) => Ok(Val::Int(s.len() as i64)),
                Val::List(l) => Ok(Val::Int(l.len() as i64)),
                Val::Map(m) => Ok(Val::Int(m.borrow().len() as i64)),
                Val::Nil => Err("len of nil pointer".to_owned()),
                other => Err(format!("len of type {}", other.type_name())),
            }
        }
        "index" => {
            at_least(name, &args, 1)?;
            let mut v = args[0].clone();
            for idx in &args[1..] {
                v = index(&v, idx)?;
            }
            Ok(v)
        }
        "slice" => slice(&args),
        "print" => Ok(Val::str(printf::sprint(&args))),
        "println" => Ok(Val::str(printf::sprintln(&args))),
        "printf" => {
            at_least(name, &args, 1)?;
            let format = string(&args[0])?;
            Ok(Val::str(printf::sprintf(&format, &args[1..])))
        }
        "eq" => {
            at_least(name, &args, 1)?;
            eq(&args[0], &args[1..]).map(Val::Bool)
        }
        "ne" => {
            arity(name, &args, 2)?;
            eq(&args[0], &args[1..]).map(|b| Val::Bool(!b))
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let less = lt(&args[0], &args[1])?;
            let equal = !less && eq(&args[0], &args[1..])?;
            Ok(Val::Bool(match name {
                "lt" => less,
                "le" => less || equal,
                "gt" => !less && !equal,
                _ => !less,
            }))
        }
        "html" => {
            let s = printf::sprint(&args);
            Ok(Val::str(
                s.replace('&', "&amp;")
                    .replace('\'', "&#39;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&#34;")
                    .replace('\0', "\u{fffd}"),
            ))
        }
        "urlquery" => {
            let s = printf::sprint(&args);
            let mut out = String::new();
            for b in s.bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        out.push(b as char)
                    }
                    b' ' => out.push('+'),
                    b => out.push_str(&format!("%{b:02X}")),
                }
            }
            Ok(Val::str(out))
        }
        _ => sprig::call(name, args),
    }
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Val) -> Kind {
    match v {
        Val::Nil => Kind::Invalid,
        Val::Bool(_) => Kind::Bool,
        Val::Int(_) => Kind::Int,
        Val::Float(_) => Kind::Float,
        Val::Str(_) => Kind::Str,
        Val::List(_) | Val::Map(_) | Val::Native(_) => Kind::Other,
    }
}

/// Go's `eq`: true when `a` equals any of `bs`. Values of different basic kinds are an error
/// (an int is not compared with a float), except nil, which equals only nil.
pub fn eq(a: &Val, bs: &[Val]) -> Result<bool, String> {
    if bs.is_empty() {
        return Err("missing argument for comparison".to_owned());
    }
    let k1 = kind(a);
    for b in bs {
        let k2 = kind(b);
        let truth = if k1 != k2 {
            if k1 != Kind::Invalid && k2 != Kind::Invalid {
                return Err("incompatible types for comparison".to_owned());
            }
            false
        } else {
            match (a, b) {
                (Val::Nil, Val::Nil) => true,
                (Val::Bool(x), Val::Bool(y)) => x == y,
                (Val::Int(x), Val::Int(y)) => x == y,
                (Val::Float(x), Val::Float(y)) => x == y,
                (Val::Str(x), Val::Str(y)) => x == y,
                _ => return Err(format!("non-comparable types {}: {}", a.type_name(), b.type_name())),
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Val, b: &Val) -> Result<bool, String> {
    let (k1, k2) = (kind(a), kind(b));
    if matches!(k1, Kind::Invalid | Kind::Bool | Kind::Other)
        || matches!(k2, Kind::Invalid | Kind::Bool | Kind::Other)
    {
        return Err("invalid type for comparison".to_owned());
    }
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Ok(x < y),
        (Val::Float(x), Val::Float(y)) => Ok(x < y),
        (Val::Str(x), Val::Str(y)) => Ok(x < y),
        _ => Err("incompatible types for comparison".to_owned()),
    }
}

fn index(v: &Val, idx: &Val) -> Result<Val, String> {
    match v {
        Val::List(l) => {
            let Val::Int(i) = idx else {
                return Err(format!("cannot index slice/array with type {}", idx.type_name()));
            };
            usize::try_from(*i)
                .ok()
                .and_then(|i| l.get(i))
                .cloned()
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        Val::Map(m) => match idx {
            Val::Str(k) => Ok(m.borrow().get(&**k).cloned().unwrap_or(Val::Nil)),
            Val::Nil => Ok(Val::Nil),
            other => Err(format!("value has type {}; should be string", other.type_name())),
        },
        Val::Str(s) => {
            let Val::Int(i) = idx else {
                return Err(format!("cannot index string with type {}", idx.type_name()));
            };
            usize::try_from(*i)
                .ok()
                .and_then(|i| s.as_bytes().get(i))
                .map(|b| Val::Int(i64::from(*b)))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        Val::Nil => Err("index of untyped nil".to_owned()),
        other => Err(format!("can't index item of type {}", other.type_name())),
    }
}

fn slice(args: &[Val]) -> Result<Val, String> {
    at_least("slice", args, 1)?;
    let idx: Vec<usize> = args[1..]
        .iter()
        .map(|v| match v {
            Val::Int(i) => usize::try_from(*i).map_err(|_| format!("index out of range: {i}")),
            other => Err(format!("cannot index slice/array with type {}", other.type_name())),
        })
        .collect::<Result<_, _>>()?;
    let len = match &args[0] {
        Val::List(l) => l.len(),
        Val::Str(s) => s.len(),
        Val::Nil => return Err("slice of untyped nil".to_owned()),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let (lo, hi) = match idx.as_slice() {
        [] => (0, len),
        [lo] => (*lo, len),
        [lo, hi] => (*lo, *hi),
        _ => return Err("too many slice indexes".to_owned()),
    };
    if lo > hi || hi > len {
        return Err(format!("invalid slice index: {lo} > {hi}"));
    }
    match &args[0] {
        Val::List(l) => Ok(Val::list(l[lo..hi].to_vec())),
        Val::Str(s) => Ok(Val::str(String::from_utf8_lossy(&s.as_bytes()[lo..hi]).into_owned())),
        _ => Ok(Val::Nil),
    }
}
