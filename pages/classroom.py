"""Class (teacher only): create a class and put its code on the projector, watch every student live, stop or
delete any job, project one student's charts, ask a predict-then-observe question, draw the class's Figure 6."""
import pandas as pd
import streamlit as st

from explorer import figures as charts
from explorer.classroom import questions
from explorer.classroom.records import ClassError
from explorer.jobs.manager import JobError
from pages.common import classroom, ensure_entry, is_teacher, job_manager, plot, store

ensure_entry("pages/classroom.py")

FIGURE6_QUESTION = "Which ends with the higher *training* error after 15 epochs: plain-20 or plain-56?"
STATUS_WORDS = {None: "no job yet", "queued": "waiting", "running": "training", "completed": "finished"}


def roster_table(rows) -> pd.DataFrame:
    """One row per student: job state, progress and the final training error of each net."""
    def finals(row):
        return ", ".join(f"{n} {tr:.1%}" for n, tr, _ in row.finals if tr is not None) or "–"
    return pd.DataFrame({
        "student": [r.name for r in rows],
        "job": [STATUS_WORDS.get(r.status, r.status) for r in rows],
        "progress": [r.fraction if r.fraction is not None else (1.0 if r.status == "completed" else 0.0)
                     for r in rows],
        "final training errors": [finals(r) for r in rows],
        "seed": [str(r.seed) if r.seed is not None else "–" for r in rows],
        "jobs": [r.jobs for r in rows]})


def student_actions(rows) -> None:
    """Pick a student: stop or delete their job (teacher's right), or project their charts."""
    with_jobs = {r.exp_id: r for r in rows if r.exp_id}
    if not with_jobs:
        return
    c = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
    pick = c[0].selectbox("Student", list(with_jobs), format_func=lambda e: with_jobs[e].name, key="class_student")
    try:
        if c[1].button("Project charts", key="class_project"):
            st.session_state["class_projected"] = pick
        if c[2].button("Stop", key="class_stop"):
            job_manager().stop(pick, st.session_state["owner"], teacher=is_teacher())
            st.toast(f"Stopping {with_jobs[pick].name}'s job…")
        if c[3].button("Delete", key="class_delete"):
            job_manager().delete(pick, st.session_state["owner"], teacher=is_teacher())
            st.session_state.pop("class_projected", None)
    except JobError as exc:
        st.error(str(exc))


def projected_student(rows) -> None:
    exp_id = st.session_state.get("class_projected")
    exp = store().load_experiment(exp_id) if exp_id else None
    if exp is None:
        return
    who = next((r.name for r in rows if r.exp_id == exp_id), "a student")
    st.subheader(f"{who}'s charts")
    series = [charts.run_series(run, store().read_metrics(exp.id, run.id, kind="epoch")) for run in exp.runs]
    plot(st, charts.training_curves(series), key="class_projected_curves")


def question_panel(info) -> None:
    """Open a question; the newest one's tally, live, with a Reveal button."""
    room = classroom()
    latest = next(iter(questions.class_questions(room, info.id)), None)
    if latest is not None:
        t = questions.tally(room, latest)
        state = "revealed to everyone" if latest.revealed else "hidden from the students"
        st.markdown(f"**{latest.prompt}** ({t.answered} of {t.members} answered; {state})")
        plot(st, charts.tally_chart(t.counts), key="class_tally")
        if latest.revealed is None:
            st.button("Reveal answers and curves", key="class_reveal", on_click=questions.reveal,
                      args=(room, latest.id))


@st.fragment(run_every=1.0)
def live(class_id: str) -> None:
    """The roster, the tally and the class's Figure 6, about once a second (a fixed number of queries)."""
    room = classroom()
    info = room.get(class_id)
    rows = room.roster(class_id)
    st.markdown(f"**{len(rows)} students** · {sum(r.status == 'running' for r in rows)} training · "
                f"{sum(r.status == 'completed' for r in rows)} finished")
    st.dataframe(roster_table(rows), hide_index=True, key="class_roster", column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent")})
    student_actions(rows)
    projected_student(rows)
    question_panel(info)
    plot(st, class_figure(class_id, room.finished_jobs(class_id, "sweep")), key="class_figure6")


# The class chart reads every finished run's epoch records: rebuilt only when another job finishes.
@st.cache_resource(max_entries=16, show_spinner=False)
def class_figure(class_id: str, finished: tuple):
    return charts.class_figure6(classroom().epoch_curves(class_id, "sweep", ids=finished))


def ask_form(info) -> None:
    with st.expander("Ask the class to predict", expanded=False):
        prompt = st.text_input("Question", value=FIGURE6_QUESTION, max_chars=questions.MAX_PROMPT,
                               key="class_q_prompt")
        choices = st.text_input("Choices, separated by commas (empty: the answer is a number)",
                                value="plain-20, plain-56", key="class_q_choices")
        kind = st.selectbox("Hides the curves of", questions.GATED_KINDS, key="class_q_kind",
                            format_func=lambda k: {"sweep": "depth sweeps (Figure 6)", "twin": "twins",
                                                   "compare": "comparisons"}[k])
        if st.button("Ask", key="class_q_open", type="primary"):
            try:
                questions.open_question(classroom(), info.id, prompt, choices.split(","), kind)
            except ClassError as exc:
                st.warning(str(exc))


def follow_me(info) -> None:
    """Put the class on a lesson: every student's Lessons page shows it."""
    from explorer.classroom.lessons import LESSONS
    keys = [None] + [x.key for x in LESSONS]
    titles = {x.key: x.title for x in LESSONS}
    st.selectbox("Follow me: the class's lesson", keys, index=keys.index(info.lesson) if info.lesson in keys else 0,
                 format_func=lambda k: "none (everyone walks alone)" if k is None else titles[k], key="class_lesson",
                 on_change=lambda: classroom().set_lesson(info.id, st.session_state.get("class_lesson")))


def class_header(info) -> None:
    base = (st.context.url or "").split("?")[0].rsplit("/", 1)[0] if getattr(st.context, "url", None) else ""
    st.markdown(f"## Join code: {info.code}")
    st.markdown("Join link:")
    st.code(f"{base}/{info.join_query()}", language=None)
    st.caption("A link gives membership in the class, never rights: only you (teacher mode) stop or delete "
               "others' jobs.")


st.title("Class")
if not is_teacher():
    st.info("The Class page is for the teacher: unlock teacher mode with the password in the sidebar.")
    st.stop()
room = classroom()
with st.expander("New class", expanded=not room.teacher_classes()):
    name = st.text_input("Class name", max_chars=40, key="class_new_name")
    if st.button("Create the class", key="class_create", type="primary"):
        made = room.create(st.session_state["owner"], name)
        st.session_state["class_pick"] = made.id
open_classes = {c.id: c for c in room.teacher_classes()}
if not open_classes:
    st.info("Create a class to get its join link and code.")
    st.stop()
if st.session_state.get("class_pick") not in open_classes:
    st.session_state["class_pick"] = next(iter(open_classes))
pick = st.selectbox("Class", list(open_classes), key="class_pick",
                    format_func=lambda i: f"{open_classes[i].name} ({open_classes[i].code})")
info = open_classes[pick]
class_header(info)
st.button("Close this class", key="class_close", help="Its link then refuses new members; runs are kept.",
          on_click=room.close, args=(info.id,))
follow_me(info)
ask_form(info)
live(info.id)
