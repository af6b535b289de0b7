//! The graph walker shared by plan and apply.
//!
//! Each node starts as soon as everything it depends on has finished. Starting a node is
//! synchronous (evaluation happens here, on one task, so the tables of values need no locks);
//! the IO a node needs is returned as a future and runs concurrently on the runtime, at most
//! `parallelism` at a time. A failed node marks everything downstream of it as skipped and lets
//! independent branches finish. Cancellation stops starting nodes and waits for those in flight.
//!
//! Design decision: [`Visitor::before_launch`] runs once per batch of started nodes, before
//! their futures are spawned; apply uses it to make the journal's "step started" entries durable
//! with one fsync per batch rather than one per step.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lanestack_model::BoxFuture;
use tokio::task::JoinSet;

/// What starting a node produced.
pub(crate) enum Started<T> {
    /// The node finished at once (evaluation only); `true` on success.
    Done(bool),
    /// The node needs IO; the future's output goes to [`Visitor::finish`].
    Io(BoxFuture<'static, T>),
}

/// The per-node work of a walk.
pub(crate) trait Visitor {
    /// The output of a node's IO.
    type Io: Send + 'static;
    /// Starts node `n` (its dependencies have all finished successfully).
    fn start(&mut self, n: usize) -> Started<Self::Io>;
    /// Receives the output of node `n`'s IO (or `None` when the task panicked); returns success.
    fn finish(&mut self, n: usize, out: Option<Self::Io>) -> bool;
    /// Runs after a batch of starts, before their IO is launched; `false` fails the batch.
    fn before_launch(&mut self) -> bool {
        true
    }
}

/// How a node ended up after a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeStatus {
    /// Not started: the walk was cancelled first.
    NotStarted,
    /// Finished successfully.
    Done,
    /// Failed.
    Failed,
    /// Not started because something it depends on failed.
    Skipped,
}

/// Walks nodes `0..deps.len()`, where `deps[n]` lists the nodes `n` depends on.
pub(crate) async fn walk<V: Visitor>(
    deps: &[Vec<usize>],
    visitor: &mut V,
    parallelism: usize,
    cancel: &Arc<AtomicBool>,
) -> Vec<NodeStatus> {
    let count = deps.len();
    let mut dependents = vec![Vec::new(); count];
    let mut waiting = vec![0usize; count];
    for (n, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(n);
            waiting[n] += 1;
        }
    }
    let mut status = vec![NodeStatus::NotStarted; count];
    let mut ready: VecDeque<usize> = (0..count).filter(|n| waiting[*n] == 0).collect();
    let mut tasks: JoinSet<(usize, V::Io)> = JoinSet::new();
    let mut running = std::collections::HashMap::new();
    let parallelism = parallelism.max(1);

    loop {
        let mut batch = Vec::new();
        while running.len() + batch.len() < parallelism && !cancel.load(Ordering::SeqCst) {
            let Some(n) = ready.pop_front() else { break };
            match visitor.start(n) {
                Started::Done(ok) => complete(n, ok, &mut status, &dependents, &mut waiting, &mut ready),
                Started::Io(fut) => batch.push((n, fut)),
            }
        }
        if !batch.is_empty() {
            tracing::trace!(batch = batch.len(), running = running.len(), "launching");
            if visitor.before_launch() {
                for (n, fut) in batch {
                    let handle = tasks.spawn(async move { (n, fut.await) });
                    running.insert(handle.id(), n);
                }
            } else {
                for (n, _) in batch {
                    complete(n, false, &mut status, &dependents, &mut waiting, &mut ready);
                }
            }
        }
        if running.is_empty() && (ready.is_empty() || cancel.load(Ordering::SeqCst)) {
            break;
        }
        let Some(joined) = tasks.join_next_with_id().await else { break };
        let (n, out) = match joined {
            Ok((id, (n, out))) => {
                running.remove(&id);
                (n, Some(out))
            }
            Err(e) => match running.remove(&e.id()) {
                Some(n) => (n, None),
                None => continue,
            },
        };
        let ok = visitor.finish(n, out);
        complete(n, ok, &mut status, &dependents, &mut waiting, &mut ready);
    }
    status
}

fn complete(
    n: usize,
    ok: bool,
    status: &mut [NodeStatus],
    dependents: &[Vec<usize>],
    waiting: &mut [usize],
    ready: &mut VecDeque<usize>,
) {
    if ok {
        status[n] = NodeStatus::Done;
        for &d in &dependents[n] {
            waiting[d] -= 1;
            if waiting[d] == 0 && status[d] == NodeStatus::NotStarted {
                ready.push_back(d);
            }
        }
        return;
    }
    status[n] = NodeStatus::Failed;
    let mut stack: Vec<usize> = dependents[n].clone();
    while let Some(d) = stack.pop() {
        if status[d] == NodeStatus::NotStarted {
            status[d] = NodeStatus::Skipped;
            stack.extend(dependents[d].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder {
        started: Vec<usize>,
        fail: Vec<usize>,
        io: bool,
    }

    impl Visitor for Recorder {
        type Io = usize;
        fn start(&mut self, n: usize) -> Started<usize> {
            self.started.push(n);
            if self.io {
                Started::Io(Box::pin(async move { n }))
            } else {
                Started::Done(!self.fail.contains(&n))
            }
        }
        fn finish(&mut self, n: usize, out: Option<usize>) -> bool {
            out == Some(n) && !self.fail.contains(&n)
        }
    }

    fn run(deps: &[Vec<usize>], fail: Vec<usize>, io: bool) -> (Vec<usize>, Vec<NodeStatus>) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut v = Recorder { started: Vec::new(), fail, io };
        let status = rt.block_on(walk(deps, &mut v, 4, &Arc::new(AtomicBool::new(false))));
        (v.started, status)
    }

    #[test]
    fn dependencies_start_first() {
        // 2 -> 1 -> 0 (0 depends on 1, 1 on 2)
        for io in [false, true] {
            let (started, status) = run(&[vec![1], vec![2], vec![]], vec![], io);
            assert_eq!(started, vec![2, 1, 0]);
            assert!(status.iter().all(|s| *s == NodeStatus::Done));
        }
    }

    #[test]
    fn failure_skips_dependents_and_spares_independent_branches() {
        // 1 depends on 0; 3 depends on 1; 2 is independent.
        for io in [false, true] {
            let (started, status) = run(&[vec![], vec![0], vec![], vec![1]], vec![0], io);
            assert!(!started.contains(&1) && !started.contains(&3));
            assert_eq!(
                status,
                vec![NodeStatus::Failed, NodeStatus::Skipped, NodeStatus::Done, NodeStatus::Skipped]
            );
        }
    }

    #[test]
    fn cancellation_starts_nothing() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut v = Recorder { started: Vec::new(), fail: vec![], io: true };
        let status = rt.block_on(walk(&[vec![], vec![0]], &mut v, 4, &Arc::new(AtomicBool::new(true))));
        assert!(v.started.is_empty());
        assert_eq!(status, vec![NodeStatus::NotStarted; 2]);
    }
}
