"""explorer.data: the built-in digits, Debian's Fashion-MNIST, the CIFAR-10 reader, folders and batches."""
import gzip
import io
import json
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import data
from explorer.data import builtin, datasets
from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset
from explorer.data.files import DatasetCorrupt, DatasetUnavailable
from explorer.nets.config import preset


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


def test_digits_shapes_split_and_preprocessing(digits):
    assert digits.x_train.shape == (1438, 1, 8, 8) and digits.x_test.shape == (359, 1, 8, 8)
    assert digits.x_train.dtype == torch.uint8 and digits.y_train.dtype == torch.int64
    assert int(digits.x_train.max()) == 16 and int(digits.x_train.min()) == 0
    # stratified: every class keeps its share (within one image) in the test set
    counts = torch.bincount(digits.y_test, minlength=10).float()
    totals = counts + torch.bincount(digits.y_train, minlength=10).float()
    assert ((counts - 0.2 * totals).abs() <= 1).all()
    pre = digits.preprocessing
    x = digits.x_train.double() / 16
    assert pre.mean == pytest.approx([x.mean().item()]) and pre.std == pytest.approx([x.std().item()])
    assert pre.augment == data.Augment(pad=1, flip=False) and pre.scale == 16.0 and pre.light_on_dark
    assert data.Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict()))) == pre  # JSON-able, read back equal


def test_digits_split_is_deterministic_and_disjoint(digits):
    again = load_dataset(DataConfig("digits"))
    assert torch.equal(again.x_train, digits.x_train) and torch.equal(again.y_test, digits.y_test)
    from sklearn.datasets import load_digits

    flat = load_digits().data.astype(np.uint8)
    # every original image lands in exactly one split
    merged = torch.cat([digits.x_train, digits.x_test]).flatten(1).numpy()
    assert sorted(map(bytes, merged)) == sorted(map(bytes, flat))



def test_digits_read_from_the_shipped_file_equal_scikit_learns_loader():
    """The digits are read without importing scikit-learn (start-up), and are exactly its load_digits', in order, so
    a seed's split and curves are unchanged."""
    from sklearn.datasets import load_digits

    from explorer.data.builtin import _digits_arrays
    images, target = _digits_arrays()
    bunch = load_digits()
    assert np.array_equal(images, bunch.images) and np.array_equal(target, bunch.target)


def test_subsets_hold_every_class():
    ds = load_dataset(DataConfig("digits", train_subset=30, test_subset=10))
    assert len(ds.y_train) == 30 and len(ds.y_test) == 10
    assert set(ds.y_test.tolist()) == set(range(10)) and set(ds.y_train.tolist()) == set(range(10))


def test_no_augmentation_recorded_when_switched_off():
    ds = load_dataset(DataConfig("digits", augment=False, train_subset=20))
    assert ds.preprocessing.augment == data.Augment(pad=0, flip=False)


def test_model_config_for_digits(digits):
    cfg = data.model_config_for(preset("resnet20"), digits.preprocessing)
    assert (cfg.in_channels, cfg.input_size, cfg.num_classes) == (1, 8, 10)
    cfg = data.model_config_for(preset("resnet20"), data.dataset_info("fashion_mnist"))
    assert (cfg.in_channels, cfg.input_size, cfg.num_classes) == (1, 28, 10)


def test_train_batches_are_reproducible_and_cover_the_epoch(digits):
    def epoch(seed):
        return list(datasets.train_batches(digits, 500, torch.Generator().manual_seed(seed)))

    a, b, c = epoch(3), epoch(3), epoch(4)
    assert [len(y) for _, y in a] == [500, 500, 438]  # last partial batch kept
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True))
    assert not torch.equal(a[0][0], c[0][0])
    labels = torch.cat([y for _, y in a])
    assert torch.equal(labels.sort().values, digits.y_train.sort().values)  # a permutation of the epoch
    assert a[0][0].dtype == torch.float32 and a[0][0].shape == (500, 1, 8, 8)


def test_augment_batch_is_a_shifted_crop():
    x = torch.randint(1, 255, (64, 3, 6, 6), dtype=torch.uint8)
    out = datasets.augment_batch(x, data.Augment(pad=2, flip=False), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):  # each image is one of the 25 crops of its padded self
        crops = [padded[i, :, dy : dy + 6, dx : dx + 6] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], c) for c in crops)
    assert not torch.equal(out, x)


