//! A small seeded random number generator (SplitMix64), owned here rather than taken from a
//! crate so that a seed means the same stream forever: synthetic data sets, shuffles and
//! augmentations must be reproducible across releases, and `rand` documents that its `StdRng`
//! may change between versions.
//!
//! Not for anything that needs unpredictability: this is a reproducibility tool.

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose stream is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator for one item of a family (a frame of a data set, an epoch of a run): the
    /// stream is fixed by `seed` and the `path`, and streams for different paths are unrelated.
    pub fn derive(seed: u64, path: &[u64]) -> Rng {
        let mut state = mix(seed ^ 0x6c61_6e65_7374_6163);
        for &p in path {
            state = mix(state ^ mix(p.wrapping_add(0x9e37_79b9_7f4a_7c15)));
        }
        Rng::new(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// A uniform value in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform value in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// A uniform integer in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Rejection keeps the distribution exactly uniform.
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The SplitMix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_of_a_seed_never_changes() {
        // The reference values of SplitMix64 for seed 1234567.
        let mut r = Rng::new(1234567);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, vec![6457827717110365317, 3203168211198807973, 9817491932198370423]);
    }

    #[test]
    fn derived_streams_differ_by_path() {
        let a = Rng::derive(7, &[1, 2]).next_u64();
        assert_eq!(a, Rng::derive(7, &[1, 2]).next_u64());
        assert_ne!(a, Rng::derive(7, &[2, 1]).next_u64());
        assert_ne!(a, Rng::derive(8, &[1, 2]).next_u64());
    }

    #[test]
    fn ranges_hold() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            let u = r.uniform(-1.0, 1.0);
            assert!((-1.0..1.0).contains(&u));
            assert!(r.below(5) < 5);
        }
        assert_eq!(r.below(0), 0);
        let mut v: Vec<u32> = (0..50).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }
}
