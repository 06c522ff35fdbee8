"""The classroom in Streamlit's AppTest: a teacher creates a class, students join by its link, a question hides a
student's curves until they answer (or the teacher reveals), the tally counts each student once, each student's
Figure 6 gets its own seed and the class chart reports n with a band, rights stay with the teacher, a closed
class refuses joins, projector mode enlarges the charts.

Each AppTest is its own browser session (its own owner id); they share one server (one job manager, one run store).
Jobs run in real worker processes on the built-in digits, one thread each.
"""
import json
import time
from pathlib import Path

import pytest
from helpers import create_class, poll_app, run

from explorer.text import plain_text

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "class-pw"
JOB_DEADLINE_S = 400.0  # three 1-epoch four-net sweeps one after the other on shared cores
pytestmark = [pytest.mark.usefixtures("torch_one_thread"), pytest.mark.teacher_password(PASSWORD)]




def teacher_with_class(new_app, name="Physics 1"):
    """(the teacher's AppTest on the Class page, the class code)."""
    at = new_app()
    return at, create_class(at, PASSWORD, name)


def student(new_app, code, name=""):
    at = new_app(join=code)
    at.text_input(key="sidebar_join_name").input(name)
    at.button(key="sidebar_join").click()
    run(at)
    return at


def charts(at) -> dict:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def poll(at, done, what, timeout_s=JOB_DEADLINE_S):
    poll_app(at, done, what, timeout_s)


def _blocks(node):
    for child in getattr(node, "children", {}).values():
        if type(child).__name__ == "Block":
            yield child
            yield from _blocks(child)


def roster_blocks(at) -> dict:
    """{member id: the roster row's block} (each row is a container keyed class_row_<member id>)."""
    return {b.proto.id.rsplit("-class_row_", 1)[1]: b for b in _blocks(at.main) if "-class_row_" in b.proto.id}


def roster(at):
    """The roster as the teacher reads it: one row per student (student, job, final errors, seed, jobs)."""
    import pandas as pd
    # A student's name is user text, shown as a code span (explorer.text.plain_text): read back without its fences.
    rows = [[m.value.strip("*").strip("` ") for m in b.get("markdown")] for b in roster_blocks(at).values()]
    return pd.DataFrame(rows, columns=["student", "job", "final training errors", "seed", "jobs"])


# ----------------------------------------------------------------------------- classes
def test_a_teacher_creates_a_class_two_students_join_by_its_link_and_a_closed_class_refuses(new_app):
    teacher, code = teacher_with_class(new_app)
    assert any("?join=" + code in c.value for c in teacher.code)
    ann, other = student(new_app, code, "Ann"), student(new_app, code)
    assert any(f"({code}) as {plain_text('Ann')}" in c.value for c in ann.caption), [c.value for c in ann.caption]
    assert any(f"as {plain_text('Student 2')}" in c.value for c in other.caption)
    run(teacher)
    assert list(roster(teacher)["student"]) == ["Ann", "Student 2"]
    teacher.button(key="class_close").click()
    run(teacher)
    late = new_app(join=code)
    assert [w.value for w in late.warning] == ["This class has been closed by its teacher, so it takes no new "
                                               "members."]
    assert "sidebar_join" not in [b.key for b in late.button]


