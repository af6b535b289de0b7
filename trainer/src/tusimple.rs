//! The TuSimple lane data format: files of JSON lines, one frame per line.
//!
//! Ground truth (`label_data_*.json`, `test_label.json`) lines are
//! `{"lanes": [[x, ...], ...], "h_samples": [y, ...], "raw_file": "clips/.../20.jpg"}`: each lane
//! holds one x per h_sample, and `-2` where the lane has no point. Prediction lines carry the same
//! `lanes` and `raw_file` plus `run_time` (milliseconds), as the official evaluator expects.
//!
//! Ground-truth coordinates are integers (they are in every published file, and the generator
//! writes them so); predictions may be fractional. Readers check what the metric and the label
//! generator rely on (one x per h_sample) and report the file and line of the first problem;
//! they never panic, whatever the input.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The x value that marks "no point at this h_sample".
pub const ABSENT: i32 = -2;

/// One ground-truth frame: a line of `label_data_*.json` or `test_label.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelLine {
    /// The lanes, each with one x per entry of `h_samples` ([`ABSENT`] where there is no point).
    pub lanes: Vec<Vec<i32>>,
    /// The image rows at which the lanes are sampled, top to bottom.
    pub h_samples: Vec<i32>,
    /// The frame's path relative to the set's directory (`clips/<dir>/<seq>/20.jpg`).
    pub raw_file: String,
}

/// One predicted frame, in the format the official evaluator reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionLine {
    /// The predicted lanes, each with one x per h_sample of the ground truth (negative: absent).
    pub lanes: Vec<Vec<f64>>,
    /// The rows the lanes are sampled at; informative only (the metric uses the ground truth's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h_samples: Option<Vec<i32>>,
    /// The frame this prediction is for; must match a ground-truth `raw_file`.
    pub raw_file: String,
    /// How long the prediction took, in milliseconds (over 200 scores the frame as missed).
    pub run_time: f64,
}

/// Why a TuSimple JSON-lines file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line is not valid JSON of the expected shape.
    #[error("{}:{line}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The underlying error (with the column).
        source: serde_json::Error,
    },
    /// A line is well-formed JSON but breaks a rule of the format.
    #[error("{}:{line}: {detail}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

/// A record type of a TuSimple JSON-lines file, with the checks a line must pass.
trait Checked {
    fn check(&self) -> Result<(), String>;
}

impl Checked for LabelLine {
    fn check(&self) -> Result<(), String> {
        check_lane_lengths(self.lanes.iter().map(Vec::len), self.h_samples.len())
    }
}

impl Checked for PredictionLine {
    fn check(&self) -> Result<(), String> {
        if !self.run_time.is_finite() || self.run_time < 0.0 {
            return Err(format!("run_time must be a non-negative number, got {}", self.run_time));
        }
        match &self.h_samples {
            Some(h) => check_lane_lengths(self.lanes.iter().map(Vec::len), h.len()),
            None => Ok(()),
        }
    }
}

fn check_lane_lengths(lengths: impl Iterator<Item = usize>, samples: usize) -> Result<(), String> {
    for (i, len) in lengths.enumerate() {
        if len != samples {
            return Err(format!("lane {i} has {len} x values but there are {samples} h_samples"));
        }
    }
    Ok(())
}

/// Parses ground-truth lines; `path` only names the source in errors. Blank lines are skipped.
pub fn parse_labels(text: &str, path: &Path) -> Result<Vec<LabelLine>, FormatError> {
    parse_lines(text, path)
}

/// Parses prediction lines; `path` only names the source in errors. Blank lines are skipped.
pub fn parse_predictions(text: &str, path: &Path) -> Result<Vec<PredictionLine>, FormatError> {
    parse_lines(text, path)
}

/// Reads a ground-truth file (`label_data_*.json`, `test_label.json`).
pub fn read_labels(path: &Path) -> Result<Vec<LabelLine>, FormatError> {
    parse_labels(&read_text(path)?, path)
}

/// Reads a prediction file.
pub fn read_predictions(path: &Path) -> Result<Vec<PredictionLine>, FormatError> {
    parse_predictions(&read_text(path)?, path)
}

/// Renders lines as JSON lines, each ending with a newline, fields in the official order.
pub fn to_json_lines<T: Serialize>(lines: &[T]) -> String {
    let mut out = String::new();
    for line in lines {
        // Serialising these plain structs cannot fail: every key is a string and every number
        // finite (serde_json writes a non-finite f64 as null rather than failing).
        let json = serde_json::to_string(line).unwrap_or_default();
        let _ = writeln!(out, "{json}");
    }
    out
}

/// Writes ground-truth lines to `path`, replacing it.
pub fn write_labels(path: &Path, lines: &[LabelLine]) -> Result<(), FormatError> {
    write_text(path, &to_json_lines(lines))
}

