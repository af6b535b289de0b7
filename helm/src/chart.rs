//! Loading a chart: a directory or a `.tgz` (as `helm package` makes), into its files.
//!
//! `.helmignore` is honoured for directories (simple globs: `*`, `?`, a trailing `/` for
//! directories, `!` to re-include). Subcharts (`charts/`, `dependencies:`) and library charts
//! are refused with a clear error rather than rendered wrongly.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use crate::value::{Val, format_float_g};
use crate::yaml_in::parse_document;

/// The most a chart's files may hold, in all and each (Helm's limits are of this order).
const MAX_TOTAL: u64 = 100 << 20;
const MAX_FILE: u64 = 5 << 20;

/// A loaded chart.
#[derive(Clone, Debug)]
pub struct Chart {
    /// Every file, by its path relative to the chart root (`templates/deployment.yaml`).
    pub files: BTreeMap<String, Vec<u8>>,
    /// Chart.yaml's fields that matter here.
    pub metadata: Metadata,
}

/// The fields of Chart.yaml.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `appVersion`.
    pub app_version: String,
    /// `kubeVersion`: a semver constraint on the cluster.
    pub kube_version: String,
    /// The text of Chart.yaml, for `.Chart` (kept as text: a chart is shared across threads,
    /// template values are not).
    pub chart_yaml: String,
}

impl Chart {
    /// Loads a chart directory or `.tgz`/`.tar.gz` archive.
    pub fn load(path: &Path) -> Result<Chart, String> {
        let files = if path.is_dir() { read_dir(path)? } else { read_tgz(path)? };
        Chart::from_files(files)
    }

    /// A chart from its files.
    pub fn from_files(files: BTreeMap<String, Vec<u8>>) -> Result<Chart, String> {
        let chart_yaml = files.get("Chart.yaml").ok_or("the chart has no Chart.yaml")?;
        let text = std::str::from_utf8(chart_yaml).map_err(|_| "Chart.yaml is not UTF-8".to_owned())?;
        let raw = parse_document(text).map_err(|e| format!("Chart.yaml: {e}"))?;
        let Val::Map(m) = &raw else {
            return Err("Chart.yaml is not a mapping".to_owned());
        };
        let field = |k: &str| -> String {
            match m.borrow().get(k) {
                Some(Val::Str(s)) => s.to_string(),
                Some(Val::Float(f)) => format_float_g(*f),
                Some(Val::Nil) | None => String::new(),
                Some(other) => other.go_string(),
            }
        };
        let metadata = Metadata {
            name: field("name"),
            version: field("version"),
            app_version: field("appVersion"),
            kube_version: field("kubeVersion"),
            chart_yaml: text.to_owned(),
        };
        if metadata.name.is_empty() {
            return Err("Chart.yaml: name is required".to_owned());
        }
        if metadata.version.is_empty() {
            return Err("Chart.yaml: version is required".to_owned());
        }
        crate::semver::Version::parse(&metadata.version)
            .map_err(|_| format!("Chart.yaml: version {:?} is not a semantic version", metadata.version))?;
        match field("apiVersion").as_str() {
            "v1" | "v2" => {}
            "" => return Err("Chart.yaml: apiVersion is required".to_owned()),
            other => return Err(format!("Chart.yaml: apiVersion {other:?} is not supported (v1 or v2)")),
        }
        if field("type") == "library" {
            return Err(format!("{} is a library chart: it cannot be rendered on its own", metadata.name));
        }
        let has_deps = matches!(m.borrow().get("dependencies"), Some(Val::List(l)) if !l.is_empty());
        if has_deps
            || files.keys().any(|k| k.starts_with("charts/"))
            || files.contains_key("requirements.yaml")
        {
            return Err(format!(
                "{}: subcharts (charts/, dependencies) are not supported; render each chart with its own helm_template",
                metadata.name
            ));
        }
        Ok(Chart { files, metadata })
    }

    /// The text of a file.
    pub fn text(&self, path: &str) -> Result<Option<String>, String> {
        match self.files.get(path) {
            None => Ok(None),
            Some(b) => String::from_utf8(b.clone()).map(Some).map_err(|_| format!("{path} is not UTF-8")),
        }
    }

