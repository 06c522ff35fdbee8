"""Hostile checkpoints (issue 11, items 1-5, 19, 20): each file is crafted as the probe made it, uploaded the way
Explain uploads it, and must be refused with one sentence while the process's peak memory stays bounded.

The memory tests run the upload in a fresh interpreter (tests/memory.py) and bound its peak RSS growth; that
child's address space is capped too, so code that would take gigabytes fails there instead of on the machine.
"""
import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
import tomllib
import torch
from memory import measure

from explorer.nets.builder import build_model
from explorer.nets.caps import MAX_LAYERS, MAX_PARAMS
from explorer.nets.config import ModelConfig
from explorer.store import checkpoints
from explorer.store.checkpoints import MAX_CHECKPOINT_BYTES, REFUSED_FILES_KEPT, load_uploaded_checkpoint

ROOT = Path(__file__).resolve().parent.parent
UPLOAD_GROWTH_MB = 200  # stated in docs/security.md: one refused upload adds less than this to the server


def _one_sentence(text: str) -> bool:
    return text.endswith(".") and "\n" not in text and not re.search(r"\.\s+[A-Z]", text) and "Traceback" not in text


def _preprocessing(cfg: ModelConfig) -> dict:
    return {"dataset": "cifar10", "classes": [f"c{i}" for i in range(cfg.num_classes)], "num_classes": cfg.num_classes,
            "in_channels": cfg.in_channels, "input_size": cfg.input_size, "scale": 255.0,
            "mean": [0.5] * cfg.in_channels, "std": [0.25] * cfg.in_channels}


def _checkpoint_bytes(cfg: ModelConfig, state_dict: dict) -> bytes:
    buf = io.BytesIO()
    torch.save({"state_dict": state_dict, "model": cfg.to_dict(), "preprocessing": _preprocessing(cfg)}, buf)
    return buf.getvalue()


def _real_state_dict(cfg: ModelConfig) -> dict:
    return build_model(cfg).state_dict()


def _expanded_state_dict(cfg: ModelConfig) -> dict:
    """Every tensor one stored value viewed at full size: a 695 KB file for a ResNet-1202 at width 8."""
    with torch.device("meta"):
        shapes = {k: (v.shape, v.dtype) for k, v in build_model(cfg).state_dict().items()}
    one = {torch.float32: torch.zeros(1), torch.int64: torch.zeros(1, dtype=torch.int64)}  # one shared value each
    return {k: one[dtype].expand(shape) if len(shape) else one[dtype][0] for k, (shape, dtype) in shapes.items()}


def _upload_in_child(*paths: Path, explain: bool = False) -> dict:
    """Upload each file in one fresh interpreter (and, when one loads, explain an image with it as Explain does).

    Returns tests/memory.measure's result; its "error" is the last refusal's sentence.
    """
    setup = f"""
        from pathlib import Path
        from explorer.store.checkpoints import load_uploaded_checkpoint
        files = [Path(p).read_bytes() for p in {[str(p) for p in paths]!r}]
    """
    body = f"""
        for data in files:
            try:
                model = load_uploaded_checkpoint(data)
            except ValueError as exc:
                outcome = {{"error": str(exc), "type": "ValueError", "value": None}}
                continue
            if {explain}:  # what Explain does next with any uploaded image
                import numpy as np
                from PIL import Image
                from explorer.analysis.attribution import predict
                from explorer.data.images import to_model_input
                image = Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype("uint8"))
                predict(model.model, to_model_input(image, model.preprocessing)[0], top=5)
            outcome = {{"error": None, "type": None, "value": "loaded"}}
            break
    """
    return measure(setup, body)


# ----------------------------------------------------------------------------- item 1: input size
def test_a_huge_input_size_is_refused_before_any_image_is_resized(tmp_path):
    small = ModelConfig(depth=20)  # 1.1 MB of real weights; the config and preprocessing claim a huge side
    paths = []
    for side in (2_000, 20_000):
        ckpt = {"state_dict": _real_state_dict(small), "model": {**small.to_dict(), "input_size": side},
                "preprocessing": {**_preprocessing(small), "input_size": side}}
        paths.append(tmp_path / f"input-{side}.pt")
        torch.save(ckpt, paths[-1])
    result = _upload_in_child(*paths, explain=True)
    assert result["type"] == "ValueError" and "input_size" in result["error"] and _one_sentence(result["error"])
    assert result["growth_mb"] < UPLOAD_GROWTH_MB, result


# ----------------------------------------------------------------------------- item 2: expanded tensors
def test_expanded_tensors_of_a_resnet_1202_at_width_8_are_refused_on_the_meta_device(tmp_path):
    cfg = ModelConfig(depth=1202, width=8)
    path = tmp_path / "expanded.pt"
    torch.save({"state_dict": _expanded_state_dict(cfg), "model": cfg.to_dict(), "preprocessing": _preprocessing(cfg)},
               path)
    assert path.stat().st_size < 2 * 2**20  # the probe's file was 695 KB
    result = _upload_in_child(path)
    assert result["type"] == "ValueError" and _one_sentence(result["error"]), result
    assert f"{MAX_PARAMS / 1e6:.0f} M" in result["error"]  # refused on its parameter count, before building
    assert result["growth_mb"] < UPLOAD_GROWTH_MB, result


def test_expanded_tensors_under_the_parameter_cap_are_refused_too():
    cfg = ModelConfig(depth=20)
    with pytest.raises(ValueError, match="not stored in full") as err:
        load_uploaded_checkpoint(_checkpoint_bytes(cfg, _expanded_state_dict(cfg)))
    assert _one_sentence(str(err.value))


