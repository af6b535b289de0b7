//! For the trainer's tests: under mpirun, rank 1 panics while every other rank waits for it in
//! an all-reduce. [`MpiEnvironment::init`]'s panic hook must end the whole world (MPI_Abort);
//! without it the other ranks would wait forever.

use lanestack_trainer::dist::{Collective, MpiEnvironment};

fn main() {
    let env = MpiEnvironment::init().expect("MPI starts once");
    let world = env.world();
    if world.rank() == 1 {
        panic!("rank 1 panics on purpose");
    }
    let mut values = [1.0_f32];
    world.sum_f32(&mut values);
    println!("rank {} finished the all-reduce", world.rank());
}
