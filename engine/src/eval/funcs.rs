//! The standard function library.
//!
//! Every function is deterministic (no `uuid`, no `timestamp`): a plan must evaluate the same
//! way twice. Marks are handled here once for all functions, so that each function body sees
//! plain values: an unknown argument makes the result unknown (for the functions that only
//! move values around, such as `length` or `merge`, only a wholly unknown argument does), and a
//! sensitive argument makes the result sensitive.

mod cidr;
mod format;
mod yaml;

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use lanestack_model::Value;

use super::Scope;
use crate::diag::{FileId, Span, did_you_mean};

/// Why a function call failed; the evaluator places it at the call's span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncError {
    /// The diagnostic code (`lanestack::function`, `lanestack::unknown_function`).
    pub code: &'static str,
    /// What went wrong, for the diagnostic's label.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl FuncError {
    fn new(message: impl Into<String>) -> FuncError {
        FuncError { code: "lanestack::function", message: message.into(), hint: None }
    }
}

type Result<T> = std::result::Result<T, FuncError>;

/// Every function: name, least and most number of arguments (`usize::MAX`: variadic), and
/// whether it only moves values around (so unknown or sensitive parts can stay where they are).
const FUNCS: &[(&str, usize, usize, bool)] = &[
    ("abs", 1, 1, false),
    ("base64decode", 1, 1, false),
    ("base64encode", 1, 1, false),
    ("ceil", 1, 1, false),
    ("cidrhost", 2, 2, false),
    ("cidrsubnet", 3, 3, false),
    ("coalesce", 1, usize::MAX, true),
    ("concat", 1, usize::MAX, true),
    ("contains", 2, 2, false),
    ("element", 2, 2, true),
    ("file", 1, 1, false),
    ("filebase64", 1, 1, false),
    ("filesha256", 1, 1, false),
    ("floor", 1, 1, false),
    ("format", 1, usize::MAX, false),
    ("join", 2, 2, false),
    ("jsondecode", 1, 1, false),
    ("jsonencode", 1, 1, false),
    ("keys", 1, 1, true),
    ("length", 1, 1, true),
    ("lookup", 2, 3, true),
    ("lower", 1, 1, false),
    ("max", 1, usize::MAX, false),
    ("merge", 0, usize::MAX, true),
    ("min", 1, usize::MAX, false),
    ("range", 1, 3, false),
    ("replace", 3, 3, false),
    ("sha256", 1, 1, false),
    ("split", 2, 2, false),
    ("substr", 3, 3, false),
    ("templatefile", 2, 2, false),
    ("tobool", 1, 1, false),
    ("tolist", 1, 1, true),
    ("tomap", 1, 1, true),
    ("tonumber", 1, 1, false),
    ("toset", 1, 1, false),
    ("tostring", 1, 1, false),
    ("trimspace", 1, 1, false),
    ("upper", 1, 1, false),
    ("values", 1, 1, true),
    ("yamldecode", 1, 1, false),
    ("yamldecodeall", 1, 1, false),
    ("yamlencode", 1, 1, false),
];

/// The names of every function, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    FUNCS.iter().map(|f| f.0)
}

/// Calls the function `name` with `args`. Relative paths (`file`, `templatefile`) are relative
/// to `scope.module_dir`.
pub fn call(name: &str, args: Vec<Value>, scope: &Scope<'_>) -> Result<Value> {
    let Some(&(_, min, max, structural)) = FUNCS.iter().find(|f| f.0 == name) else {
        let hint = match did_you_mean(name, names()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "see the function list in the documentation".into(),
        };
        return Err(FuncError {
            code: "lanestack::unknown_function",
            message: format!("there is no function `{name}`"),
            hint: Some(hint),
        });
    };
    if args.len() < min || args.len() > max {
        let expected = match (min, max) {
            (a, b) if a == b => format!("{a}"),
            (a, usize::MAX) => format!("at least {a}"),
            (a, b) => format!("{a} to {b}"),
        };
        return Err(FuncError::new(format!("`{name}` takes {expected} argument(s), got {}", args.len())));
    }
    let sensitive = args.iter().any(Value::contains_sensitive);
    let top = args.iter().any(Value::is_sensitive);
    let args: Vec<Value> = if structural {
        if args.iter().any(Value::is_unknown) {
            return Ok(mark(Value::Unknown, sensitive));
        }
        args.into_iter().map(|a| a.unmark_top().0).collect()
    } else {
        if args.iter().any(Value::contains_unknown) {
            return Ok(mark(Value::Unknown, sensitive));
        }
        args.iter().map(Value::unmark).collect()
    };
    // Structural functions keep inner marks in place; only a top-level mark moves to the result.
    let top_sensitive = if structural { top || (sensitive && !keeps_inner_marks(name)) } else { sensitive };
    Ok(mark(dispatch(name, args, scope)?, top_sensitive))
}

