//! Interruption (Ctrl-C): nothing new starts, steps in flight finish and are recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lanestack_engine::Providers;
use lanestack_engine::apply::{self, ApplyInputs};
use lanestack_engine::config;
use lanestack_engine::graph::DepGraph;
use lanestack_model::{
    Action, ApplyRequest, BoxFuture, DataRequest, PlanRequest, PlanResponse, Provider, ProviderError,
    ProviderSchema, ReadRequest, Value,
};

use crate::fake::FakeProvider;
use crate::harness::Harness;

/// Delegates to the fake, and raises the interrupt flag when it applies one address, as a
/// user pressing Ctrl-C while that step is in flight.
struct InterruptOn {
    inner: Arc<FakeProvider>,
    flag: Arc<AtomicBool>,
    address: String,
}

impl Provider for InterruptOn {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn schema(&self) -> &ProviderSchema {
        self.inner.schema()
    }
    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.inner.configure(config)
    }
    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        self.inner.plan(request)
    }
    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        if request.address.to_string() == self.address {
            self.flag.store(true, Ordering::SeqCst);
        }
        self.inner.apply(request)
    }
    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        self.inner.read(request)
    }
    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        self.inner.read_data(request)
    }
}

#[test]
fn an_interrupt_finishes_the_step_in_flight_and_starts_nothing_new() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let h = Harness::new(
            r#"
resource "fake_thing" "a" {
  name = "a"
}

resource "fake_thing" "b" {
  name = "b-${fake_thing.a.id}"
}

resource "fake_thing" "c" {
  name = "c-${fake_thing.b.id}"
}
"#,
        );
        let plan = h.plan().await;
        let flag = Arc::new(AtomicBool::new(false));
        let interrupting =
            InterruptOn { inner: h.fake.clone(), flag: flag.clone(), address: "fake_thing.b".to_owned() };
        let providers = Providers::new().with(Arc::new(interrupting));
        let loaded = config::load_sources(plan.dir.clone(), plan.sources.clone());
        let (graph, _) = DepGraph::build(&loaded.stack);
        let mut store = h.store();
        let inputs = ApplyInputs {
            stack: &loaded.stack,
            graph: &graph,
            providers: &providers,
            cwd: h.dir.path(),
            parallelism: 4,
        };
        let report = apply::apply(inputs, &plan, &mut store, &flag, &mut |_| {}).await.unwrap();
        assert!(report.cancelled);
        assert_eq!(
            report.done.iter().map(|(a, _)| a.to_string()).collect::<Vec<_>>(),
            ["fake_thing.a", "fake_thing.b"],
            "the step in flight finished"
        );
        assert_eq!(report.not_done, [("fake_thing.c".parse().unwrap(), Action::Create)]);
        drop(store);
        let state = h.state();
        assert_eq!(
            state.resources.keys().map(ToString::to_string).collect::<Vec<_>>(),
            ["fake_thing.a", "fake_thing.b"]
        );
        // The next plan shows exactly what remains.
        let next = h.plan().await;
        assert_eq!(
            next.effective().map(|c| c.change.address.to_string()).collect::<Vec<_>>(),
            ["fake_thing.c"]
        );
    });
}
