//! Saved plans (`plan --out FILE`, `apply FILE`): a versioned on-disk form of [`Plan`].
//!
//! The file holds everything apply needs to do exactly what was reviewed: the stack's source
//! files as planned, the variables, every planned change (values with their unknown and
//! sensitive paths), and the lineage and serial of the state the plan was made from. The
//! on-disk types here are separate from the in-memory ones so the format can stay stable while
//! the code changes.
//!
//! Secrets stay out of the file: every known sensitive part of every value is written as a
//! salted seal ([`crate::secrets::Seal`]), never in clear. A plan read back is marked
//! [`Plan::sealed`]; before applying it, [`unseal`] puts the secrets back from the same inputs
//! as the plan (the variables) and from state (the prior values), refusing when one differs
//! from its seal. The planned values keep their seals: apply checks the final plan against them.

use std::path::{Path, PathBuf};

use lanestack_model::{
    Action, ActionReason, AttrPath, BlockAddress, Drift, OutputChange, ResourceAddress, ResourceChange, Value,
};
use serde::{Deserialize, Serialize};

use crate::plan::{Plan, PlanMode, PlannedChange, StateRef};
use crate::secrets::Seal;

/// The version of the saved plan format written by this build.
pub const FORMAT_VERSION: u32 = 2;

/// Why a saved plan could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a lanestack plan, or is damaged.
    #[error("{path} is not a readable lanestack plan: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file was written by a newer lanestack.
    #[error(
        "{path} is a plan in format {found}, but this lanestack reads format {FORMAT_VERSION}; use the lanestack version that made it"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
}

#[derive(Serialize, Deserialize)]
struct EncodedValue {
    value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sensitive: Vec<AttrPath>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    unknown: Vec<AttrPath>,
}

impl EncodedValue {
    /// Every known sensitive part becomes its seal (a part that already is one, in a plan read
    /// from a file, stays as it is); a sensitive part that is partly unknown becomes wholly
    /// unknown (its known parts may be secret too).
    fn encode(v: &Value, seal: &Seal) -> EncodedValue {
        let sensitive = v.sensitive_paths();
        let mut sealed = v.clone();
        for path in &sensitive {
            if let Some(slot) = sealed.get_mut(path) {
                *slot = if Seal::is_seal(slot) {
                    slot.unmark()
                } else if Seal::applies_to(slot) {
                    Value::String(seal.seal(slot))
                } else if slot.is_null() {
                    Value::Null
                } else {
                    Value::Unknown
                };
            }
        }
        EncodedValue { value: sealed.to_json(), sensitive, unknown: sealed.unknown_paths() }
    }

