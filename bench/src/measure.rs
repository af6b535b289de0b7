//! Running the CLI as a child process and measuring its wall time and peak memory.
//!
//! Peak memory comes from the kernel's accounting of the one child that was waited for
//! (`wait4(2)`), not from `getrusage(RUSAGE_CHILDREN)`: the latter is a high-water mark over
//! every child so far, so a small run after a large one would report the large one's peak.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

/// What one run of the CLI took.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Wall-clock seconds from spawn to exit.
    pub seconds: f64,
    /// The child's peak resident set size, in MiB.
    pub peak_mb: f64,
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs `program args...`, capturing its output, and measures it.
pub fn run(program: &Path, args: &[&str]) -> anyhow::Result<Measurement> {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    // Drain both pipes on threads so that a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().context("no stdout pipe")?;
    let mut err_pipe = child.stderr.take().context("no stderr pipe")?;
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let (status, max_rss_kib) = wait_with_rusage(child.id())?;
    let seconds = start.elapsed().as_secs_f64();
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    Ok(Measurement {
        seconds,
        // Linux reports ru_maxrss in KiB.
        peak_mb: max_rss_kib as f64 / 1024.0,
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        stdout,
        stderr,
    })
}

/// Waits for the child `pid` and returns its raw wait status and peak RSS in KiB.
///
/// The `std::process::Child` for `pid` must not be waited for afterwards (the process is reaped
/// here); dropping it is fine, as `Child` does not wait on drop.
#[allow(unsafe_code)]
fn wait_with_rusage(pid: u32) -> anyhow::Result<(i32, i64)> {
    let pid = libc::pid_t::try_from(pid).context("child pid out of range")?;
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `rusage` is a plain C struct for which all-zero bytes is a valid value, and
        // `status` and `rusage` are live, exclusively borrowed locals that wait4 writes into
        // for the duration of the call only. `pid` is our own unreaped child, so wait4 cannot
        // reap a process that another part of the program is waiting for.
        let (ret, usage) = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            let ret = libc::wait4(pid, &mut status, 0, &mut usage);
            (ret, usage)
        };
        if ret == pid {
            return Ok((status, usage.ru_maxrss));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            bail!("wait4({pid}) failed: {err}");
        }
    }
}
