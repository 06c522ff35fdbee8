"""explorer.urlstate: the setup as a query string and back; nonsense is dropped with one sentence; no owner."""
import dataclasses
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from explorer.data.config import DATASETS
from explorer.nets import config as nets
from explorer.nets.config import ModelConfig
from explorer.training import recipes
from explorer.training.recipes import TrainConfig, train_config_for
from explorer.urlstate import (
    BATCH_SIZES,
    EPOCHS,
    EXPERIMENT_KINDS,
    LR,
    MODEL_KEYS,
    SEEDS,
    TRAIN_KEYS,
    WIDTHS,
    depth_options,
    from_query,
    to_query,
)

LINKED_DATASETS = [d for d in DATASETS if d != "folder"]  # a link never points at a folder on the server

MODEL = ModelConfig(depth=56, shortcut="B", placement="full_preact", width=0.5, zero_init_residual=True)
TRAIN = TrainConfig(epochs=2, batch_size=64, lr=0.05, schedule="cosine", optimizer="adamw", seed=3, device="cpu")


def _one_sentence(text):
    return text[:1].isupper() and text.endswith(".") and not re.search(r"\.\s+[A-Z]", text) and "\n" not in text


def test_round_trip_restores_the_setup():
    q = to_query("fashion_mnist", MODEL, TRAIN, kind="sweep")
    assert all(isinstance(v, str) for v in q.values())
    settings, problems = from_query(q)
    assert problems == []
    assert settings["dataset"] == "fashion_mnist" and settings["kind"] == "sweep"
    assert dataclasses.replace(ModelConfig(), **settings["model"]) == MODEL
    assert dataclasses.replace(TrainConfig(), **settings["train"]) == TRAIN


def test_defaults_make_a_short_link_and_lists_read_their_last_value():
    for dataset in LINKED_DATASETS:  # a link opens on the dataset's own recipe, so that recipe needs no words
        assert to_query(dataset, ModelConfig(), train_config_for(dataset)) == {"dataset": dataset, "kind": "twin"}
    settings, problems = from_query({"epochs": ["5", "2"]})  # repeated keys, as st.query_params may give
    assert settings["train"] == {"epochs": 2} and problems == []


@pytest.mark.parametrize("params,dropped", [
    ({"epochs": "0"}, "epochs"),
    ({"epochs": "two"}, "epochs"),
    ({"batch_size": "0"}, "batch_size"),
    ({"lr": "-1"}, "lr"),
    ({"lr": "nan"}, "lr"),
    ({"schedule": "sideways"}, "schedule"),
    ({"device": "abacus"}, "device"),
    ({"width": "wide"}, "width"),
    ({"zero_init_residual": "maybe"}, "zero_init_residual"),
    ({"dataset": "imagenet"}, "dataset"),
    ({"dataset": "folder"}, "dataset"),  # a link never points at a folder on the server
    ({"kind": "tournament"}, "kind"),
])
def test_nonsense_values_are_dropped_with_one_sentence_each(params, dropped):
    settings, problems = from_query({**params, "seed": "4"})
    assert len(problems) == 1 and _one_sentence(problems[0]), problems
    assert dropped in problems[0]
    assert settings["train"] == {"seed": 4}  # the valid field next to it survives
    assert dropped not in settings["model"] and dropped not in settings["train"]
    assert settings["dataset"] is None and settings["kind"] is None


def test_an_impossible_architecture_is_dropped_as_a_whole():
    settings, problems = from_query({"depth": "9", "shortcut": "B", "epochs": "3"})
    assert settings["model"] == {} and settings["train"] == {"epochs": 3}
    assert len(problems) == 1 and _one_sentence(problems[0]) and "6n+2" in problems[0]
    settings, problems = from_query({"depth": "-5"})
    assert settings["model"] == {} and len(problems) == 1


def test_the_url_never_carries_an_owner():
    q = to_query("digits", MODEL, TRAIN)
    assert set(q) <= {"dataset", "kind", *MODEL_KEYS, *TRAIN_KEYS}
    assert not any("owner" in k or "teacher" in k or "password" in k for k in q)
    settings, problems = from_query({"owner": "someone-else", "teacher": "1", "epochs": "2"})
    assert "someone-else" not in repr(settings) and "teacher" not in repr(settings)
    assert settings["train"] == {"epochs": 2}


# ----------------------------------------------------------------------------- the property: nothing is lost
@st.composite
def _models(draw) -> ModelConfig:
    family, block = draw(st.sampled_from(nets.FAMILIES)), draw(st.sampled_from(list(nets.BLOCKS)))
    depths = depth_options(family, block)  # what the Build page offers (a link takes nothing else)
    fields = dict(family=family, block=block, depth=draw(st.sampled_from(depths)),
                  shortcut=draw(st.sampled_from(list(nets.SHORTCUTS))),
                  placement=draw(st.sampled_from(list(nets.PLACEMENTS))),
                  norm=draw(st.sampled_from(nets.NORMS)), init=draw(st.sampled_from(nets.INITS)),
                  width=draw(st.sampled_from([WIDTHS[0] + k * WIDTHS[2] for k in range(8)])),  # the slider's
                  zero_init_residual=draw(st.booleans()))
    try:
        return ModelConfig(**fields)
    except ValueError:
        assume(False)  # an impossible net is not a setup anyone can share


