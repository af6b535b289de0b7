//! Golden diagnostics: every stack under `tests/broken/<kind>/` (at the repository root) is
//! loaded, checked against a small schema and its dependency graph built, and the diagnostics are rendered the way the CLI
//! renders them (miette, without colours) and compared with the snapshots next to this file.

use std::collections::BTreeMap;
use std::path::Path;

use lanestack_engine::config::{check_against_schemas, load_dir};
use lanestack_engine::graph::DepGraph;
use lanestack_model::{AttrType, Attribute, Block, ProviderSchema, ResourceSchema};

/// Provider `lanestack` with `lanestack_data` (like Terraform's `terraform_data`) and a test
/// type with a required string and a number.
fn providers() -> BTreeMap<String, ProviderSchema> {
    let data = Block::new()
        .attr("input", Attribute::optional(AttrType::Any))
        .attr("triggers_replace", Attribute::optional(AttrType::Any))
        .attr("output", Attribute::computed(AttrType::Any))
        .attr("id", Attribute::computed(AttrType::String));
    let test = Block::new()
        .attr("name", Attribute::required(AttrType::String))
        .attr("size", Attribute::optional(AttrType::Number));
    let mut schema = ProviderSchema::default();
    schema.resources.insert("lanestack_data".into(), ResourceSchema::new("Holds data.", data));
    schema.resources.insert("lanestack_test".into(), ResourceSchema::new("For tests.", test));
    BTreeMap::from([("lanestack".to_owned(), schema)])
}

fn render(dir: &Path) -> (String, usize) {
    let loaded = load_dir(dir);
    let mut diags = loaded.diagnostics;
    diags.extend(check_against_schemas(&loaded.stack, &providers()));
    diags.extend(DepGraph::build(&loaded.stack).1);
    diags.sort();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut out = String::new();
    for d in diags.iter() {
        let report = d.to_report(&loaded.stack.sources);
        if handler.render_report(&mut out, report.as_ref()).is_err() {
            out.push_str("(rendering failed)\n");
        }
        out.push('\n');
    }
    (out, diags.iter().filter(|d| d.is_error()).count())
}

#[test]
fn broken_stacks_render_golden_diagnostics() {
    let root = Path::new("../tests/broken");
    let mut kinds: Vec<_> = std::fs::read_dir(root)
        .expect("the corpus of broken stacks")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    kinds.sort();
    assert!(kinds.len() >= 12, "the corpus has {} stacks", kinds.len());
    for kind in kinds {
        let (text, errors) = render(&root.join(&kind));
        assert!(errors > 0, "{kind}: a broken stack must produce an error");
        insta::assert_snapshot!(kind.clone(), text);
    }
}

#[test]
fn a_missing_directory_is_a_diagnostic() {
    let loaded = load_dir(Path::new("../tests/broken/does-not-exist"));
    assert_eq!(loaded.diagnostics.0.len(), 1);
    assert_eq!(loaded.diagnostics.0[0].code, "lanestack::unreadable_dir");
}
