"""Teacher-made lessons on a real database: kept with the class, their question gates their experiment's kind once
used, their link carries the setup and the checkboxes' controls, and they travel to next year's class as a JSON file
that is refused, with one sentence, when it is too big, too deep, has unknown keys, bad values or markup.
"""
import json

import pytest

from explorer import urlstate
from explorer.access.policy import Actor
from explorer.classroom import authoring as A
from explorer.classroom import questions as Q
from explorer.classroom.gating import viewer_gating
from explorer.classroom.records import ClassError
from explorer.data.config import DataConfig
from explorer.training.recipes import train_config_for


def _lesson(room, class_id, **kw):
    fields = dict(title="Deep twins", prompt="Which twin ends with the lower training error?",
                  choices=["plain-56", "resnet-56"], experiment_key="twin56", lock=["kind", "depth"], hide=["device"])
    return A.save_lesson(room, class_id, **{**fields, **kw})


def test_a_lesson_round_trips_through_export_and_import_into_next_years_class(room):
    this_year, next_year = room.create("teacher", "Physics 2025"), room.create("teacher", "Physics 2026")
    made = _lesson(room, this_year.id)
    number = _lesson(room, this_year.id, title="How wrong", prompt="Final training error of plain-56, in %?",
                     choices=[], experiment_key="figure6", lock=["epochs"], hide=[], epochs=3)
    assert [x.id for x in A.class_lessons(room, this_year.id)] == [made.id, number.id]
    assert number.is_number and not made.is_number and (number.epochs, made.epochs) == (3, None)
    data = A.export_lessons(A.class_lessons(room, this_year.id))
    assert len(data) < 2000 and b"teacher" not in data and this_year.id.encode() not in data  # no class, no owner
    copied = A.import_lessons(room, next_year.id, data)
    fields = ("title", "prompt", "choices", "experiment", "lock", "hide", "epochs")
    assert [[getattr(x, f) for f in fields] for x in copied] == [[getattr(x, f) for f in fields]
                                                                for x in (made, number)]
    assert A.class_lessons(room, next_year.id) == copied and {x.id for x in copied}.isdisjoint({made.id, number.id})
    room.delete(this_year.id)  # a deleted class takes its lessons; next year's stay
    assert A.class_lessons(room, this_year.id) == [] and len(A.class_lessons(room, next_year.id)) == 2


def test_the_lesson_link_carries_its_setup_and_the_checked_controls_only(room):
    info = room.create("teacher")
    made = _lesson(room, info.id, lock=["kind", "depth", "device"], hide=["device", "lr"], epochs=2)
    q = made.query(info.code)
    assert q["join"] == info.code and q["lesson"] == made.id
    settings, problems = urlstate.from_query(q)
    controls, control_problems = urlstate.controls_from_query(q)
    assert problems == control_problems == []
    assert settings["kind"] == "twin" and settings["model"] == {"depth": 56, "shortcut": "A"}
    assert settings["train"] == {"epochs": 2}
    assert controls == {"lock": ("kind", "depth"), "hide": ("lr", "device")}  # hidden wins over locked
    spec = made.setup.spec(DataConfig("digits"), train_config_for("digits"))
    assert spec.kind == "twin" and [n for n, _ in spec.models] == ["plain-56", "resnet-56"]
    assert A.experiment("own_compare").spec(DataConfig("digits"), train_config_for("digits")) is None
    assert {e.kind for e in A.EXPERIMENTS} == set(Q.GATED_KINDS)


def test_a_lessons_question_gates_its_kind_once_used_and_is_made_once(room):
    info = room.create("teacher")
    for who in ("ann", "bob"):
        room.join(info.code, who)
    made = _lesson(room, info.id)
    assert A.asked(room, made) is None and viewer_gating(room, Actor("ann")).gate("twin", None) is None
    q = A.lesson_gate(room, made)
    assert A.lesson_gate(room, made) == q == A.asked(room, made)  # one question per class and lesson
    assert (q.experiment, q.prompt, q.choices) == ("twin", made.prompt, made.choices)
    assert viewer_gating(room, Actor("ann")).gate("twin", None).question.id == q.id
    assert viewer_gating(room, Actor("ann")).gate("sweep", None) is None
    Q.answer(room, q, "ann", "plain-56")
    assert viewer_gating(room, Actor("ann")).gate("twin", None) is None
    assert viewer_gating(room, Actor("bob")).gate("twin", None) is not None
    A.delete_lesson(room, info.id, made.id)  # deleting it ends its gate; the answers stay for the debrief
    assert viewer_gating(room, Actor("bob")).gate("twin", None) is None
    assert Q.tally(room, q).answered == 1 and A.class_lessons(room, info.id) == []


