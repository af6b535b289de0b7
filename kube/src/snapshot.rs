//! The trainer's snapshot on finish: a CSI `VolumeSnapshot` (`snapshot.storage.k8s.io/v1`) of
//! the PersistentVolumeClaim that holds the run's outputs, named after the PVC, the job and the
//! UTC time, so that every finished run keeps its own point-in-time copy.
//!
//! The snapshot names no `volumeSnapshotClassName`: the cluster's default class (the one
//! annotated `snapshot.storage.kubernetes.io/is-default-class`) applies, which is where the
//! platform says how ANF snapshots are taken. An existing snapshot of the same name is never
//! replaced: that is an error ([`SnapshotError::AlreadyExists`]).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::client::{Client, resource_path};
use crate::error::Error;

/// The API version of the snapshots created.
pub const API_VERSION: &str = "snapshot.storage.k8s.io/v1";
/// The label every snapshot created here carries, with value [`MANAGED_BY`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "lanestack-trainer";

/// The longest DNS-1123 subdomain, the limit on an object's name.
const MAX_NAME: usize = 253;

/// A UTC calendar time to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// The year (1970 or later).
    pub year: u64,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59 (Unix time has no leap seconds).
    pub second: u8,
}

impl UtcTime {
    /// The calendar time of `secs` seconds after the Unix epoch (proleptic Gregorian, as Unix
    /// time is: Howard Hinnant's `civil_from_days`).
    pub fn from_unix_seconds(secs: u64) -> UtcTime {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        // Days since 0000-03-01, so that the leap day is the last day of a year.
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z % 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        // Each cast is of a value already bounded by the arithmetic above (day <= 31, ...).
        UtcTime {
            year,
            month: month as u8,
            day: day as u8,
            hour: (rem / 3_600) as u8,
            minute: (rem % 3_600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// The calendar time of `at` (a time before 1970 is taken as the epoch).
    pub fn from_system_time(at: SystemTime) -> UtcTime {
        UtcTime::from_unix_seconds(at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`: RFC 3339, as Kubernetes writes its times.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `YYYYMMDD-HHMMSS`.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// `snap-<pvc>-<job>-<YYYYMMDD-HHMMSS>` (UTC), a valid object name (a DNS-1123 subdomain):
/// lowercased; every character outside `[a-z0-9-.]` becomes `-`; a `.` that would not sit
/// between two letters or digits becomes `-` too (a DNS label cannot start or end with `-` or
/// be empty); and when the whole is over 253 characters the PVC and job parts are shortened,
/// the longer first, never the timestamp.
pub fn snapshot_name(pvc: &str, job: &str, at: SystemTime) -> String {
    snapshot_name_at(pvc, job, UtcTime::from_system_time(at))
}

/// [`snapshot_name`] for a calendar time.
pub fn snapshot_name_at(pvc: &str, job: &str, at: UtcTime) -> String {
    let clean =
        |s: &str| -> Vec<char> {
            s.chars()
                .flat_map(char::to_lowercase)
                .map(|c| {
                    if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' { c } else { '-' }
                })
                .collect()
        };
    let (mut pvc, mut job) = (clean(pvc), clean(job));
    let stamp = at.compact();
    let fixed = "snap-".len() + 1 + 1 + stamp.len();
    let budget = MAX_NAME - fixed;
    if pvc.len() + job.len() > budget {
        // Each part keeps at least half the budget, or all of itself if it is shorter.
        let half = budget / 2;
        let pvc_len =
            if pvc.len() <= half { pvc.len() } else { (budget - job.len().min(half)).min(pvc.len()) };
        pvc.truncate(pvc_len);
        job.truncate(budget - pvc_len);
    }
    let mut name: Vec<char> = "snap-".chars().collect();
    name.extend(pvc);
    name.push('-');
    name.extend(job);
    name.push('-');
    name.extend(stamp.chars());
    for i in 0..name.len() {
        if name[i] == '.' {
            let alnum = |c: Option<&char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            if !(alnum(name.get(i.wrapping_sub(1))) && alnum(name.get(i + 1))) {
                name[i] = '-';
            }
        }
    }
    name.into_iter().collect()
}

/// Whether `name` is a DNS-1123 subdomain (Kubernetes' `IsDNS1123Subdomain`): at most 253
/// characters, dot-separated labels of `[a-z0-9]`, with `-` inside.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= MAX_NAME
        && !name.is_empty()
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// The training job's name, for the snapshot's name: `JOB_NAME` when set; otherwise the pod's
/// `HOSTNAME` without the suffix the MPI operator gives its pods: `-worker-<n>` (workers are
/// pods named `<job>-worker-<n>`), or `-launcher` and `-launcher-<5 characters>` (the launcher
/// is a batch Job named `<job>-launcher`, whose pod gets Kubernetes' random five-character
/// suffix from the alphabet `bcdfghjklmnpqrstvwxz2456789`). `None` when neither variable is set.
///
/// `env` looks a variable up (`|n| std::env::var(n).ok()` in a binary).
pub fn job_name(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(job) = env("JOB_NAME").filter(|j| !j.is_empty()) {
        return Some(job);
    }
    let host = env("HOSTNAME").filter(|h| !h.is_empty())?;
    if let Some(job) = host.strip_suffix("-launcher") {
        return Some(job.to_owned());
    }
    if let Some((job, suffix)) = host.rsplit_once("-launcher-")
        && suffix.len() == 5
        && suffix.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
    {
        return Some(job.to_owned());
    }
    if let Some((job, n)) = host.rsplit_once("-worker-")
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(job.to_owned());
    }
    Some(host)
}

/// What the server answered for a created snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// The namespace.
    pub namespace: String,
    /// The snapshot's name.
    pub name: String,
    /// The server's `metadata.uid`.
    pub uid: String,
    /// The server's `metadata.creationTimestamp` (RFC 3339).
    pub creation_timestamp: String,
    /// The PVC snapshotted.
    pub pvc: String,
}

/// A snapshot that was not created.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A snapshot of that name exists already; it was left untouched.
    #[error(
        "VolumeSnapshot {namespace}/{name} already exists and was left as it is (not overwritten): {source}"
    )]
    AlreadyExists {
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
        /// The server's refusal.
        source: Error,
    },
    /// Any other failure.
    #[error("cannot create VolumeSnapshot {namespace}/{name} of PersistentVolumeClaim {pvc}: {source}")]
    Failed {
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
        /// The PVC.
        pvc: String,
        /// Why.
        source: Error,
    },
}

/// The `VolumeSnapshot` object [`create_volume_snapshot`] posts.
pub fn volume_snapshot(namespace: &str, name: &str, pvc: &str) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "VolumeSnapshot",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": { MANAGED_BY_LABEL: MANAGED_BY },
        },
        "spec": { "source": { "persistentVolumeClaimName": pvc } },
    })
}

/// Creates the `VolumeSnapshot` `namespace/name` of the PVC `pvc` (in the same namespace), with
/// the cluster's default snapshot class. Does not wait for the snapshot to be ready: the CSI
/// driver cuts it asynchronously, and the PVC may be written to again once the snapshot
/// controller has seen the object.
pub async fn create_volume_snapshot(
    client: &Client,
    namespace: &str,
    name: &str,
    pvc: &str,
) -> Result<SnapshotSummary, SnapshotError> {
    let path = resource_path(API_VERSION, Some(namespace), "volumesnapshots", None);
    match client.create(&path, &volume_snapshot(namespace, name, pvc)).await {
        Ok(created) => {
            let meta =
                |field: &str| created.pointer(field).and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(SnapshotSummary {
                namespace: meta("/metadata/namespace"),
                name: meta("/metadata/name"),
                uid: meta("/metadata/uid"),
                creation_timestamp: meta("/metadata/creationTimestamp"),
                pvc: meta("/spec/source/persistentVolumeClaimName"),
            })
        }
        Err(source @ Error::AlreadyExists(_)) => Err(SnapshotError::AlreadyExists {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source,
        }),
        Err(source) => Err(SnapshotError::Failed {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            pvc: pvc.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates_including_leap_years() {
        let t = |secs| UtcTime::from_unix_seconds(secs).compact();
        assert_eq!(t(0), "19700101-000000");
        assert_eq!(t(951_782_400), "20000229-000000"); // 2000 is a leap year (divisible by 400)
        assert_eq!(t(951_868_800), "20000301-000000");
        assert_eq!(t(1_078_099_199), "20040229-235959");
        assert_eq!(t(1_709_164_800), "20240229-000000");
        assert_eq!(t(1_709_251_199), "20240229-235959");
        assert_eq!(t(1_709_251_200), "20240301-000000");
        assert_eq!(t(1_735_689_599), "20241231-235959");
        assert_eq!(t(1_735_689_600), "20250101-000000");
        assert_eq!(t(1_234_567_890), "20090213-233130");
        assert_eq!(t(4_107_542_400), "21000301-000000"); // 2100 is not: Feb 28 then Mar 1
        assert_eq!(t(4_107_542_399), "21000228-235959");
        let rfc = |secs| UtcTime::from_unix_seconds(secs).rfc3339();
        assert_eq!(rfc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc(1_735_689_599), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn names_are_dns_subdomains_with_the_timestamp() {
        let at = UtcTime::from_unix_seconds(1_709_251_199);
        let name = snapshot_name_at("Data_PVC", "SCNN Run#7", at);
        assert_eq!(name, "snap-data-pvc-scnn-run-7-20240229-235959");
        assert!(is_dns1123_subdomain(&name));
        assert_eq!(
            snapshot_name("pvc", "job", UNIX_EPOCH + std::time::Duration::from_secs(1_234_567_890)),
            "snap-pvc-job-20090213-233130"
        );
        // Dots stay where they separate labels; elsewhere they become dashes.
        assert_eq!(snapshot_name_at("a.b", ".job.", at), "snap-a.b--job--20240229-235959");
        assert!(is_dns1123_subdomain(&snapshot_name_at("x.", "-.-", at)));
        assert!(is_dns1123_subdomain(&snapshot_name_at("Ünïcode ✓", "", at)));
    }

    #[test]
    fn long_parts_are_shortened_but_the_timestamp_kept() {
        let at = UtcTime::from_unix_seconds(1_709_251_199);
        for (p, j) in [(300, 5), (5, 300), (300, 300), (120, 120), (231, 0), (116, 116)] {
            let name = snapshot_name_at(&"p".repeat(p), &"j".repeat(j), at);
            assert!(name.len() <= 253, "{p} {j}: {}", name.len());
            assert!(is_dns1123_subdomain(&name), "{p} {j}");
            assert!(name.ends_with("-20240229-235959"), "{name}");
            if p + j > 231 {
                assert_eq!(name.len(), 253, "{p} {j}");
            }
        }
        let name = snapshot_name_at(&"p".repeat(300), "short-job", at);
        assert!(name.contains("-short-job-"), "the short part is kept whole: {name}");
        let name = snapshot_name_at(&"p".repeat(300), &"j".repeat(300), at);
        assert_eq!(name, format!("snap-{}-{}-20240229-235959", "p".repeat(116), "j".repeat(115)));
        // A cut that ends on a dot does not leave a label ending in a dash or a dot.
        let name = snapshot_name_at(&format!("{}.{}", "a".repeat(229), "b".repeat(50)), "j", at);
        assert!(is_dns1123_subdomain(&name), "{name}");
    }

    #[test]
    fn dns_subdomain_rules() {
        assert!(is_dns1123_subdomain("a.b-c.d9"));
        for bad in ["", "A", "-a", "a-", "a..b", "a.-b", "a_b", &"a".repeat(254)] {
            assert!(!is_dns1123_subdomain(bad), "{bad:?}");
        }
    }

    #[test]
    fn job_name_from_job_name_or_the_mpi_pod_hostname() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(
            job_name(env(&[("JOB_NAME", "explicit"), ("HOSTNAME", "x-launcher")])).as_deref(),
            Some("explicit")
        );
        assert_eq!(job_name(env(&[("HOSTNAME", "scnn-launcher")])).as_deref(), Some("scnn"));
        assert_eq!(job_name(env(&[("HOSTNAME", "scnn-launcher-x7k2p")])).as_deref(), Some("scnn"));
        assert_eq!(job_name(env(&[("HOSTNAME", "scnn-worker-0")])).as_deref(), Some("scnn"));
        assert_eq!(job_name(env(&[("HOSTNAME", "scnn-a-worker-12")])).as_deref(), Some("scnn-a"));
        // Not MPI suffixes: kept whole.
        assert_eq!(job_name(env(&[("HOSTNAME", "scnn-worker-a")])).as_deref(), Some("scnn-worker-a"));
        assert_eq!(
            job_name(env(&[("HOSTNAME", "scnn-launcher-abcde")])).as_deref(),
            Some("scnn-launcher-abcde")
        );
        assert_eq!(job_name(env(&[("HOSTNAME", "trainer")])).as_deref(), Some("trainer"));
        assert_eq!(job_name(env(&[("JOB_NAME", ""), ("HOSTNAME", "")])), None);
    }

    #[test]
    fn the_object_posted() {
        let object = volume_snapshot("ns", "snap-x", "data");
        assert_eq!(object["spec"], json!({"source": {"persistentVolumeClaimName": "data"}}));
        assert_eq!(object["metadata"]["labels"][MANAGED_BY_LABEL], MANAGED_BY);
        assert!(object["spec"].get("volumeSnapshotClassName").is_none());
    }
}
