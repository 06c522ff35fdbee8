"""The take-home script's nets are the app's nets, for every placement x shortcut x block in the registries: the
exported script, imported as a module, builds the same state_dict names and initial weights and gives the same
outputs on the same weights. Entries registered at test time (tests/takehome_extras.py) reach the script and train
there as in the app. Stored names enter the script only as Python literals.
"""
import importlib.util
import io
import sys
import tokenize

import pytest
import takehome_extras as extras
import torch

from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset
from explorer.nets import kinds
from explorer.nets.config import ModelConfig
from explorer.training.engine import build_models, train_models
from explorer.training.experiments import ExperimentSpec
from explorer.training.export import export_script
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def load_script(text: str, folder, monkeypatch, name: str = "takehome_script"):
    """The exported script as a module (imported, not run: `main` runs only as __main__)."""
    path = folder / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def assert_same_nets(named, script, seed: int = 3) -> None:
    """Same names and initial weights (twins included), and the same outputs once given the same random weights."""
    ours, theirs = build_models(named, seed), script.build_models(script.the_experiment().models, seed)
    assert list(theirs) == [n for n, _ in named]
    for name, cfg in named:
        a, b = ours[name].state_dict(), theirs[name].state_dict()
        assert list(a) == list(b), name  # the app's checkpoints load into the script's nets
        assert all(torch.equal(a[k], b[k]) for k in a), name
        with torch.no_grad():
            for tensor in a.values():
                if tensor.is_floating_point():
                    tensor.uniform_(0.5, 1.5)  # every weight and BN statistic non-trivial (zeroed branches too)
        theirs[name].load_state_dict(a)
        x = torch.randn(2, cfg.in_channels, cfg.input_size, cfg.input_size)
        for train_mode in (False, True):
            ours[name].train(train_mode), theirs[name].train(train_mode)
            torch.testing.assert_close(theirs[name](x), ours[name](x), rtol=0, atol=0, msg=f"{name} ({train_mode})")


def every_net(block: str) -> list:
    return [(f"{block}-{s}-{p}", ModelConfig(block=block, shortcut=s, placement=p, stage_blocks=(1, 2, 1),
                                              width=0.25, input_size=8))
            for s in kinds.SHORTCUTS for p in kinds.PLACEMENTS]


def compare(named) -> ExperimentSpec:
    return ExperimentSpec("compare", tuple(named), DataConfig("cifar10"), TrainConfig(epochs=1))


@pytest.mark.parametrize("block", list(kinds.BLOCKS))
def test_every_placement_and_shortcut_builds_the_same_net_in_the_script(block, tmp_path, monkeypatch):
    named = every_net(block)
    script = load_script(export_script(compare(named)), tmp_path, monkeypatch)
    assert_same_nets(named, script)
    assert set(script.BLOCKS) == {block}  # only what this experiment uses
    assert set(script.PLACEMENTS) == set(kinds.PLACEMENTS) and set(script.SHORTCUTS) == set(kinds.SHORTCUTS)


def test_a_placement_and_a_shortcut_registered_at_test_time_reach_the_script_and_train_there(tmp_path, monkeypatch):
    extras.register(monkeypatch)
    cfg = ModelConfig(depth=8, placement=extras.PLACEMENT_NAME, shortcut=extras.SHORTCUT_NAME, in_channels=1,
                      input_size=8, zero_init_residual=True)
    named = [("plain-8", cfg.plain()), ("resnet-8-D", cfg), ("resnet-8-B", ModelConfig(depth=8, shortcut="B",
                                                                                        in_channels=1, input_size=8))]
    recipe = TrainConfig(epochs=1, batch_size=128, seed=5, device="cpu")
    spec = ExperimentSpec("compare", tuple(named), DataConfig("digits"), recipe)
    text = export_script(spec, title="extras")
    assert repr(extras.PLACEMENT_NAME) in text and "class AvgPoolShortcut" in text
    script = load_script(text, tmp_path, monkeypatch)
    assert set(script.PLACEMENTS) == {"original", extras.PLACEMENT_NAME}
    assert set(script.SHORTCUTS) == {"none", "B", extras.SHORTCUT_NAME}
    assert_same_nets(named, script)
    home, _ = script.train(script.the_experiment(), torch.device("cpu"), log=lambda line: None)
    app = train_models(build_models(named, recipe.seed), load_dataset(spec.data), recipe)
    for name, _ in named:
        final = app[name].final
        assert final is not None and home[name]["epoch"] == app[name].epochs == 1
        assert abs(home[name]["train_error"] - final["train_error"]) <= 0.01, name
        assert abs(home[name]["test_error"] - final["test_error"]) <= 0.02, name


