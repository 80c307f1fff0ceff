#!/usr/bin/env bash
# CPU parity of spruce with PyTorch eager on this machine: the same random LLaMA shapes and the same work
# (importance pass, one LoRA step, perplexity evaluation) run alternately by `spruce bench` and by
# jobs/cpu_parity.py, REPEATS times each, at every hidden size and thread count; then the medians, the ratio
# spruce/PyTorch and both engines' float32 GEMM GFLOP/s. See docs/BENCHMARKS.md, "CPU parity with PyTorch eager".
#
# The PyTorch side is Debian's python3-torch with OpenBLAS (openmp build) instead of Debian's default netlib
# BLAS, fetched once with `apt-get download` into $SPRUCE_PARITY_CACHE (default ~/.cache/spruce-parity) and
# run with Debian's /usr/bin/python3; nothing is installed.
#
# Settings (environment): HIDDENS (default "512 1024"), THREADS ("1 2"), REPEATS (3), TIMED (3: timed passes of
# importance and evaluation inside each process after its warm-up, median; train times STEPS steps), WORKLOADS
# ("importance train evaluate"), LAYERS (4), SAMPLES (32), STEPS (5), REQUESTS (256), LENGTH (128),
# OUT (a new directory under /tmp). Smaller SAMPLES/STEPS/REQUESTS keep the shapes and shorten the runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${SPRUCE_PARITY_CACHE:-$HOME/.cache/spruce-parity}"
HIDDENS="${HIDDENS:-512 1024}"
THREADS="${THREADS:-1 2}"
REPEATS="${REPEATS:-3}"
TIMED="${TIMED:-3}"
WORKLOADS="${WORKLOADS:-importance train evaluate}"
LAYERS="${LAYERS:-4}"
SAMPLES="${SAMPLES:-32}"
STEPS="${STEPS:-5}"
REQUESTS="${REQUESTS:-256}"
LENGTH="${LENGTH:-128}"
OUT="${OUT:-$(mktemp -d /tmp/cpu-parity.XXXXXX)}"
mkdir -p "$OUT"
log="$OUT/results.log"

# --- the PyTorch eager baseline ------------------------------------------------------------------------------
tree="$cache/root"
site="$tree/usr/lib/python3/dist-packages"
setup_torch() {
  [ -f "$cache/.ready" ] && return 0
  mkdir -p "$cache/debs" "$tree"
  echo "cpu-parity: fetching python3-torch + OpenBLAS (openmp) into $cache" >&2
  # Every package of the dependency closure that this system lacks, except alternatives that would bring
  # another BLAS (netlib, ATLAS, BLIS, the other OpenBLAS builds) and things no shared library needs.
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
      --no-enhances --no-pre-depends python3-torch libopenblas0-openmp 2>/dev/null | grep -v '^[ <]' | sort -u |
    while read -r p; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done |
    grep -vE '^(fonts-|ttf-|xfonts|cdebconf|install-info|libdebian-installer|libqt5gui5-gles|libatlas3-base|libblas3$|liblapack3$|libblis|libopenblas0-pthread|libopenblas0-serial|python3-hypothesis|samba|gdal-data|proj-data|libtorch-test)' \
    > "$cache/packages.txt"
  echo libnl-3-200 libnl-route-3-200 | tr ' ' '\n' >> "$cache/packages.txt"
  (cd "$cache/debs" && apt-get download $(cat "$cache/packages.txt") >/dev/null 2>"$cache/download.err") || {
    echo "cpu-parity: apt-get download failed, see $cache/download.err" >&2; exit 1; }
  for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$tree"; done
  [ "$(ls /usr/bin/python3.11 2>/dev/null)" ] || { echo "cpu-parity: python3-torch is built for Debian's python 3.11 (/usr/bin/python3.11 missing)" >&2; exit 1; }
  touch "$cache/.ready"
}
setup_torch
blas="$tree/usr/lib/x86_64-linux-gnu/openblas-openmp"
# OpenBLAS 0.3.21 (bookworm) knows neither this Xeon's model (207) nor AMD's Zen 5 and falls back to slower
# kernels (Prescott, SSE3: about 3.5x slower); so the core is named from the CPU flags. An OPENBLAS_CORETYPE already
# in the environment is not used: one machine here exported OPENBLAS_CORETYPE=Haswell (AVX2), which halved the
# baseline's GEMM on an AVX-512 CPU (1024 GEMM at 1 thread: 124 GFLOP/s, 233 with Cooperlake). PARITY_OPENBLAS_CORETYPE
# forces one.
inherited="${OPENBLAS_CORETYPE:-}"
OPENBLAS_CORETYPE="${PARITY_OPENBLAS_CORETYPE:-}"
if [ -z "$OPENBLAS_CORETYPE" ]; then
  if grep -qw avx512_bf16 /proc/cpuinfo; then OPENBLAS_CORETYPE=Cooperlake
  elif grep -qw avx512f /proc/cpuinfo; then OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then OPENBLAS_CORETYPE=Haswell; fi
