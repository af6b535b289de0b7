//! The input pipeline end to end on a synthetic set: label files, frames, cached targets,
//! transforms, sharding and the threaded loader.

use std::sync::Arc;

use lanestack_trainer::dataset::{FrameSet, TRAIN_LABEL_FILES};
use lanestack_trainer::loader::Loader;
use lanestack_trainer::rng::Rng;
use lanestack_trainer::sampler::EpochPlan;
use lanestack_trainer::synth::{self, SynthOptions};
use lanestack_trainer::transform::{Sample, Transform};

fn epoch(set: &Arc<FrameSet>, workers: usize, rank: usize) -> Vec<Vec<Sample>> {
    let plan = EpochPlan { len: set.len(), multiplier: 2, shuffle: true, seed: 9, rank, world: 2 };
    let batches = plan.batches(1, 2).unwrap();
    let set = set.clone();
    let transform = Transform::train(64, 36);
    let loader = Loader::new(batches, workers, 2, move |i| {
        set.load(i, &transform, &mut Rng::derive(9, &[1, i as u64]))
    });
    loader.map(|b| b.unwrap()).collect()
}

#[test]
fn threaded_loading_matches_loading_in_line_and_caches_targets() {
    let dir = tempfile::tempdir().unwrap();
    synth::write_dataset(dir.path(), &SynthOptions { train_frames: 3, test_frames: 0, seed: 4 }).unwrap();
    let set = Arc::new(FrameSet::open(&dir.path().join("train_set"), &TRAIN_LABEL_FILES).unwrap());
    assert_eq!(set.len(), 3);
    let inline = epoch(&set, 0, 0);
    // 3 frames x 2 = 6, 3 per rank, in batches of 2 and 1.
    assert_eq!(inline.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1]);
    let sample = &inline[0][0];
    assert_eq!((sample.image.len(), sample.label.len()), (3 * 64 * 36, 64 * 36));
    assert!(sample.label.iter().any(|&v| v != 0));
    assert!(sample.exist.iter().filter(|&&e| e == 1.0).count() >= 2);
    assert_eq!(epoch(&set, 3, 0), inline, "workers change nothing");
    assert_ne!(epoch(&set, 3, 1), inline, "ranks read different samples");
    for label in &set.labels {
        let cached = dir.path().join("train_set/seg_label").join(format!("{}.seglabel", label.raw_file));
        assert!(cached.is_file(), "{}", cached.display());
    }
}
