"""What to build: ModelConfig (family, depth, block, shortcut, BN/ReLU placement) and the papers' presets.

Frozen, validated, JSON round-trip. Every field has a one-line comment; every check raises a ValueError with
one sentence a student can act on. `choice` and `config_from_dict` are the checks DataConfig and TrainConfig
share. Blocks, shortcuts and placements are validated against explorer.nets.kinds' registries (BLOCKS,
SHORTCUTS, PLACEMENTS: dicts name -> thing, imported here under the same names), so a variant registered
there is accepted here with no second list to keep.

Size budget: ~200 lines.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..i18n import N_, _, count
from .caps import MAX_INPUT_SIZE, MAX_LAYERS, MAX_WIDTH
from .kinds import BLOCKS, PLACEMENTS, SHORTCUTS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

FAMILIES = ("cifar", "imagenet")
CIFAR_WIDTHS = (16, 32, 64)  # channels per stage at width 1 (He et al. 2015, section 4.2)
IMAGENET_WIDTHS = (64, 128, 256, 512)  # He et al. 2015, Table 1


NORMS = ("batch", "none")


INITS = ("kaiming", "xavier")


# Why a placement's branch cannot start at zero and still learn, for those whose registry entry says so
# (Placement.zero_init is None; `zero_init_refusal` reads the registry, a test checks that the two agree).
ZERO_INIT_REFUSED = {
    "relu_before_add": N_("zero_init_residual does not fit the relu_before_add placement: its branch ends in a "
                          "ReLU, and a branch that starts at exactly zero there gets no gradient and never learns."),
    "bn_after_add": N_("zero_init_residual does not fit the bn_after_add placement: BN and ReLU come after the "
                       "addition, so no unit can start as its shortcut, and zeroing the branch's last BN (a ReLU "
                       "follows it) would stop the branch learning."),
}


# ImageNet depths and their blocks per stage (He et al. 2015, Table 1).
IMAGENET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


# The CIFAR depths offered in the app: 6n+2 layers with basic blocks, 9n+2 with bottlenecks (He et al. 2015 §4.2,
# He et al. 2016's ResNet-164).
CIFAR_DEPTHS = {"basic": (8, 14, 20, 32, 44, 56, 110), "bottleneck": (11, 20, 29, 47, 56, 110, 164)}


def zero_init_refusal(placement: str) -> str | None:
    """Why a registered placement's branch cannot start at zero (its registry entry's zero_init is None), or None;
    in the reader's language."""
    if PLACEMENTS[placement].zero_init is not None:
        return None
    if placement in ZERO_INIT_REFUSED:
        return _(ZERO_INIT_REFUSED[placement])
    return _("zero_init_residual does not fit the {placement} placement: its branch cannot start at exactly zero and "
             "still learn.").format(placement=placement)


def choice(name: str, value: object, allowed: Collection[object]) -> None:
    """Raise a one-sentence ValueError unless value is one of allowed (a tuple, or a registry's keys)."""
    try:
        known = value in allowed
    except TypeError:  # an unhashable value (a list read from a file) looked up in a registry's keys
        known = False
    if not known:
        raise ValueError(_("{name} must be one of {allowed}; got {value}.").format(
            name=name, allowed=", ".join(map(str, allowed)), value=repr(value)))


