//! ARM's throttling: one read and one write token bucket per subscription.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::{Bucket, Throttling};

/// Whether a request reads or writes, for throttling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

#[derive(Debug)]
struct Level {
    tokens: f64,
    at: Instant,
}

impl Level {
    fn refill(&mut self, bucket: Bucket, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * bucket.refill_per_sec).min(bucket.capacity);
        self.at = now;
    }
}

/// The buckets of every subscription seen.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    levels: HashMap<(String, bool), Level>,
}

/// The outcome of taking a token.
#[derive(Debug, PartialEq)]
pub(crate) enum Take {
    /// Allowed; this many requests of the kind remain.
    Allowed { remaining: u64 },
    /// Refused; retry after this long.
    Throttled { retry_after: Duration },
}

impl Throttle {
    pub(crate) fn take(
        &mut self,
        config: &Throttling,
        subscription: &str,
        access: Access,
        now: Instant,
    ) -> Take {
        let bucket = match access {
            Access::Read => config.reads,
            Access::Write => config.writes,
        };
        let key = (subscription.to_ascii_lowercase(), access == Access::Write);
        let level = self.levels.entry(key).or_insert(Level { tokens: bucket.capacity, at: now });
        level.refill(bucket, now);
        if level.tokens >= 1.0 {
            level.tokens -= 1.0;
            Take::Allowed { remaining: level.tokens.floor() as u64 }
        } else {
            let missing = 1.0 - level.tokens;
            let secs = if bucket.refill_per_sec > 0.0 { missing / bucket.refill_per_sec } else { 3600.0 };
            Take::Throttled { retry_after: Duration::from_secs_f64(secs) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_then_refills() {
        let config = Throttling {
            reads: Bucket { capacity: 2.0, refill_per_sec: 1.0 },
            writes: Bucket { capacity: 1.0, refill_per_sec: 1.0 },
        };
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(t.take(&config, "S", Access::Read, t0), Take::Allowed { remaining: 1 });
        assert_eq!(t.take(&config, "s", Access::Read, t0), Take::Allowed { remaining: 0 });
        assert!(matches!(t.take(&config, "s", Access::Read, t0), Take::Throttled { .. }));
        // Writes have their own bucket.
        assert_eq!(t.take(&config, "s", Access::Write, t0), Take::Allowed { remaining: 0 });
        let later = t0 + Duration::from_secs(1);
        assert_eq!(t.take(&config, "s", Access::Read, later), Take::Allowed { remaining: 0 });
    }
}
