//! Running the real `lanestack` binary on a temporary copy of a stack.
//!
//! Every run is a child process with `NO_COLOR=1`, stdin from `/dev/null` (so there is never a
//! terminal to ask on), no inherited `LANESTACK_*`, `AZURE_*` or `CI` variables, and the stack's
//! copy as working directory, so that the default `.` arguments name it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository root (the workspace), where `examples/` and `tests/broken/` live.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ has a parent").to_path_buf()
}

/// What a finished run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`-1` when killed by a signal, which no test expects).
    pub code: i32,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
    /// The command line, for failure messages.
    pub line: String,
}

impl Run {
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "`{}` exited {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.line, self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts success (exit 0).
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    /// Asserts that stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "`{}`: stdout lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.line,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "`{}`: stderr lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.line,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The lines of stdout, trimmed, without empty ones.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
    }
}

/// A temporary copy of a stack, deleted when dropped.
pub struct Stack {
    dir: tempfile::TempDir,
    /// Environment variables for every run of this stack.
    env: Vec<(String, String)>,
}

impl Stack {
    /// Copies `examples/<name>` into a fresh temporary directory.
    pub fn example(name: &str) -> Stack {
        Stack::copy_of(&repo_root().join("examples").join(name))
    }

    /// Copies `stacks/<name>` into a fresh temporary directory.
    pub fn platform(name: &str) -> Stack {
        Stack::copy_of(&repo_root().join("stacks").join(name))
    }

    /// Copies `tests/broken/<name>` into a fresh temporary directory.
    pub fn broken(name: &str) -> Stack {
        Stack::copy_of(&repo_root().join("tests/broken").join(name))
    }

    /// A stack of one `main.hcl` with this text.
    pub fn from_hcl(text: &str) -> Stack {
        let stack = Stack::empty();
        stack.write("main.hcl", text);
        stack
    }

    fn empty() -> Stack {
        let dir = tempfile::Builder::new().prefix("lanestack-e2e-").tempdir().expect("a temporary directory");
        Stack { dir, env: Vec::new() }
    }

    fn copy_of(src: &Path) -> Stack {
        let stack = Stack::empty();
        copy_dir(src, stack.root());
        stack
    }

    /// The copy's directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the copy.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// Writes a file inside the copy, creating its directories.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the parent directory");
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Reads a file inside the copy.
    pub fn read(&self, relative: &str) -> String {
        let path = self.path(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Sets an environment variable for every later run of this stack.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// Runs `lanestack ARGS` in the copy and waits for it.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lanestack"));
        cmd.args(args)
            .current_dir(self.root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1");
        // A developer's own inputs must not leak into the tests, nor CI's `CI=true` (which
        // changes what --show-sensitive does): tests that need it set it.
        for (name, _) in std::env::vars_os().filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v))) {
            if name.starts_with("LANESTACK_") || name.starts_with("AZURE_") || name == "CI" {
                cmd.env_remove(name);
            }
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        let output = cmd.output().expect("run the lanestack binary");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            line: format!("lanestack {}", args.join(" ")),
        }
    }

    /// The addresses `state list` prints.
    pub fn state_list(&self) -> Vec<String> {
        let run = self.run(&["state", "list"]);
        run.ok();
        run.stdout_lines().into_iter().map(str::to_owned).collect()
    }

    /// Replaces the copy's path (as given and canonical) with `[ROOT]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let canonical = self.root().canonicalize().expect("canonical temp path");
        for root in [canonical.as_path(), self.root()] {
            out = out.replace(&root.display().to_string(), "[ROOT]");
        }
        out
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create the destination");
    for entry in std::fs::read_dir(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display())) {
        let entry = entry.expect("a directory entry");
        let target = dst.join(entry.file_name());
        // A developer's local state or outputs under examples/ must not leak into a test.
        if entry.file_name() == ".lanestack" || entry.file_name() == "out" {
            continue;
        }
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}
