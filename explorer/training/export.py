"""Take it home: one self-contained PyTorch script that retrains an experiment outside the app.

The script is `takehome.py` (torch and torchvision only) with the experiment's spec written in. Data that
torchvision cannot fetch (the built-in digits, an image folder) is embedded as the app's exact split, so the
script rebuilds the same nets, split, recipe and seed; on the same device it reproduces the app's training
errors up to floating-point noise.
"""
from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import torch

from .experiments import ExperimentSpec

TEMPLATE = Path(__file__).with_name("takehome.py")
EMBEDDED = ("digits", "folder")  # datasets torchvision cannot fetch: their split goes into the script
MAX_EMBEDDED_BYTES = 32 * 2**20  # larger image folders are refused (the script would be too big to download)


def _pack(t: torch.Tensor) -> dict:
    raw = t.detach().cpu().contiguous().numpy().tobytes()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
            "data": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


def export_script(spec: ExperimentSpec, data=None, finals: dict | None = None, title: str = "") -> str:
    """The take-home script for an experiment, as text.

    Args:
        spec: the experiment's nets, data, recipe and seed.
        data: its explorer.data.Dataset, when already loaded (needed only for embedded datasets; loaded if None).
        finals: optional {net name: final metrics} the app recorded, quoted in the script's header to compare.
        title: a line for the header, e.g. the experiment's id.
    Returns:
        Python source that imports only the standard library, torch and torchvision.
    Raises:
        ValueError: one sentence, when the data is too large to embed.
    """
    source = TEMPLATE.read_text(encoding="utf-8")
    exp = spec.to_dict()
    exp["data"] = {**exp["data"], "path": None, "data_dir": None}  # server paths mean nothing at home
    embedded = None
    if spec.data.name in EMBEDDED:
        if data is None:
            from ..data.datasets import load_dataset
            data = load_dataset(spec.data)
        tensors = {k: getattr(data, k) for k in ("x_train", "y_train", "x_test", "y_test")}
        if sum(t.numel() * t.element_size() for t in tensors.values()) > MAX_EMBEDDED_BYTES:
            raise ValueError(f"This dataset is larger than {MAX_EMBEDDED_BYTES // 2**20} MB, too large to put inside "
                             f"a script; export an experiment on a smaller one.")
        embedded = {k: _pack(t) for k, t in tensors.items()}
    source = _fill(source, "EXPERIMENT = None", f"EXPERIMENT = json.loads({json.dumps(json.dumps(exp))})")
    source = _fill(source, "EMBEDDED_DATA = None", f"EMBEDDED_DATA = {embedded!r}")
    return _header(spec, finals, title) + source


def _fill(source: str, marker: str, value: str) -> str:
    """Replace the line that starts with `marker` (the template's placeholder) by `value`."""
    lines = source.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith(marker)]
    if len(hits) != 1:
        raise RuntimeError(f"The take-home template has {len(hits)} lines starting {marker!r}; it needs one.")
    lines[hits[0]] = value + "\n"
    return "".join(lines)


def _header(spec: ExperimentSpec, finals: dict | None, title: str) -> str:
    lines = [f"# ResNet Explorer experiment {title}".rstrip(),
             f"# {spec.kind} on {spec.data.name}: {', '.join(n for n, _ in spec.models)}; seed {spec.train.seed}, "
             f"{spec.train.epochs} epochs, batch {spec.train.batch_size}, lr {spec.train.lr} ({spec.train.schedule})."]
    for name, m in (finals or {}).items():
        if m and m.get("train_error") is not None:
            lines.append(f"# The app's final errors for {name}: train {100 * m['train_error']:.2f}%, "
                         f"test {100 * m['test_error']:.2f}%.")
    return "\n".join(lines) + "\n"
