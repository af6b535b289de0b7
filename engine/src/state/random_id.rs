//! Random identifiers (state lineage, lock ids) formatted as UUID v4.
//!
//! Design decision: no `uuid`/`getrandom` dependency. The identifiers need to be unique, not
//! secret, so the bytes come from `/dev/urandom` where it can be read and are otherwise derived
//! by hashing the clock, the process id, a process-wide counter and a stack address. Hashing the
//! urandom bytes together with those inputs means a broken urandom can only make ids less
//! random, never identical within one process.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Distinguishes ids made in the same nanosecond by the same process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh random identifier in the UUID v4 text form (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`).
pub(crate) fn new_uuid() -> String {
    let mut hasher = Sha256::new();
    let mut entropy = [0u8; 16];
    // A failure to read urandom is not an error: the other inputs still make the id unique.
    let urandom = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut entropy));
    if urandom.is_ok() {
        hasher.update(entropy);
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let marker = 0u8;
    hasher.update((&raw const marker as usize).to_le_bytes());
    let digest = hasher.finalize();

    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    // Set the version (4) and the RFC 4122 variant bits so the id reads as a v4 UUID.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v4_shaped_and_distinct() {
        let a = new_uuid();
        let b = new_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let groups: Vec<&str> = a.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
