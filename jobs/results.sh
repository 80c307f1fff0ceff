#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: the demo model pruned to 80% of its parameters with each importance criterion,
# evaluated without recovery, after the demo's recovery (distillation from the unpruned model on training-split
# text, conf/demo.conf) and after LLM-Pruner's reference recovery (LoRA with the LM loss on Alpaca instructions).
#   jobs/results.sh [OUT_DIR]     (default work/results; about 35 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/work/results}"
mkdir -p "$out"
cd "$root"
criteria=(random l2 vectorize param_first param_mix)
# The reference setting: LLM-Pruner's recovery data and loss, at the demo's step count.
reference=(--set recover.data.kind=instructions --set recover.data.path=data/instructions.json
           --set recover.data.format=json --set recover.objective=lm --set recover.train.learning-rate=2e-4)
first=1
for criterion in "${criteria[@]}"; do
  run="$out/$criterion"
  if [ ! -f "$run/report/report.json" ]; then
    bin/spruce pipeline -c conf/demo.conf \
      --set importance.criterion="$criterion" \
      --set output.dir="$run" \
      --set pipeline.evaluate-base=$([ $first = 1 ] && echo true || echo false) \
      > "$out/$criterion.log" 2>&1
  fi
  ref="$out/$criterion-instructions"
  if [ ! -f "$ref/report/report.json" ]; then
    bin/spruce recover -c conf/demo.conf --set output.dir="$ref" --set recover.model="$run/model" \
      "${reference[@]}" > "$out/$criterion-instructions.log" 2>&1
    bin/spruce evaluate -c conf/demo.conf --set output.dir="$ref" --set 'evaluate.generation.prompts=[]' \
      --model "instructions=$ref/recover/merged" >> "$out/$criterion-instructions.log" 2>&1
  fi
  first=0
done
python3 jobs/results_table.py "$out" "${criteria[@]}"
