"""Experiment specs: which named models train together on which data with which recipe.

An experiment is one job: a twin (a net and its plain twin), a sweep (plain and residual at several
depths: Figure 6 of He et al. 2015 in miniature) or a comparison (several placements or shortcuts at
one depth: Table 2 of He et al. 2016, Gross & Wilber 2016).
Size budget: ~300 lines.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..data.config import DataConfig
from ..data.registry import DATASETS
from ..i18n import N_, _, ngettext, num
from ..nets.caps import macs_per_s
from ..nets.config import ModelConfig
from .recipes import TrainConfig, train_config_for

KINDS = ("single", "twin", "sweep", "compare")
# Figure 6 in miniature: the shallowest and a deep net of He et al. 2015's CIFAR family, plain and residual.
FIGURE6_DEPTHS = (20, 56)
# What a sweep replaces, by (ImageNet family, bottleneck block): whole sentences, one per case.
SWEEP_NOTES = {
    (True, False): N_("A depth sweep trains He et al. 2015's CIFAR nets (basic blocks, 6n+2 layers), so it uses "
                      "those instead of the ImageNet family chosen on Build."),
    (False, True): N_("A depth sweep trains He et al. 2015's CIFAR nets (basic blocks, 6n+2 layers), so it uses "
                      "those instead of the bottleneck block chosen on Build."),
    (True, True): N_("A depth sweep trains He et al. 2015's CIFAR nets (basic blocks, 6n+2 layers), so it uses "
                     "those instead of the ImageNet family and bottleneck block chosen on Build."),
}


@dataclass(frozen=True)
class ExperimentSpec:
    """Named models + one dataset + one recipe; models are trained in lockstep on the same batches."""

    kind: str  # single, twin, sweep or compare
    models: tuple  # ((name, ModelConfig), ...) with unique names
    data: DataConfig
    train: TrainConfig

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Experiment kind must be one of {', '.join(KINDS)}; got {self.kind!r}.")
        object.__setattr__(self, "models", tuple((str(n), c) for n, c in self.models))
        if not self.models:
            raise ValueError("An experiment needs at least one model.")
        names = [n for n, _ in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"Model names must be unique within an experiment; got {', '.join(names)}.")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "models": [{"name": n, "model": c.to_dict()} for n, c in self.models],
                "data": self.data.to_dict(), "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentSpec:
        try:
            models = tuple((m["name"], ModelConfig.from_dict(m["model"])) for m in d["models"])
            return cls(d["kind"], models, DataConfig.from_dict(d["data"]), TrainConfig.from_dict(d["train"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(_("This experiment spec is incomplete or malformed ({error}).").format(error=exc)) from exc

    def spec_hash(self) -> str:
        """Identical specs (models, data, recipe, seed) hash the same: the job manager attaches instead of rerunning."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def fit_to_data(cfg: ModelConfig, data: DataConfig) -> ModelConfig:
    """The config with in_channels, input_size and num_classes taken from the dataset (digits: 1x8x8, 10)."""
    from ..data.config import model_config_for
    from ..data.registry import dataset_info
    return model_config_for(cfg, dataset_info(data.name, data.path))


def single(cfg: ModelConfig, data: DataConfig, train: TrainConfig) -> ExperimentSpec:
    cfg = fit_to_data(cfg, data)
    return ExperimentSpec("single", ((cfg.name, cfg),), data, train)


def twin(cfg: ModelConfig, data: DataConfig, train: TrainConfig, shortcut: str = "A") -> ExperimentSpec:
    """A residual net and its plain twin (same layers, no shortcuts): `plain-20` and `resnet-20`."""
    residual = fit_to_data(cfg.residual(shortcut), data)
    plain = residual.plain()
    return ExperimentSpec("twin", ((plain.name, plain), (residual.name, residual)), data, train)


def sweep(base: ModelConfig, depths: Iterable[int], data: DataConfig, train: TrainConfig,
          shortcut: str = "A") -> ExperimentSpec:
    """Plain and residual at each depth (He et al. 2015, Figure 6): plain-20, resnet-20, plain-56, resnet-56, ..."""
    ordered = sorted({int(d) for d in depths})
    if not ordered:
        raise ValueError(_("A sweep needs at least one depth."))
    base = fit_to_data(base, data)
    models = []
    for depth in ordered:
        residual = dataclasses.replace(base.residual(shortcut), depth=depth, stage_blocks=None)
        models += [(residual.plain().name, residual.plain()), (residual.name, residual)]
    return ExperimentSpec("sweep", tuple(models), data, train)


def fit_for_sweep(base: ModelConfig) -> tuple:
    """The net a depth sweep varies, and one sentence when it differs from the one asked for.

    A sweep changes only the depth of He et al. 2015's CIFAR nets (6n+2 layers with basic blocks), so an ImageNet
    family or a bottleneck block is replaced, and the caller shows the sentence instead of changing it silently.
    Returns:
        (ModelConfig, note or None).
    """
    if base.family == "cifar" and base.block == "basic":
        return base, None
    fitted = dataclasses.replace(base, family="cifar", block="basic", depth=FIGURE6_DEPTHS[0], stage_blocks=None)
    # the depth is a placeholder: the sweep sets each one
    return fitted, _(SWEEP_NOTES[(base.family != "cifar", base.block != "basic")])


