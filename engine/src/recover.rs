//! Recovery of steps that were in flight when a previous run stopped (crash, kill -9, power).
//!
//! The journal says a step began but not how it ended. For each such step the provider reads
//! the object back, using the planned state's deterministic identity for a create: what exists
//! is recorded, what does not is dropped, so the next plan shows exactly what remains to do and
//! nothing is created twice.

use lanestack_model::{ReadRequest, ResourceAddress, Value};

use crate::registry::Providers;
use crate::state::{ResourceState, StateStore, StepKind, StoreError};

/// What recovery found for one interrupted step.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovered {
    /// The instance.
    pub address: ResourceAddress,
    /// The step that was interrupted.
    pub kind: StepKind,
    /// Whether the object exists now.
    pub exists: bool,
}

/// Why recovery failed.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The provider could not read the object back.
    #[error("could not find out whether the interrupted {kind:?} of {address} took effect: {message}")]
    Read {
        /// The instance.
        address: ResourceAddress,
        /// The interrupted step.
        kind: StepKind,
        /// The provider's error.
        message: String,
    },
    /// State could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves every in-flight step of `store` and commits the result. Providers must be
/// configured. Returns what was found.
pub async fn recover(store: &mut StateStore, providers: &Providers) -> Result<Vec<Recovered>, RecoverError> {
    let in_flight = store.in_flight().to_vec();
    let mut found = Vec::new();
    for step in in_flight {
        let recorded = store.state().resources.get(&step.address).cloned();
        let probe = match (&step.planned, &recorded) {
            (Some(p), _) => p.clone(),
            (None, Some(r)) => r.value.clone(),
            (None, None) => Value::Null,
        };
        let Some(provider) = providers.get(step.address.block.provider()) else { continue };
        let live = provider
            .read(ReadRequest { address: &step.address, state: &probe.unmark() })
            .await
            .map_err(|e| RecoverError::Read {
                address: step.address.clone(),
                kind: step.kind,
                message: e.to_string(),
            })?;
        let exists = live.is_some();
        tracing::info!(address = %step.address, kind = ?step.kind, exists, "recovered an interrupted step");
        let new = live.map(|v| ResourceState {
            address: step.address.clone(),
            value: v.with_sensitive_paths(&probe.sensitive_paths()),
            dependencies: recorded.as_ref().map(|r| r.dependencies.clone()).unwrap_or_default(),
            // What the provider read back is the truth: if it differs from the stack, the next
            // plan shows an update. Tainting would force a replacement of, say, a whole
            // cluster whose create had in fact completed.
            tainted: false,
            deposed: recorded.as_ref().and_then(|r| r.deposed.clone()),
        });
        store.resolve_in_flight(&step.address, new)?;
        found.push(Recovered { address: step.address, kind: step.kind, exists });
    }
    store.commit()?;
    Ok(found)
}