def test_a_student_leaves_the_class_and_the_teacher_deletes_it_after_confirming(new_app, runs_dir):
    from explorer.store.runstore import RunStore
    from pages.common import classroom
    teacher, code = teacher_with_class(new_app)
    ann, bob = student(new_app, code, "Ann"), student(new_app, code, "Bob")
    finished_job(code, bob, 0.3)
    ann.switch_page("pages/train.py")
    run(ann)
    ann.button(key="member_leave").click()
    run(ann)
    assert not any("In class" in c.value for c in ann.caption) and "member_leave" not in [b.key for b in ann.button]
    infos = [i.value for i in ann.info]
    assert "You left the class; your experiments are still yours." in infos, infos
    run(teacher)
    assert list(roster(teacher)["student"]) == ["Bob"]
    teacher.button(key="class_remove").click()  # a confirmation first; Cancel keeps the class
    run(teacher)
    assert "class_remove_confirm" in [b.key for b in teacher.button] and classroom().find(code) is not None
    teacher.button(key="class_remove_cancel").click()
    run(teacher)
    assert "class_remove_confirm" not in [b.key for b in teacher.button] and classroom().find(code) is not None
    teacher.button(key="class_remove").click()
    run(teacher)
    teacher.button(key="class_remove_confirm").click()
    run(teacher)
    assert classroom().find(code) is None and any("Create a class" in i.value for i in teacher.info)
    run(bob)
    assert not any("In class" in c.value for c in bob.caption)  # a lone user again
    assert [e.owner for e in RunStore(runs_dir).list_experiments()] == [bob.session_state["owner"]]  # kept


def test_an_unknown_code_gets_one_sentence(new_app):
    at = new_app(join="<script>x</script>")
    assert [w.value for w in at.warning] == ["There is no class with that code; check it with your teacher."]


def test_a_student_cannot_see_the_class_page_or_stop_anothers_job(new_app, runs_dir):
    teacher, code = teacher_with_class(new_app)
    ann, bob = student(new_app, code, "Ann"), student(new_app, code, "Bob")
    bob.switch_page("pages/classroom.py")
    run(bob)
    assert any("for the teacher" in i.value for i in bob.info)
    assert not [d for d in bob.dataframe] and "class_stop" not in [b.key for b in bob.button]
    from explorer.data.config import DataConfig
    from explorer.jobs.manager import JobError
    from explorer.jobs.request import JobRequest
    from explorer.nets.config import ModelConfig
    from explorer.training.experiments import single
    from explorer.training.recipes import TrainConfig
    from pages.common import job_manager
    spec = single(ModelConfig(depth=8), DataConfig("digits", train_subset=64, test_subset=64),
                  TrainConfig(epochs=1, device="cpu"))
    exp_id, _ = job_manager().submit(JobRequest.training(spec, ann.session_state["owner"]))
    with pytest.raises(JobError, match="Only the person who started"):
        job_manager().stop(exp_id, bob.session_state["owner"])
    job_manager().stop(exp_id, teacher.session_state["owner"], teacher=True)  # the teacher may


def finished_job(code, at, train_error) -> str:
    """A finished plain-20 job of this student's, recorded in the class (in the real store, no worker needed)."""
    import secrets

    from explorer.classroom.classes import student_seed
    from pages.common import classroom, store
    class_id, owner = classroom().find(code).id, at.session_state["owner"]
    exp_id = f"test-{secrets.token_hex(4)}"
    store().insert_experiment(exp_id, {"kind": "sweep"}, [{"name": "plain-20", "model": {}}], owner=owner,
                              status="completed", created=time.time())
    store().append_metrics(exp_id, "plain-20", [{"type": "epoch", "epoch": e, "train_error": err, "test_error": err}
                                                for e, err in ((1, 0.9), (2, train_error))])
    store().update_run(exp_id, "plain-20", final={"train_error": train_error, "test_error": train_error})
    classroom().record_job(class_id, owner, exp_id, student_seed(class_id, owner))
    return exp_id