# ----------------------------------------------------------------------------- item 3: depth 99,998
def test_a_depth_of_99998_is_refused_from_the_numbers_and_remembered(tmp_path):
    small = ModelConfig(depth=20)
    ckpt = {"state_dict": _real_state_dict(small), "model": {**small.to_dict(), "depth": 99_998},
            "preprocessing": _preprocessing(small)}
    path = tmp_path / "deep.pt"
    torch.save(ckpt, path)
    result = _upload_in_child(path)
    assert result["type"] == "ValueError" and f"{MAX_LAYERS:,}" in result["error"] and _one_sentence(result["error"])
    assert result["growth_mb"] < UPLOAD_GROWTH_MB, result
    data = path.read_bytes()
    with pytest.raises(ValueError) as first:
        load_uploaded_checkpoint(data)
    assert hashlib.sha256(data).hexdigest() in checkpoints._REFUSED  # a rerun refuses it without reading it
    with pytest.raises(ValueError) as again:
        load_uploaded_checkpoint(data)
    assert str(again.value) == str(first.value)


def test_the_refused_files_memory_is_bounded():
    cfg = ModelConfig(depth=8, in_channels=1, input_size=8)
    for seed in range(REFUSED_FILES_KEPT + 5):
        bad = {**cfg.to_dict(), "depth": 99_998 + 6 * seed}
        buf = io.BytesIO()
        torch.save({"state_dict": {}, "model": bad, "preprocessing": _preprocessing(cfg)}, buf)
        with pytest.raises(ValueError):
            load_uploaded_checkpoint(buf.getvalue())
    assert len(checkpoints._REFUSED) == REFUSED_FILES_KEPT


# ----------------------------------------------------------------------------- item 4: deflate bomb
def test_a_checkpoint_rezipped_with_deflate_is_refused_from_its_zip_directory(tmp_path):
    """2 MB on the wire, 1 GiB inside: a real tensor of 2**28 float zeros, saved, then re-zipped with deflate."""
    cfg = ModelConfig(depth=20)
    stored = tmp_path / "stored.pt"
    state = _real_state_dict(cfg)
    state["padding"] = torch.empty(2**28)  # never written: the pages stay the kernel's shared zero page
    torch.save({"state_dict": state, "model": cfg.to_dict(), "preprocessing": _preprocessing(cfg)}, stored)
    del state
    bomb = tmp_path / "deflated.pt"
    with zipfile.ZipFile(stored) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            with src.open(info) as fin, dst.open(info.filename, "w", force_zip64=True) as fout:
                while chunk := fin.read(16 * 2**20):
                    fout.write(chunk)
    stored.unlink()
    assert bomb.stat().st_size < 8 * 2**20
    result = _upload_in_child(bomb)
    assert result["type"] == "ValueError" and "unpack" in result["error"] and _one_sentence(result["error"]), result
    assert result["growth_mb"] < UPLOAD_GROWTH_MB, result


def _rezipped(cfg: ModelConfig, zeros: int = 0) -> bytes:
    """A real checkpoint of cfg re-zipped with deflate, with an extra member of `zeros` zero bytes when asked."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_checkpoint_bytes(cfg, _real_state_dict(cfg)))) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        if zeros:
            dst.writestr(info.filename.rsplit("/", 1)[0] + "/zeros", b"\0" * zeros)
    return out.getvalue()


def test_a_deflated_member_with_an_absurd_ratio_is_refused_even_under_the_total_cap():
    with pytest.raises(ValueError, match="fold") as err:
        load_uploaded_checkpoint(_rezipped(ModelConfig(depth=8, in_channels=1, input_size=8), zeros=8 * 2**20))
    assert _one_sentence(str(err.value))


def test_a_checkpoint_rezipped_with_modest_deflate_still_loads():
    cfg = ModelConfig(depth=8, in_channels=1, input_size=8)
    assert load_uploaded_checkpoint(_rezipped(cfg)).cfg == cfg


# ----------------------------------------------------------------------------- item 19: non-finite weights
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_that_are_not_finite_are_refused(value):
    cfg = ModelConfig(depth=8, in_channels=1, input_size=8)
    state = _real_state_dict(cfg)
    state["fc.weight"][0, 0] = value
    with pytest.raises(ValueError, match="not finite") as err:
        load_uploaded_checkpoint(_checkpoint_bytes(cfg, state))
    assert _one_sentence(str(err.value)) and "fc.weight" in str(err.value)


# ----------------------------------------------------------------------------- item 20 and friends
def test_the_checkpoint_cap_is_the_upload_limit():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == MAX_CHECKPOINT_BYTES
    assert checkpoints.MAX_CHECKPOINT_BYTES == MAX_CHECKPOINT_BYTES


def test_class_names_with_markup_are_refused():
    cfg = ModelConfig(depth=8, in_channels=1, input_size=8)
    buf = io.BytesIO()
    pre = {**_preprocessing(cfg), "classes": ['<a href="https://evil.example">login</a>'] + [str(i) for i in range(9)]}
    torch.save({"state_dict": _real_state_dict(cfg), "model": cfg.to_dict(), "preprocessing": pre}, buf)
    with pytest.raises(ValueError, match="plain text") as err:
        load_uploaded_checkpoint(buf.getvalue())
    assert _one_sentence(str(err.value))
