#!/usr/bin/env bash
# Builds lanestack-trainer with `--features cuda` without network access beyond the Debian mirror.
#
# burn's CUDA backend compiles kernels to PTX with LLVM (cubecl-llvm, NVPTX target). cubecl-llvm's
# build dependency tracel-llvm-bundler would download a prebuilt LLVM 23.1 bundle from GitHub; no
# crate offers a switch to use another LLVM (llvm-sys is built with `no-llvm-linking`, so
# LLVM_SYS_231_PREFIX is never read; cubecl-llvm's build script always asks the bundler for
# `$XDG_DATA_HOME/tracel/tracel-llvm-23.1.0-4`). So this script:
#   1. downloads Debian sid's llvm-23-dev (static libraries, headers), llvm-23 (llvm-config) and
#      libpolly-23-dev (Debian's `llvm-config --libs` names Polly) with a private apt state and unpacks them privately (nothing is installed system-wide);
#   2. builds the bundler's install directory under a private XDG_DATA_HOME: its "installed"
#      sentinel plus bin/llvm-config, a wrapper around Debian's llvm-config;
#   3. on a glibc older than 2.38 (Debian 12), adds a tiny static library that provides the
#      C23 `__isoc23_*` entry points Debian sid's LLVM archives reference (they forward to the
#      classic functions; the only difference is C23's "0b" prefix parsing, which LLVM's callers
#      do not rely on), and link-time `lib*.so` links for LLVM's system libraries whose -dev
#      packages are absent;
#   4. runs `cargo build --release -p lanestack-trainer --features cuda` with that XDG_DATA_HOME.
#
# Usage: trainer/gpu/build-cuda.sh            (from anywhere inside the workspace)
# Environment:
#   LANESTACK_LLVM_CACHE  private LLVM root (default ~/.cache/lanestack/llvm-23)
#   CARGO_TARGET_DIR      as usual (default <workspace>/target)
#   CUDARC_CUDA_VERSION   CUDA API version the driver bindings target, e.g. 12080 (without it,
#                         and without nvcc on PATH, cudarc uses the newest it knows)
#   NICE                  niceness for the compile (default 19)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ws=$(cd "$here/../.." && pwd)
cache=${LANESTACK_LLVM_CACHE:-$HOME/.cache/lanestack/llvm-23}
nice_level=${NICE:-19}
bundle_name=tracel-llvm-23.1.0-4 # tracel-llvm-bundler 23.1.0-4's install directory name
llvm=$cache/root/usr/lib/llvm-23
xdg=$cache/xdg
bundle=$xdg/tracel/$bundle_name