def figure6(data: DataConfig | None = None, train: TrainConfig | None = None) -> ExperimentSpec:
    """He et al. 2015's Figure 6 in miniature: plain and residual nets at depths 20 and 56 (option A shortcuts).

    The residual branches start at zero (Goyal et al. 2017); the plain nets cannot (a plain net whose units output
    zero cannot train), so they start from the same weights with those layers as initialised. So plain-20 against
    plain-56, and ResNet-20 against ResNet-56, each compare nets under one rule; a plain net against its ResNet
    differs by the additions and by that zeroing (FIGURE6_INIT_NOTE says so where the figure is shown).
    Args:
        data: the dataset (default: the built-in digits). train: the recipe (default: the dataset's own).
    """
    data = data if data is not None else DataConfig()
    base = ModelConfig(depth=FIGURE6_DEPTHS[0], shortcut="A", placement="original", zero_init_residual=True)
    return sweep(base, FIGURE6_DEPTHS, data, train if train is not None else train_config_for(data.name))


def compare(base: ModelConfig, data: DataConfig, train: TrainConfig, placements: Sequence[str] | None = None,
            shortcuts: Sequence[str] | None = None) -> ExperimentSpec:
    """Several placements and/or shortcuts at one depth; names add what differs: `resnet-20-full_preact`, `resnet-20-B`.

    One initialisation rule for every net compared: zero-init, when the base asks for it, is kept only when every
    net in the comparison can use it (a shortcut, and a placement whose zero branch still learns:
    ModelConfig.can_zero_init); otherwise no net gets it (compare_init_note says so), because zeroing some
    branches and not others would measure the initialisation instead of the placement or shortcut.
    """
    placements = list(dict.fromkeys(placements or [base.placement]))
    shortcuts = list(dict.fromkeys(shortcuts or [base.shortcut]))
    base = fit_to_data(base, data)
    models = []
    zero = base.zero_init_residual and not _zero_init_misfits(base, placements, shortcuts)
    for sc in shortcuts:
        for pl in placements:
            cfg = dataclasses.replace(base, placement=pl, shortcut=sc, zero_init_residual=zero)
            suffix = (f"-{pl}" if len(placements) > 1 else "") + (f"-{sc}" if len(shortcuts) > 1 else "")
            models.append((cfg.name + suffix, cfg))
    return ExperimentSpec("compare", tuple(models), data, train)


def _zero_init_misfits(base: ModelConfig, placements: Sequence[str], shortcuts: Sequence[str]) -> list[str]:
    """The placements and shortcuts of a comparison whose nets cannot start their branches at zero."""
    misfits = []
    for sc in shortcuts:
        for pl in placements:
            cfg = dataclasses.replace(base, placement=pl, shortcut=sc, zero_init_residual=False)
            if not cfg.can_zero_init:
                misfits.append(_("no shortcut") if sc == "none" else _("no BN") if base.norm == "none" else pl)
    return list(dict.fromkeys(misfits))


def compare_init_note(base: ModelConfig, placements: Sequence[str] = (), shortcuts: Sequence[str] = ()) -> str | None:
    """One sentence when a comparison drops the zero-init its base asked for (see `compare`), else None."""
    misfits = _zero_init_misfits(base, list(placements) or [base.placement], list(shortcuts) or [base.shortcut])
    if not base.zero_init_residual or not misfits:
        return None
    return _("Zero-init is off for every net in this comparison: {nets} cannot start its branches at zero, and "
             "zeroing the others only would compare initialisations, not the nets.").format(nets=", ".join(misfits))


FIGURE6_INIT_NOTE = N_("The ResNets start their branches at zero (zero-init, Goyal et al. 2017) and the plain nets "
                       "cannot, so plain-20 against plain-56 and ResNet-20 against ResNet-56 each compare nets "
                       "started the same way, while a plain net against its ResNet differs by the additions and that "
                       "zeroing.")


def for_kind(kind: str, base: ModelConfig, data: DataConfig, train: TrainConfig, depths: Sequence[int] = (),
             placements: Sequence[str] = (), shortcuts: Sequence[str] = ()) -> ExperimentSpec:
    """The experiment of one kind the app offers (twin, sweep or compare) around the net `base`.

    A sweep fits `base` to the paper's CIFAR nets first (fit_for_sweep; the page shows its note); every kind keeps
    the residual side's shortcut. Raises ValueError with one sentence when a sweep has no depth, or a comparison
    no placement or shortcut.
    """
    if kind == "sweep":
        if not depths:
            raise ValueError(_("Pick at least one depth for the sweep."))
        base = fit_for_sweep(base)[0]
        return sweep(base, depths, data, train, shortcut=base.residual().shortcut)
    if kind == "compare":
        if not placements or not shortcuts:
            raise ValueError(_("Pick at least one placement and one shortcut to compare."))
        return compare(base, data, train, placements=placements, shortcuts=shortcuts)
    if kind != "twin":
        raise ValueError(_("The experiment kind must be twin, sweep or compare; got {kind}.").format(kind=repr(kind)))
    return twin(base, data, train, shortcut=base.residual().shortcut)


