//! `toYaml` and `toJson` as Helm produces them.
//!
//! Helm's `toYaml` is `sigs.k8s.io/yaml.Marshal`: the value goes through JSON (so a float that
//! is a whole number becomes an integer) and is written by go-yaml v2's emitter. What that
//! emitter does, and what this module reproduces:
//!
//! - block style, 2-space indentation, sequences inside mappings not indented (`key:\n- a`);
//! - keys in go-yaml's "natural" order (digit runs compared as numbers, non-letters before
//!   letters);
//! - strings plain when they would read back as the same string; double-quoted when they
//!   would read as something else (`"true"`, `"1.5"`, `"2024-01-01"`, `""`, `"yes"`);
//!   single-quoted when a plain scalar cannot hold them (`': x'`, `'- a'`, `'a: b'`);
//!   literal block scalars (`|-`, `|`, `|+`) for multi-line strings, double-quoted when a line
//!   ends in a space;
//! - long strings folded at spaces beyond column 80 (go-yaml v2's line width);
//! - `{}` and `[]` for empty maps and lists, `null` for nil.
//!
//! Keys longer than 128 characters, which go-yaml writes as complex keys (`? key`), are written
//! as simple keys here.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::value::{MAX_DEPTH, Native, Val, format_float_g};

const WIDTH: usize = 80;

/// The YAML go-yaml v2 writes for `v` (ending in a newline), or an error for values JSON cannot
/// hold (NaN, infinities) or that nest too deeply.
pub fn to_yaml(v: &Val) -> Result<String, String> {
    let mut out = String::new();
    match v {
        Val::Map(m) if !m.borrow().is_empty() => write_map(&mut out, v, 0, false, 0)?,
        Val::List(l) if !l.is_empty() => write_list(&mut out, v, 0, false, 0)?,
        other => {
            write_inline(&mut out, other, 2, 0)?;
            out.push('\n');
        }
    }
    Ok(out)
}

fn entries(v: &Val) -> Vec<(String, Val)> {
    match v {
        Val::Map(m) => {
            let mut e: Vec<(String, Val)> = m.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            e.sort_by(|a, b| natural_cmp(&a.0, &b.0));
            e
        }
        _ => Vec::new(),
    }
}

fn is_block(v: &Val) -> bool {
    match v {
        Val::Map(m) => !m.borrow().is_empty(),
        Val::List(l) => !l.is_empty(),
        Val::Native(n) => matches!(&**n, Native::ApiVersions(v) if !v.is_empty()),
        _ => false,
    }
}

fn as_plain(v: &Val) -> Val {
    match v {
        Val::Native(n) => match &**n {
            Native::ApiVersions(v) => Val::list(v.iter().map(|s| Val::str(s.as_str())).collect()),
            Native::Files(_) => Val::empty_map(),
        },
        other => other.clone(),
    }
}

fn write_map(
    out: &mut String,
    v: &Val,
    indent: usize,
    first_inline: bool,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("the value nests too deeply".to_owned());
    }
    for (i, (k, val)) in entries(v).into_iter().enumerate() {
        if i > 0 || !first_inline {
            out.push_str(&" ".repeat(indent));
        }
        write_string(out, &k, indent + 2, true);
        out.push(':');
        let val = as_plain(&val);
        match &val {
            Val::Map(_) if is_block(&val) => {
                out.push('\n');
                write_map(out, &val, indent + 2, false, depth + 1)?;
            }
            Val::List(_) if is_block(&val) => {
                out.push('\n');
                write_list(out, &val, indent, false, depth + 1)?;
            }
            other => {
                out.push(' ');
                write_inline(out, other, indent + 2, depth)?;
                out.push('\n');
            }
        }
    }
    Ok(())
}

fn write_list(
    out: &mut String,
    v: &Val,
    indent: usize,
    first_inline: bool,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("the value nests too deeply".to_owned());
    }
    let Val::List(items) = v else { return Ok(()) };
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !first_inline {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        let item = as_plain(item);
        match &item {
            Val::Map(_) if is_block(&item) => write_map(out, &item, indent + 2, true, depth + 1)?,
            Val::List(_) if is_block(&item) => write_list(out, &item, indent + 2, true, depth + 1)?,
            other => {
                write_inline(out, other, indent + 2, depth)?;
                out.push('\n');
            }
        }
    }
    Ok(())
}

