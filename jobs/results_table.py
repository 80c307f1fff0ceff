"""Prints the Markdown table of docs/RESULTS.md from the reports jobs/results.sh wrote (standard library only).

Per criterion, <out>/<criterion> is the demo pipeline's run (base, pruned, recovered by distillation) and
<out>/<criterion>-instructions the reference recovery of the same pruned model (LoRA, LM loss, instructions).
"""
import json
import os
import sys

out, criteria = sys.argv[1], sys.argv[2:]


def models(run):
    with open(os.path.join(run, "report", "report.json")) as f:
        return json.load(f)["models"]


def recover_seconds(run):
    with open(os.path.join(run, "run.json")) as f:
        return json.load(f)["stage_seconds"]["recover"]


rows = []
columns = None
for c in criteria:
    run, ref = os.path.join(out, c), os.path.join(out, c + "-instructions")
    labelled = []
    for m in models(run):
        if m["name"] == "base" and c == criteria[0]:
            labelled.append(("base (unpruned)", "", m))
        elif m["name"] == "pruned":
            labelled.append((c + ", w/o tune", "", m))
    for m in models(ref):
        labelled.append((c + ", LoRA on instructions (reference)", f"{recover_seconds(ref):.0f}", m))
    for m in models(run):
        if m["name"] == "recovered":
            labelled.append((c + ", distillation on text (demo)", f"{recover_seconds(run):.0f}", m))
    for label, seconds, m in labelled:
        ppl = dict(m["perplexities"])
        acc = {t["task"]: t["accNorm"] if t["reportedMetric"] == "ACC_NORM" else t["acc"] for t in m["tasks"]}
        columns = columns or (list(ppl), list(acc))
        rows.append((label, m["parameters"], ppl, acc, seconds))
ppl_cols, acc_cols = columns
print("| model | parameters | " + " | ".join(p + " PPL ↓" for p in ppl_cols) + " | "
      + " | ".join(a + " acc ↑" for a in acc_cols) + " | average acc | recovery s |")
print("|---|---:|" + "---:|" * (len(ppl_cols) + len(acc_cols) + 2))
for label, params, ppl, acc, seconds in rows:
    avg = sum(acc[a] for a in acc_cols) / len(acc_cols)
    print(f"| {label} | {params:,} | " + " | ".join(f"{ppl[p]:.2f}" for p in ppl_cols) + " | "
          + " | ".join(f"{100 * acc[a]:.2f}" for a in acc_cols) + f" | {100 * avg:.2f} | {seconds} |")
