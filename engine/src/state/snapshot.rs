//! The snapshot: everything lanestack knows exists, as of the last commit (`state.json`).
//!
//! Design decision: the in-memory types ([`StateFile`], [`ResourceState`], [`OutputState`]) hold
//! [`Value`]s with their sensitive marks, while the file holds a separate, versioned record type
//! ([`ResourceRecord`], [`OutputRecord`]): plain JSON plus the list of sensitive paths. Keeping
//! the on-disk shape apart means the in-memory types can change without silently changing the
//! file format, and a file from a newer lanestack is refused by its version number before its
//! shape is interpreted. The cost is one conversion on each read and write.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lanestack_model::{AttrPath, BlockAddress, ResourceAddress, Value};
use serde::{Deserialize, Serialize};

/// The version of the state file format this lanestack reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The version of lanestack recorded in every state file it writes.
pub const LANESTACK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A fresh lineage: a random id in UUID v4 form. Call it only when a state is first created;
/// every later snapshot of that state keeps the same lineage.
pub fn new_lineage() -> String {
    super::random_id::new_uuid()
}

/// The whole state in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct StateFile {
    /// The format version ([`FORMAT_VERSION`] for every state in memory).
    pub version: u32,
    /// A random id fixed when the state was first created; a journal or saved plan made from
    /// another lineage must not be applied to this one.
    pub lineage: String,
    /// Incremented by every commit that changed something.
    pub serial: u64,
    /// The lanestack version that last wrote this state.
    pub lanestack_version: String,
    /// Every managed resource instance and data source known to exist, by address.
    pub resources: BTreeMap<ResourceAddress, ResourceState>,
    /// The stack's outputs as of the last apply, by name.
    pub outputs: BTreeMap<String, OutputState>,
}

/// What lanestack knows about one resource instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceState {
    /// The instance's address (also its key in [`StateFile::resources`]).
    pub address: ResourceAddress,
    /// The last known value (`new_state` of the last apply, or a refresh), with sensitive
    /// marks. Never contains [`Value::Unknown`]: writing such a state is refused.
    pub value: Value,
    /// The blocks this instance depended on when it was last applied. Used to order deletes of
    /// resources that are no longer in the configuration, whose references are gone.
    pub dependencies: Vec<BlockAddress>,
    /// True when a create failed half-way: the object may exist but is not trusted, and the
    /// next apply replaces it.
    pub tainted: bool,
    /// An older object at this address, replaced create-first (`create_before_destroy`), whose
    /// delete has not happened yet (it failed, or the run was interrupted). Kept so that it is
    /// never forgotten: the next apply deletes it first.
    pub deposed: Option<Value>,
}

/// One output's last value.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputState {
    /// The value, with sensitive marks. Never contains [`Value::Unknown`].
    pub value: Value,
    /// True when the output was declared `sensitive = true` (its value is then never printed,
    /// even where no part of it is marked).
    pub sensitive: bool,
}

/// A value that was to be recorded in state still contains parts only known after apply.
///
/// This is an engine bug or a provider returning an incomplete `new_state`; state must only
/// hold what exists.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("refusing to record {subject} in state: it has values only known after apply at {}", list_paths(.paths))]
pub struct UnknownInStateError {
    /// What was being recorded: `resource <address>` or `output <name>`.
    pub subject: String,
    /// Where the unknowns are.
    pub paths: Vec<AttrPath>,
}

fn list_paths(paths: &[AttrPath]) -> String {
    let shown: Vec<String> = paths
        .iter()
        .map(|p| if p.is_root() { "(the whole value)".to_owned() } else { p.to_string() })
        .collect();
    shown.join(", ")
}

fn refuse_unknown(subject: impl FnOnce() -> String, value: &Value) -> Result<(), UnknownInStateError> {
    if value.contains_unknown() {
        return Err(UnknownInStateError { subject: subject(), paths: value.unknown_paths() });
    }
    Ok(())
}

