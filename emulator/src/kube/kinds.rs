//! The rules of the built-in kinds a platform stack applies besides namespaces and secrets:
//! core `configmaps`, `serviceaccounts`, `services`, `persistentvolumeclaims`,
//! `persistentvolumes`; `apps/v1` `deployments`; `batch/v1` `jobs`;
//! `rbac.authorization.k8s.io/v1` roles and bindings; `storage.k8s.io/v1` `storageclasses`.
//!
//! Each kind has the defaults users see in diffs, the strategy's server-set fields (status
//! reset on create and kept on update, `metadata.generation` for Deployments and Jobs, a Job's
//! generated selector, a Service's cluster IP kept), and the validation the real server surely
//! does, with its messages (`k8s.io/kubernetes/pkg/apis/*/validation`). Values that the real
//! server prints with Go's `%#v` are printed the same way where the type is small (`[]string`,
//! `map[string]string`, `rbac.RoleRef`, `v1.LabelSelector`) and abbreviated where it is a whole
//! pod template (`core.PodTemplateSpec{...}`).

use serde_json::{Map, Value, json};

use super::status::FieldError;
use super::types::{MAX_SECRET_SIZE, config_key_errors, decode_metadata, kind_of, string_map};

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// The object at `key` of `v`, made an object if it is not one (and `v` too: a field of the
/// wrong type gets the defaults of an empty one, and validation says what is missing, rather
/// than a panic on input).
fn object_at<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.is_object() {
        *v = json!({});
    }
    let Value::Object(fields) = v else { unreachable!("just made an object") };
    let entry = fields.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    let Value::Object(inner) = entry else { unreachable!("just made an object") };
    inner
}

/// Sets `key` of the object `m` to `value` when it is absent or null.
fn or_insert(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_owned(), value);
    }
}

// --- Quantities.

const QUANTITY: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// A resource quantity (`10Gi`, `500M`, `1.5e3`, `100m`) as a number of units, or `None` when
/// it is not one.
pub(crate) fn quantity(q: &Value) -> Option<f64> {
    let s = match q {
        Value::String(s) => s.as_str(),
        Value::Number(n) => return n.as_f64(),
        _ => return None,
    };
    let split =
        s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        e => {
            let exp = e.strip_prefix(['e', 'E'])?;
            10f64.powi(exp.parse().ok()?)
        }
    };
    Some(number * factor)
}

/// A decoding check: the quantity at `pointer`, when there is one, parses.
fn decode_quantity(v: &Value, pointer: &str) -> Result<(), String> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Ok(()),
        Some(q) if quantity(q).is_some() => Ok(()),
        Some(_) => Err(QUANTITY.to_owned()),
    }
}

// --- Go's `%#v`, for the values of `Invalid value` errors.

fn go_quote(s: &str) -> String {
    Value::from(s).to_string()
}

fn go_strings(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".to_owned(),
        Some(items) => {
            let listed: Vec<String> =
                items.iter().map(|s| go_quote(s.as_str().unwrap_or_default())).collect();
            format!("[]string{{{}}}", listed.join(", "))
        }
    }
}

fn go_string_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_owned(),
        Some(m) => {
            // serde_json's maps are sorted, as Go prints maps.
            let listed: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v.as_str().unwrap_or_default())))
                .collect();
            format!("map[string]string{{{}}}", listed.join(", "))
        }
    }
}

fn go_label_selector(s: &Value) -> String {
    let expressions = match s.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
        Some(list) => {
            let listed: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(text(r, "/key")),
                        go_quote(text(r, "/operator")),
                        go_strings(r.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", listed.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}",
        go_string_map(s.get("matchLabels"))
    )
}

fn go_role_ref(r: Option<&Value>) -> String {
    let r = r.unwrap_or(&Value::Null);
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        go_quote(text(r, "/apiGroup")),
        go_quote(text(r, "/kind")),
        go_quote(text(r, "/name"))
    )
}

