//! `helm template`: a chart, values and release details in; documents out, keyed and ordered.
//!
//! What Helm does and this reproduces: every file under `templates/` is parsed into one set
//! (so `define`s are shared); files whose name starts with `_` are not output; `NOTES.txt` is
//! rendered apart; each output has `<no value>` removed and is split on `---` lines; empty
//! documents are dropped; documents annotated `helm.sh/hook` are hooks, kept apart; the rest
//! are ordered by Helm's install order of kinds (files by path, documents in file order within a
//! kind). Files under `crds/` are not templated.
//!
//! Rendering runs on a thread of its own with a large stack, so that a chart that nests
//! `include`s deeply fails with an error, never a stack overflow.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::chart::Chart;
use crate::exec::{Body, Templates};
use crate::value::{Native, Val};
use crate::values;
use crate::yaml_in::parse_document;

/// Helm's install order of kinds; unknown kinds come after, by kind name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The group/versions `.Capabilities.APIVersions` holds besides those given: the built-in
/// Kubernetes APIs `helm template` assumes.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "apiregistration.k8s.io/v1",
    "apps/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "certificates.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
    "networking.k8s.io/v1",
    "node.k8s.io/v1",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1",
];

/// The Kubernetes version assumed when none is given.
pub const DEFAULT_KUBE_VERSION: &str = "1.31.0";

/// The release and values to render a chart with.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// `.Release.Name`.
    pub release_name: String,
    /// `.Release.Namespace` (`default` when empty).
    pub namespace: String,
    /// YAML documents merged in order over the chart's values.
    pub values: Vec<String>,
    /// Dotted paths set last (`image.tag` = `"1.2"`), typed as `--set` types them.
    pub set: BTreeMap<String, String>,
    /// `.Capabilities.KubeVersion` (`1.30.0` or `v1.30.0`); [`DEFAULT_KUBE_VERSION`] if none.
    pub kube_version: Option<String>,
    /// Extra entries of `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// Put the `crds/` documents into `manifests` and `order` too (`--include-crds`).
    pub include_crds: bool,
}

/// What a chart rendered to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    /// Each object's YAML document by key (see [`key`]); hooks are not here.
    pub manifests: BTreeMap<String, String>,
    /// The keys of `manifests` in Helm's install order.
    pub order: Vec<String>,
    /// The `crds/` documents by key.
    pub crds: BTreeMap<String, String>,
    /// Hook documents (annotated `helm.sh/hook`) by key.
    pub hooks: BTreeMap<String, String>,
    /// The rendered `templates/NOTES.txt` (empty when the chart has none).
    pub notes: String,
    /// The template each key came from (`chart/templates/deployment.yaml`).
    pub sources: BTreeMap<String, String>,
}

/// A render that failed: a chart, values or template problem, said as Helm says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderError(pub String);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

/// The identity a document is keyed by: `<group>/<Kind>/<namespace>/<name>`, with `core` for
/// the core group and an empty namespace when the document has none (`rbac.authorization.k8s.io/
/// ClusterRole//trident-operator`). The version is left out so that a chart moving an object
/// to a newer API version keeps its key (and its `for_each` instance).
pub fn key(api_version: &str, kind: &str, namespace: &str, name: &str) -> String {
    let group = match api_version.rsplit_once('/') {
        Some((g, _)) => g,
        None => "core",
    };
    format!("{group}/{kind}/{namespace}/{name}")
}

/// Renders a chart as `helm template` would.
pub fn render(chart: &Chart, options: &RenderOptions) -> Result<Rendered, RenderError> {
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new().name("helm-render".to_owned()).stack_size(256 << 20);
        match worker.spawn_scoped(s, || render_here(chart, options)) {
            Ok(handle) => {
                handle.join().unwrap_or_else(|_| Err(RenderError("rendering failed unexpectedly".to_owned())))
            }
            Err(e) => Err(RenderError(format!("cannot start the rendering thread: {e}"))),
        }
    })
}

fn err(message: impl Into<String>) -> RenderError {
    RenderError(message.into())
}

struct Doc {
    key: String,
    kind: String,
    text: String,
    source: String,
    hook: bool,
}