    fn decode(&self) -> Value {
        let mut v = Value::from_json(&self.value);
        for path in &self.unknown {
            v.set(path, Value::Unknown);
        }
        v.with_sensitive_paths(&self.sensitive)
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    format_version: u32,
}

#[derive(Serialize, Deserialize)]
struct FileV2 {
    format_version: u32,
    lanestack_version: String,
    /// The salt of every seal in this file.
    salt: String,
    mode: String,
    base: Option<BaseV1>,
    dir: PathBuf,
    cwd: PathBuf,
    sources: Vec<SourceV1>,
    variables: Vec<(String, EncodedValue)>,
    targets: Vec<ResourceAddress>,
    forget: Vec<ResourceAddress>,
    #[serde(default)]
    deposed: Vec<(ResourceAddress, EncodedValue)>,
    changes: Vec<ChangeV1>,
    drift: Vec<DriftV1>,
    outputs: Vec<OutputV1>,
}

#[derive(Serialize, Deserialize)]
struct BaseV1 {
    lineage: String,
    serial: u64,
}

#[derive(Serialize, Deserialize)]
struct SourceV1 {
    path: PathBuf,
    text: String,
}

#[derive(Serialize, Deserialize)]
struct ChangeV1 {
    address: ResourceAddress,
    action: Action,
    reason: Option<ActionReason>,
    before: Option<EncodedValue>,
    after: Option<EncodedValue>,
    replace_paths: Vec<AttrPath>,
    dependencies: Vec<String>,
    data_bearing: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

#[derive(Serialize, Deserialize)]
struct DriftV1 {
    address: ResourceAddress,
    recorded: EncodedValue,
    live: Option<EncodedValue>,
}

#[derive(Serialize, Deserialize)]
struct OutputV1 {
    name: String,
    action: Action,
    before: Option<EncodedValue>,
    after: Option<EncodedValue>,
    sensitive: bool,
}

/// Serialises a plan to bytes.
///
/// Sensitive values are sealed with `plan`'s own seal when it was read from a file (so that a
/// plan read and written again keeps its seals), else with a fresh random salt.
pub fn to_bytes(plan: &Plan) -> Vec<u8> {
    let seal = plan.sealed.clone().unwrap_or_else(Seal::fresh);
    let enc = |v: &Value| EncodedValue::encode(v, &seal);
    let file = FileV2 {
        format_version: FORMAT_VERSION,
        lanestack_version: env!("CARGO_PKG_VERSION").to_owned(),
        salt: seal.salt().to_owned(),
        mode: match plan.mode {
            PlanMode::Normal => "normal",
            PlanMode::Destroy => "destroy",
        }
        .to_owned(),
        base: plan.base.as_ref().map(|b| BaseV1 { lineage: b.lineage.clone(), serial: b.serial }),
        dir: plan.dir.clone(),
        cwd: plan.cwd.clone(),
        sources: plan.sources.iter().map(|(p, t)| SourceV1 { path: p.clone(), text: t.clone() }).collect(),
        variables: plan.variables.iter().map(|(k, v)| (k.clone(), enc(v))).collect(),
        targets: plan.targets.clone(),
        forget: plan.forget.clone(),
        deposed: plan.deposed.iter().map(|(a, v)| (a.clone(), enc(v))).collect(),
        changes: plan
            .changes
            .iter()
            .map(|c| ChangeV1 {
                address: c.change.address.clone(),
                action: c.change.action,
                reason: c.change.reason,
                before: c.change.before.as_ref().map(enc),
                after: c.change.after.as_ref().map(enc),
                replace_paths: c.change.replace_paths.clone(),
                dependencies: c.dependencies.iter().map(ToString::to_string).collect(),
                data_bearing: c.data_bearing,
                prevent_destroy: c.prevent_destroy,
            })
            .collect(),
        drift: plan
            .drift
            .iter()
            .map(|d| DriftV1 {
                address: d.address.clone(),
                recorded: enc(&d.recorded),
                live: d.live.as_ref().map(enc),
            })
            .collect(),
        outputs: plan
            .outputs
            .iter()
            .map(|o| OutputV1 {
                name: o.name.clone(),
                action: o.action,
                before: o.before.as_ref().map(enc),
                after: o.after.as_ref().map(enc),
                sensitive: o.sensitive,
            })
            .collect(),
    };
    // Serialising plain data types to a Vec cannot fail.
    serde_json::to_vec(&file).unwrap_or_default()
}

/// Parses a plan from bytes read from `path` (used in messages).
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Plan, PlanFileError> {
    let malformed = |message: String| PlanFileError::Malformed { path: path.to_owned(), message };
    let header: Header = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    if header.format_version != FORMAT_VERSION {
        return Err(PlanFileError::Version { path: path.to_owned(), found: header.format_version });
    }
    let file: FileV2 = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    let mode = match file.mode.as_str() {
        "normal" => PlanMode::Normal,
        "destroy" => PlanMode::Destroy,
        other => return Err(malformed(format!("unknown plan mode {other:?}"))),
    };
    let mut changes = Vec::with_capacity(file.changes.len());
    for c in file.changes {
        let dependencies = c
            .dependencies
            .iter()
            .map(|d| d.parse::<ResourceAddress>().map(|a| a.block))
            .collect::<Result<Vec<BlockAddress>, _>>()
            .map_err(|e| malformed(e.to_string()))?;
        changes.push(PlannedChange {
            change: ResourceChange {
                address: c.address,
                action: c.action,
                reason: c.reason,
                before: c.before.as_ref().map(EncodedValue::decode),
                after: c.after.as_ref().map(EncodedValue::decode),
                replace_paths: c.replace_paths,
            },
            dependencies,
            data_bearing: c.data_bearing,
            prevent_destroy: c.prevent_destroy,
        });
    }
    changes.sort_by(|a, b| a.change.address.cmp(&b.change.address));
    Ok(Plan {
        mode,
        changes,
        drift: file
            .drift
            .into_iter()
            .map(|d| Drift {
                address: d.address,
                recorded: d.recorded.decode(),
                live: d.live.as_ref().map(EncodedValue::decode),
            })
            .collect(),
        outputs: file
            .outputs
            .into_iter()
            .map(|o| OutputChange {
                name: o.name,
                action: o.action,
                before: o.before.as_ref().map(EncodedValue::decode),
                after: o.after.as_ref().map(EncodedValue::decode),
                sensitive: o.sensitive,
            })
            .collect(),
        base: file.base.map(|b| StateRef { lineage: b.lineage, serial: b.serial }),
        variables: file.variables.into_iter().map(|(k, v)| (k, v.decode())).collect(),
        dir: file.dir,
        cwd: file.cwd,
        sources: file.sources.into_iter().map(|s| (s.path, s.text)).collect(),
        targets: file.targets,
        forget: file.forget,
        deposed: file.deposed.into_iter().map(|(a, v)| (a, v.decode())).collect(),
        sealed: Some(Seal::new(file.salt)),
    })
}

/// Why the secrets of a saved plan could not be put back.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    /// A sensitive variable was not given again.
    #[error(
        "the saved plan holds the sensitive variable {name:?} only as a salted hash, and no input gives it now"
    )]
    MissingVariable {
        /// The variable.
        name: String,
    },
    /// A sensitive variable was given again, with another value.
    #[error("the sensitive variable {name:?} is not the value the plan was made with")]
    VariableChanged {
        /// The variable.
        name: String,
    },
    /// A sensitive part of a resource's prior value is not what the plan saw.
    #[error("the sensitive value of {address} at {path} is not the one the plan was made with")]
    PriorChanged {
        /// The resource instance.
        address: ResourceAddress,
        /// Where in its value.
        path: AttrPath,
    },
}