/// Whether a `LabelSelector` selects `labels` (an empty selector selects everything).
pub(crate) fn selects(selector: &Value, labels: Option<&Value>) -> bool {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_ok = match_labels.is_none_or(|m| m.iter().all(|(k, v)| label(k) == v.as_str()));
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let expressions_ok = expressions.is_none_or(|list| {
        list.iter().all(|r| {
            let have = label(text(r, "/key"));
            let values = r.get("values").and_then(Value::as_array);
            let listed = |h: &str| values.is_some_and(|vs| vs.iter().any(|v| v == h));
            match text(r, "/operator") {
                "In" => have.is_some_and(listed),
                "NotIn" => have.is_none_or(|h| !listed(h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        })
    });
    labels_ok && expressions_ok
}

// --- Strategy helpers.

/// On create, the status the kind starts with; on update, the stored one (main-resource writes
/// do not change it).
fn reset_status(v: &mut Value, old: Option<&Value>, initial: Value) {
    let Some(obj) = v.as_object_mut() else { return };
    match old {
        None => {
            obj.insert("status".into(), initial);
        }
        Some(old) => match old.get("status") {
            Some(s) => {
                obj.insert("status".into(), s.clone());
            }
            None => {
                obj.remove("status");
            }
        },
    }
}

/// `metadata.generation`: 1 on create, one more when the spec changes.
fn spec_generation(v: &mut Value, old: Option<&Value>) {
    let generation = match old {
        None => 1,
        Some(old) => {
            let before = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
            if old.get("spec") == v.get("spec") { before } else { before + 1 }
        }
    };
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("generation".into(), json!(generation));
    }
}

// --- Pod templates.

/// `SetDefaults_PodSpec` and its containers', for a template at `template`.
fn default_pod_template(template: &mut Value) {
    let spec = object_at(template, "spec");
    or_insert(spec, "restartPolicy", json!("Always"));
    or_insert(spec, "dnsPolicy", json!("ClusterFirst"));
    or_insert(spec, "schedulerName", json!("default-scheduler"));
    or_insert(spec, "securityContext", json!({}));
    or_insert(spec, "terminationGracePeriodSeconds", json!(30));
    for list in ["containers", "initContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
            let tag = image.rsplit_once('/').map_or(image, |(_, last)| last).split_once(':').map(|(_, t)| t);
            let pull = if image.contains('@') || tag.is_some_and(|t| t != "latest") {
                "IfNotPresent"
            } else {
                "Always"
            };
            or_insert(c, "imagePullPolicy", json!(pull));
            or_insert(c, "terminationMessagePath", json!("/dev/termination-log"));
            or_insert(c, "terminationMessagePolicy", json!("File"));
            or_insert(c, "resources", json!({}));
            if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    or_insert(p, "protocol", json!("TCP"));
                }
            }
            if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
                for e in env.iter_mut() {
                    if let Some(field_ref) =
                        e.pointer_mut("/valueFrom/fieldRef").and_then(Value::as_object_mut)
                    {
                        or_insert(field_ref, "apiVersion", json!("v1"));
                    }
                }
            }
        }
    }
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in volumes.iter_mut() {
            for source in ["configMap", "secret"] {
                if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut) {
                    or_insert(s, "defaultMode", json!(420));
                }
            }
        }
    }
}

/// What every pod template must have.
fn pod_template_errors(spec: &Value, field: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let containers = spec.pointer("/template/spec/containers").and_then(Value::as_array);
    if containers.is_none_or(Vec::is_empty) {
        errors.push(FieldError::required(format!("{field}.template.spec.containers"), ""));
    }
    for (i, c) in containers.into_iter().flatten().enumerate() {
        if text(c, "/name").is_empty() {
            errors.push(FieldError::required(format!("{field}.template.spec.containers[{i}].name"), ""));
        }
        if text(c, "/image").is_empty() {
            errors.push(FieldError::required(format!("{field}.template.spec.containers[{i}].image"), ""));
        }
    }
    errors
}

// --- ConfigMap.

pub(crate) fn decode_config_map(v: &Value) -> Result<(), String> {
    decode_metadata(v, "ConfigMap")?;
    string_map(v, "data", "ConfigMap")?;
    string_map(v, "binaryData", "ConfigMap")
}

