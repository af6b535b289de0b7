//! The lock: one plan or apply at a time per state directory (`lock.json`).
//!
//! Design decision: the lock is an exclusive advisory lock (`flock`) on `lock.json`, and the
//! file's content ([`LockInfo`]) only says who holds it. The operating system releases an
//! advisory lock when its holder dies, so a crashed lanestack can never keep others out
//! silently; but it leaves its `lock.json` behind. Such a file, whose lock is free, is reported
//! as [`LockError::Stale`] rather than taken over, because the crashed run may have left a
//! journal with steps in flight that a person should know about: `lanestack force-unlock <ID>`
//! removes it. The trade-off is one manual step after a crash.
//!
//! Advisory locks do not work across hosts on some network file systems; the recorded host name
//! makes the holder visible, but does not make the lock safe there. Remote state (blob leases)
//! is the answer for shared state.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};

use super::snapshot::LANESTACK_VERSION;

/// The lock file's name inside the state directory.
pub const LOCK_FILE_NAME: &str = "lock.json";

/// Who holds a lock, as written in `lock.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A random id, given to `force-unlock` to name this lock.
    pub id: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's host name (`unknown` when it could not be read).
    pub hostname: String,
    /// What the holder is doing (`plan`, `apply`, ...).
    pub operation: String,
    /// When the lock was taken, RFC 3339 in UTC.
    pub created: String,
    /// The holder's lanestack version.
    pub lanestack_version: String,
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (pid {} on {}, since {}, lanestack {}, lock id {})",
            self.operation, self.pid, self.hostname, self.created, self.lanestack_version, self.id
        )
    }
}

/// Why a lock file whose lock is free is considered stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaleReason {
    /// The recorded process no longer runs: it died without removing the file.
    ProcessGone,
    /// A process with the recorded id runs but does not hold the lock: the holder died and its
    /// process id was reused, or the file was copied.
    ProcessNotHolding,
    /// The lock was taken on another host, whose processes cannot be checked from here.
    OtherHost,
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StaleReason::ProcessGone => "that process is no longer running",
            StaleReason::ProcessNotHolding => "a process with that id runs but does not hold the lock",
            StaleReason::OtherHost => "it was taken on another host, which cannot be checked from here",
        })
    }
}

/// Taking, checking or removing the lock failed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error("the state is locked by {0}; wait for it to finish")]
    Held(Box<LockInfo>),
    /// Another process holds the lock and has not yet recorded who it is (it is just taking it).
    #[error("the state in {} is being locked by another process right now; try again", .path.display())]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
    /// A lock file was left behind by a process that no longer holds the lock.
    #[error(
        "the state is locked by {info}, but {reason}; if no lanestack is running on this state, run `lanestack force-unlock {}`",
        .info.id
    )]
    Stale {
        /// What the file says.
        info: Box<LockInfo>,
        /// Why it is considered stale.
        reason: StaleReason,
    },
    /// The lock file is not a lanestack lock.
    #[error("lock file {} is not a valid lanestack lock; delete it if no lanestack is running", .path.display())]
    Corrupt {
        /// The lock file.
        path: PathBuf,
        /// The parser's description.
        source: serde_json::Error,
    },
    /// `force_unlock` found no lock file.
    #[error("the state in {} is not locked (there is no lock file)", .path.display())]
    NotLocked {
        /// The lock file that does not exist.
        path: PathBuf,
    },
    /// `force_unlock` was given another lock's id.
    #[error(
        "the lock is not {given}: it is another lock than the one reported; run the command again to see who holds the lock now"
    )]
    IdMismatch {
        /// The id given.
        given: String,
        /// The id in the lock file.
        actual: String,
    },
    /// Other processes kept replacing the lock file while this one tried to take it.
    #[error("could not take the lock {}: it kept changing under us; try again", .path.display())]
    Contended {
        /// The lock file.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("cannot {action} {}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// Proof of holding the lock. Dropping it releases the lock and removes `lock.json`; use
/// [`LockGuard::release`] to see errors from removing the file.
#[derive(Debug)]
pub struct LockGuard {
    /// The locked file; `None` once released.
    file: Option<File>,
    path: PathBuf,
    info: LockInfo,
}

impl LockGuard {
    /// Who holds the lock (this process).
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// Releases the lock and removes the file, reporting a failure to remove it.
    pub fn release(mut self) -> Result<(), LockError> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<(), LockError> {
        let Some(file) = self.file.take() else { return Ok(()) };
        // The file is removed while the lock is still held, so that no other process can take
        // the lock on a file that is about to disappear (they check the file is still in place).
        let removed = match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LockError::Io { action: "remove", path: self.path.clone(), source }),
        };
        // Closing the file releases the advisory lock.
        drop(file);
        removed
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // A drop cannot report errors; a lock file left behind shows up as stale next time.
        let _ = self.release_inner();
    }
}

/// How often to retry when the lock file is replaced between opening and locking it. Each
/// retry means another process finished in between, so a handful is plenty.
const ATTEMPTS: usize = 8;