def test_one_click_projects_any_students_charts_under_their_row(new_app):
    from explorer.classroom.classes import member_id
    from pages.common import classroom
    teacher, code = teacher_with_class(new_app)
    ann, bob, cat = student(new_app, code, "Ann"), student(new_app, code, "Bob"), student(new_app, code, "Cat")
    finished_job(code, ann, 0.25)
    finished_job(code, bob, 0.5)
    run(teacher)
    class_id = classroom().find(code).id
    ids = {at: member_id(class_id, at.session_state["owner"]) for at in (ann, bob, cat)}
    assert list(roster_blocks(teacher)) == [ids[ann], ids[bob], ids[cat]]
    assert list(roster(teacher)["final training errors"]) == ["plain-20 25.0%", "plain-20 50.0%", "–"]
    keys = [b.key for b in teacher.button]
    assert not any(at.session_state["owner"] in k for k in keys for at in (ann, bob))  # no owner id in the page
    assert teacher.button(key=f"class_project_{ids[cat]}").disabled  # no job, nothing to project
    assert "class_projected_curves" not in charts(teacher)
    teacher.button(key=f"class_project_{ids[bob]}").click()  # one click
    run(teacher)
    assert [s.value for s in teacher.subheader] == [f"{plain_text('Bob')}'s charts"]
    errors = [y for t in charts(teacher)["class_projected_curves"]["data"] if t["name"] == "plain-20"
              for y in t["y"] if y is not None]
    assert errors and max(errors) > 40 and min(errors) == pytest.approx(50.0)  # Bob's curve, in %
    teacher.button(key=f"class_project_{ids[ann]}").click()  # one click moves the projector to Ann
    run(teacher)
    assert [s.value for s in teacher.subheader] == [f"{plain_text('Ann')}'s charts"]
    teacher.button(key=f"class_project_{ids[ann]}").click()  # and one click takes her charts away
    run(teacher)
    assert not teacher.subheader and "class_projected_curves" not in charts(teacher)


# ----------------------------------------------------------------------------- predict, then observe; Figure 6
def start_figure6(at):
    at.button(key="home_figure6").click()
    run(at)
    assert at.title[0].value == "Train", [e.value for e in at.error]
    at.switch_page("pages/train.py")  # AppTest reruns the page it was last switched to: stay on Train


@pytest.mark.slow
def test_predict_then_observe_and_the_class_figure6_across_three_seeds(new_app, runs_dir):
    teacher, code = teacher_with_class(new_app)
    teacher.button(key="class_q_open").click()  # the default question: plain-20 or plain-56, on Figure 6
    run(teacher)
    students = [student(new_app, code, n) for n in ("Ann", "Bob", "Cat")]
    # Each student sets one epoch on Train's form, then presses Home's "Reproduce Figure 6".
    for at in students:
        at.switch_page("pages/train.py")
        run(at)
        at.number_input(key="train_epochs").set_value(1)
        run(at)
        at.switch_page("pages/home.py")
        run(at)
        start_figure6(at)
    ann, bob, cat = students
    # Hidden until they answer: the question stands where the curves would be.
    for at in students:
        run(at)
        assert at.title[0].value == "Train"
        assert at.radio(key="train_answer_choice").options == ["plain-20", "plain-56"]
        assert "train_curves" not in charts(at)
    ann.radio(key="train_answer_choice").set_value("plain-56")
    ann.button(key="train_answer_submit").click()
    run(ann)
    assert "train_answer_choice" not in [r.key for r in ann.radio]
    assert any(c.value.startswith("Your prediction is in: plain-56.") for c in ann.caption)
    bob.radio(key="train_answer_choice").set_value("plain-20")
    bob.button(key="train_answer_submit").click()
    run(bob)
    from explorer.classroom import questions
    from pages.common import classroom
    [q] = questions.class_questions(classroom(), classroom().find(code).id)
    questions.answer(classroom(), q, ann.session_state["owner"], "plain-56")  # again: still one vote
    run(teacher)
    assert any("2 of 3 answered; hidden" in m.value for m in teacher.markdown), [m.value for m in teacher.markdown]
    assert [tuple(t["y"]) for t in charts(teacher)["class_tally"]["data"]] == [(1, 1)]
    # Three students, three seeds, three jobs (none attached to another's).
    from explorer.store.runstore import RunStore
    exps = RunStore(runs_dir).list_experiments()
    assert len(exps) == 3 and len({e.spec["train"]["seed"] for e in exps}) == 3
    assert len({e.owner for e in exps}) == 3
    # The teacher reveals: Cat, who never answered, sees the curves and the tally beside them.
    teacher.button(key="class_reveal").click()
    run(teacher)
    assert any("revealed to everyone" in m.value for m in teacher.markdown)
    run(cat)
    assert "train_answer_choice" not in [r.key for r in cat.radio] and "train_tally" in charts(cat)

    def all_finished(at):
        table = roster(at)
        return list(table["job"]) == ["Finished"] * 3  # explorer.jobs.status's one wording
    try:
        poll(teacher, all_finished, "the three Figure 6 jobs to finish")
    except BaseException:
        import sys
        for e in RunStore(runs_dir).list_experiments():
            log = (runs_dir / e.id / "worker.log")
            print(e.id, e.status, e.message, log.read_text()[-800:] if log.exists() else "", file=sys.stderr)
        raise
    poll(cat, lambda a: "train_curves" in charts(a), "Cat's curves")
    assert len(set(roster(teacher)["seed"])) == 3
    fig = charts(teacher)["class_figure6"]
    assert "n = 3" in fig["layout"]["title"]["text"]
    legend = {t["name"] for t in fig["data"] if t.get("showlegend") is not False}
    assert legend == {f"{n} (median of n = 3)" for n in ("plain-20", "resnet-20", "plain-56", "resnet-56")}
    assert sum(1 for t in fig["data"] if t.get("fill") == "toself") == 8  # a spread per net per panel