@dataclass(frozen=True)
class ModelConfig:
    """One network: family, depth, block, shortcut and BN/ReLU placement (He et al. 2015, 2016)."""

    family: str = "cifar"  # "cifar": 3x3 stem, stages of 16/32/64; "imagenet": 7x7 stem + max-pool, 64..512
    depth: int = 20  # weighted layers: CIFAR 6n+2 (basic) or 9n+2 (bottleneck); ImageNet 18/34/50/101/152
    block: str = "basic"  # "basic": two 3x3 convs; "bottleneck": 1x1, 3x3, 1x1 with expansion 4
    shortcut: str = "A"  # "none" plain; "A" zero-pad identity; "B" projection where shape changes; "C" always
    placement: str = "original"  # where BN and ReLU sit in each unit (see explorer.nets.kinds.PLACEMENTS)
    norm: str = "batch"  # "batch" (BatchNorm2d) or "none"
    init: str = "kaiming"  # "kaiming" (He et al. 2015) or "xavier" (Glorot & Bengio 2010)
    zero_init_residual: bool = False  # start each branch at zero: its last BN scale, or last conv (Goyal et al. 2017)
    stage_blocks: tuple[int, ...] | None = None  # explicit blocks per stage; overrides depth when given
    width: float = 1.0  # multiplier on the base widths (16/32/64 or 64/128/256/512)
    in_channels: int = 3  # image channels: 1 for digits and MNIST, 3 for colour
    input_size: int = 32  # square input side in pixels
    num_classes: int = 10  # outputs of the final linear layer

    def __post_init__(self) -> None:
        if self.stage_blocks is not None and not isinstance(self.stage_blocks, tuple):
            object.__setattr__(self, "stage_blocks", tuple(self.stage_blocks))
        self._validate()

    # ----------------------------------------------------------------- validation
    def _validate(self) -> None:
        choice("family", self.family, FAMILIES)
        choice("block", self.block, BLOCKS)
        choice("shortcut", self.shortcut, SHORTCUTS)
        choice("placement", self.placement, PLACEMENTS)
        choice("norm", self.norm, NORMS)
        choice("init", self.init, INITS)
        for name in ("depth", "in_channels", "input_size", "num_classes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(_("{name} must be a whole number of at least 1; got {value}.").format(
                    name=name, value=repr(value)))
        if not isinstance(self.width, (int, float)) or isinstance(self.width, bool) or not 0 < self.width <= MAX_WIDTH:
            raise ValueError(_("width must be a multiplier between 0 and {most} (1.0 is the paper's); got "
                               "{value}.").format(most=f"{MAX_WIDTH:g}", value=repr(self.width)))
        if self.stage_blocks is not None:
            self._validate_stage_blocks(self.stage_blocks)
        else:
            self._validate_depth()
        self._validate_caps()
        min_size = 32 if self.family == "imagenet" else 4
        if self.input_size < min_size:
            raise ValueError(_("input_size must be at least {least} pixels for the {family} family (its stem and "
                               "stages shrink the image); got {value}.").format(
                least=min_size, family=self.family, value=self.input_size))
        if not isinstance(self.zero_init_residual, bool):  # "false" read from a file would be truthy
            raise ValueError(_("zero_init_residual must be true or false; got {value}.").format(
                value=repr(self.zero_init_residual)))
        if self.zero_init_residual and self.norm == "none":
            raise ValueError(_("zero_init_residual needs BatchNorm (there is no BN scale to zero with norm='none')."))
        if self.zero_init_residual and self.shortcut == "none":
            raise ValueError(_("zero_init_residual needs a shortcut: a plain net whose branches start at zero "
                               "cannot train."))
        refusal = zero_init_refusal(self.placement)
        if self.zero_init_residual and refusal:
            raise ValueError(refusal)

    def _validate_caps(self) -> None:
        """Depth and input size within explorer.nets.caps, checked on the numbers before anything is built."""
        if self.num_layers > MAX_LAYERS:
            raise ValueError(_("Networks of up to {most} layers are allowed here (the paper's deepest); this one has "
                               "{layers}.").format(most=count(MAX_LAYERS), layers=count(self.num_layers)))
        if self.input_size > MAX_INPUT_SIZE:
            raise ValueError(_("input_size must be at most {most} pixels; got {value}.").format(
                most=MAX_INPUT_SIZE, value=count(self.input_size)))

    def _validate_stage_blocks(self, blocks: tuple[int, ...]) -> None:
        stages = 4 if self.family == "imagenet" else 3
        if len(blocks) != stages or any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in blocks):
            raise ValueError(_("stage_blocks must be {stages} whole numbers of at least 1 for the {family} family; "
                               "got {value}.").format(stages=stages, family=self.family, value=repr(blocks)))

    def _validate_depth(self) -> None:
        if self.family == "imagenet":
            if self.depth not in IMAGENET_STAGES:
                raise ValueError(_("ImageNet depth must be one of 18, 34, 50, 101, 152; got {depth}.").format(
                    depth=self.depth))
            wanted = IMAGENET_STAGES[self.depth][0]
            if self.block != wanted:
                raise ValueError(_("ImageNet depth {depth} uses {wanted} blocks; got block={block}.").format(
                    depth=self.depth, wanted=wanted, block=repr(self.block)))
            return
        step = 3 * BLOCKS[self.block].convs
        if (self.depth - 2) % step or self.depth < step + 2:
            examples = CIFAR_DEPTHS.get(self.block) or tuple(k * step + 2 for k in (1, 2, 3))
            rule = f"{step}n+2 ({', '.join(map(str, examples))}, ...)"
            raise ValueError(_("CIFAR depth with {block} blocks must be {rule}; got {depth}.").format(
                block=self.block, rule=rule, depth=self.depth))

    # ----------------------------------------------------------------- derived
    @property
    def blocks_per_stage(self) -> tuple[int, ...]:
        """Residual units in each stage."""
        if self.stage_blocks is not None:
            return self.stage_blocks
        if self.family == "imagenet":
            return IMAGENET_STAGES[self.depth][1]
        n = (self.depth - 2) // (3 * BLOCKS[self.block].convs)
        return (n, n, n)

    @property
    def num_layers(self) -> int:
        """Weighted layers as the paper counts them: stem conv + branch convs + the linear layer."""
        return sum(self.blocks_per_stage) * BLOCKS[self.block].convs + 2

    @property
    def can_zero_init(self) -> bool:
        """True when this net may start its branches at zero: BN, a shortcut, and a placement that allows it."""
        return self.norm != "none" and not self.is_plain and not zero_init_refusal(self.placement)

    @property
    def is_plain(self) -> bool:
        return self.shortcut == "none"

    @property
    def name(self) -> str:
        """`resnet-20` or `plain-20` (the paper's names)."""
        return f"{'plain' if self.is_plain else 'resnet'}-{self.num_layers}"

    def plain(self) -> ModelConfig:
        """The plain twin: the same net without shortcuts (and without zero-init, which needs one)."""
        return dataclasses.replace(self, shortcut="none", zero_init_residual=False)

    def residual(self, shortcut: str = "A") -> ModelConfig:
        """The residual twin of a plain config (unchanged if it already has shortcuts)."""
        return self if not self.is_plain else dataclasses.replace(self, shortcut=shortcut)

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["stage_blocks"] is not None:
            d["stage_blocks"] = list(d["stage_blocks"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return config_from_dict(cls, d)


_Config = TypeVar("_Config", bound="DataclassInstance")


def config_from_dict(cls: type[_Config], d: object) -> _Config:
    """cls(**d) for a JSON object d, refusing unknown fields with one sentence (ModelConfig, DataConfig, ...)."""
    if not isinstance(d, dict):
        raise ValueError(_("A {kind} must be a JSON object; got {got}.").format(kind=cls.__name__,
                                                                                got=type(d).__name__))
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(_("Unknown {kind} field(s): {fields}. Allowed: {allowed}.").format(
            kind=cls.__name__, fields=", ".join(unknown), allowed=", ".join(sorted(known))))
    return cls(**d)


_PRESETS: dict[str, dict[str, Any]] = {
    **{f"resnet{d}": dict(family="cifar", depth=d, shortcut="A") for d in (20, 32, 44, 56, 110)},
    **{f"resnet{d}": dict(family="imagenet", depth=d, block="basic", shortcut="B", in_channels=3,
                          input_size=224, num_classes=1000) for d in (18, 34)},
    "resnet50": dict(family="imagenet", depth=50, block="bottleneck", shortcut="B", in_channels=3,
                     input_size=224, num_classes=1000),
    "preact_resnet164": dict(family="cifar", depth=164, block="bottleneck", shortcut="B", placement="full_preact"),
}


PRESETS = tuple(_PRESETS)


def preset(name: str, **overrides: Any) -> ModelConfig:
    """The paper's nets by name (`resnet20` ... `resnet110`, `resnet18/34/50`, `preact_resnet164`)."""
    if name not in _PRESETS:
        raise ValueError(_("Unknown preset {name}; choose one of {presets}.").format(name=repr(name),
                                                                                     presets=", ".join(PRESETS)))
    return config_from_dict(ModelConfig, {**_PRESETS[name], **overrides})
