"""The class screen (`/?screen=CODE`, for the projector; the teacher's session only, streamlit_app.py decides):
large type, no controls, no navigation, nothing to scroll at 1920x1080. It shows what the teacher pushed from the
Class page (explorer.classroom.screen) and follows within a second: a small fragment reads the screen's row (one
primary-key read) four times a second and reruns the page when its version moved; live parts (roster, tally, charts)
redraw every two seconds from figures shared by every screen of the class. Students appear under pseudonyms unless
the teacher turned names on."""
from __future__ import annotations

import base64
import html
import time

import plotly.graph_objects as go
import streamlit as st

from explorer import i18n
from explorer.classroom import questions
from explorer.classroom import screen as S
from explorer.classroom.joinlink import qr_png
from explorer.classroom.lessons import lesson
from explorer.classroom.records import ClassInfo
from explorer.figures.words import say
from explorer.i18n import N_, _, ngettext
from explorer.jobs.status import status_word
from explorer.text import plain_text
from pages.class_screen_controls import may_screen, public_join_link
from pages.common import classroom
from pages.display import plot
from pages.screen_figures import figure6_view, snapshot_view, tally_view
from pages.signin import signin_panel

LIVE_S = 2.0  # how often the live parts redraw (the push itself shows within FOLLOW_S)
FOLLOW_S = 0.25  # one primary-key read per tick: a class has one screen
SCREEN_CSS = """<style>/* # not for translation */
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stElementToolbar"], .st-key-screen_warm { display: none !important; }
.stMainBlockContainer, .block-container { padding: 1.2rem 2.5rem 0 2.5rem !important; max-width: 100% !important; }
.stApp [data-testid="stMarkdownContainer"] p, .stApp [data-testid="stMarkdownContainer"] li { font-size: 2.1rem; }
.stApp h1 { font-size: 3.6rem !important; } .stApp h2 { font-size: 2.8rem !important; }
.stApp [data-testid="stCaptionContainer"] { font-size: 1.9rem !important; color: #1f1f1f !important; }
.st-key-screen_code h1 { font-size: 13rem !important; letter-spacing: 0.6rem; line-height: 1.1; }
</style>"""


