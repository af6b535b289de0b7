//! The processes a run trains in, and the few collective operations data-parallel training
//! needs: a sum over every process (gradients, losses, the loss normaliser) and a broadcast
//! from rank 0 (parameters, batch-norm buffers and optimiser state at the start and on resume).
//!
//! [`Collective`] is the seam: [`Solo`] is a world of one process, where every operation is the
//! identity; [`Mpi`] is a world launched by `mpirun` (Open MPI, or any launcher that sets the
//! PMI variables), through rsmpi. The training loop is written once against the trait, so a
//! single process runs exactly the code a rank of a larger world runs.
//!
//! A rank that stops with an error or a panic while the others wait in a collective would leave
//! them waiting forever; [`Mpi`] therefore turns a panic into `MPI_Abort` (which mpirun turns
//! into the end of every rank), and the binary aborts the world the same way on an error.

use mpi::collective::{CommunicatorCollectives as _, Root as _, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator as _, SimpleCommunicator};

/// A group of processes training one model together.
pub trait Collective {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// The number of processes on this node (for the learning rate's `local` scaling).
    fn local_size(&self) -> usize;
    /// This process's rank among those on its node (which GPU it takes).
    fn local_rank(&self) -> usize;
    /// Replaces `values` on every process with their element-wise sum over all processes.
    fn sum_f32(&self, values: &mut [f32]);
    /// Replaces `values` on every process with their element-wise sum over all processes.
    fn sum_f64(&self, values: &mut [f64]);
    /// Replaces `values` on every process with rank 0's.
    fn broadcast_f32(&self, values: &mut [f32]);
    /// Replaces `values` on every process with rank 0's.
    fn broadcast_u64(&self, values: &mut [u64]);
    /// Waits until every process has called it.
    fn barrier(&self);
    /// Ends every process of the world with `code`, now.
    fn abort(&self, code: i32) -> !;

    /// Replaces `values` with their element-wise mean over all processes.
    fn mean_f32(&self, values: &mut [f32]) {
        if self.size() > 1 {
            self.sum_f32(values);
            let n = self.size() as f32;
            values.iter_mut().for_each(|v| *v /= n);
        }
    }

    /// Replaces `values` with their element-wise mean over all processes.
    fn mean_f64(&self, values: &mut [f64]) {
        if self.size() > 1 {
            self.sum_f64(values);
            let n = self.size() as f64;
            values.iter_mut().for_each(|v| *v /= n);
        }
    }

    /// Whether this process is rank 0, the one that writes checkpoints and logs.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
}

/// A world of one process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn local_size(&self) -> usize {
        1
    }
    fn local_rank(&self) -> usize {
        0
    }
    fn sum_f32(&self, _: &mut [f32]) {}
    fn sum_f64(&self, _: &mut [f64]) {}
    fn broadcast_f32(&self, _: &mut [f32]) {}
    fn broadcast_u64(&self, _: &mut [u64]) {}
    fn barrier(&self) {}
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// The environment variables by which launchers tell a process it is one of several: Open
/// MPI's mpirun, PMIx launchers (Open MPI 5, Slurm) and MPICH's Hydra.
pub const LAUNCHER_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"];

/// Whether `env` says this process was started by an MPI launcher.
pub fn launched_by_mpi(env: impl Fn(&str) -> Option<String>) -> bool {
    LAUNCHER_VARIABLES.iter().any(|k| env(k).is_some())
}

/// MPI, initialised for this process; finalised when dropped (after every [`Mpi`] handle is
/// done with).
pub struct MpiEnvironment {
    universe: Universe,
}

impl std::fmt::Debug for MpiEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MpiEnvironment")
    }
}

/// MPI could not be started.
#[derive(Debug, thiserror::Error)]
#[error("MPI was already initialised in this process")]
pub struct AlreadyInitialised;

