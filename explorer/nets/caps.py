"""The caps on a net: how large a model anyone may ask for, and how fast one is assumed to train.

Models are checked against these on their metadata (a ModelConfig, a checkpoint's shapes) before anything is
allocated. Every other cap lives beside what it caps; `explorer.security.caps_table()` gathers them all for
docs/security.md. Importable without torch.
"""
from __future__ import annotations

import math
import os

MAX_INPUT_SIZE = 512  # pixels per side: ImageNet's 224 with room; 2,000 made one Explain take 6.9 GB
MAX_LAYERS = 1202  # the deepest net in the paper, ResNet-1202 (He et al. 2015, Table 6); 99,998 took 69 s, 2.3 GB
MAX_WIDTH = 8.0  # width multiplier; the UI offers 0.25-2, a checkpoint may say more, up to this
MAX_PARAMS = 64_000_000  # torchvision's ResNet-152 has 60.2 M; 256 MB as float32 (1.24e9 took the server to 10.7 GB)
MAX_MULT_ADDS = 16_000_000_000  # per image: ResNet-152 at 224² is 11.5 G (torchinfo); bounds compute, not memory

# What a net's training costs in time: an optimistic speed, so that a job sure to overrun its budget is refused
# at submit (explorer.training.experiments.estimate_seconds).
MACS_PER_S_ENV = "EXPLORER_MACS_PER_S"
MACS_PER_S = {"cpu": 1e11, "cuda": 1e13, "mps": 1e12}  # optimistic mult-adds/s: refuse at submit what must overrun


def macs_per_s(device: str) -> float:
    """The assumed training speed in mult-adds per second: EXPLORER_MACS_PER_S, else a per-device guess."""
    try:
        value = float(os.environ.get(MACS_PER_S_ENV) or 0)
    except ValueError:
        value = 0.0
    return value if value > 0 else MACS_PER_S.get(device, MACS_PER_S["cpu"])

# Activation memory (explorer.nets.memory counts it on the meta device): parameters and mult-adds do not bound it.
MAX_REQUEST_ACTIVATION_BYTES = 2**30  # one map (ResNet-50, 224²: 0.15 GB an image); a 0.31 M-parameter net took 3.2 GB
ACTIVATION_BUDGET_ENV = "EXPLORER_ACTIVATION_BUDGET_MB"
ACTIVATION_BUDGET_BYTES = 2 * 2**30  # all sessions' explanations at once in the server process; more wait in line
ACTIVATION_WAIT_S = 20  # seconds a request waits in line for the budget before "the server is busy"
JOB_ACTIVATION_ENV = "EXPLORER_JOB_ACTIVATION_MB"
MAX_JOB_ACTIVATION_BYTES = 8 * 2**30  # a job's training step, all its models (ResNet-110 twins, batch 128: 3.3 GB)


def env_bytes(name: str, default: int) -> int:
    """A memory setting given in megabytes by the environment variable `name`, in bytes; the default when it is
    unset, not a number, not finite or not positive (the activation caps and budget read theirs through it)."""
    try:
        value = float(os.environ.get(name) or 0)
    except ValueError:
        value = 0.0
    return int(value * 2**20) if 0 < value < math.inf else default


def job_activation_cap() -> int:
    """The most activation memory one training job may need: EXPLORER_JOB_ACTIVATION_MB (megabytes), else the cap."""
    return env_bytes(JOB_ACTIVATION_ENV, MAX_JOB_ACTIVATION_BYTES)
