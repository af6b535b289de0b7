//! Tests of loading, reference extraction and schema checks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lanestack_model::{
    AttrType, Attribute, Block, BlockAddress, Mode, Nesting, ProviderSchema, ResourceSchema,
};

use super::{IgnoreChanges, Loaded, RefTarget, check_against_schemas, load_dir, load_sources};

fn load(text: &str) -> Loaded {
    load_sources(PathBuf::from("."), vec![(PathBuf::from("main.hcl"), text.to_owned())])
}

fn codes(l: &Loaded) -> Vec<&'static str> {
    l.diagnostics.iter().map(|d| d.code).collect()
}

const GOOD: &str = r#"
variable "region" {
  type        = string
  default     = "westeurope"
  description = "Where."
}

variable "zones" {
  type = list(object({ name = string, size = optional(number) }))
  default = []
  sensitive = true
  nullable = false
}

locals {
  prefix = "web-${var.region}"
  names  = [for z in var.zones : "${local.prefix}-${z.name}"]
}

locals {
  count_of = length(local.names)
}

provider "lanestack" {
  endpoint = "http://localhost"
}

data "lanestack_lookup" "base" {
  key = local.prefix
}

resource "lanestack_data" "shard" {
  count = local.count_of
  input = {
    name = local.names[count.index]
    base = data.lanestack_lookup.base.value
    dir  = path.module
  }
  depends_on = [data.lanestack_lookup.base]
  lifecycle {
    prevent_destroy       = true
    create_before_destroy = true
    ignore_changes        = [input.name, triggers_replace["a.b"], input[0]]
    replace_triggered_by  = [lanestack_data.keyed.id]
  }
}

resource "lanestack_data" "keyed" {
  for_each = toset(var.zones[*].name)
  input    = "${each.key}=${each.value}"
  lifecycle {
    ignore_changes = all
  }
}

output "ids" {
  value       = lanestack_data.shard[*].id
  description = "The ids."
  sensitive   = true
  depends_on  = [lanestack_data.keyed]
}
"#;

#[test]
fn a_good_stack_loads_completely() {
    let l = load(GOOD);
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    let s = &l.stack;
    assert_eq!(s.variables.len(), 2);
    let zones = &s.variables["zones"];
    assert!(zones.sensitive && !zones.nullable);
    assert_eq!(zones.ty.as_ref().unwrap().to_string(), "list(object({name = string, size = number}))");
    assert_eq!(s.variables["region"].description.as_deref(), Some("Where."));
    assert_eq!(s.locals.len(), 3);
    assert_eq!(s.providers["lanestack"].body.attrs[0].name, "endpoint");
    let shard = &s.resources[&BlockAddress::managed("lanestack_data", "shard")];
    assert!(shard.count.is_some() && shard.for_each.is_none());
    assert_eq!(shard.depends_on.len(), 1);
    assert_eq!(
        shard.depends_on[0].target,
        RefTarget::Resource(BlockAddress {
            mode: Mode::Data,
            type_name: "lanestack_lookup".into(),
            name: "base".into()
        })
    );
    assert!(shard.lifecycle.prevent_destroy && shard.lifecycle.create_before_destroy);
    let IgnoreChanges::Paths(paths) = &shard.lifecycle.ignore_changes else { panic!("paths expected") };
    let paths: Vec<String> = paths.iter().map(ToString::to_string).collect();
    assert_eq!(paths, ["input.name", "triggers_replace[\"a.b\"]", "input[0]"]);
    assert_eq!(shard.lifecycle.replace_triggered_by.len(), 1);
    let keyed = &s.resources[&BlockAddress::managed("lanestack_data", "keyed")];
    assert_eq!(keyed.lifecycle.ignore_changes, IgnoreChanges::All);
    assert!(s.outputs["ids"].sensitive);
    assert_eq!(s.outputs["ids"].depends_on.len(), 1);
}

