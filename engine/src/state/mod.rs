//! State: what lanestack knows exists, kept on disk so that nothing is lost.
//!
//! Layout under `<stack>/.lanestack/`:
//! - `state.json`: the snapshot ([`StateFile`], versioned), written atomically (temp file, fsync,
//!   rename, fsync of the directory).
//! - `journal.jsonl`: an append-only journal of operations since the snapshot: "step started"
//!   (with the planned state, so an interrupted create can be found again by its deterministic
//!   identity) and "step finished" (with the new state). "Step started" lines are fsynced once
//!   per batch, before the batch's steps start ([`StateStore::sync`]). Opening the store
//!   ([`StateStore`]) replays the journal over the snapshot; compaction
//!   ([`StateStore::commit`]) folds it into a new snapshot and removes it. Persisting a step
//!   therefore costs one small append, not a rewrite of the whole state (which would make a
//!   large apply quadratic).
//! - `lock.json`: the lock, held for a whole plan or apply (see [`lock`]).
//!
//! Design decision: the snapshot and the journal carry lineage (a random id fixed when the state
//! is first created) and serial (incremented by every apply that changed something), so that a
//! saved plan can be bound to the state it was made from and refused when stale.

pub mod journal;
pub mod lock;
mod random_id;
pub(crate) use random_id::new_uuid;
pub mod snapshot;

pub use journal::{
    InFlight, JOURNAL_FILE_NAME, JOURNAL_FORMAT_VERSION, JournalEntry, PlannedRecord, SNAPSHOT_FILE_NAME,
    StateStore, StepKind, StoreError, StoreWarning,
};
pub use lock::{LOCK_FILE_NAME, LockError, LockGuard, LockInfo, StaleReason, acquire, force_unlock};
pub use snapshot::{
    FORMAT_VERSION, LANESTACK_VERSION, OutputRecord, OutputState, ReadStateError, ResourceRecord,
    ResourceState, StateFile, UnknownInStateError, WriteStateError, new_lineage,
};
