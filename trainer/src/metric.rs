//! The official TuSimple lane metric: Accuracy, FP and FN.
//!
//! This follows the benchmark's own evaluator line by line, quirks included, so that scores are
//! comparable with published ones (SCNN: 96.53%; harryhan618's port: 94.16%, FP 0.0735,
//! FN 0.0825):
//!
//! - Each ground-truth lane gets a pixel threshold of `20 / cos(theta)`, theta the angle of a
//!   least-squares fit of x over y through its points (0 with fewer than two points).
//! - A predicted lane's accuracy against a ground-truth lane is the fraction of h_samples where
//!   `|pred - gt| < threshold`, negative values on either side counting as -100 (so a point
//!   missing on both sides matches).
//! - Each ground-truth lane takes its best predicted lane; below 0.85 it is a false negative,
//!   otherwise matched. FP = predictions - matched.
//! - With more than 4 ground-truth lanes, the worst accuracy and one false negative are dropped.
//! - A frame predicted in over 200 ms, or with more than `#gt + 2` lanes, scores (0, 0, 1).
//!
//! Set scores are means over the ground-truth frames, every one of which must be predicted.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tusimple::{LabelLine, PredictionLine};

/// The pixel distance at which a point matches, before the slope correction.
pub const PIXEL_THRESHOLD: f64 = 20.0;
/// The fraction of matching points at which a predicted lane matches a ground-truth lane.
pub const MATCH_THRESHOLD: f64 = 0.85;
/// Predictions slower than this (milliseconds) score as missed frames.
pub const MAX_RUN_TIME_MS: f64 = 200.0;

/// The three TuSimple scores, for one frame or the mean over a set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Mean fraction of ground-truth points matched (higher is better).
    #[serde(rename = "Accuracy")]
    pub accuracy: f64,
    /// Rate of predicted lanes matching no ground-truth lane (lower is better).
    #[serde(rename = "FP")]
    pub fp: f64,
    /// Rate of ground-truth lanes matched by no prediction (lower is better).
    #[serde(rename = "FN")]
    pub fn_rate: f64,
}

impl std::fmt::Display for Scores {
    /// The evaluator's summary line: `{"Accuracy": 0.9, "FP": 0.1, "FN": 0.05}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |v: f64| serde_json::Value::from(v).to_string();
        write!(
            f,
            "{{\"Accuracy\": {}, \"FP\": {}, \"FN\": {}}}",
            n(self.accuracy),
            n(self.fp),
            n(self.fn_rate)
        )
    }
}

/// Why a frame or a set could not be scored (the official evaluator refuses these too).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricError {
    /// A lane does not hold one x per h_sample.
    #[error("{frame}: {side} lane {lane} has {found} x values but there are {expected} h_samples")]
    LaneLength {
        /// The frame's raw_file.
        frame: String,
        /// "predicted" or "ground-truth".
        side: &'static str,
        /// The lane's index.
        lane: usize,
        /// The number of h_samples.
        expected: usize,
        /// The lane's length.
        found: usize,
    },
    /// The ground truth has no h_samples, so no accuracy can be defined.
    #[error("{frame}: the ground truth has no h_samples")]
    NoSamples {
        /// The frame's raw_file.
        frame: String,
    },
    /// A prediction names a frame that is not in the ground truth.
    #[error("{frame}: predicted but not in the ground truth")]
    UnknownFrame {
        /// The frame's raw_file.
        frame: String,
    },
    /// A frame is predicted twice.
    #[error("{frame}: predicted more than once")]
    DuplicatePrediction {
        /// The frame's raw_file.
        frame: String,
    },
    /// The ground truth lists a frame twice.
    #[error("{frame}: listed more than once in the ground truth")]
    DuplicateGroundTruth {
        /// The frame's raw_file.
        frame: String,
    },
    /// Frames of the ground truth have no prediction.
    #[error("{missing} ground-truth frames have no prediction, the first {first}")]
    MissingPredictions {
        /// How many.
        missing: usize,
        /// The first of them, in ground-truth order.
        first: String,
    },
    /// The ground truth is empty.
    #[error("the ground truth holds no frame")]
    EmptyGroundTruth,
}