impl MpiEnvironment {
    /// Initialises MPI (once per process) and makes a panic on any rank abort the whole world.
    ///
    /// Only the training thread calls MPI (the loader's threads never do), so the single-thread
    /// level is enough.
    pub fn init() -> Result<MpiEnvironment, AlreadyInitialised> {
        let universe = mpi::initialize().ok_or(AlreadyInitialised)?;
        let world = universe.world();
        if world.size() > 1 {
            let (rank, size) = (world.rank(), world.size());
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                previous(info);
                // The other ranks may be waiting for this one in a collective: end them all,
                // and say so (mpirun's own notice is not always printed).
                eprintln!("rank {rank} of {size} panicked: ending every rank (MPI_Abort)");
                abort_world(101);
            }));
        }
        Ok(MpiEnvironment { universe })
    }

    /// The world the launcher started.
    pub fn world(&self) -> Mpi {
        let world = self.universe.world();
        let node = world.split_shared(world.rank());
        Mpi { local_size: node.size() as usize, local_rank: node.rank() as usize, world }
    }
}

/// A world started by an MPI launcher.
pub struct Mpi {
    world: SimpleCommunicator,
    local_size: usize,
    local_rank: usize,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi").field("rank", &self.rank()).field("size", &self.size()).finish()
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn local_size(&self) -> usize {
        self.local_size
    }
    fn local_rank(&self) -> usize {
        self.local_rank
    }
    fn sum_f32(&self, values: &mut [f32]) {
        if self.size() > 1 {
            // rsmpi has no MPI_IN_PLACE: the send side is a copy (a memcpy, small next to a step).
            let send = values.to_vec();
            self.world.all_reduce_into(&send[..], values, SystemOperation::sum());
        }
    }
    fn sum_f64(&self, values: &mut [f64]) {
        if self.size() > 1 {
            let send = values.to_vec();
            self.world.all_reduce_into(&send[..], values, SystemOperation::sum());
        }
    }
    fn broadcast_f32(&self, values: &mut [f32]) {
        if self.size() > 1 {
            self.world.process_at_rank(0).broadcast_into(values);
        }
    }
    fn broadcast_u64(&self, values: &mut [u64]) {
        if self.size() > 1 {
            self.world.process_at_rank(0).broadcast_into(values);
        }
    }
    fn barrier(&self) {
        self.world.barrier();
    }
    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

/// Ends every process of MPI's world with `code` (used when the world's [`Collective`] has
/// been handed to a trainer and an error came back). Outside MPI, exits this process.
pub fn abort_world(code: i32) -> ! {
    if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
        SimpleCommunicator::world().abort(code)
    }
    std::process::exit(code)
}

/// The world this process was started in: MPI's under a launcher, with the environment that
/// must outlive it (keep it until the world is no longer used), else a world of one.
pub fn join(
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Option<MpiEnvironment>, Box<dyn Collective>), AlreadyInitialised> {
    if !launched_by_mpi(env) {
        return Ok((None, Box::new(Solo)));
    }
    let mpi = MpiEnvironment::init()?;
    let world = Box::new(mpi.world());
    Ok((Some(mpi), world))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launcher_is_recognised_by_its_variables() {
        assert!(!launched_by_mpi(|_| None));
        for var in LAUNCHER_VARIABLES {
            assert!(launched_by_mpi(|k| (k == var).then(|| "3".to_string())), "{var}");
        }
        assert!(!launched_by_mpi(|k| (k == "OMPI_MCA_foo").then(String::new)));
    }

    #[test]
    fn a_world_of_one_keeps_values_as_they_are() {
        let mut v = [1.5f32, -2.0];
        Solo.sum_f32(&mut v);
        Solo.mean_f32(&mut v);
        Solo.broadcast_f32(&mut v);
        assert_eq!(v, [1.5, -2.0]);
        assert!(Solo.is_root());
        assert_eq!((Solo.rank(), Solo.size(), Solo.local_size(), Solo.local_rank()), (0, 1, 1, 0));
    }
}
