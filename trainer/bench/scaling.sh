#!/usr/bin/env bash
# Data-parallel scaling of the trainer on CPU: `lanestack-trainer bench` alone and under mpirun,
# each rank computing on one thread (RAYON_NUM_THREADS=1), at the reference's 512x288.
# Prints one JSON line per world size, then a table with the scaling efficiency:
#   efficiency       = world images/s / (ranks x images/s of one rank)
#   core efficiency  = world images/s / (min(ranks, cores) x images/s of one rank)
# On a machine with fewer cores than ranks the first is bounded by cores/ranks (the ranks
# share the cores); the second is the part data parallelism itself loses (all-reduce, waiting).
#
# usage: trainer/bench/scaling.sh [RANKS...]   (default: 1 2 3)
# env: T (the trainer binary, default target/release/lanestack-trainer, or under
#      $CARGO_TARGET_DIR), INPUT (512x288), BATCH (1), STEPS (2), WARMUP (1)
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
T=${T:-$target/release/lanestack-trainer}
[[ -x $T ]] || { echo "no trainer at $T: cargo build --release -p lanestack-trainer" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 1; }
input=${INPUT:-512x288}; batch=${BATCH:-1}; steps=${STEPS:-2}; warmup=${WARMUP:-1}
ranks=("$@"); ((${#ranks[@]})) || ranks=(1 2 3)
cores=$(nproc)
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for n in "${ranks[@]}"; do
    RAYON_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$n" \
        "$T" bench --input-size "$input" --batch-size "$batch" --steps "$steps" --warmup "$warmup" \
        | tee -a "$results"
done
echo
echo "machine: $cores cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
jq -rs --argjson cores "$cores" '
  (map(select(.world == 1))[0].images_per_sec_per_process) as $one
  | ["ranks", "img/s per process", "world img/s", "step s", "all-reduce s", "efficiency", "core efficiency"],
    (.[] | [ .world,
             (.images_per_sec_per_process * 1000 | round / 1000),
             (.world_images_per_sec * 1000 | round / 1000),
             (.step_secs * 100 | round / 100),
             (.allreduce_secs * 100 | round / 100),
             (if $one then (.world_images_per_sec / (.world * $one) * 100 | round / 100) else "-" end),
             (if $one then (.world_images_per_sec / ([.world, $cores] | min) / $one * 100 | round / 100) else "-" end) ])
  | @tsv' "$results" | column -t -s $'\t'
