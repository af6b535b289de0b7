//! Tests of the evaluator, the functions and variable inputs, through stacks loaded from text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lanestack_model::{AttrType, Attribute, Block, BlockAddress, Nesting, Value};

use super::inputs::{InputSource, RawInput, RawValue, load_var_file, resolve_variables};
use super::{Each, Lookup, Scope, eval, eval_body};
use crate::config::{Expr, Stack, load_sources};
use crate::diag::{Diagnostic, Sources};

#[derive(Default)]
struct Tables {
    vars: BTreeMap<String, Value>,
    locals: BTreeMap<String, Value>,
    resources: BTreeMap<BlockAddress, Value>,
}

impl Lookup for Tables {
    fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }
    fn local(&self, name: &str) -> Option<&Value> {
        self.locals.get(name)
    }
    fn resource(&self, addr: &BlockAddress) -> Option<&Value> {
        self.resources.get(addr)
    }
}

fn tables() -> Tables {
    let mut t = Tables::default();
    t.vars.insert("name".into(), Value::from("web"));
    t.vars.insert("n".into(), Value::from(3));
    t.vars.insert("secret".into(), Value::from("hunter2").mark_sensitive());
    t.vars.insert("list".into(), Value::List(vec![Value::from("a"), Value::from("b")]));
    t.vars.insert("tags".into(), Value::object([("env", Value::from("prod")), ("team", Value::from("x"))]));
    t.vars.insert("nothing".into(), Value::Null);
    t.resources.insert(
        BlockAddress::managed("azure_subnet", "anf"),
        Value::object([("id", Value::from("/subnets/anf")), ("cidr", Value::from("10.0.1.0/24"))]),
    );
    t.resources.insert(
        BlockAddress::managed("lanestack_data", "shard"),
        Value::List(vec![
            Value::object([("id", Value::from("s0"))]),
            Value::object([("id", Value::Unknown)]),
        ]),
    );
    t
}

/// Parses `text` as the value of a local and returns it as an expression.
fn expr(text: &str) -> (Expr, Sources) {
    let loaded = load_sources(
        PathBuf::from("."),
        vec![(PathBuf::from("t.hcl"), format!("locals {{\n  x = {text}\n}}\n"))],
    );
    let local =
        loaded.stack.locals.get("x").unwrap_or_else(|| panic!("{text}: {:?}", loaded.diagnostics)).clone();
    (local.value, loaded.stack.sources)
}

fn run_in(text: &str, dir: &Path) -> Result<Value, Diagnostic> {
    let t = tables();
    let key = Value::from("k1");
    let value = Value::from("v1");
    let scope = Scope {
        lookup: &t,
        each: Some(Each { key: &key, value: &value }),
        count_index: Some(2),
        module_dir: dir,
        cwd: dir,
    };
    eval(&expr(text).0, &scope)
}

fn run(text: &str) -> Result<Value, Diagnostic> {
    run_in(text, Path::new("/stack"))
}

fn ok(text: &str) -> Value {
    run(text).unwrap_or_else(|d| panic!("{text}: {d:?}"))
}

fn json(text: &str) -> serde_json::Value {
    ok(text).to_json()
}

fn err(text: &str) -> Diagnostic {
    match run(text) {
        Ok(v) => panic!("{text} evaluated to {v:?}"),
        Err(d) => d,
    }
}

#[test]
fn literals_and_operators() {
    assert_eq!(ok("1 + 2 * 3"), Value::from(7));
    assert_eq!(ok("7 / 2"), Value::from_f64(3.5));
    assert_eq!(ok("7 % 3"), Value::from(1));
    assert_eq!(ok("-var.n"), Value::from(-3));
    assert_eq!(ok("\"5\" + 1"), Value::from(6));
    assert_eq!(ok("var.n > 2 && !false"), Value::from(true));
    assert_eq!(ok("[1, {a = 2}] == [1, {a = 2}]"), Value::from(true));
    assert_eq!(ok("var.nothing == null ? \"none\" : var.nothing.x"), Value::from("none"));
    assert_eq!(json("{ a = 1, \"b-c\" = [true, null] }"), serde_json::json!({"a": 1, "b-c": [true, null]}));
    assert_eq!(err("1 / 0").summary, "Division by zero");
    assert_eq!(err("1 + \"x\"").summary, "Expected a number for `+`");
}

