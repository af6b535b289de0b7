//! No input may panic: mangled stacks go through the whole pipeline (load, schema check, graph,
//! evaluation, provider facts, decision) and come out as a plan or as diagnostics.

use lanestack_engine::plan::PlanOptions;

use crate::harness::Harness;

const STACK: &str = r#"
variable "sizes" {
  type    = map(number)
  default = { a = 1, b = 2 }
}

locals {
  names  = [for k, v in var.sizes : "${k}-${v * 2}" if v > 0]
  joined = join(",", local.names)
  picked = length(local.names) > 1 ? element(local.names, 1) : "none"
}

resource "fake_thing" "each" {
  for_each = var.sizes
  name     = format("%s-%03d", each.key, each.value)
  size     = each.value + 1
  tags     = merge({ joined = local.joined }, { picked = upper(local.picked) })
}

resource "fake_thing" "counted" {
  count = 2
  name  = "c${count.index}-${fake_thing.each["a"].id}"
  tags  = { cidr = cidrsubnet("10.0.0.0/16", 8, count.index), sha = substr(sha256(local.joined), 0, 8) }
}

output "ids" {
  value = [for t in fake_thing.counted : t.id]
}
"#;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

const NOISE: &[&str] = &[
    "",
    "}",
    "{",
    "\"",
    "${",
    "[",
    "]",
    "(",
    ")",
    "0",
    "-1",
    "1e400",
    "null",
    "true",
    "?",
    ":",
    ".",
    "*",
    "/",
    "%",
    "each.key",
    "count.index",
    "var.sizes",
    "local.names",
    "fake_thing.each",
    "\n",
    "=",
    "!",
    "&&",
    "...",
];

fn mangle(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(chars.len() + 1);
        match rng.below(3) {
            0 => {
                let end = (at + rng.below(6)).min(chars.len());
                chars.drain(at..end);
            }
            _ => {
                let noise: Vec<char> = NOISE[rng.below(NOISE.len())].chars().collect();
                chars.splice(at..at, noise);
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mangled_stacks_give_plans_or_diagnostics() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let h = Harness::new(STACK);
        let plan = h.plan().await;
        assert_eq!(plan.totals().add, 4, "the unmangled stack plans");
        let mut rng = Rng(0x5EED);
        let (mut planned, mut refused) = (0, 0);
        for _ in 0..400 {
            let text = mangle(&mut rng, STACK);
            h.write(&text);
            match h.plan_with(PlanOptions::default()).await {
                Ok(_) => planned += 1,
                Err(diags) => {
                    assert!(diags.has_errors(), "a refused plan has an error:\n{text}");
                    assert!(diags.iter().all(|d| !d.summary.is_empty()), "{diags:?}");
                    refused += 1;
                }
            }
        }
        assert!(
            planned > 0 && refused > 0,
            "the mangling exercises both outcomes: {planned} planned, {refused} refused"
        );
    });
}