/// A scalar, `{}` or `[]`, written where the cursor is (after `key: ` or `- `). Block scalars
/// end with their own newline stripped, so that the caller's newline ends them.
fn write_inline(out: &mut String, v: &Val, indent: usize, depth: usize) -> Result<(), String> {
    match v {
        Val::Nil => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Val::Float(f) => {
            if !f.is_finite() {
                return Err("json: unsupported value: a non-finite float".to_owned());
            }
            if f.fract() == 0.0 && f.abs() < 1e21 {
                // JSON writes it without a fraction, and go-yaml reads that back as an integer.
                let _ = write!(out, "{f:.0}");
            } else {
                out.push_str(&format_float_g(*f));
            }
        }
        Val::Str(s) => {
            write_string(out, s, indent, false);
            if out.ends_with('\n') {
                out.pop();
            }
        }
        Val::Map(_) => out.push_str("{}"),
        Val::List(_) => out.push_str("[]"),
        Val::Native(_) => {
            let plain = as_plain(v);
            if depth > MAX_DEPTH {
                return Err("the value nests too deeply".to_owned());
            }
            write_inline(out, &plain, indent, depth + 1)?;
        }
    }
    Ok(())
}

fn column(out: &str) -> usize {
    out.rsplit('\n').next().map_or(0, |l| l.chars().count())
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || u == 0x85
        || ((0xa0..=0xd7ff).contains(&u))
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
        || (0x10000..=0x10ffff).contains(&u)
}

/// Picks the style go-yaml's encoder and emitter would pick.
fn style(s: &str, key: bool) -> Style {
    if resolves_to_non_string(s) || is_base60_float(s) {
        return Style::Double;
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let (mut flow_ind, mut block_ind) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut prev_space, mut prev_break) = (false, false, false, false);
    let (mut special, mut line_breaks) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        flow_ind = true;
        block_ind = true;
    }
    let mut preceded_by_ws = true;
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_ws = next.is_none_or(|n| n == ' ' || n == '\t' || is_break(n));
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_ind = true;
                block_ind = true;
            }
            if c == '?' || c == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if c == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_ind = true;
            }
            if c == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if c == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = c == ' ' || c == '\t' || is_break(c);
    }
    let mut plain = !(leading_space || leading_break || trailing_space || trailing_break || block_ind);
    let mut single = true;
    let mut block = !trailing_space;
    if break_space {
        plain = false;
        single = false;
    }
    if space_break || special {
        plain = false;
        single = false;
        block = false;
    }
    if line_breaks {
        plain = false;
    }
    let _ = flow_ind;
    if s.contains('\n') {
        return if block && !key { Style::Literal } else { Style::Double };
    }
    if plain {
        Style::Plain
    } else if single {
        Style::Single
    } else {
        Style::Double
    }
}