# --- 1. Debian sid's LLVM 23, privately -------------------------------------------------------
packages="llvm-23-dev llvm-23 libpolly-23-dev"
if [[ $(cat "$cache/.unpacked" 2>/dev/null) != "$packages" ]]; then
  apt_state=$cache/apt
  mkdir -p "$apt_state/lists/partial" "$apt_state/cache/archives/partial" "$cache/debs"
  mirror=$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
             | awk '{print $2}' | grep -v -- '-security' | head -n 1 || true)
  [[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $mirror ]] || { echo "cannot find the machine's Debian mirror in its apt sources" >&2; exit 1; }
  echo "deb $mirror sid main" > "$apt_state/sources.list"
  o=(-o "Dir::Etc::SourceList=$apt_state/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$apt_state/lists" -o "Dir::Cache=$apt_state/cache"
     -o APT::Architecture=amd64 -o APT::Architectures=amd64)
  apt-get "${o[@]}" -qq update
  rm -f "$cache"/debs/*.deb
  (cd "$cache/debs" && apt-get "${o[@]}" -qq download $packages 2>&1 | grep -v 'unsandboxed' || true)
  for p in $packages; do ls "$cache/debs/${p}_"*.deb >/dev/null; done
  rm -rf "$cache/root"; mkdir -p "$cache/root"
  for f in "$cache"/debs/*.deb; do dpkg -x "$f" "$cache/root"; done
  echo "$packages" > "$cache/.unpacked"
fi
[[ -x $llvm/bin/llvm-config ]] || { echo "no llvm-config under $llvm (remove $cache/.unpacked to redo)" >&2; exit 1; }

# --- 3. glibc/system-library compatibility for the link ---------------------------------------
libdir=$llvm/lib
extra_libs=
glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
if [[ $(printf '%s\n2.38\n' "$glibc" | sort -V | head -n 1) != 2.38 ]]; then
  if [[ ! -e $libdir/liblanestack_isoc23.a ]]; then
    tmp=$(mktemp -d)
    cat > "$tmp/isoc23.c" <<'EOF'
/* C23 entry points (glibc 2.38) referenced by LLVM built against a newer glibc. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
long __isoc23_strtol(const char *s, char **e, int b) { return strtol(s, e, b); }
unsigned long __isoc23_strtoul(const char *s, char **e, int b) { return strtoul(s, e, b); }
long long __isoc23_strtoll(const char *s, char **e, int b) { return strtoll(s, e, b); }
unsigned long long __isoc23_strtoull(const char *s, char **e, int b) { return strtoull(s, e, b); }
intmax_t __isoc23_strtoimax(const char *s, char **e, int b) { return strtoimax(s, e, b); }
uintmax_t __isoc23_strtoumax(const char *s, char **e, int b) { return strtoumax(s, e, b); }
int __isoc23_sscanf(const char *s, const char *f, ...) {
  va_list ap; va_start(ap, f); int r = vsscanf(s, f, ap); va_end(ap); return r;
}
int __isoc23_scanf(const char *f, ...) {
  va_list ap; va_start(ap, f); int r = vscanf(f, ap); va_end(ap); return r;
}
int __isoc23_fscanf(FILE *fp, const char *f, ...) {
  va_list ap; va_start(ap, f); int r = vfscanf(fp, f, ap); va_end(ap); return r;
}
int __isoc23_vsscanf(const char *s, const char *f, va_list ap) { return vsscanf(s, f, ap); }
EOF
    cc -O2 -fPIC -c "$tmp/isoc23.c" -o "$tmp/isoc23.o"
    ar rcs "$libdir/liblanestack_isoc23.a" "$tmp/isoc23.o"
    rm -rf "$tmp"
  fi
  extra_libs=" -llanestack_isoc23"
fi
# `llvm-config --system-libs` names these; give the linker a lib<name>.so where only the runtime
# library (lib<name>.so.N) is installed. With --as-needed only those really used stay NEEDED.
for name in z zstd xml2 z3; do
  if ! ldconfig -p | grep -q "lib$name\.so "; then
    so=$(ldconfig -p | awk -v n="lib$name.so." '$1 ~ "^"n {print $NF; exit}')
    [[ -n $so ]] && ln -sfn "$so" "$libdir/lib$name.so"
  fi
done

# --- 2. the bundler's install directory -------------------------------------------------------
mkdir -p "$bundle/bin"
cat > "$bundle/bin/llvm-config.new" <<EOF
#!/bin/sh
# tracel-llvm-bundler's llvm-config, answered by Debian's (generated by trainer/gpu/build-cuda.sh).
out=\$("$llvm/bin/llvm-config" "\$@") || exit \$?
case " \$* " in
  *" --system-libs "*)
    # The bundler turns a library path into its file stem (libz3); hand it -lz3 instead.
    out=\$(printf '%s' "\$out" | sed -E 's#[^ ]*/lib([A-Za-z0-9_+-]+)\.so(\.[0-9.]+)?#-l\1#g')
    out="\$out$extra_libs" ;;
esac
printf '%s\n' "\$out"
EOF
chmod +x "$bundle/bin/llvm-config.new"
if cmp -s "$bundle/bin/llvm-config.new" "$bundle/bin/llvm-config"; then
  rm "$bundle/bin/llvm-config.new"
else
  mv "$bundle/bin/llvm-config.new" "$bundle/bin/llvm-config"
fi
ln -sfn "$llvm/include" "$bundle/include"
ln -sfn "$llvm/lib" "$bundle/lib"
# The bundler's build script reruns when the sentinel changes (and with it everything above
# cubecl-llvm), so it is created once and never touched again.
[[ -e $bundle/.tracel-llvm-installed ]] || touch "$bundle/.tracel-llvm-installed"
"$bundle/bin/llvm-config" --link-static --system-libs >/dev/null

# --- 4. the build ------------------------------------------------------------------------------
cd "$ws"
target_dir=${CARGO_TARGET_DIR:-$ws/target}
start=$(date +%s)
XDG_DATA_HOME=$xdg nice -n "$nice_level" cargo build --release -p lanestack-trainer --features cuda
echo "build took $(( $(date +%s) - start )) s"
bin=$target_dir/release/lanestack-trainer
echo "binary: $bin ($(stat -c %s "$bin") bytes, $(du -h "$bin" | cut -f1))"
# The release profile keeps line tables (about 520 MB with LLVM); a stripped copy is what a GPU
# machine needs (about 120 MB; about 23 MB as .xz, which fits the 64 MiB carry limit).
strip -o "$bin-cuda-stripped" "$bin"
echo "stripped: $bin-cuda-stripped ($(stat -c %s "$bin-cuda-stripped") bytes, $(du -h "$bin-cuda-stripped" | cut -f1))"
if [[ ${PACK:-0} == 1 ]]; then
  nice -n "$nice_level" xz -6 -T1 -c "$bin-cuda-stripped" > "$bin-cuda-stripped.xz"
  echo "packed: $bin-cuda-stripped.xz ($(stat -c %s "$bin-cuda-stripped.xz") bytes)"
fi
echo "runtime libraries (ldd):"
ldd "$bin"
echo "not in ldd, opened with dlopen at run time: libcuda.so(.1) from the NVIDIA driver;"
echo "libnvrtc and libnccl only if used (the default LLVM/PTX kernel path needs no NVRTC)."
