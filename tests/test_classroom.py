"""The classroom library on a real database (SQLite always, PostgreSQL when store_fixtures gives one): codes,
joins, closed classes, each student counted once, the question gate, per-student seeds, the roster's fixed number
of queries, the class figure's median and spread with n, projector scaling.
"""
import pytest
import sqlalchemy as sa

from explorer.classroom import questions as Q
from explorer.classroom.classes import (
    clean_code,
    clean_name,
    seeded_spec,
    student_seed,
)
from explorer.classroom.records import ClassError
from explorer.data.config import DataConfig
from explorer.figures.classroom import band, class_figure6, projected, tally_chart
from explorer.training.experiments import figure6
from explorer.training.recipes import TrainConfig


def test_a_class_has_a_short_unambiguous_code_and_join_forgives_case_and_spaces(room):
    info = room.create("teacher", "Physics 1")
    assert len(info.code) == 6 and not set(info.code) & set("01OI")
    typed = " " + info.code[:3].lower() + "-" + info.code[3:].lower()
    got, member = room.join(typed, "ann", "Ann")
    assert got.id == info.id and member.name == "Ann"
    assert room.join(info.code, "bob")[1].name == "Student 2"
    assert room.join(info.code, "ann", "Annie")[1].name == "Annie"  # a second join only renames
    assert [m.name for m in room.members(info.id)] == ["Annie", "Student 2"]
    assert room.membership("ann")[0].id == info.id and room.membership("nobody") is None


@pytest.mark.parametrize("code", ["", "x" * 500, "<b>", "ZZZZZZ", None, 12])
def test_an_unknown_or_malformed_code_gets_one_sentence(room, code):
    with pytest.raises(ClassError, match=r"^There is no class with that code; check it with your teacher\.$"):
        room.join(code, "ann")


def test_a_closed_class_refuses_joins_and_leaves_no_membership(room):
    info = room.create("teacher")
    room.join(info.code, "ann")
    room.close(info.id)
    with pytest.raises(ClassError, match="closed by its teacher"):
        room.join(info.code, "bob")
    assert room.membership("ann") is None  # a closed class is no longer anyone's current class
    assert room.teacher_classes() == [] and len(room.teacher_classes(include_closed=True)) == 1
    room.reopen(info.id)  # closed by mistake: open again, members kept, the link takes joins
    assert room.membership("ann")[0].id == info.id and room.join(info.code, "bob")[1].owner == "bob"


def test_a_student_who_leaves_is_a_lone_user_again_and_no_longer_counts(room):
    info = room.create("teacher")
    for who in ("ann", "bob"):
        room.join(info.code, who)
    q = Q.open_question(room, info.id, "Which?", ["a", "b"], "sweep")
    Q.answer(room, q, "ann", "a")
    Q.answer(room, q, "bob", "b")
    room.leave(info.id, "ann")
    assert room.membership("ann") is None and [m.owner for m in room.members(info.id)] == ["bob"]
    assert [r.owner for r in room.roster(info.id)] == ["bob"]
    t = Q.tally(room, q)
    assert (t.counts, t.answered, t.members) == ((("a", 0), ("b", 1)), 1, 1)
    room.join(info.code, "ann")  # back again: her kept answer counts again, once
    assert Q.tally(room, q).counts == (("a", 1), ("b", 1))


def test_deleting_a_class_removes_its_members_questions_and_answers_but_never_the_experiments(room):
    from explorer.classroom import tables as T
    gone, kept = room.create("teacher", "Gone"), room.create("teacher", "Kept")
    room.join(kept.code, "ann")
    room.join(gone.code, "ann")
    exp = room.store.create_experiment({"kind": "sweep"}, [{"name": "plain-20", "model": {}}], owner="ann")
    room.record_job(gone.id, "ann", exp, student_seed(gone.id, "ann"))
    questions = [Q.open_question(room, c.id, "Which?", ["a", "b"], "sweep") for c in (gone, kept)]
    for q in questions:
        Q.answer(room, q, "ann", "a")
    assert room.membership("ann")[0].id == gone.id
    room.delete(gone.id)
    assert room.get(gone.id) is None and room.find(gone.code) is None
    with room.reader.connect() as conn:
        for table in (T.class_members, T.class_jobs, T.class_questions):
            assert conn.execute(sa.select(sa.func.count()).where(table.c.class_id == gone.id)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).where(
            T.class_answers.c.question_id == questions[0].id)).scalar_one() == 0
    assert room.store.load_experiment(exp) is not None  # the student's experiment stays
    assert room.membership("ann")[0].id == kept.id and Q.tally(room, questions[1]).answered == 1


