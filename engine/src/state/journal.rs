//! The journal and the store. (Placeholder matching the state spec; replaced by the real store.)
#![allow(missing_docs, unused_variables)]

use std::collections::BTreeMap;
use std::path::Path;

use lanestack_model::{ResourceAddress, Value};

use super::snapshot::{OutputState, ResourceState, StateFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    Create,
    Update,
    Delete,
}

#[derive(Clone, Debug)]
pub struct InFlight {
    pub address: ResourceAddress,
    pub kind: StepKind,
    pub planned: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
#[error("state store error")]
pub struct StoreError;

pub enum JournalEntry {}

pub struct StateStore {
    state: StateFile,
    in_flight: Vec<InFlight>,
}

impl StateStore {
    pub fn open(dir: &Path) -> Result<StateStore, StoreError> {
        todo!()
    }
    pub fn state(&self) -> &StateFile {
        &self.state
    }
    pub fn in_flight(&self) -> &[InFlight] {
        &self.in_flight
    }
    pub fn begin(
        &mut self,
        address: &ResourceAddress,
        kind: StepKind,
        planned: Option<&Value>,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub fn finish(
        &mut self,
        address: &ResourceAddress,
        new: Option<ResourceState>,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub fn fail(&mut self, address: &ResourceAddress, message: &str) -> Result<(), StoreError> {
        todo!()
    }
    pub fn set_outputs(&mut self, outputs: BTreeMap<String, OutputState>) -> Result<(), StoreError> {
        todo!()
    }
    pub fn resolve_in_flight(
        &mut self,
        address: &ResourceAddress,
        new: Option<ResourceState>,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub fn sync(&mut self) -> Result<(), StoreError> {
        todo!()
    }
    pub fn commit(&mut self) -> Result<(), StoreError> {
        todo!()
    }
}