# ----------------------------------------------------------------------------- pooling a class's runs
_NOT_THE_RECIPE = ("seed", "device", "precision", "compile", "log_every", "diagnostics")  # may differ within a pool


@dataclass(frozen=True)
class PoolGroup:
    """Experiments that may be pooled: the same dataset, recipe (the seed aside) and nets."""

    label: str  # e.g. "digits, 15 epochs, batch 64, lr 0.1 (cosine); plain-20, resnet-20, plain-56, resnet-56"
    ids: tuple[str, ...]  # the experiments' ids, sorted
    epochs: int | None  # the recipe's epochs (None when it counts steps): a run that got there finished
    dataset: str  # the dataset's name


def like_with_like(specs: dict[str, dict]) -> list[PoolGroup]:
    """Group experiments so that only like is pooled with like (a class's Figure 6, its median errors).

    Args:
        specs: {experiment id: ExperimentSpec.to_dict()}; a spec that does not read is left out.
    Returns:
        the groups, the largest first (ties: the label), each with the ids that share dataset, recipe and nets.
    """
    groups: dict[str, tuple[str, list[str], int | None, str]] = {}
    for exp_id, d in specs.items():
        try:
            spec = ExperimentSpec.from_dict(d)
        except (ValueError, TypeError, AttributeError):
            continue
        recipe = {k: v for k, v in spec.train.to_dict().items() if k not in _NOT_THE_RECIPE}
        key = json.dumps([spec.kind, spec.data.to_dict(), recipe, [[n, c.to_dict()] for n, c in spec.models]],
                         sort_keys=True)
        if key not in groups:
            groups[key] = (_pool_label(spec), [], spec.train.epochs if spec.train.steps is None else None,
                           spec.data.name)
        groups[key][1].append(exp_id)
    out = [PoolGroup(label, tuple(sorted(ids)), epochs, name) for label, ids, epochs, name in groups.values()]
    return sorted(out, key=lambda g: (-len(g.ids), g.label))


def _pool_label(spec: ExperimentSpec) -> str:
    t = spec.train
    length = ngettext("{n} step", "{n} steps", t.steps).format(n=t.steps) if t.steps else \
        ngettext("{n} epoch", "{n} epochs", t.epochs).format(n=t.epochs)
    return _("{dataset}, {length}, batch {batch}, lr {lr} ({schedule}); {nets}").format(
        dataset=spec.data.name, length=length, batch=t.batch_size, lr=num(t.lr, 6), schedule=_(t.schedule),
        nets=", ".join(n for n, _cfg in spec.models))


class _RunRecord(Protocol):
    """What plain_residual_pairs reads of a run (explorer.store.records.Run)."""

    @property
    def id(self) -> str: ...

    @property
    def model(self) -> dict: ...


class _ExperimentRecord(Protocol):
    """What plain_residual_pairs reads of an experiment (explorer.store.records.Experiment)."""

    @property
    def runs(self) -> Sequence[_RunRecord]: ...


def plain_residual_pairs(exp: _ExperimentRecord) -> list[tuple[str, str]]:
    """(plain run id, residual run id) for each residual run of an experiment whose plain twin is in it too.

    Twins are He et al. 2015's comparison: the same layers with and without shortcuts.

    Args:
        exp: an Experiment record (RunStore.load_experiment, with its runs).
    Returns:
        [(plain id, residual id), ...] in the experiment's run order.
    """
    cfgs = {}
    for run in exp.runs:
        try:
            cfgs[run.id] = ModelConfig.from_dict(run.model)
        except (TypeError, ValueError):
            continue
    pairs = []
    for rid, cfg in cfgs.items():
        if cfg.is_plain:
            continue
        twin = [pid for pid, p in cfgs.items() if p.is_plain and p == cfg.plain()]
        if twin:
            pairs.append((twin[0], rid))
    return pairs


def estimate_seconds(spec: ExperimentSpec, device: str = "cpu") -> float:
    """An optimistic guess of an experiment's training time: a forward and backward pass is ~3x the forward
    mult-adds, for every model on every image of every epoch, at explorer.nets.caps.macs_per_s(device).

    Args:
        spec: the experiment. device: "cpu", "cuda" or "mps" (where it will run).
    Returns:
        Seconds; a job estimated past its time budget is refused before it queues (explorer.jobs).
    """
    from ..nets.cost import model_cost
    train = spec.train
    per_epoch = spec.data.train_subset or DATASETS[spec.data.name].train_images  # the dataset's record
    images = train.steps * train.batch_size if train.steps else train.epochs * per_epoch
    work = 3 * images * sum(model_cost(cfg)["mult_adds"] for _, cfg in spec.models)
    return work / macs_per_s(device)
