//! The provider `helm`: no configuration, one data source, `helm_template`.
//!
//! ```hcl
//! data "helm_template" "trident" {
//!   chart        = "manifests/trident-operator"   # a directory or .tgz, relative to the stack
//!   release_name = "trident"
//!   namespace    = "trident"
//!   values       = [yamlencode({ tridentDebug = false })]
//!   set          = { "imagePullPolicy" = "Always" }
//!   kube_version = "1.30.0"
//!   api_versions = ["snapshot.storage.k8s.io/v1"]
//! }
//! resource "kubernetes_manifest" "trident" {
//!   for_each = data.helm_template.trident.manifests
//!   manifest = each.value
//! }
//! ```
//!
//! Reading renders the chart ([`crate::render()`]); nothing is fetched and nothing is kept. The
//! `id` is the SHA-256 of the inputs and the chart's files, so that a changed chart or value
//! shows as a changed read. Errors name the template and line, never a value (values may hold
//! secrets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lanestack_model::{
    ApplyRequest, AttrType, Attribute, Block, BoxFuture, DataRequest, ErrorKind, Map, PlanRequest,
    PlanResponse, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceSchema, Value,
};

use crate::chart::Chart;
use crate::render::{RenderOptions, render};

/// The provider's name.
pub const PROVIDER_NAME: &str = "helm";
/// The data source's name.
pub const TYPE_NAME: &str = "helm_template";

/// The `helm` provider. Cheap to share: it holds its schema and the stack directory.
#[derive(Debug)]
pub struct HelmProvider {
    schema: ProviderSchema,
    base_dir: PathBuf,
}

impl HelmProvider {
    /// A provider whose relative chart paths resolve against `base_dir` (the stack directory).
    pub fn new(base_dir: impl Into<PathBuf>) -> HelmProvider {
        let mut schema = ProviderSchema::default();
        schema.data_sources.insert(TYPE_NAME.to_owned(), data_schema());
        HelmProvider { schema, base_dir: base_dir.into() }
    }

    /// The directory relative chart paths resolve against.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }
}

/// The schema of `helm_template`.
pub fn data_schema() -> ResourceSchema {
    let strings = || AttrType::List(Box::new(AttrType::String));
    let string_map = || AttrType::Map(Box::new(AttrType::String));
    ResourceSchema::new(
        "A Helm chart rendered as `helm template` renders it: one YAML document per object.",
        Block::new()
            .attr("chart", Attribute::required(AttrType::String).describe("The chart: a directory or .tgz, relative to the stack."))
            .attr("release_name", Attribute::required(AttrType::String).describe("`.Release.Name`."))
            .attr("namespace", Attribute::optional(AttrType::String).describe("`.Release.Namespace` (default `default`)."))
            .attr("values", Attribute::optional(strings()).describe("YAML documents merged in order over the chart's values.yaml."))
            .attr("set", Attribute::optional(string_map()).describe("Dotted paths set last, typed as `helm --set` types them."))
            .attr("kube_version", Attribute::optional(AttrType::String).describe("`.Capabilities.KubeVersion` (default 1.31.0)."))
            .attr("api_versions", Attribute::optional(strings()).describe("Extra `.Capabilities.APIVersions` entries."))
            .attr("include_crds", Attribute::optional(AttrType::Bool).describe("Put the chart's crds/ into `manifests` and `order` too."))
            .attr("manifests", Attribute::computed(string_map()).describe("Each object's YAML document, by `<group>/<Kind>/<namespace>/<name>`; hooks are not here."))
            .attr("order", Attribute::computed(strings()).describe("The keys of `manifests` in Helm's install order."))
            .attr("crds", Attribute::computed(string_map()).describe("The chart's crds/ documents, by key."))
            .attr("hooks", Attribute::computed(string_map()).describe("Hook documents (`helm.sh/hook`), by key: not installed."))
            .attr("notes", Attribute::computed(AttrType::String).describe("The rendered NOTES.txt."))
            .attr("chart_version", Attribute::computed(AttrType::String).describe("Chart.yaml's version."))
            .attr("app_version", Attribute::computed(AttrType::String).describe("Chart.yaml's appVersion."))
            .attr("id", Attribute::computed(AttrType::String).describe("SHA-256 of the inputs and the chart's files.")),
    )
}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::Invalid, message)
}

fn attr<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.as_object().and_then(|m| m.get(name)).unwrap_or(&Value::Null)
}

