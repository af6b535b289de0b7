//! Semantic versions and constraints as Masterminds/semver v3 reads them (`semverCompare`, and
//! a chart's `kubeVersion`).
//!
//! Versions may start with `v` and omit minor and patch (`v1.30`). Constraints: `=`, `!=`, `>`,
//! `<`, `>=`, `<=` (also `=>`, `=<`), `~`, `~>`, `^`, wildcards (`1.2.x`, `*`), hyphen ranges
//! (`1.2 - 1.4.5`), AND by spaces or commas, OR by `||`. As in v3, a version with a prerelease
//! (`1.30.0-gke.1`) satisfies a constraint only when the constraint has a prerelease itself,
//! which is why charts write `>= 1.24.0-0`.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major, minor, patch.
    pub nums: [u64; 3],
    /// The prerelease, without its `-`.
    pub pre: String,
}

impl Version {
    /// Reads `v1.2.3-pre+meta`, `1.2`, `1`.
    pub fn parse(s: &str) -> Result<Version, String> {
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let t = t.split_once('+').map_or(t, |(v, _)| v);
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, p.to_owned()),
            None => (t, String::new()),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty()
            || parts.len() > 3
            || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("invalid semantic version: {s:?}"));
        }
        let mut nums = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            nums[i] = p.parse().map_err(|_| format!("invalid semantic version: {s:?}"))?;
        }
        Ok(Version { nums, pre })
    }

    fn cmp_pre(&self, other: &Version) -> Ordering {
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let (a, b): (Vec<&str>, Vec<&str>) =
                    (self.pre.split('.').collect(), other.pre.split('.').collect());
                for (x, y) in a.iter().zip(b.iter()) {
                    let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                        (Ok(m), Ok(n)) => m.cmp(&n),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => x.cmp(y),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.nums.cmp(&other.nums).then_with(|| self.cmp_pre(other))
    }
}

/// One term of a constraint: operator, version, and how many of its parts were given.
struct Term {
    op: String,
    v: Version,
    /// Parts given before a wildcard or the end: `1.2` and `1.2.x` give 2.
    given: usize,
}

fn term(text: &str) -> Result<Term, String> {
    let t = text.trim();
    let ops = ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"];
    let op = ops.iter().find(|o| t.starts_with(**o)).copied().unwrap_or("");
    let rest = t[op.len()..].trim();
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (core, suffix) = match rest.find(['-', '+']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut given = 0;
    let mut nums = Vec::new();
    for p in core.split('.') {
        if matches!(p, "x" | "X" | "*") {
            break;
        }
        nums.push(p);
        given += 1;
    }
    if given > 3 || (given == 0 && !matches!(core, "x" | "X" | "*" | "")) {
        return Err(format!("improper constraint: {t}"));
    }
    let mut padded: Vec<&str> = nums.clone();
    while padded.len() < 3 {
        padded.push("0");
    }
    let v = Version::parse(&format!("{}{}", padded.join("."), if given == 3 { suffix } else { "" }))
        .map_err(|_| format!("improper constraint: {t}"))?;
    let op = match op {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        o => o,
    };
    Ok(Term { op: op.to_owned(), v, given })
}

fn bump(v: &Version, part: usize) -> Version {
    let mut nums = v.nums;
    nums[part] += 1;
    for n in nums.iter_mut().skip(part + 1) {
        *n = 0;
    }
    Version { nums, pre: String::new() }
}

fn check(t: &Term, v: &Version) -> bool {
    if !v.pre.is_empty() && t.v.pre.is_empty() {
        return false;
    }
    let upto = |n: usize| v.nums[..n] == t.v.nums[..n];
    match t.op.as_str() {
        "" | "=" => {
            if t.given < 3 {
                upto(t.given)
            } else {
                v == &t.v
            }
        }
        "!=" => {
            if t.given < 3 {
                !upto(t.given)
            } else {
                v != &t.v
            }
        }
        ">" => {
            if t.given < 3 {
                t.given > 0 && v.nums[..t.given] > t.v.nums[..t.given]
            } else {
                v > &t.v
            }
        }
        ">=" => v >= &t.v,
        "<" => v < &t.v,
        "<=" => {
            if t.given < 3 {
                t.given == 0 || v.nums[..t.given] <= t.v.nums[..t.given]
            } else {
                v <= &t.v
            }
        }
        "~" => v >= &t.v && *v < bump(&t.v, if t.given >= 2 { 1 } else { 0 }),
        "^" => {
            let upper = if t.v.nums[0] > 0 || t.given == 1 {
                bump(&t.v, 0)
            } else if t.v.nums[1] > 0 || t.given == 2 {
                bump(&t.v, 1)
            } else {
                bump(&t.v, 2)
            };
            v >= &t.v && *v < upper
        }
        _ => false,
    }
}

/// Whether `version` satisfies `constraint`.
pub fn compare(constraint: &str, version: &str) -> Result<bool, String> {
    let v = Version::parse(version)?;
    satisfies(constraint, &v)
}

/// Whether `v` satisfies `constraint`.
pub fn satisfies(constraint: &str, v: &Version) -> Result<bool, String> {
    let mut any = false;
    for alt in constraint.split("||") {
        // Hyphen ranges first: `a - b` is `>= a, <= b`.
        let alt = alt.trim();
        let mut terms = Vec::new();
        let spaced = alt.replace(',', " ");
        let words: Vec<&str> = spaced.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            if words.get(i + 1) == Some(&"-") && i + 2 < words.len() {
                terms.push(term(&format!(">={w}"))?);
                let hi = term(words[i + 2])?;
                terms.push(Term { op: "<=".to_owned(), ..hi });
                i += 3;
            } else if matches!(w, "=" | "!=" | ">" | "<" | ">=" | "<=" | "=>" | "=<" | "~" | "~>" | "^")
                && i + 1 < words.len()
            {
                terms.push(term(&format!("{w}{}", words[i + 1]))?);
                i += 2;
            } else {
                terms.push(term(w)?);
                i += 1;
            }
        }
        if terms.is_empty() {
            return Err(format!("improper constraint: {constraint}"));
        }
        if terms.iter().all(|t| check(t, v)) {
            any = true;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_as_masterminds_reads_them() {
        let cases = [
            (">= 1.24.0-0", "v1.30.0", true),
            (">= 1.24.0-0", "1.20.0", false),
            (">=1.24.0", "1.30.0-gke.1", false),
            (">=1.24.0-0", "1.30.0-gke.1", true),
            ("<1.25", "1.24.9", true),
            ("<1.25", "1.25.0", false),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.3.0", false),
            ("1.2.x", "1.2.7", true),
            ("1.2.x", "1.3.0", false),
            ("*", "3.0.0", true),
            (">=1.20, <1.25", "1.22.1", true),
            (">=1.20 <1.25", "1.26.0", false),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("<1.0 || >=2.0", "2.1.0", true),
            ("<1.0 || >=2.0", "1.5.0", false),
            ("!=1.2.3", "1.2.3", false),
            ("=1.2.3", "v1.2.3", true),
        ];
        for (c, v, want) in cases {
            assert_eq!(compare(c, v).unwrap(), want, "{c} vs {v}");
        }
        assert!(compare(">= x.y", "1.0.0").is_err());
        assert!(compare(">=1.0", "not-a-version").is_err());
    }
}
