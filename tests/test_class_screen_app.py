"""The class screen's controls and view in Streamlit's AppTest: the Class page's "Push to the class screen" section
(each button, the names toggle, a snapshot of two students' runs), the join link's warning, and what a session sees
on /?screen=CODE: a student gets one sentence, the teacher's session the pushed view with pseudonyms (hostile names
as plain text when names are on). The class's members and finished runs are written straight into the store.
"""
import time

import pytest
from helpers import run
from streamlit.testing.v1 import AppTest
from test_class_screen_browser import PUBLIC

from explorer.classroom import screen as S
from explorer.classroom.classes import student_seed
from explorer.text import plain_text

PASSWORD = "screen-app-pw"
pytestmark = pytest.mark.teacher_password(PASSWORD)




def a_class(names=("Ann", "Bob")):
    """(Classroom, class) with these members, each with one finished plain-56 run (no training)."""
    from pages.common import classroom
    room = classroom()
    info = room.create("teacher-owner", "Period 3")
    for i, name in enumerate(names):
        owner = f"{i + 1:032x}"
        room.join(info.code, owner, name)
        exp = f"20261206-000000-00000{i}"
        room.store.insert_experiment(exp, {"kind": "twin"}, [{"name": "plain-56", "model": {"depth": 56}}],
                                     owner=owner, status="completed", created=time.time())
        room.store.append_metrics(exp, "plain-56", [{"type": "epoch", "epoch": 1, "train_error": 0.5 - 0.1 * i}])
        room.record_job(info.id, owner, exp, student_seed(info.id, owner))
    return room, info


def class_page(new_app):
    at = new_app()
    at.switch_page("pages/classroom.py")
    run(at)
    at.text_input(key="class_teacher_pw").input(PASSWORD)  # the Class page's password box (pages.signin)
    return run(at)


def screen(info, teacher: bool):
    """A fresh session on /?screen=CODE; `teacher`: it then signs in with the password on this device (the entry
    script decides what the session sees: in AppTest a rerun runs the page alone, so the test runs the entry)."""
    at = AppTest.from_file("../streamlit_app.py", default_timeout=60)
    at.query_params["screen"] = info.code
    run(at)
    if teacher:
        at.text_input(key="class_teacher_pw").input(PASSWORD)  # the screen's sign-in door (pages.signin)
        run(at)
        at.switch_page("streamlit_app.py")  # as the server reruns the entry script
        run(at)
    return at


def test_the_teacher_pushes_each_view_and_the_names_toggle_from_the_class_page(new_app):
    room, info = a_class()
    at = class_page(new_app)
    assert any("opens only on this computer" in w.value for w in at.warning)  # no EXPLORER_PUBLIC_URL here
    for key, kind in (("class_screen_roster", "roster"), ("class_screen_figure6", "figure6"),
                      ("class_screen_join", "join")):
        at.button(key=key).click()
        run(at)
        assert S.screen_state(room, info.id).kind == kind
    at.selectbox(key="class_screen_lesson").select("fix")
    at.button(key="class_screen_push_lesson").click()
    run(at)
    assert (S.screen_state(room, info.id).kind, S.screen_state(room, info.id).lesson) == ("lesson", "fix")
    at.toggle(key="class_screen_names").set_value(True)
    run(at)
    assert S.screen_state(room, info.id).names


def test_a_snapshot_of_two_students_runs_is_kept_and_pushed_and_one_run_is_not_enough(new_app):
    room, info = a_class()
    at = class_page(new_app)
    picker = at.multiselect(key="class_screen_snapshot_runs")
    options = picker.options
    assert any(o.startswith("Ann (Otter): plain-56") for o in options)  # the teacher sees names and pseudonyms
    picker.select(picker.options[1])
    run(at)
    assert at.button(key="class_screen_push_snapshot").disabled  # one run: nothing to compare
    at.multiselect(key="class_screen_snapshot_runs").select(at.multiselect(key="class_screen_snapshot_runs").options[0])
    at.radio(key="class_screen_snapshot_layout").set_value("overlay")
    run(at)
    at.button(key="class_screen_push_snapshot").click()
    run(at)
    kept = S.snapshots(room, info.id)
    assert len(kept) == 1 and kept[0].layout == "overlay" and len(kept[0].items) == 2
    assert S.screen_state(room, info.id).snapshot_id == kept[0].id
    assert at.multiselect(key="class_screen_snapshot_runs").value == []  # cleared for the next one


def test_the_public_url_is_the_join_link_and_silences_the_warning(new_app, monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC_URL", PUBLIC)
    _, info = a_class()
    at = class_page(new_app)
    assert f"{PUBLIC}/?join={info.code}" in [c.value for c in at.code]
    assert not any("opens only on this computer" in w.value for w in at.warning)


def test_a_student_on_the_screen_link_gets_one_sentence_and_no_screen(new_app):
    room, info = a_class()
    S.push(room, info.id, "roster")
    at = screen(info, teacher=False)
    assert [i.value for i in at.info][:1] == ["The class screen is for the teacher's projector: sign in as the "
                                             "teacher on this device to open it."]
    assert not at.markdown and not at.button  # the sentence alone: no screen, no page of the app


def test_the_teacher_s_screen_shows_pseudonyms_and_names_only_when_on_as_plain_text(new_app):
    room, info = a_class(("_Ann_", "Bob"))
    S.push(room, info.id, "roster")
    shown = [m.value for m in screen(info, teacher=True).markdown]
    assert "**Otter** · Finished" in shown and not any("Ann" in m for m in shown)
    S.show_names(room, info.id, True)
    shown = [m.value for m in screen(info, teacher=True).markdown]
    assert f"**{plain_text('_Ann_')}** · Finished" in shown and plain_text("_Ann_") != "_Ann_"


def test_the_join_screen_has_the_code_the_link_and_no_controls(new_app):
    _, info = a_class()
    at = screen(info, teacher=True)
    assert f"# {info.code}" in [m.value for m in at.markdown]
    assert any("opens only on this computer" in c.value for c in at.caption)  # no EXPLORER_PUBLIC_URL here
    assert not at.button and not at.text_input and not at.sidebar.children  # no controls, no sidebar
    assert not at.info
