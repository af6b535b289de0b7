//! lanestack-helm's integration tests: Go template semantics, Helm's functions, and the real
//! trident-operator chart.

mod chart;
mod malformed;
mod template;
mod trident;

use std::collections::BTreeMap;

use lanestack_helm::exec::Templates;
use lanestack_helm::value::Val;
use lanestack_helm::yaml_in::parse_document;

/// Renders one template with `data` (YAML) as dot.
pub fn run(src: &str, data: &str) -> Result<String, String> {
    let t = Templates::new();
    let body = t.add("t.yaml", src).map_err(|e| e.to_string())?;
    let dot = match parse_document(data).map_err(|e| e.to_string())? {
        Val::Nil => Val::empty_map(),
        v => v,
    };
    t.execute(&body, dot).map_err(|e| e.to_string())
}

/// Renders, expecting success.
pub fn ok(src: &str, data: &str) -> String {
    run(src, data).unwrap_or_else(|e| panic!("{src:?} failed: {e}"))
}

/// A chart from (path, text) pairs.
pub fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs.iter().map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec())).collect()
}
