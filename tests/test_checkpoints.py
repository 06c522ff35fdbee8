"""explorer.store.checkpoints and explorer.nets.weights: the shipped twin reads drawn digits, foreign files are
refused without running, run-store and pretrained weights round-trip (torchvision and PyTorch are the oracles)."""
import pickle
import socket

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from explorer.analysis.attribution import is_heavy, predict
from explorer.analysis.evaluation import confusion_and_mistakes
from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset, normalize
from explorer.data.images import to_model_input
from explorer.jobs.worker import run_experiment
from explorer.nets.builder import build_model
from explorer.nets.config import ModelConfig, preset
from explorer.nets.weights import PretrainedUnavailable, _imagenet_weights, imagenet_preprocessing, pretrained_imagenet
from explorer.store.checkpoints import (
    MAX_CHECKPOINT_BYTES,
    explainable_runs,
    load_run_dataset,
    load_run_model,
    load_uploaded_checkpoint,
)
from explorer.store.runstore import RunStore
from explorer.store.shipped import TWIN_DIR, shipped_twin, shipped_twin_readme
from explorer.training.engine import build_models, train_models
from explorer.training.experiments import twin
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DIGIT_NET = ModelConfig(depth=8, in_channels=1, input_size=8, num_classes=10)
RECIPE = TrainConfig(epochs=2, batch_size=16, lr=0.05, schedule="constant", device="cpu", log_every=2)
TINY = DataConfig("digits", train_subset=64, test_subset=64)


def _one_sentence(message: str) -> bool:
    return message.endswith(".") and "\n" not in message and "Traceback" not in message


def _online(host="download.pytorch.org") -> bool:
    try:
        socket.create_connection((host, 443), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def shipped():
    return shipped_twin()


# ----------------------------------------------------------------------------- the shipped twin
def test_shipped_twin_is_a_plain_and_a_residual_digits_net_in_eval_mode(shipped):
    assert list(shipped) == ["plain-20", "resnet-20"]
    assert shipped["plain-20"].cfg == shipped["resnet-20"].cfg.plain()
    for name, (model, pre, cfg) in shipped.items():
        assert cfg.name == name and not model.training
        assert (pre.dataset, pre.input_size, pre.in_channels) == ("digits", 8, 1)
    readme = shipped_twin_readme()
    assert "--compare-plain --dataset digits" in readme and "plain-20" in readme and "torch " in readme


def _drawn_digit(digit: str) -> Image.Image:
    """Dark strokes on a light sheet that is partly transparent, like a canvas export."""
    img = Image.new("RGBA", (200, 200), (250, 250, 250, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 199, 60), fill=(240, 240, 240, 120))  # a half-transparent light band
    if digit == "0":
        draw.ellipse((55, 30, 145, 170), outline=(20, 20, 20, 255), width=18)
    else:
        draw.line((100, 30, 100, 170), fill=(20, 20, 20, 255), width=18)
    return img


@pytest.mark.parametrize("digit", ["0", "1"])
def test_shipped_resnet20_reads_a_drawn_digit(shipped, digit):
    model, pre, _ = shipped["resnet-20"]
    x, view = to_model_input(_drawn_digit(digit), pre)
    assert x.shape == (1, 1, 8, 8) and view.shape == (8, 8)
    assert view.max() == pytest.approx(1.0) and view[0, 0] == 0 and view[-1, -1] == 0  # light on dark
    (top, prob), *_ = predict(model, x)
    assert pre.classes[top] == digit and prob > 0.5


def test_uploaded_copy_of_a_shipped_checkpoint_gives_the_same_logits(shipped):
    loaded = load_uploaded_checkpoint((TWIN_DIR / "resnet-20.pt").read_bytes())
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), shipped["resnet-20"].model(x))


