//! The kinds a cluster serves and each kind's rules: decoding checks (400), conversion and
//! defaults, the strategy's server-set fields, and validation (422). Built-in kinds are rows of
//! [`BUILTINS`] with their functions; a custom resource's kind is made from its
//! CustomResourceDefinition (`super::crd`) and follows its version's structural schema
//! (`super::schema`).

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::kinds;
use super::status::FieldError;

/// One built-in kind.
pub(crate) struct Builtin {
    /// `v1` for core, `group/version` otherwise.
    pub(crate) group_version: &'static str,
    pub(crate) plural: &'static str,
    pub(crate) singular: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) namespaced: bool,
    pub(crate) short_names: &'static [&'static str],
    pub(crate) categories: &'static [&'static str],
    /// Whether `status` is the status subresource's (main-resource writes do not set it).
    pub(crate) status: bool,
    /// Whether `/status` is served for writes to it.
    pub(crate) serves_status: bool,
    /// How names are checked (with labels and annotations) before the kind's own validation.
    pub(crate) names: Names,
    /// What decoding the body into the typed object refuses (answered 400).
    pub(crate) decode: fn(&Value) -> Result<(), String>,
    /// The conversion on the way in (Secret: `stringData` merged into `data`).
    pub(crate) convert: fn(&mut Value),
    /// The versioned type's defaults, given the object's name.
    pub(crate) default: fn(&mut Value, &str),
    /// The strategy: fields the server sets on create (`old` is `None`) or keeps on update,
    /// given the time.
    pub(crate) prepare: fn(&mut Value, Option<&Value>, &str),
    /// Validation of the object (and of the change from `old`).
    pub(crate) validate: fn(&Value, Option<&Value>) -> Vec<FieldError>,
}

/// The rule for a built-in kind's object names.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Names {
    /// The kind's validation checks its names itself (namespaces, secrets, CRDs).
    Own,
    /// A DNS-1123 subdomain (most kinds).
    Subdomain,
    /// A DNS-1035 label (Services).
    Dns1035,
    /// A path segment: not `.` or `..`, no `/` or `%` (RBAC's kinds).
    PathSegment,
}

/// A served version of a custom resource: its CRD's schema and subresources.
#[derive(Debug)]
pub(crate) struct Custom {
    /// `spec.versions[].schema.openAPIV3Schema`.
    pub(crate) schema: Value,
    /// Whether the version declares `subresources.status`.
    pub(crate) status: bool,
}

/// How a kind's objects are checked and changed.
#[derive(Clone)]
pub(crate) enum Rules {
    Builtin(&'static Builtin),
    Custom(Arc<Custom>),
}

/// One served kind.
#[derive(Clone)]
pub(crate) struct KindInfo {
    /// `v1` for core, `group/version` otherwise.
    pub(crate) group_version: String,
    /// The group-version objects are stored in (a CRD's storage version).
    pub(crate) storage_version: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) kind: String,
    pub(crate) namespaced: bool,
    pub(crate) short_names: Vec<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) rules: Rules,
}

/// The verbs every kind serves (no watch, no deletecollection).
pub(crate) const VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update"];

const RBAC: &str = "rbac.authorization.k8s.io/v1";

/// What a row of [`BUILTINS`] does not say: a namespaced core kind with no status, names that
/// are DNS-1123 subdomains, no conversion, defaults or strategy, no rules of its own.
const PLAIN: Builtin = Builtin {
    group_version: "v1",
    plural: "",
    singular: "",
    kind: "",
    namespaced: true,
    short_names: &[],
    categories: &[],
    status: false,
    serves_status: false,
    names: Names::Subdomain,
    decode: |v| decode_metadata(v, "object"),
    convert: |_| {},
    default: |_, _| {},
    prepare: |_, _, _| {},
    validate: |_, _| Vec::new(),
};

