"""The Runs page on the database store (AppTest): newest page first, filters, damaged rows in one sentence,
resume of an interrupted job by its owner, the teacher's retention with a dry-run count, and the app's
one-sentence offer to import an old file store."""
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import interrupt_at_step, wait_until

from explorer.store.runstore import Filter, RunStore

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def runs_dir(runs_dir, monkeypatch):
    """conftest's app server (private run store, job manager shut down afterwards), with a teacher password."""
    monkeypatch.setenv("EXPLORER_TEACHER_PASSWORD", "sesame")
    return runs_dir


def _app(page="pages/runs.py", teacher=False):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    if teacher:
        at.session_state["teacher"] = True  # what the sidebar's password box sets (pages.common.teacher_login)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _fill(store, owner: str, n: int = 45) -> list:
    """n finished experiments, newest last: every third mine, datasets and depths alternating."""
    ids = []
    for i in range(n):
        depth = 20 if i % 2 else 56
        spec = {"kind": "twin", "data": {"name": "digits" if i % 5 else "fashion_mnist"}, "train": {"device": "cpu"}}
        ids.append(store.create_experiment(spec, [{"name": f"resnet-{depth}", "model": {"depth": depth}}],
                                           owner=owner if i % 3 == 0 else "someone-else"))
        store.update_experiment(ids[-1], status="completed", created=1.7e9 + i)
    return ids


def _experiments_shown(at) -> list:
    [table] = [d.value for d in at.dataframe if "experiment" in d.value.columns]
    return list(dict.fromkeys(table["experiment"]))


def test_runs_shows_the_newest_page_first_and_filters(runs_dir):
    at = _app()
    ids = _fill(RunStore(runs_dir), at.session_state["owner"])
    at.run()
    assert _experiments_shown(at) == ids[::-1][:20]
    at.number_input(key="runs_page").set_value(3).run()
    assert _experiments_shown(at) == ids[::-1][40:]
    at.selectbox(key="runs_whose").set_value("mine").run()  # page 3 no longer exists: back to the first
    assert _experiments_shown(at) == [i for k, i in enumerate(ids) if k % 3 == 0][::-1]
    at.selectbox(key="runs_dataset").set_value("fashion_mnist").run()
    at.selectbox(key="runs_depth").set_value(56).run()
    assert _experiments_shown(at) == [ids[30], ids[0]]
    assert not at.exception, at.exception


def test_a_damaged_record_is_skipped_with_one_sentence_on_runs(runs_dir):
    at = _app()
    store = RunStore(runs_dir)
    good, bad = _fill(store, "x", n=2)
    engine = sa.create_engine(store.url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE experiments SET spec = 'not json' WHERE id = :i"), {"i": bad})
    engine.dispose()
    at.run()
    assert not at.exception and _experiments_shown(at) == [good]
    assert any("1 damaged record was skipped" in c.value for c in at.caption)


def test_the_teacher_deletes_old_experiments_after_a_dry_run_count(runs_dir):
    at = _app(teacher=True)
    store = RunStore(runs_dir)
    ids = _fill(store, "student", n=6)
    store.update_experiment(ids[5], created=time.time())  # recent: kept
    store.update_experiment(ids[4], status="running", worker="nohost:1:1")  # active: never deleted here
    at.run()
    at.button(key="runs_ret_count").click().run()
    assert any(c.value.startswith("4 finished experiments match") for c in at.caption)
    assert len(store.list_experiments()) == 6  # the count deleted nothing
    at.button(key="runs_ret_delete").click().run()
    assert not at.exception, at.exception
    assert {e.id for e in store.list_experiments()} == {ids[4], ids[5]}


def test_the_owner_resumes_an_interrupted_job_and_it_completes(runs_dir):
    from explorer.data.config import DataConfig
    from explorer.nets.config import ModelConfig
    from explorer.training.experiments import twin
    from explorer.training.recipes import TrainConfig
    at = _app()
    store = RunStore(runs_dir)
    spec = twin(ModelConfig(depth=8, in_channels=1, input_size=8, num_classes=10),
                DataConfig("digits", train_subset=64, test_subset=64),
                TrainConfig(epochs=3, batch_size=16, device="cpu", log_every=1, schedule="constant"))
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner=at.session_state["owner"])

    interrupt_at_step(store, exp_id, 6)
    at.run()
    at.button(key=f"runs_resume_{exp_id}").click().run()
    assert not at.exception, at.exception
    wait_until(lambda: store.load_experiment(exp_id).status == "completed", 180, "the resumed job to complete")
    exp = store.load_experiment(exp_id)
    assert exp.status == "completed" and [r.epochs for r in exp.runs] == [3, 3]
    assert [m.epoch for m in store.read_metrics(exp_id, "resnet-8", kind="epoch")] == [0, 1, 2, 3]


def test_an_old_file_store_in_the_runs_folder_is_offered_for_import(runs_dir):
    old = runs_dir / "20250101-000000-abcdef"
    old.mkdir(parents=True)
    (old / "experiment.json").write_text(json.dumps({"id": old.name, "spec": {}, "runs": []}))
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert any("1 experiment saved before the run database" in i.value and "import-store" in i.value
               for i in at.info)
    assert RunStore(runs_dir).page(Filter(kind=None)).total == 0


def test_exports_are_built_on_demand_and_linked_weights_are_not_offered(runs_dir):
    at = _app()
    store = RunStore(runs_dir)
    [exp_id] = _fill(store, at.session_state["owner"], n=1)
    store.append_metrics(exp_id, "resnet-56", [{"type": "epoch", "epoch": e, "test_error": 0.1} for e in range(3)])
    run_dir = store.run_dir(exp_id, "resnet-56")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "final.pt").symlink_to("/etc/passwd")
    store.update_run(exp_id, "resnet-56", final_weights=f"{exp_id}/resnet-56/final.pt")
    at.run()
    keys = {b.key for b in at.get("download_button")}
    assert f"runs_csv_{exp_id}" not in keys and f"runs_weights_{exp_id}" not in keys  # nothing built, link refused
    assert any("cannot be offered" in c.value for c in at.caption)
    at.button(key=f"runs_csv_make_{exp_id}").click().run()
    assert f"runs_csv_{exp_id}" in {b.key for b in at.get("download_button")}


def test_train_offers_resume_to_the_owner_of_an_interrupted_job_only(runs_dir):
    at = _app("pages/train.py")
    store = RunStore(runs_dir)
    spec = {"kind": "twin", "data": {"name": "digits"}, "train": {"device": "cpu"}}
    mine = store.create_experiment(spec, [{"name": "resnet-8", "model": {"depth": 8}}], owner=at.session_state["owner"])
    theirs = store.create_experiment(spec, [{"name": "resnet-8", "model": {"depth": 8}}], owner="someone-else")
    for exp_id in (mine, theirs):
        store.mark_interrupted(exp_id, "The worker process ended unexpectedly.")
    at.session_state["watch"] = mine
    at.run()
    assert not at.exception and [b.key for b in at.button if b.key == "train_resume"] == ["train_resume"]
    at.session_state["watch"] = theirs
    at.run()
    assert not [b for b in at.button if b.key == "train_resume"]
