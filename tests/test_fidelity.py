"""Issue 20's fidelity items: every sentence true to the papers (../shared/PAPERS.md), every number from a real run.

Tiny nets (depth 8-14, width 0.25, 8x8 inputs), one batch: the whole file costs a few seconds on one thread.
"""
import dataclasses
import re
from pathlib import Path

import pytest
import torch

from explorer.analysis.ablation import BARELY, delete_random_units, deletion_summary
from explorer.analysis.highway import gradient_split, highway_summary, shortcut_kind, unit_gradients
from explorer.classroom.lessons import LESSONS, lesson
from explorer.classroom.questions import figure6_question
from explorer.data.config import DataConfig
from explorer.figures.classroom import class_figure6, final_medians
from explorer.figures.papers import degradation_note
from explorer.figures.why import highway_chart
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig
from explorer.training import experiments as X
from explorer.training.engine import build_models
from explorer.training.recipes import TrainConfig, train_config_for

pytestmark = pytest.mark.usefixtures("torch_one_thread")
PAPERS = Path(__file__).resolve().parents[2] / "shared" / "PAPERS.md"
TINY = dict(in_channels=1, input_size=8, width=0.25)


def _facts() -> str:
    if not PAPERS.is_file():
        pytest.skip("the shared PAPERS.md is not beside this checkout")
    return PAPERS.read_text(encoding="utf-8")


def _numbers_in(text: str) -> set:
    return set(re.findall(r"\d+\.\d+", text))


def _net(seed: int = 0, **fields) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(ModelConfig(**{"depth": 14, **TINY, **fields}))


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(32, 1, 8, 8, generator=g), torch.randint(0, 10, (32,), generator=g)


# ----------------------------------------------------------------------------- 1. the gradient highway
@pytest.mark.parametrize("shortcut, down", [("A", "zero-pad"), ("B", "projection")])
def test_only_identity_shortcuts_are_the_1_and_downsampling_ones_are_their_own_kind(batch, shortcut, down):
    net = _net(shortcut=shortcut)
    kinds = [shortcut_kind(u) for _, u in net.units()]
    assert kinds == ["identity", "identity", down, "identity", down, "identity"]
    parts = unit_gradients(net, *batch)
    for (s, _, arriving, kind, zero), expected in zip(parts.values(), kinds, strict=True):
        assert kind == expected and not zero
        assert torch.equal(s, arriving) == (kind == "identity")  # only the identity passes dL/dz back unchanged
    rows = gradient_split(net, *batch)
    for row, (s, b, _, _, _) in zip(rows, parts.values(), strict=True):
        total = s + b
        assert row["share"] == pytest.approx(float(s.norm() / total.norm()), rel=1e-5)  # |s| / |dL/dx|
        assert row["rms"] == pytest.approx(float(total.norm()) / total.numel() ** 0.5, rel=1e-5)
    text = highway_summary({"resnet-14": rows})
    assert "at its 4 identity shortcuts (Eq. 5's \"1\")" in text
    assert "at its 2 " + ("downsampling shortcuts (option A" if down == "zero-pad" else "projection shortcuts") in text
    assert "per element (RMS)" in text and "|shortcut part| / |∂L/∂x|" in text
    first_last = rows[0]["rms"] / rows[-1]["rms"]
    assert f"{first_last:.2g}×" in text
    labels = {t.name for t in highway_chart({"at initialisation": {"resnet-14": rows}}).data}
    assert 'resnet-14: through the identity shortcut (the "1")' in labels
    assert any(down.split("-")[0] in label for label in labels)


def test_zero_init_at_initialisation_is_said_to_be_the_starting_point_not_the_highway(batch):
    rows = gradient_split(_net(zero_init_residual=True), *batch)
    assert all(r["branch_zero"] and r["branch"] == 0 for r in rows)
    text = highway_summary({"resnet-14": rows})
    assert "outputs exactly zero" in text and "by construction" in text and "100%" not in text


