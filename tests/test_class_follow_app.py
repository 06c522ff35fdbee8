"""Follow the class and pause it, in Streamlit's AppTest (one session per person, one server): a student's page
follows the lesson the teacher puts the class on, keeps what they typed, and disables every start while the class
is paused, with one sentence; the teacher's Pause / Go on control; one class per Create, however often pressed."""
from pathlib import Path

import pytest
from helpers import create_class, open_app, run
from streamlit.testing.v1 import AppTest

from explorer.classroom.classes import Classroom
from explorer.classroom.follow import class_state
from explorer.classroom.pause import PAUSED_SENTENCE
from explorer.store.runstore import RunStore

ROOT = Path(__file__).resolve().parent.parent

PASSWORD = "class-pw"
pytestmark = pytest.mark.teacher_password(PASSWORD)




def teacher_with_class(name="Physics 1"):
    at = open_app()
    return at, create_class(at, PASSWORD, name)


def session(owner, **state):
    """A student's browser session as its first page run sees it (AppTest runs the entry script, where the follow
    timer lives, on a session's first run only; the browser test drives the timer itself)."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.session_state["owner"] = owner
    for key, value in state.items():
        at.session_state[key] = value
    return run(at)


def infos(at) -> list:
    return [i.value for i in at.info]


ANN = "a" * 32


def test_a_student_on_another_page_is_taken_to_the_class_lesson(runs_dir):
    room = Classroom(RunStore(runs_dir))
    info = room.create("teacher")
    room.join(info.code, ANN)
    room.set_lesson(info.id, "degradation")
    seen = class_state(room, ANN)
    room.set_lesson(info.id, "fix")  # the teacher moves the class while Ann reads Home
    ann = session(ANN, _class_seen=seen)
    assert ann.title[0].value == "Lessons" and any("2. The fix" in h.value for h in ann.header)
    assert "Your teacher has put the class on **2. The fix" in " ".join(infos(ann))
    stays = session(ANN, _class_seen=class_state(room, ANN))  # nothing moved: she stays where she is
    assert stays.title[0].value != "Lessons"


def test_pause_disables_every_start_with_one_sentence_and_resume_restores(runs_dir):
    teacher, code = teacher_with_class()
    room = Classroom(RunStore(runs_dir))
    room.join(code, ANN)
    teacher.radio(key="class_pause_stop").set_value(True)
    run(teacher)
    teacher.button(key="class_pause").click()
    run(teacher)
    assert any("The class is paused" in m.value and "are stopped" in m.value for m in teacher.markdown)
    ann = session(ANN)  # her first page run reads the pause (later runs keep what it read: see session())
    for page, key in (("home", "home_figure6"), ("train", "train_start"), ("lessons", "lessons_run")):
        if page != "home":
            ann.switch_page(f"pages/{page}.py")
            run(ann)
        assert ann.button(key=key).disabled and PAUSED_SENTENCE in infos(ann), page
    teacher.button(key="class_resume").click()
    run(teacher)
    assert not any("The class is paused" in m.value for m in teacher.markdown)
    ann = session(ANN)
    ann.switch_page("pages/train.py")
    run(ann)
    assert not ann.button(key="train_start").disabled and PAUSED_SENTENCE not in infos(ann)


def test_create_pressed_twice_makes_one_class(runs_dir):
    teacher, code = teacher_with_class("Period 2")
    teacher.button(key="class_create").click()  # the second press of a double click
    run(teacher)
    assert len(Classroom(RunStore(runs_dir)).teacher_classes()) == 1
    assert any(f"({code}) was just created" in i for i in infos(teacher))


def test_ask_closes_and_clears_its_form_and_an_unanswered_tally_says_so(runs_dir):
    teacher, _ = teacher_with_class()
    prompt = teacher.text_input(key="class_q_prompt")
    assert "*" not in prompt.value and "higher training error" in prompt.value  # plain words, no markup
    teacher.button(key="class_q_open").click()
    run(teacher)
    assert teacher.text_input(key="class_q_prompt").value == "" and teacher.session_state["class_ask_box"] is False
    assert any("(0 of 0 answered; hidden" in m.value for m in teacher.markdown)
    assert "No answers yet." in [c.value for c in teacher.caption]
    assert "class_tally" not in {c.key for c in teacher.get("plotly_chart")}
    teacher.button(key="class_q_open").click()  # an empty question: one sentence, nothing opened
    run(teacher)
    asked = [w.value for w in teacher.warning if "question" in w.value]  # (beside the localhost join link's warning)
    assert asked == ["A question needs a prompt of 1 to 400 characters."]


def test_the_roster_flags_a_failed_job_with_its_rule_and_sorts_by_flags(runs_dir):
    from explorer.classroom.classes import student_seed
    teacher, code = teacher_with_class()
    room = Classroom(RunStore(runs_dir))
    info = room.find(code)
    for owner in ("a" * 32, "b" * 32):
        room.join(code, owner)
    exp = room.store.create_experiment({"kind": "sweep"}, [{"name": "plain-20", "model": {}}], owner="b" * 32)
    room.store.update_experiment(exp, status="failed", message="The worker ran out of memory.")
    room.record_job(info.id, "b" * 32, exp, student_seed(info.id, "b" * 32))
    run(teacher)
    text = " ".join(m.value for m in teacher.markdown)
    assert "Needs attention (1)" in text and "**Student 2**: Failed: The worker ran out of memory" in text
    assert "**Student 2** · ⚠ failed" in text
    teacher.selectbox(key="class_roster_sort").set_value("flags")
    run(teacher)
    names = [m.value for m in teacher.markdown if m.value.startswith("**Student")]
    assert names.index("**Student 2** · ⚠ failed") < names.index("**Student 1**")



def test_hidden_curves_say_why_and_an_empty_prediction_gets_one_sentence(runs_dir):
    from explorer.classroom import questions
    room = Classroom(RunStore(runs_dir))
    info = room.create("teacher")
    room.join(info.code, ANN)
    questions.open_question(room, info.id, "Which ends higher?", ["plain-20", "plain-56"], "sweep")
    exp = room.store.create_experiment({"kind": "sweep"}, [{"name": "plain-20", "model": {}}], owner=ANN)
    room.store.update_experiment(exp, status="completed")
    ann = session(ANN, watch=exp)
    ann.switch_page("pages/train.py")
    run(ann)
    said = " ".join(m.value for m in ann.markdown)
    assert "**Predict first.** Your teacher asked your class a question" in said and "answer it here" in said
    ann.button(key="train_answer_submit").click()  # no choice made
    run(ann)
    assert [w.value for w in ann.warning] == ["Pick one of the question's choices."]
