//! State integrity under random stacks and random failures (as Pulumi fuzzes its engine).
//!
//! Each case evolves a random stack over several applies, injecting failures before or after
//! the cloud acts. After every apply, whatever happened, state and the fake cloud must agree:
//! every live object is recorded (nothing orphaned), every recorded object is live, and no
//! address has two objects (nothing created twice). Once failures stop, one apply converges
//! and the next plan has no changes.

use lanestack_model::ErrorKind;

use crate::harness::Harness;

/// A small deterministic generator (xorshift64*), so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const NAMES: usize = 6;

/// One resource of a random stack.
struct Spec {
    index: usize,
    generation: u64,
    size: u64,
    upstream: Option<usize>,
    create_before_destroy: bool,
}

/// Random resources over `fake_thing.r0..r5`; references only point to lower indexes, so the
/// stack never has a cycle.
fn random_specs(rng: &mut Rng) -> Vec<Spec> {
    let mut specs: Vec<Spec> = Vec::new();
    for index in 0..NAMES {
        if !rng.chance(70) {
            continue;
        }
        let upstream = specs.last().map(|s| s.index).filter(|_| rng.chance(50));
        specs.push(Spec {
            index,
            generation: rng.below(2),
            size: rng.below(3) + 1,
            upstream,
            create_before_destroy: false,
        });
    }
    specs
}

fn render(specs: &[Spec]) -> String {
    let mut text = String::new();
    for s in specs {
        text.push_str(&format!(
            "resource \"fake_thing\" \"r{}\" {{\n  name = \"r{}-{}\"\n  size = {}\n",
            s.index, s.index, s.generation, s.size
        ));
        if let Some(j) = s.upstream {
            text.push_str(&format!("  tags = {{ up = fake_thing.r{j}.id }}\n"));
        }
        if s.create_before_destroy {
            text.push_str("  lifecycle {\n    create_before_destroy = true\n  }\n");
        }
        text.push_str("}\n\n");
    }
    text
}

/// Every live object is recorded, as an address's object or as its deposed one, and every
/// recorded object is live: the multisets of addresses agree.
fn assert_state_matches_cloud(h: &Harness, context: &str) {
    let cloud = h.fake.cloud_addresses();
    let mut recorded: Vec<String> = Vec::new();
    for (addr, rs) in &h.state().resources {
        recorded.push(addr.to_string());
        if rs.deposed.is_some() {
            recorded.push(addr.to_string());
        }
    }
    recorded.sort();
    assert_eq!(recorded, cloud, "{context}: state and cloud disagree");
}

#[test]
fn state_always_records_exactly_what_exists() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for seed in 1..=24u64 {
        rt.block_on(async {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let h = Harness::new("");
            for round in 0..5 {
                let mut specs = random_specs(&mut rng);
                let mut failing = Vec::new();
                for spec in &specs {
                    let addr = format!("fake_thing.r{}", spec.index);
                    if rng.chance(20) {
                        if rng.chance(50) {
                            h.fake.fail_on(&addr, ErrorKind::Transient);
                        } else {
                            h.fake.fail_after_on(&addr, ErrorKind::Transient);
                        }
                        failing.push(addr);
                    }
                }
                // Create-before-destroy only while nothing is tainted: replacing a tainted object
                // create-first under the same name is refused by the cloud, as a real one would
                // (that is why such resources need unique names).
                let tainted = h.state().resources.values().any(|r| r.tainted);
                if !tainted {
                    for spec in &mut specs {
                        spec.create_before_destroy = rng.chance(30);
                    }
                }
                let stack = render(&specs);
                h.write(&stack);
                let context = format!("seed {seed}, round {round}, failing {failing:?}\n{stack}");
                let plan =
                    h.plan_with(Default::default()).await.unwrap_or_else(|d| panic!("{context}: {d:?}"));
                let report = h.apply_plan(&plan).await.unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_state_matches_cloud(
                    &h,
                    &format!("{context}\nplanned {:?}\n{report:?}", crate::harness::actions(&plan)),
                );
                if failing.is_empty() {
                    assert!(report.succeeded(), "{context}: {report:?}");
                }
                for addr in &failing {
                    h.fake.heal(addr);
                }
            }
            // Without failures, one apply converges.
            h.write(&h.read_stack().replace("create_before_destroy = true", "create_before_destroy = false"));
            let (_, report) = h.apply().await;
            assert!(report.succeeded(), "seed {seed}: {report:?}");
            assert_state_matches_cloud(&h, &format!("seed {seed}, converged"));
            assert!(!h.plan().await.has_changes(), "seed {seed}: changes left after converging");
        });
    }
}
