"""Predict, then observe, on every view (issue 19, finding 4): an open class question on an experiment kind hides
the outcome of experiments of that kind -- Runs' table, overlay, CSV and weights, Inspect, Why it works, Explain,
the take-home script, Train's curves -- from a student who has not answered it, until the teacher reveals it.

The rule is one library function (explorer.classroom.gating.viewer_gating), tested here as a table of viewers x
experiments; then each page is driven as that viewer in Streamlit's AppTest on a real store with a real class.
"""
import pytest
from store_fixtures import BACKENDS, fresh_url

from explorer.access.policy import Actor
from explorer.classroom import questions as Q
from explorer.classroom.classes import Classroom
from explorer.classroom.gating import viewer_gating
from explorer.store.runstore import RunStore


# ----------------------------------------------------------------------------- the rule, as a table
@pytest.fixture(params=BACKENDS)
def room(request, tmp_path):
    store = RunStore(tmp_path / "runs", fresh_url(request.param))
    r = Classroom(store)
    yield r
    r.close_engines()
    store.close()


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


def _table(room) -> dict:
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
    assert _table(room) == {k: (False, False, False) for k in BEFORE}  # no question: nothing hidden
    q = Q.open_question(room, info.id, "Which ends higher?", ["plain-20", "plain-56"], "sweep")
    Q.answer(room, q, "bob", "plain-56")
    assert _table(room) == BEFORE
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
    assert _table(room)["ann (member, unanswered)"] == (False, False, False)
    Q.reveal(room, q.id)
    assert _table(room) == {k: (False, False, False) for k in BEFORE}


def test_a_closed_class_gates_nothing_and_a_teacher_never_queries(room):
    info = room.create("teacher")
    room.join(info.code, "ann")
    Q.open_question(room, info.id, "How many epochs?", [], "twin")
    assert viewer_gating(room, Actor("ann")).gate("twin", "x") is not None
    assert viewer_gating(room, Actor(None)).gate("twin", "ann") is not None  # an unknown viewer is outside
    room.close(info.id)
    assert viewer_gating(room, Actor("ann")).gate("twin", "x") is None
    assert viewer_gating(room, Actor("eve")).gate("twin", "ann") is None
