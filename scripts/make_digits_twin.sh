#!/usr/bin/env bash
# Regenerate the shipped digits twin (assets/digits_twin/): a plain-20 and a ResNet-20 trained in lockstep
# on scikit-learn's built-in digits with the project's own CLI and its default digits recipe.
#   usage: scripts/make_digits_twin.sh            (from anywhere; takes a minute or two on a laptop CPU)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
OUT="$ROOT/assets/digits_twin"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export OMP_WAIT_POLICY=PASSIVE  # idle OpenMP threads sleep instead of spinning (shared CPUs)
CMD=(-m explorer train --preset resnet20 --compare-plain --dataset digits --seed 0 --device cpu
     --runs-dir "$TMP/runs" --json)
cd "$ROOT"
"$PY" "${CMD[@]}" > "$TMP/report.json"
mkdir -p "$OUT"
"$PY" - "$TMP/report.json" "$TMP/runs" "$OUT" "python ${CMD[*]/$TMP\/runs/<tmp>}" <<'PY'
import json, shutil, sys, time
from pathlib import Path
import torch

report_path, runs, out, command = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
report = json.loads(Path(report_path).read_text())
if report["status"] != "completed":
    sys.exit(f"training ended as {report['status']}: {report.get('message')}")
rows = []
exp_id = report["experiment"]
spec = json.loads((runs / exp_id / "experiment.json").read_text())["spec"]
(out / "spec.json").write_text(json.dumps(spec, indent=1))  # the exact recipe, read back on import
t = spec["train"]
for run in report["runs"]:
    run_id = run["id"].split("/")[1]
    src = runs / exp_id / run_id
    shutil.copyfile(src / "final.pt", out / f"{run['name']}.pt")
    shutil.copyfile(src / "init.pt", out / f"{run['name']}.init.pt")  # for the 1-D landscape line
    shutil.copyfile(src / "metrics.jsonl", out / f"{run['name']}.metrics.jsonl")  # for gradient flow
    f = run["final"]
    rows.append(f"| {run['name']} | {run['epochs']} | {100 * f['train_error']:.2f} % | {100 * f['test_error']:.2f} % |")
readme = f"""# The shipped digits twin

`plain-20.pt` and `resnet-20.pt` are a plain-20 and a ResNet-20 (He et al. 2015, CIFAR-style, shortcut A)
trained together in lockstep on scikit-learn's 1,797 built-in 8x8 handwritten digits (80/20 stratified split,
seed 0), with the project's default digits recipe: {t['optimizer'].upper()} with momentum {t['momentum']}, learning
rate {t['lr']} with a {t['schedule']} schedule and {t['warmup_epochs']} warm-up epochs, weight decay {t['weight_decay']},
batch {t['batch_size']}, {t['epochs']} epochs, random 1-pixel shifts (spec.json has every field). Both start from the
same weights and see the same batches, so the only difference between them is the shortcut. Their initial weights
(`*.init.pt`) and recorded metrics (`*.metrics.jsonl`) ship too, so every Inspect view works on them offline.

They let the Explain and Inspect pages show something on a fresh, offline install. Each file is a ResNet Explorer
checkpoint (weights + model config + preprocessing) and loads with `torch.load(..., weights_only=True)`
(`explorer.checkpoints.shipped_twin()`).

| model | epochs | final train error | final test error |
|---|---|---|---|
{chr(10).join(rows)}

- Command: `{command}` (run by `scripts/make_digits_twin.sh`)
- Date: {time.strftime("%Y-%m-%d")}
- torch {torch.__version__}, on the CPU

Regenerate with `scripts/make_digits_twin.sh`; it overwrites these files.
"""
(out / "README.md").write_text(readme)
print(readme)
PY
