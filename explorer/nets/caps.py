"""Every cap and budget that keeps one student from stalling, exhausting or fooling a shared server.

One place, one reason each (docs/security.md shows them as a table, with what a deployment can change).
Models are checked against these on their metadata (a ModelConfig, a zip's directory, an image's header)
before anything is allocated. Importable without torch.
"""
from __future__ import annotations

import os

# ----------------------------------------------------------------------------- models
MAX_INPUT_SIZE = 512  # pixels per side: ImageNet's 224 with room; 2,000 made one Explain take 6.9 GB
MAX_LAYERS = 1202  # the deepest net in the paper, ResNet-1202 (He et al. 2015, Table 6); 99,998 took 69 s, 2.3 GB
MAX_WIDTH = 8.0  # width multiplier; the UI offers 0.25-2, a checkpoint may say more, up to this
MAX_PARAMS = 64_000_000  # torchvision's ResNet-152 has 60.2 M; 256 MB as float32 (1.24e9 took the server to 10.7 GB)
MAX_MULT_ADDS = 16_000_000_000  # per image: ResNet-152 at 224² is 11.5 G (torchinfo); bounds activations and compute

# ----------------------------------------------------------------------------- files from users
MAX_CHECKPOINT_BYTES = 50 * 2**20  # = server.maxUploadSize in .streamlit/config.toml (a test checks)
MAX_UNZIPPED_BYTES = MAX_CHECKPOINT_BYTES  # torch.save stores members uncompressed: inside = on the wire
MAX_DEFLATE_RATIO = 20  # a deflated member over 1 MiB expanding more than this is a bomb (weights: ~1.1x)
MAX_ARTEFACT_BYTES = 4 * 2**30  # one file from a remote artefact location: a resume state of a few of the largest
# nets MAX_PARAMS allows (weights + momentum, 0.5 GB each) fits; anything larger is not ours and is never downloaded
REFUSED_FILES_KEPT = 64  # sha256s of refused uploads remembered, so a rerun refuses at once
MAX_IMAGE_BYTES = 20 * 2**20  # covers any phone photo
MAX_IMAGE_PIXELS = 40_000_000  # 8000 x 5000; about 120 MB once decoded to RGB
MAX_ASPECT_RATIO = 50  # longest side / shortest side; 10,000 x 1 crashed the browser's image element

# ----------------------------------------------------------------------------- links
MAX_QUERY_VALUE_CHARS = 64  # a URL value longer than this is dropped, never echoed (100 KB were)

# ----------------------------------------------------------------------------- jobs
JOB_BUDGET_ENV = "EXPLORER_JOB_BUDGET_S"
JOB_BUDGET_S = 1800.0  # a job's wall time, seconds (30 minutes); a job past it stops, results kept
MIN_JOB_BUDGET_S, MAX_JOB_BUDGET_S = 60.0, 7 * 86400.0  # what a teacher or a deployment may set
MACS_PER_S_ENV = "EXPLORER_MACS_PER_S"
MACS_PER_S = {"cpu": 1e11, "cuda": 1e13, "mps": 1e12}  # optimistic training speed, for refusing at submit

# ----------------------------------------------------------------------------- the teacher password
TEACHER_BACKOFF_FREE = 3  # wrong passwords before waits start
TEACHER_BACKOFF_BASE_S = 1.0  # first wait; doubles with each further wrong password
TEACHER_BACKOFF_MAX_S = 300.0  # longest wait


def job_budget_s(env: dict | None = None) -> float:
    """The deployment's per-job time budget: EXPLORER_JOB_BUDGET_S (clamped to the allowed range) or 30 min."""
    raw = (os.environ if env is None else env).get(JOB_BUDGET_ENV)
    try:
        value = float(raw) if raw else JOB_BUDGET_S
    except ValueError:
        value = JOB_BUDGET_S
    return min(max(value, MIN_JOB_BUDGET_S), MAX_JOB_BUDGET_S) if value == value else JOB_BUDGET_S


def macs_per_s(device: str) -> float:
    """The assumed training speed in mult-adds per second: EXPLORER_MACS_PER_S, else a per-device guess."""
    try:
        value = float(os.environ.get(MACS_PER_S_ENV) or 0)
    except ValueError:
        value = 0.0
    return value if value > 0 else MACS_PER_S.get(device, MACS_PER_S["cpu"])

