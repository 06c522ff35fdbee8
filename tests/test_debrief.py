"""The debrief a teacher keeps: one HTML page with the class's Figure 6, each question's predictions against the
class's runs, the snapshots and the lessons, plotly.js inline and nothing fetched from a network, every typed text
escaped; and a CSV of predictions and outcomes per pseudonymous student with formula cells neutralised.
Records are written straight into a real store (no training).
"""
import csv
import io
import re

import plotly.graph_objects as go
import pytest

from explorer.classroom import authoring as A
from explorer.classroom import questions as Q
from explorer.classroom.classes import seeded_spec
from explorer.classroom.debrief import csv_text, gather, safe_cell
from explorer.classroom.lessons import lesson
from explorer.data.config import DataConfig
from explorer.figures.debrief import debrief_html, outcome_sentence
from explorer.training.experiments import figure6
from explorer.training.recipes import train_config_for

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def finished_sweep(room, class_id, owner, plain56_error):
    """A completed seeded Figure 6 sweep of 2 epochs, its epoch records and finals, recorded as the class's."""
    spec = seeded_spec(figure6(DataConfig("digits"), train_config_for("digits", epochs=2)), class_id, owner)
    runs = [{"name": n, "model": cfg.to_dict()} for n, cfg in spec.models]
    store = room.store
    exp = store.create_experiment(spec.to_dict(), runs, owner=owner)
    for name, _ in spec.models:
        end = plain56_error if name == "plain-56" else 0.06
        store.append_metrics(exp, name, [{"type": "epoch", "run": name, "epoch": e, "train_error": err,
                                          "test_error": err + 0.01} for e, err in ((1, 0.5), (2, end))])
        store.update_run(exp, name, status="completed", final={"train_error": end, "test_error": end + 0.01})
    store.update_experiment(exp, status="completed")
    room.record_member_job(class_id, owner, exp)


@pytest.fixture
def lesson_day(room):
    """A class of three (Ann, Bob, Cat) after a lesson: two finished sweeps, a question with hostile text answered,
    a built-in lesson's predictions, a teacher-made lesson."""
    info = room.create("teacher", "Physics 1")
    for who, name in (("ann", "Ann"), ("bob", "Bob"), ("cat", "Cat")):
        room.join(info.code, who, name)
    finished_sweep(room, info.id, "ann", 0.18)
    finished_sweep(room, info.id, "bob", 0.20)
    asked = Q.open_question(room, info.id, f"Which ends higher? {HOSTILE}", ["plain-20", "plain-56", "=1+2"],
                            "sweep")
    for who, said in (("ann", "plain-56"), ("bob", "plain-56"), ("cat", "=1+2")):
        Q.answer(room, asked, who, said)
    Q.answer(room, Q.lesson_question(room, info.id, lesson("degradation")), "ann", "plain-56")
    own = A.save_lesson(room, info.id, "Deep twins", "Which twin ends lower?", ["plain-56", "resnet-56"], "twin56")
    Q.answer(room, A.lesson_gate(room, own), "cat", "resnet-56")
    return info


def test_the_debrief_holds_figure6_the_tallies_against_the_runs_and_the_lessons(room, lesson_day):
    debrief = gather(room, lesson_day.id)
    assert list(debrief.names.values()) == ["Otter", "Falcon", "Badger"]  # joining order
    assert [a.where for a in debrief.asked] == ["on the Class page", "in lesson 1. The degradation problem",
                                                "in your lesson “Deep twins”"]
    said = outcome_sentence(debrief.asked[0], debrief.outcomes["sweep"])
    assert said == ("2 predicted plain-56, 1 predicted =1+2; the class's runs (median final training error, up to "
                    "n = 2): plain-56 19.0% vs plain-20 6.0%.")
    assert "no finished runs" in outcome_sentence(debrief.asked[2], debrief.outcomes.get("twin"))
    page = debrief_html(debrief, [(f"Snapshot {HOSTILE}", go.Figure(go.Bar(x=["a"], y=[1])))])
    assert 'id="class-figure6"' in page and "median of n = 2" in page
    assert "plain-56 19.0% vs plain-20 6.0%" in page and "2 of 3 answered" not in page and "3 of 3 answered" in page
    assert page.count('class="plotly-graph-div"') == 1 + 3 + 1  # Figure 6, three tallies, one snapshot
    assert "<b>1. The degradation problem</b>" in page and "Deep twins (your own lesson)" in page
    assert "only plain-110 fails badly (above 60 % error in Figure 6)." in page  # the paper's scale, whole
    for name in ("Ann", "Bob", "Cat", "ann", "teacher"):  # no display name, no owner id
        assert not re.search(rf"\b{name}\b", page.split("</script>", 1)[1])