/// Whether go-yaml v2 would read the plain scalar as something other than a string.
pub fn resolves_to_non_string(s: &str) -> bool {
    match s {
        "" | "~" | "null" | "Null" | "NULL" | "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No"
        | "NO" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "on" | "On" | "ON" | "off"
        | "Off" | "OFF" | ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf"
        | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | "<<" => true,
        _ => {
            let Some(first) = s.chars().next() else { return true };
            if !("+-0123456789.".contains(first)) {
                return false;
            }
            go_int(s).is_some() || is_yaml_float(s) || is_timestamp(s)
        }
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` (and go-yaml's `0b` forms).
pub fn go_int(s: &str) -> Option<i64> {
    match crate::lex::parse_number(s) {
        Some(crate::lex::Tok::Int(i)) => Some(i),
        _ => None,
    }
}

/// go-yaml's float syntax: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
pub fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml v2's timestamps: `2006-1-2`, optionally followed by `T`/`t`/space and a time.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let date_end = rest.find(['T', 't', ' ']).unwrap_or(rest.len());
    let date: Vec<&str> = rest[..date_end].split('-').collect();
    let ok_date = date.len() == 2
        && date.iter().all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()));
    if !ok_date {
        return false;
    }
    if date_end == rest.len() {
        return true;
    }
    let time = rest[date_end + 1..].trim_start();
    let hms: Vec<&str> = time.split(':').collect();
    hms.len() >= 3 && hms[0].len() <= 2 && hms[0].bytes().all(|c| c.is_ascii_digit()) && !hms[0].is_empty()
}

/// go-yaml v2's YAML 1.1 sexagesimal floats (`1:20`), which it quotes.
fn is_base60_float(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = match t.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (t, None),
    };
    let mut parts = main.split(':');
    let Some(head) = parts.next() else { return false };
    if head.is_empty()
        || !head.starts_with(|c: char| c.is_ascii_digit())
        || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return false;
    }
    let mut count = 0;
    for p in parts {
        count += 1;
        let ok = (1..=2).contains(&p.len())
            && p.bytes().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || p.as_bytes()[0] <= b'5');
        if !ok {
            return false;
        }
    }
    count > 0 && frac.is_none_or(|f| f.bytes().all(|c| c.is_ascii_digit() || c == b'_'))
}

/// Writes a string scalar at the cursor; continuation lines at `indent`.
fn write_string(out: &mut String, s: &str, indent: usize, key: bool) {
    let pad = " ".repeat(indent);
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    match style(s, key) {
        Style::Plain => {
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                if c == ' ' {
                    if !key && !spaces && column(out) > WIDTH && chars.get(i + 1).is_some_and(|&n| n != ' ') {
                        out.push('\n');
                        out.push_str(&pad);
                    } else {
                        out.push(c);
                    }
                    spaces = true;
                } else {
                    out.push(c);
                    spaces = false;
                }
            }
        }
        Style::Single => {
            out.push('\'');
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                if c == ' ' {
                    if !key
                        && !spaces
                        && column(out) > WIDTH
                        && i != 0
                        && i + 1 != n
                        && chars.get(i + 1).is_some_and(|&n| n != ' ')
                    {
                        out.push('\n');
                        out.push_str(&pad);
                    } else {
                        out.push(c);
                    }
                    spaces = true;
                } else {
                    if c == '\'' {
                        out.push('\'');
                    }
                    out.push(c);
                    spaces = false;
                }
            }
            out.push('\'');
        }
        Style::Double => {
            out.push('"');
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                    match c {
                        '\0' => out.push_str("\\0"),
                        '\u{7}' => out.push_str("\\a"),
                        '\u{8}' => out.push_str("\\b"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\u{b}' => out.push_str("\\v"),
                        '\u{c}' => out.push_str("\\f"),
                        '\r' => out.push_str("\\r"),
                        '\u{1b}' => out.push_str("\\e"),
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\u{85}' => out.push_str("\\N"),
                        '\u{a0}' => out.push_str("\\_"),
                        '\u{2028}' => out.push_str("\\L"),
                        '\u{2029}' => out.push_str("\\P"),
                        c if (c as u32) <= 0xff => {
                            let _ = write!(out, "\\x{:02X}", c as u32);
                        }
                        c if (c as u32) <= 0xffff => {
                            let _ = write!(out, "\\u{:04X}", c as u32);
                        }
                        c => {
                            let _ = write!(out, "\\U{:08X}", c as u32);
                        }
                    }
                    spaces = false;
                } else if c == ' ' {
                    if !key && !spaces && column(out) > WIDTH && i != 0 && i + 1 != n {
                        out.push('\n');
                        out.push_str(&pad);
                        if chars.get(i + 1) == Some(&' ') {
                            out.push('\\');
                        }
                    } else {
                        out.push(c);
                    }
                    spaces = true;
                } else {
                    out.push(c);
                    spaces = false;
                }
            }
            out.push('"');
        }
        Style::Literal => {
            out.push('|');
            if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
                out.push('2');
            }
            let trailing_breaks = chars.iter().rev().take_while(|&&c| is_break(c)).count();
            if trailing_breaks == 0 {
                out.push('-');
            } else if trailing_breaks > 1 || n == 1 {
                out.push('+');
            }
            out.push('\n');
            let mut line_start = true;
            for &c in &chars {
                if c == '\n' {
                    out.push('\n');
                    line_start = true;
                } else {
                    if line_start {
                        out.push_str(&pad);
                        line_start = false;
                    }
                    out.push(c);
                }
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
    }
}

/// go-yaml v2's order of map keys: runs of digits compare as numbers, a non-letter sorts before
/// a letter, letters by code point.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl { Ordering::Less } else { Ordering::Greater };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let (mut ai, mut bi) = (i, i);
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.saturating_mul(10).saturating_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.saturating_mul(10).saturating_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// Go's `json.Marshal` of a value: sorted keys, no spaces, `<`, `>`, `&` escaped when
/// `html_safe` (as `toJson` does), floats in Go's JSON form.
pub fn to_json(v: &Val, html_safe: bool) -> Result<String, String> {
    let mut out = String::new();
    json(&mut out, v, html_safe, 0)?;
    Ok(out)
}

fn json(out: &mut String, v: &Val, html: bool, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("json: the value nests too deeply".to_owned());
    }
    match v {
        Val::Nil => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Val::Float(f) => {
            if !f.is_finite() {
                return Err("json: unsupported value".to_owned());
            }
            let a = f.abs();
            if a != 0.0 && !(1e-6..1e21).contains(&a) {
                let e = format!("{f:e}");
                let (m, x) = e.split_once('e').unwrap_or((&e, "0"));
                let x: i32 = x.parse().unwrap_or(0);
                let _ = write!(out, "{m}e{}{}", if x < 0 { '-' } else { '+' }, x.unsigned_abs());
            } else {
                let _ = write!(out, "{f}");
            }
        }
        Val::Str(s) => json_string(out, s, html),
        Val::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(out, x, html, depth + 1)?;
            }
            out.push(']');
        }
        Val::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k, html);
                out.push(':');
                json(out, x, html, depth + 1)?;
            }
            out.push('}');
        }
        Val::Native(_) => json(out, &as_plain(v), html, depth + 1)?,
    }
    Ok(())
}

fn json_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
