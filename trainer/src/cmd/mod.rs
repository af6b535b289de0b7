//! One module per subcommand, named after it.

pub mod bench;
pub mod device;
pub mod eval;
pub mod parity;
pub mod predict;
pub mod snapshot;
pub mod synth;
pub mod train;
