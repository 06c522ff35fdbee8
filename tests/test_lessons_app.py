"""Teacher-made lessons and the debrief in Streamlit's AppTest: the teacher writes a lesson with checkboxes for the
locked and hidden controls and gets its link, bad text gets one sentence, a file round-trips through export and
import, a student finds the lesson on the Lessons page beside the built-in ones, predicts, and is taken to Train with
the lesson's controls locked; the debrief's two downloads are on the teacher's Class page.
No job is started: nothing trains here.
"""
import dataclasses
import urllib.parse

import pytest
from helpers import run

from explorer.classroom import authoring

PASSWORD = "class-pw"
pytestmark = pytest.mark.teacher_password(PASSWORD)




def teacher_with_class(new_app):
    at = new_app()
    at.switch_page("pages/classroom.py")
    run(at)
    at.text_input(key="class_teacher_pw").input(PASSWORD)  # the Class page's password box (pages.signin)
    run(at)
    at.text_input(key="class_new_name").input("Physics 1")
    at.button(key="class_create").click()
    run(at)
    return at


def write_lesson(at, title, prompt, choices, experiment, lock=(), hide=()):
    at.text_input(key="class_lessons_title").input(title)
    at.text_input(key="class_lessons_prompt").input(prompt)
    at.text_input(key="class_lessons_choices").input(choices)
    at.selectbox(key="class_lessons_experiment").set_value(experiment)
    for name in lock:
        at.checkbox(key=f"class_lessons_lock_{name}").check()
    for name in hide:
        at.checkbox(key=f"class_lessons_hide_{name}").check()
    at.button(key="class_lessons_save").click()
    return run(at)


def lesson_links(at) -> list[dict]:
    return [dict(urllib.parse.parse_qsl(c.value.split("?", 1)[1])) for c in at.code if "/lessons?" in c.value]


def test_a_teacher_writes_a_lesson_with_checkboxes_and_a_student_follows_its_link(new_app, runs_dir):
    at = teacher_with_class(new_app)
    assert at.download_button(key="class_debrief_html").label == "Download the debrief (HTML)"
    assert at.download_button(key="class_debrief_csv") is not None
    write_lesson(at, "<b>Deep</b> twins", "Which twin ends lower?", "plain-56, resnet-56", "own_twin")
    assert any("title may not hold markup" in w.value for w in at.warning)
    assert lesson_links(at) == []
    at.text_input(key="class_lessons_title").input("Deep twins")
    for name in ("kind", "depth"):
        at.checkbox(key=f"class_lessons_lock_{name}").check()
    at.checkbox(key="class_lessons_hide_device").check()
    at.checkbox(key="class_lessons_lock_epochs").check()
    at.number_input(key="class_lessons_epochs").set_value(2)
    at.button(key="class_lessons_save").click()
    run(at)
    (link,) = lesson_links(at)
    assert link["lock"] == "kind,epochs,depth" and link["hide"] == "device" and link["kind"] == "twin"
    assert link["epochs"] == "2"
    code = link["join"]
    assert at.text_input(key="class_lessons_title").value == ""  # the form empties after a save

    from pages.common import classroom  # the app's own (cached) class room: this process runs the app
    saved = authoring.get_lesson(classroom(), link["lesson"])  # AppTest tells a selectbox's options by their labels:
    exported = authoring.export_lessons([dataclasses.replace(saved, title="Deep twins again")])  # so another title
    at.get("file_uploader")[0].set_value(("lessons.json", exported, "application/json"))
    run(at)
    assert len(lesson_links(at)) == 2 and any("Imported 1 lesson." in s.value for s in at.success)
    at.get("file_uploader")[0].set_value(("bad.json", b'{"format": 1}', "application/json"))
    run(at)
    assert any("not a lessons file exported from ResNet Explorer" in w.value for w in at.warning)
    assert len(lesson_links(at)) == 2

    student = new_app(**link)  # the lesson's link: join the class, then the Lessons page opens on the lesson
    student.text_input(key="sidebar_join_name").input("Ann")
    student.button(key="sidebar_join").click()
    run(student)
    student.switch_page("pages/lessons.py")
    run(student)
    assert student.selectbox(key="lessons_pick").value == f"own:{link['lesson']}"
    assert len(student.selectbox(key="lessons_pick").options) == 5 + 2  # the built-in five and the class's two
    assert student.button(key="lessons_own_run").disabled  # predict first
    student.radio(key=f"lessons_own_{link['lesson']}").set_value("resnet-56")
    run(student)
    student.button(key=f"lessons_own_submit_{link['lesson']}").click()
    run(student)
    assert any("kept with your class" in m.value for m in student.markdown)
    student.button(key="lessons_own_run").click()
    run(student)
    assert student.radio(key="train_kind").disabled and student.radio(key="train_kind").value == "twin"
    epochs = student.number_input(key="train_epochs")
    assert epochs.disabled and epochs.value == 2  # the lesson's length, locked
    assert not [s for s in student.selectbox if s.key == "train_device"]  # hidden
    teacher = run(at)
    assert any("Asked: 1 of 1 answered" in c.value for c in teacher.caption), code