#[test]
fn references_have_exact_spans_and_skip_for_variables() {
    let l = load(GOOD);
    let text = &l.stack.sources.get(super::super::diag::FileId(0)).text;
    let names = &l.stack.locals["names"].value;
    let found: Vec<(&RefTarget, &str)> =
        names.refs.iter().map(|r| (&r.target, &text[r.span.range.clone()])).collect();
    assert_eq!(
        found,
        [
            (&RefTarget::Var("zones".into()), "var.zones"),
            (&RefTarget::Local("prefix".into()), "local.prefix")
        ]
    );
    let shard = &l.stack.resources[&BlockAddress::managed("lanestack_data", "shard")];
    let spans: Vec<&str> = shard.body.refs().map(|r| &text[r.span.range.clone()]).collect();
    assert_eq!(
        spans,
        ["local.names[count.index]", "count.index", "data.lanestack_lookup.base.value", "path.module"]
    );
    let base = shard.body.refs().find(|r| matches!(r.target, RefTarget::Resource(_))).unwrap();
    assert_eq!(base.path, ["value"]);
}

#[test]
fn reference_rules_are_enforced() {
    let l = load(
        r#"
variable "a" {
  default = 1
  validation {
    condition     = var.a > local.min
    error_message = "too small"
  }
}
locals {
  x = each.key
  y = count.index
  z = self.id
  w = var.b
  v = lanestack_data.nope.id
  u = bogus.thing
  t = var
}
resource "lanestack_data" "r" {
  for_each = { a = each.key }
  input    = count.index
}
"#,
    );
    let c = codes(&l);
    assert_eq!(c.iter().filter(|c| **c == "lanestack::each_outside_for_each").count(), 2, "{c:?}");
    assert_eq!(c.iter().filter(|c| **c == "lanestack::count_outside_count").count(), 2, "{c:?}");
    assert_eq!(c.iter().filter(|c| **c == "lanestack::undefined_reference").count(), 2, "{c:?}");
    assert!(c.contains(&"lanestack::invalid_self"), "{c:?}");
    assert!(c.contains(&"lanestack::invalid_validation_reference"), "{c:?}");
    assert_eq!(c.iter().filter(|c| **c == "lanestack::invalid_reference").count(), 2, "{c:?}");
}

#[test]
fn block_problems_are_collected() {
    let l = load(
        r#"
variable "a" "b" {}
variable "c" {
  typo = 1
  type = list(strng)
}
variable "c" {}
locals {
  x = 1
}
locals {
  x = 2
}
output "o" {
  value = 1
  sensitive = "yes"
}
resource "lanestack_data" "r" {
  count = 1
  depends_on = lanestack_data.q
  lifecycle {}
  lifecycle {}
}
resource "lanestack_data" "q" {
  for_each = {}
  count = 1
}
data "lanestack_data" "d" {
  lifecycle {}
}
x = 1
"#,
    );
    let c = codes(&l);
    for want in [
        "lanestack::block_labels",
        "lanestack::unknown_argument",
        "lanestack::invalid_type",
        "lanestack::duplicate",
        "lanestack::expected_literal",
        "lanestack::invalid_depends_on",
        "lanestack::duplicate_block",
        "lanestack::count_and_for_each",
        "lanestack::invalid_meta_argument",
        "lanestack::top_level_attribute",
    ] {
        assert!(c.contains(&want), "{want} missing from {c:?}");
    }
    assert_eq!(c.iter().filter(|c| **c == "lanestack::duplicate").count(), 2, "{c:?}");
    let dup = l.diagnostics.iter().find(|d| d.code == "lanestack::duplicate").unwrap();
    assert_eq!(dup.related.len(), 1, "both places are named");
    assert!(l.stack.locals.contains_key("x"), "the first declaration is kept");
    let q = &l.stack.resources[&BlockAddress::managed("lanestack_data", "q")];
    assert!(q.for_each.is_some() && q.count.is_none());
}

#[test]
fn files_are_loaded_in_name_order_and_problems_reported_per_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.hcl"), "resource \"lanestack_data\" \"x\" {}\n").unwrap();
    std::fs::write(dir.path().join("a.hcl"), "resource \"lanestack_data\" \"x\" {}\n").unwrap();
    std::fs::write(dir.path().join("c.hcl"), "resource {\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let l = load_dir(dir.path());
    let files: Vec<String> =
        l.stack.sources.iter().map(|(_, f)| f.path.file_name().unwrap().to_string_lossy().into()).collect();
    assert_eq!(files, ["a.hcl", "b.hcl", "c.hcl"]);
    assert_eq!(codes(&l), ["lanestack::duplicate", "lanestack::syntax_error"]);
    let dup = &l.diagnostics.0[0];
    assert_eq!(dup.span.as_ref().unwrap().file.0, 1, "reported at the second file");
    assert_eq!(dup.related[0].0.file.0, 0, "related to the first");

    let empty = tempfile::tempdir().unwrap();
    assert_eq!(codes(&load_dir(empty.path())), ["lanestack::empty_stack"]);
}