# ----------------------------------------------------------------------------- refusing foreign files
class _Payload:
    """Unpickling this calls open(path, "w"), which creates the file: code run by loading."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch notes the raw pickle's protocol, then refuses it
def test_a_pickle_that_runs_code_is_refused_and_runs_nothing(tmp_path):
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(control))).close()
    assert control.exists()  # the payload is live: plain pickle runs it
    target = tmp_path / "pwned"
    as_torch = tmp_path / "evil.pt"
    torch.save({"state_dict": _Payload(target), "model": {}, "preprocessing": {}}, as_torch)
    for data in (as_torch.read_bytes(), pickle.dumps(_Payload(target))):
        with pytest.raises(ValueError) as err:
            load_uploaded_checkpoint(data)
        assert _one_sentence(str(err.value))
    assert not target.exists()


def _torchvision_state_dict_bytes(tmp_path) -> bytes:
    import torchvision
    path = tmp_path / "tv.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path.read_bytes()


def _mismatched_checkpoint(tmp_path) -> bytes:
    ckpt = torch.load(TWIN_DIR / "resnet-20.pt", weights_only=True)
    ckpt["model"]["depth"] = 32  # a config that does not fit the weights
    torch.save(ckpt, tmp_path / "m.pt")
    return (tmp_path / "m.pt").read_bytes()


@pytest.mark.parametrize("case, needle", [
    ("random", "not a ResNet Explorer checkpoint"), ("empty", "empty"), ("truncated", "not a ResNet Explorer"),
    ("torchvision", "state_dict"), ("too big", "MB"), ("mismatch", "do not fit"), ("json", "not a ResNet Explorer"),
])
def test_foreign_files_are_refused_with_one_sentence(tmp_path, case, needle):
    good = (TWIN_DIR / "plain-20.pt").read_bytes()
    data = {"random": lambda: np.random.default_rng(0).bytes(5000), "empty": lambda: b"",
            "truncated": lambda: good[: len(good) // 2], "torchvision": lambda: _torchvision_state_dict_bytes(tmp_path),
            "too big": lambda: good, "mismatch": lambda: _mismatched_checkpoint(tmp_path),
            "json": lambda: b'{"state_dict": {}}'}[case]()
    with pytest.raises(ValueError) as err:
        load_uploaded_checkpoint(data, max_bytes=1000 if case == "too big" else MAX_CHECKPOINT_BYTES)
    assert needle in str(err.value) and _one_sentence(str(err.value))


# ----------------------------------------------------------------------------- runs
def test_saved_run_weights_give_the_trained_models_logits(tmp_path):
    store = RunStore(tmp_path / "runs")
    spec = twin(DIGIT_NET, TINY, RECIPE)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models])
    data = load_dataset(TINY)
    results = train_models(build_models(spec.models, RECIPE.seed), data, RECIPE)
    x = normalize(data.x_test[:8], data.preprocessing)
    for name, cfg in spec.models:
        trained = results[name].model.eval()
        store.save_weights(exp_id, name, "final", trained, cfg.to_dict(), data.preprocessing)
        model, pre, loaded_cfg = load_run_model(store, exp_id, name)
        assert loaded_cfg == cfg and pre == data.preprocessing and not model.training
        with torch.no_grad():
            assert torch.equal(model(x), trained(x))


def test_worker_runs_are_listed_and_their_test_error_reproduces(tmp_path):
    store = RunStore(tmp_path / "runs")
    spec = twin(DIGIT_NET, TINY, RECIPE)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models])
    assert explainable_runs(store) == []  # nothing trained yet
    run_experiment(store, exp_id)
    (listed,) = explainable_runs(store)
    assert listed.exp_id == exp_id and [n for _, n in listed.runs] == ["plain-8", "resnet-8"]
    data = load_run_dataset(store, exp_id)
    for run in store.load_experiment(exp_id).runs:
        cm, _ = confusion_and_mistakes(load_run_model(store, exp_id, run.id).model, data)
        assert cm.sum() == 64
        assert 1 - np.trace(cm) / cm.sum() == pytest.approx(run.final.test_error, abs=1e-6)
    with pytest.raises(ValueError, match="no init weights|no final weights") as err:
        load_run_model(store, exp_id, "no-such-run")
    assert _one_sentence(str(err.value))


def test_confusion_matrix_and_mistakes_agree_with_sklearn(shipped):
    from sklearn.metrics import confusion_matrix
    model, pre, _ = shipped["plain-20"]
    data = load_dataset(DataConfig("digits"))
    with torch.no_grad():
        probs = torch.softmax(model(normalize(data.x_test, pre)), dim=1)
    predicted = probs.argmax(dim=1).numpy()
    cm, mistakes = confusion_and_mistakes(model, data, top=5)
    assert np.array_equal(cm, confusion_matrix(data.y_test.numpy(), predicted, labels=range(10)))
    assert len(mistakes) == 5
    confidences = [m["confidence"] for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    wrong = predicted != data.y_test.numpy()
    assert confidences[0] == pytest.approx(float(probs.max(dim=1).values[torch.from_numpy(wrong)].max()))
    for m in mistakes:
        assert m["true"] != m["predicted"] == predicted[m["index"]] and m["image"].shape == (8, 8)
        assert np.allclose(m["image"], data.x_test[m["index"], 0].numpy() / 16)


# ----------------------------------------------------------------------------- pretrained ImageNet
def test_pretrained_offline_says_so_in_one_sentence_and_leaves_no_partial_file(tmp_path):
    if _online():
        pytest.skip("download.pytorch.org is reachable here, so the offline path cannot be observed")
    with pytest.raises(PretrainedUnavailable) as err:
        pretrained_imagenet("resnet18", cache_dir=tmp_path)
    assert "could not be downloaded" in str(err.value) and _one_sentence(str(err.value))
    assert list(tmp_path.iterdir()) == []


def test_cached_torchvision_weights_load_into_our_model_with_torchvisions_logits(tmp_path):
    import torchvision
    reference = torchvision.models.resnet18(weights=None).eval()
    filename = _imagenet_weights("resnet18").url.rsplit("/", 1)[1]
    torch.save(reference.state_dict(), tmp_path / filename)  # what a finished download leaves in the cache
    model, pre, cfg = pretrained_imagenet("resnet18", cache_dir=tmp_path)
    assert cfg == preset("resnet18") and not model.training
    assert (len(pre.classes), pre.input_size, pre.classes[0]) == (1000, 224, "tench")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-5)
    (tmp_path / filename).write_bytes(b"not weights")
    with pytest.raises(PretrainedUnavailable, match="damaged"):
        pretrained_imagenet("resnet18", cache_dir=tmp_path)


@pytest.mark.network
def test_real_download_of_resnet18(tmp_path):
    if not _online():
        pytest.skip("needs a download from download.pytorch.org, which is not reachable here")
    seen = []
    model, pre, _ = pretrained_imagenet("resnet18", progress=seen.append, cache_dir=tmp_path)
    assert seen[-1] == 1.0 and len(pre.classes) == 1000


def test_photo_inputs_and_heavy_methods():
    pre = imagenet_preprocessing("resnet50")
    photo = Image.new("RGB", (320, 240), (200, 30, 30))
    x, view = to_model_input(photo, pre)
    assert x.shape == (1, 3, 224, 224) and view.shape == (224, 224, 3)
    assert np.allclose(view[0, 0], np.array([200, 30, 30]) / 255, atol=1e-5)
    with torch.device("meta"):
        big, small = build_model(preset("resnet50")), build_model(DIGIT_NET)
    assert is_heavy(big, "integrated_gradients") and is_heavy(big, "occlusion")
    assert not is_heavy(big, "saliency") and not is_heavy(small, "occlusion")