    /// `.Chart`: Chart.yaml's fields under the names Helm's `chart.Metadata` gives them.
    pub fn object(&self) -> Val {
        let Ok(Val::Map(m)) = parse_document(&self.metadata.chart_yaml) else { return Val::empty_map() };
        let m = m.borrow();
        let names = [
            ("name", "Name"),
            ("home", "Home"),
            ("sources", "Sources"),
            ("version", "Version"),
            ("description", "Description"),
            ("keywords", "Keywords"),
            ("maintainers", "Maintainers"),
            ("icon", "Icon"),
            ("apiVersion", "APIVersion"),
            ("condition", "Condition"),
            ("tags", "Tags"),
            ("appVersion", "AppVersion"),
            ("deprecated", "Deprecated"),
            ("annotations", "Annotations"),
            ("kubeVersion", "KubeVersion"),
            ("dependencies", "Dependencies"),
            ("type", "Type"),
        ];
        let mut out = BTreeMap::new();
        for (yaml, go) in names {
            let v = match (go, m.get(yaml)) {
                ("Version", _) => Val::str(self.metadata.version.as_str()),
                ("AppVersion", _) => Val::str(self.metadata.app_version.as_str()),
                ("Deprecated", None) => Val::Bool(false),
                ("Sources" | "Keywords" | "Maintainers" | "Dependencies", None) => Val::Nil,
                ("Annotations", None) => Val::Nil,
                ("Maintainers", Some(Val::List(l))) => Val::list(
                    l.iter()
                        .map(|mt| {
                            let get = |k: &str| match mt {
                                Val::Map(mm) => mm.borrow().get(k).cloned().unwrap_or_else(|| Val::str("")),
                                _ => Val::str(""),
                            };
                            Val::map(BTreeMap::from([
                                ("Name".to_owned(), get("name")),
                                ("Email".to_owned(), get("email")),
                                ("URL".to_owned(), get("url")),
                            ]))
                        })
                        .collect(),
                ),
                (_, Some(v)) => v.clone(),
                (_, None) => Val::str(""),
            };
            out.insert(go.to_owned(), v);
        }
        Val::map(out)
    }
}

fn read_dir(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let ignore = match std::fs::read_to_string(root.join(".helmignore")) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let file_type = entry.file_type().map_err(|e| format!("cannot read {path}: {e}"))?;
            if ignored(&ignore, &path, file_type.is_dir()) {
                continue;
            }
            if file_type.is_dir() {
                stack.push((entry.path(), path));
            } else if file_type.is_file() {
                let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                total += len;
                if len > MAX_FILE || total > MAX_TOTAL {
                    return Err(format!("{path}: the chart is too large"));
                }
                let bytes = std::fs::read(entry.path()).map_err(|e| format!("cannot read {path}: {e}"))?;
                files.insert(path, bytes);
            }
        }
    }
    Ok(files)
}

fn read_tgz(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let entries =
        archive.entries().map_err(|e| format!("{}: not a gzipped tar archive: {e}", path.display()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .to_string_lossy()
            .replace('\\', "/");
        let Some((_, rel)) = name.split_once('/') else { continue };
        if rel.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(format!("{}: an entry with an unsafe path", path.display()));
        }
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        total += bytes.len() as u64;
        if bytes.len() as u64 > MAX_FILE || total > MAX_TOTAL {
            return Err(format!("{}: the chart is too large", path.display()));
        }
        files.insert(rel.to_owned(), bytes);
    }
    Ok(files)
}

/// Whether `.helmignore`'s patterns exclude a path (the last matching pattern decides).
fn ignored(patterns: &[String], path: &str, is_dir: bool) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    let mut out = false;
    for p in patterns {
        let (negate, p) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p.as_str()),
        };
        let (dir_only, p) = match p.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, p),
        };
        if dir_only && !is_dir {
            continue;
        }
        let hit = if p.contains('/') { glob(p.trim_start_matches('/'), path) } else { glob(p, base) };
        if hit {
            out = !negate;
        }
    }
    out
}

/// `*` (not across `/`) and `?` globbing.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' && t[ti] != '/' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star
            && t[mark] != '/'
        {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helmignore_globs() {
        let pats: Vec<String> =
            ["*.swp", ".git/", "docs/*.md", "!keep.swp"].iter().map(|s| s.to_string()).collect();
        assert!(ignored(&pats, "templates/a.swp", false));
        assert!(!ignored(&pats, "keep.swp", false));
        assert!(ignored(&pats, ".git", true));
        assert!(!ignored(&pats, ".git", false));
        assert!(ignored(&pats, "docs/a.md", false));
        assert!(!ignored(&pats, "docs/x/a.md", false));
    }

    #[test]
    fn subcharts_and_library_charts_are_refused() {
        let base = |extra: &str| {
            let mut f = BTreeMap::new();
            f.insert(
                "Chart.yaml".to_owned(),
                format!("apiVersion: v2\nname: c\nversion: 1.0.0\n{extra}").into_bytes(),
            );
            f
        };
        assert!(Chart::from_files(base("")).is_ok());
        assert!(Chart::from_files(base("type: library\n")).unwrap_err().contains("library"));
        assert!(Chart::from_files(base("dependencies: [{name: x}]\n")).unwrap_err().contains("subcharts"));
        let mut with_sub = base("");
        with_sub.insert("charts/x/Chart.yaml".to_owned(), Vec::new());
        assert!(Chart::from_files(with_sub).unwrap_err().contains("subcharts"));
        assert!(
            Chart::from_files(base("").into_keys().map(|k| (k, b"name: c\n".to_vec())).collect()).is_err()
        );
    }
}