def _tick() -> int:
    return int(time.time() // LIVE_S)


@st.fragment(run_every=FOLLOW_S)
def follow(class_id: str, shown: int) -> None:
    """Rerun the page when the teacher pushed something (the version moved) or signed this device out."""
    if S.screen_state(classroom(), class_id).version != shown or not may_screen(class_id):
        st.rerun()


# ----------------------------------------------------------------------------- each kind of screen
def join_screen(info: ClassInfo, state: S.ScreenState) -> None:
    link = public_join_link(info.code)
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        st.markdown("## " + _("Join the class"))
        with st.container(key="screen_code"):
            st.markdown(f"# {info.code}")
        st.markdown(_("Open **{url}**, or scan the code.").format(url=plain_text(link.url)))
        if link.local_only:
            st.caption(_("This link opens only on this computer: set EXPLORER_PUBLIC_URL on the server."))
        joined(info.id)
    with right, st.container(key="screen_qr"):  # st.image gives no alt text (Streamlit 1.67): an <img> with one
        qr = base64.b64encode(qr_png(link.url)).decode()
        alt = html.escape(_("QR code of the join link {url}").format(url=link.url))
        img = ('<img src="data:image/png;base64,{qr}" width="760" '  # not for translation
               'style="max-width: 100%" alt="{alt}">')
        st.html(img.format(qr=qr, alt=alt))


@st.fragment(run_every=LIVE_S)
def joined(class_id: str) -> None:
    n = len(classroom().members(class_id))
    st.caption(ngettext("{n} student joined.", "{n} students joined.", n).format(n=i18n.count(n)))


@st.fragment(run_every=LIVE_S)
def roster_screen(info: ClassInfo, state: S.ScreenState) -> None:
    rows = roster_rows(info.id, state.names, _tick(), i18n.current())
    finished = sum(r.status == "completed" for r in rows)
    st.markdown("## " + _("The class at work: {finished} of {n} finished").format(
        finished=i18n.count(finished), n=i18n.count(len(rows))))
    if not rows:
        st.markdown(_("Nobody has joined yet."))
        return
    columns = st.columns(5)
    for i, row in enumerate(rows):
        with columns[i % 5]:
            st.markdown(f"**{plain_text(row.label)}** · {status_word(row.status)}")
            st.progress(row.fraction if row.fraction is not None else float(row.status == "completed"))


@st.cache_resource(max_entries=32, ttl=30, show_spinner=False)
def roster_rows(class_id: str, names: bool, tick: int, lang: str) -> list[S.ScreenRow]:
    """The roster as the screen shows it, read once per class every LIVE_S, whichever screens watch it (in each
    language a screen reads: the pseudonyms are translated)."""
    room = classroom()
    return S.screen_roster(room, class_id, S.screen_labels(room, class_id, names))


@st.fragment(run_every=LIVE_S)
def question_screen(info: ClassInfo, state: S.ScreenState) -> None:
    room = classroom()
    question = next((q for q in questions.class_questions(room, info.id) if q.id == state.question_id), None)
    if question is None:
        st.markdown("## " + _("That question was deleted with its class."))
        return
    tally = questions.tally(room, question)
    st.markdown(f"# {plain_text(question.prompt)}")
    if state.kind == "question":
        for choice in question.choices:
            st.markdown(f"- {plain_text(choice)}")
        st.markdown(_("Answer with a number.") if question.is_number else _("Predict on your own device first."))
        st.markdown(_("**{answered} of {members} answered**").format(
            answered=i18n.count(tally.answered), members=i18n.count(tally.members)))
        st.progress(tally.answered / tally.members if tally.members else 0.0)
        return
    st.caption(_("Revealed: {answered} of {members} answered; every curve is open to everyone now.").format(
        answered=i18n.count(tally.answered), members=i18n.count(tally.members)))
    if not tally.answered:
        st.markdown(_("No answers yet."))
        return
    plot(st, tally_view(tuple(tally.counts), i18n.current()), key="screen_tally", config={"displayModeBar": False})


@st.fragment(run_every=LIVE_S)
def snapshot_screen(info: ClassInfo, state: S.ScreenState) -> None:
    fig, _words = snapshot_view(info.id, state.snapshot_id or "", state.names, i18n.current())
    plot(st, fig, key="screen_snapshot", config={"displayModeBar": False})  # its takeaway is the screen's sentence


@st.fragment(run_every=LIVE_S)
def figure6_screen(info: ClassInfo, state: S.ScreenState) -> None:
    figure, scale = figure6_view(info.id, classroom().finished_jobs(info.id, "sweep"), i18n.current())
    plot(st, figure, key="screen_figure6", config={"displayModeBar": False})
    if scale:
        st.caption(scale)


def lesson_screen(info: ClassInfo, state: S.ScreenState) -> None:
    shown = lesson(state.lesson)
    st.markdown(f"# {plain_text(_('Lesson {title}').format(title=_(shown.title)))}")
    st.markdown(f"**{plain_text(_(shown.question))}**")
    st.markdown(_("Predict first: {prediction}").format(prediction=plain_text(_(shown.predict))))
    for choice in shown.choices:
        st.markdown(f"- {plain_text(_(choice))}")
    st.caption(_("Then: {experiment}").format(experiment=plain_text(_(shown.experiment))))


WARM = N_("A hidden, empty chart: it loads the chart library early.")  # the chart's words (say), translated when drawn
DRAW = {"join": join_screen, "roster": roster_screen, "question": question_screen, "reveal": question_screen,
        "snapshot": snapshot_screen, "figure6": figure6_screen, "lesson": lesson_screen}


def class_screen(info: ClassInfo) -> None:
    st.html(SCREEN_CSS)
    state = S.screen_state(classroom(), info.id)
    DRAW[state.kind](info, state)
    if state.kind in ("join", "roster", "question", "lesson"):  # no chart: load the chart library now, hidden, so
        with st.container(key="screen_warm"):  # that a chart pushed next draws within the second too
            plot(st, say(go.Figure(layout=dict(height=10, width=10)), _(WARM)), key="screen_warm_chart",
                 config={"displayModeBar": False})
    follow(info.id, state.version)


screen_class = st.session_state.get("screen_class")
if screen_class is None or not may_screen(screen_class.id):
    st.info(_("The class screen is for the teacher's projector: sign in as the teacher on this device to open it."))
    signin_panel()  # this deployment's door (the password, the school's sign-in), as on the Class page
else:
    class_screen(screen_class)
