"""Small helpers shared by several test files (fixtures live in conftest.py)."""
import torch
from torch import nn


def warm_bn(model: nn.Module, seed: int = 1) -> nn.Module:
    """Give BN non-trivial running statistics, as training would, with a few train-mode passes on 1x8x8 noise."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 8, 8, generator=g) * 2 + 0.5)
    return model
