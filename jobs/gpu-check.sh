#!/usr/bin/env bash
# Checks a GPU node (or any machine) with the CUDA fat jar: libtorch loads offline from the jar, the GPUs DJL sees,
# forward+backward on each GPU against the CPU in float64, and TFLOP/s and MFU of one LLaMA-7B-width layer.
#   jobs/gpu-check.sh [spruce gpu-check options: --peak-tflops N, --mfu-tokens N, --mfu-steps N, --seed N]
# Environment:
#   PROFILE      cuda (default) or cpu: the fat jar to check (built on first use, see jobs/fatjar.sh).
#   FRESH_CACHE  1: unpack libtorch into an empty temporary DJL cache (removed afterwards), proving that nothing
#                comes from an earlier run or a download; default: DJL's cache (DJL_CACHE_DIR or ~/.djl.ai).
#   TF32         1 sets TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 for this run (as jobs/spark-submit.sh does for the
#                executors); default: the environment's value.
#   SPARK_HOME   Spark's jars are taken from $SPARK_HOME/jars; without it, from the default build's class path
#                (target/classpath.txt) less its DJL jars.
#   GPU_CHECK_HEAP  -Xmx (default 16g).
# Exit code 0 when every check passed. Without a GPU the last lines are "cuda-build: loaded, no GPU visible" and
# "gpu-check: ok". A download attempt or a JNI mismatch fails the run, whatever the Java side reported.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${PROFILE:-cuda}"
case "$profile" in
  cpu|cuda) ;;
  *) echo "gpu-check.sh: PROFILE must be cpu or cuda, got '$profile'" >&2; exit 2 ;;
esac
# shellcheck source=jobs/fatjar.sh
. "$root/jobs/fatjar.sh"
fatjar_build "$profile"

if [ -n "${SPARK_HOME:-}" ] && [ -d "$SPARK_HOME/jars" ]; then
  spark_cp="$SPARK_HOME/jars/*"
else
  if [ ! -f "$root/target/classpath.txt" ]; then
    (cd "$root" && mvn -B -q -ntp generate-resources)
  fi
  spark_cp="$(tr ':' '\n' < "$root/target/classpath.txt" | grep -v '/ai/djl/' | paste -sd: -)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/spruce-gpu-check.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
if [ "${FRESH_CACHE:-0}" = 1 ]; then
  export DJL_CACHE_DIR="$work/djl-cache"
  unset ENGINE_CACHE_DIR
  mkdir -p "$DJL_CACHE_DIR"
  echo "gpu-check.sh: fresh DJL cache $DJL_CACHE_DIR" >&2
fi
if [ "${TF32:-}" = 1 ]; then
  export TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1
fi
# spruce's log configuration plus DJL's library loader at INFO, so a download attempt shows in the log.
cat > "$work/log4j2.properties" <<'PROPS'
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %-5p %c{1}: %m%n
logger.spruce.name = spruce
logger.spruce.level = info
logger.libutils.name = ai.djl.pytorch.jni.LibUtils
logger.libutils.level = info
PROPS

set +e
java -Xmx"${GPU_CHECK_HEAP:-16g}" \
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
  -Dai.djl.offline=true -Dlog4j2.configurationFile="$work/log4j2.properties" \
  -cp "$fatjar:$spark_cp" dev.spruce.cli.Spruce gpu-check "$@" 2> >(tee "$work/stderr" >&2)
rc=$?
set -e
wait
if grep -Eq 'Downloading|Found mismatch PyTorch jni|Failed to save pytorch index|Cannot download jni|Offline mode is enabled' \
     "$work/stderr"; then
  echo "gpu-check.sh: FAILED: DJL tried to download libtorch or its JNI library (see the log above); the jar does" \
    "not carry a libtorch and JNI that DJL $([ "$profile" = cuda ] && echo 'accepts for CUDA' || echo 'accepts')" >&2
  exit 1
fi
exit "$rc"
