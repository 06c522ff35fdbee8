"""Take it home: the exported script (torch and torchvision only) rebuilds the same nets as the app, and, run in a
fresh process that cannot import this project, retrains a digits twin to the app's final training error (CPU, same
seed, within 0.01). tests/test_takehome_parity.py checks every registry entry.
"""
import ast
import json
import os
import subprocess
import sys

import pytest
from test_takehome_parity import assert_same_nets, load_script

from explorer.data.config import DataConfig
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig, preset
from explorer.training import experiments
from explorer.training.experiments import ExperimentSpec
from explorer.training.export import export_script
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")
ALLOWED_IMPORTS = {"__future__", "argparse", "base64", "collections", "dataclasses", "json", "lzma", "math", "os", "re",
                   "time", "typing", "torch", "torchvision"}

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
def test_the_scripts_nets_are_the_apps_nets(named, tmp_path, monkeypatch):
    spec = ExperimentSpec("compare", tuple(named), DataConfig("cifar10"), TrainConfig())
    assert_same_nets(named, load_script(export_script(spec), tmp_path, monkeypatch))  # names, init, outputs


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
    assert "resnet-8: train error" in done.stdout and "(the app: train" in done.stdout  # quoted to compare
    home = json.loads((script.parent / "out.json").read_text())
    assert set(home) == set(finals) == {"plain-8", "resnet-8"}
    for name, app in finals.items():
        print(name, "app", app, "home", home[name])
        assert home[name]["epoch"] == 3
        assert abs(home[name]["train_error"] - app["train_error"]) <= 0.01, (name, home[name], app)
        assert abs(home[name]["test_error"] - app["test_error"]) <= 0.02, (name, home[name], app)


def test_torchvision_data_is_not_embedded_and_the_experiment_is_python_values(tmp_path, monkeypatch):
    spec = experiments.twin(ModelConfig(depth=8), DataConfig("cifar10", train_subset=100), TrainConfig())
    text = export_script(spec)
    assert 'DATA_BLOCK = """\n"""' in text and len(text) < 80_000  # CIFAR-10 comes from torchvision at home
    assert "ModelConfig(depth=8, shortcut='none')" in text and "json.loads" not in text
    script = load_script(text, tmp_path, monkeypatch)
    exp = script.the_experiment()
    assert exp.subsets == (100, None) and exp.load.__name__ == "load_cifar10"
    assert not hasattr(script, "load_mnist") and not hasattr(script, "unpack")  # only this dataset's loader
    assert [(n, c.to_dict()) for n, c in exp.models] == [(n, c.to_dict()) for n, c in spec.models]