/// The built-in kinds, core first, then by group in discovery's order (the order of `/apis`).
pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        group_version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        status: true,
        serves_status: false,
        names: Names::Own,
        decode: decode_namespace,
        convert: |_| {},
        default: default_namespace,
        prepare: prepare_namespace,
        validate: validate_namespace,
    },
    Builtin {
        group_version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        categories: &[],
        status: false,
        serves_status: false,
        names: Names::Own,
        decode: decode_secret,
        convert: convert_secret,
        default: default_secret,
        prepare: |_, _, _| {},
        validate: validate_secret,
    },
    Builtin {
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        short_names: &["cm"],
        decode: kinds::decode_config_map,
        validate: kinds::validate_config_map,
        ..PLAIN
    },
    Builtin {
        plural: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        short_names: &["sa"],
        decode: |v| decode_metadata(v, "ServiceAccount"),
        ..PLAIN
    },
    Builtin {
        plural: "services",
        singular: "service",
        kind: "Service",
        short_names: &["svc"],
        categories: &["all"],
        status: true,
        serves_status: true,
        names: Names::Dns1035,
        decode: |v| decode_metadata(v, "Service"),
        default: kinds::default_service,
        prepare: kinds::prepare_service,
        validate: kinds::validate_service,
        ..PLAIN
    },
    Builtin {
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        kind: "PersistentVolumeClaim",
        short_names: &["pvc"],
        status: true,
        serves_status: true,
        decode: kinds::decode_claim,
        default: kinds::default_claim,
        prepare: kinds::prepare_claim,
        validate: kinds::validate_claim,
        ..PLAIN
    },
    Builtin {
        plural: "persistentvolumes",
        singular: "persistentvolume",
        kind: "PersistentVolume",
        namespaced: false,
        short_names: &["pv"],
        status: true,
        serves_status: true,
        decode: kinds::decode_volume,
        default: kinds::default_volume,
        prepare: kinds::prepare_volume,
        validate: kinds::validate_volume,
        ..PLAIN
    },
    Builtin {
        group_version: "apps/v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        short_names: &["deploy"],
        categories: &["all"],
        status: true,
        serves_status: true,
        decode: |v| decode_metadata(v, "Deployment"),
        default: kinds::default_deployment,
        prepare: kinds::prepare_workload,
        validate: kinds::validate_deployment,
        ..PLAIN
    },
    Builtin {
        group_version: "batch/v1",
        plural: "jobs",
        singular: "job",
        kind: "Job",
        categories: &["all"],
        status: true,
        serves_status: true,
        decode: |v| decode_metadata(v, "Job"),
        default: kinds::default_job,
        prepare: kinds::prepare_job,
        validate: kinds::validate_job,
        ..PLAIN
    },
    Builtin {
        group_version: RBAC,
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        kind: "ClusterRoleBinding",
        namespaced: false,
        names: Names::PathSegment,
        decode: |v| decode_metadata(v, "ClusterRoleBinding"),
        default: kinds::default_binding,
        validate: kinds::validate_cluster_role_binding,
        ..PLAIN
    },
    Builtin {
        group_version: RBAC,
        plural: "clusterroles",
        singular: "clusterrole",
        kind: "ClusterRole",
        namespaced: false,
        names: Names::PathSegment,
        decode: |v| decode_metadata(v, "ClusterRole"),
        validate: kinds::validate_cluster_role,
        ..PLAIN
    },
    Builtin {
        group_version: RBAC,
        plural: "rolebindings",
        singular: "rolebinding",
        kind: "RoleBinding",
        names: Names::PathSegment,
        decode: |v| decode_metadata(v, "RoleBinding"),
        default: kinds::default_binding,
        validate: kinds::validate_role_binding,
        ..PLAIN
    },
    Builtin {
        group_version: RBAC,
        plural: "roles",
        singular: "role",
        kind: "Role",
        names: Names::PathSegment,
        decode: |v| decode_metadata(v, "Role"),
        validate: kinds::validate_role,
        ..PLAIN
    },
    Builtin {
        group_version: "storage.k8s.io/v1",
        plural: "storageclasses",
        singular: "storageclass",
        kind: "StorageClass",
        namespaced: false,
        short_names: &["sc"],
        decode: kinds::decode_storage_class,
        default: kinds::default_storage_class,
        validate: kinds::validate_storage_class,
        ..PLAIN
    },
    Builtin {
        group_version: super::crd::GROUP_VERSION,
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        kind: "CustomResourceDefinition",
        namespaced: false,
        short_names: &["crd", "crds"],
        categories: &["api-extensions"],
        status: true,
        serves_status: true,
        names: Names::Own,
        decode: super::crd::decode,
        convert: |_| {},
        default: super::crd::default,
        prepare: super::crd::prepare,
        validate: super::crd::validate,
    },
];