#[test]
fn references_and_traversals() {
    assert_eq!(ok("var.name"), Value::from("web"));
    assert_eq!(ok("var.list[1]"), Value::from("b"));
    assert_eq!(ok("var.tags[\"env\"]"), Value::from("prod"));
    assert_eq!(ok("azure_subnet.anf.id"), Value::from("/subnets/anf"));
    assert_eq!(ok("lanestack_data.shard[0].id"), Value::from("s0"));
    assert_eq!(ok("lanestack_data.shard[1].id"), Value::Unknown);
    assert_eq!(json("lanestack_data.shard[*].id"), serde_json::json!(["s0", null]));
    assert!(ok("lanestack_data.shard[*].id").contains_unknown());
    assert_eq!(ok("lanestack_data.other.id"), Value::Unknown, "not evaluated yet means unknown");
    assert_eq!(ok("local.missing"), Value::Unknown);
    assert_eq!(ok("each.key"), Value::from("k1"));
    assert_eq!(ok("count.index + 1"), Value::from(3));
    assert_eq!(ok("path.module"), Value::from("/stack"));
}

#[test]
fn missing_attribute_points_at_the_reference_with_a_suggestion() {
    let (e, _) = expr("\"${azure_subnet.anf.cidrr}\"");
    let t = tables();
    let scope = Scope::new(&t, Path::new("."), Path::new("."));
    let d = eval(&e, &scope).unwrap_err();
    assert_eq!(d.summary, "Unsupported attribute `cidrr`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `cidr`?"));
    assert_eq!(d.span, Some(e.refs[0].span.clone()));
    assert_ne!(d.span, Some(e.span.clone()));
    assert_eq!(err("var.list[5]").summary, "Index out of range");
    assert_eq!(err("var.name.x").summary, "Cannot read `x` from a string");
}

#[test]
fn unknown_propagates() {
    assert_eq!(ok("lanestack_data.shard[1].id + 1"), Value::Unknown);
    assert_eq!(ok("\"id-${lanestack_data.shard[1].id}\""), Value::Unknown);
    assert_eq!(ok("upper(lanestack_data.shard[1].id)"), Value::Unknown);
    assert_eq!(ok("lanestack_data.shard[1].id == \"x\" ? 1 : 2"), Value::Unknown);
    assert_eq!(ok("true ? 1 : lanestack_data.shard[1].id"), Value::from(1));
    assert_eq!(ok("length(lanestack_data.shard)"), Value::from(2), "length of a list of unknowns is known");
    assert_eq!(ok("[for s in lanestack_data.other : s]"), Value::Unknown);
}

#[test]
fn sensitivity_is_contagious() {
    let v = ok("\"pw=${var.secret}\"");
    assert!(v.is_sensitive());
    assert_eq!(v.unmark(), Value::from("pw=hunter2"));
    assert!(ok("upper(var.secret)").is_sensitive());
    assert!(ok("var.secret == \"x\"").is_sensitive());
    assert!(ok("{ a = var.secret }").contains_sensitive());
    assert!(ok("length(var.secret)").is_sensitive());
    assert!(!ok("var.name").contains_sensitive());
}

#[test]
fn templates_and_for_expressions() {
    assert_eq!(ok("\"${var.name}-${var.n}-${true}\""), Value::from("web-3-true"));
    assert_eq!(ok("\"%{ if var.n > 2 }big%{ else }small%{ endif }\""), Value::from("big"));
    assert_eq!(ok("\"%{ for s in var.list }[${s}]%{ endfor }\""), Value::from("[a][b]"));
    assert_eq!(ok("\"a  %{~ if true ~}  b  %{~ endif ~}  c\""), Value::from("abc"));
    assert_eq!(ok("\"$${literal}\""), Value::from("${literal}"));
    assert_eq!(err("\"x${var.list}\"").summary, "Cannot use a list as a template interpolation");
    assert_eq!(err("\"x${var.nothing}\"").summary, "Cannot use a null as a template interpolation");
    assert_eq!(json("[for s in var.list : upper(s)]"), serde_json::json!(["A", "B"]));
    assert_eq!(json("[for i, s in var.list : \"${i}${s}\" if s != \"a\"]"), serde_json::json!(["1b"]));
    assert_eq!(json("{for k, v in var.tags : v => k}"), serde_json::json!({"prod": "env", "x": "team"}));
    assert_eq!(
        json("{for s in [\"a\", \"b\", \"a\"] : s => s...}"),
        serde_json::json!({"a": ["a", "a"], "b": ["b"]})
    );
    assert_eq!(err("{for s in [\"a\", \"a\"] : s => s}").summary, "Duplicate key in a `for` expression");
    let heredoc = ok("<<-EOT\n    hello ${var.name}\n      indented\n    EOT\n");
    assert_eq!(heredoc, Value::from("hello web\n  indented\n"));
}

