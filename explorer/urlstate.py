"""The current setup as a URL query string and back (pure functions; the app mirrors st.query_params).

A shared link carries a configuration (dataset, architecture, recipe, experiment kind), never an owner
id or any right. It accepts exactly what the pages' widgets accept (the ranges below, which the pages
import): ASCII numbers only, values of at most MAX_QUERY_VALUE_CHARS characters; a number past a widget's
range is clamped, anything else is dropped, with one sentence each. The sentences quote the link's values:
show them as plain text, never as markdown.
Size budget: ~160 lines.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

from .data.config import DATASETS
from .nets.config import CIFAR_DEPTHS, IMAGENET_STAGES, ModelConfig
from .training.recipes import TrainConfig, train_config_for

MAX_QUERY_VALUE_CHARS = 64  # a URL value longer than this is dropped, never echoed (100 KB were)

# What the Build and Train pages' widgets offer (depths: nets.config.CIFAR_DEPTHS); a link may ask for nothing else.
WIDTHS = (0.25, 2.0, 0.25)  # slider: lowest, highest, step
EPOCHS = (1, 200)
LR = (0.0001, 2.0)
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
SEEDS = (0, 2**31 - 1)
_RANGES = {"width": WIDTHS[:2], "epochs": EPOCHS, "lr": LR, "seed": SEEDS}
_INT = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would read Arabic-Indic digits too
_FLOAT = re.compile(r"(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][-+]?[0-9]{1,3})?")  # as str(float) writes

MODEL_KEYS = ("family", "depth", "block", "shortcut", "placement", "norm", "init", "width", "zero_init_residual")
TRAIN_KEYS = ("epochs", "batch_size", "lr", "schedule", "optimizer", "seed", "device")
EXPERIMENT_KINDS = ("twin", "sweep", "compare")


def _int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError("it must be a whole number written with the digits 0-9.")
    return int(text)


def _float(text: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise ValueError("it must be a number written with the digits 0-9 and a point.")
    return float(text)


_TYPES: dict[str, Callable[[str], Any]] = {
    "depth": _int, "width": _float, "epochs": _int, "batch_size": _int, "lr": _float, "seed": _int,
    "zero_init_residual": lambda s: {"1": True, "true": True, "0": False, "false": False}[s.lower()]}


class LinkSettings(TypedDict):
    """What a link sets: each part None or empty when the link leaves it alone."""

    dataset: str | None
    kind: str | None
    model: dict[str, Any]  # ModelConfig fields
    train: dict[str, Any]  # TrainConfig fields


def depth_options(family: str, block: str) -> tuple[int, ...]:
    """The depths the Build page offers for a family and block."""
    if family == "imagenet":
        return tuple(d for d, (b, _) in IMAGENET_STAGES.items() if b == block)
    return CIFAR_DEPTHS.get(block, ())


def to_query(dataset: str, model: ModelConfig, train: TrainConfig, kind: str = "twin") -> dict[str, str]:
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


def _parse(key: str, text: str) -> tuple[Any, str | None]:
    """(value within the widget's range, a sentence when it had to be clamped or None)."""
    value = _TYPES.get(key, str)(text)  # a number for every key in _RANGES, else a name or a flag
    if key in _RANGES and value > 0:
        lo, hi = _RANGES[key]
        clamped = min(max(value, lo), hi)
        if key == "width":
            clamped = round(clamped / WIDTHS[2]) * WIDTHS[2]
        if clamped != value:
            return clamped, (f"The link's {key}={text!r} is outside what the page offers ({lo:g} to {hi:g}); "
                             f"using {clamped:g}.")
    if key == "batch_size" and value not in BATCH_SIZES:
        raise ValueError(f"the page offers batch sizes {', '.join(map(str, BATCH_SIZES))}.")
    return value, None


def from_query(params: Mapping[str, Any]) -> tuple[LinkSettings, list[str]]:
    """Parse query parameters into (settings, problems).

    settings: {"dataset": str|None, "kind": str|None, "model": {field: value}, "train": {field: value}}
    with only the fields that are valid on their own; problems: one sentence per dropped field.
    """
    settings: LinkSettings = {"dataset": None, "kind": None, "model": {}, "train": {}}
    problems: list[str] = []
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in dict(params).items()}
    for k in [k for k, v in params.items() if len(str(v)) > MAX_QUERY_VALUE_CHARS]:
        if k in ("dataset", "kind", *MODEL_KEYS, *TRAIN_KEYS):  # other keys are ignored anyway, unquoted
            problems.append(f"The link's {k!r} value is longer than {MAX_QUERY_VALUE_CHARS} characters and was "
                            f"ignored.")
        del params[k]
    if "dataset" in params:
        if params["dataset"] in DATASETS and not DATASETS[params["dataset"]].needs_path:  # never a server folder
            settings["dataset"] = params["dataset"]
        else:
            problems.append(f"The link's dataset {params['dataset']!r} is not one we know; using digits.")
    if "kind" in params:
        if params["kind"] in EXPERIMENT_KINDS:
            settings["kind"] = params["kind"]
        else:
            problems.append(f"The link's experiment kind {params['kind']!r} is not one we know; using twin.")
    for group, keys in ((settings["model"], MODEL_KEYS), (settings["train"], TRAIN_KEYS)):
        for k in keys:
            if k not in params:
                continue
            try:
                value, clamped = _parse(k, str(params[k]))
                if group is settings["train"]:
                    dataclasses.replace(TrainConfig(), **{k: value})  # recipe fields are valid on their own
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"The link's {k}={params[k]!r} was ignored: {_reason(exc)}")
                continue
            if clamped:
                problems.append(clamped)
            group[k] = value
    if settings["model"]:
        try:
            ModelConfig(**settings["model"])  # architecture fields are valid only together
        except ValueError as exc:
            problems.append(f"The link's architecture was ignored: {exc}")
            settings["model"] = {}
    _check_depth(settings, problems)
    return settings, problems