/// The structural functions whose result carries the inner marks of its arguments, so that the
/// result itself needs no mark.
fn keeps_inner_marks(name: &str) -> bool {
    matches!(name, "concat" | "merge" | "element" | "lookup" | "tolist" | "tomap" | "values" | "coalesce")
}

fn mark(v: Value, sensitive: bool) -> Value {
    if sensitive { v.mark_sensitive() } else { v }
}

fn str_arg<'v>(name: &str, v: &'v Value, which: &str) -> Result<&'v str> {
    v.as_str().ok_or_else(|| {
        FuncError::new(format!("{which} argument of `{name}` must be a string, found a {}", v.type_name()))
    })
}

fn num_arg(name: &str, v: &Value, which: &str) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| FuncError::new("number out of range")),
        Value::String(s) => s.trim().parse().map_err(|_| {
            FuncError::new(format!("{which} argument of `{name}` must be a number, found {s:?}"))
        }),
        other => Err(FuncError::new(format!(
            "{which} argument of `{name}` must be a number, found a {}",
            other.type_name()
        ))),
    }
}

fn int_arg(name: &str, v: &Value, which: &str) -> Result<i64> {
    let f = num_arg(name, v, which)?;
    if f.fract() != 0.0 || f.abs() > 9.0e15 {
        return Err(FuncError::new(format!(
            "{which} argument of `{name}` must be a whole number, found {f}"
        )));
    }
    Ok(f as i64)
}

fn list_arg<'v>(name: &str, v: &'v Value, which: &str) -> Result<&'v [Value]> {
    v.as_list().ok_or_else(|| {
        FuncError::new(format!("{which} argument of `{name}` must be a list, found a {}", v.type_name()))
    })
}

fn primitive_string(name: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(FuncError::new(format!("`{name}` cannot convert a {} to a string", other.type_name()))),
    }
}

fn read(scope: &Scope<'_>, name: &str, path: &str) -> Result<Vec<u8>> {
    let full: PathBuf = scope.module_dir.join(path);
    std::fs::read(&full).map_err(|e| FuncError {
        code: "lanestack::function",
        message: format!("`{name}` cannot read {}: {e}", full.display()),
        hint: Some("paths are relative to the stack directory; `path.module` names it".into()),
    })
}

fn read_text(scope: &Scope<'_>, name: &str, path: &str) -> Result<String> {
    String::from_utf8(read(scope, name, path)?)
        .map_err(|_| FuncError::new(format!("{path} is not UTF-8 text; use `filebase64`")))
}