@pytest.mark.parametrize("field, value, said", [
    ("title", "", "1 to 80 characters"),
    ("title", "x" * 81, "1 to 80 characters"),
    ("title", "<b>Deep</b> twins", "markup"),
    ("title", "[click](https://example.com)", "markup"),
    ("prompt", "Which is **bold**?", "markup"),
    ("prompt", "Which\u202eevil?", "control characters"),
    ("choices", ["only one"], "two or more"),
    ("choices", ["a", "a"], "differ"),
    ("choices", [str(i) for i in range(7)], "at most 6"),
    ("choices", ["<img src=x onerror=alert(1)>", "b"], "markup"),
    ("experiment_key", "landscape", "experiment is one of"),
    ("lock", ["epochs", "owner"], "control the pages do not have"),
    ("epochs", 0, "whole number from 1 to 200"),
    ("epochs", 2.5, "whole number from 1 to 200"),
    ("epochs", True, "whole number from 1 to 200"),
])
def test_the_authoring_form_refuses_bad_fields_with_one_sentence(field, value, said):
    fields = dict(title="Deep twins", prompt="Which ends lower?", choices=["plain-56", "resnet-56"],
                  experiment_key="twin56", lock=["kind"], hide=[])
    with pytest.raises(ClassError, match=said) as caught:
        A.check_lesson(**{**fields, field: value})
    text = str(caught.value)
    assert text.endswith(".") and "\n" not in text and text.count(". ") <= 1


def _file(lessons, **top):
    return json.dumps({"format": A.FILE_FORMAT, "version": 1, "lessons": lessons, **top}).encode()


GOOD = {"title": "Deep twins", "prompt": "Which ends lower?", "choices": ["plain-56", "resnet-56"],
        "experiment": "twin56"}


@pytest.mark.parametrize("data, said", [
    (b" " * (A.MAX_LESSONS_FILE_BYTES + 1), "larger than 256 KB"),
    (b"[" * 5000 + b"]" * 5000, "nests deeper than 32 levels"),
    (b"\xff\xfe not json", "not valid JSON"),
    (b'{"format": "resnet-explorer-lessons"}', "exactly format, version and lessons"),
    (_file([GOOD], extra=1), "exactly format, version and lessons"),
    (_file([{**GOOD, "owner": "abc"}]), "only the keys"),
    (_file([GOOD] * (A.MAX_CLASS_LESSONS + 1)), "1 to 30 lessons"),
    (_file([]), "1 to 30 lessons"),
    (_file([{**GOOD, "experiment": "rm -rf"}]), "experiment is one of"),
    (_file([{**GOOD, "choices": "plain-56"}]), "at most 6 choices"),
    (_file([{**GOOD, "lock": ["kind"] * 100}]), f"at most {len(urlstate.CONTROLS)} control names"),
    (_file([{**GOOD, "title": "<script>alert(1)</script>"}]), "Lesson 1 of that file: the lesson's title"),
    (_file([{**GOOD, "title": 12}]), "must be text"),
    (_file([{**GOOD, "epochs": 10**6}]), "whole number from 1 to 200"),
    (json.dumps({"format": A.FILE_FORMAT, "version": True, "lessons": [GOOD]}).encode(), "version"),
])
def test_a_hostile_lessons_file_is_refused_with_one_sentence(data, said):
    with pytest.raises(ClassError, match=said) as caught:
        A.read_lessons_file(data)
    assert "\n" not in str(caught.value) and str(caught.value).endswith(".")


def test_an_import_is_all_or_none_and_a_class_keeps_at_most_its_cap_of_lessons(room):
    info = room.create("teacher")
    A.import_lessons(room, info.id, _file([GOOD]))
    with pytest.raises(ClassError, match="Lesson 2 of that file"):
        A.import_lessons(room, info.id, _file([GOOD, {**GOOD, "title": "<b>x</b>"}]))
    assert len(A.class_lessons(room, info.id)) == 1
    with pytest.raises(ClassError, match="at most 30 lessons"):
        A.import_lessons(room, info.id, _file([GOOD] * A.MAX_CLASS_LESSONS))
    assert len(A.class_lessons(room, info.id)) == 1
    A.import_lessons(room, info.id, _file([GOOD] * (A.MAX_CLASS_LESSONS - 1)))
    with pytest.raises(ClassError, match="at most 30 lessons"):
        _lesson(room, info.id)
