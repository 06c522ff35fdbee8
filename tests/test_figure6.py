"""The headline claim, end to end: the sweep's defaults on the built-in digits show the degradation problem
(He et al. 2015, Figure 6): a deeper plain net trains worse, a deeper ResNet does not.

One seed here (about one to two minutes on 2 cores); benchmarks/figure6_seeds.py checks five and
docs/engine.md records them.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_default_sweep_shows_degradation_and_the_fix(tmp_path):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "explorer", "sweep", "--depths", "20,56", "--seed", "0",
                          "--runs-dir", str(tmp_path), "--json"], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = {r["name"]: r for r in json.loads(out.stdout)["runs"]}
    assert set(runs) == {"plain-20", "resnet-20", "plain-56", "resnet-56"}
    err = {name: r["final"]["train_error"] for name, r in runs.items()}
    assert all(r["status"] == "completed" and r["epochs"] == 15 for r in runs.values())
    assert err["plain-56"] >= err["plain-20"] + 0.10, err  # degradation
    assert err["resnet-56"] <= err["resnet-20"], err  # the shortcut removes it
