"""Predict, then observe, on every view (issue 19, finding 4): an open class question on an experiment kind hides
the outcome of experiments of that kind -- Runs' table, overlay, CSV and weights, Inspect, Why it works, Explain,
the take-home script, Train's curves -- from a student who has not answered it, until the teacher reveals it.

The rule is one library function (explorer.classroom.gating.viewer_gating), tested here as a table of viewers x
experiments; then each page is driven as that viewer in Streamlit's AppTest on a real store with a real class.
"""
import json
from pathlib import Path

import pytest

from explorer.access.policy import Actor
from explorer.classroom import questions as Q
from explorer.classroom.gating import viewer_gating

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- the rule, as a table
# viewer -> (hidden: sweep started by a classmate, sweep by an outsider, twin by a classmate)
BEFORE = {
    "ann (member, unanswered)": (True, True, False),
    "bob (member, answered)": (False, False, False),
    "eve (outside the class)": (True, False, False),
    "teacher": (False, False, False),
}


def _viewers(room):
    return {"ann (member, unanswered)": Actor("ann"), "bob (member, answered)": Actor("bob"),
            "eve (outside the class)": Actor("eve"), "teacher": Actor("teacher-cookie", teacher=True)}


def _rule_table(room) -> dict:
    out = {}
    for name, viewer in _viewers(room).items():
        g = viewer_gating(room, viewer)
        out[name] = (g.gate("sweep", "cat") is not None, g.gate("sweep", "zed") is not None,
                     g.gate("twin", "cat") is not None)
    return out


def test_the_rule_as_a_table_of_viewers_and_experiments(room):
    info = room.create("teacher")
    for who in ("ann", "bob", "cat"):
        room.join(info.code, who)
    assert _rule_table(room) == {k: (False, False, False) for k in BEFORE}  # no question: nothing hidden
    q = Q.open_question(room, info.id, "Which ends higher?", ["plain-20", "plain-56"], "sweep")
    Q.answer(room, q, "bob", "plain-56")
    assert _rule_table(room) == BEFORE
    ann = viewer_gating(room, Actor("ann"))
    assert ann.pending("sweep") == q and ann.pending("twin") is None
    assert ann.gate("sweep", None).answerable and "until you answer it" in ann.gate("sweep", None).sentence
    eve = viewer_gating(room, Actor("eve"))
    assert eve.pending("sweep") is None and not eve.gate("sweep", "cat").answerable
    assert "once its teacher reveals" in eve.gate("sweep", "cat").sentence
    room.leave(info.id, "cat")  # Cat left: she sees her own run, and is outside for her classmates' runs
    cat = viewer_gating(room, Actor("cat"))
    assert cat.gate("sweep", "cat") is None and cat.gate("sweep", "ann") is not None
    Q.answer(room, q, "ann", "plain-20")
    assert _rule_table(room)["ann (member, unanswered)"] == (False, False, False)
    Q.reveal(room, q.id)
    assert _rule_table(room) == {k: (False, False, False) for k in BEFORE}


def test_a_closed_class_gates_nothing_and_a_teacher_never_queries(room):
    info = room.create("teacher")
    room.join(info.code, "ann")
    Q.open_question(room, info.id, "How many epochs?", [], "twin")
    assert viewer_gating(room, Actor("ann")).gate("twin", "x") is not None
    assert viewer_gating(room, Actor(None)).gate("twin", "ann") is not None  # an unknown viewer is outside
    room.close(info.id)
    assert viewer_gating(room, Actor("ann")).gate("twin", "x") is None
    assert viewer_gating(room, Actor("eve")).gate("twin", "ann") is None


# ----------------------------------------------------------------------------- every view, in the app
QUESTION = ("Which ends with the lower training error?", ["plain-20", "resnet-20"])


@pytest.fixture
def lesson(runs_dir):
    """The app's store with the shipped digits twin (kind twin: weights, epoch metrics), a class, a twin question, a
    classmate's own finished twin, and `view(who)` opening a session (an AppTest) as Ann (in the class, not answered),
    Bob (answered), Cat (in the class, not answered), Eve (not in the class) or the teacher. Memberships and Bob's
    answer go through the library, as the Join box and the answer form would."""
    import secrets

    from explorer.store.shipped import ensure_shipped_in_store
    from pages.common import classroom, store
    owners = {who: secrets.token_hex(16) for who in ("ann", "bob", "cat", "eve", "teacher")}
    room = classroom()
    info = room.create(owners["teacher"], "Physics 1")
    for who in ("ann", "bob", "cat"):
        room.join(info.code, owners[who], who.capitalize())
    q = Q.open_question(room, info.id, *QUESTION, "twin")
    Q.answer(room, q, owners["bob"], "resnet-20")
    bobs = "bobs-twin"
    store().insert_experiment(bobs, {"kind": "twin"}, [{"name": "plain-8", "model": {}}], owner=owners["bob"],
                              status="completed", created=1.0)
    store().append_metrics(bobs, "plain-8", [{"type": "epoch", "epoch": 1, "train_error": 0.25, "test_error": 0.5}])
    store().update_run(bobs, "plain-8", final={"train_error": 0.25, "test_error": 0.5})

    def view(who: str, page: str):
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
        at.session_state["owner"] = owners[who]  # the cookie's owner id (pages.common.init_session keeps it)
        at.session_state["teacher"] = who == "teacher"  # what the sidebar's password box sets
        return _run(_run(at), page)
    return {"view": view, "question": q, "shipped": ensure_shipped_in_store(store()), "bobs": bobs}


