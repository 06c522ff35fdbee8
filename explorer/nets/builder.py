"""Build plain and residual networks from a ModelConfig; load torchvision's ResNet weights.

Size budget: ~200 lines.
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import UNITS, ResidualUnit, make_norm
from .config import CIFAR_WIDTHS, IMAGENET_WIDTHS, ModelConfig
from .kinds import PLACEMENTS


class ResNet(nn.Module):
    """Stem, stages of residual units (`layer1`...), optional final BN-ReLU, global pool, linear.

    Names match torchvision's ResNet (conv1, bn1, layer1..4, fc) so its weights load.
    """

    def __init__(self, cfg: ModelConfig, initialise: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        unit = UNITS[cfg.block]
        placement = PLACEMENTS[cfg.placement]
        base = IMAGENET_WIDTHS if cfg.family == "imagenet" else CIFAR_WIDTHS
        widths = [max(1, round(w * cfg.width)) for w in base]
        bias = cfg.norm == "none"
        if cfg.family == "imagenet":
            self.conv1 = nn.Conv2d(cfg.in_channels, widths[0], 7, stride=2, padding=3, bias=bias)
        else:
            self.conv1 = nn.Conv2d(cfg.in_channels, widths[0], 3, stride=1, padding=1, bias=bias)
        # Every stem is conv-BN-ReLU: in pre-activation nets too, "the first activation right after conv1,
        # before splitting into two paths" (He et al. 2016, appendix), so their first unit starts at its conv.
        self.bn1 = make_norm(cfg.norm, widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if cfg.family == "imagenet" else nn.Identity()
        in_ch = widths[0]
        self.stages = []  # names of the stage modules, in order
        for s, (planes, n) in enumerate(zip(widths, cfg.blocks_per_stage, strict=True), start=1):
            stride = 1 if s == 1 else 2
            units = []
            for b in range(n):
                units.append(unit(in_ch, planes, stride if b == 0 else 1, cfg.shortcut, cfg.placement, cfg.norm,
                                  activated=placement.preactivation and s == 1 and b == 0))
                in_ch = planes * unit.expansion
            setattr(self, f"layer{s}", nn.Sequential(*units))
            self.stages.append(f"layer{s}")
        # Pre-activation nets activate the last unit's sum before the pool (He et al. 2016, appendix), with the
        # placement's own activation: BN-ReLU for full pre-activation, ReLU for ReLU-only pre-activation.
        final = placement.pre
        self.bn_final = make_norm(cfg.norm, in_ch) if "bn" in final else nn.Identity()
        self.relu_final = nn.ReLU() if "relu" in final else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, cfg.num_classes)
        if initialise:
            _init_weights(self, cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # (B, C, H, W) -> (B, 16, H, W) on CIFAR
        x = self.maxpool(x)
        for name in self.stages:
            x = getattr(self, name)(x)  # each later stage halves H, W and doubles channels
        x = self.relu_final(self.bn_final(x))  # pre-activation nets only (identities otherwise)
        x = torch.flatten(self.avgpool(x), 1)  # (B, C, h, w) -> (B, C)
        return self.fc(x)  # (B, num_classes)

    def units(self) -> list[tuple[str, ResidualUnit]]:
        """All residual units as (dotted name, module), in forward order."""
        return [(n, m) for n, m in self.named_modules() if isinstance(m, ResidualUnit)]


def _init_weights(model: ResNet, cfg: ModelConfig) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if cfg.init == "kaiming":  # He et al. 2015 ("Delving Deep into Rectifiers"), as torchvision
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:  # Glorot & Bengio 2010
                nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if cfg.zero_init_residual:
        zero_init_branches(model)


def zero_init_branches(model: ResNet) -> None:
    """Start every residual branch at exactly zero, so each unit starts as its shortcut (Goyal et al. 2017).

    A branch that ends in BN gets that BN's scale zeroed (torchvision's zero_init_residual); one that ends
    in a conv (full pre-activation) gets that conv's weights zeroed, so the branch's last layer still gets a
    gradient at the first step and the rest follow. Placements where a zero branch could not learn are refused
    (ModelConfig checks; explorer.nets.config.ZERO_INIT_REFUSED says why).
    """
    for name, unit in model.units():
        target = unit.zero_init_target
        if target is None:
            raise ValueError(f"Unit {name} ({unit.placement} placement) cannot start its branch at zero and still "
                             f"learn.")
        nn.init.zeros_(target.weight)
        if target.bias is not None and isinstance(target, nn.Conv2d):
            nn.init.zeros_(target.bias)


def build_model(cfg: ModelConfig) -> ResNet:
    """Build the network a ModelConfig describes (plain when cfg.shortcut == "none")."""
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"build_model needs a ModelConfig; got {type(cfg).__name__}.")
    return ResNet(cfg)


def meta_model(cfg: ModelConfig) -> ResNet:
    """The config's net on the meta device, in eval mode: every module and shape, no memory, no weights drawn
    (shapes do not depend on them). For counting and for checking a checkpoint's shapes."""
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"meta_model needs a ModelConfig; got {type(cfg).__name__}.")
    with torch.device("meta"):
        return ResNet(cfg, initialise=False).eval()


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def convert_torchvision_state_dict(sd: dict) -> dict:
    """Rename a torchvision ResNet state_dict to ours: `downsample` becomes `shortcut`."""
    return {k.replace(".downsample.", ".shortcut."): v for k, v in sd.items()}


def load_torchvision_weights(model: ResNet, sd: dict) -> ResNet:
    """Load torchvision ResNet weights (imagenet family, original placement, shortcut B)."""
    cfg = model.cfg
    if cfg.family != "imagenet" or cfg.placement != "original" or cfg.shortcut != "B" or cfg.norm != "batch":
        raise ValueError("torchvision weights fit only an ImageNet-family net with the original placement, "
                         "shortcut B and BatchNorm.")
    try:
        model.load_state_dict(convert_torchvision_state_dict(sd), strict=True)
    except RuntimeError as exc:
        raise ValueError(f"These weights do not fit a {cfg.name} (names or shapes differ: "
                         f"{str(exc).splitlines()[0]}).") from None
    return model


def copy_matching_weights(src: nn.Module, dst: nn.Module) -> int:
    """Copy every parameter and buffer whose name and shape match from src to dst; returns the count.

    This is how a plain twin starts from exactly its residual twin's weights.
    """
    src_sd = src.state_dict()
    dst_sd = dst.state_dict()
    copied = 0
    with torch.no_grad():
        for name, tensor in dst_sd.items():
            if name in src_sd and src_sd[name].shape == tensor.shape:
                tensor.copy_(src_sd[name])
                copied += 1
    return copied
