//! lanestack-engine's integration tests, in one binary.

mod diagnostics;