pub(crate) fn validate_config_map(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(old) = old
        && old.get("immutable") == Some(&Value::Bool(true))
    {
        const WHY: &str = "field is immutable when `immutable` is set";
        if v.get("immutable") != Some(&Value::Bool(true)) {
            errors.push(FieldError::forbidden("immutable", WHY));
        }
        for field in ["data", "binaryData"] {
            if v.get(field) != old.get(field) {
                errors.push(FieldError::forbidden(field, WHY));
            }
        }
    }
    let mut total = 0;
    for field in ["data", "binaryData"] {
        for (k, value) in v.get(field).and_then(Value::as_object).into_iter().flatten() {
            errors.extend(config_key_errors(&format!("{field}[{k}]"), k));
            if field == "binaryData"
                && v.pointer(&format!("/data/{}", k.replace('~', "~0").replace('/', "~1"))).is_some()
            {
                errors.push(FieldError::invalid(
                    format!("{field}[{k}]"),
                    k,
                    "duplicate of key present in data",
                ));
            }
            total += value.as_str().map_or(0, str::len);
        }
    }
    if total > MAX_SECRET_SIZE {
        errors.push(FieldError::too_long("", MAX_SECRET_SIZE));
    }
    errors
}

// --- Service.

pub(crate) fn default_service(v: &mut Value, _name: &str) {
    let spec = object_at(v, "spec");
    or_insert(spec, "type", json!("ClusterIP"));
    or_insert(spec, "sessionAffinity", json!("None"));
    if spec.get("type").and_then(Value::as_str) != Some("ExternalName") {
        or_insert(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if matches!(spec.get("type").and_then(Value::as_str), Some("NodePort" | "LoadBalancer")) {
        or_insert(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            or_insert(p, "protocol", json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                or_insert(p, "targetPort", port);
            }
        }
    }
}

/// The strategy: status `{loadBalancer: {}}`; the allocated cluster IPs kept when an update
/// leaves them out (`patchAllocatedValues`). New ones are allocated by the store, which sees
/// the other Services.
pub(crate) fn prepare_service(v: &mut Value, old: Option<&Value>, _now: &str) {
    reset_status(v, old, json!({ "loadBalancer": {} }));
    let Some(old) = old else { return };
    let spec = object_at(v, "spec");
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if let Some(kept) = old.pointer(&format!("/spec/{field}")) {
            or_insert(spec, field, kept.clone());
        }
    }
}

pub(crate) fn validate_service(v: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let kind = text(v, "/spec/type");
    const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if !TYPES.contains(&kind) {
        errors.push(FieldError::not_supported("spec.type", &json!(kind), &TYPES.map(|t| json!(t))));
    }
    let ports = v.pointer("/spec/ports").and_then(Value::as_array);
    let headless = text(v, "/spec/clusterIP") == "None";
    if ports.is_none_or(Vec::is_empty) && !headless && kind != "ExternalName" {
        errors.push(FieldError::required("spec.ports", ""));
    }
    for (i, p) in ports.into_iter().flatten().enumerate() {
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&port) {
            errors.push(FieldError::invalid_raw(
                format!("spec.ports[{i}].port"),
                &port.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
        let protocol = text(p, "/protocol");
        if !PROTOCOLS.contains(&protocol) {
            errors.push(FieldError::not_supported(
                format!("spec.ports[{i}].protocol"),
                &json!(protocol),
                &PROTOCOLS.map(|t| json!(t)),
            ));
        }
    }
    if kind == "ExternalName" && text(v, "/spec/externalName").is_empty() {
        errors.push(FieldError::required("spec.externalName", ""));
    }
    errors
}

// --- PersistentVolumeClaim and PersistentVolume.

const ACCESS_MODES: [&str; 4] = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

pub(crate) fn decode_claim(v: &Value) -> Result<(), String> {
    decode_metadata(v, "PersistentVolumeClaim")?;
    decode_quantity(v, "/spec/resources/requests/storage")?;
    decode_quantity(v, "/spec/resources/limits/storage")
}

pub(crate) fn default_claim(v: &mut Value, _name: &str) {
    or_insert(object_at(v, "spec"), "volumeMode", json!("Filesystem"));
}

/// The strategy: status `{phase: Pending}` on create; `dataSource` and `dataSourceRef` kept
/// consistent (each filled from the other, as the real server does since 1.24).
pub(crate) fn prepare_claim(v: &mut Value, old: Option<&Value>, _now: &str) {
    reset_status(v, old, json!({ "phase": "Pending" }));
    let spec = object_at(v, "spec");
    match (spec.get("dataSource").cloned(), spec.get("dataSourceRef").cloned()) {
        (Some(source), None) if source.is_object() => {
            spec.insert("dataSourceRef".into(), source);
        }
        (None, Some(reference)) if reference.get("namespace").is_none() => {
            spec.insert("dataSource".into(), reference);
        }
        _ => {}
    }
}

fn access_mode_errors(v: &Value, field: &str) -> Vec<FieldError> {
    let modes = v.pointer("/spec/accessModes").and_then(Value::as_array);
    let mut errors = Vec::new();
    if modes.is_none_or(Vec::is_empty) {
        errors.push(FieldError::required(field, "at least 1 access mode is required"));
    }
    for m in modes.into_iter().flatten() {
        if !m.as_str().is_some_and(|m| ACCESS_MODES.contains(&m)) {
            errors.push(FieldError::not_supported(field, m, &ACCESS_MODES.map(|t| json!(t))));
        }
    }
    errors
}

pub(crate) fn validate_claim(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = access_mode_errors(v, "spec.accessModes");
    match v.pointer("/spec/resources/requests/storage") {
        None | Some(Value::Null) => errors.push(FieldError::required("spec.resources[storage]", "")),
        Some(q) if quantity(q).is_some_and(|n| n <= 0.0) => errors.push(FieldError::invalid(
            "spec.resources[storage]",
            q.as_str().unwrap_or_default(),
            "must be greater than zero",
        )),
        Some(_) => {}
    }
    const MODES: [&str; 2] = ["Block", "Filesystem"];
    let mode = text(v, "/spec/volumeMode");
    if !MODES.contains(&mode) {
        errors.push(FieldError::not_supported("spec.volumeMode", &json!(mode), &MODES.map(|t| json!(t))));
    }
    if let Some(source) = v.pointer("/spec/dataSource").filter(|s| s.is_object()) {
        if text(source, "/kind").is_empty() {
            errors.push(FieldError::required("spec.dataSource.kind", ""));
        }
        if text(source, "/name").is_empty() {
            errors.push(FieldError::required("spec.dataSource.name", ""));
        }
    }
    let Some(old) = old else { return errors };
    // `ValidatePersistentVolumeClaimUpdate`: the spec is immutable but for binding (a volume
    // name set where there was none) and, once bound, a larger storage request.
    let mut new_spec = v.get("spec").cloned().unwrap_or_else(|| json!({}));
    let mut old_spec = old.get("spec").cloned().unwrap_or_else(|| json!({}));
    if text(&old_spec, "/volumeName").is_empty()
        && let Some(name) = new_spec.get("volumeName").cloned()
    {
        old_spec["volumeName"] = name;
    }
    // A class given to a claim that had none (`RetroactiveDefaultStorageClass`).
    if old_spec.get("storageClassName").is_none_or(Value::is_null)
        && let Some(class) = new_spec.get("storageClassName").cloned()
    {
        old_spec["storageClassName"] = class;
    }
    for s in [&mut new_spec, &mut old_spec] {
        if let Some(o) = s.as_object_mut() {
            o.remove("volumeAttributesClassName");
        }
    }
    if text(v, "/status/phase") == "Bound" {
        let size = |s: &Value| s.pointer("/resources/requests/storage").and_then(quantity);
        if let (Some(new), Some(before)) = (size(&new_spec), size(&old_spec))
            && new < before
        {
            errors.push(FieldError::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than previous value",
            ));
        }
        if let Some(q) = old_spec.pointer("/resources/requests/storage").cloned()
            && new_spec.pointer("/resources/requests/storage").is_some()
        {
            new_spec["resources"]["requests"]["storage"] = q;
        }
    }
    if new_spec != old_spec {
        errors.push(FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    errors
}

pub(crate) fn decode_volume(v: &Value) -> Result<(), String> {
    decode_metadata(v, "PersistentVolume")?;
    decode_quantity(v, "/spec/capacity/storage")
}

pub(crate) fn default_volume(v: &mut Value, _name: &str) {
    let spec = object_at(v, "spec");
    or_insert(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
    or_insert(spec, "volumeMode", json!("Filesystem"));
}

pub(crate) fn prepare_volume(v: &mut Value, old: Option<&Value>, _now: &str) {
    reset_status(v, old, json!({ "phase": "Pending" }));
}

/// The volume sources a PersistentVolume may name (one of them).
const VOLUME_SOURCES: [&str; 12] = [
    "azureDisk",
    "azureFile",
    "csi",
    "fc",
    "flexVolume",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "cephfs",
    "rbd",
    "gcePersistentDisk",
];

pub(crate) fn validate_volume(v: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = access_mode_errors(v, "spec.accessModes");
    if v.pointer("/spec/capacity").is_none_or(|c| c.as_object().is_none_or(Map::is_empty)) {
        errors.push(FieldError::required("spec.capacity", ""));
    }
    let sources = VOLUME_SOURCES.iter().filter(|s| v.pointer(&format!("/spec/{s}")).is_some()).count();
    if sources == 0 {
        errors.push(FieldError::required("spec", "must specify a volume type"));
    }
    const POLICIES: [&str; 3] = ["Delete", "Recycle", "Retain"];
    let policy = text(v, "/spec/persistentVolumeReclaimPolicy");
    if !POLICIES.contains(&policy) {
        errors.push(FieldError::not_supported(
            "spec.persistentVolumeReclaimPolicy",
            &json!(policy),
            &POLICIES.map(|t| json!(t)),
        ));
    }
    errors
}

// --- Deployment.

pub(crate) fn default_deployment(v: &mut Value, _name: &str) {
    let spec = object_at(v, "spec");
    or_insert(spec, "replicas", json!(1));
    or_insert(spec, "revisionHistoryLimit", json!(10));
    or_insert(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(s) = strategy.as_object_mut() {
        or_insert(s, "type", json!("RollingUpdate"));
        if s.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let rolling = s.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(r) = rolling.as_object_mut() {
                or_insert(r, "maxSurge", json!("25%"));
                or_insert(r, "maxUnavailable", json!("25%"));
            }
        }
    }
    if let Some(template) = spec.get_mut("template") {
        default_pod_template(template);
    }
}

pub(crate) fn prepare_workload(v: &mut Value, old: Option<&Value>, _now: &str) {
    reset_status(v, old, json!({}));
    spec_generation(v, old);
}

/// A selector against its template's labels (`ValidatePodTemplateSpecForReplicaSet`).
fn selector_errors(v: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match v.pointer("/spec/selector").filter(|s| s.is_object()) {
        None => errors.push(FieldError::required("spec.selector", "")),
        Some(s) => {
            let empty = |k: &str| {
                s.get(k).and_then(Value::as_object).is_none_or(Map::is_empty)
                    && s.get(k).and_then(Value::as_array).is_none_or(Vec::is_empty)
            };
            if empty("matchLabels") && empty("matchExpressions") {
                errors.push(FieldError::invalid_raw(
                    "spec.selector",
                    &go_label_selector(s),
                    "empty selector is invalid for deployment",
                ));
            } else if !selects(s, v.pointer("/spec/template/metadata/labels")) {
                errors.push(FieldError::invalid_raw(
                    "spec.template.metadata.labels",
                    &go_string_map(v.pointer("/spec/template/metadata/labels")),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    errors
}

pub(crate) fn validate_deployment(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(r) = v.pointer("/spec/replicas").and_then(Value::as_i64)
        && r < 0
    {
        errors.push(FieldError::invalid_raw(
            "spec.replicas",
            &r.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    errors.extend(selector_errors(v));
    errors.extend(pod_template_errors(v.get("spec").unwrap_or(&Value::Null), "spec"));
    let restart = text(v, "/spec/template/spec/restartPolicy");
    if restart != "Always" {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            &json!(restart),
            &[json!("Always")],
        ));
    }
    const STRATEGIES: [&str; 2] = ["Recreate", "RollingUpdate"];
    let strategy = text(v, "/spec/strategy/type");
    if !STRATEGIES.contains(&strategy) {
        errors.push(FieldError::not_supported(
            "spec.strategy.type",
            &json!(strategy),
            &STRATEGIES.map(|t| json!(t)),
        ));
    } else if strategy == "Recreate" && v.pointer("/spec/strategy/rollingUpdate").is_some() {
        errors.push(FieldError::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        ));
    }
    if let Some(old) = old
        && let (Some(before), Some(now)) = (old.pointer("/spec/selector"), v.pointer("/spec/selector"))
        && before != now
    {
        errors.push(FieldError::invalid_raw("spec.selector", &go_label_selector(now), "field is immutable"));
    }
    errors
}

// --- Job.

pub(crate) fn default_job(v: &mut Value, _name: &str) {
    let spec = object_at(v, "spec");
    if spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null)
    {
        spec.insert("completions".into(), json!(1));
    }
    or_insert(spec, "parallelism", json!(1));
    or_insert(spec, "backoffLimit", json!(6));
    or_insert(spec, "completionMode", json!("NonIndexed"));
    or_insert(spec, "suspend", json!(false));
    if spec.get("podFailurePolicy").is_none() {
        or_insert(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    }
    if let Some(template) = spec.get_mut("template") {
        default_pod_template(template);
    }
}

/// The strategy: status and generation, and on create the selector the real server generates
/// (unless `manualSelector`), from the Job's uid, with its labels on the template.
pub(crate) fn prepare_job(v: &mut Value, old: Option<&Value>, now: &str) {
    prepare_workload(v, old, now);
    if old.is_some() || v.pointer("/spec/manualSelector") == Some(&json!(true)) {
        return;
    }
    let uid = text(v, "/metadata/uid").to_owned();
    let name = text(v, "/metadata/name").to_owned();
    let spec = object_at(v, "spec");
    spec.insert("selector".into(), json!({ "matchLabels": { "batch.kubernetes.io/controller-uid": uid } }));
    let template = spec.entry("template").or_insert_with(|| json!({}));
    let labels = object_at(object_at_value(template, "metadata"), "labels");
    for (k, value) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels.insert(k.into(), json!(value));
    }
}

fn object_at_value<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    object_at(v, key);
    &mut v[key]
}

pub(crate) fn validate_job(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = pod_template_errors(v.get("spec").unwrap_or(&Value::Null), "spec");
    let restart = text(v, "/spec/template/spec/restartPolicy");
    if !matches!(restart, "OnFailure" | "Never") {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            &json!(restart),
            &[json!("OnFailure"), json!("Never")],
        ));
    }
    for field in ["parallelism", "completions", "backoffLimit"] {
        if let Some(n) = v.pointer(&format!("/spec/{field}")).and_then(Value::as_i64)
            && n < 0
        {
            errors.push(FieldError::invalid_raw(
                format!("spec.{field}"),
                &n.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(s) = v.pointer("/spec/selector")
        && !selects(s, v.pointer("/spec/template/metadata/labels"))
    {
        errors.push(FieldError::invalid_raw(
            "spec.template.metadata.labels",
            &go_string_map(v.pointer("/spec/template/metadata/labels")),
            "`selector` does not match template `labels`",
        ));
    }
    if let Some(old) = old {
        if old.pointer("/spec/template") != v.pointer("/spec/template") {
            errors.push(FieldError::invalid_raw(
                "spec.template",
                "core.PodTemplateSpec{...}",
                "field is immutable",
            ));
        }
        if old.pointer("/spec/selector") != v.pointer("/spec/selector") {
            let s = v.pointer("/spec/selector").unwrap_or(&Value::Null);
            errors.push(FieldError::invalid_raw(
                "spec.selector",
                &go_label_selector(s),
                "field is immutable",
            ));
        }
        if old.pointer("/spec/completionMode") != v.pointer("/spec/completionMode") {
            errors.push(FieldError::invalid(
                "spec.completionMode",
                text(v, "/spec/completionMode"),
                "field is immutable",
            ));
        }
    }
    errors
}

// --- RBAC.

/// `ValidatePolicyRule`, for each rule.
fn rule_errors(v: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let empty = |r: &Value, k: &str| r.get(k).and_then(Value::as_array).is_none_or(Vec::is_empty);
    for (i, r) in v.get("rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if empty(r, "verbs") {
            errors.push(FieldError::required(
                format!("rules[{i}].verbs"),
                "verbs must contain at least one value",
            ));
        }
        if !empty(r, "nonResourceURLs") {
            let urls = go_strings(r.get("nonResourceURLs"));
            if namespaced {
                errors.push(FieldError::invalid_raw(
                    format!("rules[{i}].nonResourceURLs"),
                    &urls,
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if !empty(r, "apiGroups") || !empty(r, "resources") || !empty(r, "resourceNames") {
                errors.push(FieldError::invalid_raw(
                    format!("rules[{i}].nonResourceURLs"),
                    &urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if empty(r, "apiGroups") {
            errors.push(FieldError::required(
                format!("rules[{i}].apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if empty(r, "resources") {
            errors.push(FieldError::required(
                format!("rules[{i}].resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    errors
}

pub(crate) fn validate_role(v: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    rule_errors(v, true)
}

pub(crate) fn validate_cluster_role(v: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    rule_errors(v, false)
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// `SetDefaults_Subject`: users' and groups' API group.
pub(crate) fn default_binding(v: &mut Value, _name: &str) {
    for s in v.get_mut("subjects").and_then(Value::as_array_mut).into_iter().flatten() {
        let Some(s) = s.as_object_mut() else { continue };
        if s.get("apiGroup").and_then(Value::as_str).is_none_or(str::is_empty)
            && matches!(s.get("kind").and_then(Value::as_str), Some("User" | "Group"))
        {
            s.insert("apiGroup".into(), json!(RBAC_GROUP));
        }
    }
}

fn binding_errors(v: &Value, old: Option<&Value>, namespaced: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let group = text(v, "/roleRef/apiGroup");
    if group != RBAC_GROUP {
        errors.push(FieldError::not_supported("roleRef.apiGroup", &json!(group), &[json!(RBAC_GROUP)]));
    }
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    let kind = text(v, "/roleRef/kind");
    if !kinds.contains(&kind) {
        let supported: Vec<Value> = kinds.iter().map(|k| json!(k)).collect();
        errors.push(FieldError::not_supported("roleRef.kind", &json!(kind), &supported));
    }
    let name = text(v, "/roleRef/name");
    if name.is_empty() {
        errors.push(FieldError::required("roleRef.name", ""));
    } else {
        for why in path_segment_errors(name) {
            errors.push(FieldError::invalid("roleRef.name", name, why));
        }
    }
    for (i, s) in v.get("subjects").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let field = |f: &str| format!("subjects[{i}].{f}");
        if text(s, "/name").is_empty() {
            errors.push(FieldError::required(field("name"), ""));
        }
        let api_group = text(s, "/apiGroup");
        match text(s, "/kind") {
            "ServiceAccount" => {
                if !api_group.is_empty() {
                    errors.push(FieldError::not_supported(
                        field("apiGroup"),
                        &json!(api_group),
                        &[json!("")],
                    ));
                }
                if !namespaced && text(s, "/namespace").is_empty() {
                    errors.push(FieldError::required(field("namespace"), ""));
                }
            }
            "User" | "Group" => {
                if api_group != RBAC_GROUP {
                    errors.push(FieldError::not_supported(
                        field("apiGroup"),
                        &json!(api_group),
                        &[json!(RBAC_GROUP)],
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                field("kind"),
                &json!(other),
                &[json!("ServiceAccount"), json!("User"), json!("Group")],
            )),
        }
    }
    if let Some(old) = old
        && old.get("roleRef") != v.get("roleRef")
    {
        errors.push(FieldError::invalid_raw(
            "roleRef",
            &go_role_ref(v.get("roleRef")),
            "cannot change roleRef",
        ));
    }
    errors
}

pub(crate) fn validate_role_binding(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    binding_errors(v, old, true)
}

pub(crate) fn validate_cluster_role_binding(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    binding_errors(v, old, false)
}

/// `IsValidPathSegmentName`: the names of RBAC objects.
pub(crate) fn path_segment_errors(name: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if name == "." {
        out.push("may not be '.'");
    } else if name == ".." {
        out.push("may not be '..'");
    }
    if name.contains('/') {
        out.push("may not contain '/'");
    }
    if name.contains('%') {
        out.push("may not contain '%'");
    }
    out
}

// --- StorageClass.

pub(crate) fn decode_storage_class(v: &Value) -> Result<(), String> {
    decode_metadata(v, "StorageClass")?;
    string_map(v, "parameters", "StorageClass")?;
    match v.get("provisioner") {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go struct field StorageClass.provisioner of type string",
            kind_of(other)
        )),
    }
}

pub(crate) fn default_storage_class(v: &mut Value, _name: &str) {
    let Some(obj) = v.as_object_mut() else { return };
    or_insert(obj, "reclaimPolicy", json!("Delete"));
    or_insert(obj, "volumeBindingMode", json!("Immediate"));
}

pub(crate) fn validate_storage_class(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if text(v, "/provisioner").is_empty() {
        errors.push(FieldError::required("provisioner", ""));
    }
    const POLICIES: [&str; 2] = ["Delete", "Retain"];
    let policy = text(v, "/reclaimPolicy");
    if !POLICIES.contains(&policy) {
        errors.push(FieldError::not_supported("reclaimPolicy", &json!(policy), &POLICIES.map(|t| json!(t))));
    }
    const MODES: [&str; 2] = ["Immediate", "WaitForFirstConsumer"];
    let mode = text(v, "/volumeBindingMode");
    if !MODES.contains(&mode) {
        errors.push(FieldError::not_supported("volumeBindingMode", &json!(mode), &MODES.map(|t| json!(t))));
    }
    if let Some(old) = old {
        let empty = json!({});
        if v.get("parameters").unwrap_or(&empty) != old.get("parameters").unwrap_or(&empty) {
            errors.push(FieldError::forbidden("parameters", "updates to parameters are forbidden."));
        }
        if text(v, "/provisioner") != text(old, "/provisioner") {
            errors.push(FieldError::forbidden("provisioner", "updates to provisioner are forbidden."));
        }
        if policy != text(old, "/reclaimPolicy") {
            errors.push(FieldError::forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
        }
        if mode != text(old, "/volumeBindingMode") {
            errors.push(FieldError::invalid("volumeBindingMode", mode, "field is immutable"));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_binary_decimal_and_exponent_suffixes() {
        assert_eq!(quantity(&json!("10Gi")), Some(10.0 * 1024f64.powi(3)));
        assert_eq!(quantity(&json!("500M")), Some(5e8));
        assert_eq!(quantity(&json!("1.5Ki")), Some(1536.0));
        assert_eq!(quantity(&json!("1e3")), Some(1000.0));
        assert_eq!(quantity(&json!(42)), Some(42.0));
        assert_eq!(quantity(&json!("ten")), None);
        assert_eq!(quantity(&json!("10Gb")), None);
    }

    #[test]
    fn go_values_print_as_percent_sharp_v() {
        assert_eq!(
            go_string_map(Some(&json!({ "b": "2", "a": "1" }))),
            r#"map[string]string{"a":"1", "b":"2"}"#
        );
        assert_eq!(go_strings(Some(&json!(["/healthz", "/x"]))), r#"[]string{"/healthz", "/x"}"#);
        assert_eq!(
            go_role_ref(Some(&json!({ "apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "x" }))),
            r#"rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"x"}"#
        );
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let labels = json!({ "app": "web", "tier": "front" });
        assert!(selects(&json!({ "matchLabels": { "app": "web" } }), Some(&labels)));
        assert!(!selects(&json!({ "matchLabels": { "app": "db" } }), Some(&labels)));
        let exprs = json!({ "matchExpressions": [
            { "key": "tier", "operator": "In", "values": ["front", "back"] },
            { "key": "gone", "operator": "DoesNotExist" },
        ] });
        assert!(selects(&exprs, Some(&labels)));
        assert!(!selects(&exprs, None));
    }
}
