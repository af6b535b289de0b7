//! The values templates work on, with Go's semantics.
//!
//! Helm hands templates `map[string]interface{}` trees decoded from YAML through JSON, so every
//! number from a values file is a `float64`, while numbers written in a template are Go `int`s.
//! [`Val`] keeps that distinction ([`Val::Int`], [`Val::Float`]) because it shows: a float
//! `1000000` prints as `1e+06`, and `eq` refuses to compare an int with a float.
//!
//! Maps are shared and mutable ([`Val::Map`] holds an `Rc<RefCell<..>>`), as Go maps are:
//! sprig's `set` changes the map every holder of it sees (`$_ := set $ctx "k" v`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A map as templates see it: sorted keys, shared and mutable.
pub type MapRef = Rc<RefCell<BTreeMap<String, Val>>>;

/// How deep printing, copying and encoding go before refusing: a map can be made to contain
/// itself (`set $d "self" $d`), and recursion must end without exhausting the stack.
pub const MAX_DEPTH: usize = 200;

/// A template value.
#[derive(Clone, Debug, Default)]
pub enum Val {
    /// Go's `nil`: a missing map key, a null in YAML.
    #[default]
    Nil,
    /// A `bool`.
    Bool(bool),
    /// An `int`/`int64`: template literals, `len`, `int`, arithmetic.
    Int(i64),
    /// A `float64`: every number read from YAML or JSON.
    Float(f64),
    /// A `string`.
    Str(Rc<str>),
    /// A `[]interface{}`.
    List(Rc<Vec<Val>>),
    /// A `map[string]interface{}`.
    Map(MapRef),
    /// A Go object with methods (`.Capabilities.APIVersions.Has`, `.Files.Get`).
    Native(Rc<Native>),
}

/// Objects whose behaviour is methods rather than map entries.
#[derive(Debug)]
pub enum Native {
    /// `.Capabilities.APIVersions`: `Has "apps/v1"` (or `"apps/v1/Deployment"`).
    ApiVersions(Vec<String>),
    /// `.Files`: `Get "path"` and `AsConfig`-less basics, over the chart's non-template files.
    Files(BTreeMap<String, Vec<u8>>),
}

impl Val {
    /// A string value.
    pub fn str(s: impl Into<Rc<str>>) -> Val {
        Val::Str(s.into())
    }

    /// A list value.
    pub fn list(items: Vec<Val>) -> Val {
        Val::List(Rc::new(items))
    }

    /// A new map value.
    pub fn map(entries: BTreeMap<String, Val>) -> Val {
        Val::Map(Rc::new(RefCell::new(entries)))
    }

    /// An empty map.
    pub fn empty_map() -> Val {
        Val::map(BTreeMap::new())
    }

    /// Go's `text/template` truth: false, 0, nil, and empty strings, lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Map(m) => !m.borrow().is_empty(),
            Val::Native(_) => true,
        }
    }

    /// The Go type name, for error messages (never the value: values may be secrets).
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Nil => "<nil>",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::List(_) => "[]interface {}",
            Val::Map(_) => "map[string]interface {}",
            Val::Native(n) => match **n {
                Native::ApiVersions(_) => "chartutil.VersionSet",
                Native::Files(_) => "chart.Files",
            },
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A deep copy: maps are copied, not shared (sprig's `deepCopy`, and values handed to a
    /// second render). Deeper than [`MAX_DEPTH`] gives nil.
    pub fn deep_copy(&self) -> Val {
        self.deep_copy_at(0)
    }

    fn deep_copy_at(&self, depth: usize) -> Val {
        if depth > MAX_DEPTH {
            return Val::Nil;
        }
        match self {
            Val::List(l) => Val::list(l.iter().map(|v| v.deep_copy_at(depth + 1)).collect()),
            Val::Map(m) => {
                Val::map(m.borrow().iter().map(|(k, v)| (k.clone(), v.deep_copy_at(depth + 1))).collect())
            }
            other => other.clone(),
        }
    }

    /// Go's `fmt.Sprint` of one value (`%v`): `<nil>` for nil, `[a b]` for lists, `map[k:v]`
    /// for maps.
    pub fn go_string(&self) -> String {
        let mut out = String::new();
        self.write_go(&mut out, 0);
        out
    }

    fn write_go(&self, out: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            out.push_str("...");
            return;
        }
        match self {
            Val::Nil => out.push_str("<nil>"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) => out.push_str(&i.to_string()),
            Val::Float(f) => out.push_str(&format_float_g(*f)),
            Val::Str(s) => out.push_str(s),
            Val::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_go(out, depth + 1);
                }
                out.push(']');
            }
            Val::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_go(out, depth + 1);
                }
                out.push(']');
            }
            Val::Native(n) => match &**n {
                Native::ApiVersions(v) => {
                    out.push('[');
                    out.push_str(&v.join(" "));
                    out.push(']');
                }
                Native::Files(_) => out.push_str("map[]"),
            },
        }
    }

    /// Go's `reflect.DeepEqual`, as sprig's `has` and `without` compare: an int never equals a
    /// float.
    pub fn deep_equal(&self, other: &Val) -> bool {
        self.deep_equal_at(other, 0)
    }

    fn deep_equal_at(&self, other: &Val, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match (self, other) {
            (Val::Nil, Val::Nil) => true,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Float(a), Val::Float(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::List(a), Val::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_equal_at(y, depth + 1))
            }
            (Val::Map(a), Val::Map(b)) => {
                if Rc::ptr_eq(a, b) {
                    return true;
                }
                let (a, b) = (a.borrow(), b.borrow());
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, va), (kb, vb))| ka == kb && va.deep_equal_at(vb, depth + 1))
            }
            (Val::Native(a), Val::Native(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Reads a JSON value the way Go's `encoding/json` decodes into `interface{}`: every number
    /// a float64.
    pub fn from_json(j: &serde_json::Value) -> Val {
        match j {
            serde_json::Value::Null => Val::Nil,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => Val::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Val::str(s.as_str()),
            serde_json::Value::Array(a) => Val::list(a.iter().map(Val::from_json).collect()),
            serde_json::Value::Object(o) => {
                Val::map(o.iter().map(|(k, v)| (k.clone(), Val::from_json(v))).collect())
            }
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which `fmt` uses for `%v`: the shortest digits
/// that read back to `f`, in exponent form when the decimal exponent is below -4 or at least 6
/// (the threshold Go uses for the shortest precision). That is why Helm prints a values-file
/// `1000000` as `1e+06`.
pub fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: "1.234567e6".
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        for (f, s) in [
            (3.0, "3"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
            (100.5, "100.5"),
        ] {
            assert_eq!(format_float_g(f), s, "{f}");
        }
    }

    #[test]
    fn truth_is_gos() {
        assert!(!Val::Nil.truthy());
        assert!(!Val::Int(0).truthy());
        assert!(!Val::Float(0.0).truthy());
        assert!(!Val::str("").truthy());
        assert!(!Val::list(vec![]).truthy());
        assert!(!Val::empty_map().truthy());
        assert!(Val::str("false").truthy());
        assert!(Val::list(vec![Val::Nil]).truthy());
    }
}
