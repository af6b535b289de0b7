//! Which samples each rank reads in each epoch.
//!
//! Horovod's recipe: every rank shuffles the same list with the same seed (the run's seed and
//! the epoch), then takes every `world`-th entry from its rank on, so the shards are disjoint
//! and together cover the epoch. The list is first repeated `multiplier` times (the seed's x5
//! data set) and then padded with its own first entries to a multiple of the world size, so
//! that every rank runs the same number of steps: a rank with one step fewer would leave the
//! others waiting in the gradient all-reduce forever.

use crate::rng::Rng;

/// Why an epoch plan could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamplerError {
    /// The world size is 0.
    #[error("the world size must be at least 1")]
    EmptyWorld,
    /// The rank is not in the world.
    #[error("rank {rank} is not in a world of {world}")]
    RankOutOfWorld {
        /// The rank.
        rank: usize,
        /// The world size.
        world: usize,
    },
    /// The batch size is 0.
    #[error("the batch size must be at least 1")]
    EmptyBatch,
}

/// How an epoch's sample list is made and shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochPlan {
    /// Samples in the data set.
    pub len: usize,
    /// How many times the list is repeated per epoch (the seed used 5).
    pub multiplier: usize,
    /// Shuffle (training) or keep the file order (validation, test).
    pub shuffle: bool,
    /// The run's seed; the epoch is mixed in.
    pub seed: u64,
    /// This process's rank.
    pub rank: usize,
    /// The number of processes.
    pub world: usize,
}

impl EpochPlan {
    /// The whole epoch's list, shuffled and padded, before sharding.
    pub fn epoch_list(&self, epoch: u64) -> Result<Vec<usize>, SamplerError> {
        if self.world == 0 {
            return Err(SamplerError::EmptyWorld);
        }
        let mut list: Vec<usize> = (0..self.len * self.multiplier).map(|i| i % self.len.max(1)).collect();
        if self.shuffle {
            Rng::derive(self.seed, &[0x5348_5546, epoch]).shuffle(&mut list);
        }
        let short = (self.world - list.len() % self.world) % self.world;
        if !list.is_empty() {
            for i in 0..short {
                list.push(list[i % list.len()]);
            }
        }
        Ok(list)
    }

    /// This rank's samples for `epoch`, in the order it reads them.
    pub fn shard(&self, epoch: u64) -> Result<Vec<usize>, SamplerError> {
        if self.world == 0 {
            return Err(SamplerError::EmptyWorld);
        }
        if self.rank >= self.world {
            return Err(SamplerError::RankOutOfWorld { rank: self.rank, world: self.world });
        }
        Ok(self.epoch_list(epoch)?.into_iter().skip(self.rank).step_by(self.world).collect())
    }

    /// This rank's batches for `epoch`; the last may be short (the same length on every rank).
    pub fn batches(&self, epoch: u64, batch_size: usize) -> Result<Vec<Vec<usize>>, SamplerError> {
        if batch_size == 0 {
            return Err(SamplerError::EmptyBatch);
        }
        Ok(self.shard(epoch)?.chunks(batch_size).map(<[usize]>::to_vec).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(len: usize, rank: usize, world: usize) -> EpochPlan {
        EpochPlan { len, multiplier: 5, shuffle: true, seed: 42, rank, world }
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_padded_epoch() {
        for (len, world) in [(10, 3), (7, 1), (12, 4), (1, 3), (13, 2)] {
            let list = plan(len, 0, world).epoch_list(3).unwrap();
            assert_eq!(list.len() % world, 0);
            assert_eq!(list.len(), (len * 5).div_ceil(world) * world);
            let shards: Vec<Vec<usize>> = (0..world).map(|r| plan(len, r, world).shard(3).unwrap()).collect();
            assert!(shards.iter().all(|s| s.len() == list.len() / world), "equal steps on every rank");
            // Position by position, the shards interleave back into the epoch list.
            let mut merged = vec![usize::MAX; list.len()];
            for (r, shard) in shards.iter().enumerate() {
                for (k, &i) in shard.iter().enumerate() {
                    assert_eq!(merged[k * world + r], usize::MAX);
                    merged[k * world + r] = i;
                }
            }
            assert_eq!(merged, list);
            // Every sample appears `multiplier` times, plus at most one padding repeat.
            for i in 0..len {
                let n = list.iter().filter(|&&x| x == i).count();
                assert!((5..=5 + world).contains(&n), "sample {i}: {n}");
            }
        }
    }

    #[test]
    fn without_padding_the_shards_partition_the_samples() {
        let mut all: Vec<usize> = (0..4).flat_map(|r| plan(8, r, 4).shard(0).unwrap()).collect();
        all.sort();
        let expected: Vec<usize> = (0..8).flat_map(|i| [i; 5]).collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn the_same_seed_and_epoch_give_the_same_order_and_epochs_differ() {
        let p = plan(100, 1, 3);
        assert_eq!(p.shard(4).unwrap(), p.shard(4).unwrap());
        assert_ne!(p.shard(4).unwrap(), p.shard(5).unwrap());
        assert_ne!(p.shard(4).unwrap(), EpochPlan { seed: 43, ..p }.shard(4).unwrap());
        let ordered = EpochPlan { shuffle: false, multiplier: 1, ..p };
        assert_eq!(ordered.shard(0).unwrap()[..4], [1, 4, 7, 10]);
    }

    #[test]
    fn batches_have_the_same_count_on_every_rank() {
        let counts: Vec<usize> = (0..3).map(|r| plan(10, r, 3).batches(0, 4).unwrap().len()).collect();
        assert_eq!(counts, vec![5, 5, 5]); // 50 padded to 51 -> 17 per rank -> 4 + 4 + 4 + 4 + 1
        assert_eq!(plan(0, 0, 2).batches(0, 4).unwrap(), Vec::<Vec<usize>>::new());
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert_eq!(plan(5, 0, 0).shard(0), Err(SamplerError::EmptyWorld));
        assert_eq!(plan(5, 3, 3).shard(0), Err(SamplerError::RankOutOfWorld { rank: 3, world: 3 }));
        assert_eq!(plan(5, 0, 1).batches(0, 0), Err(SamplerError::EmptyBatch));
    }
}