def test_the_debrief_page_needs_no_network_and_escapes_what_was_typed(room, lesson_day):
    page = debrief_html(gather(room, lesson_day.id), [(HOSTILE, go.Figure())])
    assert page.count("<script>") - page.count("Plotly.newPlot") == 1  # plotly.js once, then one per chart
    assert len(page) > 3_000_000  # ... and it is the whole bundle, inline
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page, re.I)  # nothing fetched
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page


def test_the_csv_has_each_pseudonymous_students_predictions_and_outcomes_with_formulas_neutralised(room, lesson_day):
    rows = list(csv.DictReader(io.StringIO(csv_text(gather(room, lesson_day.id)))))
    assert len(rows) == 3 * 3  # three students, three questions
    otter = next(r for r in rows if r["student"] == "Otter" and r["asked"] == "on the Class page")
    assert otter["prediction"] == "plain-56" and otter["experiment"] == "sweep"
    assert otter["their runs' final training error"] == "plain-20 6.0%; resnet-20 6.0%; plain-56 18.0%; resnet-56 6.0%"
    badger = next(r for r in rows if r["student"] == "Badger" and r["asked"] == "on the Class page")
    assert badger["prediction"] == "'=1+2" and badger["their runs' final training error"] == ""
    assert {r["student"] for r in rows} == {"Otter", "Falcon", "Badger"}
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    assert [safe_cell(v) for v in ("-3", "@SUM(A1)", "+1", "\tx", "plain", 12)] == \
        ["'-3", "'@SUM(A1)", "'+1", "'\tx", "plain", "12"]


def test_the_pools_line_under_figure6s_title_is_a_second_line_and_escaped():
    from explorer.figures.classroom import class_figure6
    curves = {"plain-20": [[{"epoch": 1, "train_error": 0.5, "test_error": 0.5}]]}
    title = class_figure6(curves, pool="digits, 2 epochs <b>x</b>", others=1).layout.title.text
    assert title.endswith("<br><sup>digits, 2 epochs &lt;b&gt;x&lt;/b&gt;; 1 sweep of another dataset or recipe left "
                          "out</sup>")
    assert "&lt;br&gt;" not in title


def test_the_snapshots_pushed_to_the_screen_reach_the_debrief_under_pseudonyms(room, lesson_day):
    from explorer.classroom import screen as S
    from explorer.figures.screen import debrief_snapshots
    info = lesson_day
    choices = {(i.owner, i.run_name): i for i in S.snapshot_choices(room, info.id)}
    picks = [choices[("ann", "plain-56")], choices[("bob", "resnet-56")]]
    S.take_snapshot(room, info.id, [(i.exp_id, i.run_id) for i in picks], "side")
    shown = debrief_snapshots(room, info.id)
    assert [title.split(".")[0] for title, _ in shown] == ["Snapshot: Otter: plain-56 vs Falcon: resnet-56"]
    page = debrief_html(gather(room, info.id), shown)
    assert "<h3>Snapshot: Otter: plain-56 vs Falcon: resnet-56" in page and 'id="snapshot-0"' in page
    body = page.split("</script>", 1)[1]  # after plotly.js (whose source has words like "Annotation")
    assert "No snapshot was shown." not in body and "Ann" not in body and "Bob" not in body