def test_the_original_unit_is_not_said_to_carry_the_gradient_unchanged_across_units(batch):
    original = highway_summary({"r": gradient_split(_net(placement="original"), *batch)})
    preact = highway_summary({"r": gradient_split(_net(placement="full_preact"), *batch)})
    assert "not across units" in original and "not across units" not in preact
    why = lesson("why")
    assert lesson("why").spec(DataConfig("digits"), TrainConfig()).models[1][1].placement == "original"
    assert "not carried unchanged" in " ".join(why.look_at) and "breaks it between units" in why.checks[1].why


# ----------------------------------------------------------------------------- 2. zero-init confounds
def test_every_lesson_compares_nets_under_one_init_rule_or_says_what_differs():
    data, train = DataConfig("digits"), TrainConfig(epochs=1)
    for x in LESSONS:
        spec = x.spec(data, train)
        rules = {c.zero_init_residual for _, c in spec.models}
        if len(rules) > 1:  # only Figure 6 zeroes its ResNets' branches: its text says so
            assert x.key == "degradation" and X.FIGURE6_INIT_NOTE in x.experiment
    fix = lesson("fix").spec(data, train)  # "the same starting weights": true, tensor for tensor
    narrow = [(n, dataclasses.replace(c, width=0.25)) for n, c in fix.models]  # the same rules, fewer weights
    plain, resnet = build_models(narrow, 0).values()
    assert not fix.models[1][1].zero_init_residual
    assert all(torch.equal(v, resnet.state_dict()[k]) for k, v in plain.state_dict().items())


def test_a_comparison_zero_inits_every_net_or_none_and_says_so():
    base = ModelConfig(depth=8, zero_init_residual=True)
    data, train = DataConfig("digits", train_subset=64), TrainConfig(epochs=1)
    mixed = X.compare(base, data, train, placements=["original", "relu_before_add", "full_preact"])
    assert {c.zero_init_residual for _, c in mixed.models} == {False}
    note = X.compare_init_note(base, ["original", "relu_before_add", "full_preact"])
    assert note is not None and "relu_before_add" in note and "off for every net" in note
    fits = X.compare(base, data, train, placements=["original", "full_preact"])
    assert {c.zero_init_residual for _, c in fits.models} == {True}
    assert X.compare_init_note(base, ["original", "full_preact"]) is None
    assert "no shortcut" in X.compare_init_note(base, shortcuts=["none", "A"])


# ----------------------------------------------------------------------------- 3. degradation's scale
def test_the_scale_of_degradation_is_shown_beside_the_papers_numbers():
    facts = _facts()
    ours = degradation_note({"plain-20": 0.018, "resnet-20": 0.01, "plain-56": 0.647, "resnet-56": 0.003}, "digits")
    assert "plain-20 ends at 1.8%" in ours and "plain-56 at 64.7%" in ours and "exaggerates" in ours
    assert "10.08 → 15.39 % (techxzen)" in ours and "9.5 → 12.76 % (a-martyn)" in ours
    assert _numbers_in(ours) - {"1.8", "64.7", "62.9"} <= _numbers_in(facts)
    mild = degradation_note({"plain-20": 0.08, "plain-56": 0.11}, "cifar10")
    assert "exaggerates" not in mild and degradation_note({"plain-20": 0.1}, "digits") is None
    home = Path(__file__).resolve().parents[1].joinpath("pages", "home.py").read_text(encoding="utf-8")
    first = lesson("degradation")
    for text in (home, " ".join(v for pair in first.paper for v in pair)):
        assert {"10.08", "15.39", "12.76"} <= _numbers_in(text)
    assert "mildly worse" in home and any("Mind the scale" in s for s in first.look_at)


# ----------------------------------------------------------------------------- 4. the class's Figure 6
def _sweep(seed: int, dataset: str = "digits", epochs: int = 15) -> dict:
    return X.figure6(DataConfig(dataset), train_config_for(dataset, seed=seed, epochs=epochs)).to_dict()