def _run(at, page=None):
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _table(at) -> dict:
    """{experiment id: [(train error, test error) per run]} as the Runs table shows them."""
    [table] = [d.value for d in at.dataframe if "experiment" in d.value.columns]
    out: dict = {}
    for row in table.to_dict("records"):
        out.setdefault(row["experiment"], []).append((row["train error"], row["test error"]))
    return out


def _boxes(at) -> list:
    return [m.value for m in at.markdown if m.value.startswith(("**Predict first.**", "**Hidden for now.**"))]


def test_runs_hides_the_table_overlay_and_downloads_until_the_student_answers(lesson):
    view, shipped, bobs = lesson["view"], lesson["shipped"], lesson["bobs"]
    ann = view("ann", "pages/runs.py")
    table = _table(ann)
    assert set(table[shipped]) == set(table[bobs]) == {("hidden until you predict",) * 2}  # no error figure
    [box] = _boxes(ann)
    assert "question about twin experiments" in box and "until you answer it" in box
    assert ann.radio(key="runs_answer_choice").options == QUESTION[1]
    assert ann.multiselect(key="runs_overlay").options == []  # none of the gated runs can be overlaid
    for exp_id in (shipped, bobs):
        ann.selectbox(key="runs_manage_pick").set_value(exp_id)
        _run(ann)
        assert "runs_csv_make_" + exp_id not in [b.key for b in ann.button]  # no CSV, no weights
        assert "runs_wpick_" + exp_id not in [w.key for w in ann.selectbox]
        assert "No CSV or weights: hidden until you predict." in [c.value for c in ann.caption]
    for who in ("bob", "teacher"):  # answered, or the teacher: the numbers
        at = view(who, "pages/runs.py")
        table = _table(at)
        assert table[bobs] == [("25.0%", "50.0%")] and "%" in table[shipped][0][0] and not _boxes(at)
    ann.radio(key="runs_answer_choice").set_value("plain-20")
    ann.button(key="runs_answer_submit").click()
    _run(ann)
    assert _table(ann)[bobs] == [("25.0%", "50.0%")] and not _boxes(ann)
    ann.multiselect(key="runs_overlay").set_value([f"{shipped}/plain-20", f"{bobs}/plain-8"])
    _run(ann)
    chart = [c for c in ann.get("plotly_chart") if c.key == "runs_overlay_chart"]
    names = {t.get("name") for t in json.loads(chart[0].proto.spec)["data"]}
    assert {"plain-20", "plain-8"} <= names
    assert "runs_csv_make_" + bobs in [b.key for b in ann.button]
    ann.selectbox(key="runs_manage_pick").set_value(shipped)
    _run(ann)
    assert "runs_csv_make_" + shipped in [b.key for b in ann.button] and ann.selectbox(key="runs_wpick_" + shipped)


def test_outside_the_class_a_classmates_results_wait_for_the_reveal_on_runs_and_train(lesson):
    view, shipped, bobs = lesson["view"], lesson["shipped"], lesson["bobs"]
    eve = view("eve", "pages/runs.py")
    table = _table(eve)
    assert table[bobs] == [("hidden until the reveal",) * 2] and "%" in table[shipped][0][0]
    [box] = _boxes(eve)
    assert box.startswith("**Hidden for now.**") and "runs_answer_choice" not in [r.key for r in eve.radio]
    eve.session_state["watch"] = bobs
    _run(eve, "pages/train.py")
    assert _boxes(eve) == [box] and "train_curves" not in [c.key for c in eve.get("plotly_chart")]
    cat = view("cat", "pages/runs.py")  # in the class, not answered: hidden too, with the question to answer
    assert _table(cat)[bobs] == [("hidden until you predict",) * 2]
    from pages.common import classroom
    Q.reveal(classroom(), lesson["question"].id)  # the teacher reveals: shown to everyone, answered or not
    for at in (eve, cat):
        _run(at, "pages/runs.py")
        assert _table(at)[bobs] == [("25.0%", "50.0%")] and not _boxes(at)


def test_train_inspect_why_and_explain_refuse_in_one_sentence_until_the_answer(lesson):
    ann = lesson["view"]("ann", "pages/inspect.py")
    ann.session_state["watch"] = lesson["shipped"]
    _run(ann, "pages/train.py")  # Train says why the curves are missing, and asks
    [box] = _boxes(ann)
    assert "question about twin experiments" in box and ann.radio(key="train_answer_choice").options == QUESTION[1]
    assert "train_curves" not in [c.key for c in ann.get("plotly_chart")]
    for page, prefix in (("pages/inspect.py", "inspect"), ("pages/why.py", "why")):
        _run(ann, page)
        [box] = _boxes(ann)
        assert "until you answer it" in box and ann.radio(key=f"{prefix}_answer_choice").options == QUESTION[1]
        assert not ann.get("plotly_chart") and not ann.tabs and not ann.get("download_button")
    _run(ann, "pages/explain.py")
    for source in ("twin", "run"):  # the shipped twin, and the store's runs (the shipped twin is one of them)
        ann.radio(key="explain_source").set_value(source)
        _run(ann)
        assert len(_boxes(ann)) == 1 and not ann.get("plotly_chart"), source
    ann.radio(key="explain_answer_choice").set_value("resnet-20")  # answered on Explain: every view opens
    ann.button(key="explain_answer_submit").click()
    _run(ann)
    assert not _boxes(ann)
    _run(ann, "pages/inspect.py")
    assert not _boxes(ann) and ann.tabs
