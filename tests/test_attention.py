"""Needs attention (explorer.classroom.attention): each rule flags the student it should, with the rule in words, on
records written straight into the store; and the flags cost the same few statements for 3 or 40 students."""
import sqlalchemy as sa

from explorer.classroom import attention as A
from explorer.classroom import questions as Q
from explorer.classroom.classes import student_seed
from explorer.classroom.lessons import lesson

NOW = 1_000_000.0
QUEUE = A.QueueView()


def _member(room, info, owner, joined=NOW - 10):
    room.join(info.code, owner)
    room.tx(lambda c: c.execute(sa.text("UPDATE class_members SET joined = :j WHERE owner = :o"),
                                {"j": joined, "o": owner}))


def _job(room, info, owner, status="completed", created=NOW - 30, finals=(), **fields):
    """A class job of a Figure 6 sweep written straight into the store; finals: {run name: train error}."""
    store = room.store
    runs = [{"name": name, "model": {}} for name in (dict(finals) or {"plain-20": 0})]
    exp = store.create_experiment({"kind": "sweep"}, runs, owner=owner)
    store.update_experiment(exp, status=status, **fields)
    room.tx(lambda c: c.execute(sa.text("UPDATE experiments SET created = :t WHERE id = :e"), {"t": created, "e": exp}))
    for name, err in dict(finals).items():
        store.update_run(exp, name, final={"train_error": err, "test_error": err})
    room.record_job(info.id, owner, exp, student_seed(info.id, owner))
    return exp


def _flags(room, info, queue=QUEUE):
    rows = room.roster(info.id)
    names = {r.owner: r.name for r in rows}
    return {names[o]: flags for o, flags in A.attention(room, info.id, rows, queue, now=NOW).items()}


def test_each_rule_flags_its_student_with_the_rule_in_words(room):
    info = room.create("teacher")
    for owner in ("ok", "nan", "broken", "idle", "lonely"):
        _member(room, info, owner, joined=NOW - 2 * A.IDLE_S if owner in ("idle", "lonely") else NOW - 10)
    _job(room, info, "ok", finals={"plain-20": 0.1})
    nan = _job(room, info, "nan", finals={"plain-20": 0.1, "plain-56": 0.9})
    room.store.update_run(nan, "plain-56", status="diverged")
    _job(room, info, "broken", status="failed", message="The worker ran out of memory.")
    _job(room, info, "idle", created=NOW - 2 * A.IDLE_S, finished=NOW - 1.5 * A.IDLE_S, finals={"plain-20": 0.1})
    flags = _flags(room, info)
    assert set(flags) == {"Student 2", "Student 3", "Student 4", "Student 5"}  # "ok" is fine
    assert [f.kind for f in flags["Student 2"]] == ["diverged"] and "plain-56" in flags["Student 2"][0].text
    assert flags["Student 3"][0].kind == "failed" and "ran out of memory" in flags["Student 3"][0].text
    assert [f.kind for f in flags["Student 4"]] == ["idle"]
    assert flags["Student 5"][0].kind == "idle" and "started no job" in flags["Student 5"][0].text
    for student in flags.values():
        assert all(A.RULES[f.kind] in f.text and f.text.endswith(".") for f in student)


def test_a_long_wait_says_why(room):
    info = room.create("teacher")
    _member(room, info, "ann")
    queued = _job(room, info, "ann", status="queued", created=NOW - 2 * A.WAIT_S)
    waits = _flags(room, info, A.QueueView(("someone", "else", queued), slots=2))["Student 1"]
    assert waits[0].kind == "waiting" and "queued behind 2 jobs, and the server runs 2 at once" in waits[0].text
    held = _flags(room, info, A.QueueView((queued,), paused=True))["Student 1"][0]
    assert "the class is paused" in held.text
    room.tx(lambda c: c.execute(sa.text("UPDATE experiments SET created = :t WHERE id = :e"),
                                {"t": NOW - A.WAIT_S / 2, "e": queued}))
    assert _flags(room, info) == {}  # a short wait is no one's concern


def test_a_run_that_contradicts_the_students_own_prediction(room):
    info = room.create("teacher")
    for owner in ("right", "wrong", "same"):
        _member(room, info, owner)
        _job(room, info, owner, finals={"plain-20": 0.05, "plain-56": 0.60})
    question = Q.lesson_question(room, info.id, lesson("degradation"))  # higher training error: plain-56 here
    for owner, said in (("right", "plain-56"), ("wrong", "plain-20"), ("same", "about the same")):
        Q.answer(room, question, owner, said)
    flags = _flags(room, info)
    assert set(flags) == {"Student 2", "Student 3"}
    assert "they said plain-20 for the higher training error" in flags["Student 2"][0].text
    assert "plain-20 5.0%, plain-56 60.0%" in flags["Student 2"][0].text
    asked = Q.open_question(room, info.id, "Which ends with the lower test error?", ["plain-20", "plain-56"])
    Q.answer(room, asked, "right", "plain-56")  # wrong this time: plain-20 ends lower
    assert [f.kind for f in _flags(room, info)["Student 1"]] == ["contradicted"]


def test_the_flags_cost_the_same_few_statements_for_3_or_40_students(room):
    counts = []
    for n in (3, 40):
        info = room.create("teacher")
        for i in range(n):
            _member(room, info, f"s{n}-{i}")
            _job(room, info, f"s{n}-{i}", finals={"plain-20": 0.1, "plain-56": 0.5})
        question = Q.lesson_question(room, info.id, lesson("degradation"))
        for i in range(n):
            Q.answer(room, question, f"s{n}-{i}", question.choices[i % 3])
        rows = room.roster(info.id)
        statements = []

        def count(conn, cursor, statement, *rest, seen=statements):
            seen.append(statement)
        sa.event.listen(room.reader, "before_cursor_execute", count)
        try:
            flags = A.attention(room, info.id, rows, QUEUE, now=NOW)
        finally:
            sa.event.remove(room.reader, "before_cursor_execute", count)
        assert len(flags) == sum(i % 3 != 1 for i in range(n))  # plain-20 and "about the same" are contradicted
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 5, counts