fn render_here(chart: &Chart, options: &RenderOptions) -> Result<Rendered, RenderError> {
    let name = chart.metadata.name.clone();
    check_release_name(&options.release_name)?;
    let namespace =
        if options.namespace.is_empty() { "default".to_owned() } else { options.namespace.clone() };

    // Capabilities, and the chart's kubeVersion constraint.
    let kube = options.kube_version.clone().unwrap_or_else(|| DEFAULT_KUBE_VERSION.to_owned());
    let kv = crate::semver::Version::parse(&kube)
        .map_err(|_| err(format!("kube_version {kube:?} is not a version like 1.30.0")))?;
    let git_version = format!("v{}.{}.{}", kv.nums[0], kv.nums[1], kv.nums[2]);
    if !chart.metadata.kube_version.is_empty() {
        let ok = crate::semver::satisfies(&chart.metadata.kube_version, &kv)
            .map_err(|e| err(format!("Chart.yaml: kubeVersion: {e}")))?;
        if !ok {
            return Err(err(format!(
                "chart requires kubeVersion: {} which is incompatible with Kubernetes {git_version}",
                chart.metadata.kube_version
            )));
        }
    }

    // Values.
    let chart_values = match chart.text("values.yaml").map_err(err)? {
        Some(text) => parse_document(&text).map_err(|e| err(format!("{name}/values.yaml: {e}")))?,
        None => Val::Nil,
    };
    let chart_values = match chart_values {
        Val::Nil => Val::empty_map(),
        v @ Val::Map(_) => v,
        _ => return Err(err(format!("{name}/values.yaml is not a mapping"))),
    };
    let mut user = Val::empty_map();
    for (i, text) in options.values.iter().enumerate() {
        let v = parse_document(text).map_err(|e| err(format!("values[{i}]: {e}")))?;
        match v {
            Val::Nil => {}
            v @ Val::Map(_) => user = values::merge(&user, &v),
            _ => return Err(err(format!("values[{i}] is not a mapping"))),
        }
    }
    for (path, value) in &options.set {
        let parts = values::split_path(path).map_err(err)?;
        values::set_path(&user, &parts, values::typed(value));
    }
    let vals = values::coalesce(&user, &chart_values);

    // The built-in objects.
    let mut api_versions: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|s| (*s).to_owned()).collect();
    api_versions.extend(options.api_versions.iter().cloned());
    let map = |pairs: Vec<(&str, Val)>| Val::map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    let capabilities = map(vec![
        ("APIVersions", Val::Native(Rc::new(Native::ApiVersions(api_versions)))),
        (
            "KubeVersion",
            map(vec![
                ("Version", Val::str(git_version.as_str())),
                ("GitVersion", Val::str(git_version.as_str())),
                ("Major", Val::str(kv.nums[0].to_string())),
                ("Minor", Val::str(kv.nums[1].to_string())),
            ]),
        ),
        (
            "HelmVersion",
            map(vec![
                ("Version", Val::str("v3.16.0")),
                ("GitCommit", Val::str("")),
                ("GitTreeState", Val::str("")),
                ("GoVersion", Val::str("")),
            ]),
        ),
    ]);
    let release = map(vec![
        ("Name", Val::str(options.release_name.as_str())),
        ("Namespace", Val::str(namespace.as_str())),
        ("IsInstall", Val::Bool(true)),
        ("IsUpgrade", Val::Bool(false)),
        ("Revision", Val::Int(1)),
        ("Service", Val::str("Helm")),
    ]);
    let other_files: BTreeMap<String, Vec<u8>> = chart
        .files
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("templates/")
                && !matches!(k.as_str(), "Chart.yaml" | "values.yaml" | "values.schema.json")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let files = Val::Native(Rc::new(Native::Files(other_files)));
    let chart_obj = chart.object();

    // Parse every template into one set: deeper paths first, then reverse lexical order, as
    // Helm does, so that the same `define`s win.
    let mut paths: Vec<&String> = chart.files.keys().filter(|k| k.starts_with("templates/")).collect();
    paths.sort_by(|a, b| b.matches('/').count().cmp(&a.matches('/').count()).then_with(|| b.cmp(a)));
    let templates = Templates::new();
    let mut bodies: Vec<(String, Body)> = Vec::new();
    for path in paths {
        let full = format!("{name}/{path}");
        let text = chart.text(path).map_err(err)?.unwrap_or_default();
        let body = templates.add(&full, &text).map_err(|e| err(format!("parse error at ({e})")))?;
        bodies.push((path.clone(), body));
    }
    bodies.sort_by(|a, b| a.0.cmp(&b.0));

    let mut docs: Vec<Doc> = Vec::new();
    let mut notes = String::new();
    for (path, body) in &bodies {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') {
            continue;
        }
        let full = format!("{name}/{path}");
        let top = map(vec![
            ("Values", vals.clone()),
            ("Release", release.clone()),
            ("Chart", chart_obj.clone()),
            ("Capabilities", capabilities.clone()),
            ("Files", files.clone()),
            ("Subcharts", Val::empty_map()),
            (
                "Template",
                map(vec![
                    ("Name", Val::str(full.as_str())),
                    ("BasePath", Val::str(format!("{name}/templates"))),
                ]),
            ),
        ]);
        let out = templates.execute(body, top).map_err(|e| err(e.to_string()))?.replace("<no value>", "");
        if path == "templates/NOTES.txt" {
            notes = out;
            continue;
        }
        if path.ends_with("NOTES.txt") {
            continue;
        }
        for text in split_manifests(&out) {
            docs.extend(read_doc(&full, text)?);
        }
    }

    // crds/: not templated.
    let mut crd_docs: Vec<Doc> = Vec::new();
    for (path, _) in chart
        .files
        .iter()
        .filter(|(k, _)| k.starts_with("crds/") && [".yaml", ".yml", ".json"].iter().any(|e| k.ends_with(e)))
    {
        let full = format!("{name}/{path}");
        let text = chart.text(path).map_err(err)?.unwrap_or_default();
        for doc in split_manifests(&text) {
            crd_docs.extend(read_doc(&full, doc)?);
        }
    }

    // Order: by kind, stable (files were visited by path).
    let rank = |kind: &str| INSTALL_ORDER.iter().position(|k| *k == kind);
    docs.sort_by(|a, b| match (rank(&a.kind), rank(&b.kind)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.kind.cmp(&b.kind),
    });

    let mut rendered = Rendered { notes, ..Rendered::default() };
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for doc in crd_docs.iter().chain(docs.iter()) {
        if let Some(first) = seen.insert(doc.key.clone(), doc.source.clone()) {
            duplicates.push(format!("{} (in {first} and {})", doc.key, doc.source));
        }
    }
    if !duplicates.is_empty() {
        return Err(err(format!("the chart renders objects more than once: {}", duplicates.join(", "))));
    }
    for doc in crd_docs {
        rendered.sources.insert(doc.key.clone(), doc.source);
        if options.include_crds {
            rendered.order.push(doc.key.clone());
            rendered.manifests.insert(doc.key.clone(), doc.text.clone());
        }
        rendered.crds.insert(doc.key, doc.text);
    }
    for doc in docs {
        rendered.sources.insert(doc.key.clone(), doc.source);
        if doc.hook {
            rendered.hooks.insert(doc.key, doc.text);
        } else {
            rendered.order.push(doc.key.clone());
            rendered.manifests.insert(doc.key, doc.text);
        }
    }
    Ok(rendered)
}

