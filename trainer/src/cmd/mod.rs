//! One module per subcommand, named after it.

pub mod eval;
pub mod synth;