def _check_depth(settings: LinkSettings, problems: list[str]) -> None:
    """Drop a depth the Build page does not offer for the link's (or the default) family and block."""
    model = settings["model"]
    if "depth" not in model:
        return
    family, block = (model.get(k, getattr(ModelConfig(), k)) for k in ("family", "block"))
    options = depth_options(family, block)
    if model["depth"] not in options:
        problems.append(f"The link's depth={model.pop('depth')} was ignored: the page offers "
                        f"{', '.join(map(str, options)) or 'no depth'} for {family} nets with {block} blocks.")


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if isinstance(exc, ValueError) and text.endswith(".") else "it is not a valid value."


# ----------------------------------------------------------------------------- lesson links: locked and hidden controls
# The Build and Train pages' controls a lesson link may lock (shown, not changeable) or hide, as TensorFlow
# Playground's links do (a locked control keeps the link's value). A link shares a setup, never rights.
TRAIN_CONTROLS = ("kind", "dataset", "epochs", "batch_size", "lr", "schedule", "device")
BUILD_CONTROLS = ("dataset", "preset", "family", "block", "depth", "width", "shortcut", "placement", "norm", "init",
                  "zero_init_residual")
CONTROLS = tuple(dict.fromkeys(TRAIN_CONTROLS + BUILD_CONTROLS))
MAX_CONTROL_LIST = 200  # characters of one lock= or hide= value


def controls_to_query(lock: Iterable[str] = (), hide: Iterable[str] = ()) -> dict[str, str]:
    """{"lock": "epochs,lr", "hide": "device"} for the controls named (unknown names are left out)."""
    q = {}
    for key, names in (("lock", lock), ("hide", hide)):
        known = [n for n in CONTROLS if n in set(names)]
        if known:
            q[key] = ",".join(known)
    return q


def controls_from_query(params: Mapping[str, Any]) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Parse lock= and hide= into ({"lock": (names...), "hide": (names...)}, problems).

    Unknown or malformed names are dropped with one sentence per list, never an exception; a control that is
    both locked and hidden is hidden.
    """
    out: dict[str, tuple[str, ...]] = {"lock": (), "hide": ()}
    problems: list[str] = []
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
            problems.append(f"The link asks to keep {shown} {verb}, which is not a control of the Build or Train "
                            f"page; the controls that can be are {', '.join(CONTROLS)}.")
        out[key] = tuple(n for n in CONTROLS if n in names)
    out["lock"] = tuple(n for n in out["lock"] if n not in out["hide"])
    return out, problems