/// Takes the lock on the state directory `dir` for `operation` (`plan`, `apply`, ...), creating
/// the directory if needed. Fails at once (never waits) if the lock is held or stale.
pub fn acquire(dir: &Path, operation: &str) -> Result<LockGuard, LockError> {
    acquire_at(dir, operation, SystemTime::now())
}

fn acquire_at(dir: &Path, operation: &str, now: SystemTime) -> Result<LockGuard, LockError> {
    let path = dir.join(LOCK_FILE_NAME);
    let io_err = |action: &'static str, p: &Path| {
        let p = p.to_owned();
        move |source| LockError::Io { action, path: p, source }
    };
    fs::create_dir_all(dir).map_err(io_err("create the directory", dir))?;
    for _ in 0..ATTEMPTS {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open", &path))?;
        if !try_lock(&file, &path)? {
            return Err(held(&file, &path));
        }
        if !still_in_place(&file, &path)? {
            continue;
        }
        if let Some(info) = read_info(&file, &path)? {
            return Err(stale(info));
        }
        // An empty file is one whose creator stopped before writing it: it held no operation.
        let info = LockInfo {
            id: super::random_id::new_uuid(),
            pid: std::process::id(),
            hostname: hostname(),
            operation: operation.to_owned(),
            created: rfc3339(now),
            lanestack_version: LANESTACK_VERSION.to_owned(),
        };
        // Serialising a struct of strings cannot fail; reported rather than unwrapped all the same.
        let mut text = serde_json::to_vec_pretty(&info).map_err(|e| LockError::Io {
            action: "serialise the lock for",
            path: path.clone(),
            source: e.into(),
        })?;
        text.push(b'\n');
        let mut f = &file;
        f.set_len(0).map_err(io_err("truncate", &path))?;
        f.seek(SeekFrom::Start(0)).map_err(io_err("seek in", &path))?;
        f.write_all(&text).map_err(io_err("write", &path))?;
        f.sync_all().map_err(io_err("sync", &path))?;
        return Ok(LockGuard { file: Some(file), path, info });
    }
    Err(LockError::Contended { path })
}

/// Removes a lock left behind by a process that died, after checking `id` names it. Refuses
/// while a live process holds the lock. Returns what the removed lock file said.
pub fn force_unlock(dir: &Path, id: &str) -> Result<LockInfo, LockError> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LockError::NotLocked { path }),
        Err(source) => return Err(LockError::Io { action: "open", path, source }),
    };
    if !try_lock(&file, &path)? {
        return Err(held(&file, &path));
    }
    if !still_in_place(&file, &path)? {
        // Its holder released it between our open and our lock.
        return Err(LockError::NotLocked { path });
    }
    let Some(info) = read_info(&file, &path)? else {
        // An empty file holds no lock: the next acquire takes it over.
        return Err(LockError::NotLocked { path });
    };
    if info.id != id {
        return Err(LockError::IdMismatch { given: id.to_owned(), actual: info.id });
    }
    fs::remove_file(&path).map_err(|source| LockError::Io {
        action: "remove",
        path: path.clone(),
        source,
    })?;
    drop(file);
    Ok(info)
}

fn try_lock(file: &File, path: &Path) -> Result<bool, LockError> {
    // Called through the trait: std's `File` has inherent locking methods of its own in newer
    // Rust versions, with other signatures.
    FileExt::try_lock_exclusive(file).map_err(|source| LockError::Io {
        action: "lock",
        path: path.to_owned(),
        source,
    })
}

/// The error for a lock held by another process.
fn held(file: &File, path: &Path) -> LockError {
    match read_info(file, path) {
        Ok(Some(info)) => LockError::Held(Box::new(info)),
        // The holder has not finished writing the file yet.
        Ok(None) | Err(_) => LockError::Busy { path: path.to_owned() },
    }
}

fn stale(info: LockInfo) -> LockError {
    let reason = if info.hostname != hostname() {
        StaleReason::OtherHost
    } else if process_alive(info.pid) {
        StaleReason::ProcessNotHolding
    } else {
        StaleReason::ProcessGone
    };
    LockError::Stale { info: Box::new(info), reason }
}

/// Reads the lock file's content; `None` when it is empty.
fn read_info(file: &File, path: &Path) -> Result<Option<LockInfo>, LockError> {
    let mut f = file;
    let mut text = String::new();
    f.seek(SeekFrom::Start(0)).and_then(|_| f.read_to_string(&mut text)).map_err(|source| LockError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| LockError::Corrupt { path: path.to_owned(), source })
}