# ----------------------------------------------------------------------------- lesson links, projector
def test_a_lesson_link_locks_and_hides_controls_and_a_locked_one_cannot_be_changed(new_app, runs_dir):
    at = new_app(epochs=2, lr="0.05", lock="epochs,lr", hide="device")
    at.switch_page("pages/train.py")
    run(at)
    assert at.number_input(key="train_epochs").disabled and at.number_input(key="train_lr").disabled
    assert "train_device" not in [s.key for s in at.selectbox]
    assert "This page was opened from a lesson link, which keeps epochs and lr as it set them (greyed out) and " \
           "hides device." in [c.value for c in at.caption]
    assert not at.selectbox(key="train_batch").disabled
    with pytest.raises(Exception, match="disabled"):
        at.number_input(key="train_epochs").set_value(9)
    at.session_state["train_epochs"] = 9  # what a tampered browser could still send: ignored
    at.button(key="train_start").click()
    run(at)
    from explorer.store.runstore import RunStore
    [exp] = RunStore(runs_dir).list_experiments()
    assert exp.spec["train"]["epochs"] == 2 and exp.spec["train"]["lr"] == 0.05
    assert at.query_params["lock"] == "epochs,lr" and at.query_params["hide"] == "device"  # kept on reload
    from pages.common import job_manager
    job_manager().stop(exp.id, exp.owner)


def test_unknown_lock_names_get_one_sentence_not_an_error(new_app):
    at = new_app(lock="epochs,owner,<b>x</b>")
    assert len(at.warning) == 1 and "'owner'" in at.warning[0].value
    at.switch_page("pages/train.py")
    run(at)
    assert at.number_input(key="train_epochs").disabled


def test_a_lesson_link_locks_and_hides_build_controls_too(new_app):
    at = new_app(depth=56, shortcut="B", lock="depth,shortcut", hide="placement,preset")
    assert not at.warning
    at.switch_page("pages/build.py")
    run(at)
    assert at.selectbox(key="build_depth").disabled and at.selectbox(key="build_depth").value == 56
    assert at.radio(key="build_shortcut").disabled and at.radio(key="build_shortcut").value == "B"
    assert {"build_placement", "build_preset"}.isdisjoint(s.key for s in at.selectbox)
    assert not at.radio(key="build_block").disabled and not at.selectbox(key="build_dataset").disabled
    from explorer.nets.kinds import PLACEMENTS
    captions = [c.value for c in at.caption]
    assert "This page was opened from a lesson link, which keeps depth and shortcut as it set them (greyed out) " \
           "and hides preset and placement." in captions
    assert PLACEMENTS["original"].help not in captions  # a hidden control's caption would give it away
    with pytest.raises(Exception, match="disabled"):
        at.selectbox(key="build_depth").set_value(20)
    at.session_state["build_depth"] = 20  # what a tampered browser could still send: ignored
    at.session_state["build_placement"] = "full_preact"
    run(at)
    assert at.selectbox(key="build_depth").value == 56
    assert {k: at.session_state["model_cfg"][k] for k in ("depth", "shortcut", "placement")} == \
        {"depth": 56, "shortcut": "B", "placement": "original"}
    at.radio(key="build_block").set_value("bottleneck")  # an unlocked control still changes; the depth stays
    run(at)
    assert at.selectbox(key="build_depth").value == 56 and at.session_state["model_cfg"]["block"] == "bottleneck"