fn dispatch(name: &str, mut a: Vec<Value>, scope: &Scope<'_>) -> Result<Value> {
    let first = a.first().cloned().unwrap_or(Value::Null);
    let arg = |i: usize| a.get(i).unwrap_or(&Value::Null);
    Ok(match name {
        "abs" => Value::from_f64(num_arg(name, arg(0), "the")?.abs()),
        "ceil" => Value::from_f64(num_arg(name, arg(0), "the")?.ceil()),
        "floor" => Value::from_f64(num_arg(name, arg(0), "the")?.floor()),
        "min" | "max" => {
            let nums = a.iter().map(|v| num_arg(name, v, "each")).collect::<Result<Vec<_>>>()?;
            let pick = if name == "min" { f64::min } else { f64::max };
            Value::from_f64(nums.into_iter().reduce(pick).unwrap_or(0.0))
        }
        "base64encode" => Value::String(BASE64.encode(str_arg(name, arg(0), "the")?)),
        "base64decode" => {
            let bytes = BASE64
                .decode(str_arg(name, arg(0), "the")?)
                .map_err(|e| FuncError::new(format!("invalid base64: {e}")))?;
            Value::String(
                String::from_utf8(bytes)
                    .map_err(|_| FuncError::new("the decoded bytes are not UTF-8 text"))?,
            )
        }
        "sha256" => Value::String(hex(&Sha256::digest(str_arg(name, arg(0), "the")?.as_bytes()))),
        "file" => Value::String(read_text(scope, name, str_arg(name, arg(0), "the")?)?),
        "filebase64" => Value::String(BASE64.encode(read(scope, name, str_arg(name, arg(0), "the")?)?)),
        "filesha256" => {
            Value::String(hex(&Sha256::digest(read(scope, name, str_arg(name, arg(0), "the")?)?)))
        }
        "templatefile" => {
            let path = str_arg(name, arg(0), "the first")?;
            let text = read_text(scope, name, path)?;
            let vars = arg(1).as_object().ok_or_else(|| {
                FuncError::new("the second argument of `templatefile` must be an object of variables")
            })?;
            render_template_file(path, &text, vars, scope)?
        }
        "jsonencode" => Value::String(first.to_json().to_string()),
        "jsondecode" => {
            let json: serde_json::Value = serde_json::from_str(str_arg(name, arg(0), "the")?)
                .map_err(|e| FuncError::new(format!("invalid JSON: {e}")))?;
            Value::from_json(&json)
        }
        "yamlencode" => Value::String(yaml::encode(&first)),
        "yamldecode" | "yamldecodeall" => {
            let mut docs = crate::structured::decode_yaml_stream(str_arg(name, arg(0), "the")?)
                .map_err(|e| FuncError::new(format!("invalid YAML: {e}")))?;
            if name == "yamldecodeall" {
                Value::List(docs)
            } else if docs.len() > 1 {
                return Err(FuncError::new(format!(
                    "the YAML holds {} documents; yamldecode reads one (yamldecodeall reads a list of every one)",
                    docs.len()
                )));
            } else {
                docs.pop().unwrap_or(Value::Null)
            }
        }
        "format" => {
            let spec = str_arg(name, arg(0), "the first")?;
            Value::String(format::format(spec, &a[1..]).map_err(FuncError::new)?)
        }
        "join" => {
            let sep = str_arg(name, arg(0), "the first")?;
            let parts = list_arg(name, arg(1), "the second")?
                .iter()
                .map(|v| primitive_string(name, v))
                .collect::<Result<Vec<_>>>()?;
            Value::String(parts.join(sep))
        }
        "split" => {
            let sep = str_arg(name, arg(0), "the first")?;
            let s = str_arg(name, arg(1), "the second")?;
            if s.is_empty() {
                Value::List(Vec::new())
            } else if sep.is_empty() {
                Value::List(s.chars().map(|c| Value::String(c.to_string())).collect())
            } else {
                Value::List(s.split(sep).map(Value::from).collect())
            }
        }
        "lower" => Value::String(str_arg(name, arg(0), "the")?.to_lowercase()),
        "upper" => Value::String(str_arg(name, arg(0), "the")?.to_uppercase()),
        "trimspace" => Value::String(str_arg(name, arg(0), "the")?.trim().to_owned()),
        "replace" => {
            let (s, from, to) = (
                str_arg(name, arg(0), "the first")?,
                str_arg(name, arg(1), "the second")?,
                str_arg(name, arg(2), "the third")?,
            );
            if from.is_empty() {
                return Err(FuncError::new("the substring to replace must not be empty"));
            }
            Value::String(s.replace(from, to))
        }
        "substr" => {
            let chars: Vec<char> = str_arg(name, arg(0), "the first")?.chars().collect();
            let len = chars.len() as i64;
            let mut offset = int_arg(name, arg(1), "the second")?;
            if offset < 0 {
                offset += len;
            }
            let offset = offset.clamp(0, len);
            let want = int_arg(name, arg(2), "the third")?;
            let end = if want < 0 { len } else { offset.saturating_add(want).min(len) };
            Value::String(chars[offset as usize..end.max(offset) as usize].iter().collect())
        }
        "range" => range(a.iter().map(|v| num_arg(name, v, "each")).collect::<Result<Vec<_>>>()?)?,
        "cidrsubnet" => {
            let prefix = str_arg(name, arg(0), "the first")?;
            Value::String(
                cidr::cidrsubnet(
                    prefix,
                    int_arg(name, arg(1), "the second")?,
                    int_arg(name, arg(2), "the third")?,
                )
                .map_err(FuncError::new)?,
            )
        }
        "cidrhost" => {
            let prefix = str_arg(name, arg(0), "the first")?;
            Value::String(
                cidr::cidrhost(prefix, int_arg(name, arg(1), "the second")?).map_err(FuncError::new)?,
            )
        }
        "length" => match &first {
            Value::String(s) => Value::from(s.chars().count() as i64),
            Value::List(l) => Value::from(l.len() as i64),
            Value::Object(m) => Value::from(m.len() as i64),
            other => {
                return Err(FuncError::new(format!(
                    "`length` needs a string, list or object, found a {}",
                    other.type_name()
                )));
            }
        },
        "concat" => {
            let mut out = Vec::new();
            for v in a {
                match v.unmark_top().0 {
                    Value::List(items) => out.extend(items),
                    other => {
                        return Err(FuncError::new(format!(
                            "every argument of `concat` must be a list, found a {}",
                            other.type_name()
                        )));
                    }
                }
            }
            Value::List(out)
        }
        "merge" => {
            let mut out = BTreeMap::new();
            for v in a {
                match v {
                    Value::Null => {}
                    Value::Object(m) => out.extend(m),
                    other => {
                        return Err(FuncError::new(format!(
                            "every argument of `merge` must be an object, found a {}",
                            other.type_name()
                        )));
                    }
                }
            }
            Value::Object(out.into())
        }
        "lookup" => {
            let key = str_arg(name, arg(1), "the second")?.to_owned();
            let default = a.get(2).cloned();
            let Value::Object(mut m) = a.swap_remove(0) else {
                return Err(FuncError::new("the first argument of `lookup` must be an object"));
            };
            match (m.remove(&key), default) {
                (Some(v), _) => v,
                (None, Some(d)) => d,
                (None, None) => {
                    return Err(FuncError {
                        code: "lanestack::function",
                        message: format!("the key {key:?} is missing"),
                        hint: Some("pass a default as the third argument".into()),
                    });
                }
            }
        }
        "element" => {
            let i = int_arg(name, arg(1), "the second")?;
            let list = list_arg(name, arg(0), "the first")?;
            if list.is_empty() {
                return Err(FuncError::new("`element` cannot pick from an empty list"));
            }
            if i < 0 {
                return Err(FuncError::new("the index of `element` must not be negative"));
            }
            list[(i as usize) % list.len()].clone()
        }
        "coalesce" => a
            .into_iter()
            .find(|v| !v.is_null() && v.as_str() != Some(""))
            .ok_or_else(|| FuncError::new("every argument of `coalesce` is null or empty"))?,
        "keys" => match &first {
            Value::Object(m) => Value::List(m.keys().map(|k| Value::from(k.as_str())).collect()),
            other => {
                return Err(FuncError::new(format!("`keys` needs an object, found a {}", other.type_name())));
            }
        },
        "values" => match first {
            Value::Object(m) => Value::List(m.into_values().collect()),
            other => {
                return Err(FuncError::new(format!(
                    "`values` needs an object, found a {}",
                    other.type_name()
                )));
            }
        },
        "contains" => Value::Bool(list_arg(name, arg(0), "the first")?.iter().any(|v| v == arg(1))),
        "tostring" => match &first {
            Value::Null => Value::Null,
            v => Value::String(primitive_string(name, v)?),
        },
        "tonumber" => match &first {
            Value::Null => Value::Null,
            v => Value::from_f64(num_arg(name, v, "the")?),
        },
        "tobool" => match &first {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::String(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
            other => return Err(FuncError::new(format!("`tobool` cannot convert {other} to a bool"))),
        },
        "tolist" => match first {
            v @ (Value::Null | Value::List(_)) => v,
            other => {
                return Err(FuncError::new(format!(
                    "`tolist` cannot convert a {} to a list",
                    other.type_name()
                )));
            }
        },
        // Sets are lists without duplicates here, in first-seen order.
        "toset" => match first {
            Value::Null => Value::Null,
            Value::List(items) => {
                let mut out: Vec<Value> = Vec::with_capacity(items.len());
                for item in items {
                    if !out.contains(&item) {
                        out.push(item);
                    }
                }
                Value::List(out)
            }
            other => {
                return Err(FuncError::new(format!(
                    "`toset` cannot convert a {} to a set",
                    other.type_name()
                )));
            }
        },
        "tomap" => match first {
            v @ (Value::Null | Value::Object(_)) => v,
            other => {
                return Err(FuncError::new(format!(
                    "`tomap` cannot convert a {} to a map",
                    other.type_name()
                )));
            }
        },
        other => return Err(FuncError::new(format!("`{other}` is declared but not implemented"))),
    })
}

fn range(n: Vec<f64>) -> Result<Value> {
    let (start, limit, step) = match n.as_slice() {
        [limit] => (0.0, *limit, 1.0),
        [start, limit] => (*start, *limit, if start <= limit { 1.0 } else { -1.0 }),
        [start, limit, step] => (*start, *limit, *step),
        _ => return Err(FuncError::new("`range` takes 1 to 3 numbers")),
    };
    if step == 0.0 || (step > 0.0) != (limit >= start) && limit != start {
        return Err(FuncError::new("the step of `range` must move from the start towards the limit"));
    }
    let count = ((limit - start) / step).ceil().max(0.0);
    if count > 1_000_000.0 {
        return Err(FuncError::new("`range` would produce more than 1,000,000 numbers"));
    }
    Ok(Value::List((0..count as usize).map(|i| Value::from_f64(start + step * i as f64)).collect()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Evaluates a template file with `vars` as its only variables.
fn render_template_file(
    path: &str,
    text: &str,
    vars: &lanestack_model::Map,
    scope: &Scope<'_>,
) -> Result<Value> {
    let tpl: hcl::template::Template = text
        .parse()
        .map_err(|e: hcl::Error| FuncError::new(format!("{path} is not a valid template: {e}")))?;
    let span = Span::new(FileId(0), 0..0);
    let vars = vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut ev = super::expr::Evaluator::isolated(*scope, &span, vars);
    ev.render(&tpl).map_err(|d| FuncError {
        code: "lanestack::function",
        message: format!("in {path}: {}: {}", d.summary, d.label.unwrap_or_default()),
        hint: d.hint,
    })
}
