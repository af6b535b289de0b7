//! Adaptive concurrency for one subscription's ARM budget: an AIMD limiter per token bucket.
//!
//! ARM throttles per subscription with two token buckets (reads and writes). A client that only
//! retries its 429s keeps sending as fast as the engine's parallelism allows, so once a bucket is
//! empty most of its requests are refused. [`Limiter`] instead learns from every answer:
//!
//! - a 429 halves the concurrency (multiplicative decrease, at most once per throttle window)
//!   and holds every request of that bucket until `Retry-After` has passed, so one refusal does
//!   not become one per request in flight;
//! - `x-ms-ratelimit-remaining-subscription-*` below the concurrency shrinks the concurrency to
//!   what remains, and a remaining of 0 holds the bucket for the refill time the last 429
//!   announced, before the server has to refuse anything;
//! - every other success grows the concurrency by `1/limit` (additive increase: one more
//!   request in flight per round of successes), up to [`MAX_LIMIT`].
//!
//! Trade-off: the hold is shared by every request of the bucket, so one slow refill delays
//! them all; this is what ARM's budget imposes anyway, and it keeps the number of 429s
//! bounded by the number of throttle windows instead of the number of requests.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The concurrency a limiter starts with.
const INITIAL_LIMIT: f64 = 16.0;
/// The most requests of one bucket in flight at once.
pub(crate) const MAX_LIMIT: f64 = 64.0;

#[derive(Debug)]
struct State {
    /// How many requests may be in flight (fractional: additive increase adds `1/limit`).
    limit: f64,
    in_flight: usize,
    /// No request starts before this instant.
    hold_until: Option<Instant>,
    /// The wait the last 429 asked for: how long the bucket takes to give one token back.
    refill: Option<Duration>,
}

/// One bucket's limiter. With `adaptive` off it lets everything through and learns nothing.
#[derive(Debug)]
pub(crate) struct Limiter {
    adaptive: bool,
    state: Mutex<State>,
    released: Notify,
}

/// A request in flight; dropping it frees its place.
pub(crate) struct Permit<'a> {
    limiter: Option<&'a Limiter>,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(l) = self.limiter {
            l.lock().in_flight -= 1;
            l.released.notify_waiters();
        }
    }
}

/// What one answer said about the budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Signal {
    /// 429: the bucket is empty; try again after this long.
    Throttled(Duration),
    /// Not throttled; the server said this many requests remain, when it said.
    Allowed(Option<u64>),
}

impl Limiter {
    pub(crate) fn new(adaptive: bool) -> Limiter {
        Limiter {
            adaptive,
            state: Mutex::new(State { limit: INITIAL_LIMIT, in_flight: 0, hold_until: None, refill: None }),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a place: until any hold has passed and fewer than `limit` requests are in
    /// flight.
    pub(crate) async fn acquire(&self) -> Permit<'_> {
        if !self.adaptive {
            return Permit { limiter: None };
        }
        loop {
            // Registered before the check, so a release between the check and the await is
            // not missed.
            let released = self.released.notified();
            let hold = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.hold_until {
                    Some(until) if until > now => Some(until - now),
                    _ if (s.in_flight as f64) < s.limit.floor().max(1.0) => {
                        s.in_flight += 1;
                        return Permit { limiter: Some(self) };
                    }
                    _ => None,
                }
            };
            match hold {
                Some(d) => tokio::time::sleep(d).await,
                None => released.await,
            }
        }
    }

    /// Learns from one answer. `refill_cap` bounds any hold (the retry policy's longest wait).
    pub(crate) fn observe(&self, signal: Signal, refill_cap: Duration) {
        if !self.adaptive {
            return;
        }
        let mut s = self.lock();
        let now = Instant::now();
        match signal {
            Signal::Throttled(wait) => {
                let wait = wait.min(refill_cap);
                let holding = s.hold_until.is_some_and(|u| u > now);
                if !holding {
                    s.limit = (s.limit / 2.0).max(1.0);
                }
                s.refill = Some(wait);
                let until = now + wait;
                s.hold_until = Some(s.hold_until.map_or(until, |u| u.max(until)));
            }
            Signal::Allowed(Some(0)) => {
                if let Some(refill) = s.refill {
                    let until = now + refill;
                    s.hold_until = Some(s.hold_until.map_or(until, |u| u.max(until)));
                }
                s.limit = 1.0;
            }
            Signal::Allowed(Some(remaining)) if (remaining as f64) < s.limit => {
                s.limit = (remaining as f64).max(1.0);
            }
            Signal::Allowed(_) => {
                s.limit = (s.limit + 1.0 / s.limit).min(MAX_LIMIT);
            }
        }
        drop(s);
        self.released.notify_waiters();
    }

    #[cfg(test)]
    fn limit(&self) -> f64 {
        self.lock().limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(60);

    #[test]
    fn a_throttle_halves_once_per_window_and_successes_grow_it_back() {
        let l = Limiter::new(true);
        l.observe(Signal::Throttled(Duration::from_secs(5)), CAP);
        assert_eq!(l.limit(), INITIAL_LIMIT / 2.0);
        // Other requests of the same window are refused too: no second halving.
        l.observe(Signal::Throttled(Duration::from_secs(5)), CAP);
        assert_eq!(l.limit(), INITIAL_LIMIT / 2.0);
        for _ in 0..8 {
            l.observe(Signal::Allowed(None), CAP);
        }
        assert!((l.limit() - 9.0).abs() < 0.1, "{}", l.limit());
    }

    #[test]
    fn a_low_remaining_shrinks_and_zero_holds_for_the_refill() {
        let l = Limiter::new(true);
        l.observe(Signal::Allowed(Some(3)), CAP);
        assert_eq!(l.limit(), 3.0);
        l.observe(Signal::Allowed(Some(0)), CAP);
        assert_eq!(l.limit(), 1.0);
        // No refill time learnt yet: no hold.
        assert!(l.lock().hold_until.is_none());
        l.observe(Signal::Throttled(Duration::from_secs(2)), CAP);
        l.lock().hold_until = None;
        l.observe(Signal::Allowed(Some(0)), CAP);
        assert!(l.lock().hold_until.is_some());
    }

    #[test]
    fn a_hold_never_exceeds_the_cap() {
        let l = Limiter::new(true);
        l.observe(Signal::Throttled(Duration::from_secs(3600)), Duration::from_millis(10));
        assert_eq!(l.lock().refill, Some(Duration::from_millis(10)));
    }

    #[test]
    fn not_adaptive_learns_nothing() {
        let l = Limiter::new(false);
        l.observe(Signal::Throttled(Duration::from_secs(1)), CAP);
        assert_eq!(l.limit(), INITIAL_LIMIT);
    }

    #[tokio::test]
    async fn places_are_limited_and_freed() {
        let l = Limiter::new(true);
        l.observe(Signal::Allowed(Some(2)), CAP);
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert_eq!(l.lock().in_flight, 2);
        let waiter = async { l.acquire().await };
        tokio::pin!(waiter);
        assert!(futures_poll_once(waiter.as_mut()).await.is_none());
        drop(a);
        let _c = waiter.await;
        assert_eq!(l.lock().in_flight, 2);
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            v = f => Some(v),
            () = std::future::ready(()) => None,
        }
    }
}