def test_names_are_printable_and_short():
    assert clean_name("  \x1b[31mRed\n ", "Student 1") == "31mRed"
    assert clean_name("[click](http://x.y) **b** <i>", "S") == "clickhttpx.y b i"
    assert clean_name("Zoë O'Neil-Smith", "S") == "Zoë O'Neil-Smith"
    assert clean_name("", "Student 3") == "Student 3" and len(clean_name("a" * 100, "x")) == 40
    assert clean_code("ab cd-ef") == "ABCDEF" and clean_code("ab") is None


def test_a_name_that_passes_for_the_teacher_a_given_name_or_a_classmate_is_refused_and_joins_nothing(room):
    info = room.create("teacher", "Physics 1")
    room.join(info.code, "ann", "Ann")
    for owner, typed, says in (("eve", "Teacher", "kept for the teacher"), ("eve", "Ѕtudent 2", "given by the class"),
                               ("eve", "Аnn", "already has a name that looks like")):  # Cyrillic Ѕ and А
        with pytest.raises(ClassError, match=says):
            room.join(info.code, owner, typed)
    assert [m.owner for m in room.members(info.id)] == ["ann"]
    assert room.join(info.code, "ann", "ANN")[1].name == "ANN"  # her own name, in capitals: no one else's
    assert room.join(info.code, "eve")[1].name == "Student 2"  # no name typed: the class gives one


def test_each_student_counts_once_and_the_gate_opens_on_answer_or_reveal(room):
    info = room.create("teacher")
    for who in ("ann", "bob", "cat"):
        room.join(info.code, who)
    q = Q.open_question(room, info.id, "Which ends higher?", ["plain-20", "plain-56"], "sweep")
    assert Q.pending_question(room, info.id, "ann", "sweep") == q
    assert Q.pending_question(room, info.id, "ann", "twin") is None  # it gates only its kind of experiment
    Q.answer(room, q, "ann", "plain-20")
    Q.answer(room, q, "ann", "plain-56")  # a change of mind, not a second vote
    Q.answer(room, q, "bob", "plain-56")
    t = Q.tally(room, q)
    assert t.counts == (("plain-20", 0), ("plain-56", 2)) and t.answered == 2 and t.members == 3
    assert Q.pending_question(room, info.id, "ann", "sweep") is None
    assert Q.pending_question(room, info.id, "cat", "sweep") == q
    Q.reveal(room, q.id)
    assert Q.pending_question(room, info.id, "cat", "sweep") is None
    with pytest.raises(ClassError, match="Pick one"):
        Q.answer(room, q, "cat", "plain-110")


def test_a_lessons_prediction_is_kept_with_the_class_once_per_student_and_gates_nothing(room):
    from explorer.classroom.lessons import LESSONS, lesson
    info, other = room.create("teacher"), room.create("teacher")
    for who in ("ann", "bob", "cat"):
        room.join(info.code, who)
    q = Q.lesson_question(room, info.id, lesson("degradation"))
    assert Q.lesson_question(room, info.id, lesson("degradation")) == q  # one per class and lesson
    assert q.id == Q.lesson_question_id(info.id, "degradation") and q.choices == lesson("degradation").choices
    assert Q.lesson_question(room, other.id, lesson("degradation")).id != q.id
    Q.answer(room, q, "ann", "plain-20")
    Q.answer(room, q, "ann", "plain-56")  # a change of mind, not a second vote
    Q.answer(room, q, "bob", "plain-56")
    Q.answer(room, Q.lesson_question(room, info.id, lesson("fix")), "cat", "resnet-56")
    tallies = Q.lesson_tallies(room, info.id, LESSONS)
    assert list(tallies) == [x.key for x in LESSONS]
    t = tallies["degradation"]
    assert (t.counts, t.answered, t.members) == ((("plain-20", 0), ("plain-56", 2), ("about the same", 0)), 2, 3)
    assert tallies["fix"].answered == 1 and tallies["shortcuts"].answered == 0
    assert Q.class_questions(room, info.id) == []  # not one of the teacher's questions
    for kind in Q.GATED_KINDS:  # and it hides nobody's curves
        assert Q.pending_question(room, info.id, "cat", kind) is None and Q.latest_question(room, info.id, kind) is None
    room.leave(info.id, "bob")
    assert Q.lesson_tallies(room, info.id, LESSONS)["degradation"].counts[1] == ("plain-56", 1)


