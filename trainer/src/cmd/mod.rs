//! One module per subcommand, named after it.

pub mod bench;
pub mod device;
pub mod eval;
pub mod parity;
pub mod predict;
pub mod snapshot;
pub mod synth;
pub mod train;

/// `error: ...` with the error's causes, one a line, as the binary prints an error; `prefix`
/// replaces `error` (a rank of a data-parallel run names itself).
pub fn error_report(prefix: &str, e: &anyhow::Error) -> String {
    let mut message = format!("{prefix}: {e}");
    for cause in e.chain().skip(1) {
        message.push_str(&format!("\n  caused by: {cause}"));
    }
    message
}
