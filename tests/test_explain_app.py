"""The Explain page in Streamlit's AppTest: it renders, real photos give predictions and maps, broken files and
foreign checkpoints give one sentence while the rest of the page keeps working.

AppTest (Streamlit 1.67) drives st.file_uploader itself (`set_value((name, bytes, mime))`), so uploads go
through the page's real code path; no test-only seam is needed.
"""
import io
import json
import pickle
import socket
import struct
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from explorer.data.config import DataConfig
from explorer.data.images import ImageError, load_image
from explorer.nets.config import ModelConfig
from explorer.nets.weights import IMAGENET_WEIGHTS
from explorer.store.shipped import TWIN_NAMES
from explorer.training.recipes import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def app(new_app, tmp_path, monkeypatch):
    """The app on the Explain page, with an empty run store (conftest's runs_dir) and torch's cache in tmp_path."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return new_app("explain")


def _charts(at) -> dict:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def _jpeg_photo() -> bytes:
    from sklearn.datasets import load_sample_images
    buf = io.BytesIO()
    Image.fromarray(load_sample_images().images[0]).save(buf, "JPEG", quality=90)  # china.jpg, 427 x 640
    return buf.getvalue()


def _upload(at, key: str, name: str, data: bytes, mime: str):
    at.file_uploader(key=key).set_value((name, data, mime))
    return at.run()


def test_page_renders_the_shipped_twin_on_a_test_image(app):
    charts = _charts(app)
    for name in TWIN_NAMES:
        bars = charts[f"explain_top5_{name}"]["data"][0]
        assert len(bars["y"]) == 5 and 0 < sum(bars["x"]) <= 100.001
        assert f"explain_map_{name}" in charts and f"explain_cm_{name}" in charts
    assert not app.error
    assert [e.label for e in app.expander].count("Show as table") == len(charts)  # every chart has its words


def test_integrated_gradients_names_its_baseline_and_reports_its_completeness_check(app):
    app.selectbox(key="explain_method").set_value("integrated_gradients").run()
    assert not app.exception and not app.error
    assert app.selectbox(key="explain_baseline").value == "mean"
    text = " ".join(c.value for c in app.caption) + " ".join(w.value for w in app.warning)
    assert "mean colour" in text and "black" not in text.split("Baseline:")[0]
    assert text.count("Completeness check") == len(TWIN_NAMES)
    app.selectbox(key="explain_baseline").set_value("black").run()
    assert not app.exception and not app.error
    assert "a black image (every pixel 0 before normalisation)" in " ".join(c.value for c in app.caption)
    app.selectbox(key="explain_method").set_value("gradcam").run()
    assert not app.get("selectbox") or "explain_baseline" not in [s.key for s in app.selectbox]


def test_a_method_registered_at_test_time_is_offered_and_drawn(app, monkeypatch):
    """The page iterates the registry: a new method needs no edit here (and cannot raise KeyError)."""
    from explorer.analysis import attribution

    def runner(work, x, target, options, layer_name, progress):
        return attribution.Attribution(x[0].abs().sum(dim=0))  # (1, C, H, W) -> (H, W): the image itself

    method = attribution.Method("test_brightness", "Brightness (test)", "The image's own brightness.", runner)
    monkeypatch.setitem(attribution.METHODS, method.name, method)
    app.run()
    assert "Brightness (test)" in app.selectbox(key="explain_method").options  # AppTest lists the labels
    app.selectbox(key="explain_method").set_value("test_brightness").run()
    assert not app.exception and not app.error
    assert "**Brightness (test)**: The image's own brightness." in [c.value for c in app.caption]
    titles = [c["layout"]["title"]["text"] for k, c in _charts(app).items() if k.startswith("explain_map_")]
    assert len(titles) == len(TWIN_NAMES) and all("Brightness (test)" in t for t in titles)


def test_uploaded_photo_gives_predictions_and_maps_for_both_twins(app):
    app.radio(key="explain_input").set_value("draw").run()  # the canvas (a drag) names the ways in without one
    assert any("“A test image” or “Upload an image”" in c.value for c in app.caption)
    app.radio(key="explain_input").set_value("upload").run()
    _upload(app, "explain_upload", "china.jpg", _jpeg_photo(), "image/jpeg")
    assert not app.exception and not app.error
    charts = _charts(app)
    assert "explain_view" in charts  # the model's-eye view beside the original
    for name in TWIN_NAMES:
        assert len(charts[f"explain_top5_{name}"]["data"][0]["y"]) == 5
        heat = charts[f"explain_map_{name}"]["data"][1]  # image, then the attribution heatmap
        assert heat["type"] == "heatmap"


def _tiny_rgb_checkpoint(tmp_path) -> bytes:
    from explorer.nets.builder import build_model
    cfg = ModelConfig(depth=8, in_channels=3, input_size=32, num_classes=3)
    pre = {"dataset": "folder", "classes": ["cat", "dog", "fish"], "num_classes": 3, "in_channels": 3,
           "input_size": 32, "scale": 255.0, "mean": [0.5] * 3, "std": [0.25] * 3, "light_on_dark": False}
    torch.manual_seed(0)
    torch.save({"format": "resnet-explorer/1", "state_dict": build_model(cfg).state_dict(), "model": cfg.to_dict(),
                "preprocessing": pre}, tmp_path / "tiny.pt")
    return (tmp_path / "tiny.pt").read_bytes()


def test_uploaded_checkpoint_explains_an_uploaded_colour_photo(app, tmp_path):
    app.radio(key="explain_source").set_value("upload").run()
    _upload(app, "explain_checkpoint", "tiny.pt", _tiny_rgb_checkpoint(tmp_path), "application/octet-stream")
    assert not app.error
    _upload(app, "explain_upload", "china.jpg", _jpeg_photo(), "image/jpeg")
    assert not app.exception and not app.error
    charts = _charts(app)
    assert sorted(charts["explain_top5_resnet-8"]["data"][0]["y"]) == ["cat", "dog", "fish"]
    assert "explain_map_resnet-8" in charts


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says width x height (the pixels are never there)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    raw = bytearray(buf.getvalue())
    ihdr = raw[12:29]  # b"IHDR" + 13 bytes of header data
    ihdr[4:12] = struct.pack(">II", width, height)
    raw[12:33] = bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(raw)


@pytest.mark.parametrize("case", ["text renamed .png", "truncated JPEG", "empty file", "30000x30000 PNG"])
def test_broken_image_shows_the_sentence_and_the_rest_keeps_working(app, case):
    data = {"text renamed .png": lambda: b"hello, this is not an image\n" * 20,
            "truncated JPEG": lambda: _jpeg_photo()[:5000], "empty file": lambda: b"",
            "30000x30000 PNG": lambda: _png_claiming(30000, 30000)}[case]()
    with pytest.raises(ImageError) as expected:  # the library's own sentence is the oracle
        load_image(data)
    app.radio(key="explain_input").set_value("upload").run()
    _upload(app, "explain_upload", "broken.png" if "PNG" in case or "png" in case else "broken.jpg", data,
            "image/png")
    assert not app.exception
    assert [e.value for e in app.error] == [str(expected.value)]
    assert "explain_cm_resnet-20" in _charts(app)  # the test-set section still renders


class _Payload:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_malicious_checkpoint_is_refused_on_the_page_and_runs_nothing(app, tmp_path):
    data = pickle.dumps(_Payload(tmp_path / "pwned"))
    app.radio(key="explain_source").set_value("upload").run()
    _upload(app, "explain_checkpoint", "evil.pt", data, "application/octet-stream")
    assert not app.exception and len(app.error) == 1 and "not a ResNet Explorer checkpoint" in app.error[0].value
    assert not (tmp_path / "pwned").exists()


def test_finished_run_twin_is_explained_side_by_side(app, tmp_path):
    from explorer.jobs.worker import run_experiment
    from explorer.store.runstore import RunStore
    from explorer.training.experiments import twin
    app.radio(key="explain_source").set_value("run").run()
    assert "No finished runs yet" in app.info[0].value
    store = RunStore(tmp_path / "runs")
    spec = twin(ModelConfig(depth=8), DataConfig("digits", train_subset=64, test_subset=64),
                TrainConfig(epochs=1, batch_size=16, lr=0.05, schedule="constant", device="cpu"))
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models])
    run_experiment(store, exp_id)
    app.run()
    assert not app.exception and not app.error
    charts = _charts(app)
    for name in ("plain-8", "resnet-8"):
        assert {f"explain_top5_{name}", f"explain_map_{name}", f"explain_cm_{name}"} <= set(charts)
    scored = [m.value for m in app.markdown if "test error on" in m.value]
    assert len(scored) == 2 and all(text.endswith("on 64 images") for text in scored)  # the run's own test set


def test_imagenet_offline_says_so_and_the_page_goes_on(app):
    try:
        socket.create_connection(("download.pytorch.org", 443), timeout=2).close()
        pytest.skip("download.pytorch.org is reachable here, so the offline path cannot be observed")
    except OSError:
        pass
    app.radio(key="explain_source").set_value("imagenet").run()
    app.button(key="explain_imagenet_load").click().run()
    assert not app.exception
    assert len(app.warning) == 1 and "could not be downloaded" in app.warning[0].value
    app.radio(key="explain_source").set_value("twin").run()
    assert "explain_map_resnet-20" in _charts(app)


def test_imagenet_resnet_from_torchs_cache_explains_a_photo_and_waits_for_a_button_when_heavy(app, tmp_path):
    import torchvision
    weights = torchvision.models.get_weight(IMAGENET_WEIGHTS["resnet18"])
    folder = tmp_path / "torch" / "hub" / "checkpoints"  # torch's cache under the fixture's TORCH_HOME
    folder.mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), folder / weights.url.rsplit("/", 1)[1])
    app.radio(key="explain_source").set_value("imagenet").run()
    app.button(key="explain_imagenet_load").click().run()
    _upload(app, "explain_upload", "china.jpg", _jpeg_photo(), "image/jpeg")
    assert not app.exception and not app.error
    charts = _charts(app)
    assert set(charts["explain_top5_resnet18"]["data"][0]["y"]) <= set(weights.meta["categories"])
    assert "explain_map_resnet18" in charts  # Grad-CAM: one pass, runs at once
    app.selectbox(key="explain_method").set_value("smoothgrad").run()
    assert "explain_map_resnet18" not in _charts(app)  # many passes on an 11.7M-parameter net: ask first
    app.button(key="explain_compute").click().run()
    assert not app.exception and "explain_map_resnet18" in _charts(app)
