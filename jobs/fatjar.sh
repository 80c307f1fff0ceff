# Sourced by jobs/spark-submit.sh and jobs/gpu-check.sh: builds the fat jar for spark-submit on first use
# (mvn -Pfatjar[,cuda] package; Spark is provided by the cluster) and rebuilds it when the jar on disk was built
# for the other profile (target/spruce-jar.profile records it) or is older than the sources. The cuda jar carries
# the 2.46 GB CUDA libtorch and takes minutes to pack.
#   fatjar_build <cpu|cuda>   sets $fatjar to the jar's path
fatjar_build() {
  local profile="$1" root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  fatjar="$root/target/spruce-0.1.0-SNAPSHOT-spark.jar"
  local stamp="$root/target/spruce-jar.profile" profiles=-Pfatjar
  [ "$profile" = cuda ] && profiles=-Pfatjar,cuda
  if [ ! -f "$fatjar" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$profile" ] \
     || [ -n "$(find "$root/src/main" "$root/pom.xml" -newer "$fatjar" -print -quit 2>/dev/null)" ]; then
    echo "building the $profile fat jar (mvn $profiles package)" >&2
    rm -f "$stamp"
    (cd "$root" && mvn -B -q -ntp -Dmaven.test.skip=true "$profiles" package)
    echo "$profile" > "$stamp"
  fi
}
