"""Bring your own data: a real zip of real images (digits drawn as PNGs, made here) becomes a folder dataset that
trains like the built-in ones; hostile zips (a zip bomb, too many entries, too much declared data, paths that leave
the folder, entries that lie about their size, a file that is not a zip) are refused with one sentence before any
file is written.
"""
import io
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageFile

from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset
from explorer.data.uploads import MAX_ENTRIES, UploadRefused, folder_preview, import_zip

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).resize((32, 32)).save(buf, "PNG")
    return buf.getvalue()


def count_decodes(monkeypatch) -> list:
    """Every image PIL decodes from here on, by size (a real counter around PIL's own decoding step, which runs)."""
    seen, decode = [], ImageFile.ImageFile.load

    def counted(self, *args, **kwargs):
        if self.tile:  # pixels still to decode (a loaded image has none)
            seen.append(self.size)
        return decode(self, *args, **kwargs)
    monkeypatch.setattr(ImageFile.ImageFile, "load", counted)
    return seen


def digits_zip(per_class: int = 12, classes=(0, 1, 7), root: str = "", extras: dict = None) -> bytes:
    """A zip of class folders holding real scikit-learn digits as PNGs (plus optional extra entries)."""
    from sklearn.datasets import load_digits
    bunch = load_digits()
    buf = io.BytesIO()

    def entry(name: str) -> zipfile.ZipInfo:  # a fixed time: the same arguments give the same bytes, whenever made
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16
        return info
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for c in classes:
            for k, i in enumerate(np.flatnonzero(bunch.target == c)[:per_class]):
                zf.writestr(entry(f"{root}digit-{c}/{k}.png"), _png((bunch.images[i] * 255 / 16).astype(np.uint8)))
        for name, data in (extras or {}).items():
            zf.writestr(entry(name), data)
    return buf.getvalue()


def test_a_zip_of_class_folders_becomes_a_dataset_that_trains(tmp_path, store, monkeypatch):
    """...decoding each image once: at upload, into the arrays the preview and the worker then read."""
    data = digits_zip(root="my-digits/", extras={"my-digits/README.txt": b"notes", "my-digits/digit-7/bad.png": b"x",
                                                  "__MACOSX/digit-0/._0.png": b"junk"})
    decodes = count_decodes(monkeypatch)
    folder, preview = import_zip(data, tmp_path / "uploads")
    assert len(decodes) == 36  # each good image once (the broken one never got past its header)
    assert preview["classes"] == {"digit-0": 12, "digit-1": 12, "digit-7": 12}
    assert preview["images"] == 36 and preview["skipped"] == 2  # the README and the broken PNG
    again, _ = import_zip(data, tmp_path / "uploads")
    assert again == folder and len(list((tmp_path / "uploads").iterdir())) == 1  # the same upload is one dataset
    ds = load_dataset(DataConfig("folder", path=str(folder)))
    assert ds.preprocessing.classes == ("digit-0", "digit-1", "digit-7") and ds.x_train.shape[1:] == (3, 32, 32)
    assert len(ds.y_train) + len(ds.y_test) == 36 and set(ds.y_test.tolist()) == {0, 1, 2}  # its own stratified split
    from explorer.jobs.worker import run_experiment
    from explorer.nets.config import ModelConfig
    from explorer.training import experiments
    from explorer.training.recipes import TrainConfig
    cfg = experiments.fit_to_data(ModelConfig(depth=8, width=0.5), DataConfig("folder", path=str(folder)))
    spec = experiments.twin(cfg, DataConfig("folder", path=str(folder)),
                            TrainConfig(epochs=1, batch_size=16, device="cpu"))
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner="someone", spec_hash=spec.spec_hash())
    assert run_experiment(store, exp_id).status == "completed"
    assert store.load_experiment(exp_id).runs[0].dataset == "folder"
    assert len(decodes) == 36  # the dataset loads and the worker read the arrays kept at upload


