//! The azure provider's integration tests, in one binary: the real engine plans and applies
//! HCL stacks through the provider against the emulator over HTTP on loopback.

mod credentials;
mod faults;
mod harness;
mod kubernetes;
mod lifecycle;
mod registry;
mod spector;
mod volume;
