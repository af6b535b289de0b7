//! Go's `fmt.Sprintf`, `fmt.Sprint` and `fmt.Sprintln` for template values, and
//! `strconv.Quote`.
//!
//! The verbs charts use: `%v %s %d %q %t %f %e %g %x %X %o %b %c %T %%`, with flags
//! `-+# 0`, width and precision. A verb that does not fit its operand prints as Go does
//! (`%!d(string=x)`), and a missing operand as `%!d(MISSING)`.

use crate::value::{Val, format_float_g};

/// `fmt.Sprint`: operands printed with `%v`, a space between two operands when neither is a
/// string.
pub fn sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Val::Str(_)) && !matches!(args[i - 1], Val::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.go_string());
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands, and a newline.
pub fn sprintln(args: &[Val]) -> String {
    let mut out = args.iter().map(Val::go_string).collect::<Vec<_>>().join(" ");
    out.push('\n');
    out
}

/// Go's `strconv.Quote` (what `%q` and sprig's `quote` produce).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || c == '\u{feff}' => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Val]) -> String {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        let num = |i: &mut usize| -> Option<usize> {
            let start = *i;
            let mut n = 0usize;
            while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(d as usize).min(10_000);
                *i += 1;
            }
            (*i > start).then_some(n)
        };
        spec.width = num(&mut i);
        if chars.get(i) == Some(&'.') {
            i += 1;
            spec.prec = Some(num(&mut i).unwrap_or(0));
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        out.push_str(&format_one(verb, spec, arg));
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> =
            args[next..].iter().map(|a| format!("{}={}", a.type_name(), a.go_string())).collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn bad(verb: char, arg: &Val) -> String {
    match arg {
        Val::Nil => format!("%!{verb}(<nil>)"),
        a => format!("%!{verb}({}={})", a.type_name(), a.go_string()),
    }
}

fn pad(s: String, spec: Spec, numeric: bool) -> String {
    let Some(w) = spec.width else { return s };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if spec.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, rest) = match s.strip_prefix('-') {
            Some(r) => ("-", r.to_owned()),
            None => match s.strip_prefix('+') {
                Some(r) => ("+", r.to_owned()),
                None => ("", s.clone()),
            },
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn sign(s: String, spec: Spec, negative: bool) -> String {
    if negative {
        s
    } else if spec.plus {
        format!("+{s}")
    } else if spec.space {
        format!(" {s}")
    } else {
        s
    }
}

fn format_one(verb: char, spec: Spec, arg: &Val) -> String {
    // Lists format element by element with the same verb, as Go does for slices.
    if let Val::List(items) = arg
        && verb != 'v'
        && verb != 'T'
    {
        let parts: Vec<String> =
            items.iter().map(|a| format_one(verb, Spec { width: spec.width, ..spec }, a)).collect();
        return format!("[{}]", parts.join(" "));
    }
    match verb {
        'v' => {
            let s = match arg {
                Val::Str(s) if spec.sharp => go_quote(s),
                Val::Nil => "<nil>".to_owned(),
                Val::Int(i) => sign(i.to_string(), spec, *i < 0),
                Val::Float(f) => sign(format_float_g(*f), spec, *f < 0.0),
                a => a.go_string(),
            };
            pad(s, spec, matches!(arg, Val::Int(_) | Val::Float(_)))
        }
        'T' => pad(arg.type_name().to_owned(), spec, false),
        's' => match arg {
            Val::Str(s) => {
                let s = match spec.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.to_string(),
                };
                pad(s, spec, false)
            }
            Val::Map(_) => pad(arg.go_string(), spec, false),
            a => bad('s', a),
        },
        'q' => match arg {
            Val::Str(s) => {
                pad(if spec.sharp && !s.contains('`') { format!("`{s}`") } else { go_quote(s) }, spec, false)
            }
            Val::Int(i) => match u32::try_from(*i).ok().and_then(char::from_u32) {
                Some(c) => pad(
                    format!(
                        "'{}'",
                        if c == '\'' {
                            "\\'".to_owned()
                        } else {
                            go_quote(&c.to_string()).trim_matches('"').to_owned()
                        }
                    ),
                    spec,
                    false,
                ),
                None => pad("'\u{fffd}'".to_owned(), spec, false),
            },
            a => bad('q', a),
        },
        't' => match arg {
            Val::Bool(b) => pad(b.to_string(), spec, false),
            a => bad('t', a),
        },
        'd' => match arg {
            Val::Int(i) => pad(sign(i.to_string(), spec, *i < 0), spec, true),
            a => bad('d', a),
        },
        'b' | 'o' | 'x' | 'X' => match arg {
            Val::Int(i) => {
                let (neg, mag) = (*i < 0, i.unsigned_abs());
                let body = match verb {
                    'b' => format!("{mag:b}"),
                    'o' => format!("{}{mag:o}", if spec.sharp { "0" } else { "" }),
                    'x' => format!("{}{mag:x}", if spec.sharp { "0x" } else { "" }),
                    _ => format!("{}{mag:X}", if spec.sharp { "0X" } else { "" }),
                };
                pad(sign(if neg { format!("-{body}") } else { body }, spec, neg), spec, true)
            }
            Val::Str(s) if verb == 'x' || verb == 'X' => {
                let hex: String = s
                    .bytes()
                    .map(|b| if verb == 'x' { format!("{b:02x}") } else { format!("{b:02X}") })
                    .collect();
                pad(hex, spec, false)
            }
            a => bad(verb, a),
        },
        'c' => match arg {
            Val::Int(i) => pad(
                u32::try_from(*i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}').to_string(),
                spec,
                false,
            ),
            a => bad('c', a),
        },
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => match arg {
            Val::Float(f) => pad(sign(float_verb(verb, spec.prec, *f), spec, *f < 0.0), spec, true),
            a => bad(verb, a),
        },
        other => bad(other, arg),
    }
}

fn float_verb(verb: char, prec: Option<usize>, f: f64) -> String {
    if !f.is_finite() {
        return format_float_g(f);
    }
    match verb {
        'f' | 'F' => format!("{:.*}", prec.unwrap_or(6), f),
        'e' | 'E' => {
            let s = format!("{:.*e}", prec.unwrap_or(6), f);
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.unsigned_abs());
            if verb == 'E' { s.to_uppercase() } else { s }
        }
        _ => match prec {
            None => {
                let s = format_float_g(f);
                if verb == 'G' { s.to_uppercase() } else { s }
            }
            Some(p) => {
                // %.Ng: N significant digits, exponent form outside [-4, N).
                let p = p.max(1);
                let s = format!("{:.*e}", p - 1, f);
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let e: i32 = e.parse().unwrap_or(0);
                let s = if e < -4 || e >= p as i32 {
                    let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
                    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.unsigned_abs())
                } else {
                    let decimals = (p as i32 - 1 - e).max(0) as usize;
                    let s = format!("{f:.decimals$}");
                    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
                };
                if verb == 'G' { s.to_uppercase() } else { s }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_widths_and_mismatches_print_as_go_does() {
        let s = |x: &str| Val::str(x);
        assert_eq!(sprintf("%s-%s", &[s("a"), s("b")]), "a-b");
        assert_eq!(sprintf("%5s|%-5s|", &[s("ab"), s("cd")]), "   ab|cd   |");
        assert_eq!(
            sprintf(
                "%05d %x %X %o %b",
                &[Val::Int(42), Val::Int(255), Val::Int(255), Val::Int(8), Val::Int(5)]
            ),
            "00042 ff FF 10 101"
        );
        assert_eq!(
            sprintf("%q %v %t", &[s("a\"b\n"), Val::Nil, Val::Bool(true)]),
            "\"a\\\"b\\n\" <nil> true"
        );
        assert_eq!(
            sprintf(
                "%.2f %f %e %g",
                &[Val::Float(3.14259), Val::Float(1.5), Val::Float(1234.5), Val::Float(1e6)]
            ),
            "3.14 1.500000 1.234500e+03 1e+06"
        );
        assert_eq!(sprintf("%d", &[Val::Float(3.0)]), "%!d(float64=3)");
        assert_eq!(sprintf("%s", &[Val::Int(3)]), "%!s(int=3)");
        assert_eq!(sprintf("%s %s", &[s("a")]), "a %!s(MISSING)");
        assert_eq!(sprintf("%s", &[s("a"), Val::Int(1)]), "a%!(EXTRA int=1)");
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%v", &[Val::list(vec![s("a"), Val::Int(1)])]), "[a 1]");
        assert_eq!(sprintf("%s", &[Val::list(vec![s("a"), s("b")])]), "[a b]");
        assert_eq!(sprintf("%.3g|%6.2f", &[Val::Float(3.14259), Val::Float(2.5)]), "3.14|  2.50");
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        assert_eq!(sprint(&[Val::str("a"), Val::Int(1), Val::Int(2), Val::str("b")]), "a1 2b");
        assert_eq!(sprintln(&[Val::str("a"), Val::Int(1)]), "a 1\n");
    }
}