impl Builtin {
    pub(crate) fn info(&'static self) -> KindInfo {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        KindInfo {
            group_version: self.group_version.to_owned(),
            storage_version: self.group_version.to_owned(),
            plural: self.plural.to_owned(),
            singular: self.singular.to_owned(),
            kind: self.kind.to_owned(),
            namespaced: self.namespaced,
            short_names: strings(self.short_names),
            categories: strings(self.categories),
            rules: Rules::Builtin(self),
        }
    }
}

/// A built-in kind.
pub(crate) fn builtin(group_version: &str, plural: &str) -> Option<KindInfo> {
    BUILTINS.iter().find(|k| k.group_version == group_version && k.plural == plural).map(Builtin::info)
}

impl KindInfo {
    /// The API group (empty for core).
    pub(crate) fn group(&self) -> &str {
        self.group_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The resource as errors name it: `secrets`, `volumesnapshots.snapshot.storage.k8s.io`.
    pub(crate) fn resource(&self) -> String {
        match self.group() {
            "" => self.plural.clone(),
            g => format!("{}.{g}", self.plural),
        }
    }

    /// The kind as 422s name it: `Secret`, `VolumeSnapshot.snapshot.storage.k8s.io`.
    pub(crate) fn qualified_kind(&self) -> String {
        match self.group() {
            "" => self.kind.clone(),
            g => format!("{}.{g}", self.kind),
        }
    }

    /// Whether `status` belongs to the status subresource.
    pub(crate) fn has_status(&self) -> bool {
        match &self.rules {
            Rules::Builtin(b) => b.status,
            Rules::Custom(c) => c.status,
        }
    }

    /// Whether the kind is a CRD's.
    pub(crate) fn is_custom(&self) -> bool {
        matches!(self.rules, Rules::Custom(_))
    }

    /// Whether `/status` is served (CRDs' and custom resources' that declare it).
    pub(crate) fn serves_status(&self) -> bool {
        match &self.rules {
            Rules::Builtin(b) => b.serves_status,
            Rules::Custom(c) => c.status,
        }
    }

    /// The group-version part of the objects' keys in the store: a custom resource's group
    /// alone, so that its objects outlive a change of the CRD's storage version.
    pub(crate) fn store_key(&self) -> &str {
        match &self.rules {
            Rules::Builtin(_) => &self.group_version,
            Rules::Custom(_) => self.group(),
        }
    }

    pub(crate) fn decode(&self, v: &Value) -> Result<(), String> {
        match &self.rules {
            Rules::Builtin(b) => (b.decode)(v),
            Rules::Custom(_) => decode_metadata(v, &self.kind),
        }
    }

    pub(crate) fn convert(&self, v: &mut Value) {
        match &self.rules {
            Rules::Builtin(b) => (b.convert)(v),
            Rules::Custom(c) => super::schema::prune_root(v, &c.schema),
        }
    }

    pub(crate) fn default(&self, v: &mut Value, name: &str) {
        match &self.rules {
            Rules::Builtin(b) => (b.default)(v, name),
            Rules::Custom(c) => super::schema::default_root(v, &c.schema),
        }
    }

    pub(crate) fn prepare(&self, v: &mut Value, old: Option<&Value>, now: &str) {
        match &self.rules {
            Rules::Builtin(b) => (b.prepare)(v, old, now),
            Rules::Custom(c) => prepare_custom(v, old, c.status),
        }
    }

    pub(crate) fn validate(&self, v: &Value, old: Option<&Value>) -> Vec<FieldError> {
        match &self.rules {
            Rules::Builtin(b) => {
                let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                let mut errors = match b.names {
                    Names::Own => return (b.validate)(v, old),
                    Names::Subdomain => name_errors(name, false),
                    Names::Dns1035 => dns1035_errors(name),
                    Names::PathSegment => kinds::path_segment_errors(name)
                        .into_iter()
                        .map(|why| FieldError::invalid("metadata.name", name, why))
                        .collect(),
                };
                errors.extend(metadata_errors(v));
                errors.extend((b.validate)(v, old));
                errors
            }
            Rules::Custom(c) => {
                let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                let mut errors = name_errors(name, false);
                errors.extend(metadata_errors(v));
                errors.extend(super::schema::validate_root(v, &c.schema));
                errors
            }
        }
    }
}

/// `metadata.generation`: 1 on create, one more when anything but metadata changes (the
/// strategy of custom resources and of CRDs). With a status subresource, `status` is the old one.
pub(crate) fn prepare_custom(v: &mut Value, old: Option<&Value>, status: bool) {
    let Some(obj) = v.as_object_mut() else { return };
    if status {
        match old.and_then(|o| o.get("status")) {
            Some(s) => {
                obj.insert("status".into(), s.clone());
            }
            None => {
                obj.remove("status");
            }
        }
    }
    let generation = match old {
        None => 1,
        Some(old) => {
            let before = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
            let rest = |o: &Map<String, Value>| {
                o.iter()
                    .filter(|(k, _)| *k != "metadata")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Map<_, _>>()
            };
            let old_rest = old.as_object().map(rest).unwrap_or_default();
            if rest(obj) == old_rest { before } else { before + 1 }
        }
    };
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("generation".into(), json!(generation));
    }
}