/// Puts the secrets of a plan read from a file back where apply needs them: the sensitive
/// parts of the variables from `variables` (resolved from the same inputs as the plan) and of
/// each change's prior value (and each deposed object) from `state` (the state the plan was made from: check freshness
/// first). Each must match its seal. The planned values keep their seals (apply checks the
/// final plan against them); drift and outputs keep theirs (they are only displayed).
///
/// Does nothing to a plan made in this process ([`Plan::sealed`] is `None`).
pub fn unseal(
    plan: &mut Plan,
    variables: &std::collections::BTreeMap<String, Value>,
    state: &crate::state::StateFile,
) -> Result<(), UnsealError> {
    let Some(seal) = plan.sealed.clone() else { return Ok(()) };
    for (name, value) in &mut plan.variables {
        for path in value.sensitive_paths() {
            let Some(sealed) = value.get(&path).filter(|p| Seal::is_seal(p)).cloned() else { continue };
            let fresh =
                variables.get(name).ok_or_else(|| UnsealError::MissingVariable { name: name.clone() })?;
            match fresh.get(&path) {
                Some(secret) if seal.matches(&sealed, secret) => {
                    value.set(&path, secret.clone().mark_sensitive());
                }
                Some(_) | None => return Err(UnsealError::VariableChanged { name: name.clone() }),
            }
        }
    }
    for c in &mut plan.changes {
        let address = &c.change.address;
        let Some(before) = c.change.before.as_mut() else { continue };
        for path in before.sensitive_paths() {
            let Some(sealed) = before.get(&path).filter(|p| Seal::is_seal(p)).cloned() else { continue };
            let recorded = state.resources.get(address).and_then(|r| r.value.get(&path));
            match recorded {
                Some(secret) if seal.matches(&sealed, secret) => {
                    before.set(&path, secret.clone().mark_sensitive());
                }
                Some(_) | None => {
                    return Err(UnsealError::PriorChanged { address: address.clone(), path });
                }
            }
        }
    }
    for (address, old) in &mut plan.deposed {
        for path in old.sensitive_paths() {
            let Some(sealed) = old.get(&path).filter(|p| Seal::is_seal(p)).cloned() else { continue };
            let recorded =
                state.resources.get(address).and_then(|r| r.deposed.as_ref()).and_then(|d| d.get(&path));
            match recorded {
                Some(secret) if seal.matches(&sealed, secret) => {
                    old.set(&path, secret.clone().mark_sensitive());
                }
                Some(_) | None => {
                    return Err(UnsealError::PriorChanged { address: address.clone(), path });
                }
            }
        }
    }
    Ok(())
}

/// Writes a plan file atomically (temp file, fsync, rename).
pub fn write(path: &Path, plan: &Plan) -> Result<(), PlanFileError> {
    let io = |source| PlanFileError::Io { path: path.to_owned(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&to_bytes(plan))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Reads a plan file.
pub fn read(path: &Path) -> Result<Plan, PlanFileError> {
    let bytes = std::fs::read(path).map_err(|source| PlanFileError::Io { path: path.to_owned(), source })?;
    from_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_unknown_and_sensitive_marks_and_secrets_become_seals() {
        let seal = Seal::new("salt");
        let v = Value::object([
            ("id", Value::Unknown),
            ("secret", Value::from("s3cr3t").mark_sensitive()),
            ("later", Value::object([("a", Value::from("s3cr3t")), ("b", Value::Unknown)]).mark_sensitive()),
            ("n", Value::from(1)),
        ]);
        let encoded = EncodedValue::encode(&v, &seal);
        assert!(!encoded.value.to_string().contains("s3cr3t"), "{}", encoded.value);
        let expected = Value::object([
            ("id", Value::Unknown),
            ("secret", Value::from(seal.seal(&Value::from("s3cr3t"))).mark_sensitive()),
            ("later", Value::Unknown.mark_sensitive()),
            ("n", Value::from(1)),
        ]);
        assert_eq!(encoded.decode(), expected);
        // Written again (a plan read from a file), the seals stay seals.
        assert_eq!(EncodedValue::encode(&expected, &seal).decode(), expected);
    }

    #[test]
    fn newer_versions_are_refused() {
        let err = from_bytes(Path::new("p.bin"), br#"{"format_version": 99}"#).unwrap_err();
        assert!(matches!(err, PlanFileError::Version { found: 99, .. }), "{err}");
        let err = from_bytes(Path::new("p.bin"), b"garbage").unwrap_err();
        assert!(matches!(err, PlanFileError::Malformed { .. }), "{err}");
    }
}
