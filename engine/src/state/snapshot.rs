//! The snapshot. (Placeholder types matching the state spec; replaced by the real snapshot.)
#![allow(missing_docs)]

use std::collections::BTreeMap;

use lanestack_model::{BlockAddress, ResourceAddress, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceState {
    pub address: ResourceAddress,
    pub value: Value,
    pub dependencies: Vec<BlockAddress>,
    pub tainted: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputState {
    pub value: Value,
    pub sensitive: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StateFile {
    pub version: u32,
    pub lineage: String,
    pub serial: u64,
    pub lanestack_version: String,
    pub resources: BTreeMap<ResourceAddress, ResourceState>,
    pub outputs: BTreeMap<String, OutputState>,
}