/// The names of the namespaces the API server refuses to delete.
pub(crate) const PROTECTED_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// The namespaces every cluster starts with.
pub(crate) const INITIAL_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

pub(crate) const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const CONFIG_KEY: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/// The largest total size of a secret's data (keys and decoded values), in bytes.
pub(crate) const MAX_SECRET_SIZE: usize = 1 << 20;

pub(crate) fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub(crate) fn is_subdomain(s: &str) -> bool {
    s.split('.').all(is_label)
}

pub(crate) fn name_errors(name: &str, label: bool) -> Vec<FieldError> {
    let (max, ok, why) = if label {
        (63, is_label(name), DNS1123_LABEL)
    } else {
        (253, is_subdomain(name), DNS1123_SUBDOMAIN)
    };
    let mut out = Vec::new();
    if name.len() > max {
        out.push(FieldError::invalid(
            "metadata.name",
            name,
            &format!("must be no more than {max} characters"),
        ));
    }
    if !ok {
        out.push(FieldError::invalid("metadata.name", name, why));
    }
    out
}

const DNS1035_LABEL: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// A DNS-1035 label: a DNS-1123 label that starts with a letter (Service names).
fn dns1035_errors(name: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    if name.len() > 63 {
        out.push(FieldError::invalid("metadata.name", name, "must be no more than 63 characters"));
    }
    if !is_label(name) || !name.as_bytes()[0].is_ascii_lowercase() {
        out.push(FieldError::invalid("metadata.name", name, DNS1035_LABEL));
    }
    out
}

fn object_at<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.get(key).is_some_and(Value::is_object) {
        v[key] = json!({});
    }
    v[key].as_object_mut().unwrap_or_else(|| unreachable!("just set to an object"))
}

pub(crate) fn string_map(v: &Value, field: &str, what: &str) -> Result<(), String> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) => match m.iter().find(|(_, v)| !v.is_string() && !v.is_null()) {
            Some((k, _)) => Err(format!(
                "json: cannot unmarshal {} into Go struct field {what}.{field} of type string",
                kind_of(&m[k])
            )),
            None => Ok(()),
        },
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go struct field {what}.{field} of type map[string]string",
            kind_of(other)
        )),
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) fn decode_metadata(v: &Value, what: &str) -> Result<(), String> {
    let Some(meta) = v.get("metadata") else { return Ok(()) };
    if !meta.is_object() && !meta.is_null() {
        return Err(format!(
            "json: cannot unmarshal {} into Go struct field {what}.metadata of type v1.ObjectMeta",
            kind_of(meta)
        ));
    }
    string_map(meta, "labels", &format!("{what}.metadata"))?;
    string_map(meta, "annotations", &format!("{what}.metadata"))
}

fn decode_namespace(v: &Value) -> Result<(), String> {
    decode_metadata(v, "Namespace")?;
    match v.pointer("/spec/finalizers") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go struct field NamespaceSpec.spec.finalizers of type []v1.FinalizerName",
            kind_of(other)
        )),
    }
}

fn default_namespace(v: &mut Value, name: &str) {
    let meta = object_at(v, "metadata");
    if !meta.get("labels").is_some_and(Value::is_object) {
        meta.insert("labels".into(), json!({}));
    }
    if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
}

