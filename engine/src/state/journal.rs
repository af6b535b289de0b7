//! The journal and the store: the snapshot plus an append-only log of steps since it.
//!
//! A [`StateStore`] owns a state directory (normally `<stack>/.lanestack/`). Every step of an
//! apply is recorded as one JSON line in `journal.jsonl`: [`JournalEntry::Begin`] before the
//! step starts (with the planned value, so an interrupted create can be found again), then
//! [`JournalEntry::Done`] or [`JournalEntry::Failed`]. [`StateStore::commit`] folds the journal
//! into a new snapshot and removes it.
//!
//! Design decision: appends are buffered and made durable by [`StateStore::sync`], which the
//! engine calls once per batch of `Begin` entries before starting those operations. A batch of
//! parallel steps therefore costs one fsync, and an apply of thousands of resources costs one
//! append per step instead of one snapshot rewrite per step (which would be quadratic). The
//! trade-off: after a power loss the `Done` entries since the last sync may be missing; their
//! `Begin` entries are not, so the steps show up in [`StateStore::in_flight`] and the engine
//! recovers them by reading the objects back. `Done`, `Failed` and `Outputs` entries are handed
//! to the operating system at once, so a crash of lanestack alone loses nothing.
//!
//! The journal starts with a header naming the lineage and the serial of the snapshot it
//! applies to, so that it is never replayed onto another state. A journal whose serial is older
//! than the snapshot's was already folded in by a commit that crashed before removing it; its
//! steps are not replayed again, but its unfinished `Begin` entries are still reported in flight.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use lanestack_model::{AttrPath, ResourceAddress, Value};
use serde::{Deserialize, Serialize};

use super::snapshot::{
    OutputRecord, OutputState, ReadStateError, ResourceRecord, ResourceState, StateFile, UnknownInStateError,
    WriteStateError, new_lineage, write_file_atomic,
};

/// The version of the journal format this lanestack reads and writes.
pub const JOURNAL_FORMAT_VERSION: u32 = 1;

/// The snapshot's file name inside the state directory.
pub const SNAPSHOT_FILE_NAME: &str = "state.json";

/// The journal's file name inside the state directory.
pub const JOURNAL_FILE_NAME: &str = "journal.jsonl";

/// What a step does to its resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Creates a new object.
    Create,
    /// Changes an existing object in place.
    Update,
    /// Deletes an object.
    Delete,
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepKind::Create => "create",
            StepKind::Update => "update",
            StepKind::Delete => "delete",
        })
    }
}

/// A planned value as written in the journal: plain JSON plus where it is sensitive and where
/// it is unknown (unknown parts are `null` in `attributes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedRecord {
    /// The planned value as plain JSON.
    pub attributes: serde_json::Value,
    /// The sensitive parts.
    #[serde(default)]
    pub sensitive_paths: Vec<AttrPath>,
    /// The parts only known after apply.
    #[serde(default)]
    pub unknown_paths: Vec<AttrPath>,
}

impl PlannedRecord {
    /// The on-disk form of a planned value (which may hold unknowns).
    pub fn from_value(value: &Value) -> PlannedRecord {
        PlannedRecord {
            attributes: value.to_json(),
            sensitive_paths: value.sensitive_paths(),
            unknown_paths: value.unknown_paths(),
        }
    }

    /// The value with its unknown and sensitive marks restored.
    pub fn to_value(&self) -> Value {
        let mut value = Value::from_json(&self.attributes);
        for path in &self.unknown_paths {
            // A path that no longer fits the value can only come from a hand-edited journal;
            // the planned value is advisory (used to find an object again), so it is skipped.
            value.set(path, Value::Unknown);
        }
        value.with_sensitive_paths(&self.sensitive_paths)
    }
}

/// One line of the journal. Every line is one JSON object tagged by `"op"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalEntry {
    /// The first line: which state the journal applies to.
    Header {
        /// [`JOURNAL_FORMAT_VERSION`].
        format: u32,
        /// The lineage of the state.
        lineage: String,
        /// The serial of the snapshot the entries apply to.
        base_serial: u64,
    },
    /// A step is about to start.
    Begin {
        /// The resource.
        address: ResourceAddress,
        /// What the step does.
        kind: StepKind,
        /// The planned value (creates and updates), to find the object again after a crash.
        planned: Option<PlannedRecord>,
    },
    /// A step finished; `state` is the resource's new state, `None` when it no longer exists.
    Done {
        /// The resource.
        address: ResourceAddress,
        /// The new state.
        state: Option<ResourceRecord>,
    },
    /// A step failed; the resource's state is unchanged.
    Failed {
        /// The resource.
        address: ResourceAddress,
        /// The error, for the record.
        message: String,
    },
    /// The stack's outputs were replaced.
    Outputs {
        /// Every output, sorted by name.
        outputs: Vec<OutputRecord>,
    },
}

/// A step that began but whose end is not recorded: lanestack stopped while it ran. The engine
/// finds out what happened by reading the object back, then calls
/// [`StateStore::resolve_in_flight`].
#[derive(Clone, Debug, PartialEq)]
pub struct InFlight {
    /// The resource.
    pub address: ResourceAddress,
    /// What the step was doing.
    pub kind: StepKind,
    /// The planned value, with unknown and sensitive marks, if one was recorded.
    pub planned: Option<Value>,
}