def test_augment_batch_flips_about_half():
    x = torch.randint(0, 255, (400, 1, 5, 7), dtype=torch.uint8)
    out = datasets.augment_batch(x, data.Augment(pad=0, flip=True), torch.Generator().manual_seed(1))
    same = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)])
    assert bool((same | flipped).all()) and 150 < int(flipped.sum()) < 250


def test_test_batches_in_order(digits):
    xs, ys = zip(*datasets.test_batches(digits, 100), strict=True)
    assert torch.equal(torch.cat(ys), digits.y_test)
    assert torch.allclose(torch.cat(xs), data.normalize(digits.x_test, digits.preprocessing))


def test_dataset_to_keeps_uint8(digits):
    moved = digits.to("cpu")
    assert moved.x_train.dtype == torch.uint8 and moved.preprocessing is digits.preprocessing


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "d"))
    assert datasets.default_data_dir() == tmp_path / "d"
    monkeypatch.delenv("EXPLORER_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert datasets.default_data_dir() == tmp_path / "cache" / "resnet-explorer" / "data"


# --------------------------------------------------------------------- Fashion-MNIST (Debian files)
@pytest.mark.skipif(not builtin._debian_fashion_present(),
                    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)")
def test_fashion_mnist_from_debian_files():
    ds = load_dataset(DataConfig("fashion_mnist", train_subset=500, test_subset=100))
    assert ds.x_train.shape == (500, 1, 28, 28) and ds.x_test.shape == (100, 1, 28, 28)
    assert set(ds.y_train.tolist()) == set(range(10))
    pre = ds.preprocessing
    assert pre.classes[0] == "T-shirt/top" and pre.augment == data.Augment(pad=2, flip=True)
    assert 0.2 < pre.mean[0] < 0.4  # Fashion-MNIST's mean pixel is about 0.29
    assert data.dataset_info("fashion_mnist").offline


def _idx(path, magic, dims, payload):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + payload)