fn string_list(v: &Value, name: &str) -> Result<Vec<String>, ProviderError> {
    match attr(v, name) {
        Value::Null => Ok(Vec::new()),
        Value::List(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{name}: every element must be a string")))
            })
            .collect(),
        _ => Err(invalid(format!("{name} must be a list of strings"))),
    }
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    let mut out = Map::new();
    for (k, v) in m {
        out.insert(k.clone(), Value::from(v.as_str()));
    }
    Value::Object(out)
}

/// Reads the data source: loads and renders the chart.
pub fn read(base_dir: &Path, config: &Value) -> Result<Value, ProviderError> {
    let chart_path = attr(config, "chart").as_str().ok_or_else(|| invalid("chart is required"))?;
    let release_name =
        attr(config, "release_name").as_str().ok_or_else(|| invalid("release_name is required"))?;
    let path = Path::new(chart_path);
    let path = if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) };
    let chart = Chart::load(&path).map_err(|e| invalid(format!("chart {chart_path}: {e}")))?;
    let set = match attr(config, "set") {
        Value::Null => BTreeMap::new(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| invalid(format!("set[{k:?}] must be a string")))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid("set must be a map of strings")),
    };
    let options = RenderOptions {
        release_name: release_name.to_owned(),
        namespace: attr(config, "namespace").as_str().unwrap_or_default().to_owned(),
        values: string_list(config, "values")?,
        set,
        kube_version: attr(config, "kube_version").as_str().map(str::to_owned),
        api_versions: string_list(config, "api_versions")?,
        include_crds: matches!(attr(config, "include_crds"), Value::Bool(true)),
    };
    let rendered = render(&chart, &options).map_err(|e| invalid(e.0))?;

    // The id: every input and every file of the chart, length-prefixed so that no two
    // different inputs hash alike.
    let mut id_input = Vec::new();
    let mut feed = |b: &[u8]| {
        id_input.extend_from_slice(&(b.len() as u64).to_le_bytes());
        id_input.extend_from_slice(b);
    };
    feed(release_name.as_bytes());
    feed(options.namespace.as_bytes());
    for v in &options.values {
        feed(v.as_bytes());
    }
    for (k, v) in &options.set {
        feed(k.as_bytes());
        feed(v.as_bytes());
    }
    feed(options.kube_version.as_deref().unwrap_or("").as_bytes());
    for a in &options.api_versions {
        feed(a.as_bytes());
    }
    feed(&[u8::from(options.include_crds)]);
    for (name, bytes) in &chart.files {
        feed(name.as_bytes());
        feed(bytes);
    }
    let id: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&id_input).iter().map(|b| format!("{b:02x}")).collect()
    };

    let mut out = config.as_object().cloned().unwrap_or_default();
    out.insert("manifests".to_owned(), string_map(&rendered.manifests));
    out.insert(
        "order".to_owned(),
        Value::List(rendered.order.iter().map(|k| Value::from(k.as_str())).collect()),
    );
    out.insert("crds".to_owned(), string_map(&rendered.crds));
    out.insert("hooks".to_owned(), string_map(&rendered.hooks));
    out.insert("notes".to_owned(), Value::from(rendered.notes.as_str()));
    out.insert("chart_version".to_owned(), Value::from(chart.metadata.version.as_str()));
    out.insert("app_version".to_owned(), Value::from(chart.metadata.app_version.as_str()));
    out.insert("id".to_owned(), Value::from(id));
    Ok(Value::Object(out))
}

impl Provider for HelmProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            match config.as_object() {
                Some(attrs) if !attrs.is_empty() => Err(invalid(
                    "the helm provider takes no configuration; remove the attributes of its provider block",
                )),
                _ => Ok(()),
            }
        })
    }

    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            Err(invalid(format!(
                "{}: the helm provider has no resource types, only the data source helm_template",
                request.address
            )))
        })
    }

    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            Err(invalid(format!("{}: the helm provider has no resource types", request.address)))
        })
    }

    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            Err(invalid(format!("{}: the helm provider has no resource types", request.address)))
        })
    }

    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            if request.address.type_name() != TYPE_NAME {
                return Err(invalid(format!(
                    "{}: the helm provider has no data source {:?}",
                    request.address,
                    request.address.type_name()
                )));
            }
            read(&self.base_dir, request.config)
        })
    }
}