/// Reading a state file failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadStateError {
    /// The file exists but could not be read.
    #[error("cannot read state file {}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file is not valid JSON or not a state file of the expected shape.
    #[error(
        "state file {} is malformed at line {line}, column {column}; restore it from a backup or fix it by hand",
        .path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line of the problem (1-based).
        line: usize,
        /// The column of the problem (1-based).
        column: usize,
        /// The parser's description.
        source: serde_json::Error,
    },
    /// The file was written by a lanestack that uses another format.
    #[error(
        "state file {} has format version {found}, but this lanestack ({LANESTACK_VERSION}) reads only version {FORMAT_VERSION}; use a lanestack at least as new as the one that wrote it",
        .path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
    },
    /// Two resources in the file have the same address.
    #[error("state file {} lists resource {address} twice", .path.display())]
    DuplicateResource {
        /// The file.
        path: PathBuf,
        /// The repeated address.
        address: ResourceAddress,
    },
    /// Two outputs in the file have the same name.
    #[error("state file {} lists output {name:?} twice", .path.display())]
    DuplicateOutput {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
}

/// Writing a state file failed. The previous file, if any, is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum WriteStateError {
    /// The state holds a value that is not fully known.
    #[error(transparent)]
    Unknown(#[from] UnknownInStateError),
    /// A file system operation failed.
    #[error("cannot {action} {}", .path.display())]
    Io {
        /// What was being done: "create", "write", "sync", "rename to", ...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Serialising failed (not expected for these types; kept rather than panicking).
    #[error("cannot serialise the state for {}", .path.display())]
    Serialize {
        /// The file that was to be written.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

impl StateFile {
    /// An empty state of the given lineage, at serial 0. Use [`new_lineage`] for a new state.
    pub fn new_empty(lineage: impl Into<String>) -> StateFile {
        StateFile {
            version: FORMAT_VERSION,
            lineage: lineage.into(),
            serial: 0,
            lanestack_version: LANESTACK_VERSION.to_owned(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Reads a state file; `Ok(None)` when there is no file at `path`.
    pub fn read(path: &Path) -> Result<Option<StateFile>, ReadStateError> {
        match fs::read(path) {
            Ok(bytes) => StateFile::parse(&bytes, path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ReadStateError::Io { path: path.to_owned(), source }),
        }
    }

    /// Parses the text of a state file; `path` is only used in error messages.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<StateFile, ReadStateError> {
        let malformed = |source: serde_json::Error| ReadStateError::Malformed {
            path: path.to_owned(),
            line: source.line(),
            column: source.column(),
            source,
        };
        // The version is checked before the rest is interpreted, so that a newer format is
        // reported as such rather than as whatever shape error it happens to cause.
        let probe: VersionProbe = serde_json::from_slice(bytes).map_err(malformed)?;
        if probe.version != FORMAT_VERSION {
            return Err(ReadStateError::UnsupportedVersion { path: path.to_owned(), found: probe.version });
        }
        let record: StateRecord = serde_json::from_slice(bytes).map_err(malformed)?;
        let mut resources = BTreeMap::new();
        for r in record.resources {
            let state = r.into_state();
            let address = state.address.clone();
            if resources.insert(address.clone(), state).is_some() {
                return Err(ReadStateError::DuplicateResource { path: path.to_owned(), address });
            }
        }
        let mut outputs = BTreeMap::new();
        for o in record.outputs {
            let (name, state) = o.into_state();
            if outputs.contains_key(&name) {
                return Err(ReadStateError::DuplicateOutput { path: path.to_owned(), name });
            }
            outputs.insert(name, state);
        }
        Ok(StateFile {
            version: record.version,
            lineage: record.lineage,
            serial: record.serial,
            lanestack_version: record.lanestack_version,
            resources,
            outputs,
        })
    }

    /// The file's text (pretty JSON, resources and outputs sorted). `path` is only used in
    /// error messages. Refuses a state holding unknown values.
    pub fn to_json_string(&self, path: &Path) -> Result<String, WriteStateError> {
        let record = StateRecord {
            version: FORMAT_VERSION,
            lineage: self.lineage.clone(),
            serial: self.serial,
            lanestack_version: LANESTACK_VERSION.to_owned(),
            // BTreeMap iteration is in address order, so the array is sorted.
            resources: self.resources.values().map(ResourceState::to_record).collect::<Result<_, _>>()?,
            outputs: self
                .outputs
                .iter()
                .map(|(name, o)| OutputRecord::from_state(name, o))
                .collect::<Result<_, _>>()?,
        };
        let mut text = serde_json::to_string_pretty(&record)
            .map_err(|source| WriteStateError::Serialize { path: path.to_owned(), source })?;
        text.push('\n');
        Ok(text)
    }

    /// Writes the state to `path` atomically: a temporary file in the same directory is
    /// written and fsynced, renamed over `path`, and the directory is fsynced, so that a crash
    /// leaves either the old file or the new one, never a mix.
    pub fn write_atomic(&self, path: &Path) -> Result<(), WriteStateError> {
        let text = self.to_json_string(path)?;
        write_file_atomic(path, text.as_bytes())
    }
}

/// Distinguishes temporary files made by this process for different writes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes` atomically (temp file, fsync, rename, fsync of the directory).
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteStateError> {
    let io_err = |action: &'static str, p: &Path| {
        let p = p.to_owned();
        move |source| WriteStateError::Io { action, path: p, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f =
            OpenOptions::new().write(true).create_new(true).open(&temp).map_err(io_err("create", &temp))?;
        f.write_all(bytes).map_err(io_err("write", &temp))?;
        f.sync_all().map_err(io_err("sync", &temp))?;
        drop(f);
        fs::rename(&temp, path).map_err(io_err("rename a temporary file to", path))?;
        Ok(())
    })();
    if result.is_err() {
        // Best effort: a leftover temporary file is harmless but untidy.
        let _ = fs::remove_file(&temp);
        return result;
    }
    sync_dir(&dir).map_err(io_err("sync the directory", &dir))
}

/// Fsyncs a directory so that a rename or a new file in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl ResourceState {
    /// The on-disk form. Refuses a value holding unknowns, naming the address.
    pub fn to_record(&self) -> Result<ResourceRecord, UnknownInStateError> {
        refuse_unknown(|| format!("resource {}", self.address), &self.value)?;
        if let Some(d) = &self.deposed {
            refuse_unknown(|| format!("the deposed object of {}", self.address), d)?;
        }
        Ok(ResourceRecord {
            address: self.address.clone(),
            attributes: self.value.to_json(),
            sensitive_paths: self.value.sensitive_paths(),
            dependencies: self.dependencies.clone(),
            tainted: self.tainted,
            deposed: self
                .deposed
                .as_ref()
                .map(|d| DeposedRecord { attributes: d.to_json(), sensitive_paths: d.sensitive_paths() }),
        })
    }
}

/// One resource as written in the state file and the journal: plain JSON plus the paths of its
/// sensitive parts. Use [`ResourceState`] in memory; this type exists to fix the file format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// The instance's address.
    pub address: ResourceAddress,
    /// The value as plain JSON (no marks).
    pub attributes: serde_json::Value,
    /// The parts of `attributes` that are sensitive.
    #[serde(default)]
    pub sensitive_paths: Vec<AttrPath>,
    /// The block addresses it depended on when last applied.
    #[serde(default, with = "block_addresses")]
    pub dependencies: Vec<BlockAddress>,
    /// Whether the object is tainted.
    #[serde(default)]
    pub tainted: bool,
    /// The older object still to be deleted, if any (see [`ResourceState::deposed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposed: Option<DeposedRecord>,
}

/// A deposed object as written in the state file and the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeposedRecord {
    /// The value as plain JSON (no marks).
    pub attributes: serde_json::Value,
    /// The parts of `attributes` that are sensitive.
    #[serde(default)]
    pub sensitive_paths: Vec<AttrPath>,
}

impl ResourceRecord {
    /// The in-memory form, with the sensitive marks restored.
    pub fn into_state(self) -> ResourceState {
        ResourceState {
            address: self.address,
            value: Value::from_json(&self.attributes).with_sensitive_paths(&self.sensitive_paths),
            dependencies: self.dependencies,
            tainted: self.tainted,
            deposed: self
                .deposed
                .map(|d| Value::from_json(&d.attributes).with_sensitive_paths(&d.sensitive_paths)),
        }
    }
}

/// One output as written in the state file and the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The output's name.
    pub name: String,
    /// The value as plain JSON (no marks).
    pub value: serde_json::Value,
    /// The parts of `value` that are sensitive.
    #[serde(default)]
    pub sensitive_paths: Vec<AttrPath>,
    /// Whether the output was declared sensitive.
    #[serde(default)]
    pub sensitive: bool,
}

