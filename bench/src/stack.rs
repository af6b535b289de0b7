//! The generated stacks: N `lanestack_data` resources in a chain.
//!
//! Each resource has a small nested `input` and refers to its predecessor's `id`, so the stack
//! exercises the parser, the reference graph and evaluation at scale. The chain is deliberately
//! a worst case for parallelism: every resource depends on the one before.

use std::fmt::Write as _;

/// The number of distinct `shard` tags, so tags repeat the way real ones do.
const SHARDS: usize = 16;

/// The HCL text of a stack of `n` chained `lanestack_data` resources named `r0` .. `r{n-1}`.
pub fn generate(n: usize) -> String {
    let mut out = String::with_capacity(n * 160);
    for i in 0..n {
        let prev = if i == 0 { "null".to_owned() } else { format!("lanestack_data.r{}.id", i - 1) };
        let shard = i % SHARDS;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "resource \"lanestack_data\" \"r{i}\" {{\n  input = {{\n    index = {i}\n    prev  = {prev}\n    tags  = {{ shard = \"shard-{shard:02}\" }}\n  }}\n}}\n\n"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_n_blocks_each_referring_to_its_neighbour() {
        let text = generate(5);
        assert_eq!(text.matches("resource \"lanestack_data\"").count(), 5);
        assert!(text.contains(
            "resource \"lanestack_data\" \"r0\" {\n  input = {\n    index = 0\n    prev  = null\n"
        ));
        for i in 1..5 {
            assert!(text.contains(&format!("\"r{i}\" {{")), "r{i}");
            assert!(text.contains(&format!("prev  = lanestack_data.r{}.id\n", i - 1)), "r{i}");
        }
        assert!(!text.contains("lanestack_data.r5"));
        assert!(text.contains("tags  = { shard = \"shard-03\" }"));
    }

    #[test]
    fn empty_stack_is_empty() {
        assert_eq!(generate(0), "");
    }
}