def test_an_unknown_build_control_name_gets_one_sentence_and_the_rest_still_locks(new_app):
    at = new_app(lock="depth,deepness")
    assert len(at.warning) == 1 and "'deepness'" in at.warning[0].value and "Build or Train" in at.warning[0].value
    at.switch_page("pages/build.py")
    run(at)
    assert at.selectbox(key="build_depth").disabled and not at.exception


def test_projector_mode_enlarges_the_charts(new_app):
    teacher, _ = teacher_with_class(new_app)
    normal = charts(teacher)["class_figure6"]["layout"]["font"]["size"]
    teacher.switch_page("streamlit_app.py")  # the sidebar belongs to the entry script
    run(teacher)
    teacher.toggle(key="sidebar_projector").set_value(True)
    run(teacher)
    assert any("font-size: 1.45rem" in h.proto.body for h in teacher.get("html"))
    teacher.switch_page("pages/classroom.py")
    run(teacher)
    assert charts(teacher)["class_figure6"]["layout"]["font"]["size"] == pytest.approx(normal * 1.6)


# ----------------------------------------------------------------------------- lessons
def test_a_lesson_asks_for_a_prediction_before_its_one_click_experiment(new_app, runs_dir):
    at = new_app(epochs=1)
    at.switch_page("pages/lessons.py")
    run(at)
    for key in ("degradation", "fix", "shortcuts", "placement", "why"):
        at.selectbox(key="lessons_pick").set_value(key)
        run(at)
        assert at.header[0].value.endswith({"degradation": "The degradation problem", "fix": "identity shortcuts",
                                            "shortcuts": "A, B and C", "placement": "BN and ReLU go",
                                            "why": "Why it works"}[key])
        assert at.button(key="lessons_run").disabled  # predict first
    at.selectbox(key="lessons_pick").set_value("shortcuts")
    run(at)
    at.radio(key="lessons_predict_shortcuts").set_value("about the same")
    run(at)
    at.radio(key="lessons_check_shortcuts_0").set_value("They are what fixes degradation")
    run(at)
    assert any(w.value.startswith("Not quite") for w in at.warning)
    at.button(key="lessons_run").click()
    run(at)
    from explorer.store.runstore import RunStore
    [exp] = RunStore(runs_dir).list_experiments()
    assert sorted(r.name for r in exp.runs) == ["plain-20-none", "resnet-20-A", "resnet-20-B", "resnet-20-C"]
    from pages.common import job_manager
    job_manager().stop(exp.id, exp.owner)


def test_a_teacher_puts_the_class_on_a_lesson(new_app):
    teacher, code = teacher_with_class(new_app)
    ann = student(new_app, code, "Ann")
    teacher.selectbox(key="class_lesson").set_value("placement")
    run(teacher)
    ann.switch_page("pages/lessons.py")
    run(ann)
    assert any("4. Where BN and ReLU go" in i.value for i in ann.info)
    assert ann.header[0].value == "4. Where BN and ReLU go" and "lessons_pick" not in [s.key for s in ann.selectbox]


