//! lanestack's vocabulary.
//!
//! This crate holds the types that every other part of lanestack speaks: [`Value`] (with
//! unknown and sensitive marks), [`AttrPath`], [`ResourceAddress`], schemas ([`schema`]), the
//! provider boundary ([`Provider`]), and planned changes ([`ResourceChange`], [`Action`]). It does
//! no IO, starts no runtime and knows nothing of HCL, Azure or Kubernetes.

pub mod address;
pub mod change;
pub mod map;
pub mod path;
pub mod provider;
pub mod schema;
pub mod value;

pub use address::{BlockAddress, InstanceKey, Mode, ResourceAddress};
pub use change::{Action, ActionReason, Drift, OutputChange, ResourceChange};
pub use map::Map;
pub use path::{AttrPath, PathStep};
pub use provider::{
    ApplyRequest, BoxFuture, DataRequest, ErrorKind, PlanRequest, PlanResponse, Provider, ProviderError,
    ReadRequest,
};
pub use schema::{
    AttrType, Attribute, Block, Nesting, Normalize, Owner, Presence, ProviderSchema, ResourceSchema,
};
pub use value::Value;