fi
[ -z "$inherited" ] || [ "$inherited" = "$OPENBLAS_CORETYPE" ] ||
  echo "cpu-parity: OpenBLAS core $OPENBLAS_CORETYPE from the CPU flags, not the inherited OPENBLAS_CORETYPE=$inherited (PARITY_OPENBLAS_CORETYPE forces one)" >&2
torch_env=(env "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-}" "PYTHONPATH=$site" "LD_LIBRARY_PATH=$blas:$tree/usr/lib/x86_64-linux-gnu:$tree/usr/lib:$tree/lib/x86_64-linux-gnu")
missing="$("${torch_env[@]}" ldd "$tree/usr/lib/x86_64-linux-gnu/libtorch_python.so.1.13.0" | grep 'not found' || true)"
[ -z "$missing" ] || { echo "cpu-parity: libraries still missing for torch: $missing" >&2; exit 1; }
pytorch() { # threads, args...
  local t="$1"; shift
  "${torch_env[@]}" OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" /usr/bin/python3 "$root/jobs/cpu_parity.py" "$@" --threads "$t"
}
"${torch_env[@]}" OMP_NUM_THREADS=1 /usr/bin/python3 -c '
import ctypes, torch
lib = ctypes.CDLL("libopenblas.so.0"); lib.openblas_get_config.restype = ctypes.c_char_p
maps = open("/proc/self/maps").read()
assert "libopenblas" in maps, "torch did not load OpenBLAS"
config = lib.openblas_get_config().decode()
assert "Prescott" not in config, "OpenBLAS runs its Prescott kernels: set OPENBLAS_CORETYPE"
print("pytorch", torch.__version__, "BLAS:", config)' | tee "$OUT/pytorch-blas.txt"

# --- spruce ---------------------------------------------------------------------------------------------------
# bin/spruce builds target/classes (and target/classpath.txt) when sources changed; whichever DJL the pom names.
"$root/bin/spruce" --version >/dev/null 2>&1 || "$root/bin/spruce" --help >/dev/null
cp="$root/target/classes:$(cat "$root/target/classpath.txt")"
spruce_bench() { # threads, bench args...: one task with THREADS intra-op threads (spark.task.cpus)
  local t="$1"; shift
  SPRUCE_JAVA_OPTS="-Dspark.task.cpus=$t ${SPRUCE_JAVA_OPTS:-}" "$root/bin/spruce" bench "$@" \
    --master "local[$t]" --partitions 1 2>>"$OUT/spruce.stderr"
}
shim="$("$root/bin/mkl-vendor-shim" 2>/dev/null || true)" # what bin/spruce preloads on AMD CPUs
spruce_gemm() {
  LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}" java -Dai.djl.offline=true -cp "$cp" "$root/jobs/CpuParityGemm.java" "$1" 2>>"$OUT/spruce.stderr"
}
record() { # engine workload hidden threads: stdin -> results.log as RESULT lines
  /usr/bin/python3 "$root/jobs/cpu_parity.py" parse --engine "$1" --workload-name "$2" --hidden "$3" --threads "$4" \
    --load "$(cut -d' ' -f1 /proc/loadavg)" >> "$log"
}

{ echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus; load at start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "spruce MKL vendor shim: ${shim:-not preloaded}"
  echo "spruce jar: $(grep -o 'pytorch-engine-[0-9.]*\.jar' "$root/target/classpath.txt" | head -1)"; } | tee "$OUT/machine.txt"

for t in $THREADS; do
  for r in $(seq "$REPEATS"); do
    spruce_gemm "$t" | tee -a "$OUT/raw.txt" | grep '^RESULT' >> "$log"
    pytorch "$t" gemm | tee -a "$OUT/raw.txt" | grep '^RESULT' >> "$log"
  done
done
for h in $HIDDENS; do
  shape=(--layers "$LAYERS" --hidden "$h" --length "$LENGTH")
  for t in $THREADS; do
    for w in $WORKLOADS; do
      case "$w" in
        importance) s=(importance --samples "$SAMPLES" --repeats "$TIMED"); p=(importance --samples "$SAMPLES" --repeats "$TIMED") ;;
        train) s=(train --steps "$STEPS"); p=(train --steps "$STEPS" --repeats 1) ;;
        evaluate) s=(evaluate --requests "$REQUESTS" --repeats "$TIMED"); p=(evaluate --requests "$REQUESTS" --repeats "$TIMED") ;;
        *) echo "cpu-parity: unknown workload $w (expected importance, train or evaluate)" >&2; exit 1 ;;
      esac
      for r in $(seq "$REPEATS"); do
        echo "cpu-parity: hidden $h, $t thread(s), $w, run $r/$REPEATS" >&2
        spruce_bench "$t" "${s[@]}" "${shape[@]}" | tee -a "$OUT/raw.txt" | record spruce "$w" "$h" "$t"
        pytorch "$t" "${p[@]}" "${shape[@]}" | tee -a "$OUT/raw.txt" | grep '^RESULT' >> "$log"
      done
    done
  done
done
/usr/bin/python3 "$root/jobs/cpu_parity.py" summarize "$log" | tee "$OUT/summary.txt"
echo "cpu-parity: raw output in $OUT" >&2
