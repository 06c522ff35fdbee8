"""Take it home: the exported script (torch and torchvision only) rebuilds the same nets as the app, and, run in a
fresh process that cannot import this project, retrains a digits twin to the app's final training error (CPU, same
seed, within 0.01).
"""
import ast
import json
import os
import subprocess
import sys

import pytest
import torch

from explorer.data.config import DataConfig
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig, preset
from explorer.training import experiments, takehome
from explorer.training.engine import build_models
from explorer.training.export import export_script
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")
ALLOWED_IMPORTS = {"argparse", "base64", "dataclasses", "gzip", "json", "math", "os", "time", "zlib", "torch",
                   "torchvision"}

CONFIGS = [  # a twin, every placement and shortcut, bottlenecks, zero-init, explicit stages, an ImageNet stem
    [("plain-20", ModelConfig(shortcut="none", in_channels=1, input_size=8)),
     ("resnet-20", ModelConfig(shortcut="A", in_channels=1, input_size=8))],
    [(f"{p}-{s}", ModelConfig(depth=8, shortcut=s, placement=p, zero_init_residual=z))
     for p, s, z in (("original", "B", True), ("no_final_relu", "C", True), ("bn_after_add", "A", False),
                     ("relu_before_add", "none", False), ("relu_preact", "B", True), ("full_preact", "A", True),
                     ("full_preact", "C", False))],
    [("bottleneck", preset("preact_resnet164", stage_blocks=(1, 2, 1), width=0.5)),
     ("xavier", ModelConfig(depth=14, init="xavier", norm="none", width=0.25))],
    [("resnet18", preset("resnet18", input_size=32, num_classes=5, width=0.25))],
]


@pytest.mark.parametrize("named", CONFIGS, ids=["twin", "placements", "bottleneck-xavier", "imagenet"])
def test_the_scripts_nets_are_the_apps_nets(named):
    ours = build_models(named, seed=3)
    theirs = takehome.build_models([{"name": n, "model": c.to_dict()} for n, c in named], seed=3)
    for name, cfg in named:
        a, b = ours[name].state_dict(), theirs[name].state_dict()
        assert list(a) == list(b), name  # the same names, so the app's checkpoints load into the script's nets
        assert all(torch.equal(a[k], b[k]) for k in a), name  # the same initial weights, twins included
        x = torch.randn(2, cfg.in_channels, cfg.input_size, cfg.input_size)
        ours[name].eval(), theirs[name].eval()
        torch.testing.assert_close(theirs[name](x), ours[name](x), rtol=0, atol=0)


def _imports(source: str) -> set:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((node.module or "").split(".")[0])
    return found


def test_the_exported_script_retrains_a_digits_twin_to_the_apps_error_in_a_fresh_process(store, tmp_path):
    recipe = TrainConfig(epochs=3, batch_size=64, lr=0.1, schedule="cosine", warmup_epochs=1.0, seed=7, device="cpu")
    spec = experiments.twin(ModelConfig(depth=8, in_channels=1, input_size=8), DataConfig("digits"), recipe)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner="someone", spec_hash=spec.spec_hash())
    exp = run_experiment(store, exp_id)
    assert exp.status == "completed"
    finals = {r.name: r.final.to_dict() for r in store.load_experiment(exp_id).runs}
    text = export_script(spec, finals=finals, title=exp_id)
    assert _imports(text) <= ALLOWED_IMPORTS
    from explorer.cli import main  # the same script from the command line
    assert main(["export", exp_id, "-o", str(tmp_path / "cli.py"), "--runs-dir", str(store.root)]) == 0
    assert (tmp_path / "cli.py").read_text() == text
    assert main(["export", "20990101-000000-nothere", "--runs-dir", str(store.root)]) == 2
    assert "The app's final errors for resnet-8" in text
    script = tmp_path / "home" / "retrain.py"
    script.parent.mkdir()
    script.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the project is not on the path...
    env["OMP_NUM_THREADS"] = "1"
    blocker = ("import runpy, sys; sys.modules['explorer'] = None; sys.argv = ['retrain.py', '--json', 'out.json'];"
               "runpy.run_path('retrain.py', run_name='__main__')")  # ...and importing it would fail
    done = subprocess.run([sys.executable, "-c", blocker], cwd=script.parent, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    home = json.loads((script.parent / "out.json").read_text())
    assert set(home) == set(finals) == {"plain-8", "resnet-8"}
    for name, app in finals.items():
        print(name, "app", app, "home", home[name])
        assert home[name]["epoch"] == 3
        assert abs(home[name]["train_error"] - app["train_error"]) <= 0.01, (name, home[name], app)
        assert abs(home[name]["test_error"] - app["test_error"]) <= 0.02, (name, home[name], app)


def test_the_template_alone_refuses_to_run_and_torchvision_data_is_not_embedded():
    spec = experiments.twin(ModelConfig(depth=8), DataConfig("cifar10", train_subset=100), TrainConfig())
    text = export_script(spec)
    assert "EMBEDDED_DATA = None" in text and len(text) < 40_000  # CIFAR-10 comes from torchvision at home
    line = next(l for l in text.splitlines() if l.startswith("EXPERIMENT = json.loads("))
    written = json.loads(ast.literal_eval(line[len("EXPERIMENT = json.loads("):-1]))
    assert written["data"]["train_subset"] == 100 and written["models"] == spec.to_dict()["models"]
    with pytest.raises(SystemExit):
        takehome.main([])  # the unfilled template says to download a filled-in one