/// Something odd found while opening a store that did not prevent opening it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreWarning {
    /// The journal's last line was cut short (lanestack stopped while writing it) and was
    /// ignored. The step it described was not yet under way, or is found again from its
    /// `Begin` entry.
    TornJournalLine {
        /// The journal.
        path: PathBuf,
        /// The line number (1-based).
        line: usize,
    },
    /// The journal had already been folded into the snapshot by a commit that stopped before
    /// removing it; only its unfinished steps were taken from it.
    FoldedJournal {
        /// The journal.
        path: PathBuf,
        /// The serial the journal applied to.
        base_serial: u64,
        /// The snapshot's serial.
        snapshot_serial: u64,
    },
}

impl fmt::Display for StoreWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreWarning::TornJournalLine { path, line } => write!(
                f,
                "ignored the incomplete last line {line} of {} (lanestack stopped while writing it)",
                path.display()
            ),
            StoreWarning::FoldedJournal { path, base_serial, snapshot_serial } => write!(
                f,
                "{} (serial {base_serial}) was already folded into the snapshot (serial {snapshot_serial}); only its unfinished steps were kept",
                path.display()
            ),
        }
    }
}

/// An operation on the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading the snapshot failed.
    #[error(transparent)]
    ReadSnapshot(Box<ReadStateError>),
    /// Writing the snapshot failed; the journal is kept, so nothing is lost.
    #[error(transparent)]
    WriteSnapshot(Box<WriteStateError>),
    /// A value to record holds unknowns.
    #[error(transparent)]
    Unknown(#[from] UnknownInStateError),
    /// A file system operation on the state directory failed.
    #[error("cannot {action} {}", .path.display())]
    Io {
        /// What was being done ("read", "append to", "sync", "remove", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A journal line (not the last) is not a valid entry.
    #[error(
        "journal {} is corrupt at line {line}, column {column}; move it aside to open the state without it (steps it recorded are then lost)",
        .path.display()
    )]
    CorruptJournal {
        /// The journal.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// The column (1-based).
        column: usize,
        /// The parser's description.
        source: serde_json::Error,
    },
    /// The journal's entries do not make sense in order.
    #[error("journal {} line {line}: {reason}", .path.display())]
    InvalidJournal {
        /// The journal.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The journal was written by a lanestack with another journal format.
    #[error(
        "journal {} has format version {found}, but this lanestack reads only version {JOURNAL_FORMAT_VERSION}; finish the apply with the lanestack that wrote it",
        .path.display()
    )]
    UnsupportedJournalVersion {
        /// The journal.
        path: PathBuf,
        /// The version in the journal.
        found: u32,
    },
    /// The journal belongs to another state.
    #[error(
        "journal {} belongs to state lineage {journal}, but the snapshot has lineage {snapshot}; the snapshot was replaced while an apply was unfinished: restore the matching state.json or move the journal aside",
        .path.display()
    )]
    LineageMismatch {
        /// The journal.
        path: PathBuf,
        /// The journal's lineage.
        journal: String,
        /// The snapshot's lineage.
        snapshot: String,
    },
    /// The journal applies to a newer snapshot than the one on disk.
    #[error(
        "journal {} applies to state serial {base_serial}, but the snapshot is at serial {}; the snapshot is older than the journal (restored from a backup, or missing): restore the newer state.json",
        .path.display(), .snapshot_serial.map_or_else(|| "none (no state.json)".to_owned(), |s| s.to_string())
    )]
    JournalAhead {
        /// The journal.
        path: PathBuf,
        /// The serial the journal applies to.
        base_serial: u64,
        /// The snapshot's serial, `None` when there is no snapshot.
        snapshot_serial: Option<u64>,
    },
    /// A resource state was recorded under another address.
    #[error("cannot record the state of {found} as the state of {expected}")]
    AddressMismatch {
        /// The address the step was for.
        expected: Box<ResourceAddress>,
        /// The address in the state.
        found: Box<ResourceAddress>,
    },
    /// The step to end or resolve was not in flight.
    #[error("no step for {address} is in flight")]
    NotInFlight {
        /// The resource.
        address: Box<ResourceAddress>,
    },
    /// A step began for a resource that already has one in flight.
    #[error("a step for {address} is already in flight; finish or resolve it first")]
    AlreadyInFlight {
        /// The resource.
        address: Box<ResourceAddress>,
    },
    /// An earlier journal write failed, so later entries could not be replayed; the store
    /// accepts no more steps (a commit may still save the state).
    #[error("journal {} failed earlier and accepts no more entries; commit or reopen the state", .path.display())]
    JournalBroken {
        /// The journal.
        path: PathBuf,
    },
    /// An entry could not be serialised (not expected; kept rather than panicking).
    #[error("cannot serialise a journal entry for {}", .path.display())]
    Serialize {
        /// The journal.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

impl From<ReadStateError> for StoreError {
    fn from(e: ReadStateError) -> StoreError {
        StoreError::ReadSnapshot(Box::new(e))
    }
}

impl From<WriteStateError> for StoreError {
    fn from(e: WriteStateError) -> StoreError {
        StoreError::WriteSnapshot(Box::new(e))
    }
}

/// What is at the journal path, as far as appending to it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnDisk {
    /// No journal, or one with nothing worth keeping.
    Absent,
    /// A journal that applies to the current snapshot. Appends continue it after `valid_len`
    /// (cutting off a torn line), first adding a newline if its last entry lacked one.
    Current { valid_len: u64, needs_newline: bool },
    /// A journal for an older snapshot. It is replaced (atomically, keeping in-flight steps),
    /// never appended to.
    Folded,
}