fn prepare_namespace(v: &mut Value, old: Option<&Value>, _now: &str) {
    let obj = match v.as_object_mut() {
        Some(o) => o,
        None => return,
    };
    match old {
        None => {
            let mut finalizers: Vec<Value> = obj
                .get("spec")
                .and_then(|s| s.get("finalizers"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !finalizers.iter().any(|f| f == "kubernetes") {
                finalizers.push(json!("kubernetes"));
            }
            obj.insert("spec".into(), json!({ "finalizers": finalizers }));
            obj.insert("status".into(), json!({ "phase": "Active" }));
        }
        Some(old) => {
            // The main resource cannot change finalizers or status (their subresources can).
            obj.insert("spec".into(), old.get("spec").cloned().unwrap_or_else(|| json!({})));
            obj.insert("status".into(), old.get("status").cloned().unwrap_or_else(|| json!({})));
        }
    }
}

fn validate_namespace(v: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let mut errors = name_errors(name, true);
    errors.extend(metadata_errors(v));
    errors
}

fn decode_secret(v: &Value) -> Result<(), String> {
    decode_metadata(v, "Secret")?;
    string_map(v, "data", "Secret")?;
    string_map(v, "stringData", "Secret")?;
    if let Some(data) = v.get("data").and_then(Value::as_object) {
        for s in data.values().filter_map(Value::as_str) {
            if let Err(e) = base64::engine::general_purpose::STANDARD.decode(s) {
                return Err(match e {
                    base64::DecodeError::InvalidByte(at, _)
                    | base64::DecodeError::InvalidLastSymbol(at, _) => {
                        format!("illegal base64 data at input byte {at}")
                    }
                    base64::DecodeError::InvalidLength(at) => {
                        format!("illegal base64 data at input byte {at}")
                    }
                    base64::DecodeError::InvalidPadding => {
                        format!("illegal base64 data at input byte {}", s.len().saturating_sub(1))
                    }
                });
            }
        }
    }
    match v.get("type") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(other) => {
            return Err(format!(
                "json: cannot unmarshal {} into Go struct field Secret.type of type v1.SecretType",
                kind_of(other)
            ));
        }
    }
    match v.get("immutable") {
        None | Some(Value::Null | Value::Bool(_)) => Ok(()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go struct field Secret.immutable of type bool",
            kind_of(other)
        )),
    }
}

/// `stringData` is write-only: merged into `data`, base64-encoded, its keys winning.
fn convert_secret(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else { return };
    let Some(Value::Object(strings)) = obj.remove("stringData") else { return };
    if strings.is_empty() {
        return;
    }
    if !obj.get("data").is_some_and(Value::is_object) {
        obj.insert("data".into(), json!({}));
    }
    if let Some(data) = obj.get_mut("data").and_then(Value::as_object_mut) {
        for (k, s) in strings {
            let plain = s.as_str().unwrap_or_default();
            data.insert(k, json!(base64::engine::general_purpose::STANDARD.encode(plain)));
        }
    }
}

fn default_secret(v: &mut Value, _name: &str) {
    if v.get("type").and_then(Value::as_str).is_none_or(str::is_empty)
        && let Some(obj) = v.as_object_mut()
    {
        obj.insert("type".into(), json!("Opaque"));
    }
}

fn validate_secret(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if let Some(old) = old {
        let (t, old_t) = (v.get("type").and_then(Value::as_str), old.get("type").and_then(Value::as_str));
        if t != old_t {
            errors.push(FieldError::invalid("type", t.unwrap_or_default(), "field is immutable"));
        }
        if old.get("immutable") == Some(&Value::Bool(true)) {
            const WHY: &str = "field is immutable when `immutable` is set";
            if v.get("immutable") != Some(&Value::Bool(true)) {
                errors.push(FieldError::forbidden("immutable", WHY));
            }
            let empty = json!({});
            if v.get("data").unwrap_or(&empty) != old.get("data").unwrap_or(&empty) {
                errors.push(FieldError::forbidden("data", WHY));
            }
        }
    }
    errors.extend(name_errors(name, false));
    errors.extend(metadata_errors(v));
    errors.extend(type_errors(v));
    let mut total = 0;
    if let Some(data) = v.get("data").and_then(Value::as_object) {
        for (k, value) in data {
            errors.extend(config_key_errors(&format!("data[{k}]"), k));
            let decoded = value
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .map_or(0, |d| d.len());
            total += k.len() + decoded;
        }
    }
    if total > MAX_SECRET_SIZE {
        errors.push(FieldError::too_long("data", MAX_SECRET_SIZE));
    }
    errors
}