/// Writes prediction lines to `path`, replacing it.
pub fn write_predictions(path: &Path, lines: &[PredictionLine]) -> Result<(), FormatError> {
    write_text(path, &to_json_lines(lines))
}

fn read_text(path: &Path) -> Result<String, FormatError> {
    std::fs::read_to_string(path).map_err(|source| FormatError::Io { path: path.to_path_buf(), source })
}

fn write_text(path: &Path, text: &str) -> Result<(), FormatError> {
    std::fs::write(path, text).map_err(|source| FormatError::Io { path: path.to_path_buf(), source })
}

fn parse_lines<T: DeserializeOwned + Checked>(text: &str, path: &Path) -> Result<Vec<T>, FormatError> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let record: T = serde_json::from_str(raw).map_err(|source| FormatError::Json {
            path: path.to_path_buf(),
            line,
            source,
        })?;
        record.check().map_err(|detail| FormatError::Invalid { path: path.to_path_buf(), line, detail })?;
        out.push(record);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("label_data_0313.json")
    }

    #[test]
    fn round_trips_a_label_line_in_the_official_field_order() {
        let line = LabelLine {
            lanes: vec![vec![-2, 600, 590], vec![700, 720, -2]],
            h_samples: vec![240, 250, 260],
            raw_file: "clips/0313-1/6040/20.jpg".into(),
        };
        let text = to_json_lines(std::slice::from_ref(&line));
        assert_eq!(
            text,
            "{\"lanes\":[[-2,600,590],[700,720,-2]],\"h_samples\":[240,250,260],\
             \"raw_file\":\"clips/0313-1/6040/20.jpg\"}\n"
        );
        assert_eq!(parse_labels(&text, p()).unwrap(), vec![line]);
    }

    #[test]
    fn reports_the_line_of_malformed_json() {
        let text = "{\"lanes\":[],\"h_samples\":[],\"raw_file\":\"a\"}\n\n{\"lanes\": [\n";
        let err = parse_labels(text, p()).unwrap_err().to_string();
        assert!(err.starts_with("label_data_0313.json:3: "), "{err}");
    }

    #[test]
    fn reports_a_lane_whose_length_differs_from_h_samples() {
        let text = "{\"lanes\":[[1,2],[1]],\"h_samples\":[10,20],\"raw_file\":\"a\"}";
        let err = parse_labels(text, p()).unwrap_err().to_string();
        assert_eq!(err, "label_data_0313.json:1: lane 1 has 1 x values but there are 2 h_samples");
    }

    #[test]
    fn rejects_fractional_ground_truth_and_missing_fields() {
        let fractional = "{\"lanes\":[[1.5]],\"h_samples\":[10],\"raw_file\":\"a\"}";
        assert!(parse_labels(fractional, p()).is_err());
        let missing = "{\"lanes\":[[1]],\"raw_file\":\"a\"}";
        let err = parse_labels(missing, p()).unwrap_err().to_string();
        assert!(err.contains("h_samples"), "{err}");
    }

    #[test]
    fn reads_predictions_with_and_without_h_samples() {
        let text = "{\"lanes\":[[1.5,-2]],\"h_samples\":[10,20],\"raw_file\":\"a\",\"run_time\":12}\n\
                    {\"lanes\":[[3,4,5]],\"raw_file\":\"b\",\"run_time\":0.5}\n";
        let preds = parse_predictions(text, Path::new("pred.json")).unwrap();
        assert_eq!(preds.len(), 2);
        assert_eq!(preds[0].lanes[0], vec![1.5, -2.0]);
        assert_eq!(preds[1].h_samples, None);
        let err = parse_predictions("{\"lanes\":[],\"raw_file\":\"a\",\"run_time\":-1}", Path::new("p"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("run_time"), "{err}");
    }

    #[test]
    fn never_panics_on_garbage() {
        let inputs = [
            "\u{0}\u{1}",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "{\"lanes\":[[99999999999999999999]],\"h_samples\":[1],\"raw_file\":\"a\"}",
            "{\"lanes\":null,\"h_samples\":[1],\"raw_file\":\"a\"}",
            "\"just a string\"",
        ];
        for input in inputs {
            assert!(parse_labels(input, p()).is_err(), "{input}");
            assert!(parse_predictions(input, p()).is_err(), "{input}");
        }
        let huge = "{\"lanes\":[],\"raw_file\":\"a\",\"run_time\":1e999}";
        assert!(parse_predictions(huge, p()).is_err());
        let deep = "[".repeat(100_000);
        assert!(parse_labels(&deep, p()).is_err());
    }

    #[test]
    fn reading_a_missing_file_names_it() {
        let err = read_labels(Path::new("/nonexistent/test_label.json")).unwrap_err().to_string();
        assert!(err.starts_with("/nonexistent/test_label.json: "), "{err}");
    }
}