/// The state of one state directory: the snapshot with the journal replayed over it.
///
/// Hold the lock ([`super::lock::acquire`]) while a store is open: the store assumes it is the
/// only writer. Not for concurrent use from several threads (it takes `&mut self`).
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    state: StateFile,
    in_flight: Vec<InFlight>,
    warnings: Vec<StoreWarning>,
    dirty: bool,
    on_disk: OnDisk,
    writer: Option<BufWriter<File>>,
    broken: bool,
}

impl StateStore {
    /// Opens the state in `dir`: reads the snapshot if there is one and replays the journal.
    /// Creates nothing: the directory and files appear with the first write. Without any
    /// state a fresh, empty state with a new lineage is started.
    pub fn open(dir: impl Into<PathBuf>) -> Result<StateStore, StoreError> {
        let dir = dir.into();
        let snapshot = StateFile::read(&dir.join(SNAPSHOT_FILE_NAME))?;
        let mut store = StateStore {
            state: StateFile::new_empty(""),
            in_flight: Vec::new(),
            warnings: Vec::new(),
            dirty: false,
            on_disk: OnDisk::Absent,
            writer: None,
            broken: false,
            dir,
        };
        store.replay(snapshot)?;
        Ok(store)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current state: the snapshot plus every finished step.
    pub fn state(&self) -> &StateFile {
        &self.state
    }

    /// Steps that began and whose end is not recorded, in the order they began.
    pub fn in_flight(&self) -> &[InFlight] {
        &self.in_flight
    }

    /// What was odd but tolerated when opening (for the CLI to show).
    pub fn warnings(&self) -> &[StoreWarning] {
        &self.warnings
    }

    /// True when the state differs from the snapshot on disk (a commit would write one).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE_NAME)
    }

    /// Records that a step is about to start. Buffered: call [`StateStore::sync`] before
    /// starting the step (once per batch).
    pub fn begin(
        &mut self,
        address: &ResourceAddress,
        kind: StepKind,
        planned: Option<&Value>,
    ) -> Result<(), StoreError> {
        if self.in_flight.iter().any(|f| &f.address == address) {
            return Err(StoreError::AlreadyInFlight { address: Box::new(address.clone()) });
        }
        let entry = JournalEntry::Begin {
            address: address.clone(),
            kind,
            planned: planned.map(PlannedRecord::from_value),
        };
        self.append(&entry)?;
        self.in_flight.push(InFlight { address: address.clone(), kind, planned: planned.cloned() });
        Ok(())
    }

    /// Records that a step finished: `new` is the resource's new state, `None` when it no
    /// longer exists. The in-memory state changes at once, even when the journal write fails
    /// (the step did happen; a later [`StateStore::commit`] can still save it). Normally follows
    /// [`StateStore::begin`]; without one (a refresh, an import) it just records the state.
    pub fn finish(
        &mut self,
        address: &ResourceAddress,
        new: Option<ResourceState>,
    ) -> Result<(), StoreError> {
        let record = match &new {
            Some(state) if &state.address != address => {
                return Err(StoreError::AddressMismatch {
                    expected: Box::new(address.clone()),
                    found: Box::new(state.address.clone()),
                });
            }
            Some(state) => Some(state.to_record()?),
            None => None,
        };
        let written = self.append(&JournalEntry::Done { address: address.clone(), state: record });
        let written = written.and_then(|()| self.flush());
        // The step happened whether or not the journal could record it: memory follows reality
        // so that a commit can still save it, and the error stops the apply.
        self.end_in_flight(address);
        self.apply_resource(address, new);
        written
    }

    /// Records that a step failed; the resource's state stays as it was.
    pub fn fail(&mut self, address: &ResourceAddress, message: &str) -> Result<(), StoreError> {
        if !self.in_flight.iter().any(|f| &f.address == address) {
            return Err(StoreError::NotInFlight { address: Box::new(address.clone()) });
        }
        let written =
            self.append(&JournalEntry::Failed { address: address.clone(), message: message.to_owned() });
        let written = written.and_then(|()| self.flush());
        self.end_in_flight(address);
        written
    }

    /// Replaces the stack's outputs.
    pub fn set_outputs(&mut self, outputs: BTreeMap<String, OutputState>) -> Result<(), StoreError> {
        if outputs == self.state.outputs {
            return Ok(());
        }
        let records =
            outputs.iter().map(|(name, o)| OutputRecord::from_state(name, o)).collect::<Result<_, _>>()?;
        let written = self.append(&JournalEntry::Outputs { outputs: records });
        let written = written.and_then(|()| self.flush());
        self.state.outputs = outputs;
        self.dirty = true;
        written
    }