#[test]
fn functions() {
    assert_eq!(ok("join(\",\", var.list)"), Value::from("a,b"));
    assert_eq!(json("split(\",\", \"a,b,,c\")"), serde_json::json!(["a", "b", "", "c"]));
    assert_eq!(
        json("merge(var.tags, {team = \"y\"}, null)"),
        serde_json::json!({"env": "prod", "team": "y"})
    );
    assert_eq!(ok("lookup(var.tags, \"nope\", \"d\")"), Value::from("d"));
    assert_eq!(json("concat(var.list, [\"c\"])"), serde_json::json!(["a", "b", "c"]));
    assert_eq!(ok("length(\"héllo\")"), Value::from(5));
    assert_eq!(json("keys(var.tags)"), serde_json::json!(["env", "team"]));
    assert_eq!(json("values(var.tags)"), serde_json::json!(["prod", "x"]));
    assert_eq!(ok("contains(var.list, \"b\")"), Value::from(true));
    assert_eq!(ok("element(var.list, 3)"), Value::from("b"));
    assert_eq!(ok("coalesce(null, \"\", \"x\")"), Value::from("x"));
    assert_eq!(ok("format(\"%s-%03d\", var.name, 7)"), Value::from("web-007"));
    assert_eq!(ok("substr(\"hello world\", 1, 4)"), Value::from("ello"));
    assert_eq!(ok("substr(\"hello\", -3, -1)"), Value::from("llo"));
    assert_eq!(json("range(3)"), serde_json::json!([0, 1, 2]));
    assert_eq!(json("range(1, 10, 4)"), serde_json::json!([1, 5, 9]));
    assert_eq!(ok("max(1, 5, 3) + min(2, -1) + abs(-2) + ceil(1.2) + floor(1.8)"), Value::from(9));
    assert_eq!(ok("tostring(5)"), Value::from("5"));
    assert_eq!(ok("tonumber(\"2.5\")"), Value::from_f64(2.5));
    assert_eq!(ok("tobool(\"true\")"), Value::from(true));
    assert_eq!(ok("replace(\"a-b-c\", \"-\", \"_\")"), Value::from("a_b_c"));
    assert_eq!(ok("trimspace(\"  x \")"), Value::from("x"));
    assert_eq!(ok("base64decode(base64encode(\"hé\"))"), Value::from("hé"));
    assert_eq!(
        ok("sha256(\"hello\")"),
        Value::from("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
    assert_eq!(ok("jsonencode({b = [1, true], a = \"x\"})"), Value::from(r#"{"a":"x","b":[1,true]}"#));
    assert_eq!(json("jsondecode(\"{\\\"a\\\": [1, 2.5]}\")"), serde_json::json!({"a": [1, 2.5]}));
    assert_eq!(ok("yamlencode({a = [1], b = \"x\"})"), Value::from("a:\n  - 1\nb: x\n"));
    assert_eq!(
        json("yamldecode(\"a: [1, x]\\nb: {c: true}\\n\")"),
        serde_json::json!({"a": [1, "x"], "b": {"c": true}})
    );
    assert_eq!(json("yamldecode(yamlencode({a = [1], b = \"x\"}))"), serde_json::json!({"a": [1], "b": "x"}));
    assert_eq!(
        json("yamldecodeall(\"a: 1\\n---\\n---\\nb: 2\\n\")"),
        serde_json::json!([{"a": 1}, {"b": 2}])
    );
    assert_eq!(ok("cidrsubnet(\"10.0.0.0/16\", 8, 2)"), Value::from("10.0.2.0/24"));
    assert_eq!(ok("cidrhost(\"10.0.0.0/24\", 5)"), Value::from("10.0.0.5"));
    assert_eq!(json("concat([[1], [2]]...)"), serde_json::json!([1, 2]));
}

#[test]
fn function_errors_are_diagnostics() {
    let d = err("uppr(\"x\")");
    assert_eq!(d.code, "lanestack::unknown_function");
    assert_eq!(d.hint.as_deref(), Some("did you mean `upper`?"));
    assert!(err("upper()").label.unwrap().contains("takes 1 argument(s), got 0"));
    assert!(err("join(\",\", [[1]])").label.unwrap().contains("cannot convert a list"));
    assert!(err("lookup(var.tags, \"nope\")").label.unwrap().contains("missing"));
    let two = err("yamldecode(\"a: 1\\n---\\nb: 2\\n\")").label.unwrap();
    assert!(two.contains("holds 2 documents") && two.contains("yamldecodeall"), "{two}");
    assert!(err("yamldecode(\"a: [1\")").label.unwrap().contains("invalid YAML: line "));
    assert!(err("uuid()").label.unwrap().contains("no function `uuid`"));
    assert!(err("file(\"does-not-exist.txt\")").label.unwrap().contains("cannot read"));
}

#[test]
fn file_functions_read_relative_to_the_module() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
    std::fs::write(dir.path().join("t.tpl"), "%{ for n in names }${prefix}${n}\n%{ endfor }").unwrap();
    std::fs::write(dir.path().join("bad.tpl"), "${missing}").unwrap();
    assert_eq!(run_in("file(\"a.txt\")", dir.path()).unwrap(), Value::from("hello"));
    assert_eq!(run_in("filebase64(\"a.txt\")", dir.path()).unwrap(), Value::from("aGVsbG8="));
    assert_eq!(
        run_in("filesha256(\"a.txt\")", dir.path()).unwrap(),
        Value::from("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
    let v = run_in("templatefile(\"t.tpl\", { prefix = \"-\", names = var.list })", dir.path()).unwrap();
    assert_eq!(v, Value::from("-a\n-b\n"));
    let d = run_in("templatefile(\"bad.tpl\", {})", dir.path()).unwrap_err();
    assert!(d.label.unwrap().contains("Unknown variable `missing`"));
}

#[test]
fn bodies_follow_the_schema() {
    let schema = Block::new()
        .attr("name", Attribute::required(AttrType::String))
        .attr("size", Attribute::optional(AttrType::Number))
        .attr("password", Attribute::optional(AttrType::String).sensitive())
        .attr("id", Attribute::computed(AttrType::String))
        .block("rule", Nesting::List, Block::new().attr("port", Attribute::required(AttrType::Number)))
        .block("profile", Nesting::Single, Block::new().attr("tier", Attribute::optional(AttrType::String)));
    let text = "resource \"lanestack_x\" \"a\" {\n  name = var.n\n  size = \"big\"\n  password = \"pw\"\n  rule { port = 80 }\n  rule { port = \"443\" }\n}\n";
    let loaded = load_sources(PathBuf::from("."), vec![(PathBuf::from("m.hcl"), text.to_owned())]);
    let r = loaded.stack.resources.values().next().unwrap();
    let t = tables();
    let scope = Scope::new(&t, Path::new("."), Path::new("."));
    let (v, diags) = eval_body(&r.body, &schema, &scope);
    assert_eq!(diags.0.len(), 1, "{diags:?}");
    assert_eq!(diags.0[0].code, "lanestack::type_mismatch");
    assert!(v.get(&"password".parse().unwrap()).unwrap().is_sensitive());
    assert_eq!(
        v.unmark().to_json(),
        serde_json::json!({"name": "3", "size": null, "password": "pw", "id": null, "rule": [{"port": 80}, {"port": 443}], "profile": null})
    );
}

fn stack(text: &str) -> Stack {
    let loaded = load_sources(PathBuf::from("."), vec![(PathBuf::from("v.hcl"), text.to_owned())]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    loaded.stack
}

fn flag(name: &str, text: &str) -> RawInput {
    RawInput { name: name.into(), value: RawValue::Text(text.into()), source: InputSource::Flag }
}

const VARS: &str = r#"
variable "region" {
  type = string
  validation {
    condition     = length(var.region) > 2
    error_message = "region is too short"
  }
}
variable "zones" {
  type    = list(number)
  default = [1, 2]
}
variable "password" {
  type      = string
  sensitive = true
  default   = "pw"
}
variable "strict" {
  type     = string
  nullable = false
  default  = "x"
}
"#;

#[test]
fn variables_follow_precedence_and_types() {
    let s = stack(VARS);
    let mut sources = Sources::default();
    let (file_inputs, d) = load_var_file(
        "a.lsvars".into(),
        "region = \"from-file\"\nzones = [\"3\"]\nextra = 1\n",
        &mut sources,
    );
    assert!(d.is_empty());
    let env = RawInput {
        name: "region".into(),
        value: RawValue::Text("from-env".into()),
        source: InputSource::Env,
    };
    let mut inputs = vec![flag("region", "flag-1"), env];
    inputs.extend(file_inputs);
    inputs.push(flag("region", "flag-2"));
    let (values, diags) = resolve_variables(&s, &inputs);
    assert_eq!(values["region"], Value::from("flag-2"));
    assert_eq!(values["zones"], Value::List(vec![Value::from(3)]), "file value converted to list(number)");
    assert!(values["password"].is_sensitive());
    assert_eq!(diags.0.len(), 1, "{diags:?}");
    assert_eq!(diags.0[0].severity, crate::diag::Severity::Warning);
    assert!(diags.0[0].summary.contains("extra"));
}

#[test]
fn variable_problems_are_diagnostics() {
    let s = stack(VARS);
    let (values, diags) = resolve_variables(&s, &[]);
    assert!(!values.contains_key("region"));
    let missing: Vec<_> = diags.iter().filter(|d| d.code == "lanestack::missing_variable").collect();
    assert_eq!(missing.len(), 1);
    assert!(missing[0].hint.as_deref().unwrap().contains("--var region=..."));

    let (_, diags) = resolve_variables(
        &s,
        &[flag("region", "ab"), flag("zones", "[1, \"x\"]"), flag("strict", "null"), flag("regoin", "x")],
    );
    let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"lanestack::validation_failed"), "{codes:?}");
    assert!(codes.contains(&"lanestack::invalid_variable_value"), "{codes:?}");
    assert!(codes.contains(&"lanestack::undeclared_variable"), "{codes:?}");
    let failed = diags.iter().find(|d| d.code == "lanestack::validation_failed").unwrap();
    assert_eq!(failed.label.as_deref(), Some("region is too short"));
    let undeclared = diags.iter().find(|d| d.code == "lanestack::undeclared_variable").unwrap();
    assert!(undeclared.is_error());
    assert_eq!(undeclared.hint.as_deref(), Some("did you mean `region`?"));

    let (_, diags) = resolve_variables(&s, &[flag("region", "abc"), flag("zones", "[1,")]);
    assert_eq!(diags.0.len(), 1, "{diags:?}");
    assert!(diags.0[0].detail.as_deref().unwrap().contains("--var zones=..."));

    let (values, diags) = resolve_variables(&s, &[flag("region", "abc"), flag("strict", "null")]);
    // `strict` is a string, so `null` from the command line is the text "null".
    assert_eq!(values["strict"], Value::from("null"));
    assert!(diags.is_empty());
}

#[test]
fn var_files_reject_blocks_and_syntax_errors() {
    let mut sources = Sources::default();
    let (inputs, d) = load_var_file("b.lsvars".into(), "a = 1\nblock {}\n", &mut sources);
    assert_eq!(inputs.len(), 1);
    assert_eq!(d.0[0].code, "lanestack::var_file_block");
    let (_, d) = load_var_file("c.lsvars".into(), "a = \n", &mut sources);
    assert_eq!(d.0[0].code, "lanestack::syntax_error");
}
