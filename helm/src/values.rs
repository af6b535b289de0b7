//! Values as Helm combines them: the user's values files merged in order (maps merge key by
//! key, anything else replaces), then `--set` paths, then the whole coalesced over the chart's
//! `values.yaml`, where a user's `null` deletes the chart's default.

use std::collections::BTreeMap;

use crate::value::{MAX_DEPTH, Val};

/// Merges `src` over `dst` as Helm merges several `-f` files: maps recursively, other values
/// (null included) replace.
pub fn merge(dst: &Val, src: &Val) -> Val {
    merge_at(dst, src, 0)
}

fn merge_at(dst: &Val, src: &Val, depth: usize) -> Val {
    match (dst, src) {
        (Val::Map(d), Val::Map(s)) if depth < MAX_DEPTH => {
            let mut out: BTreeMap<String, Val> = d.borrow().clone();
            for (k, sv) in s.borrow().iter() {
                let merged = match out.get(k) {
                    Some(dv) => merge_at(dv, sv, depth + 1),
                    None => sv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Val::map(out)
        }
        (_, s) => s.clone(),
    }
}

/// Coalesces the user's values over the chart's: the user's win, maps merge, and a user's nil
/// removes the key.
pub fn coalesce(user: &Val, chart: &Val) -> Val {
    coalesce_at(user, chart, 0)
}

fn coalesce_at(user: &Val, chart: &Val, depth: usize) -> Val {
    let (Val::Map(u), Val::Map(c)) = (user, chart) else {
        return user.clone();
    };
    if depth > MAX_DEPTH {
        return user.clone();
    }
    let mut out: BTreeMap<String, Val> = u.borrow().clone();
    for (k, cv) in c.borrow().iter() {
        match out.get(k) {
            Some(Val::Nil) => {
                out.remove(k);
            }
            Some(uv @ Val::Map(_)) => {
                let merged = coalesce_at(uv, cv, depth + 1);
                out.insert(k.clone(), merged);
            }
            Some(_) => {}
            None => {
                out.insert(k.clone(), cv.deep_copy());
            }
        }
    }
    Val::map(out)
}

/// A `--set` value as Helm types it: `true`/`false`, `null`, integers without a leading zero
/// (as int64), and strings.
pub fn typed(value: &str) -> Val {
    if value.eq_ignore_ascii_case("true") {
        return Val::Bool(true);
    }
    if value.eq_ignore_ascii_case("false") {
        return Val::Bool(false);
    }
    if value.eq_ignore_ascii_case("null") {
        return Val::Nil;
    }
    if value == "0" {
        return Val::Int(0);
    }
    if !value.is_empty()
        && !value.starts_with('0')
        && let Ok(i) = value.parse::<i64>()
    {
        return Val::Int(i);
    }
    Val::str(value)
}

/// Splits a dotted path (`a.b\.c` is `a`, `b.c`).
pub fn split_path(path: &str) -> Result<Vec<String>, String> {
    let mut parts = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => parts.last_mut().map(|p| p.push(n)).unwrap_or_default(),
                None => return Err(format!("set path {path:?} ends in a backslash")),
            },
            '.' => parts.push(String::new()),
            '[' | ']' => {
                return Err(format!(
                    "set path {path:?}: list indexes are not supported; set the whole list in values"
                ));
            }
            c => parts.last_mut().map(|p| p.push(c)).unwrap_or_default(),
        }
    }
    if parts.iter().any(String::is_empty) {
        return Err(format!("set path {path:?} has an empty key"));
    }
    Ok(parts)
}

/// Sets `path` in `root` (a map), making maps on the way (replacing what is not one).
pub fn set_path(root: &Val, path: &[String], value: Val) {
    let Val::Map(m) = root else { return };
    let Some((last, init)) = path.split_last() else { return };
    let mut cur = m.clone();
    for key in init {
        let next = match cur.borrow().get(key) {
            Some(Val::Map(n)) => Some(n.clone()),
            _ => None,
        };
        let next = match next {
            Some(n) => n,
            None => {
                let fresh = Val::empty_map();
                cur.borrow_mut().insert(key.clone(), fresh.clone());
                match fresh {
                    Val::Map(n) => n,
                    _ => return,
                }
            }
        };
        cur = next;
    }
    cur.borrow_mut().insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml_in::parse_document;

    fn y(s: &str) -> Val {
        parse_document(s).unwrap()
    }

    #[test]
    fn files_merge_in_order_and_nulls_delete_chart_defaults() {
        let chart = y("a: {x: 1, w: 2}\nb: keep\nc: drop\nlist: [1, 2]\n");
        let user = merge(&y("a: {x: 10}\nlist: [3]\n"), &y("a: {z: 30}\nc: null\n"));
        let v = coalesce(&user, &chart);
        assert_eq!(v.go_string(), "map[a:map[w:2 x:10 z:30] b:keep list:[3]]");
    }

    #[test]
    fn set_paths_type_their_values() {
        let root = Val::empty_map();
        set_path(&root, &split_path("a.b").unwrap(), typed("true"));
        set_path(&root, &split_path("a.c").unwrap(), typed("12"));
        set_path(&root, &split_path("a.d").unwrap(), typed("012"));
        set_path(&root, &split_path(r"e\.f").unwrap(), typed("x"));
        assert_eq!(root.go_string(), "map[a:map[b:true c:12 d:012] e.f:x]");
        assert!(matches!(typed("12"), Val::Int(12)));
        assert!(split_path("a[0]").is_err());
        assert!(split_path("a..b").is_err());
    }
}