def test_lesson_predictions_are_kept_with_the_class_and_the_teacher_sees_the_tally(new_app):
    teacher, code = teacher_with_class(new_app)
    teacher.selectbox(key="class_lesson").set_value("degradation")
    run(teacher)
    ann, bob = student(new_app, code, "Ann"), student(new_app, code, "Bob")
    for at, said in ((ann, "plain-20"), (bob, "plain-56")):
        at.switch_page("pages/lessons.py")
        run(at)
        at.radio(key="lessons_predict_degradation").set_value(said)
        run(at)
        assert any("kept with your class" in c.value for c in at.caption)
        assert not at.button(key="lessons_run").disabled
    ann.radio(key="lessons_predict_degradation").set_value("plain-56")  # a change of mind, not a second vote
    run(ann)
    lone = new_app()  # outside a class the prediction stays in the session
    lone.switch_page("pages/lessons.py")
    run(lone)
    lone.radio(key="lessons_predict_degradation").set_value("plain-20")
    run(lone)
    assert not any("kept with your class" in c.value for c in lone.caption)
    from pages.common import classroom
    classroom().join(code, lone.session_state["owner"], "Lone")  # then joins: that prediction is kept too
    run(lone)
    assert lone.radio(key="lessons_predict_degradation").value == "plain-20"
    assert any("kept with your class" in c.value for c in lone.caption)
    run(teacher)
    table = next(d.value for d in teacher.dataframe if "predictions" in d.value.columns)
    assert table.to_dict("records") == [{"lesson": "1. The degradation problem", "answered": "3 of 3",
                                         "predictions": "plain-20: 1 · plain-56: 2 · about the same: 0"}]
    assert [tuple(t["y"]) for t in charts(teacher)["class_lesson_chart"]["data"]] == [(1, 2, 0)]
    again = new_app()  # Ann on another device (her owner cookie): her kept prediction comes back
    again.session_state["owner"] = ann.session_state["owner"]
    again.switch_page("pages/lessons.py")
    run(again)
    assert again.radio(key="lessons_predict_degradation").value == "plain-56"


def test_a_lesson_offers_a_recorded_result_when_time_is_short(new_app):
    at = new_app()
    at.switch_page("pages/lessons.py")
    run(at)
    at.selectbox(key="lessons_pick").set_value("fix")
    run(at)
    assert at.button(key="lessons_recorded").label == "Short on time? Open the recorded plain-56 and ResNet-56"
    at.button(key="lessons_recorded").click()
    run(at)
    assert at.title[0].value == "Train"
    at.switch_page("pages/train.py")
    run(at)
    assert {"plain-56", "resnet-56"} <= {t["name"] for t in charts(at)["train_curves"]["data"]}  # lesson 2's 56 layers
    shown = " ".join(e.value for e in (*at.markdown, *at.caption, *at.success) if isinstance(e.value, str))
    assert "assets/" not in shown and ".json" not in shown and "scripts/" not in shown  # no repository paths


def test_a_closed_class_can_be_reopened_or_deleted_from_the_class_page(new_app):
    from pages.common import classroom
    teacher, code = teacher_with_class(new_app)
    class_id = classroom().find(code).id
    teacher.button(key="class_close").click()
    run(teacher)
    assert any(e.label == "Closed classes (1)" for e in teacher.expander)
    assert any("Create a class" in i.value for i in teacher.info)  # no open class left to pick
    teacher.button(key=f"class_reopen_{class_id}").click()
    run(teacher)
    assert student(new_app, code, "Ann").warning.len == 0  # the link takes members again
    assert not any(e.label.startswith("Closed classes") for e in teacher.expander)
    teacher.button(key="class_close").click()
    run(teacher)
    teacher.button(key=f"class_remove_{class_id}").click()  # a confirmation first
    run(teacher)
    teacher.button(key=f"class_remove_confirm_{class_id}").click()
    run(teacher)
    assert classroom().find(code) is None and not any(e.label.startswith("Closed") for e in teacher.expander)