#[test]
fn garbled_input_never_panics() {
    // Every prefix, and every prefix with a stray character, of a stack that uses everything.
    let bytes = GOOD.as_bytes();
    for end in (0..bytes.len()).step_by(3) {
        let Ok(prefix) = std::str::from_utf8(&bytes[..end]) else { continue };
        let _ = load(prefix);
        let _ = load(&format!("{prefix}}}{{\"${{"));
        let _ = load(&prefix.replace('=', "").replace('"', "'"));
    }
    let _ = load("\u{feff}\0\u{7f}");
    let _ = load("a = \"${\"");
}

fn providers() -> BTreeMap<String, ProviderSchema> {
    let mut p = ProviderSchema {
        provider: Block::new().attr("endpoint", Attribute::required(AttrType::String)),
        ..Default::default()
    };
    p.resources.insert(
        "lanestack_data".into(),
        ResourceSchema::new(
            "data",
            Block::new()
                .attr("input", Attribute::optional(AttrType::Any))
                .attr("size", Attribute::optional(AttrType::Number))
                .attr("id", Attribute::computed(AttrType::String))
                .block(
                    "rule",
                    Nesting::List,
                    Block::new().attr("port", Attribute::required(AttrType::Number)),
                )
                .block(
                    "profile",
                    Nesting::Single,
                    Block::new().attr("tier", Attribute::optional(AttrType::String)),
                ),
        ),
    );
    p.data_sources.insert(
        "lanestack_lookup".into(),
        ResourceSchema::new("lookup", Block::new().attr("key", Attribute::required(AttrType::String))),
    );
    BTreeMap::from([("lanestack".to_owned(), p)])
}

#[test]
fn schema_checks() {
    let l = load(
        r#"
provider "lanestack" {
  endpont = "x"
}
provider "azure" {}
data "lanestack_lookup" "a" {
  key = 1
}
data "lanestack_data" "b" {}
resource "lanestack_data" "c" {
  size = [1]
  id   = "x"
  input = upper(1)
  rule {
    port = "eighty"
  }
  rule {}
  profile {}
  profile {}
  profil {}
}
"#,
    );
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    let d = check_against_schemas(&l.stack, &providers());
    let c: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(
        c.iter().filter(|c| **c == "lanestack::missing_attribute").count(),
        2,
        "provider endpoint and rule.port: {c:?}"
    );
    assert_eq!(
        c.iter().filter(|c| **c == "lanestack::type_mismatch").count(),
        2,
        "size and port, not key (1 converts) nor input: {c:?}"
    );
    for want in [
        "lanestack::unknown_attribute",
        "lanestack::unknown_provider",
        "lanestack::unknown_resource_type",
        "lanestack::computed_attribute",
        "lanestack::repeated_block",
        "lanestack::unknown_block",
    ] {
        assert!(c.contains(&want), "{want} missing from {c:?}");
    }
    let unknown_type = d.iter().find(|d| d.code == "lanestack::unknown_resource_type").unwrap();
    assert!(unknown_type.summary.contains("data source type"));
    let block = d.iter().find(|d| d.code == "lanestack::unknown_block").unwrap();
    assert_eq!(block.hint.as_deref(), Some("did you mean `profile`?"));
}

#[test]
fn the_span_of_a_path_is_its_value_or_its_block() {
    let text = "resource \"x_thing\" \"a\" {\n  metadata {\n    name = \"Bad_Name\"\n  }\n  rule { n = 1 }\n  rule { n = 2 }\n  data = { k = \"v\" }\n}\n";
    let l = load(text);
    let source = &l.stack.sources.get(super::super::diag::FileId(0)).text;
    let body = &l.stack.resources[&BlockAddress::managed("x_thing", "a")].body;
    let at = |path: &str| body.span_of(&path.parse().unwrap()).map(|s| source[s.range].to_owned());
    assert_eq!(at("metadata.name").as_deref(), Some("\"Bad_Name\""));
    assert_eq!(at("data[\"k\"]").as_deref(), Some("{ k = \"v\" }"));
    assert_eq!(at("rule[1].n").as_deref(), Some("2"));
    assert!(
        at("metadata.uid").unwrap().starts_with("metadata {"),
        "the block, when the attribute is not set"
    );
    assert_eq!(at("nothing"), None);
}
