"""A job request: what a page or the CLI asks the job manager to run, as one typed value.

It flows page/CLI -> JobManager.submit -> the run store (as the JSON spec and run rows the store has always kept,
so older stores still read) -> the worker (JobRequest.from_json). Nothing on the way rebuilds
`[{"name": ..., "model": cfg.to_dict()}]` or reads `spec["train"]["seed"]` by hand.
Size budget: ~150 lines.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..data.config import DataConfig
from ..i18n import _
from ..nets.config import ModelConfig
from ..training.experiments import ExperimentSpec
from ..training.recipes import TrainConfig

LANDSCAPE = "landscape"  # the one request kind that is not a training experiment
DEFAULT_SUBSET = 256  # training images per landscape (docs/benchmarks_landscape.md: a 21x21 slice < 1 min)


@dataclass(frozen=True)
class NamedModel:
    """One model of a request: its run name and its config."""

    name: str
    model: ModelConfig


@dataclass(frozen=True)
class LandscapeSettings:
    """What a landscape job computes over finished runs of one experiment (Li et al. 2018); built and checked by
    explorer.jobs.landscape.landscape_spec."""

    source: str  # the experiment whose runs are looked at
    runs: tuple[str, ...]  # their run ids
    steps: int = 21  # grid points per axis of the 2-D slice
    span: float = 1.0  # the slice covers [-span, span] on each axis
    subset: int = DEFAULT_SUBSET  # training images the loss is measured on
    seed: int = 0  # picks the subset and the directions
    line_points: int = 21  # points of the 1-D line from the initial (0) to the trained (1) weights
    plane: str = "random"  # "random" directions (with the line), or "pca": the optimiser's path's plane

    def to_json(self) -> dict:
        """The stored JSON; "plane" only for "pca", so jobs stored before it existed keep their hash."""
        return {"kind": LANDSCAPE, "source": self.source, "runs": list(self.runs), "steps": self.steps,
                "span": self.span, "subset": self.subset, "seed": self.seed, "line_points": self.line_points,
                **({"plane": "pca"} if self.plane == "pca" else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LandscapeSettings:
        """Raises ValueError, one sentence, for settings that are incomplete or malformed."""
        try:
            return cls(str(d["source"]), tuple(str(r) for r in d["runs"]), int(d["steps"]), float(d["span"]),
                       int(d["subset"]), int(d["seed"]), int(d["line_points"]), str(d.get("plane", "random")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(_("This landscape spec is incomplete or malformed ({error}).").format(error=exc)) from exc


@dataclass(frozen=True)
class JobRequest:
    """A job for the job manager: a training experiment, or a landscape over finished runs (Li et al. 2018).

    The fields a worker needs and the manager's policy reads; `to_json()` is what the store keeps.
    """

    kind: str  # single, twin, sweep, compare (training) or landscape
    models: tuple[NamedModel, ...]  # training: the models to train; landscape: the source runs looked at
    data: DataConfig
    owner: str  # who asked: a session's owner id, a signed-in subject, or "cli"
    recipe: TrainConfig | None = None  # training only
    landscape: LandscapeSettings | None = None  # landscape only: explorer.jobs.landscape.landscape_spec()
    class_id: str | None = None  # the class this job is a student's work for, if any
    budget_s: float | None = None  # wall-time budget; the job manager sets it at submit
    client: str | None = None  # who asked, by network address (client_key): per-client limits; never stored in the spec

    def __post_init__(self) -> None:
        if (self.kind == LANDSCAPE) != (self.landscape is not None) or \
                (self.kind != LANDSCAPE) != (self.recipe is not None):
            raise ValueError("A job request needs a recipe to train, or landscape settings, as its kind says.")

    @classmethod
    def training(cls, spec: ExperimentSpec, owner: str, class_id: str | None = None,
                 client: str | None = None) -> JobRequest:
        """The request to train an experiment (explorer.training.experiments) for `owner` (at address `client`)."""
        return cls(spec.kind, tuple(NamedModel(n, c) for n, c in spec.models), spec.data, owner, recipe=spec.train,
                   class_id=class_id, client=client)

    @property
    def job_kind(self) -> str:
        """The store's job kind: "train" or "landscape"."""
        return LANDSCAPE if self.kind == LANDSCAPE else "train"

    @property
    def seed(self) -> int:
        """The seed of the batches and initial weights (training), or of the subset and directions (landscape)."""
        if self.recipe is not None:
            return self.recipe.seed
        return self.landscape.seed if self.landscape is not None else 0

    def experiment(self) -> ExperimentSpec:
        """The training experiment this request asks for. Raises ValueError for a landscape request."""
        if self.recipe is None:
            raise ValueError("This job is not a training experiment.")
        return ExperimentSpec(self.kind, tuple((m.name, m.model) for m in self.models), self.data, self.recipe)

    # ------------------------------------------------------------------ JSON, for the store and the worker
    def _spec_json(self) -> dict:
        if self.landscape is not None:
            return {**self.landscape.to_json(), "data": self.data.to_dict()}
        return self.experiment().to_dict()

    def to_json(self) -> dict:
        """The spec the store keeps: ExperimentSpec.to_dict() or the landscape settings with "data", and "budget_s"."""
        spec = self._spec_json()
        return spec if self.budget_s is None else {**spec, "budget_s": self.budget_s}

    def runs_json(self) -> list[dict]:
        """The store's run rows: [{"name", "model": ModelConfig dict}, ...]."""
        return [{"name": m.name, "model": m.model.to_dict()} for m in self.models]

    def spec_hash(self) -> str:
        """Identical requests hash the same (owner and budget aside): the manager attaches instead of rerunning."""
        text = json.dumps(self._spec_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], owner: str | None = None, runs: Sequence[Mapping] = ()) -> JobRequest:
        """A request as stored (to_json() and runs_json()); `runs` is needed for a landscape only.

        Raises ValueError, one sentence, for a spec that is incomplete or malformed.
        """
        budget = spec.get("budget_s")
        budget_s = float(budget) if isinstance(budget, (int, float)) and not isinstance(budget, bool) else None
        if spec.get("kind") != LANDSCAPE:
            exp = ExperimentSpec.from_dict(dict(spec))
            return dataclasses.replace(cls.training(exp, owner or ""), budget_s=budget_s)
        try:
            models = tuple(NamedModel(str(r["name"]), ModelConfig.from_dict(r["model"])) for r in runs)
            data = DataConfig.from_dict(spec["data"])
        except (KeyError, TypeError) as exc:
            raise ValueError(_("This landscape spec is incomplete or malformed ({error}).").format(error=exc)) from exc
        return cls(LANDSCAPE, models, data, owner or "", landscape=LandscapeSettings.from_json(spec),
                   budget_s=budget_s)


