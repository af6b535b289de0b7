//! The resource types: `kubernetes_namespace` and `kubernetes_secret`, in the vocabulary of
//! Terraform's kubernetes provider (a `metadata` block; a secret's `data` in plain text,
//! `binary_data` in base64). Their schemas, plans, the objects they apply and how live objects
//! become state.

use base64::Engine as _;
use lanestack_model::{
    AttrPath, AttrType, Attribute, Block, Map, Nesting, PlanResponse, ResourceSchema, Value,
};
use serde_json::{Value as Json, json};

use crate::owned;

/// The resource types of the `kubernetes` provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `kubernetes_namespace`: a core/v1 Namespace.
    Namespace,
    /// `kubernetes_secret`: a core/v1 Secret.
    Secret,
}

/// The largest a Secret's data may be (the API server's `MaxSecretSize`).
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

impl Kind {
    /// Every type, in schema order.
    pub const ALL: [Kind; 2] = [Kind::Namespace, Kind::Secret];

    /// The resource type's name in stacks.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Namespace => "kubernetes_namespace",
            Kind::Secret => "kubernetes_secret",
        }
    }

    /// The type for a stack's type name.
    pub fn of(type_name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.type_name() == type_name)
    }

    /// The API object's kind.
    pub fn api_kind(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Secret => "Secret",
        }
    }

    /// The collection's name in API paths.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Secret => "secrets",
        }
    }

    fn namespaced(self) -> bool {
        self == Kind::Secret
    }

    /// The schema of the type.
    pub fn schema(self) -> ResourceSchema {
        let map = || AttrType::Map(Box::new(AttrType::String));
        let mut metadata = Block::new()
            .attr(
                "name",
                Attribute::required(AttrType::String)
                    .force_new()
                    .describe("The object's name; changing it replaces the object."),
            )
            .attr(
                "labels",
                Attribute::optional(map())
                    .describe("Labels lanestack applies; others' labels are left alone."),
            )
            .attr(
                "annotations",
                Attribute::optional(map()).describe("Annotations lanestack applies; others' are left alone."),
            )
            // No resource_version: it changes whenever anyone touches the object (a controller's
            // label), so it would be drift on every plan and tell a reviewer nothing.
            .attr(
                "uid",
                Attribute::computed(AttrType::String).describe("The object's UID, set by the server."),
            );
        if self.namespaced() {
            metadata = metadata.attr(
                "namespace",
                Attribute::optional_computed(AttrType::String)
                    .force_new()
                    .describe("The namespace (default: `default`); changing it replaces the object."),
            );
        }
        let id = Attribute::computed(AttrType::String)
            .describe("`namespace/name` for namespaced objects, `name` otherwise (known at plan time).");
        let block = Block::new().block("metadata", Nesting::Single, metadata).attr("id", id);
        match self {
            Kind::Namespace => {
                let mut schema = ResourceSchema::new(
                    "A namespace; deleting it deletes everything in it, and waits until the namespace is gone.",
                    block,
                );
                // Everything in the namespace goes with it: a reviewer must see its deletion first.
                schema.data_bearing = true;
                schema
            }
            Kind::Secret => ResourceSchema::new(
                "A Secret, applied with field manager lanestack; its data never appears in plans or logs.",
                block
                    .attr(
                        "data",
                        Attribute::optional(map())
                            .sensitive()
                            .describe("Values in plain text; sent base64-encoded as the API wants."),
                    )
                    .attr(
                        "binary_data",
                        Attribute::optional(map())
                            .sensitive()
                            .describe("Values already base64-encoded (binary content)."),
                    )
                    .attr(
                        "type",
                        Attribute::optional_computed(AttrType::String)
                            .force_new()
                            .describe("The secret's type (default Opaque); the API refuses to change it."),
                    )
                    .attr(
                        "immutable",
                        Attribute::optional(AttrType::Bool)
                            .describe("When true, the data can never change: a change replaces the secret."),
                    ),
            ),
        }
    }

    /// Problems with a configuration that the API would refuse, found before anything is sent.
    pub fn validate(self, config: &Value) -> Vec<(AttrPath, String)> {
        let mut problems = Vec::new();
        let metadata = attr(config, "metadata");
        if metadata.is_null() {
            problems.push((
                AttrPath::attr("metadata"),
                "a metadata block with the object's name is required".to_owned(),
            ));
            return problems;
        }
        let at = |name: &str| {
            AttrPath::attr("metadata").join(lanestack_model::path::PathStep::Attr(name.to_owned()))
        };
        if let Some(name) = attr(metadata, "name").as_str() {
            let ok = match self {
                Kind::Namespace => is_dns1123_label(name),
                Kind::Secret => lanestack_kube::snapshot::is_dns1123_subdomain(name),
            };
            if !ok {
                let rule = match self {
                    Kind::Namespace => {
                        "a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
                    }
                    Kind::Secret => {
                        "a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit"
                    }
                };
                problems.push((
                    at("name"),
                    format!("{name:?} is not a valid {} name: it must be {rule}", self.api_kind()),
                ));
            }
        }
        if let Some(ns) = attr(metadata, "namespace").as_str()
            && !is_dns1123_label(ns)
        {
            problems
                .push((at("namespace"), format!("{ns:?} is not a valid namespace name (a DNS-1123 label)")));
        }
        if self == Kind::Secret {
            let data = attr(config, "data").as_object();
            let binary = attr(config, "binary_data").as_object();
            for (field, map) in [("data", data), ("binary_data", binary)] {
                for (key, value) in map.into_iter().flat_map(Map::iter) {
                    let path = AttrPath::attr(field).join(lanestack_model::path::PathStep::Attr(key.clone()));
                    if !is_secret_key(key) {
                        problems.push((
                            path.clone(),
                            format!("{key:?} is not a valid secret key: it must be at most 253 letters, digits, '-', '_' and '.'"),
                        ));
                    }
                    if field == "binary_data"
                        && let Some(text) = value.as_str()
                        && base64::engine::general_purpose::STANDARD.decode(text).is_err()
                    {
                        // Never quote the value: it is secret.
                        problems.push((
                            path,
                            "binary_data values must be base64 (standard alphabet, padded)".to_owned(),
                        ));
                    }
                }
            }
            if let (Some(data), Some(binary)) = (data, binary) {
                for key in data.keys().filter(|k| binary.contains_key(k.as_str())) {
                    problems.push((
                        AttrPath::attr("binary_data")
                            .join(lanestack_model::path::PathStep::Attr(key.clone())),
                        format!("{key:?} is in both data and binary_data; a key can be in one only"),
                    ));
                }
            }
        }
        problems
    }

    /// The facts for a planned change: the planned state, and the changes that the API cannot
    /// make in place (name, namespace, type, and anything about an immutable secret's data).
    pub fn plan(self, prior: Option<&Value>, config: &Value) -> PlanResponse {
        let cfg_meta = attr(config, "metadata");
        let prior_meta = prior.map(|p| attr(p, "metadata"));
        let name = attr(cfg_meta, "name").clone();
        let namespace = match attr(cfg_meta, "namespace") {
            Value::Null => Value::from("default"),
            set => set.clone(),
        };
        let mut requires_replace = Vec::new();
        let meta_path =
            |n: &str| AttrPath::attr("metadata").join(lanestack_model::path::PathStep::Attr(n.to_owned()));
        if let Some(was) = prior_meta {
            if attr(was, "name") != &name {
                requires_replace.push(meta_path("name"));
            }
            if self.namespaced() && attr(was, "namespace") != &namespace {
                requires_replace.push(meta_path("namespace"));
            }
        }
        let mut secret_fields = Vec::new();
        if self == Kind::Secret {
            let data = empty_as_null(attr(config, "data"));
            let binary = empty_as_null(attr(config, "binary_data"));
            let immutable = attr(config, "immutable").clone();
            let ty = match (attr(config, "type"), prior.map(|p| attr(p, "type"))) {
                (Value::Null, Some(was)) if !was.is_null() => was.clone(),
                (Value::Null, _) => Value::from("Opaque"),
                (set, _) => set.clone(),
            };
            if let Some(prior) = prior {
                if attr(prior, "type") != &ty {
                    requires_replace.push(AttrPath::attr("type"));
                }
                // The API refuses every change to an immutable secret but deletion.
                if attr(prior, "immutable") == &Value::Bool(true) {
                    for (field, now) in [("data", &data), ("binary_data", &binary), ("immutable", &immutable)]
                    {
                        if attr(prior, field) != now {
                            requires_replace.push(AttrPath::attr(field));
                        }
                    }
                }
            }
            secret_fields =
                vec![("data", data), ("binary_data", binary), ("type", ty), ("immutable", immutable)];
        }
        let keep = prior_meta.filter(|_| requires_replace.is_empty());
        let computed = |n: &str| keep.map_or(Value::Unknown, |m| attr(m, n).clone());
        let mut metadata = Map::new();
        metadata.insert("name".to_owned(), name);
        if self.namespaced() {
            metadata.insert("namespace".to_owned(), namespace);
        }
        metadata.insert("labels".to_owned(), empty_as_null(attr(cfg_meta, "labels")));
        metadata.insert("annotations".to_owned(), empty_as_null(attr(cfg_meta, "annotations")));
        metadata.insert("uid".to_owned(), computed("uid"));
        let id = self.id(&metadata);
        let mut planned = Map::new();
        planned.insert("id".to_owned(), id);
        planned.insert("metadata".to_owned(), Value::Object(metadata));
        for (field, value) in secret_fields {
            planned.insert(field.to_owned(), value);
        }
        PlanResponse { planned_state: Value::Object(planned), requires_replace }
    }

    /// The API path of the object a state or planned state describes.
    pub fn path(self, state: &Value) -> Option<String> {
        let metadata = attr(state, "metadata");
        let name = attr(metadata, "name").as_str()?;
        let namespace = if self.namespaced() {
            Some(attr(metadata, "namespace").as_str().unwrap_or("default"))
        } else {
            None
        };
        Some(lanestack_kube::resource_path("v1", namespace, self.plural(), Some(name)))
    }

    /// The object to apply for a planned state: exactly the fields the stack sets, so that
    /// server-side apply gives lanestack those and no others.
    pub fn object(self, planned: &Value) -> Json {
        let p = planned.to_json();
        let meta = &p["metadata"];
        let mut metadata = json!({ "name": meta["name"] });
        if self.namespaced() {
            metadata["namespace"] = meta["namespace"].clone();
        }
        for field in ["labels", "annotations"] {
            if meta[field].as_object().is_some_and(|m| !m.is_empty()) {
                metadata[field] = meta[field].clone();
            }
        }
        let mut object = json!({ "apiVersion": "v1", "kind": self.api_kind(), "metadata": metadata });
        if self == Kind::Secret {
            let mut data = serde_json::Map::new();
            let b64 = base64::engine::general_purpose::STANDARD;
            for (k, v) in p["data"].as_object().into_iter().flatten() {
                data.insert(k.clone(), Json::String(b64.encode(v.as_str().unwrap_or_default())));
            }
            for (k, v) in p["binary_data"].as_object().into_iter().flatten() {
                data.insert(k.clone(), v.clone());
            }
            if !data.is_empty() {
                object["data"] = Json::Object(data);
            }
            if p["type"].is_string() {
                object["type"] = p["type"].clone();
            }
            if p["immutable"].is_boolean() {
                object["immutable"] = p["immutable"].clone();
            }
        }
        object
    }

    /// The state of a live object: the fields lanestack manages, with labels, annotations and
    /// data keys limited to those lanestack applied or `prior` recorded.
    pub fn state(self, live: &Json, prior: Option<&Value>) -> Value {
        let prior_json = prior.map(Value::to_json).unwrap_or(Json::Null);
        let known = |path: &[&str]| -> Vec<String> {
            let mut node = &prior_json;
            for step in path {
                node = &node[*step];
            }
            node.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
        };
        let meta = &live["metadata"];
        let mut metadata = Map::new();
        metadata.insert("name".to_owned(), Value::from_json(&meta["name"]));
        if self.namespaced() {
            metadata.insert("namespace".to_owned(), Value::from_json(&meta["namespace"]));
        }
        for field in ["labels", "annotations"] {
            let entries = owned::owned_entries(live, &["metadata", field], &known(&["metadata", field]));
            metadata.insert(
                field.to_owned(),
                entries.map_or(Value::Null, |m| Value::from_json(&Json::Object(m))),
            );
        }
        metadata.insert("uid".to_owned(), Value::from_json(&meta["uid"]));
        let mut state = Map::new();
        state.insert("id".to_owned(), self.id(&metadata));
        state.insert("metadata".to_owned(), Value::Object(metadata));
        if self == Kind::Secret {
            let binary_keys = known(&["binary_data"]);
            let mut also = known(&["data"]);
            also.extend(binary_keys.iter().cloned());
            let mut data = Map::new();
            let mut binary = Map::new();
            let b64 = base64::engine::general_purpose::STANDARD;
            for (key, encoded) in owned::owned_entries(live, &["data"], &also).into_iter().flatten() {
                let encoded = encoded.as_str().unwrap_or_default();
                let text = b64.decode(encoded).ok().and_then(|bytes| String::from_utf8(bytes).ok());
                match text {
                    Some(text) if !binary_keys.contains(&key) => data.insert(key, Value::from(text)),
                    _ => binary.insert(key, Value::from(encoded)),
                };
            }
            let nonempty = |m: Map| if m.is_empty() { Value::Null } else { Value::Object(m) };
            state.insert("data".to_owned(), nonempty(data));
            state.insert("binary_data".to_owned(), nonempty(binary));
            state.insert("type".to_owned(), Value::from_json(&live["type"]));
            state.insert("immutable".to_owned(), Value::from_json(&live["immutable"]));
        }
        Value::Object(state)
    }

    /// The object's id, like Terraform's kubernetes provider's: `namespace/name` or `name`;
    /// unknown while they are.
    fn id(self, metadata: &Map) -> Value {
        let part = |n: &str| metadata.get(n).and_then(Value::as_str);
        match (self.namespaced(), part("namespace"), part("name")) {
            (true, Some(ns), Some(name)) => Value::from(format!("{ns}/{name}")),
            (false, _, Some(name)) => Value::from(name),
            _ => Value::Unknown,
        }
    }

    /// A short name for messages: `Secret ml/token`, `Namespace ml`.
    pub fn describe(self, state: &Value) -> String {
        let metadata = attr(state, "metadata");
        let name = attr(metadata, "name").as_str().unwrap_or("?");
        match attr(metadata, "namespace").as_str() {
            Some(ns) if self.namespaced() => format!("{} {ns}/{name}", self.api_kind()),
            _ => format!("{} {name}", self.api_kind()),
        }
    }
}

