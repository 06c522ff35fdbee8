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
from .i18n import N_, _
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


class LinkProblem(str):
    """One sentence about a link's value: the English text (a str, as the tests and logs read it), and the way to say
    it again in the reader's language when it is shown (`translated`): a link is read before the page knows whom it
    speaks to (pages.common.init_session runs before the language is chosen)."""

    template: str
    args: dict[str, Any]

    def __new__(cls, template: str, **args: Any) -> LinkProblem:
        obj = super().__new__(cls, template.format(**args))
        obj.template, obj.args = template, args
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (a session's state) by its parts, not its English text
        return _link_problem, (self.template, self.args)

    def translated(self) -> str:
        return _(self.template).format(**{k: v.translated() if isinstance(v, LinkProblem) else v
                                          for k, v in self.args.items()})


def _link_problem(template: str, args: dict[str, Any]) -> LinkProblem:
    return LinkProblem(template, **args)


def said(problem: str) -> str:
    """A problem in the reader's language: a LinkProblem translated, any other sentence as it is."""
    return problem.translated() if isinstance(problem, LinkProblem) else problem


def _int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError(LinkProblem(N_("it must be a whole number written with the digits 0-9.")))
    return int(text)


def _float(text: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise ValueError(LinkProblem(N_("it must be a number written with the digits 0-9 and a point.")))
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
            return clamped, LinkProblem(
                N_("The link's {key}={value} is outside what the page offers ({low} to {high}); using {used}."),
                key=key, value=repr(text), low=f"{lo:g}", high=f"{hi:g}", used=f"{clamped:g}")
    if key == "batch_size" and value not in BATCH_SIZES:
        raise ValueError(LinkProblem(N_("the page offers batch sizes {sizes}."),
                                     sizes=", ".join(map(str, BATCH_SIZES))))
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
            problems.append(LinkProblem(N_("The link's {key} value is longer than {most} characters and was "
                                           "ignored."), key=repr(k), most=MAX_QUERY_VALUE_CHARS))
        del params[k]
    if "dataset" in params:
        if params["dataset"] in DATASETS and not DATASETS[params["dataset"]].needs_path:  # never a server folder
            settings["dataset"] = params["dataset"]
        else:
            problems.append(LinkProblem(N_("The link's dataset {value} is not one we know; using digits."),
                                        value=repr(params["dataset"])))
    if "kind" in params:
        if params["kind"] in EXPERIMENT_KINDS:
            settings["kind"] = params["kind"]
        else:
            problems.append(LinkProblem(N_("The link's experiment kind {value} is not one we know; using twin."),
                                        value=repr(params["kind"])))
    for group, keys in ((settings["model"], MODEL_KEYS), (settings["train"], TRAIN_KEYS)):
        for k in keys:
            if k not in params:
                continue
            try:
                value, clamped = _parse(k, str(params[k]))
                if group is settings["train"]:
                    dataclasses.replace(TrainConfig(), **{k: value})  # recipe fields are valid on their own
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(LinkProblem(N_("The link's {key}={value} was ignored: {reason}"), key=k,
                                            value=repr(params[k]), reason=_reason(exc)))
                continue
            if clamped:
                problems.append(clamped)
            group[k] = value
    if settings["model"]:
        try:
            ModelConfig(**settings["model"])  # architecture fields are valid only together
        except ValueError as exc:
            problems.append(LinkProblem(N_("The link's architecture was ignored: {reason}"), reason=str(exc)))
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
        depth = model.pop("depth")
        problems.append(LinkProblem(N_("The link's depth={depth} was ignored: the page offers {depths} for {family} "
                                       "nets with {block} blocks."), depth=depth,
                                    depths=", ".join(map(str, options)), family=family, block=block) if options else
                        LinkProblem(N_("The link's depth={depth} was ignored: the page offers no depth for {family} "
                                       "nets with {block} blocks."), depth=depth, family=family, block=block))


def _reason(exc: Exception) -> str:
    text = str(exc)
    if exc.args and isinstance(exc.args[0], LinkProblem):
        return exc.args[0]
    return text if isinstance(exc, ValueError) and text.endswith(".") else LinkProblem(N_("it is not a valid value."))


# ----------------------------------------------------------------------------- lesson links: locked and hidden controls
# The Build and Train pages' controls a lesson link may lock (shown, not changeable) or hide, as TensorFlow
# Playground's links do (a locked control keeps the link's value). A link shares a setup, never rights.
TRAIN_CONTROLS = ("kind", "dataset", "epochs", "batch_size", "lr", "schedule", "device")
BUILD_CONTROLS = ("dataset", "preset", "family", "block", "depth", "width", "shortcut", "placement", "norm", "init",
                  "zero_init_residual")
CONTROLS = tuple(dict.fromkeys(TRAIN_CONTROLS + BUILD_CONTROLS))
MAX_CONTROL_LIST = 200  # characters of one lock= or hide= value
TOO_LONG = {"lock": N_("The link's lock list is too long, so no control is locked."),
            "hide": N_("The link's hide list is too long, so no control is hidden.")}
NOT_A_CONTROL = {
    "lock": N_("The link asks to keep {names} locked, which is not a control of the Build or Train page; the "
               "controls that can be are {controls}."),
    "hide": N_("The link asks to keep {names} hidden, which is not a control of the Build or Train page; the "
               "controls that can be are {controls}."),
}


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
    for key in ("lock", "hide"):
        if key not in params:
            continue
        text = str(params[key])
        if len(text) > MAX_CONTROL_LIST:
            problems.append(LinkProblem(TOO_LONG[key]))
            continue
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in CONTROLS]
        if bad:
            shown = ", ".join(repr(n[:30]) for n in bad[:5])
            problems.append(LinkProblem(NOT_A_CONTROL[key], names=shown, controls=", ".join(CONTROLS)))
        out[key] = tuple(n for n in CONTROLS if n in names)
    out["lock"] = tuple(n for n in out["lock"] if n not in out["hide"])
    return out, problems