    /// Ends an in-flight step found after a crash with what reading the object back showed:
    /// its state, or `None` when it does not exist.
    pub fn resolve_in_flight(
        &mut self,
        address: &ResourceAddress,
        found: Option<ResourceState>,
    ) -> Result<(), StoreError> {
        if !self.in_flight.iter().any(|f| &f.address == address) {
            return Err(StoreError::NotInFlight { address: Box::new(address.clone()) });
        }
        self.finish(address, found)
    }

    /// Makes every entry so far durable (flush and fdatasync). Call it after a batch of
    /// [`StateStore::begin`] and before starting those steps.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        if let Some(w) = &self.writer {
            let path = self.journal_path();
            w.get_ref().sync_data().map_err(|source| {
                self.broken = true;
                StoreError::Io { action: "sync", path, source }
            })?;
        }
        Ok(())
    }

    /// Folds the journal into the snapshot. When the state changed since the snapshot, the
    /// serial is incremented, the snapshot is written atomically and then the journal is
    /// removed; when nothing changed no snapshot is written. Steps still in flight are kept
    /// (in the old journal until the next write starts a new one).
    pub fn commit(&mut self) -> Result<(), StoreError> {
        if !self.dirty {
            if self.in_flight.is_empty() {
                self.remove_journal()?;
            } else if !self.broken {
                self.sync()?;
            }
            return Ok(());
        }
        self.state.serial += 1;
        let written = self.state.write_atomic(&self.dir.join(SNAPSHOT_FILE_NAME));
        if let Err(e) = written {
            // The journal still holds every step, so the next commit or open recovers them.
            self.state.serial -= 1;
            return Err(e.into());
        }
        self.dirty = false;
        self.broken = false;
        if self.in_flight.is_empty() {
            self.remove_journal()?;
        } else {
            // The journal now applies to an older serial: opening it would only take its
            // unfinished steps, which is exactly what must be kept. The next write replaces it.
            self.close_writer();
            self.on_disk = OnDisk::Folded;
        }
        Ok(())
    }

    fn close_writer(&mut self) {
        if let Some(mut w) = self.writer.take() {
            // Everything that matters is in the snapshot by now; a failed flush changes nothing.
            let _ = w.flush();
        }
    }

    fn remove_journal(&mut self) -> Result<(), StoreError> {
        self.close_writer();
        let path = self.journal_path();
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                // A journal left behind is recognised as folded by its serial; but if the
                // snapshot was not written this time, its entries still count.
                self.on_disk = OnDisk::Folded;
                return Err(StoreError::Io { action: "remove", path, source });
            }
        }
        self.on_disk = OnDisk::Absent;
        self.broken = false;
        Ok(())
    }

    fn end_in_flight(&mut self, address: &ResourceAddress) {
        // A linear search: the number of steps in flight is bounded by the apply's parallelism.
        if let Some(i) = self.in_flight.iter().position(|f| &f.address == address) {
            self.in_flight.remove(i);
        }
    }

    fn apply_resource(&mut self, address: &ResourceAddress, new: Option<ResourceState>) {
        let changed = match new {
            Some(state) => {
                let old = self.state.resources.insert(address.clone(), state);
                old.as_ref() != self.state.resources.get(address)
            }
            None => self.state.resources.remove(address).is_some(),
        };
        self.dirty |= changed;
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if let Some(w) = &mut self.writer
            && let Err(source) = w.flush()
        {
            self.broken = true;
            return Err(StoreError::Io { action: "append to", path: self.journal_path(), source });
        }
        Ok(())
    }

    fn append(&mut self, entry: &JournalEntry) -> Result<(), StoreError> {
        let path = self.journal_path();
        if self.broken {
            return Err(StoreError::JournalBroken { path });
        }
        let mut line = serde_json::to_vec(entry)
            .map_err(|source| StoreError::Serialize { path: path.clone(), source })?;
        line.push(b'\n');
        if self.writer.is_none() {
            self.open_writer()?;
        }
        if let Some(w) = &mut self.writer
            && let Err(source) = w.write_all(&line)
        {
            // Part of the line may have reached the file: nothing after it could be replayed.
            self.broken = true;
            return Err(StoreError::Io { action: "append to", path, source });
        }
        Ok(())
    }

    /// Opens the journal for appending, starting a new one where needed.
    fn open_writer(&mut self) -> Result<(), StoreError> {
        let path = self.journal_path();
        let io_err = |action: &'static str, p: &Path| {
            let p = p.to_owned();
            move |source| StoreError::Io { action, path: p, source }
        };
        match self.on_disk {
            OnDisk::Absent | OnDisk::Folded => {
                fs::create_dir_all(&self.dir).map_err(io_err("create the directory", &self.dir))?;
                // A new journal starts with the header and the steps still in flight, written
                // atomically so that a folded journal (and its in-flight steps) is only replaced
                // by one that carries them.
                let mut text = Vec::new();
                let header = JournalEntry::Header {
                    format: JOURNAL_FORMAT_VERSION,
                    lineage: self.state.lineage.clone(),
                    base_serial: self.state.serial,
                };
                let begins = self.in_flight.iter().map(|f| JournalEntry::Begin {
                    address: f.address.clone(),
                    kind: f.kind,
                    planned: f.planned.as_ref().map(PlannedRecord::from_value),
                });
                for entry in std::iter::once(header).chain(begins) {
                    serde_json::to_writer(&mut text, &entry)
                        .map_err(|source| StoreError::Serialize { path: path.clone(), source })?;
                    text.push(b'\n');
                }
                write_file_atomic(&path, &text).map_err(|e| match e {
                    WriteStateError::Io { action, path, source } => StoreError::Io { action, path, source },
                    other @ (WriteStateError::Unknown(_) | WriteStateError::Serialize { .. }) => other.into(),
                })?;
            }
            OnDisk::Current { valid_len, needs_newline } => {
                let file = OpenOptions::new().append(true).open(&path).map_err(io_err("open", &path))?;
                let len = file.metadata().map_err(io_err("inspect", &path))?.len();
                if len > valid_len {
                    // Cut off the torn line so that the next entry starts on a line of its own.
                    file.set_len(valid_len).map_err(io_err("truncate", &path))?;
                }
                if needs_newline {
                    (&file).write_all(b"\n").map_err(io_err("append to", &path))?;
                }
            }
        }
        let file = OpenOptions::new().append(true).open(&path).map_err(io_err("open", &path))?;
        self.writer = Some(BufWriter::with_capacity(64 * 1024, file));
        self.on_disk = OnDisk::Current { valid_len: 0, needs_newline: false };
        Ok(())
    }

    /// Sets the state from the snapshot and the journal.
    fn replay(&mut self, snapshot: Option<StateFile>) -> Result<(), StoreError> {
        let path = self.journal_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.state = snapshot.unwrap_or_else(|| StateFile::new_empty(new_lineage()));
                return Ok(());
            }
            Err(source) => return Err(StoreError::Io { action: "read", path, source }),
        };
        let lines = split_lines(&bytes);
        let invalid =
            |line: usize, reason: String| StoreError::InvalidJournal { path: path.clone(), line, reason };

        let mut entries = Vec::with_capacity(lines.len());
        let mut valid_len = 0u64;
        let mut needs_newline = false;
        for (i, line) in lines.iter().enumerate() {
            let number = i + 1;
            if line.text.iter().all(u8::is_ascii_whitespace) {
                valid_len = line.end;
                continue;
            }
            match serde_json::from_slice::<JournalEntry>(line.text) {
                Ok(entry) => {
                    entries.push((number, entry));
                    valid_len = line.end;
                    needs_newline = !line.terminated;
                }
                Err(_) if !line.terminated => {
                    // Only the last line can lack its newline: lanestack stopped while writing it.
                    self.warnings.push(StoreWarning::TornJournalLine { path: path.clone(), line: number });
                }
                Err(source) => {
                    return Err(StoreError::CorruptJournal {
                        path: path.clone(),
                        line: number,
                        column: source.column(),
                        source,
                    });
                }
            }
        }

        let mut entries = entries.into_iter();
        let Some((first_line, header)) = entries.next() else {
            // Empty, or only a torn header: nothing was recorded.
            self.state = snapshot.unwrap_or_else(|| StateFile::new_empty(new_lineage()));
            self.on_disk = OnDisk::Folded;
            return Ok(());
        };
        let JournalEntry::Header { format, lineage, base_serial } = header else {
            return Err(invalid(first_line, "the first entry is not a header".into()));
        };
        if format != JOURNAL_FORMAT_VERSION {
            return Err(StoreError::UnsupportedJournalVersion { path, found: format });
        }
        let apply = match snapshot {
            Some(s) => {
                if s.lineage != lineage {
                    return Err(StoreError::LineageMismatch { path, journal: lineage, snapshot: s.lineage });
                }
                if base_serial > s.serial {
                    return Err(StoreError::JournalAhead {
                        path,
                        base_serial,
                        snapshot_serial: Some(s.serial),
                    });
                }
                let current = base_serial == s.serial;
                if !current {
                    self.warnings.push(StoreWarning::FoldedJournal {
                        path: path.clone(),
                        base_serial,
                        snapshot_serial: s.serial,
                    });
                }
                self.state = s;
                current
            }
            None if base_serial == 0 => {
                // The first apply of a new state stopped before its first commit.
                self.state = StateFile::new_empty(lineage);
                true
            }
            None => return Err(StoreError::JournalAhead { path, base_serial, snapshot_serial: None }),
        };

        for (number, entry) in entries {
            match entry {
                JournalEntry::Header { .. } => return Err(invalid(number, "a second header".into())),
                JournalEntry::Begin { address, kind, planned } => {
                    if self.in_flight.iter().any(|f| f.address == address) {
                        return Err(invalid(
                            number,
                            format!("a second step began for {address} while one was in flight"),
                        ));
                    }
                    let planned = planned.as_ref().map(PlannedRecord::to_value);
                    self.in_flight.push(InFlight { address, kind, planned });
                }
                JournalEntry::Done { address, state } => {
                    if let Some(r) = &state
                        && r.address != address
                    {
                        return Err(invalid(
                            number,
                            format!("the state of {} recorded for {address}", r.address),
                        ));
                    }
                    self.end_in_flight(&address);
                    if apply {
                        self.apply_resource(&address, state.map(ResourceRecord::into_state));
                    }
                }
                JournalEntry::Failed { address, .. } => self.end_in_flight(&address),
                JournalEntry::Outputs { outputs } => {
                    if apply {
                        let outputs: BTreeMap<_, _> =
                            outputs.into_iter().map(OutputRecord::into_state).collect();
                        if outputs != self.state.outputs {
                            self.state.outputs = outputs;
                            self.dirty = true;
                        }
                    }
                }
            }
        }
        self.on_disk = if apply { OnDisk::Current { valid_len, needs_newline } } else { OnDisk::Folded };
        Ok(())
    }
}