def test_stored_names_enter_the_script_only_as_literals(tmp_path, monkeypatch):
    evil = 'a\nraise SystemExit("the name ran")\n#'
    title = '"""\nraise SystemExit("the title ran")\n"""'
    cfg = ModelConfig(depth=8, input_size=8)
    text = export_script(compare([(evil, cfg), ("plain", cfg.plain())]), title=title,
                         finals={evil: {"train_error": 0.5, "test_error": 0.5, "note": "\n#"}})
    script = load_script(text, tmp_path, monkeypatch)
    exp = script.the_experiment()
    assert exp.id == title and [n for n, _ in exp.models] == [evil, "plain"]
    assert exp.app_finals == {evil: {"train_error": 0.5, "test_error": 0.5}}
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    assert not any(t.string == "SystemExit" for t in tokens if t.type == tokenize.NAME)  # only inside strings
    assert not any("name ran" in t.string or "title ran" in t.string for t in tokens if t.type == tokenize.COMMENT)


def test_a_digits_script_holds_only_what_its_experiment_uses(tmp_path, monkeypatch):
    cfg = ModelConfig(depth=8, in_channels=1, input_size=8)
    spec = ExperimentSpec("twin", (("plain-8", cfg.plain()), ("resnet-8", cfg)), DataConfig("digits"), TrainConfig())
    text = export_script(spec)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 130  # the library's own lines, as its source has them
    start = lines.index('DATA_BLOCK = """')
    assert all(len(line) <= 76 for line in lines[start + 1:]) and start > len(lines) // 3  # the data comes last
    top = next(i for i, line in enumerate(lines) if line.startswith("def the_experiment("))
    experiment = lines[top: top + 40]
    assert max(len(line) for line in experiment) <= 120  # what the export writes itself
    assert "import torchvision" not in text  # no download code
    script = load_script(text, tmp_path, monkeypatch)
    assert set(script.PLACEMENTS) == {"original"} and set(script.BLOCKS) == {"basic"}
    assert not hasattr(script, "Bottleneck") and not hasattr(script, "load_cifar10")
    exp = script.the_experiment()
    assert exp.models == [("plain-8", cfg.plain()), ("resnet-8", cfg)] or [
        (n, c.to_dict()) for n, c in exp.models] == [("plain-8", cfg.plain().to_dict()), ("resnet-8", cfg.to_dict())]
    x_train, y_train, x_test, y_test = exp.load(exp, "unused")
    data = load_dataset(spec.data)
    assert torch.equal(x_train, data.x_train) and torch.equal(y_test, data.y_test)  # the app's exact split


def test_an_uploaded_folder_goes_in_as_its_exact_split_with_its_class_names_as_literals(tmp_path, monkeypatch):
    from explorer.data.datasets import Dataset
    from explorer.nets.preprocessing import Preprocessing
    classes = ['cat"""\nraise SystemExit("a class ran")\n#', "dog"]
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (12, 3, 32, 32), generator=gen, dtype=torch.uint8)
    y = torch.tensor([0, 1] * 6)
    data = Dataset("folder", x[:8], y[:8], x[8:], y[8:], Preprocessing.from_dict({
        "dataset": "folder", "classes": classes, "num_classes": 2, "in_channels": 3, "input_size": 32,
        "scale": 255.0, "mean": [0.5] * 3, "std": [0.25] * 3, "augment": {"pad": 4, "flip": True},
        "path": "/srv/uploads/secret", "skipped": 0}))
    cfg = ModelConfig(depth=8, num_classes=2, width=0.25)
    spec = ExperimentSpec("single", (("resnet-8", cfg),), DataConfig("folder", path="/srv/uploads/secret"),
                          TrainConfig(epochs=1))
    text = export_script(spec, data=data)
    assert "/srv/uploads" not in text  # server paths mean nothing at home
    exp = load_script(text, tmp_path, monkeypatch).the_experiment()
    assert exp.preprocessing["classes"] == classes
    x_train, y_train, x_test, y_test = exp.load(exp, "unused")
    assert torch.equal(x_train, data.x_train) and torch.equal(y_train, data.y_train)
    assert torch.equal(x_test, data.x_test) and torch.equal(y_test, data.y_test)


def test_the_bundle_refuses_code_that_needs_more_than_torch():
    from explorer.training.bundle import Bundle, BundleError
    with pytest.raises(BundleError, match="numpy"):
        Bundle().need("takehome_extras", "numpy_mean")