def test_a_number_question_keeps_numbers_only(room):
    info = room.create("teacher")
    q = Q.open_question(room, info.id, "Training error of plain-56 after 15 epochs, in %?", [], "sweep")
    assert Q.answer(room, q, "ann", " 12.50 ") == "12.5"
    for bad in ("nan", "inf", "twelve", "1" * 50):
        with pytest.raises(ClassError, match="Answer with a number"):
            Q.answer(room, q, "ann", bad)
    with pytest.raises(ClassError):
        Q.open_question(room, info.id, "", [], "sweep")
    with pytest.raises(ClassError):
        Q.open_question(room, info.id, "ok?", [], "landscape")


def test_each_student_gets_their_own_seed_and_identical_requests_differ_inside_a_class():
    spec = figure6(DataConfig("digits"), TrainConfig(epochs=1))
    seeds = {student_seed("c1", o) for o in ("ann", "bob", "cat")}
    assert len(seeds) == 3 and student_seed("c1", "ann") == student_seed("c1", "ann")
    hashes = {seeded_spec(spec, "c1", o).spec_hash() for o in ("ann", "bob", "cat")}
    assert len(hashes) == 3 and spec.spec_hash() not in hashes
    assert seeded_spec(spec, "c1", "ann").spec_hash() == seeded_spec(spec, "c1", "ann").spec_hash()


def test_a_member_starts_their_own_seeded_job_and_a_lone_user_the_spec_as_asked(room):
    """Class seeding in one place (Classroom.member_spec / record_member_job), as every page starts experiments."""
    spec = figure6(DataConfig("digits"), TrainConfig(epochs=1))
    assert room.member_spec(spec, "lone") == (spec, None)
    info = room.create("teacher")
    room.join(info.code, "ann")
    seeded, class_id = room.member_spec(spec, "ann")
    assert class_id == info.id and seeded == seeded_spec(spec, info.id, "ann")
    exp = room.store.create_experiment(seeded.to_dict(), [{"name": "plain-20", "model": {}}], owner="ann")
    room.record_member_job(class_id, "ann", exp)
    assert room.is_class_job(info.id, exp)
    assert room.roster(info.id)[0].seed == student_seed(info.id, "ann")


def _count_queries(engine):
    counter = {"n": 0}

    def before(*_a, **_k):
        counter["n"] += 1
    counter["fn"] = before
    sa.event.listen(engine, "before_cursor_execute", before)
    return counter


def test_the_roster_costs_the_same_few_queries_for_3_or_40_students(room):
    store, counts = room.store, []
    for n in (3, 40):
        info = room.create("teacher")
        for i in range(n):
            owner = f"s{n}-{i}"
            room.join(info.code, owner)
            exp = store.create_experiment({"kind": "sweep"}, [{"name": "plain-20", "model": {}}], owner=owner)
            store.update_run(exp, "plain-20", final={"train_error": 0.1 * (i % 5), "test_error": 0.2})
            room.record_job(info.id, owner, exp, student_seed(info.id, owner))
        from explorer.classroom.lessons import LESSONS, lesson
        q = Q.lesson_question(room, info.id, lesson("degradation"))
        for i in range(n):
            Q.answer(room, q, f"s{n}-{i}", q.choices[i % 3])
        counter = _count_queries(room.reader)
        rows = room.roster(info.id)
        tallies = Q.lesson_tallies(room, info.id, LESSONS)  # the Class page's lesson tally, every second too
        counts.append(counter["n"])
        assert tallies["degradation"].answered == n
        sa.event.remove(room.reader, "before_cursor_execute", counter["fn"])
        assert len(rows) == n and all(r.exp_id and r.finals[0][0] == "plain-20" for r in rows)
    assert counts[1] == counts[0] <= 7, counts  # the roster: BEGIN and 3 selects; the lesson tallies: BEGIN and 2