def test_read_idx_validates(tmp_path):
    good = tmp_path / "good.gz"
    _idx(good, 0x803, (2, 3, 4), bytes(range(24)))
    assert data.read_idx(good, 3).shape == (2, 3, 4)
    _idx(tmp_path / "magic.gz", 0x801, (2, 3, 4), bytes(24))
    with pytest.raises(DatasetCorrupt, match="magic"):
        data.read_idx(tmp_path / "magic.gz", 3)
    _idx(tmp_path / "short.gz", 0x803, (2, 3, 4), bytes(20))
    with pytest.raises(DatasetCorrupt, match="header"):
        data.read_idx(tmp_path / "short.gz", 3)
    (tmp_path / "plain.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DatasetCorrupt, match="gzip"):
        data.read_idx(tmp_path / "plain.gz", 3)


# --------------------------------------------------------------------- CIFAR-10
def _write_cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    batch = {b"batch_label": b"test batch", b"labels": [int(v) for v in rng.integers(0, 10, n)],
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)
    return batch


def test_cifar_reader_on_batches_in_cifars_format(tmp_path):
    folder = tmp_path / data.CIFAR_FOLDER
    folder.mkdir()
    written = [_write_cifar_batch(folder / f"data_batch_{i}", 4, i) for i in range(1, 6)]
    test = _write_cifar_batch(folder / "test_batch", 3, 99)
    ds = load_dataset(DataConfig("cifar10", data_dir=str(tmp_path)))
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    first = written[0][b"data"][0]
    assert np.array_equal(ds.x_train[0, 0].numpy().ravel(), first[:1024])  # red plane first
    assert np.array_equal(ds.x_train[0, 2].numpy().ravel(), first[2048:])  # blue plane last
    assert ds.y_test.tolist() == test[b"labels"]
    assert ds.preprocessing.augment == data.Augment(pad=4, flip=True) and ds.preprocessing.classes[0] == "airplane"


class _RunsCode:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_cifar_reader_refuses_a_pickle_that_runs_code(tmp_path):
    folder = tmp_path / data.CIFAR_FOLDER
    folder.mkdir()
    for i in range(1, 6):
        _write_cifar_batch(folder / f"data_batch_{i}", 2, i)
    target = tmp_path / "pwned"
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": _RunsCode(target), b"labels": [0]}, f, protocol=2)
    with pytest.raises(DatasetCorrupt, match="refused to load posix.system|refused to load os.system"):
        load_dataset(DataConfig("cifar10", data_dir=str(tmp_path)))
    assert not target.exists()


def test_cifar_reader_accepts_numpy1_module_names(tmp_path):
    # The real files (numpy 1.x era) name numpy.core.multiarray._reconstruct; numpy 2 writes numpy._core.
    path = tmp_path / "batch"
    batch = _write_cifar_batch(path, 2, 5)
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    x, y = data.read_cifar_batch(path)
    assert np.array_equal(x.reshape(2, -1).numpy(), batch[b"data"]) and y.tolist() == batch[b"labels"]


def test_cifar_reader_refuses_wrong_contents(tmp_path):
    path = tmp_path / "batch"
    with open(path, "wb") as f:
        pickle.dump({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, f, protocol=2)
    with pytest.raises(DatasetCorrupt, match="3072"):
        data.read_cifar_batch(path)


def test_missing_downloads_say_where_to_put_files(tmp_path, monkeypatch):
    # No internet here; should there be, skip rather than download 170 MB in a unit test.
    import urllib.request

    try:
        urllib.request.urlopen("https://www.cs.toronto.edu", timeout=3)
        pytest.skip("this machine is online; the offline error path cannot be exercised")
    except Exception:
        pass
    with pytest.raises(DatasetUnavailable, match=str(tmp_path)):
        load_dataset(DataConfig("cifar10", data_dir=str(tmp_path)))
    with pytest.raises(DatasetUnavailable, match="MNIST"):
        load_dataset(DataConfig("mnist", data_dir=str(tmp_path)))


# --------------------------------------------------------------------- folders
def _png(color, size=(40, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_folder_dataset(tmp_path):
    for name, color in (("cats", (200, 30, 30)), ("dogs", (30, 30, 200))):
        (tmp_path / name).mkdir()
        for i in range(5):
            (tmp_path / name / f"{i}.png").write_bytes(_png(color))
    (tmp_path / "cats" / "broken.jpg").write_bytes(b"this is text, not a JPEG")
    (tmp_path / "dogs" / "notes.txt").write_text("ignored: not an image suffix")
    info = data.dataset_info("folder", str(tmp_path))
    assert info.classes == ("cats", "dogs") and info.num_classes == 2
    ds = load_dataset(DataConfig("folder", path=str(tmp_path)))
    assert ds.preprocessing.skipped == 1 and ds.preprocessing.classes == ("cats", "dogs")
    assert len(ds.y_train) + len(ds.y_test) == 10 and ds.x_train.shape[1:] == (3, 32, 32)
    assert set(ds.y_test.tolist()) == {0, 1}
    red = ds.x_train[ds.y_train == 0]
    assert (red[:, 0] == 200).all() and (red[:, 2] == 30).all()


def test_folder_errors_are_sentences(tmp_path):
    with pytest.raises(DatasetUnavailable, match="does not exist"):
        data.dataset_info("folder", str(tmp_path / "nope"))
    (tmp_path / "only").mkdir()
    with pytest.raises(DatasetUnavailable, match="two sub-folders"):
        load_dataset(DataConfig("folder", path=str(tmp_path)))


# ----------------------------------------------------------------------------- the registry: one record per dataset
def _load_stripes(root, progress):
    """A test-only dataset: 3 classes of 6x6 stripes (horizontal, vertical, none), 12 images each."""
    x = torch.zeros(36, 1, 6, 6, dtype=torch.uint8)
    x[0:12, :, ::2, :] = 200  # horizontal stripes
    x[12:24, :, :, ::2] = 200  # vertical stripes
    y = torch.arange(3).repeat_interleave(12)
    progress("Stripes ready", 1.0)
    return data.Splits(x[::2], y[::2], x[1::2], y[1::2])


@pytest.fixture
def stripes(monkeypatch):
    """A dataset registered at test time, the way a new one is added: one record, nothing else."""
    spec = data.DatasetSpec("stripes", "Stripes", "Three kinds of 6x6 stripes.", "Made up by tests/test_data.py.",
                            1, 6, ("horizontal", "vertical", "none"), _load_stripes,
                            data.Recipe(epochs=2, batch_size=8, lr=0.05, schedule="constant"),
                            augment=data.Augment(pad=1, flip=True))
    monkeypatch.setitem(data.DATASETS, spec.name, spec)
    return spec


def test_a_dataset_registered_at_test_time_is_usable_everywhere(stripes):
    from explorer.cli import build_parser
    from explorer.training.recipes import train_config_for

    ds = load_dataset(DataConfig("stripes", train_subset=9))
    assert ds.x_train.shape == (9, 1, 6, 6) and set(ds.y_train.tolist()) == {0, 1, 2}
    pre = ds.preprocessing
    assert pre.classes == ("horizontal", "vertical", "none") and pre.augment == data.Augment(pad=1, flip=True)
    assert data.Preprocessing.from_dict(pre.to_dict()) == pre  # what a checkpoint saves reads back the same
    cfg = data.model_config_for(preset("resnet20"), data.dataset_info("stripes"))
    assert (cfg.in_channels, cfg.input_size, cfg.num_classes) == (1, 6, 3)
    recipe = train_config_for("stripes", epochs=3)
    assert (recipe.epochs, recipe.batch_size, recipe.lr, recipe.schedule) == (3, 8, 0.05, "constant")
    args = build_parser().parse_args(["train", "--dataset", "stripes"])  # the CLI's choices are the registry
    assert args.dataset == "stripes"
    x, y = next(datasets.train_batches(ds, 4, torch.Generator().manual_seed(0)))
    assert x.shape == (4, 1, 6, 6) and x.dtype == torch.float32


def test_an_unregistered_dataset_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match="dataset must be one of digits, fashion_mnist"):
        DataConfig("stripes")
    with pytest.raises(ValueError, match="taken"):
        data.register_dataset(data.DATASETS["digits"])


def test_every_registered_dataset_has_a_complete_record():
    for name, spec in data.DATASETS.items():
        assert spec.name == name and spec.label and spec.description.endswith(".") and spec.source
        assert spec.in_channels in (1, 3) and spec.input_size >= 4 and spec.scale > 0
        assert spec.needs_path or spec.num_classes >= 2
        assert spec.recipe.epochs >= 1 and spec.recipe.batch_size >= 1


def test_the_take_home_script_carries_a_registered_dataset(stripes, tmp_path, monkeypatch):
    """A dataset torchvision cannot fetch (its record names no class) goes into the script as its exact split."""
    from test_takehome_parity import load_script

    from explorer.nets.config import ModelConfig
    from explorer.training import experiments
    from explorer.training.export import export_script
    from explorer.training.recipes import train_config_for

    spec = experiments.twin(ModelConfig(depth=8, width=0.25), DataConfig("stripes"), train_config_for("stripes"))
    script = load_script(export_script(spec), tmp_path, monkeypatch)
    exp = script.the_experiment()
    assert exp.dataset == "stripes" and tuple(exp.preprocessing["classes"]) == stripes.classes
    home = script.load_data(exp, str(tmp_path))
    app = load_dataset(DataConfig("stripes"))
    assert torch.equal(home.x_train, app.x_train) and torch.equal(home.y_test, app.y_test)
    assert home.preprocessing.mean == pytest.approx(app.preprocessing.mean)
    assert (home.preprocessing.augment.pad, home.preprocessing.augment.flip) == (1, True)  # the script's own record


def test_preprocessing_is_one_checked_record_that_reads_back_what_it_saves():
    pre = data.Preprocessing("cifar10", ("cat", "dog"), in_channels=3, input_size=32, scale=255.0,
                             mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2), augment=data.Augment(4, True))
    saved = pre.to_dict()
    assert saved["num_classes"] == 2 and saved["augment"] == {"pad": 4, "flip": True} and "path" not in saved
    assert data.Preprocessing.from_dict(json.loads(json.dumps(saved))) == pre
    for bad in ({}, {**saved, "classes": "cat"}, {**saved, "std": [0.2, 0.0, 0.2]}, {**saved, "num_classes": 3},
                {**saved, "mean": [0.5]}, {**saved, "classes": ["<b>cat</b>", "dog"]}, {**saved, "augment": [4]}):
        with pytest.raises(ValueError, match="preprocessing"):
            data.Preprocessing.from_dict(bad)