/// A key of a secret's or config map's data (`IsConfigMapKey`).
pub(crate) fn config_key_errors(field: &str, k: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if k.len() > 253 {
        errors.push(FieldError::invalid(field, k, "must be no more than 253 characters"));
    }
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
        errors.push(FieldError::invalid(field, k, CONFIG_KEY));
    }
    if k == "." {
        errors.push(FieldError::invalid(field, k, "must not be '.'"));
    } else if k == ".." {
        errors.push(FieldError::invalid(field, k, "must not be '..'"));
    } else if k.starts_with("..") {
        errors.push(FieldError::invalid(field, k, "must not start with '..'"));
    }
    errors
}

/// The keys each built-in secret type requires (`ValidateSecret` in the API server).
fn type_errors(v: &Value) -> Vec<FieldError> {
    let data = v.get("data").and_then(Value::as_object);
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let decoded = |k: &str| {
        data.and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .unwrap_or_default()
    };
    let required = |k: &str| FieldError::required(format!("data[{k}]"), "");
    match v.get("type").and_then(Value::as_str).unwrap_or_default() {
        "kubernetes.io/tls" => ["tls.crt", "tls.key"].into_iter().filter(|k| !has(k)).map(required).collect(),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            vec![required("username"), required("password")]
        }
        "kubernetes.io/ssh-auth" if decoded("ssh-privatekey").is_empty() => vec![required("ssh-privatekey")],
        "kubernetes.io/dockerconfigjson" => {
            if !has(".dockerconfigjson") {
                return vec![required(".dockerconfigjson")];
            }
            match serde_json::from_slice::<Map<String, Value>>(&decoded(".dockerconfigjson")) {
                Ok(_) => Vec::new(),
                Err(e) => vec![FieldError::invalid(
                    "data[.dockerconfigjson]",
                    "<secret contents redacted>",
                    &e.to_string(),
                )],
            }
        }
        _ => Vec::new(),
    }
}

const QUALIFIED_NAME: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
/// The most bytes of annotations (keys and values) an object may carry.
const MAX_ANNOTATIONS: usize = 256 * 1024;

fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Why a label or annotation key is not a qualified name (`[prefix/]name`), as
/// `IsQualifiedName` words it.
fn qualified_name_errors(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let (prefix, name) = match parts.as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_NAME} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    let mut out = Vec::new();
    match prefix {
        Some("") => out.push("prefix part must be non-empty".to_owned()),
        Some(p) => {
            if p.len() > 253 {
                out.push("prefix part must be no more than 253 characters".to_owned());
            }
            if !is_subdomain(p) {
                out.push(format!("prefix part {DNS1123_SUBDOMAIN}"));
            }
        }
        None => {}
    }
    if name.is_empty() {
        out.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        out.push("name part must be no more than 63 characters".to_owned());
    }
    if !name.is_empty() && !is_qualified_part(name) {
        out.push(format!("name part {QUALIFIED_NAME}"));
    }
    out
}

/// Labels and annotations, as `ValidateObjectMeta` checks them.
pub(crate) fn metadata_errors(v: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(labels) = v.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, value) in labels {
            for why in qualified_name_errors(k) {
                errors.push(FieldError::invalid("metadata.labels", k, &why));
            }
            let value = value.as_str().unwrap_or_default();
            if value.len() > 63 {
                errors.push(FieldError::invalid(
                    "metadata.labels",
                    value,
                    "must be no more than 63 characters",
                ));
            }
            if !value.is_empty() && !is_qualified_part(value) {
                errors.push(FieldError::invalid("metadata.labels", value, LABEL_VALUE));
            }
        }
    }
    if let Some(annotations) = v.pointer("/metadata/annotations").and_then(Value::as_object) {
        let mut total = 0;
        for (k, value) in annotations {
            for why in qualified_name_errors(&k.to_ascii_lowercase()) {
                errors.push(FieldError::invalid("metadata.annotations", k, &why));
            }
            total += k.len() + value.as_str().map_or(0, str::len);
        }
        if total > MAX_ANNOTATIONS {
            errors.push(FieldError::too_long("metadata.annotations", MAX_ANNOTATIONS));
        }
    }
    errors
}
