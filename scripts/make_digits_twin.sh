#!/usr/bin/env bash
# Regenerate the shipped digits twin (assets/digits_twin/): a plain-20 and a ResNet-20 trained in lockstep
# on scikit-learn's built-in digits with the project's own CLI and its default digits recipe.
#   usage: scripts/make_digits_twin.sh [20|56]    (from anywhere; 20 layers by default: a minute or two on a laptop
#          CPU; 56 layers, the twin Lessons 2 and 5 offer as their recorded result, goes to assets/digits_twin56/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DEPTH="${1:-20}"
case "$DEPTH" in 20) OUT="$ROOT/assets/digits_twin" ;; 56) OUT="$ROOT/assets/digits_twin56" ;;
  *) echo "usage: $0 [20|56]" >&2; exit 2 ;; esac
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export OMP_WAIT_POLICY=PASSIVE  # idle OpenMP threads sleep instead of spinning (shared CPUs)
CMD=(-m explorer train --preset "resnet$DEPTH" --compare-plain --dataset digits --seed 0 --device cpu
     --runs-dir "$TMP/runs" --json)
cd "$ROOT"
"$PY" "${CMD[@]}" > "$TMP/report.json"
mkdir -p "$OUT"
"$PY" - "$TMP/report.json" "$TMP/runs" "$OUT" "python ${CMD[*]/$TMP\/runs/<tmp>}" "$DEPTH" <<'PY'
import json, shutil, sys, time
from pathlib import Path
import torch

report_path, runs, out, command, depth = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5]
report = json.loads(Path(report_path).read_text())
if report["status"] != "completed":
    sys.exit(f"training ended as {report['status']}: {report.get('message')}")
from explorer.store.runstore import RunStore  # the run database the CLI wrote (the runs folder's runs.db)

store = RunStore(runs)
rows = []
exp_id = report["experiment"]
spec = store.load_experiment(exp_id).spec
(out / "spec.json").write_text(json.dumps(spec, indent=1))  # the exact recipe, read back on import
t = spec["train"]
for run in report["runs"]:
    run_id = run["id"].split("/")[1]
    shutil.copyfile(store.weights_path(exp_id, run_id), out / f"{run['name']}.pt")
    if depth == "20":  # the 20-layer twin also ships its initial weights, for Inspect's 1-D landscape line
        shutil.copyfile(store.weights_path(exp_id, run_id, "init"), out / f"{run['name']}.init.pt")
    with open(out / f"{run['name']}.metrics.jsonl", "w") as f:  # for gradient flow and the curves
        f.writelines(json.dumps(rec.to_dict()) + "\n" for rec in store.read_metrics(exp_id, run_id))
    f = run["final"]
    rows.append(f"| {run['name']} | {run['epochs']} | {100 * f['train_error']:.2f} % | {100 * f['test_error']:.2f} % |")
readme = f"""# The shipped digits twin ({depth} layers)

`plain-{depth}.pt` and `resnet-{depth}.pt` are a plain-{depth} and a ResNet-{depth} (He et al. 2015, CIFAR-style, shortcut A)
trained together in lockstep on scikit-learn's 1,797 built-in 8x8 handwritten digits (80/20 stratified split,
seed 0), with the project's default digits recipe: {t['optimizer'].upper()} with momentum {t['momentum']}, learning
rate {t['lr']} with a {t['schedule']} schedule and {t['warmup_epochs']} warm-up epochs, weight decay {t['weight_decay']},
batch {t['batch_size']}, {t['epochs']} epochs, random 1-pixel shifts (spec.json has every field). Both start from the
same weights and see the same batches, so the only difference between them is the shortcut. Their recorded metrics
(`*.metrics.jsonl`) ship too{", and their initial weights (`*.init.pt`)" if depth == "20" else ""}, so the Inspect
views work on them offline.

{"They let the Explain and Inspect pages show something on a fresh, offline install." if depth == "20" else
 "They are the recorded result Lessons 2 and 5 open when time is short (their own experiment, 56 layers)."} Each file is a ResNet Explorer
checkpoint (weights + model config + preprocessing) and loads with `torch.load(..., weights_only=True)`
(`explorer.store.shipped.shipped_twin()`).

| model | epochs | final train error | final test error |
|---|---|---|---|
{chr(10).join(rows)}

- Command: `{command}` (run by `scripts/make_digits_twin.sh`)
- Date: {time.strftime("%Y-%m-%d")}
- torch {torch.__version__}, on the CPU

Regenerate with `scripts/make_digits_twin.sh {depth}`; it overwrites these files.
"""
(out / "README.md").write_text(readme)
print(readme)
PY