impl OutputRecord {
    /// The on-disk form of one output. Refuses a value holding unknowns, naming the output.
    pub fn from_state(name: &str, output: &OutputState) -> Result<OutputRecord, UnknownInStateError> {
        refuse_unknown(|| format!("output {name:?}"), &output.value)?;
        Ok(OutputRecord {
            name: name.to_owned(),
            value: output.value.to_json(),
            sensitive_paths: output.value.sensitive_paths(),
            sensitive: output.sensitive,
        })
    }

    /// The name and in-memory form, with the sensitive marks restored.
    pub fn into_state(self) -> (String, OutputState) {
        let value = Value::from_json(&self.value).with_sensitive_paths(&self.sensitive_paths);
        (self.name, OutputState { value, sensitive: self.sensitive })
    }
}

/// Reads only the version of a state file, ignoring the rest.
#[derive(Deserialize)]
struct VersionProbe {
    version: u32,
}

/// The state file's top-level shape, format version 1.
#[derive(Serialize, Deserialize)]
struct StateRecord {
    version: u32,
    lineage: String,
    serial: u64,
    lanestack_version: String,
    #[serde(default)]
    resources: Vec<ResourceRecord>,
    #[serde(default)]
    outputs: Vec<OutputRecord>,
}

/// Block addresses as strings (`azure_subnet.anf`, `data.azure_x.y`). The model crate gives
/// [`BlockAddress`] a `Display` but no parser, so the text is parsed as an instance address
/// and refused if it carries an instance key.
mod block_addresses {
    use lanestack_model::{BlockAddress, ResourceAddress};
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(addrs: &[BlockAddress], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(addrs.iter().map(ToString::to_string))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<BlockAddress>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .into_iter()
            .map(|t| {
                let addr: ResourceAddress = t.parse().map_err(D::Error::custom)?;
                match addr.key {
                    None => Ok(addr.block),
                    Some(_) => Err(D::Error::custom(format!(
                        "dependency {t:?} must be a block address, without an instance key"
                    ))),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StateFile {
        let mut s = StateFile::new_empty(new_lineage());
        s.serial = 7;
        let addr: ResourceAddress = r#"azure_subnet.anf["a.b"]"#.parse().unwrap();
        let value = Value::object([
            ("id", Value::from("/subscriptions/x/subnets/anf")),
            (
                "spec",
                Value::object([
                    ("password", Value::from("hunter2").mark_sensitive()),
                    ("ports", Value::List(vec![Value::from(80), Value::from(443).mark_sensitive()])),
                    ("nested", Value::object([("deep", Value::object([("n", Value::from_f64(2.5))]))])),
                ]),
            ),
        ]);
        s.resources.insert(
            addr.clone(),
            ResourceState {
                address: addr,
                value,
                dependencies: vec![
                    BlockAddress::managed("azure_vnet", "main"),
                    "data.azure_rg.x".parse::<ResourceAddress>().unwrap().block,
                ],
                tainted: true,
                deposed: None,
            },
        );
        let plain = ResourceAddress::managed("lanestack_data", "shard");
        s.resources.insert(
            plain.clone(),
            ResourceState {
                address: plain,
                value: Value::Null,
                dependencies: vec![],
                tainted: false,
                deposed: None,
            },
        );
        s.outputs.insert(
            "conn".into(),
            OutputState { value: Value::from("secret").mark_sensitive(), sensitive: true },
        );
        s.outputs.insert(
            "obj".into(),
            OutputState {
                value: Value::object([("k", Value::from("v").mark_sensitive()), ("n", Value::from(1))]),
                sensitive: false,
            },
        );
        s
    }

    #[test]
    fn round_trips_with_sensitive_paths_and_nested_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let state = sample();
        state.write_atomic(&path).unwrap();
        let back = StateFile::read(&path).unwrap().unwrap();
        assert_eq!(back, state);

        // The file holds plain JSON and paths, never a mark, and resources are sorted.
        let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let resources = json["resources"].as_array().unwrap();
        assert_eq!(resources[0]["address"], r#"azure_subnet.anf["a.b"]"#);
        assert_eq!(resources[0]["sensitive_paths"], serde_json::json!(["spec.password", "spec.ports[1]"]));
        assert_eq!(resources[0]["attributes"]["spec"]["password"], "hunter2");
        assert_eq!(resources[0]["dependencies"], serde_json::json!(["azure_vnet.main", "data.azure_rg.x"]));
        assert_eq!(resources[1]["address"], "lanestack_data.shard");
        assert_eq!(json["outputs"][0]["sensitive_paths"], serde_json::json!([""]));
        assert_eq!(json["version"], FORMAT_VERSION);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(StateFile::read(&dir.path().join("state.json")).unwrap().is_none());
    }

    #[test]
    fn refuses_unknown_values_naming_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = sample();
        let addr = ResourceAddress::managed("azure_vm", "web");
        state.resources.insert(
            addr.clone(),
            ResourceState {
                address: addr,
                value: Value::object([("id", Value::Unknown)]),
                dependencies: vec![],
                tainted: false,
                deposed: None,
            },
        );
        let err = state.write_atomic(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("azure_vm.web") && msg.contains("id"), "{msg}");
        assert!(!path.exists());

        let mut state = StateFile::new_empty("l");
        state.outputs.insert("o".into(), OutputState { value: Value::Unknown, sensitive: false });
        let msg = state.to_json_string(&path).unwrap_err().to_string();
        assert!(msg.contains("output \"o\"") && msg.contains("whole value"), "{msg}");
    }

    #[test]
    fn newer_version_is_refused_before_its_shape_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, r#"{"version": 2, "resources": {"totally": "different"}}"#).unwrap();
        match StateFile::read(&path) {
            Err(ReadStateError::UnsupportedVersion { found: 2, path: p }) => assert_eq!(p, path),
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
    }

    #[test]
    fn garbage_is_malformed_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "{\n  \"version\": 1,\n  oops\n}").unwrap();
        match StateFile::read(&path) {
            Err(e @ ReadStateError::Malformed { line: 3, .. }) => {
                assert!(e.to_string().contains("state.json") && e.to_string().contains("line 3"), "{e}");
            }
            other => panic!("expected Malformed at line 3, got {other:?}"),
        }
        // Valid JSON of the wrong shape is malformed too, not an empty state.
        fs::write(&path, r#"{"version": 1, "lineage": "x"}"#).unwrap();
        assert!(matches!(StateFile::read(&path), Err(ReadStateError::Malformed { .. })));
        fs::write(&path, "").unwrap();
        assert!(matches!(StateFile::read(&path), Err(ReadStateError::Malformed { .. })));
    }

    #[test]
    fn duplicate_addresses_and_instance_keyed_dependencies_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let r = r#"{"address": "a_b.c", "attributes": null}"#;
        fs::write(
            &path,
            format!(
                r#"{{"version":1,"lineage":"l","serial":1,"lanestack_version":"0","resources":[{r},{r}]}}"#
            ),
        )
        .unwrap();
        assert!(matches!(StateFile::read(&path), Err(ReadStateError::DuplicateResource { .. })));

        let r = r#"{"address": "a_b.c", "attributes": null, "dependencies": ["a_b.d[0]"]}"#;
        fs::write(
            &path,
            format!(r#"{{"version":1,"lineage":"l","serial":1,"lanestack_version":"0","resources":[{r}]}}"#),
        )
        .unwrap();
        assert!(matches!(StateFile::read(&path), Err(ReadStateError::Malformed { .. })));
    }
}
