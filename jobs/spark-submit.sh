#!/usr/bin/env bash
# Submits a spruce job to a Spark cluster (standalone, YARN or Kubernetes), with or without GPUs.
#   jobs/spark-submit.sh <command> -c <conf> [--set key=value ...]
# Environment:
#   MASTER             spark://host:7077, yarn or k8s://https://host:port (default yarn). It always wins over
#                      the job file's spark.master.
#   GPUS_PER_EXECUTOR  GPUs per executor and per task (default 1). 0 submits a CPU job: the CPU jar and no GPU
#                      resource requests.
#   PROFILE            the jar to build: cuda (default when GPUs are requested) or cpu (default without; with GPUs,
#                      for checking GPU scheduling with model.cpu-only=true on machines without CUDA libtorch).
#   GPU_DISCOVERY      the GPU discovery script, required when GPUS_PER_EXECUTOR > 0 (default: Spark's example
#                      script under $SPARK_HOME, which must then be set). On YARN and Kubernetes the executors run
#                      it themselves, so it must exist at that path on every node (or in the container image).
#   EXECUTORS          executors to request on YARN and Kubernetes (default 8); standalone takes what it has.
#   SPARK_SUBMIT       the spark-submit to run (default: $SPARK_HOME/bin/spark-submit, else spark-submit on PATH).
#   SPARK_SUBMIT_ARGS  further spark-submit options, split on spaces (e.g. "--deploy-mode cluster").
#   TF32               with PROFILE=cuda, 1 (default) lets float32 matmuls on the executors' GPUs use TF32 tensor
#                      cores (spark.executorEnv.TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1, read by libtorch at start:
#                      DJL has no allow_tf32 call); 0 keeps full float32.
# The fat jar is built on first use (mvn -Pfatjar[,cuda] package; Spark is provided by the cluster) and rebuilt
# when the jar on disk was built for the other profile (target/spruce-jar.profile records it) or is older than the
# sources.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$root/target/spruce-0.1.0-SNAPSHOT-spark.jar"  # the jar jobs/fatjar.sh builds
gpus="${GPUS_PER_EXECUTOR:-1}"
case "$gpus" in
  ''|*[!0-9]*) echo "spark-submit.sh: GPUS_PER_EXECUTOR must be a whole number, got '$gpus'" >&2; exit 2 ;;
esac
profile="${PROFILE:-}"
if [ -z "$profile" ]; then
  if [ "$gpus" -gt 0 ]; then profile=cuda; else profile=cpu; fi
fi
case "$profile" in
  cpu|cuda) ;;
  *) echo "spark-submit.sh: PROFILE must be cpu or cuda, got '$profile'" >&2; exit 2 ;;
esac
# shellcheck source=jobs/fatjar.sh
. "$root/jobs/fatjar.sh"
fatjar_build "$profile"
master="${MASTER:-yarn}"
submit="${SPARK_SUBMIT:-}"
if [ -z "$submit" ]; then
  if [ -n "${SPARK_HOME:-}" ]; then submit="$SPARK_HOME/bin/spark-submit"; else submit=spark-submit; fi
fi
opens="--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED \
--add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
--add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
--add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED \
--add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED \
--add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED \
-Djdk.reflect.useDirectMethodHandle=false -Dio.netty.tryReflectionSetAccessible=true -Dai.djl.offline=true"
args=(--master "$master" --class dev.spruce.cli.Spruce
      --conf "spark.driver.extraJavaOptions=$opens" --conf "spark.executor.extraJavaOptions=$opens")
case "$master" in
  yarn|k8s://*) args+=(--num-executors "${EXECUTORS:-8}") ;;
esac
if [ "$gpus" -gt 0 ]; then
  discovery="${GPU_DISCOVERY:-}"
  if [ -z "$discovery" ]; then
    if [ -z "${SPARK_HOME:-}" ]; then
      echo "spark-submit.sh: GPUS_PER_EXECUTOR=$gpus needs GPU_DISCOVERY (a GPU discovery script) or SPARK_HOME" \
        "(for Spark's examples/src/main/scripts/getGpusResources.sh); GPUS_PER_EXECUTOR=0 submits a CPU job" >&2
      exit 2
    fi
    discovery="$SPARK_HOME/examples/src/main/scripts/getGpusResources.sh"
  fi
  args+=(--conf "spark.executor.resource.gpu.amount=$gpus" --conf "spark.task.resource.gpu.amount=$gpus"
         --conf "spark.executor.resource.gpu.discoveryScript=$discovery")
fi
if [ "$profile" = cuda ]; then
  tf32="${TF32:-1}"
  case "$tf32" in
    0|1) args+=(--conf "spark.executorEnv.TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=$tf32") ;;
    *) echo "spark-submit.sh: TF32 must be 0 or 1, got '$tf32'" >&2; exit 2 ;;
  esac
fi
# shellcheck disable=SC2206
extra=(${SPARK_SUBMIT_ARGS:-})
exec "$submit" "${args[@]}" "${extra[@]}" "$jar" "$@"