/// Helm's release-name rule: a DNS-1123 subdomain of at most 53 characters.
fn check_release_name(name: &str) -> Result<(), RenderError> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 53 || !name.split('.').all(label_ok) {
        return Err(err(format!(
            "release name {name:?} is invalid: lowercase letters, digits, '-' and '.', at most 53 characters"
        )));
    }
    Ok(())
}

/// Helm's `SplitManifests`: documents separated by `---` at a line start (the regex
/// `(?:^|\s*\n)---\s*`), each trimmed, empty ones dropped.
pub fn split_manifests(text: &str) -> Vec<String> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut lines = text.split('\n').peekable();
    let mut first = true;
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("---") {
            // The separator eats the whitespace after it; what follows on the line starts the
            // next document.
            docs.push(std::mem::take(&mut current));
            let rest = rest.trim_start_matches([' ', '\t', '\r', '\x0c']);
            if !rest.is_empty() {
                current.push_str(rest);
                current.push('\n');
            }
            first = false;
            continue;
        }
        let _ = first;
        current.push_str(line);
        if lines.peek().is_some() {
            current.push('\n');
        }
    }
    docs.push(current);
    docs.into_iter()
        .map(|d| d.trim_matches(|c: char| c.is_ascii_whitespace()).to_owned())
        .filter(|d| !d.is_empty())
        .collect()
}

fn read_doc(source: &str, text: String) -> Result<Option<Doc>, RenderError> {
    let v = parse_document(&text).map_err(|e| err(format!("YAML parse error on {source}: {e}")))?;
    let Val::Map(m) = &v else {
        if matches!(v, Val::Nil) {
            return Ok(None);
        }
        return Err(err(format!("{source}: a document is not a mapping (a Kubernetes object)")));
    };
    let m = m.borrow();
    let s = |v: Option<&Val>| match v {
        Some(Val::Str(s)) => s.to_string(),
        _ => String::new(),
    };
    let api_version = s(m.get("apiVersion"));
    let kind = s(m.get("kind"));
    let meta = match m.get("metadata") {
        Some(Val::Map(meta)) => Some(meta.clone()),
        _ => None,
    };
    let name = meta.as_ref().map(|mm| s(mm.borrow().get("name"))).unwrap_or_default();
    let namespace = meta.as_ref().map(|mm| s(mm.borrow().get("namespace"))).unwrap_or_default();
    let hook = meta.as_ref().is_some_and(|mm| match mm.borrow().get("annotations") {
        Some(Val::Map(a)) => a.borrow().contains_key("helm.sh/hook"),
        _ => false,
    });
    if api_version.is_empty() || kind.is_empty() || name.is_empty() {
        return Err(err(format!("{source}: a document without apiVersion, kind or metadata.name")));
    }
    Ok(Some(Doc {
        key: key(&api_version, &kind, &namespace, &name),
        kind,
        text: format!("{text}\n"),
        source: source.to_owned(),
        hook,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_split_on_separator_lines() {
        assert_eq!(
            split_manifests("\n---\na: 1\n---   \n\n---\nb: 2\n--- # c\nc: 3"),
            ["a: 1", "b: 2", "# c\nc: 3"]
        );
        assert_eq!(split_manifests("a: |\n  x---y\n"), ["a: |\n  x---y"]);
    }

    #[test]
    fn keys_leave_the_version_out() {
        assert_eq!(key("v1", "ServiceAccount", "trident", "op"), "core/ServiceAccount/trident/op");
        assert_eq!(
            key("rbac.authorization.k8s.io/v1", "ClusterRole", "", "op"),
            "rbac.authorization.k8s.io/ClusterRole//op"
        );
    }
}
