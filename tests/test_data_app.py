"""The "Your data" page in AppTest: a real zip of real images (made here) is previewed with its classes and counts
and trains a twin in a real worker; a zip bomb and a file that is not a zip are refused with one sentence; the
server-folder source is the teacher's only; a zip listing one image many times and an upload past the uploads' disk
budget get one sentence too.
"""
from pathlib import Path

import pytest
from helpers import wait_until

from tests.test_hostile_uploads import _probe_zip, _small_png
from tests.test_uploads import _zip, digits_zip

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def app(runs_dir, worker_env, new_app):
    """The app on the "Your data" page (conftest's runs_dir: a private run store, its job manager shut down after)."""
    return new_app("data")


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="data_zip").set_value((name, data, "application/zip"))
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_zip_of_class_folders_is_previewed_and_trains_a_twin(app):
    from explorer.store.runstore import RunStore
    assert not [r for r in app.radio if r.key == "data_source"]  # the server folder is the teacher's
    at = _upload(app, "digits.zip", digits_zip(per_class=10))
    assert not at.error
    assert at.subheader[0].value == "3 classes, 30 images"
    table = next(d.value for d in at.dataframe if "class" in d.value.columns)
    assert dict(zip(table["class"], table["images"], strict=True)) == {"digit-0": 10, "digit-1": 10, "digit-7": 10}
    assert any("24 images to train on and 6 to test on" in c.value for c in at.caption)
    at.number_input(key="data_epochs").set_value(1)
    at.button(key="data_train").click().run()
    assert not at.exception, at.exception
    store = RunStore()
    exps = store.list_experiments()
    assert len(exps) == 1 and exps[0].spec["data"]["name"] == "folder"
    wait_until(lambda: store.load_experiment(exps[0].id).status not in ("queued", "running"), 120,
               "the twin to finish")
    exp = store.load_experiment(exps[0].id)
    assert exp.status == "completed", exp.message
    assert [r.name for r in exp.runs] == ["plain-8", "resnet-8"]


def test_hostile_uploads_get_one_sentence(app, monkeypatch):
    at = _upload(app, "bomb.zip", _zip({"a/0.png": b"\0" * (64 * 2**20), "b/0.png": b"x"}))
    assert [e.value for e in at.error] == ["This zip looks like a zip bomb (a file expands far more than an image "
                                           "could), so it was refused."]
    at = _upload(at, "fake.zip", b"this is not a zip at all")
    assert [e.value for e in at.error] == ["This file is not a zip archive; zip a folder with one sub-folder per "
                                           "class."]
    at = _upload(at, "probe.zip", _probe_zip(_small_png(128), 50))
    assert [e.value for e in at.error] == ["Entries of the zip share their bytes (one file listed as many), so it was "
                                           "refused."]
    monkeypatch.setenv("EXPLORER_OWNER_UPLOADS_BUDGET_MB", "0.01")  # 10 KB: less than any dataset of images
    at = _upload(at, "digits.zip", digits_zip(per_class=4))
    assert len(at.error) == 1 and at.error[0].value.startswith("This upload would take your uploaded datasets past "
                                                               "10 KB (0 KB used), so it was refused")
    assert not [b for b in at.button if b.key == "data_train"]


def test_the_teacher_can_point_at_a_folder_on_the_server(app, tmp_path):
    from explorer.data.uploads import import_zip
    folder, _ = import_zip(digits_zip(per_class=4), tmp_path / "server")
    app.session_state["teacher"] = True  # what the sidebar's password box sets
    app.run()
    app.radio(key="data_source").set_value("server").run()
    app.text_input(key="data_folder").input(str(tmp_path / "nowhere")).run()
    assert [e.value for e in app.error] == [f"There is no folder {tmp_path / 'nowhere'} on the server."]
    app.text_input(key="data_folder").input(str(folder)).run()
    assert not app.exception and not app.error
    assert app.subheader[0].value == "3 classes, 12 images"