/// Whether `file` is still the file at `path`: a holder that released the lock removed the file
/// after we opened it, and a lock on the removed file protects nothing.
#[cfg(unix)]
fn still_in_place(file: &File, path: &Path) -> Result<bool, LockError> {
    use std::os::unix::fs::MetadataExt;
    let ours = file.metadata().map_err(|source| LockError::Io {
        action: "inspect",
        path: path.to_owned(),
        source,
    })?;
    match fs::metadata(path) {
        Ok(now) => Ok(now.dev() == ours.dev() && now.ino() == ours.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(LockError::Io { action: "inspect", path: path.to_owned(), source }),
    }
}

/// Elsewhere an open file cannot be removed, so the file at the path is the one we opened.
#[cfg(not(unix))]
fn still_in_place(_file: &File, _path: &Path) -> Result<bool, LockError> {
    Ok(true)
}

/// This host's name, `unknown` when it cannot be read.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Whether a process with this id runs on this host.
#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Without `/proc` there is no check that needs no unsafe code; assuming the process runs
/// gives the more careful message.
#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// `2023-11-14T22:13:20Z`: RFC 3339 in UTC, to the second. Times before 1970 read as 1970.
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn write_lock(dir: &Path, info: &LockInfo) {
        fs::write(dir.join(LOCK_FILE_NAME), serde_json::to_string(info).unwrap()).unwrap();
    }

    fn dead_holder(hostname: String) -> LockInfo {
        LockInfo {
            id: "11111111-2222-4333-8444-555555555555".into(),
            // Above Linux's largest possible pid (2^22), so never a running process.
            pid: 999_999_999,
            hostname,
            operation: "apply".into(),
            created: "2024-01-02T03:04:05Z".into(),
            lanestack_version: "0.0.1".into(),
        }
    }

    #[test]
    fn a_second_acquire_fails_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let guard = acquire(dir.path(), "apply").unwrap();
        assert_eq!(guard.info().pid, std::process::id());
        match acquire(dir.path(), "plan") {
            Err(LockError::Held(info)) => {
                assert_eq!(*info, *guard.info());
                let msg = LockError::Held(info).to_string();
                assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
                assert!(msg.contains("apply") && msg.contains(&guard.info().hostname), "{msg}");
            }
            other => panic!("expected Held, got {other:?}"),
        }
        // The failed attempt left the holder's file alone.
        let on_disk: LockInfo =
            serde_json::from_str(&fs::read_to_string(dir.path().join(LOCK_FILE_NAME)).unwrap()).unwrap();
        assert_eq!(&on_disk, guard.info());
    }

    #[test]
    fn dropping_the_guard_releases_the_lock_and_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "apply").unwrap();
        let first_id = first.info().id.clone();
        drop(first);
        assert!(!dir.path().join(LOCK_FILE_NAME).exists());
        let second = acquire(dir.path(), "plan").unwrap();
        assert_ne!(second.info().id, first_id);
        second.release().unwrap();
        assert!(!dir.path().join(LOCK_FILE_NAME).exists());
    }

    #[test]
    fn a_lock_file_of_a_dead_process_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let info = dead_holder(hostname());
        write_lock(dir.path(), &info);
        match acquire(dir.path(), "apply") {
            Err(e @ LockError::Stale { reason: StaleReason::ProcessGone, .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&format!("lanestack force-unlock {}", info.id)), "{msg}");
            }
            other => panic!("expected Stale, got {other:?}"),
        }
        // Reporting it changed nothing.
        assert!(dir.path().join(LOCK_FILE_NAME).exists());

        write_lock(dir.path(), &dead_holder("some-other-host".into()));
        assert!(matches!(
            acquire(dir.path(), "apply"),
            Err(LockError::Stale { reason: StaleReason::OtherHost, .. })
        ));
    }

    #[test]
    fn force_unlock_checks_the_id_then_removes_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let info = dead_holder(hostname());
        write_lock(dir.path(), &info);
        match force_unlock(dir.path(), "wrong-id") {
            // The message must not hand out the real id: unlocking must be a decision about the
            // lock the user saw, not a copy of whatever is there now.
            Err(e @ LockError::IdMismatch { .. }) => assert!(!e.to_string().contains(&info.id), "{e}"),
            other => panic!("expected IdMismatch, got {other:?}"),
        }
        assert!(dir.path().join(LOCK_FILE_NAME).exists());
        assert_eq!(force_unlock(dir.path(), &info.id).unwrap(), info);
        assert!(!dir.path().join(LOCK_FILE_NAME).exists());
        assert!(matches!(force_unlock(dir.path(), &info.id), Err(LockError::NotLocked { .. })));
        acquire(dir.path(), "apply").unwrap();
    }

    #[test]
    fn force_unlock_refuses_a_lock_that_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let guard = acquire(dir.path(), "apply").unwrap();
        assert!(matches!(force_unlock(dir.path(), &guard.info().id), Err(LockError::Held(_))));
        assert!(dir.path().join(LOCK_FILE_NAME).exists());
    }

    #[test]
    fn an_empty_lock_file_is_taken_over_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOCK_FILE_NAME), "").unwrap();
        let guard = acquire(dir.path(), "apply").unwrap();
        drop(guard);
        fs::write(dir.path().join(LOCK_FILE_NAME), "not json").unwrap();
        assert!(matches!(acquire(dir.path(), "apply"), Err(LockError::Corrupt { .. })));
    }

    #[test]
    fn created_is_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(4_102_444_799)), "2099-12-31T23:59:59Z");
        let dir = tempfile::tempdir().unwrap();
        let guard = acquire_at(dir.path(), "plan", UNIX_EPOCH + Duration::from_secs(1_700_000_000)).unwrap();
        assert_eq!(guard.info().created, "2023-11-14T22:13:20Z");
    }
}
