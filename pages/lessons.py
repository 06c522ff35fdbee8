"""Lessons: a guided path through the papers, one screen each; a class follows its teacher's lesson ("follow me"),
a self-learner walks them alone. Inside a class, each prediction is kept with the class for the teacher's tally."""
import pandas as pd
import streamlit as st

from explorer.classroom import questions
from explorer.classroom.authoring import TeacherLesson
from explorer.classroom.lessons import LESSONS, lesson, shown, words
from explorer.data.config import DataConfig
from explorer.figures.classroom import final_medians
from explorer.i18n import _, pct
from explorer.text import clean
from explorer.training.experiments import like_with_like
from pages.class_panel import class_caption
from pages.common import classroom, ensure_entry, my_class, results_gating, store, train_cfg
from pages.follow import pause_note
from pages.job_actions import start_experiment
from pages.own_lesson import own_lessons, show_own_lesson

ensure_entry("pages/lessons.py")


def pick_lesson():
    """The class's lesson when the teacher leads one, else the learner's own choice."""
    mine = my_class()
    if mine is not None and mine[0].lesson:
        try:
            chosen = lesson(mine[0].lesson)
        except ValueError:
            chosen = None
        if chosen is not None:
            st.info(_("Your teacher has put the class on **{lesson}**.").format(lesson=words(chosen.title)))
            return chosen, mine
    own = own_lessons(mine)  # the class's teacher-made lessons, beside the built-in ones
    key = st.selectbox(_("Lesson"), [x.key for x in LESSONS] + list(own), key="lessons_pick",
                       format_func=lambda k: _("{title} (your teacher's)").format(title=clean(own[k].title))
                       if k in own else words(lesson(k).title))
    return own.get(key) or lesson(key), mine


def prediction(chosen, mine):
    """The learner's prediction. In a class it is kept with the class (one answer per student and lesson; changing
    it changes it) and the teacher sees the tally; alone, it stays in this session."""
    from explorer.classroom.records import ClassError
    key = f"lessons_predict_{chosen.key}"
    if mine is None:
        return st.radio(_("Your prediction"), list(chosen.choices), index=None, key=key, format_func=words)
    room, owner = classroom(), st.session_state["owner"]
    kept = questions.my_answer(room, questions.lesson_question_id(mine[0].id, chosen.key), owner)
    if key not in st.session_state and kept in chosen.choices:  # a reload, or another device: it comes back
        st.session_state[key] = kept
    guess = st.radio(_("Your prediction"), list(chosen.choices), index=None, key=key, format_func=words)
    if guess is not None and guess != kept:  # a new or changed prediction (or one made before joining)
        try:
            questions.answer(room, questions.lesson_question(room, mine[0].id, chosen), owner, guess)
        except ClassError as exc:
            st.warning(str(exc))
            return guess
    if guess is not None:
        st.caption(_("Your prediction is kept with your class: your teacher sees the class's tally."))
    return guess


def class_numbers(mine) -> None:
    """The class's finished Figure 6 runs of one pool (same dataset, recipe and nets): median final training error
    per net over the runs that finished, with n."""
    if mine is None or results_gating().gate("sweep", None) is not None:  # predict first (classroom.gating)
        return
    room = classroom()
    pools = like_with_like(room.experiment_specs(room.finished_jobs(mine[0].id, "sweep")))
    if not pools:
        return
    curves = room.epoch_curves(mine[0].id, "sweep", ids=pools[0].ids)
    rows = [{_("net"): name, _("median final training error"): pct(100 * median), _("runs (n)"): n}
            for name, median, n in sorted(final_medians(curves, epochs=pools[0].epochs))]
    if rows:
        st.markdown(_("**Your class's runs** (Figure 6, finished: {pool})").format(pool=pools[0].label))
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="lessons_class_numbers")


def recorded_result(key: str) -> None:
    """The lesson's own experiment, recorded and shipped with the app: its curves open on Train at once."""
    from explorer.store.shipped import RECORDINGS, ensure_shipped_in_store
    folder, nets = RECORDINGS[key]
    nets = _(nets)
    if st.button(_("Short on time? Open the recorded {nets}").format(nets=nets), key="lessons_recorded",
                 help=_("This lesson's twin, {nets} trained on the built-in digits, shipped with the app: its curves "
                        "open on Train at once.").format(nets=nets)):
        try:
            st.session_state["watch"] = ensure_shipped_in_store(store(), folder)
        except FileNotFoundError as exc:
            st.warning(str(exc))
            return
        st.switch_page("pages/train.py")


st.title(_("Lessons"))
class_caption()
chosen, mine = pick_lesson()
if isinstance(chosen, TeacherLesson):
    show_own_lesson(chosen, mine)
    st.stop()  # a teacher-made lesson has its own screen; the built-in lesson's screen follows
text = shown(chosen)  # its words in the reader's language; `chosen` keeps the English values the class keeps
st.header(text.title)
st.markdown(f"**{text.question}**")
with st.container(border=True):
    st.markdown(_("**Predict first:** {prediction}").format(prediction=text.predict))
    guess = prediction(chosen, mine)
    st.markdown(_("**The experiment:** {experiment}").format(experiment=text.experiment))
    paused = pause_note()
    if st.button(_("Run it"), key="lessons_run", type="primary", disabled=guess is None or paused,
                 help=_("Make a prediction first; the button then starts the experiment and opens Train.")):
        try:
            spec = chosen.spec(DataConfig(name=st.session_state.get("dataset", "digits")), train_cfg())
        except ValueError as exc:
            st.error(str(exc))
        else:
            if start_experiment(spec):
                st.switch_page("pages/train.py")
    if chosen.recorded:
        recorded_result(chosen.recorded)
st.markdown(_("**What to look at in the live charts**"))
st.markdown("\n".join(f"- {line}" for line in text.look_at))
left, right = st.columns(2)
with left:
    st.markdown(_("**The paper's numbers** ({source})").format(source=text.source))
    st.dataframe(pd.DataFrame(text.paper, columns=[_("what"), _("value")]), hide_index=True, key="lessons_paper")
with right:
    if chosen.key == "degradation":
        class_numbers(mine)
st.markdown(_("**Check yourself**"))
for i, (check, said_check) in enumerate(zip(chosen.checks, text.checks, strict=True)):
    said = st.radio(said_check.question, list(check.choices), index=None, key=f"lessons_check_{chosen.key}_{i}",
                    format_func=words)
    if said is not None:
        (st.success if said == check.answer else st.warning)(
            _("Right. {why}").format(why=said_check.why) if said == check.answer else
             _("Not quite: {answer}. {why}").format(answer=words(check.answer), why=said_check.why))
