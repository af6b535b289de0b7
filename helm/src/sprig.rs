//! Helm's functions and the sprig subset charts use, with sprig's argument order (the value
//! last, so that it can be piped: `.Values.x | default "a" | quote`).
//!
//! Deliberately absent: functions whose output changes from run to run (`now`, `randAlpha`,
//! `uuidv4`, `genCA`, ...), since a plan must be reproducible; `sha1sum` and friends (no hash
//! crate for them in the workspace). `keys` returns its keys sorted (sprig's order is Go's
//! random map order; charts that care wrap it in `sortAlpha`).

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;

use crate::funcs::{arity, at_least, boolean, int, string};
use crate::printf::go_quote;
use crate::value::{MAX_DEPTH, Val};
use crate::{semver, yaml_in, yaml_out};

/// The most elements `until`/`untilStep`/`repeat` may produce.
const MAX_GENERATED: i64 = 1_000_000;

/// sprig's `strval`: a string as is, anything else as `%v` prints it.
pub fn strval(v: &Val) -> String {
    match v {
        Val::Str(s) => s.to_string(),
        other => other.go_string(),
    }
}

/// `cast.ToInt64`, as sprig's arithmetic converts: floats truncate, booleans are 1 or 0,
/// strings parse (else 0), nil is 0.
pub fn to_i64(v: &Val) -> i64 {
    match v {
        Val::Int(i) => *i,
        Val::Float(f) if f.is_finite() => *f as i64,
        Val::Bool(b) => i64::from(*b),
        Val::Str(s) => {
            let t = s.trim();
            let t = match t.split_once('.') {
                Some((i, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => i,
                _ => t,
            };
            match crate::lex::parse_number(t) {
                Some(crate::lex::Tok::Int(i)) => i,
                _ => 0,
            }
        }
        _ => 0,
    }
}

fn to_f64(v: &Val) -> f64 {
    match v {
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        Val::Bool(b) => f64::from(u8::from(*b)),
        Val::Str(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn list_arg<'v>(what: &str, v: &'v Val) -> Result<&'v Rc<Vec<Val>>, String> {
    match v {
        Val::List(l) => Ok(l),
        other => Err(format!("Cannot {what} on type {}", other.type_name())),
    }
}

fn map_arg(v: &Val) -> Result<crate::value::MapRef, String> {
    match v {
        Val::Map(m) => Ok(m.clone()),
        Val::Nil => Err("invalid value; expected map[string]interface {}".to_owned()),
        other => Err(format!(
            "wrong type for value; expected map[string]interface {{}}; got {}",
            other.type_name()
        )),
    }
}

fn strings_of(v: &Val) -> Vec<String> {
    match v {
        Val::List(l) => l.iter().filter(|v| !matches!(v, Val::Nil)).map(strval).collect(),
        Val::Str(s) => vec![s.to_string()],
        Val::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| {
        format!("error parsing regexp: {}", e.to_string().lines().last().unwrap_or("invalid pattern"))
    })
}

/// Go's `strings.Title`: the first letter of every word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        let letter = c.is_alphanumeric() || c == '_' || c == '\'';
        if letter && !prev_letter {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = letter;
    }
    out
}

fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(usize::try_from(n).unwrap_or(0).min(10_000));
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Byte-indexed slicing, as Go's string slicing (a cut through a UTF-8 sequence becomes U+FFFD
/// rather than a panic).
fn byte_slice(s: &str, lo: usize, hi: usize) -> String {
    let b = s.as_bytes();
    let (lo, hi) = (lo.min(b.len()), hi.min(b.len()));
    if lo >= hi {
        return String::new();
    }
    String::from_utf8_lossy(&b[lo..hi]).into_owned()
}

/// mergo's merge of `src` into `dst`: maps merge key by key; other values replace only when
/// `overwrite` is set and the source value is not empty, or when the destination has nothing.
fn merge_into(dst: &crate::value::MapRef, src: &crate::value::MapRef, overwrite: bool, depth: usize) {
    if depth > MAX_DEPTH || Rc::ptr_eq(dst, src) {
        return;
    }
    let src = src.borrow().clone();
    for (k, sv) in src {
        let dv = dst.borrow().get(&k).cloned();
        match (dv, &sv) {
            (Some(Val::Map(d)), Val::Map(s)) => merge_into(&d, s, overwrite, depth + 1),
            (None | Some(Val::Nil), _) => {
                dst.borrow_mut().insert(k, sv.deep_copy());
            }
            (Some(dv), sv) => {
                if (overwrite && sv.truthy()) || (!dv.truthy() && !matches!(dv, Val::Map(_))) {
                    dst.borrow_mut().insert(k, sv.deep_copy());
                }
            }
        }
    }
}

/// Calls a Helm or sprig function.
pub fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    let s = |i: usize| string(&args[i]);
    Ok(match name {
        // --- Helm ---
        "required" => {
            arity(name, &args, 2)?;
            let warn = s(0)?;
            match &args[1] {
                Val::Nil => return Err(warn.to_string()),
                Val::Str(v) if v.is_empty() => return Err(warn.to_string()),
                v => v.clone(),
            }
        }
        "fail" => {
            arity(name, &args, 1)?;
            return Err(s(0)?.to_string());
        }
        "toYaml" => {
            arity(name, &args, 1)?;
            Val::str(
                yaml_out::to_yaml(&args[0])
                    .map(|y| y.strip_suffix('\n').unwrap_or(&y).to_owned())
                    .unwrap_or_default(),
            )
        }
        "fromYaml" | "fromJson" => {
            arity(name, &args, 1)?;
            match yaml_in::parse_document(&s(0)?) {
                Ok(v @ Val::Map(_)) => v,
                Ok(Val::Nil) => Val::empty_map(),
                Ok(other) => Val::map(BTreeMap::from([(
                    "Error".to_owned(),
                    Val::str(format!("cannot unmarshal {} into a map", other.type_name())),
                )])),
                Err(e) => Val::map(BTreeMap::from([("Error".to_owned(), Val::str(e))])),
            }
        }
        "fromYamlArray" | "fromJsonArray" => {
            arity(name, &args, 1)?;
            match yaml_in::parse_document(&s(0)?) {
                Ok(v @ Val::List(_)) => v,
                Ok(Val::Nil) => Val::list(Vec::new()),
                Ok(other) => {
                    Val::list(vec![Val::str(format!("cannot unmarshal {} into a list", other.type_name()))])
                }
                Err(e) => Val::list(vec![Val::str(e)]),
            }
        }
        "toJson" | "toRawJson" | "toPrettyJson" => {
            arity(name, &args, 1)?;
            let j = yaml_out::to_json(&args[0], name != "toRawJson").unwrap_or_default();
            if name == "toPrettyJson" {
                let parsed: Result<serde_json::Value, _> = serde_json::from_str(&j);
                Val::str(parsed.ok().and_then(|p| serde_json::to_string_pretty(&p).ok()).unwrap_or(j))
            } else {
                Val::str(j)
            }
        }
        "lookup" => {
            arity(name, &args, 4)?;
            for i in 0..4 {
                s(i)?;
            }
            Val::empty_map()
        }
        // --- defaults ---
        "default" => {
            at_least(name, &args, 1)?;
            match args.get(1) {
                Some(v) if v.truthy() => v.clone(),
                _ => args[0].clone(),
            }
        }
        "empty" => {
            arity(name, &args, 1)?;
            Val::Bool(!args[0].truthy())
        }
        "coalesce" => args.iter().find(|v| v.truthy()).cloned().unwrap_or(Val::Nil),
        "ternary" => {
            arity(name, &args, 3)?;
            if boolean(&args[2])? { args[0].clone() } else { args[1].clone() }
        }
        // --- strings ---
        "quote" => Val::str(
            args.iter()
                .filter(|v| !matches!(v, Val::Nil))
                .map(|v| go_quote(&strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "squote" => Val::str(
            args.iter()
                .filter(|v| !matches!(v, Val::Nil))
                .map(|v| format!("'{}'", strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "cat" => {
            Val::str(args.iter().filter(|v| !matches!(v, Val::Nil)).map(strval).collect::<Vec<_>>().join(" "))
        }
        "upper" | "lower" | "title" | "untitle" | "trim" | "nospace" | "b64enc" | "b64dec" | "sha256sum" => {
            arity(name, &args, 1)?;
            let v = s(0)?;
            Val::str(match name {
                "upper" => v.to_uppercase(),
                "lower" => v.to_lowercase(),
                "title" => title(&v),
                "untitle" => {
                    let mut out = String::new();
                    let mut prev = false;
                    for c in v.chars() {
                        let letter = c.is_alphanumeric();
                        if letter && !prev {
                            out.extend(c.to_lowercase())
                        } else {
                            out.push(c)
                        }
                        prev = letter;
                    }
                    out
                }
                "trim" => v.trim().to_owned(),
                "nospace" => v.chars().filter(|c| !c.is_whitespace()).collect(),
                "b64enc" => base64::engine::general_purpose::STANDARD.encode(v.as_bytes()),
                "b64dec" => match base64::engine::general_purpose::STANDARD.decode(v.as_bytes()) {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    Err(e) => e.to_string(),
                },
                _ => {
                    use sha2::Digest;
                    sha2::Sha256::digest(v.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
                }
            })
        }
        "trimAll" | "trimPrefix" | "trimSuffix" | "contains" | "hasPrefix" | "hasSuffix" | "splitList"
        | "split" => {
            arity(name, &args, 2)?;
            let (a, v) = (s(0)?, s(1)?);
            match name {
                "trimAll" => Val::str(v.trim_matches(|c| a.contains(c))),
                "trimPrefix" => Val::str(v.strip_prefix(&*a).unwrap_or(&v)),
                "trimSuffix" => Val::str(v.strip_suffix(&*a).unwrap_or(&v)),
                "contains" => Val::Bool(v.contains(&*a)),
                "hasPrefix" => Val::Bool(v.starts_with(&*a)),
                "hasSuffix" => Val::Bool(v.ends_with(&*a)),
                "splitList" => Val::list(go_split(&v, &a, -1).into_iter().map(Val::str).collect()),
                _ => Val::map(
                    go_split(&v, &a, -1)
                        .into_iter()
                        .enumerate()
                        .map(|(i, p)| (format!("_{i}"), Val::str(p)))
                        .collect(),
                ),
            }
        }
        "splitn" => {
            arity(name, &args, 3)?;
            let (sep, n, v) = (s(0)?, int(&args[1])?, s(2)?);
            Val::map(
                go_split(&v, &sep, n)
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| (format!("_{i}"), Val::str(p)))
                    .collect(),
            )
        }
        "trunc" => {
            arity(name, &args, 2)?;
            let (c, v) = (int(&args[0])?, s(1)?);
            let len = v.len() as i64;
            Val::str(if c < 0 && len + c > 0 {
                byte_slice(&v, (len + c) as usize, v.len())
            } else if c >= 0 && len > c {
                byte_slice(&v, 0, c as usize)
            } else {
                v.to_string()
            })
        }
        "replace" => {
            arity(name, &args, 3)?;
            Val::str(s(2)?.replace(&*s(0)?, &s(1)?))
        }
        "repeat" => {
            arity(name, &args, 2)?;
            let (n, v) = (int(&args[0])?, s(1)?);
            if n.saturating_mul(v.len() as i64) > MAX_GENERATED * 64 {
                return Err("repeat: the result is too large".to_owned());
            }
            Val::str(v.repeat(usize::try_from(n).unwrap_or(0)))
        }
        "indent" | "nindent" => {
            arity(name, &args, 2)?;
            let out = indent(int(&args[0])?, &s(1)?);
            Val::str(if name == "nindent" { format!("\n{out}") } else { out })
        }
        "substr" => {
            arity(name, &args, 3)?;
            let (start, end, v) = (int(&args[0])?, int(&args[1])?, s(2)?);
            let len = v.len() as i64;
            if start < 0 {
                Val::str(byte_slice(&v, 0, end.clamp(0, len) as usize))
            } else if end < 0 || end > len {
                Val::str(byte_slice(&v, start.min(len) as usize, v.len()))
            } else if start > end {
                return Err(format!("slice bounds out of range [{start}:{end}]"));
            } else {
                Val::str(byte_slice(&v, start as usize, end as usize))
            }
        }
        "join" => {
            arity(name, &args, 2)?;
            Val::str(strings_of(&args[1]).join(&s(0)?))
        }
        "toString" => {
            arity(name, &args, 1)?;
            Val::str(strval(&args[0]))
        }
        "toStrings" => {
            arity(name, &args, 1)?;
            Val::list(strings_of(&args[0]).into_iter().map(Val::str).collect())
        }
        // --- lists ---
        "list" => Val::list(args),
        "append" | "push" => {
            arity(name, &args, 2)?;
            let mut l = match &args[0] {
                Val::Nil => Vec::new(),
                v => list_arg("push", v)?.to_vec(),
            };
            l.push(args[1].clone());
            Val::list(l)
        }
        "prepend" => {
            arity(name, &args, 2)?;
            let mut l = vec![args[1].clone()];
            l.extend(list_arg("prepend", &args[0])?.iter().cloned());
            Val::list(l)
        }
        "first" | "last" | "rest" | "initial" | "reverse" | "uniq" | "compact" | "sortAlpha" => {
            arity(name, &args, 1)?;
            if name == "sortAlpha" {
                let mut v = strings_of(&args[0]);
                v.sort();
                return Ok(Val::list(v.into_iter().map(Val::str).collect()));
            }
            let l = list_arg(name, &args[0])?;
            match name {
                "first" => l.first().cloned().unwrap_or(Val::Nil),
                "last" => l.last().cloned().unwrap_or(Val::Nil),
                "rest" => Val::list(l.iter().skip(1).cloned().collect()),
                "initial" => Val::list(l[..l.len().saturating_sub(1)].to_vec()),
                "reverse" => Val::list(l.iter().rev().cloned().collect()),
                "compact" => Val::list(l.iter().filter(|v| v.truthy()).cloned().collect()),
                _ => {
                    let mut out: Vec<Val> = Vec::new();
                    for v in l.iter() {
                        if !out.iter().any(|o| o.deep_equal(v)) {
                            out.push(v.clone());
                        }
                    }
                    Val::list(out)
                }
            }
        }
        "without" => {
            at_least(name, &args, 1)?;
            let l = list_arg(name, &args[0])?;
            Val::list(l.iter().filter(|v| !args[1..].iter().any(|o| o.deep_equal(v))).cloned().collect())
        }
        "has" => {
            arity(name, &args, 2)?;
            match &args[1] {
                Val::Nil => Val::Bool(false),
                Val::List(l) => Val::Bool(l.iter().any(|v| v.deep_equal(&args[0]))),
                other => return Err(format!("Cannot find has on type {}", other.type_name())),
            }
        }
        "concat" => {
            let mut out = Vec::new();
            for a in &args {
                out.extend(list_arg(name, a)?.iter().cloned());
            }
            Val::list(out)
        }
        "until" | "untilStep" => {
            let (start, stop, step) = if name == "until" {
                arity(name, &args, 1)?;
                let n = int(&args[0])?;
                (0, n, if n < 0 { -1 } else { 1 })
            } else {
                arity(name, &args, 3)?;
                (int(&args[0])?, int(&args[1])?, int(&args[2])?)
            };
            let mut out = Vec::new();
            if step != 0 && (stop - start) / step <= MAX_GENERATED {
                let mut i = start;
                while (step > 0 && i < stop) || (step < 0 && i > stop) {
                    out.push(Val::Int(i));
                    i += step;
                }
            } else if step != 0 {
                return Err(format!("{name}: more than {MAX_GENERATED} elements"));
            }
            Val::list(out)
        }
        // --- dicts ---
        "dict" => {
            let mut m = BTreeMap::new();
            for pair in args.chunks(2) {
                let v = pair.get(1).cloned().unwrap_or_else(|| Val::str(""));
                m.insert(strval(&pair[0]), v);
            }
            Val::map(m)
        }
        "get" => {
            arity(name, &args, 2)?;
            let (m, k) = (map_arg(&args[0])?, s(1)?);
            let v = m.borrow().get(&*k).cloned();
            v.unwrap_or_else(|| Val::str(""))
        }
        "set" => {
            arity(name, &args, 3)?;
            let (m, k) = (map_arg(&args[0])?, s(1)?);
            m.borrow_mut().insert(k.to_string(), args[2].clone());
            Val::Map(m)
        }
        "unset" => {
            arity(name, &args, 2)?;
            let (m, k) = (map_arg(&args[0])?, s(1)?);
            m.borrow_mut().remove(&*k);
            Val::Map(m)
        }
        "hasKey" => {
            arity(name, &args, 2)?;
            let (m, k) = (map_arg(&args[0])?, s(1)?);
            let has = m.borrow().contains_key(&*k);
            Val::Bool(has)
        }
        "pluck" => {
            at_least(name, &args, 1)?;
            let k = s(0)?;
            let mut out = Vec::new();
            for d in &args[1..] {
                if let Some(v) = map_arg(d)?.borrow().get(&*k) {
                    out.push(v.clone());
                }
            }
            Val::list(out)
        }
        "keys" => {
            let mut out = Vec::new();
            for d in &args {
                out.extend(map_arg(d)?.borrow().keys().cloned());
            }
            out.sort();
            Val::list(out.into_iter().map(Val::str).collect())
        }
        "values" => {
            arity(name, &args, 1)?;
            let m = map_arg(&args[0])?;
            let v: Vec<Val> = m.borrow().values().cloned().collect();
            Val::list(v)
        }
        "pick" | "omit" => {
            at_least(name, &args, 1)?;
            let m = map_arg(&args[0])?;
            let names: Vec<String> = args[1..].iter().map(strval).collect();
            let out = m
                .borrow()
                .iter()
                .filter(|(k, _)| names.contains(k) == (name == "pick"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Val::map(out)
        }
        "dig" => {
            at_least(name, &args, 3)?;
            let n = args.len();
            let mut cur = Val::Map(map_arg(&args[n - 1])?);
            for k in &args[..n - 2] {
                let k = string(k)?;
                let next = match &cur {
                    Val::Map(m) => m.borrow().get(&*k).cloned(),
                    _ => None,
                };
                match next {
                    Some(v) => cur = v,
                    None => return Ok(args[n - 2].clone()),
                }
            }
            cur
        }
        "merge" | "mergeOverwrite" => {
            at_least(name, &args, 1)?;
            let dst = map_arg(&args[0])?;
            for src in &args[1..] {
                merge_into(&dst, &map_arg(src)?, name == "mergeOverwrite", 0);
            }
            Val::Map(dst)
        }
        "deepCopy" => {
            arity(name, &args, 1)?;
            args[0].deep_copy()
        }
        // --- numbers ---
        "add" => Val::Int(args.iter().fold(0i64, |a, v| a.wrapping_add(to_i64(v)))),
        "mul" => {
            at_least(name, &args, 1)?;
            Val::Int(args.iter().fold(1i64, |a, v| a.wrapping_mul(to_i64(v))))
        }
        "add1" => {
            arity(name, &args, 1)?;
            Val::Int(to_i64(&args[0]).wrapping_add(1))
        }
        "sub" | "div" | "mod" => {
            arity(name, &args, 2)?;
            let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
            Val::Int(match name {
                "sub" => a.wrapping_sub(b),
                _ if b == 0 => return Err("runtime error: integer divide by zero".to_owned()),
                "div" => a.wrapping_div(b),
                _ => a.wrapping_rem(b),
            })
        }
        "max" | "min" => {
            at_least(name, &args, 1)?;
            let it = args.iter().map(to_i64);
            Val::Int(if name == "max" { it.max().unwrap_or(0) } else { it.min().unwrap_or(0) })
        }
        "int" | "int64" => {
            arity(name, &args, 1)?;
            Val::Int(to_i64(&args[0]))
        }
        "float64" => {
            arity(name, &args, 1)?;
            Val::Float(to_f64(&args[0]))
        }
        "atoi" => {
            arity(name, &args, 1)?;
            Val::Int(s(0)?.parse().unwrap_or(0))
        }
        // --- types ---
        "kindOf" | "typeOf" => {
            arity(name, &args, 1)?;
            Val::str(if name == "typeOf" { args[0].type_name() } else { kind_of(&args[0]) })
        }
        "kindIs" | "typeIs" => {
            arity(name, &args, 2)?;
            let want = s(0)?;
            Val::Bool(*want == *if name == "typeIs" { args[1].type_name() } else { kind_of(&args[1]) })
        }
        // --- versions and patterns ---
        "semverCompare" => {
            arity(name, &args, 2)?;
            Val::Bool(semver::compare(&s(0)?, &s(1)?)?)
        }
        "regexMatch" => {
            arity(name, &args, 2)?;
            Val::Bool(regex(&s(0)?)?.is_match(&s(1)?))
        }
        "regexFind" => {
            arity(name, &args, 2)?;
            Val::str(regex(&s(0)?)?.find(&s(1)?).map(|m| m.as_str().to_owned()).unwrap_or_default())
        }
        "regexFindAll" => {
            arity(name, &args, 3)?;
            let (re, v, n) = (regex(&s(0)?)?, s(1)?, int(&args[2])?);
            let limit = if n < 0 { usize::MAX } else { n as usize };
            Val::list(re.find_iter(&v).take(limit).map(|m| Val::str(m.as_str())).collect())
        }
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            arity(name, &args, 3)?;
            let (re, v, repl) = (regex(&s(0)?)?, s(1)?, s(2)?);
            Val::str(if name == "regexReplaceAll" {
                re.replace_all(&v, &*repl).into_owned()
            } else {
                re.replace_all(&v, regex::NoExpand(&repl)).into_owned()
            })
        }
        "regexSplit" => {
            arity(name, &args, 3)?;
            let (re, v, n) = (regex(&s(0)?)?, s(1)?, int(&args[2])?);
            let parts: Vec<Val> = match n {
                0 => Vec::new(),
                n if n < 0 => re.split(&v).map(Val::str).collect(),
                n => re.splitn(&v, n as usize).map(Val::str).collect(),
            };
            Val::list(parts)
        }
        other => return Err(format!("function \"{other}\" not defined")),
    })
}

fn kind_of(v: &Val) -> &'static str {
    match v {
        Val::Nil => "invalid",
        Val::Bool(_) => "bool",
        Val::Int(_) => "int",
        Val::Float(_) => "float64",
        Val::Str(_) => "string",
        Val::List(_) => "slice",
        Val::Map(_) => "map",
        Val::Native(_) => "struct",
    }
}

/// Go's `strings.SplitN` (n < 0: all; an empty separator splits into characters).
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let mut out: Vec<String> = s.chars().map(String::from).collect();
        if n > 0 && out.len() > n as usize {
            let rest: String = out[n as usize - 1..].concat();
            out.truncate(n as usize - 1);
            out.push(rest);
        }
        return out;
    }
    if n < 0 {
        s.split(sep).map(str::to_owned).collect()
    } else {
        s.splitn(n as usize, sep).map(str::to_owned).collect()
    }
}
