#!/usr/bin/env bash
# Peak resident memory (whole process, /usr/bin/time -v) and throughput of the real commands at LLaMA-7B tensor
# width (hidden 4096, 32 heads, intermediate 11008, vocab 32000) with few decoder layers: prune (importance with
# param_first, plan, apply), a LoRA recovery of RECOVER_STEPS steps on the pruned model, and an evaluation of 8
# perplexity windows. One row per (layers, samples) into $SCALE_WORK/results.tsv.
#
# Usage: jobs/scale-bench.sh [LAYERS...]          (default: 1 2 4)
#   SAMPLES="4 64"     calibration samples per prune run (64 tokens each)
#   SPRUCE_HEAP=4g     the JVM heap (-Xmx); Spark runs local[1] (one partition, one core)
#   SCALE_WORK=work/scale  where models and runs go (a 4-layer model is 2.1 GB in bf16)
#   HIDDEN, HEADS, INTERMEDIATE, VOCAB  another width (a quick check of the script: HIDDEN=256 HEADS=4 ...)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="${SCALE_WORK:-$root/work/scale}"
layers=("$@")
[ ${#layers[@]} -eq 0 ] && layers=(1 2 4)
read -r -a samples <<< "${SAMPLES:-4}"
steps="${RECOVER_STEPS:-2}"
export SPRUCE_HEAP="${SPRUCE_HEAP:-4g}"
mkdir -p "$work"
results="$work/results.tsv"
[ -f "$results" ] || printf 'layers\tparams\tstage\tsamples\ttokens\tstage_s\ttokens_per_s\tpeak_rss_gb\twall_s\n' > "$results"

# 8 windows of 64 tokens of held-out text (the spruce-tiny tokenizer: ~3.6 characters per token).
heldout="$work/heldout-8x64.txt"
[ -f "$heldout" ] || head -c 2000 data/heldout.txt > "$heldout"

peak() { awk -F': ' '/Maximum resident set size/ {printf "%.2f", $2 / 1048576}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.1f", s}' "$1"; }
# Seconds a stage took and tokens it saw, from run.json (stages.<name>.seconds; tokens from the stage's facts).
facts() { python3 - "$1" "$2" <<'PY'
import json, sys
run = json.load(open(sys.argv[1] + "/run.json"))
stage = sys.argv[2]
seconds = run.get("stage_seconds", {}).get(stage)
if stage == "importance":
    seconds = run.get("importance", {}).get("compute_seconds", seconds)
tokens = {"importance": run.get("calibration", {}).get("tokens"),
          "recover": run.get("recover", {}).get("tokens")}.get(stage)
print(f"{tokens if tokens is not None else ''}\t{seconds if seconds is not None else ''}")
PY
}
# Runs bin/spruce ARGS... under /usr/bin/time -v into $work/time-NAME.txt, its output into $work/log-NAME.txt.
measure() { local name="$1"; shift
  /usr/bin/time -v -o "$work/time-$name.txt" bin/spruce "$@" > "$work/log-$name.txt" 2>&1 \
    || { tail -20 "$work/log-$name.txt"; exit 1; }
}
row() { # layers params stage samples tokens seconds timefile
  local tps=""
  if [ -n "$5" ] && [ -n "$6" ]; then tps=$(python3 -c "print(f'{$5/$6:.1f}')"); fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$tps" "$(peak "$7")" "$(wall "$7")" \
    | tee -a "$results"
}

for L in "${layers[@]}"; do
  model="$work/model-$L"
  if [ ! -f "$model/config.json" ]; then
    bin/spruce bench model --out "$model" --layers "$L" --hidden "${HIDDEN:-4096}" --heads "${HEADS:-32}" \
      --intermediate "${INTERMEDIATE:-11008}" --vocab "${VOCAB:-32000}" --stored bf16
  fi
  params=$(python3 -c "import json; c = json.load(open('$model/config.json')); h, i, v, l = c['hidden_size'], c['intermediate_size'], c['vocab_size'], c['num_hidden_layers']; print(2 * v * h + h + l * (4 * h * h + 3 * h * i + 2 * h))")
  for S in "${samples[@]}"; do
    run="$work/run-$L-$S"
    cat > "$work/prune-$L-$S.conf" <<CONF
spruce {
  spark.master = "local[1]"
  model { path = "$model", dtype = "float32" }
  output { dir = "$run", overwrite = true }
  calibration { path = "data/calibration.txt", format = "text", protocol = "reference", samples = $S, length = 64,
                partitions = 1, micro-batch = 4 }
  importance { criterion = "param_first" }
  prune { ratio = 0.2, attention-layers = "0:$L", mlp-layers = "0:$L" }
}
CONF
    measure "prune-$L-$S" prune -c "$work/prune-$L-$S.conf"
    IFS=$'\t' read -r tokens seconds <<< "$(facts "$run" importance)"
    row "$L" "$params" importance "$S" "$tokens" "$seconds" "$work/time-prune-$L-$S.txt"
  done
  S="${samples[0]}"
  run="$work/run-$L-$S"
  cat > "$work/recover-$L.conf" <<CONF
spruce {
  spark.master = "local[1]"
  model { path = "$model", dtype = "float32" }
  output { dir = "$work/recover-$L", overwrite = true }
  recover {
    model = "$run/model"
    data { kind = "text", path = "data/calibration.txt", format = "text", window = 64, windows = $((4 * steps + 4)) }
    objective = "lm"
    train { global-batch = 4, micro-batch = 4, max-steps = $steps, warmup-steps = 1, validation-size = 4,
            eval-every = $steps, save-every = $steps, partitions = 1 }
  }
}
CONF
  measure "recover-$L" recover -c "$work/recover-$L.conf"
  IFS=$'\t' read -r tokens seconds <<< "$(facts "$work/recover-$L" recover)"
  row "$L" "$params" recover "$steps steps" "$tokens" "$seconds" "$work/time-recover-$L.txt"
  cat > "$work/evaluate-$L.conf" <<CONF
spruce {
  spark.master = "local[1]"
  model { path = "$model", dtype = "float32" }
  output { dir = "$work/evaluate-$L", overwrite = true }
  evaluate { perplexity = [{name = heldout, path = "$heldout", seq-len = 64}], batch-tokens = 512,
             generation.prompts = [] }
}
CONF
  measure "evaluate-$L" evaluate -c "$work/evaluate-$L.conf" --model "base=$model"
  # "... (8 windows, 504 tokens scored, <protocol>, 12.34s)": the scoring job alone, model load included.
  line=$(grep 'perplexity on heldout' "$work/log-evaluate-$L.txt" | head -1)
  windows=$(sed -E 's/.*\(([0-9]+) windows.*/\1/' <<< "$line")
  tokens=$(sed -E 's/.* ([0-9]+) tokens scored.*/\1/' <<< "$line")
  seconds=$(sed -E 's/.*, ([0-9.]+)s\)$/\1/' <<< "$line")
  row "$L" "$params" evaluate "${windows:-?} windows" "$tokens" "$seconds" "$work/time-evaluate-$L.txt"
done
echo "results: $results"
