"""Follow the class and pause it, in Streamlit's AppTest (one session per person, one server): a student's page
follows the lesson the teacher puts the class on, keeps what they typed, and disables every start while the class
is paused, with one sentence; the teacher's Pause / Go on control; one class per Create, however often pressed."""
from pathlib import Path

import pytest
from helpers import open_app
from streamlit.testing.v1 import AppTest

from explorer.classroom.classes import Classroom
from explorer.classroom.follow import class_state
from explorer.classroom.pause import PAUSED_SENTENCE
from explorer.store.runstore import RunStore

ROOT = Path(__file__).resolve().parent.parent

PASSWORD = "class-pw"


@pytest.fixture
def runs_dir(runs_dir, monkeypatch):
    """conftest's app server with teacher mode on."""
    monkeypatch.setenv("EXPLORER_TEACHER_PASSWORD", PASSWORD)
    return runs_dir


def run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def teacher_with_class(name="Physics 1"):
    at = open_app()
    at.text_input(key="sidebar_teacher_pw").input(PASSWORD)
    run(at)
    at.switch_page("pages/classroom.py")
    run(at)
    at.text_input(key="class_new_name").input(name)
    at.button(key="class_create").click()
    run(at)
    code = next(m.value.split(": ")[1] for m in at.markdown if m.value.startswith("## Join code"))
    return at, code


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
    for page, key in (("home", "home_figure6"), ("train", "train_start"), ("lessons", "lessons_run")):
        ann = session(ANN)
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