def _zip(entries: dict, method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _refused(data: bytes, root, match: str, **caps):
    with pytest.raises(UploadRefused, match=match) as info:
        import_zip(data, root, **caps)
    message = str(info.value)
    assert message.endswith(".") and message.count(". ") == 0  # one sentence
    assert not root.exists() or not any(root.iterdir())  # nothing was written


def test_hostile_zips_are_refused_with_one_sentence_before_anything_is_written(tmp_path):
    root = tmp_path / "uploads"
    bomb = _zip({"a/0.png": b"\0" * (64 * 2**20), "b/0.png": b"\0" * 2**20})  # 64 MB of zeros: ~1000x
    _refused(bomb, root, "zip bomb")
    many = _zip({f"a/{i}.png": b"" for i in range(MAX_ENTRIES + 1)}, zipfile.ZIP_STORED)
    _refused(many, root, "entries")
    _refused(digits_zip(), root, "expand to more than", max_uncompressed=10_000)
    _refused(_zip({"../a/0.png": b"x", "b/0.png": b"x"}), root, "leaves its folder")
    _refused(_zip({"/a/0.png": b"x", "b/0.png": b"x"}), root, "leaves its folder")
    _refused(b"PK\x03\x04 not really a zip", root, "not a zip archive")
    _refused(_zip({"only/0.png": _png(np.zeros((8, 8), np.uint8))}), root, "at least two folders")
    _refused(_zip({"a/0.png": b"broken", "b/0.png": b"broken"}), root, "Fewer than two class folders")
    _refused(digits_zip(), root, "zips up to", max_zip_bytes=1000)


def test_an_entry_that_lies_about_its_size_is_refused(tmp_path):
    root = tmp_path / "uploads"
    data = bytearray(_zip({"a/0.png": _png(np.zeros((8, 8), np.uint8)), "b/0.png": _png(np.ones((8, 8), np.uint8))},
                          zipfile.ZIP_STORED))
    # Shrink the declared size of the first entry in its central-directory record: a header that lies.
    at = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x01\x02"))  # the first of the two central records
    real = int.from_bytes(data[at + 24:at + 28], "little")
    data[at + 24:at + 28] = (real - 10).to_bytes(4, "little")
    with pytest.raises(UploadRefused, match="do not match their declared sizes"):
        import_zip(bytes(data), root)
    assert not root.exists() or not any(root.iterdir())  # the staging folder is gone


def test_folder_preview_of_a_server_folder(tmp_path):
    for c, n in (("cats", 3), ("dogs", 2)):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(n):
            (tmp_path / "pets" / c / f"{i}.jpg").write_bytes(b"x")
    (tmp_path / "pets" / "dogs" / "notes.txt").write_text("n")
    assert folder_preview(tmp_path / "pets") == {"classes": {"cats": 3, "dogs": 2}, "images": 5, "skipped": 0,
                                                 "path": str(tmp_path / "pets")}
    with pytest.raises(UploadRefused, match="no folder"):
        folder_preview(tmp_path / "nowhere")
    with pytest.raises(UploadRefused, match="more than 4 files"):
        folder_preview(tmp_path / "pets", max_files=4)


def test_an_uploaded_dataset_reaches_a_machine_that_lacks_it_through_the_artefact_location(tmp_path, worker_env):
    """Uploaded on the app's machine; the worker's machine has the runs folder's path but not the upload: it gets
    the kept zip from the shared fsspec location, extracts it through the same checks and trains on it."""
    import shutil
    import subprocess
    import sys

    from explorer.nets.config import ModelConfig
    from explorer.store.checkpoints import load_run_dataset
    from explorer.store.runstore import RunStore
    from explorer.store.uploaded import keep_upload
    from explorer.training import experiments
    from explorer.training.recipes import TrainConfig
    shared, root, db_url = tmp_path / "shared", tmp_path / "runs", f"sqlite:///{tmp_path / 'shared.db'}"
    app = RunStore(root, db_url, shared.as_uri())
    folder, preview = keep_upload(app, digits_zip(per_class=10))
    assert preview["images"] == 30 and (shared / "uploads" / f"{folder.name}.zip").is_file()
    data = DataConfig("folder", path=str(folder))
    spec = experiments.twin(experiments.fit_to_data(ModelConfig(depth=8, width=0.5), data), data,
                            TrainConfig(epochs=1, batch_size=16, device="cpu"))
    exp_id = app.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                   owner="someone", spec_hash=spec.spec_hash())
    shutil.rmtree(root / "uploads")  # the worker's node: the same path, none of the app's files
    out = subprocess.run([sys.executable, "-m", "explorer", "worker", str(root / exp_id), "--database-url", db_url,
                          "--artifacts-url", shared.as_uri()], env=worker_env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert app.load_experiment(exp_id).status == "completed" and folder.is_dir()
    shutil.rmtree(root / "uploads")  # and an app replica on a third machine reads its test images the same way
    assert len(load_run_dataset(app, exp_id).y_test) == len(load_dataset(data).y_test) > 0


def test_without_a_remote_location_an_upload_is_only_the_folder(tmp_path):
    from explorer.store.runstore import RunStore
    from explorer.store.uploaded import keep_upload
    store = RunStore(tmp_path / "runs")
    folder, _ = keep_upload(store, digits_zip(per_class=4))
    assert folder.parent == tmp_path / "runs" / "uploads" and not list(folder.parent.glob("*.zip"))