MAX_CLIENT_CHARS = 100  # a client key longer than this (no address is) is cut


def client_key(address: str | None, forwarded: Sequence[str] = (), trusted_hops: int = 0) -> str | None:
    """Who is asking, for the per-client job limits: the connection's address, or behind `trusted_hops` proxies of
    the deployment's own, the address the outermost of them saw (the `trusted_hops`-th entry from the right of
    X-Forwarded-For: entries to its left are the client's to write, so never trusted).

    Args:
        address: the connection's address (Streamlit's st.context.ip_address; None on localhost).
        forwarded: every value of the configured header (several headers are joined in order).
        trusted_hops: proxies the deployment runs in front of the app (EXPLORER_CLIENT_HEADER's hops); 0: none.
    Returns:
        An address as text, or None (localhost, or a proxy header missing): not counted by client.
    """
    if trusted_hops > 0:
        hops = [h.strip() for value in forwarded for h in str(value).split(",") if h.strip()]
        return hops[-trusted_hops][:MAX_CLIENT_CHARS] if len(hops) >= trusted_hops else None
    return str(address)[:MAX_CLIENT_CHARS] if address else None


def proxy_setting(env: Mapping[str, str]) -> tuple[str | None, int]:
    """(the header naming the client, trusted proxy hops) from EXPLORER_CLIENT_HEADER (e.g. X-Forwarded-For) and
    EXPLORER_TRUSTED_PROXIES (default 1); (None, 0) when no header is configured: the connection's address counts."""
    header = (env.get("EXPLORER_CLIENT_HEADER") or "").strip() or None
    try:
        hops = int(env.get("EXPLORER_TRUSTED_PROXIES", "1"))
    except ValueError:
        hops = 1
    return (header, max(1, min(hops, 10))) if header else (None, 0)


__all__ = ["JobRequest", "LANDSCAPE", "LandscapeSettings", "NamedModel", "client_key", "proxy_setting"]