def test_the_class_figure_pools_only_like_with_like():
    specs = {"a": _sweep(1), "b": _sweep(2), "c": _sweep(3, epochs=5), "d": _sweep(4, "mnist"), "e": {"kind": 1}}
    pools = X.like_with_like(specs)
    assert pools[0].ids == ("a", "b")  # the largest pool first
    assert {g.ids for g in pools} == {("a", "b"), ("c",), ("d",)}  # seeds pool; epochs and datasets do not
    assert pools[0].label.startswith("digits, 15 epochs, batch 64") and pools[0].epochs == 15
    curves = {"plain-20": [[{"epoch": 1, "train_error": 0.5}, {"epoch": 15, "train_error": 0.1}],
                           [{"epoch": 1, "train_error": 0.4}, {"epoch": 15, "train_error": 0.3}],
                           [{"epoch": 1, "train_error": 0.9}]]}  # the third was cut short: it never counts
    assert final_medians(curves, epochs=15) == [("plain-20", pytest.approx(0.2), 2)]
    fig = class_figure6(curves, pool=pools[0].label, others=2)
    assert pools[0].label in fig.layout.title.text and "2 sweeps of another dataset or recipe" in fig.layout.title.text


def test_the_classroom_reads_each_experiments_spec_for_pooling(tmp_path):
    from explorer.classroom.classes import Classroom
    from explorer.store.runstore import RunStore
    store = RunStore(tmp_path / "runs")
    room = Classroom(store)
    try:
        ids = [store.create_experiment(_sweep(s), [{"name": "plain-20", "model": {}}], owner="ann") for s in (1, 2)]
        specs = room.experiment_specs(ids)
        assert set(specs) == set(ids) and specs[ids[0]]["train"]["seed"] == 1
        assert [g.ids for g in X.like_with_like(specs)] == [tuple(sorted(ids))]
        assert room.experiment_specs([]) == {}
    finally:
        room.close_engines()
        store.close()


# ----------------------------------------------------------------------------- 5. ensembles of paths
def test_deleting_a_unit_is_worded_from_the_nets_own_numbers(batch):
    rows = delete_random_units(_net(depth=8), *batch, draws=2)  # a real (untrained) net's own numbers
    text = deletion_summary("resnet-8", rows)
    assert f"{100 * rows[0]['mean']:.1f}% with nothing deleted" in text
    worst = rows[1]["high"] - rows[0]["mean"]
    assert ("barely changes" in text and "Veit" in text) == (worst <= BARELY)
    broke = [{"k": 0, "mean": 0.031, "low": 0.031, "high": 0.031}, {"k": 1, "mean": 0.40, "low": 0.03, "high": 0.755}]
    said = deletion_summary("resnet-20", broke)
    assert "barely" not in said and "worst 75.5%" in said and "does not behave like" in said
    assert "a plain net breaks, as Veit et al. 2016 found" in deletion_summary("plain-20", broke, plain=True)
    assert "barely changes" in deletion_summary("r", [broke[0], {"k": 1, "mean": 0.035, "low": 0.03, "high": 0.04}])


# ----------------------------------------------------------------------------- 6. the take-home script
def test_the_take_home_script_is_deterministic_by_default_on_the_cpu():
    from explorer.training.takehome import reproducible
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        reproducible(torch.device("cpu"))
        assert torch.get_num_threads() == 1
        reproducible(torch.device("cpu"), threads=3)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)
    import inspect

    from explorer.training import takehome
    main = inspect.getsource(takehome.main)  # the script's main is this source (explorer.training.export bundles it)
    assert '"--threads", type=int, default=1' in main and "reproducible(torch.device(args.device), args.threads)" \
        in main


# ----------------------------------------------------------------------------- 7. smaller texts
def test_the_figure6_question_says_the_recipes_length_and_lesson_4_keeps_to_what_was_tested():
    facts = _facts()
    assert "after 15 epochs" in figure6_question(train_config_for("digits"))
    assert "after 30 epochs" in figure6_question(train_config_for("cifar10"))
    assert "after 2,000 steps" in figure6_question(dataclasses.replace(TrainConfig(), steps=2000))
    four = lesson("placement")
    said = " ".join(four.look_at) + " " + four.checks[1].question + " " + four.checks[1].why
    assert "did not test" in said and "not at 20 layers" in said
    assert _numbers_in(said) <= _numbers_in(facts)
    assert "At 20 layers the differences are noise" in facts  # the claim restated is Gross & Wilber's own