@st.composite
def _recipes(draw, dataset: str) -> TrainConfig:
    chosen = dict(epochs=draw(st.integers(*EPOCHS)), batch_size=draw(st.sampled_from(BATCH_SIZES)),  # the widgets'
                  lr=draw(st.sampled_from([0.01, 0.05, 0.1, 0.2]) | st.floats(*LR)),
                  schedule=draw(st.sampled_from(recipes.SCHEDULES)),
                  optimizer=draw(st.sampled_from(recipes.OPTIMIZERS)),
                  seed=draw(st.integers(*SEEDS)), device=draw(st.sampled_from(recipes.DEVICES)))
    keep = draw(st.sets(st.sampled_from(TRAIN_KEYS)))  # some fields left at the dataset's recipe
    return train_config_for(dataset, **{k: v for k, v in chosen.items() if k not in keep})


@st.composite
def _setups(draw) -> tuple:
    dataset = draw(st.sampled_from(LINKED_DATASETS))
    return dataset, draw(_models()), draw(_recipes(dataset)), draw(st.sampled_from(EXPERIMENT_KINDS))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(_setups())
def test_every_valid_setup_survives_a_link(setup):
    """Random settings the pages can make -> URL -> settings, read back as the app does (pages.common.init_session,
    train_cfg); a link accepts nothing the widgets would not (tests/test_hostile_urls.py)."""
    dataset, model, train, kind = setup
    query = to_query(dataset, model, train, kind)
    assert all(isinstance(v, str) for v in query.values())
    got, problems = from_query(query)
    assert problems == []
    assert (got["dataset"], got["kind"]) == (dataset, kind)
    assert ModelConfig.from_dict({**ModelConfig().to_dict(), **got["model"]}) == model
    assert train_config_for(dataset, **got["train"]) == train


@pytest.mark.parametrize("field, value", [("epochs", 12), ("batch_size", 128), ("schedule", "step")])
def test_a_digits_link_keeps_what_equals_the_generic_defaults(field, value):
    """The issue's case: on digits, epochs 12, batch 128 or schedule "step" (TrainConfig()'s values) were lost."""
    train = train_config_for("digits", **{field: value})
    got, _ = from_query(to_query("digits", ModelConfig(), train))
    assert got["train"] == {field: value}


# ----------------------------------------------------------------------------- lesson links: lock and hide
def test_lock_and_hide_round_trip_and_unknown_names_get_one_sentence():
    from explorer.urlstate import CONTROLS, controls_from_query, controls_to_query
    q = controls_to_query(lock=["lr", "epochs", "nonsense"], hide=["device"])
    assert q == {"lock": "epochs,lr", "hide": "device"}
    assert controls_from_query(q) == ({"lock": ("epochs", "lr"), "hide": ("device",)}, [])
    controls, problems = controls_from_query({"lock": "epochs,<script>,owner", "hide": "lr,lr"})
    assert controls == {"lock": ("epochs",), "hide": ("lr",)}
    assert len(problems) == 1 and _one_sentence(problems[0]) and "'<script>'" in problems[0]
    _, problems = controls_from_query({"hide": "x" * 5000})
    assert len(problems) == 1 and _one_sentence(problems[0]) and len(problems[0]) < 200
    assert controls_from_query({"lock": "epochs", "hide": "epochs"})[0] == {"lock": (), "hide": ("epochs",)}
    assert set(CONTROLS) <= set(TRAIN_KEYS) | set(MODEL_KEYS) | {"kind", "dataset", "preset"}


def test_build_controls_lock_and_hide_too_and_a_wrong_name_names_both_pages():
    from explorer.urlstate import BUILD_CONTROLS, CONTROLS, controls_from_query, controls_to_query
    assert {"depth", "shortcut", "placement", "block", "width", "zero_init_residual"} <= set(BUILD_CONTROLS)
    assert set(BUILD_CONTROLS) <= set(CONTROLS) and len(set(CONTROLS)) == len(CONTROLS)
    q = controls_to_query(lock=["shortcut", "depth", "epochs"], hide=["placement"])
    assert controls_from_query(q) == ({"lock": ("epochs", "depth", "shortcut"), "hide": ("placement",)}, [])
    controls, problems = controls_from_query({"lock": "depth,dept"})
    assert controls["lock"] == ("depth",) and len(problems) == 1 and _one_sentence(problems[0])
    assert "'dept'" in problems[0] and "Build or Train page" in problems[0]
