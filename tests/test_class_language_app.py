"""The class's language in Streamlit's AppTest: the teacher picks it on the Class page, the class's students read
the app in it (pages.lang), the teacher's own session keeps its language, and clearing it gives each reader their
own again.

Each AppTest is its own browser session (its own owner id); they share one server (one run store). AppTest reruns
the page alone after its first run (a pages/ folder beside the entry script); a browser runs the entry script, which
resolves the language (pages.lang.choose_language), on every run: `entry` runs it as a browser would.
"""
import pytest
from helpers import create_class, run

PASSWORD = "class-pw"
pytestmark = [pytest.mark.teacher_password(PASSWORD)]


def entry(at):
    """Run the entry script (and with it pages.lang) once more, as every run in a browser does."""
    at._page_hash = at._finished_page_script_hash = ""  # AppTest's own state: no page asked, the entry script runs
    return run(at)


def test_the_teacher_sets_the_class_language_and_a_student_who_joins_reads_the_app_in_it(new_app):
    teacher = new_app()
    code = create_class(teacher, PASSWORD, "Física 1")
    picker = teacher.selectbox(key="class_language")
    assert picker.value == ""
    assert picker.options[:3] == ["Each reader's own", "English", "Español"]  # each language in itself
    assert teacher.caption and any("read the app in this language" in c.value for c in teacher.caption)
    picker.set_value("es")
    run(teacher)
    assert teacher.selectbox(key="class_language").value == "es"
    assert teacher.session_state["_lang"] == "en"  # the teacher's own session keeps its language

    student = new_app(join=code)
    student.text_input(key="sidebar_join_name").input("Ana")
    student.button(key="sidebar_join").click()
    run(student)
    assert entry(student).session_state["_lang"] == "es"
    assert entry(teacher).session_state["_lang"] == "en"

    teacher.switch_page("pages/classroom.py")
    run(teacher).selectbox(key="class_language").set_value("")  # each reader's own again: here the default, English
    run(teacher)
    assert entry(student).session_state["_lang"] == "en"


def test_a_student_s_own_choice_wins_over_the_class_language(new_app):
    teacher = new_app()
    code = create_class(teacher, PASSWORD, "Physics 2")
    teacher.selectbox(key="class_language").set_value("es")
    run(teacher)
    student = new_app(join=code, lang="en")
    student.text_input(key="sidebar_join_name").input("Ann")
    student.button(key="sidebar_join").click()
    run(student)
    assert entry(student).session_state["_lang"] == "en"
