//! `lanestack-trainer eval`.

use crate::support::{run, stderr, stdout};

const GT: &str = "{\"lanes\":[[-2,600,590,580],[700,720,740,760]],\"h_samples\":[400,410,420,430],\"raw_file\":\"clips/a/1/20.jpg\"}\n\
                  {\"lanes\":[[100,110,120,130]],\"h_samples\":[400,410,420,430],\"raw_file\":\"clips/a/2/20.jpg\"}\n";

#[test]
fn prints_the_three_scores() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gt.json"), GT).unwrap();
    let pred = "{\"lanes\":[[-2,605,595,585],[700,720,740,760]],\"raw_file\":\"clips/a/1/20.jpg\",\"run_time\":20}\n\
                {\"lanes\":[],\"raw_file\":\"clips/a/2/20.jpg\",\"run_time\":20}\n";
    std::fs::write(dir.path().join("pred.json"), pred).unwrap();
    let out = run(dir.path(), &["eval", "--pred", "pred.json", "--gt", "gt.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"Accuracy\": 0.5, \"FP\": 0.0, \"FN\": 0.5}\n");
}

#[test]
fn names_the_file_and_line_of_a_malformed_prediction() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gt.json"), GT).unwrap();
    std::fs::write(dir.path().join("pred.json"), "{\"lanes\":[],\"raw_file\":\"x\",\"run_time\":1}\n{oops\n")
        .unwrap();
    let out = run(dir.path(), &["eval", "--pred", "pred.json", "--gt", "gt.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error: pred.json:2: "), "{}", stderr(&out));
}

#[test]
fn refuses_predictions_that_miss_frames() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gt.json"), GT).unwrap();
    std::fs::write(dir.path().join("pred.json"), "").unwrap();
    let out = run(dir.path(), &["eval", "--pred", "pred.json", "--gt", "gt.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("2 ground-truth frames have no prediction"), "{}", stderr(&out));
}
