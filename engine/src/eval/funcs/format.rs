//! `format`: Terraform's verbs `%s %d %f %q %v %t %%`, with the flags `-`, `+`, `0`, a width
//! and a precision.

use lanestack_model::Value;

/// Formats `args` by `spec`.
pub(super) fn format(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let (mut left, mut plus, mut zero) = (false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '+' => plus = true,
                '0' => zero = true,
                _ => break,
            }
            chars.next();
        }
        let width = digits(&mut chars);
        let precision = if chars.peek() == Some(&'.') {
            chars.next();
            Some(digits(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let verb = chars.next().ok_or("the format ends in the middle of a verb")?;
        let arg = args.get(next).ok_or_else(|| format!("not enough arguments for the verb %{verb}"))?;
        next += 1;
        let body = match verb {
            's' => {
                let s = primitive(arg).ok_or_else(|| format!("%s cannot format a {}", arg.type_name()))?;
                match precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'd' => {
                let f =
                    arg.as_f64().ok_or_else(|| format!("%d needs a number, found a {}", arg.type_name()))?;
                if f.fract() != 0.0 {
                    return Err(format!("%d needs a whole number, found {f}"));
                }
                signed(format!("{}", f.abs() as i128), f < 0.0, plus)
            }
            'f' => {
                let f =
                    arg.as_f64().ok_or_else(|| format!("%f needs a number, found a {}", arg.type_name()))?;
                signed(format!("{:.*}", precision.unwrap_or(6), f.abs()), f < 0.0, plus)
            }
            'q' => {
                let s = primitive(arg).ok_or_else(|| format!("%q cannot format a {}", arg.type_name()))?;
                serde_json::Value::String(s).to_string()
            }
            't' => match arg {
                Value::Bool(b) => b.to_string(),
                other => return Err(format!("%t needs a bool, found a {}", other.type_name())),
            },
            'v' => match arg {
                Value::String(s) => s.clone(),
                Value::Null => "null".into(),
                other => other.to_json().to_string(),
            },
            other => return Err(format!("unsupported verb %{other}")),
        };
        pad(&mut out, body, width, left, zero && matches!(verb, 'd' | 'f'));
    }
    if next < args.len() {
        return Err(format!("{} argument(s) left over: the format has {next} verb(s)", args.len() - next));
    }
    Ok(out)
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

fn signed(magnitude: String, negative: bool, plus: bool) -> String {
    match (negative, plus) {
        (true, _) => format!("-{magnitude}"),
        (false, true) => format!("+{magnitude}"),
        (false, false) => magnitude,
    }
}

fn pad(out: &mut String, body: String, width: Option<usize>, left: bool, zero: bool) {
    let len = body.chars().count();
    let fill = width.unwrap_or(0).saturating_sub(len);
    if left {
        out.push_str(&body);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if zero {
        // Zeros go after the sign.
        let (sign, digits) = match body.strip_prefix(['-', '+']) {
            Some(rest) => (&body[..1], rest),
            None => ("", body.as_str()),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(&body);
    }
}

fn primitive(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(spec: &str, args: &[Value]) -> String {
        format(spec, args).unwrap()
    }

    #[test]
    fn verbs_and_flags() {
        assert_eq!(f("Hello, %s!", &["Ander".into()]), "Hello, Ander!");
        assert_eq!(f("There are %d lights", &[4.into()]), "There are 4 lights");
        assert_eq!(
            f("%05d|%-4d|%+d|%3d", &[42.into(), 7.into(), 3.into(), (-5).into()]),
            "00042|7   |+3| -5"
        );
        assert_eq!(
            f("%.2f %f %08.3f", &[Value::from_f64(1.23456), 1.into(), Value::from_f64(-2.5)]),
            "1.23 1.000000 -002.500"
        );
        assert_eq!(
            f("%q %v %v %%", &["a\"b".into(), Value::List(vec![1.into()]), true.into()]),
            "\"a\\\"b\" [1] true %"
        );
        assert_eq!(f("%-6s|%6s|%.2s", &["ab".into(), "cd".into(), "xyz".into()]), "ab    |    cd|xy");
    }

    #[test]
    fn mistakes_are_errors() {
        assert!(format("%d", &[Value::from_f64(1.5)]).is_err());
        assert!(format("%d %d", &[1.into()]).is_err());
        assert!(format("%d", &[1.into(), 2.into()]).is_err());
        assert!(format("%s", &[Value::List(vec![])]).is_err());
        assert!(format("%z", &[1.into()]).is_err());
        assert!(format("%", &[]).is_err());
    }
}
