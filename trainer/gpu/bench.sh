#!/usr/bin/env bash
# One short run on a GPU machine (within 10 minutes): training throughput of the full SCNN at
# the reference's 512x288 on one GPU with burn's CUDA backend, at a few batch sizes. Expects
# .gpu-carry/ from trainer/gpu/pack.sh beside it (the device tool carries it); writes the JSON
# lines and the machine's description under $OUT (or ./gpu-bench-out).
#
# Targets (README, Trainer): at least 10 images/s on a V100-class GPU (the seed's PyTorch job
# reached 3.56), and much more on an H200.
#
# usage (device tool): run  command="trainer/gpu/bench.sh"  carry=[".gpu-carry"]
set -uo pipefail
ws=$(cd "$(dirname "$0")/../.." && pwd)
carry=$ws/.gpu-carry
out=${OUT:-$ws/gpu-bench-out}
mkdir -p "$out"
[[ -f $carry/lanestack-trainer.xz ]] || { echo "no $carry/lanestack-trainer.xz: run trainer/gpu/pack.sh and carry .gpu-carry" >&2; exit 1; }
bin=$(mktemp -d)/lanestack-trainer
xz -dc "$carry/lanestack-trainer.xz" > "$bin" && chmod +x "$bin"
if [[ -f $carry/lanestack-trainer.sha256 ]]; then
  [[ $(sha256sum "$bin" | cut -d' ' -f1) == $(cat "$carry/lanestack-trainer.sha256") ]] || { echo "the unpacked binary's digest differs" >&2; exit 1; }
fi
export LD_LIBRARY_PATH=$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  nvidia-smi 2>&1 | grep -m1 "CUDA Version"
  echo "cpus: $(nproc)"
} | tee "$out/machine.txt"
"$bin" --version | tee -a "$out/machine.txt"
# The first steps compile and tune kernels: warm-up steps are not measured. Each size gets a
# time limit so that one slow case cannot eat the whole run.
status=0
for batch in 1 8 16; do
  echo "== batch $batch"
  if timeout 150 "$bin" bench --input-size 512x288 --batch-size "$batch" --warmup 3 --steps 10 \
      > "$out/bench-b$batch.json" 2> "$out/bench-b$batch.err"; then
    cat "$out/bench-b$batch.json"
  else
    code=$?
    status=1
    echo "batch $batch failed (exit $code; 124: timed out):"; tail -20 "$out/bench-b$batch.err"
  fi
done
exit "$status"