/// Scores one frame. `pred` and `gt` hold one x per entry of `h_samples`; negative x is absent.
/// `frame` only names the frame in errors.
pub fn score_frame(
    pred: &[Vec<f64>],
    gt: &[Vec<f64>],
    h_samples: &[f64],
    run_time_ms: f64,
    frame: &str,
) -> Result<Scores, MetricError> {
    if h_samples.is_empty() {
        return Err(MetricError::NoSamples { frame: frame.to_string() });
    }
    for (side, lanes) in [("predicted", pred), ("ground-truth", gt)] {
        if let Some((lane, l)) = lanes.iter().enumerate().find(|(_, l)| l.len() != h_samples.len()) {
            return Err(MetricError::LaneLength {
                frame: frame.to_string(),
                side,
                lane,
                expected: h_samples.len(),
                found: l.len(),
            });
        }
    }
    if run_time_ms > MAX_RUN_TIME_MS || gt.len() + 2 < pred.len() {
        return Ok(Scores { accuracy: 0.0, fp: 0.0, fn_rate: 1.0 });
    }
    let mut line_accs = Vec::with_capacity(gt.len());
    let mut fn_count = 0.0;
    let mut matched = 0.0;
    for gt_lane in gt {
        let threshold = PIXEL_THRESHOLD / angle(gt_lane, h_samples).cos();
        let best = pred.iter().map(|p| line_accuracy(p, gt_lane, threshold)).fold(0.0, f64::max);
        if best < MATCH_THRESHOLD {
            fn_count += 1.0;
        } else {
            matched += 1.0;
        }
        line_accs.push(best);
    }
    let fp_count = pred.len() as f64 - matched;
    let mut sum: f64 = line_accs.iter().sum();
    if gt.len() > 4 {
        if fn_count > 0.0 {
            fn_count -= 1.0;
        }
        sum -= line_accs.iter().copied().fold(f64::INFINITY, f64::min);
    }
    let gt_counted = (gt.len().min(4) as f64).max(1.0);
    Ok(Scores {
        accuracy: sum / gt_counted,
        fp: if pred.is_empty() { 0.0 } else { fp_count / pred.len() as f64 },
        fn_rate: fn_count / gt_counted,
    })
}

/// Scores a prediction set against its ground truth: the means over the ground-truth frames.
/// Every ground-truth frame must be predicted exactly once, and nothing else.
pub fn score_set(preds: &[PredictionLine], gts: &[LabelLine]) -> Result<Scores, MetricError> {
    if gts.is_empty() {
        return Err(MetricError::EmptyGroundTruth);
    }
    let mut by_file: BTreeMap<&str, &LabelLine> = BTreeMap::new();
    for gt in gts {
        if by_file.insert(gt.raw_file.as_str(), gt).is_some() {
            return Err(MetricError::DuplicateGroundTruth { frame: gt.raw_file.clone() });
        }
    }
    let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
    let mut total = Scores { accuracy: 0.0, fp: 0.0, fn_rate: 0.0 };
    for pred in preds {
        let frame = pred.raw_file.as_str();
        let Some(gt) = by_file.get(frame) else {
            return Err(MetricError::UnknownFrame { frame: frame.to_string() });
        };
        if seen.insert(frame, ()).is_some() {
            return Err(MetricError::DuplicatePrediction { frame: frame.to_string() });
        }
        let gt_lanes: Vec<Vec<f64>> =
            gt.lanes.iter().map(|l| l.iter().map(|&x| f64::from(x)).collect()).collect();
        let ys: Vec<f64> = gt.h_samples.iter().map(|&y| f64::from(y)).collect();
        let s = score_frame(&pred.lanes, &gt_lanes, &ys, pred.run_time, frame)?;
        total.accuracy += s.accuracy;
        total.fp += s.fp;
        total.fn_rate += s.fn_rate;
    }
    if seen.len() < gts.len() {
        let first = gts.iter().find(|g| !seen.contains_key(g.raw_file.as_str())).map(|g| g.raw_file.clone());
        return Err(MetricError::MissingPredictions {
            missing: gts.len() - seen.len(),
            first: first.unwrap_or_default(),
        });
    }
    let n = gts.len() as f64;
    Ok(Scores { accuracy: total.accuracy / n, fp: total.fp / n, fn_rate: total.fn_rate / n })
}

