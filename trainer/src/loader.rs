//! A multi-threaded batch loader with bounded prefetch and a deterministic order.
//!
//! The reference's loader forked worker processes that passed batches through /dev/shm, and fell
//! back to a single process under a pod's 64 MiB /dev/shm. Threads share memory instead, so
//! there is no such failure mode: `workers` threads claim whole batches in order, and the
//! consumer yields them in that order whatever order they finish in. Workers may run at most
//! `prefetch` batches ahead of the consumer, which bounds memory. With no workers, batches are
//! loaded on the consumer's thread, in the same order.
//!
//! A loading error is yielded in its batch's place; a panic in a worker is a bug and is
//! re-raised in the consumer instead of ending the epoch early.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

type LoadFn<T, E> = dyn Fn(usize) -> Result<T, E> + Send + Sync;
/// A loaded batch with its position in the epoch.
type Numbered<T, E> = (usize, Result<Vec<T>, E>);

/// Iterates over the batches of an epoch, each the loaded items of one list of indices.
pub struct Loader<T, E> {
    batches: Arc<Vec<Vec<usize>>>,
    load: Arc<LoadFn<T, E>>,
    next: usize,
    pending: BTreeMap<usize, Result<Vec<T>, E>>,
    rx: Option<Receiver<Numbered<T, E>>>,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    next_claim: usize,
    consumed: usize,
    stop: bool,
    panicked: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sets `panicked` and wakes everyone if a worker unwinds.
struct PanicFlag(Arc<Shared>);

impl Drop for PanicFlag {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut s = self.0.lock();
            s.panicked = true;
            s.stop = true;
            self.0.wake.notify_all();
        }
    }
}

impl<T: Send + 'static, E: Send + 'static> Loader<T, E> {
    /// Starts loading `batches` (lists of sample indices) with `workers` threads (0: on the
    /// caller's thread), at most `prefetch` batches ahead (at least 1).
    pub fn new(
        batches: Vec<Vec<usize>>,
        workers: usize,
        prefetch: usize,
        load: impl Fn(usize) -> Result<T, E> + Send + Sync + 'static,
    ) -> Loader<T, E> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { next_claim: 0, consumed: 0, stop: false, panicked: false }),
            wake: Condvar::new(),
        });
        let batches = Arc::new(batches);
        let load: Arc<LoadFn<T, E>> = Arc::new(load);
        let mut loader = Loader {
            batches,
            load,
            next: 0,
            pending: BTreeMap::new(),
            rx: None,
            shared,
            workers: Vec::new(),
        };
        if workers > 0 {
            let (tx, rx) = channel();
            for _ in 0..workers {
                let (tx, shared) = (tx.clone(), loader.shared.clone());
                let (batches, load) = (loader.batches.clone(), loader.load.clone());
                let prefetch = prefetch.max(1);
                loader
                    .workers
                    .push(std::thread::spawn(move || work(&shared, &batches, &*load, prefetch, &tx)));
            }
            loader.rx = Some(rx);
        }
        loader
    }

    /// The number of batches in the epoch.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// Whether the epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

fn work<T, E>(
    shared: &Arc<Shared>,
    batches: &[Vec<usize>],
    load: &LoadFn<T, E>,
    prefetch: usize,
    tx: &Sender<Numbered<T, E>>,
) {
    let _flag = PanicFlag(shared.clone());
    loop {
        let claimed = {
            let mut s = shared.lock();
            while !s.stop && s.next_claim < batches.len() && s.next_claim >= s.consumed + prefetch {
                s = shared.wake.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            if s.stop || s.next_claim >= batches.len() {
                return;
            }
            s.next_claim += 1;
            s.next_claim - 1
        };
        let batch = batches[claimed].iter().map(|&i| load(i)).collect();
        if tx.send((claimed, batch)).is_err() {
            return;
        }
    }
}

impl<T, E> Iterator for Loader<T, E> {
    type Item = Result<Vec<T>, E>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.batches.len() {
            return None;
        }
        let Some(rx) = &self.rx else {
            let batch = self.batches[self.next].iter().map(|&i| (self.load)(i)).collect();
            self.next += 1;
            return Some(batch);
        };
        loop {
            if let Some(batch) = self.pending.remove(&self.next) {
                self.next += 1;
                self.shared.lock().consumed = self.next;
                self.shared.wake.notify_all();
                return Some(batch);
            }
            match rx.recv() {
                Ok((index, batch)) => {
                    self.pending.insert(index, batch);
                }
                Err(_) => panic!("a data loader worker panicked"),
            }
        }
    }
}

impl<T, E> Drop for Loader<T, E> {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn batches(n: usize, size: usize) -> Vec<Vec<usize>> {
        (0..n).map(|b| (b * size..(b + 1) * size).collect()).collect()
    }

    #[test]
    fn batches_come_in_order_whatever_the_workers_timing() {
        let expected: Vec<Vec<usize>> =
            batches(20, 3).iter().map(|b| b.iter().map(|i| i * 10).collect()).collect();
        for workers in [0, 1, 4] {
            let loader = Loader::new(batches(20, 3), workers, 3, |i: usize| {
                // Later samples finish sooner, to shuffle completion order.
                std::thread::sleep(Duration::from_micros(((60 - i) % 7) as u64 * 200));
                Ok::<_, ()>(i * 10)
            });
            assert_eq!(loader.len(), 20);
            let got: Vec<Vec<usize>> = loader.map(Result::unwrap).collect();
            assert_eq!(got, expected, "{workers} workers");
        }
    }

    #[test]
    fn workers_stay_within_the_prefetch_bound() {
        let loaded = Arc::new(AtomicUsize::new(0));
        let counter = loaded.clone();
        let mut loader = Loader::new(batches(50, 1), 4, 2, move |i| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(i)
        });
        assert_eq!(loader.next(), Some(Ok(vec![0])));
        std::thread::sleep(Duration::from_millis(100));
        // One consumed, at most two ahead.
        assert!(loaded.load(Ordering::SeqCst) <= 3, "{}", loaded.load(Ordering::SeqCst));
        drop(loader); // stops and joins the workers
    }

    #[test]
    fn errors_are_yielded_in_their_batch_place() {
        let loader =
            Loader::new(batches(4, 2), 2, 2, |i| if i == 5 { Err(format!("bad {i}")) } else { Ok(i) });
        let got: Vec<Result<Vec<usize>, String>> = loader.collect();
        assert_eq!(got, vec![Ok(vec![0, 1]), Ok(vec![2, 3]), Err("bad 5".into()), Ok(vec![6, 7])]);
    }

    #[test]
    #[should_panic(expected = "a data loader worker panicked")]
    fn a_worker_panic_reaches_the_consumer() {
        let loader =
            Loader::new(batches(4, 1), 2, 2, |i| if i == 2 { panic!("bug") } else { Ok::<_, ()>(i) });
        for _ in loader {}
    }
}
