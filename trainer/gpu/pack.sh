#!/usr/bin/env bash
# Packs the CUDA trainer for a GPU machine that has the NVIDIA driver and nothing else: the
# stripped binary (xz) and the shared libraries it is linked against that such a machine may
# lack (Open MPI's, which `bench` and `train` need only to load, not to run alone; libstdc++),
# into .gpu-carry/ at the workspace root (ignored by git; the device tool's `carry` takes it,
# 64 MiB at most). libcuda is not packed: the driver provides it, and it is opened at run time.
#
# usage: trainer/gpu/build-cuda.sh && trainer/gpu/pack.sh
set -euo pipefail
ws=$(cd "$(dirname "$0")/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$ws/target}
stripped=$target_dir/release/lanestack-trainer-cuda-stripped
[[ -x $stripped ]] || { echo "no $stripped: run trainer/gpu/build-cuda.sh first" >&2; exit 1; }
out=$ws/.gpu-carry
rm -rf "$out"; mkdir -p "$out/lib"
xz -6 -T0 -c "$stripped" > "$out/lanestack-trainer.xz"
# Every library the loader resolves, but the C library's own (glibc is the machine's).
ldd "$stripped" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
  case $(basename "$lib") in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libgcc_s.so.*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
sha256sum "$stripped" | cut -d' ' -f1 > "$out/lanestack-trainer.sha256"
echo "packed into $out ($(du -sh "$out" | cut -f1)):"
ls -l "$out" "$out/lib"