/// The attribute `name` of an object value, or null.
pub(crate) fn attr<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.as_object().and_then(|m| m.get(name)).unwrap_or(&Value::Null)
}

/// An empty map is no map: `labels = {}` and no labels are the same object.
fn empty_as_null(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.is_empty() => Value::Null,
        other => other.clone(),
    }
}

/// Kubernetes' `IsDNS1123Label`: at most 63 characters of `[a-z0-9-]`, not starting or ending
/// with `-`.
pub fn is_dns1123_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Kubernetes' `IsConfigMapKey`, which secrets share: at most 253 characters of
/// `[-._a-zA-Z0-9]`, and not `.` or `..`.
pub fn is_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_config(data: &[(&str, &str)]) -> Value {
        Value::object([
            (
                "metadata",
                Value::object([
                    ("name", Value::from("token")),
                    ("namespace", Value::from("ml")),
                    ("labels", Value::Null),
                ]),
            ),
            ("data", Value::object(data.iter().map(|(k, v)| (*k, Value::from(*v))))),
            ("binary_data", Value::Null),
            ("type", Value::Null),
            ("immutable", Value::Null),
        ])
    }

    fn path(s: &str) -> AttrPath {
        s.parse().unwrap()
    }

    #[test]
    fn a_new_secret_is_opaque_with_unknown_server_fields() {
        let r = Kind::Secret.plan(None, &secret_config(&[("a", "1")]));
        let p = &r.planned_state;
        assert_eq!(p.get(&path("type")), Some(&Value::from("Opaque")));
        assert_eq!(p.get(&path("metadata.uid")), Some(&Value::Unknown));
        assert_eq!(p.get(&path("metadata.namespace")), Some(&Value::from("ml")));
        assert_eq!(p.get(&path("id")), Some(&Value::from("ml/token")));
        assert!(r.requires_replace.is_empty());
        let object = Kind::Secret.object(p);
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token", "namespace": "ml"},
                   "data": {"a": "MQ=="}, "type": "Opaque"})
        );
    }

    #[test]
    fn state_round_trips_through_the_applied_object_and_keeps_only_ours() {
        let planned = Kind::Secret.plan(None, &secret_config(&[("a", "1"), ("bin", "x")])).planned_state;
        let mut live = Kind::Secret.object(&planned);
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["resourceVersion"] = json!("7");
        live["metadata"]["labels"] = json!({"added-by": "a-controller"});
        live["data"]["theirs"] = json!("eA==");
        live["metadata"]["managedFields"] = json!([{"manager": "lanestack", "operation": "Apply",
            "fieldsV1": {"f:data": {"f:a": {}, "f:bin": {}}, "f:type": {}}}]);
        let state = Kind::Secret.state(&live, None);
        assert_eq!(
            state.get(&path("data")),
            Some(&Value::object([("a", Value::from("1")), ("bin", Value::from("x"))]))
        );
        assert_eq!(state.get(&path("metadata.labels")), Some(&Value::Null));
        assert_eq!(state.get(&path("id")), Some(&Value::from("ml/token")));
        // Planned again from that state: no change, nothing replaced, the uid carried over.
        let again = Kind::Secret.plan(Some(&state), &secret_config(&[("a", "1"), ("bin", "x")]));
        assert!(again.requires_replace.is_empty());
        assert_eq!(again.planned_state.get(&path("data")), state.get(&path("data")));
        assert_eq!(again.planned_state.get(&path("metadata.uid")), Some(&Value::from("u-1")));
    }

    #[test]
    fn binary_values_stay_base64_and_edits_by_others_stay_visible() {
        let mut live = json!({"metadata": {"name": "token", "namespace": "ml", "managedFields": [
            {"manager": "lanestack", "operation": "Apply", "fieldsV1": {"f:data": {"f:blob": {}}}}]},
            "data": {"blob": "/wA=", "a": "OQ=="}, "type": "Opaque"});
        let prior = Value::object([("data", Value::object([("a", Value::from("1"))]))]);
        let state = Kind::Secret.state(&live, Some(&prior));
        assert_eq!(state.get(&path("binary_data.blob")), Some(&Value::from("/wA=")));
        // `a` moved to another manager by an edit: still read, with its new value.
        assert_eq!(state.get(&path("data.a")), Some(&Value::from("9")));
        live["metadata"]["managedFields"] = json!([]);
        assert_eq!(Kind::Secret.state(&live, None).get(&path("data")), Some(&Value::Null));
    }

    #[test]
    fn immutable_secrets_and_names_force_replacement() {
        let mut prior = Kind::Secret.plan(None, &secret_config(&[("a", "1")])).planned_state;
        prior.set(&path("immutable"), Value::Bool(true));
        prior.set(&path("metadata.uid"), Value::from("u"));
        let mut config = secret_config(&[("a", "2")]);
        config.set(&path("immutable"), Value::Bool(true));
        let r = Kind::Secret.plan(Some(&prior), &config);
        assert_eq!(r.requires_replace, vec![path("data")]);
        assert_eq!(r.planned_state.get(&path("metadata.uid")), Some(&Value::Unknown));
        let mut renamed = secret_config(&[("a", "1")]);
        renamed.set(&path("metadata.namespace"), Value::from("other"));
        renamed.set(&path("type"), Value::from("kubernetes.io/tls"));
        let r = Kind::Secret.plan(Some(&prior), &renamed);
        assert!(
            r.requires_replace.contains(&path("metadata.namespace"))
                && r.requires_replace.contains(&path("type"))
        );
    }

    #[test]
    fn validation_names_the_field_and_never_the_secret() {
        let mut config = secret_config(&[("bad key", "s3cr3t"), ("ok", "v")]);
        config.set(&path("binary_data"), Value::object([("ok", Value::from("%%s3cr3t%%"))]));
        config.set(&path("metadata.name"), Value::from("Not_Valid"));
        let problems = Kind::Secret.validate(&config);
        let text = format!("{problems:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        let paths: Vec<String> = problems.iter().map(|(p, _)| p.to_string()).collect();
        assert!(paths.contains(&"metadata.name".to_owned()), "{paths:?}");
        assert!(paths.iter().any(|p| p.starts_with("data")), "{paths:?}");
        assert_eq!(paths.iter().filter(|p| p.starts_with("binary_data")).count(), 2, "{paths:?}");
        assert_eq!(Kind::Namespace.validate(&Value::object([("metadata", Value::Null)])).len(), 1);
        assert!(!is_dns1123_label(&"a".repeat(64)) && is_dns1123_label("lane-training"));
        assert!(is_secret_key("tls.crt") && !is_secret_key("..") && !is_secret_key("a/b"));
    }
}
