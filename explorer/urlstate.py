"""The current setup as a URL query string and back (pure functions; the app mirrors st.query_params).

A shared link carries a configuration (dataset, architecture, recipe, experiment kind), never an owner
id or any right. Hand-edited nonsense is dropped field by field with one sentence each.
Size budget: ~120 lines.
"""
from __future__ import annotations

import dataclasses

from .data.config import DATASETS
from .nets.config import ModelConfig
from .training.recipes import TrainConfig, train_config_for

MODEL_KEYS = ("family", "depth", "block", "shortcut", "placement", "norm", "init", "width", "zero_init_residual")
TRAIN_KEYS = ("epochs", "batch_size", "lr", "schedule", "optimizer", "seed", "device")
EXPERIMENT_KINDS = ("twin", "sweep", "compare")
_TYPES = {"depth": int, "width": float, "epochs": int, "batch_size": int, "lr": float, "seed": int,
          "zero_init_residual": lambda s: {"1": True, "true": True, "0": False, "false": False}[s.lower()]}


def to_query(dataset: str, model: ModelConfig, train: TrainConfig, kind: str = "twin") -> dict:
    """Only what differs from the defaults, as strings: short links for common setups.

    A link opens on the dataset's recipe (train_config_for), so recipe fields are compared with that recipe,
    never with TrainConfig()'s generic defaults: every field the user changed survives the link.
    """
    q = {"dataset": dataset, "kind": kind}
    dm, dt = ModelConfig(), train_config_for(dataset)
    for k in MODEL_KEYS:
        v = getattr(model, k)
        if v != getattr(dm, k):
            q[k] = str(int(v)) if isinstance(v, bool) else str(v)
    for k in TRAIN_KEYS:
        v = getattr(train, k)
        if v != getattr(dt, k):
            q[k] = str(v)
    return q


def _parse(key: str, text: str):
    return _TYPES.get(key, str)(text)


def from_query(params: dict) -> tuple:
    """Parse query parameters into (settings, problems).

    settings: {"dataset": str|None, "kind": str|None, "model": {field: value}, "train": {field: value}}
    with only the fields that are valid on their own; problems: one sentence per dropped field.
    """
    settings = {"dataset": None, "kind": None, "model": {}, "train": {}}
    problems = []
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in dict(params).items()}
    if "dataset" in params:
        if params["dataset"] in DATASETS and params["dataset"] != "folder":
            settings["dataset"] = params["dataset"]
        else:
            problems.append(f"The link's dataset {params['dataset']!r} is not one we know; using digits.")
    if "kind" in params:
        if params["kind"] in EXPERIMENT_KINDS:
            settings["kind"] = params["kind"]
        else:
            problems.append(f"The link's experiment kind {params['kind']!r} is not one we know; using twin.")
    for group, keys, cls in (("model", MODEL_KEYS, ModelConfig), ("train", TRAIN_KEYS, TrainConfig)):
        for k in keys:
            if k not in params:
                continue
            try:
                value = _parse(k, str(params[k]))
                if group == "train":
                    dataclasses.replace(cls(), **{k: value})  # recipe fields are valid on their own
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"The link's {k}={params[k]!r} was ignored: {_reason(exc)}")
                continue
            settings[group][k] = value
    if settings["model"]:
        try:
            ModelConfig(**settings["model"])  # architecture fields are valid only together
        except ValueError as exc:
            problems.append(f"The link's architecture was ignored: {exc}")
            settings["model"] = {}
    return settings, problems


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if isinstance(exc, ValueError) and text.endswith(".") else "it is not a valid value."


# ----------------------------------------------------------------------------- lesson links: locked and hidden controls
# The Train page's controls a lesson link may lock (shown, not changeable) or hide, as TensorFlow Playground's
# links do. A link shares a setup, never rights.
CONTROLS = ("kind", "dataset", "epochs", "batch_size", "lr", "schedule", "device")
MAX_CONTROL_LIST = 200  # characters of one lock= or hide= value


def controls_to_query(lock=(), hide=()) -> dict:
    """{"lock": "epochs,lr", "hide": "device"} for the controls named (unknown names are left out)."""
    q = {}
    for key, names in (("lock", lock), ("hide", hide)):
        known = [n for n in CONTROLS if n in set(names)]
        if known:
            q[key] = ",".join(known)
    return q


def controls_from_query(params: dict) -> tuple:
    """Parse lock= and hide= into ({"lock": (names...), "hide": (names...)}, problems).

    Unknown or malformed names are dropped with one sentence per list, never an exception; a control that is
    both locked and hidden is hidden.
    """
    out, problems = {"lock": (), "hide": ()}, []
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in dict(params).items()}
    for key, verb in (("lock", "locked"), ("hide", "hidden")):
        if key not in params:
            continue
        text = str(params[key])
        if len(text) > MAX_CONTROL_LIST:
            problems.append(f"The link's {key} list is too long, so no control is {verb}.")
            continue
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in CONTROLS]
        if bad:
            shown = ", ".join(repr(n[:30]) for n in bad[:5])
            problems.append(f"The link asks to keep {shown} {verb}, which is not a control of the Train page; "
                            f"the controls that can be are {', '.join(CONTROLS)}.")
        out[key] = tuple(n for n in CONTROLS if n in names)
    out["lock"] = tuple(n for n in out["lock"] if n not in out["hide"])
    return out, problems