def _epochs(errors):
    return [{"type": "epoch", "epoch": e, "train_error": (err if e else None), "test_error": err}
            for e, err in enumerate(errors)]


def test_the_class_figure_draws_median_and_spread_with_n():
    curves = {"plain-20": [_epochs([0.9, 0.3, 0.2]), _epochs([0.9, 0.4, 0.1]), _epochs([0.9, 0.5, 0.3])],
              "plain-56": [_epochs([0.9, 0.6, 0.5]), _epochs([0.9, 0.7, 0.6])]}
    assert band(curves["plain-20"], "train_error") == [(1, 0.4, 0.3, 0.5, 3), (2, 0.2, 0.1, 0.3, 3)]
    fig = class_figure6(curves)
    names = {t.name for t in fig.data if t.showlegend is not False}
    assert names == {"plain-20 (median of n = 3)", "plain-56 (median of n = 2)"}
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 4  # one spread per net per panel
    assert "n = 3" in fig.layout.title.text
    assert "No finished runs" in class_figure6({}).layout.annotations[0].text


def test_projector_scaling_enlarges_fonts_and_lines_and_leaves_the_original():
    fig = class_figure6({"plain-20": [_epochs([0.9, 0.3])]})
    big = projected(fig, 1.6)
    assert big.layout.font.size == pytest.approx(fig.layout.font.size * 1.6)
    widths = [t.line.width for t in fig.data if t.line.width]
    assert [t.line.width for t in big.data if t.line.width] == [pytest.approx(w * 1.6) for w in widths]
    assert projected(fig, 1.0) is fig
    assert tally_chart((("a", 2), ("b", 0))).data[0].y == (2, 0)


# ----------------------------------------------------------------------------- lessons
def test_every_lesson_builds_its_experiment_and_its_checks_have_their_answer():
    from explorer.classroom.lessons import LESSONS, lesson
    assert [x.key for x in LESSONS] == ["degradation", "fix", "shortcuts", "placement", "why"]
    for x in LESSONS:
        spec = x.spec(DataConfig("digits"), TrainConfig(epochs=1))
        assert spec.models and 2 <= len(x.checks) <= 3
        assert all(c.answer in c.choices for c in x.checks)
        assert lesson(x.key) is x
    assert [n for n, _ in lesson("shortcuts").spec(DataConfig("digits"), TrainConfig()).models] == \
        ["plain-20-none", "resnet-20-A", "resnet-20-B", "resnet-20-C"]
    with pytest.raises(ValueError, match="There is no lesson"):
        lesson("<b>nope</b>")


def test_every_number_in_the_lessons_is_in_the_papers_facts():
    """Each decimal figure a lesson quotes appears in the shared PAPERS.md (the facts the lessons were checked
    against), so a typo in a number fails here."""
    import re
    from pathlib import Path

    from explorer.classroom.lessons import LESSONS
    papers = Path(__file__).resolve().parents[2] / "shared" / "PAPERS.md"
    if not papers.is_file():
        pytest.skip("the shared PAPERS.md is not beside this checkout")
    facts = papers.read_text(encoding="utf-8")
    text = " ".join(str(v) for x in LESSONS for pair in x.paper for v in pair) + \
        " ".join(c.why for x in LESSONS for c in x.checks)
    numbers = set(re.findall(r"\d+\.\d+", text))
    assert numbers and {n for n in numbers if n not in facts} == set()
