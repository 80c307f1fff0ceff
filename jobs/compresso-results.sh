#!/usr/bin/env bash
# Reproduces the Compresso section of docs/RESULTS.md on the bundled model, all at the parameter count the
# Compresso demo reaches: Compresso (conf/compresso-demo.conf) with the condensed collaborative prompt, with the
# Alpaca template, and on plain text; the evaluation with the prompt as a prefix; LLM-Pruner (param_first, budget
# mode at the same count) without recovery, with the demo's distillation and with LoRA on the instructions.
#   jobs/compresso-results.sh [OUT_DIR]     (default work/compresso-results; about 40 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/work/compresso-results}"
mkdir -p "$out"
cd "$root"
timed() { # name, command...: runs the command with its log and wall time in $out/<name>.{log,time}
  local name="$1"; shift
  if [ ! -f "$out/$name.time" ]; then
    local started; started=$(date +%s)
    "$@" > "$out/$name.log" 2>&1
    echo $(( $(date +%s) - started )) > "$out/$name.time"
  fi
}
noeval=(--set 'evaluate.generation.prompts=[]')
timed compresso bin/spruce pipeline -c conf/compresso-demo.conf --set output.dir="$out/compresso" "${noeval[@]}"
params=$(sed -n 's/^params_after=//p' "$out/compresso.log")
timed compresso-prefix bin/spruce evaluate -c conf/compresso-demo.conf --set output.dir="$out/compresso-prefix" \
  --set evaluate.prompt-prefix=conf/prompts/compresso-short-eval.txt "${noeval[@]}" \
  --model base=models/spruce-tiny --model "compresso=$out/compresso/model"
timed compresso-alpaca bin/spruce pipeline -c conf/compresso-demo.conf --set output.dir="$out/compresso-alpaca" \
  --set compresso.template=alpaca --set pipeline.evaluate-base=false "${noeval[@]}"
timed compresso-text bin/spruce pipeline -c conf/compresso-demo.conf --set output.dir="$out/compresso-text" \
  --set compresso.data.kind=text --set compresso.data.path=data/calibration.txt --set compresso.data.format=text \
  --set pipeline.evaluate-base=false "${noeval[@]}"
# LLM-Pruner at Compresso's parameter count; its pipeline recovers by distillation (the demo's recovery).
timed llm-pruner bin/spruce pipeline -c conf/demo.conf --set output.dir="$out/llm-pruner" \
  --set prune.target-fraction=0 --set prune.target-params="$params" --set pipeline.evaluate-base=false "${noeval[@]}"
timed llm-pruner-instructions bash -c "bin/spruce recover -c conf/demo.conf --set output.dir='$out/llm-pruner-instructions' \
  --set recover.model='$out/llm-pruner/model' --set recover.data.kind=instructions \
  --set recover.data.path=data/instructions.json --set recover.data.format=json --set recover.objective=lm \
  --set recover.train.learning-rate=2e-4 && bin/spruce evaluate -c conf/demo.conf \
  --set output.dir='$out/llm-pruner-instructions' --set 'evaluate.generation.prompts=[]' \
  --model 'instructions=$out/llm-pruner-instructions/recover/merged'"
for name in compresso compresso-prefix compresso-alpaca compresso-text llm-pruner llm-pruner-instructions; do
  echo "== $name ($(cat "$out/$name.time") s)"
  sed -n '/^model /,/^------/!{/^[a-z].*  /p}' "$out/$name.log" | grep -v '=' || true
done