/// One line of the journal's bytes.
struct Line<'a> {
    /// The line without its newline.
    text: &'a [u8],
    /// The offset just after the line (and its newline, if any).
    end: u64,
    /// Whether it ended with a newline.
    terminated: bool,
}

fn split_lines(bytes: &[u8]) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(n) => {
                lines.push(Line {
                    text: &bytes[start..start + n],
                    end: (start + n + 1) as u64,
                    terminated: true,
                });
                start += n + 1;
            }
            None => {
                lines.push(Line { text: &bytes[start..], end: bytes.len() as u64, terminated: false });
                start = bytes.len();
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::snapshot::OutputState;
    use lanestack_model::BlockAddress;

    fn addr(name: &str) -> ResourceAddress {
        ResourceAddress::managed("azure_vm", name)
    }

    fn res(name: &str, size: i64) -> ResourceState {
        ResourceState {
            address: addr(name),
            value: Value::object([
                ("id", Value::from(format!("/vms/{name}"))),
                ("size", Value::from(size)),
                ("password", Value::from("hunter2").mark_sensitive()),
            ]),
            dependencies: vec![BlockAddress::managed("azure_vnet", "main")],
            tainted: false,
            deposed: None,
        }
    }

    fn journal_text(dir: &Path) -> String {
        fs::read_to_string(dir.join(JOURNAL_FILE_NAME)).unwrap()
    }

    #[test]
    fn replay_reproduces_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        let lineage = store.state().lineage.clone();
        for (name, size) in [("a", 1), ("b", 2), ("c", 3)] {
            store.begin(&addr(name), StepKind::Create, Some(&res(name, size).value)).unwrap();
            store.finish(&addr(name), Some(res(name, size))).unwrap();
        }
        store.begin(&addr("a"), StepKind::Update, None).unwrap();
        store.finish(&addr("a"), Some(res("a", 10))).unwrap();
        store.begin(&addr("b"), StepKind::Delete, None).unwrap();
        store.finish(&addr("b"), None).unwrap();
        let outputs = BTreeMap::from([(
            "pw".to_owned(),
            OutputState {
                value: Value::object([("p", Value::from("x").mark_sensitive())]),
                sensitive: false,
            },
        )]);
        store.set_outputs(outputs.clone()).unwrap();
        let expected = store.state().clone();
        drop(store);

        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.state(), &expected);
        assert_eq!(store.state().lineage, lineage);
        assert_eq!(store.state().resources.keys().cloned().collect::<Vec<_>>(), [addr("a"), addr("c")]);
        assert_eq!(store.state().resources[&addr("a")], res("a", 10));
        assert_eq!(store.state().outputs, outputs);
        assert!(store.in_flight().is_empty());
        assert!(store.warnings().is_empty());
        assert!(store.is_dirty());
        // Nothing was committed: there is no snapshot, only the journal.
        assert!(!dir.path().join(SNAPSHOT_FILE_NAME).exists());
    }

    #[test]
    fn opening_creates_nothing_and_a_fresh_state_gets_a_new_lineage() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join(".lanestack");
        let mut a = StateStore::open(&state_dir).unwrap();
        let b = StateStore::open(&state_dir).unwrap();
        assert!(!state_dir.exists());
        assert_ne!(a.state().lineage, b.state().lineage);
        assert_eq!(a.state().serial, 0);
        a.commit().unwrap();
        assert!(!state_dir.exists(), "a commit with nothing changed writes nothing");
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_off_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        store.sync().unwrap();
        drop(store);
        let mut f = OpenOptions::new().append(true).open(dir.path().join(JOURNAL_FILE_NAME)).unwrap();
        f.write_all(br#"{"op":"done","address":"azure_vm.b","sta"#).unwrap();
        drop(f);

        let mut store = StateStore::open(dir.path()).unwrap();
        assert_eq!(
            store.warnings(),
            [StoreWarning::TornJournalLine { path: dir.path().join(JOURNAL_FILE_NAME), line: 3 }]
        );
        assert_eq!(store.state().resources.keys().cloned().collect::<Vec<_>>(), [addr("a")]);
        store.finish(&addr("c"), Some(res("c", 3))).unwrap();
        drop(store);

        let store = StateStore::open(dir.path()).unwrap();
        assert!(store.warnings().is_empty(), "{:?}", store.warnings());
        assert_eq!(store.state().resources.keys().cloned().collect::<Vec<_>>(), [addr("a"), addr("c")]);
    }

    #[test]
    fn a_complete_last_line_without_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        drop(store);
        let path = dir.path().join(JOURNAL_FILE_NAME);
        let text = journal_text(dir.path());
        fs::write(&path, text.trim_end()).unwrap();

        let mut store = StateStore::open(dir.path()).unwrap();
        assert!(store.warnings().is_empty());
        assert!(store.state().resources.contains_key(&addr("a")));
        store.finish(&addr("b"), Some(res("b", 2))).unwrap();
        drop(store);
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.state().resources.len(), 2);
    }

    #[test]
    fn a_corrupt_line_before_the_last_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        store.finish(&addr("b"), Some(res("b", 1))).unwrap();
        drop(store);
        let path = dir.path().join(JOURNAL_FILE_NAME);
        let mut lines: Vec<String> = journal_text(dir.path()).lines().map(str::to_owned).collect();
        lines[1] = "{not json".into();
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        match StateStore::open(dir.path()) {
            Err(e @ StoreError::CorruptJournal { line: 2, .. }) => {
                assert!(e.to_string().contains("journal.jsonl"), "{e}");
            }
            other => panic!("expected CorruptJournal at line 2, got {other:?}"),
        }
        // A well-formed entry that does not start with a header is refused too.
        fs::write(&path, lines[2].clone() + "\n").unwrap();
        assert!(matches!(StateStore::open(dir.path()), Err(StoreError::InvalidJournal { line: 1, .. })));
    }

    #[test]
    fn begun_steps_without_an_end_are_in_flight_and_can_be_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let planned = Value::object([("id", Value::Unknown), ("key", Value::from("k").mark_sensitive())]);
        let mut store = StateStore::open(dir.path()).unwrap();
        store.begin(&addr("a"), StepKind::Create, Some(&planned)).unwrap();
        store.begin(&addr("b"), StepKind::Create, None).unwrap();
        store.begin(&addr("c"), StepKind::Delete, None).unwrap();
        assert!(matches!(
            store.begin(&addr("a"), StepKind::Update, None),
            Err(StoreError::AlreadyInFlight { .. })
        ));
        store.sync().unwrap();
        store.finish(&addr("b"), Some(res("b", 2))).unwrap();
        store.fail(&addr("c"), "conflict").unwrap();
        drop(store);

        let mut store = StateStore::open(dir.path()).unwrap();
        assert_eq!(
            store.in_flight(),
            [InFlight { address: addr("a"), kind: StepKind::Create, planned: Some(planned) }]
        );
        assert!(matches!(store.resolve_in_flight(&addr("b"), None), Err(StoreError::NotInFlight { .. })));
        store.resolve_in_flight(&addr("a"), Some(res("a", 1))).unwrap();
        assert!(store.in_flight().is_empty());
        drop(store);
        let store = StateStore::open(dir.path()).unwrap();
        assert!(store.in_flight().is_empty());
        assert_eq!(store.state().resources.len(), 2);
    }

    #[test]
    fn commit_increments_the_serial_only_when_something_changed_and_empties_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join(JOURNAL_FILE_NAME);
        let mut store = StateStore::open(dir.path()).unwrap();
        store.begin(&addr("a"), StepKind::Create, None).unwrap();
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        assert!(store.is_dirty());
        store.commit().unwrap();
        assert!(!store.is_dirty());
        assert_eq!(store.state().serial, 1);
        assert!(!journal.exists());
        let on_disk = StateFile::read(&dir.path().join(SNAPSHOT_FILE_NAME)).unwrap().unwrap();
        assert_eq!(&on_disk, store.state());

        // Recording the same state again, or a failed step, changes nothing.
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        store.begin(&addr("b"), StepKind::Create, None).unwrap();
        store.fail(&addr("b"), "quota exceeded").unwrap();
        assert!(!store.is_dirty());
        store.commit().unwrap();
        assert_eq!(store.state().serial, 1);
        assert!(!journal.exists());

        store.finish(&addr("a"), Some(res("a", 2))).unwrap();
        store.commit().unwrap();
        assert_eq!(store.state().serial, 2);
        drop(store);
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.state().serial, 2);
        assert_eq!(store.state().resources[&addr("a")], res("a", 2));
        assert!(!store.is_dirty());
    }

    #[test]
    fn a_crash_after_sync_loses_nothing_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        store.finish(&addr("z"), Some(res("z", 0))).unwrap();
        store.commit().unwrap();
        store.begin(&addr("a"), StepKind::Create, None).unwrap();
        store.begin(&addr("b"), StepKind::Create, None).unwrap();
        store.sync().unwrap();
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        store.sync().unwrap();
        let expected = store.state().clone();
        // Forgetting the store skips every destructor, as a killed process would.
        std::mem::forget(store);

        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.state(), &expected);
        assert_eq!(store.in_flight().iter().map(|f| f.address.clone()).collect::<Vec<_>>(), [addr("b")]);
    }

    #[test]
    fn steps_in_flight_survive_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        store.begin(&addr("a"), StepKind::Create, None).unwrap();
        store.finish(&addr("b"), Some(res("b", 1))).unwrap();
        store.commit().unwrap();
        drop(store);

        let mut store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.state().serial, 1);
        assert_eq!(store.in_flight().len(), 1);
        assert!(store.state().resources.contains_key(&addr("b")));
        // The next write replaces the folded journal with one that still carries the step.
        store.finish(&addr("c"), Some(res("c", 1))).unwrap();
        drop(store);
        let mut store = StateStore::open(dir.path()).unwrap();
        assert!(store.warnings().is_empty(), "{:?}", store.warnings());
        assert_eq!(store.in_flight().len(), 1);
        store.resolve_in_flight(&addr("a"), None).unwrap();
        store.commit().unwrap();
        assert!(!dir.path().join(JOURNAL_FILE_NAME).exists());
        assert_eq!(store.state().serial, 2);
    }

    #[test]
    fn a_journal_already_folded_is_not_replayed_twice() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join(JOURNAL_FILE_NAME);
        let mut store = StateStore::open(dir.path()).unwrap();
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        store.begin(&addr("b"), StepKind::Create, None).unwrap();
        store.finish(&addr("a"), None).unwrap();
        store.sync().unwrap();
        let saved = journal_text(dir.path());
        store.commit().unwrap();
        let committed = store.state().clone();
        drop(store);
        // As if the commit stopped after writing the snapshot, before removing the journal.
        fs::write(&journal, saved).unwrap();

        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.state(), &committed);
        assert!(!store.is_dirty());
        assert!(matches!(
            store.warnings(),
            [StoreWarning::FoldedJournal { base_serial: 0, snapshot_serial: 1, .. }]
        ));
        assert_eq!(store.in_flight().iter().map(|f| f.address.clone()).collect::<Vec<_>>(), [addr("b")]);
    }

    #[test]
    fn a_journal_of_another_lineage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        store.commit().unwrap();
        store.finish(&addr("b"), Some(res("b", 1))).unwrap();
        let lineage = store.state().lineage.clone();
        drop(store);
        let mut other = StateFile::new_empty("another-lineage");
        other.serial = 1;
        other.write_atomic(&dir.path().join(SNAPSHOT_FILE_NAME)).unwrap();
        match StateStore::open(dir.path()) {
            Err(e @ StoreError::LineageMismatch { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&lineage) && msg.contains("another-lineage"), "{msg}");
            }
            other => panic!("expected LineageMismatch, got {other:?}"),
        }
    }

    #[test]
    fn a_journal_newer_than_the_snapshot_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let header =
            JournalEntry::Header { format: JOURNAL_FORMAT_VERSION, lineage: "l".into(), base_serial: 5 };
        fs::write(dir.path().join(JOURNAL_FILE_NAME), serde_json::to_string(&header).unwrap() + "\n")
            .unwrap();
        assert!(matches!(
            StateStore::open(dir.path()),
            Err(StoreError::JournalAhead { base_serial: 5, snapshot_serial: None, .. })
        ));
        let header = JournalEntry::Header { format: 9, lineage: "l".into(), base_serial: 0 };
        fs::write(dir.path().join(JOURNAL_FILE_NAME), serde_json::to_string(&header).unwrap() + "\n")
            .unwrap();
        assert!(matches!(
            StateStore::open(dir.path()),
            Err(StoreError::UnsupportedJournalVersion { found: 9, .. })
        ));
    }

    #[test]
    fn unknown_values_are_refused_and_nothing_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        let mut bad = res("a", 1);
        bad.value.set(&AttrPath::attr("id"), Value::Unknown);
        let err = store.finish(&addr("a"), Some(bad)).unwrap_err();
        assert!(err.to_string().contains("azure_vm.a"), "{err}");
        assert!(store.state().resources.is_empty());
        assert!(!store.is_dirty());
        let err = store.finish(&addr("a"), Some(res("b", 1))).unwrap_err();
        assert!(matches!(err, StoreError::AddressMismatch { .. }), "{err}");
    }

    #[test]
    fn after_a_journal_failure_steps_still_reach_memory_and_a_commit_saves_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        store.finish(&addr("a"), Some(res("a", 1))).unwrap();
        // As after a failed append (disk full): the journal refuses further entries.
        store.broken = true;
        let err = store.finish(&addr("b"), Some(res("b", 2))).unwrap_err();
        assert!(matches!(err, StoreError::JournalBroken { .. }), "{err}");
        assert!(store.state().resources.contains_key(&addr("b")));
        store.commit().unwrap();
        drop(store);
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.state().resources.len(), 2);
    }

    #[test]
    fn ten_thousand_steps_append_to_the_journal_and_write_one_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::open(dir.path()).unwrap();
        for i in 0..10_000 {
            let name = format!("r{i}");
            store.finish(&addr(&name), Some(res(&name, i))).unwrap();
        }
        // Each step cost one appended line; no snapshot was written along the way.
        assert!(!dir.path().join(SNAPSHOT_FILE_NAME).exists());
        assert_eq!(journal_text(dir.path()).lines().count(), 10_001);
        store.commit().unwrap();
        assert_eq!(store.state().serial, 1);
        assert!(!dir.path().join(JOURNAL_FILE_NAME).exists());
        let on_disk = StateFile::read(&dir.path().join(SNAPSHOT_FILE_NAME)).unwrap().unwrap();
        assert_eq!(on_disk.resources.len(), 10_000);
    }
}