/// The angle of a least-squares line x = k y + c through the lane's points (0 with fewer than
/// two points, or when they all lie on one row).
fn angle(xs: &[f64], ys: &[f64]) -> f64 {
    let points: Vec<(f64, f64)> =
        xs.iter().zip(ys).filter(|(x, _)| **x >= 0.0).map(|(x, y)| (*x, *y)).collect();
    if points.len() < 2 {
        return 0.0;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = points.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let var: f64 = points.iter().map(|(_, y)| (y - mean_y) * (y - mean_y)).sum();
    if var == 0.0 { 0.0 } else { (cov / var).atan() }
}

/// The fraction of samples where the prediction is within `threshold` of the ground truth;
/// absent points (negative) count as -100 on both sides.
fn line_accuracy(pred: &[f64], gt: &[f64], threshold: f64) -> f64 {
    let clamp = |v: f64| if v >= 0.0 { v } else { -100.0 };
    let hits = pred.iter().zip(gt).filter(|(p, g)| (clamp(**p) - clamp(**g)).abs() < threshold).count();
    hits as f64 / gt.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// h_samples 160..710 step 10, as in the test set.
    fn ys() -> Vec<f64> {
        (0..56).map(|i| 160.0 + 10.0 * f64::from(i)).collect()
    }

    /// A straight lane through (x_bottom, 710) with dx/dy = slope, absent above row `top`.
    fn lane(x_bottom: f64, slope: f64, top: f64) -> Vec<f64> {
        ys().iter().map(|&y| if y < top { -2.0 } else { (x_bottom + slope * (y - 710.0)).round() }).collect()
    }

    /// Four lanes through a vanishing point at (640, 100), present on every row and never
    /// within matching distance of each other, so that a missing lane scores exactly 0.
    fn four_lanes() -> Vec<Vec<f64>> {
        [-1.0, -0.4, 0.4, 1.0]
            .iter()
            .map(|s| ys().iter().map(|y| (640.0 + s * (y - 100.0)).round()).collect())
            .collect()
    }

    fn score(pred: &[Vec<f64>], gt: &[Vec<f64>]) -> Scores {
        score_frame(pred, gt, &ys(), 10.0, "f").unwrap()
    }

    fn assert_scores(s: Scores, accuracy: f64, fp: f64, fn_rate: f64) {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(s.accuracy, accuracy) && close(s.fp, fp) && close(s.fn_rate, fn_rate), "{s:?}");
    }

    #[test]
    fn identical_lanes_score_perfectly() {
        let gt = four_lanes();
        assert_scores(score(&gt, &gt), 1.0, 0.0, 0.0);
    }

    #[test]
    fn lanes_shifted_15_px_still_match() {
        let gt = four_lanes();
        let shifted: Vec<Vec<f64>> =
            gt.iter().map(|l| l.iter().map(|&x| if x >= 0.0 { x + 15.0 } else { x }).collect()).collect();
        assert_scores(score(&shifted, &gt), 1.0, 0.0, 0.0);
    }

    #[test]
    fn one_of_four_lanes_dropped_is_a_quarter_false_negative() {
        let gt = four_lanes();
        assert_scores(score(&gt[..3], &gt), 0.75, 0.0, 0.25);
    }

    #[test]
    fn a_spurious_fifth_lane_is_a_fifth_false_positive() {
        let gt = four_lanes();
        let mut pred = gt.clone();
        pred.push(lane(640.0, 0.0, 400.0));
        assert_scores(score(&pred, &gt), 1.0, 0.2, 0.0);
    }

    #[test]
    fn a_vertical_lane_shifted_20_px_misses_but_a_slanted_one_has_a_wider_threshold() {
        let vertical = vec![lane(640.0, 0.0, 160.0)];
        let shifted: Vec<Vec<f64>> = vec![vertical[0].iter().map(|x| x + 20.0).collect()];
        assert_scores(score(&shifted, &vertical), 0.0, 1.0, 1.0);
        // At 45 degrees the threshold is 20 / cos(45) = 28.3 px.
        let slanted = vec![lane(1000.0, 1.0, 160.0)];
        let shifted: Vec<Vec<f64>> = vec![slanted[0].iter().map(|x| x + 28.0).collect()];
        assert_scores(score(&shifted, &slanted), 1.0, 0.0, 0.0);
    }

    #[test]
    fn points_missing_on_both_sides_match_and_on_one_side_do_not() {
        let gt = vec![lane(640.0, 0.0, 440.0)]; // 28 of 56 points present
        let mut pred = gt.clone();
        assert_scores(score(&pred, &gt), 1.0, 0.0, 0.0);
        // Dropping 5 present points leaves 51/56 = 0.91 >= 0.85: still matched.
        for x in pred[0].iter_mut().rev().take(5) {
            *x = -2.0;
        }
        let s = score(&pred, &gt);
        assert!((s.accuracy - 51.0 / 56.0).abs() < 1e-12 && s.fn_rate == 0.0, "{s:?}");
        // Dropping 9 leaves 47/56 = 0.84 < 0.85: a false negative and a false positive.
        for x in pred[0].iter_mut().rev().take(9) {
            *x = -2.0;
        }
        assert_scores(score(&pred, &gt), 47.0 / 56.0, 1.0, 1.0);
    }

    #[test]
    fn more_than_four_ground_truth_lanes_drop_the_worst_and_one_false_negative() {
        // Five parallel lanes on every row, 200 px apart: a missing lane scores exactly 0.
        let gt: Vec<Vec<f64>> = (1..=5).map(|i| lane(200.0 * f64::from(i), 0.0, 160.0)).collect();
        assert_scores(score(&gt, &gt), 1.0, 0.0, 0.0);
        // Missing one of five: the missed lane is the dropped worst, and its FN is forgiven.
        assert_scores(score(&gt[..4], &gt), 1.0, 0.0, 0.0);
        // Missing two of five: one FN remains, over min(5, 4) = 4 lanes.
        let s = score(&gt[..3], &gt);
        assert_scores(s, 3.0 / 4.0, 0.0, 0.25);
    }

    #[test]
    fn slow_frames_and_too_many_lanes_score_as_missed() {
        let gt = four_lanes();
        assert_scores(score_frame(&gt, &gt, &ys(), 200.5, "f").unwrap(), 0.0, 0.0, 1.0);
        assert_scores(score_frame(&gt, &gt, &ys(), 200.0, "f").unwrap(), 1.0, 0.0, 0.0);
        let mut pred = gt.clone();
        pred.push(lane(640.0, 0.0, 400.0));
        pred.push(lane(660.0, 0.0, 400.0));
        assert_eq!(score(&pred, &gt).fn_rate, 0.0); // 6 = 4 + 2 lanes is allowed
        pred.push(lane(680.0, 0.0, 400.0));
        assert_scores(score(&pred, &gt), 0.0, 0.0, 1.0);
    }

    #[test]
    fn empty_frames() {
        assert_scores(score(&[], &[]), 0.0, 0.0, 0.0);
        assert_scores(score(&[lane(640.0, 0.0, 400.0)], &[]), 0.0, 1.0, 0.0);
        assert_scores(score(&[], &[lane(640.0, 0.0, 400.0)]), 0.0, 0.0, 1.0);
    }

    #[test]
    fn malformed_frames_are_errors() {
        let gt = four_lanes();
        let short = vec![vec![1.0; 3]];
        let err = score_frame(&short, &gt, &ys(), 1.0, "clips/a/20.jpg").unwrap_err();
        assert_eq!(
            err.to_string(),
            "clips/a/20.jpg: predicted lane 0 has 3 x values but there are 56 h_samples"
        );
        assert!(matches!(score_frame(&[], &[], &[], 1.0, "f"), Err(MetricError::NoSamples { .. })));
    }

    fn gt_line(file: &str, lanes: &[Vec<f64>]) -> LabelLine {
        LabelLine {
            lanes: lanes.iter().map(|l| l.iter().map(|&x| x as i32).collect()).collect(),
            h_samples: (0..56).map(|i| 160 + 10 * i).collect(),
            raw_file: file.into(),
        }
    }

    fn pred_line(file: &str, lanes: &[Vec<f64>]) -> PredictionLine {
        PredictionLine { lanes: lanes.to_vec(), h_samples: None, raw_file: file.into(), run_time: 5.0 }
    }

    #[test]
    fn set_scores_are_means_over_frames() {
        let four = four_lanes();
        let gts = vec![gt_line("a", &four), gt_line("b", &four)];
        // Predictions may come in any order.
        let preds = vec![pred_line("b", &four[..3]), pred_line("a", &four)];
        let s = score_set(&preds, &gts).unwrap();
        assert_scores(s, (1.0 + 0.75) / 2.0, 0.0, 0.125);
        assert_eq!(s.to_string(), "{\"Accuracy\": 0.875, \"FP\": 0.0, \"FN\": 0.125}");
    }

    #[test]
    fn set_scoring_refuses_unknown_duplicate_and_missing_frames() {
        let four = four_lanes();
        let gts = vec![gt_line("a", &four), gt_line("b", &four)];
        let unknown = vec![pred_line("a", &four), pred_line("c", &four)];
        assert!(matches!(score_set(&unknown, &gts), Err(MetricError::UnknownFrame { .. })));
        let twice = vec![pred_line("a", &four), pred_line("a", &four)];
        assert!(matches!(score_set(&twice, &gts), Err(MetricError::DuplicatePrediction { .. })));
        let missing = vec![pred_line("a", &four)];
        assert_eq!(
            score_set(&missing, &gts).unwrap_err().to_string(),
            "1 ground-truth frames have no prediction, the first b"
        );
        assert_eq!(score_set(&[], &[]), Err(MetricError::EmptyGroundTruth));
    }
}
