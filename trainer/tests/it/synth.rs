//! `lanestack-trainer synth`.

use std::collections::BTreeMap;
use std::path::Path;

use lanestack_trainer::synth::{self, Split};
use lanestack_trainer::tusimple;

use crate::support::{run, stderr};

/// Every file under `root`, by relative path, with its bytes.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_same_seed_writes_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    for (name, seed) in [("a", "7"), ("b", "7"), ("c", "8")] {
        let out =
            run(dir.path(), &["synth", "--out", name, "--frames", "2", "--test-frames", "1", "--seed", seed]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (a, b, c) =
        (files(&dir.path().join("a")), files(&dir.path().join("b")), files(&dir.path().join("c")));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        vec![
            "test_set/clips/0530/1/20.jpg",
            "test_set/test_label.json",
            "train_set/clips/0313-1/1/20.jpg",
            "train_set/clips/0313-1/2/20.jpg",
            "train_set/label_data_0313.json",
            "train_set/label_data_0601.json",
        ]
    );
    assert!(a == b, "two runs with seed 7 differ");
    assert_ne!(a["train_set/clips/0313-1/1/20.jpg"], c["train_set/clips/0313-1/1/20.jpg"]);
    assert_ne!(a["test_set/test_label.json"], c["test_set/test_label.json"]);
}

#[test]
fn written_labels_are_the_model_sampled_at_the_h_samples() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(dir.path(), &["synth", "--out", ".", "--frames", "8", "--test-frames", "1", "--seed", "11"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for split in Split::ALL {
        let path = dir.path().join(split.set_dir()).join(split.label_file());
        let labels = tusimple::read_labels(&path).unwrap();
        assert_eq!(labels.len(), if split == Split::Train0313 { 7 } else { 1 });
        for (i, label) in labels.iter().enumerate() {
            assert_eq!(label.h_samples, split.h_samples());
            assert!((2..=5).contains(&label.lanes.len()));
            assert!(dir.path().join(split.set_dir()).join(&label.raw_file).is_file());
            let scene = synth::frame(11, split, i).scene;
            for (lane, xs) in scene.lanes.iter().zip(&label.lanes) {
                for (&y, &x) in label.h_samples.iter().zip(xs) {
                    if x >= 0 {
                        let model = scene.x_at(lane, f64::from(y)).unwrap();
                        assert!((f64::from(x) - model).abs() <= 0.5, "{y}: {x} vs {model}");
                    }
                }
            }
        }
    }
}
