"""The Class page's "Push to the class screen" section, the class's public join link, and which session opens the
class screen (`/?screen=CODE`, decided once in streamlit_app.py). What may be pushed, and how it is checked, is
explorer.classroom.screen's; who may push is the policy's (Action.SCREEN).
"""
from __future__ import annotations

import os

import streamlit as st

from explorer import i18n
from explorer.access.policy import Action
from explorer.classroom import language as class_language
from explorer.classroom import screen as S
from explorer.classroom.joinlink import JoinLink, join_link
from explorer.classroom.lessons import LESSONS
from explorer.classroom.pseudonyms import pseudonym
from explorer.classroom.records import ClassError, ClassInfo
from explorer.i18n import N_, _
from explorer.jobs.request import proxy_setting
from explorer.text import clean, plain_text
from pages.common import classroom, may

SHOWN = {"join": N_("the join code"), "roster": N_("the roster (progress only)"), "question": N_("a question"),
         "reveal": N_("a revealed question"), "snapshot": N_("a snapshot"), "figure6": N_("the class's Figure 6"),
         "lesson": N_("a lesson")}
PUSHES = {"join": N_("Join code"), "roster": N_("Roster"), "figure6": N_("Class Figure 6")}
LAYOUT_LABELS = {"side": N_("side by side"), "overlay": N_("overlaid")}


# ----------------------------------------------------------------------------- the public join link
def public_join_link(code: str) -> JoinLink:
    """The class's join link for students' devices (explorer.classroom.joinlink decides where it comes from)."""
    _trusted, hops = proxy_setting(os.environ)
    headers = {name: st.context.headers.get_all(name) for name in ("x-forwarded-host", "x-forwarded-proto")}
    return join_link(code, os.environ, st.context.url, headers, hops)


def join_link_warning(link: JoinLink) -> None:
    """One sentence when the link only opens on this machine, or when the configured address was ignored."""
    if link.problem:
        st.warning(link.problem)
    if link.local_only:
        st.warning(_("This link opens only on this computer: set EXPLORER_PUBLIC_URL to the address students' "
                     "devices use, or open the app by its network address."))


# ----------------------------------------------------------------------------- who opens the screen
def may_screen(class_id: str) -> bool:
    """Whether this session may open this class's screen and push to it (the policy's Action.SCREEN): the one place
    the screen asks, for this class (its teacher, co-teachers and TAs; explorer.access.policy)."""
    return may(Action.SCREEN, class_id=class_id)


def screen_session() -> bool:
    """Whether this session is on the class screen: a `?screen=CODE` link was opened in it (kept for the session,
    so that signing in on this device afterwards opens the screen). For a session that may open that class's screen,
    the class goes to session_state["screen_class"]; anyone else gets None there, and the page one sentence (the
    same whether the code exists or not). A teacher's code with no open class is one sentence and the ordinary app."""
    ss = st.session_state
    if "screen" in st.query_params:
        ss["screen_code"] = str(st.query_params.get("screen"))[:40]
    code = ss.get("screen_code")
    if not code:
        return False
    ss["screen_class"] = None
    info = classroom().find(code)
    if info is None or not info.is_open:
        if not may(Action.SCREEN):
            return True
        ss.pop("screen_code", None)
        st.warning(_("There is no open class with that code, so there is no class screen to show."))
        return False
    if may_screen(info.id):
        ss["screen_class"] = info
        st.query_params.from_dict({"screen": info.code})  # a reload opens the screen again
    return True


# ----------------------------------------------------------------------------- the Class page's section
def screen_controls(info: ClassInfo) -> None:
    """Push the join code, the roster, a question, its reveal, a snapshot, the class's Figure 6 or a lesson."""
    if not may_screen(info.id):
        return
    room = classroom()
    state = S.screen_state(room, info.id)
    with st.expander(_("Push to the class screen"), expanded=True):
        base = public_join_link(info.code).url.split("?join=")[0].rstrip("/")
        c = st.columns([3, 2], vertical_alignment="center")
        c[0].markdown(_("[Open the class screen]({url}) on the projector (signed in as the teacher there). On it "
                        "now: **{shown}**.").format(url=f"{base}/?screen={info.code}", shown=_(SHOWN[state.kind])))
        c[1].toggle(_("Students' names on the screen"), value=state.names, key="class_screen_names",
                    on_change=_names, args=(info.id,),
                    help=_("Off: each student is a stable pseudonym ({example}, ...).").format(
                        example=pseudonym(0)))
        b = st.columns(3)
        for col, kind in zip(b, PUSHES, strict=True):
            col.button(_(PUSHES[kind]), key=f"class_screen_{kind}", on_click=_push, args=(info.id, kind),
                       type="primary" if state.kind == kind else "secondary", use_container_width=True)
        _question_row(info)
        _lesson_row(info)
        _snapshot_rows(info)
    if "class_screen_problem" in st.session_state:
        st.warning(st.session_state.pop("class_screen_problem"))


def _question_row(info: ClassInfo) -> None:
    from explorer.classroom import questions
    asked = {q.id: q for q in questions.class_questions(classroom(), info.id)}
    if not asked:
        st.caption(_("Ask the class a question to put it on the screen."))
        return
    c = st.columns([4, 1, 1], vertical_alignment="bottom")
    pick = c[0].selectbox(_("Question"), list(asked), key="class_screen_question",
                          format_func=lambda q: clean(asked[q].prompt)[:90])
    c[1].button(_("Push"), key="class_screen_push_question", on_click=_push, args=(info.id, "question"),
                kwargs={"question_id": "class_screen_question"}, use_container_width=True)
    c[2].button(_("Reveal"), key="class_screen_reveal", on_click=_push, args=(info.id, "reveal"),
                kwargs={"question_id": "class_screen_question"}, use_container_width=True,
                disabled=not may(Action.REVEAL) or asked[pick].revealed is not None,
                help=_("Reveals the answers and curves to everyone, and shows the tally on the screen."))


def _lesson_row(info: ClassInfo) -> None:
    c = st.columns([5, 1], vertical_alignment="bottom")
    titles = {x.key: x.title for x in LESSONS}
    c[0].selectbox(_("Lesson"), list(titles), key="class_screen_lesson", format_func=lambda k: _(titles[k]))
    c[1].button(_("Push"), key="class_screen_push_lesson", on_click=_push, args=(info.id, "lesson"),
                kwargs={"lesson": "class_screen_lesson"}, use_container_width=True)


def _snapshot_rows(info: ClassInfo) -> None:
    """Pick 2 to 4 runs (in the order picked), side by side or overlaid; push; or push an earlier snapshot again."""
    room = classroom()
    choices = S.snapshot_choices(room, info.id)
    if not choices:
        st.caption(_("Snapshots: once students have runs, pick {least} to {most} of them to compare on the screen.")
                   .format(least=S.MIN_SNAPSHOT, most=S.MAX_SNAPSHOT))
        return
    names = {m.owner: m.name for m in room.members(info.id)}
    labels = S.screen_labels(room, info.id)
    by_key = {f"{i.exp_id}/{i.run_id}": i for i in choices}

    def label(key: str) -> str:
        item = by_key[key]
        who = names.get(item.owner) or _("a former member")
        return clean(_("{who} ({pseudonym}): {run} · job {job}").format(
            who=who, pseudonym=labels.get(item.owner, "–"), run=item.run_name, job=item.exp_id[:6]))
    c = st.columns([4, 1.4, 1], vertical_alignment="bottom")
    picked = c[0].multiselect(
        _("Snapshot: {least} to {most} runs, in the order you pick them").format(least=S.MIN_SNAPSHOT,
                                                                                 most=S.MAX_SNAPSHOT),
        list(by_key), key="class_screen_snapshot_runs", format_func=label, max_selections=S.MAX_SNAPSHOT)
    c[1].radio(_("Shown"), S.LAYOUTS, key="class_screen_snapshot_layout", horizontal=True,
               format_func=lambda x: _(LAYOUT_LABELS[x]))
    c[2].button(_("Push"), key="class_screen_push_snapshot", on_click=_snapshot, use_container_width=True,
                args=(info.id,), disabled=len(picked) < S.MIN_SNAPSHOT)
    kept = S.snapshots(room, info.id)[::-1]
    if kept:
        c = st.columns([5, 1], vertical_alignment="bottom")
        c[0].selectbox(_("Earlier snapshots"), [s.id for s in kept], key="class_screen_snapshot_again",
                       format_func=lambda i: clean(" vs ".join(f"{labels.get(x.owner, '–')}: {x.run_name}"
                                                               for x in next(s for s in kept if s.id == i).items)))
        c[1].button(_("Push"), key="class_screen_push_again", on_click=_push, args=(info.id, "snapshot"),
                    kwargs={"snapshot_id": "class_screen_snapshot_again"}, use_container_width=True)


def _push(class_id: str, kind: str, **widgets: str) -> None:
    """A Push button's callback: the payload is read from the widgets as they are now ({field: widget key})."""
    payload = {field: st.session_state.get(key) for field, key in widgets.items()}
    try:
        S.push(classroom(), class_id, kind, **payload)
    except ClassError as exc:
        st.session_state["class_screen_problem"] = plain_text(str(exc))


def _snapshot(class_id: str) -> None:
    """Keep the picked runs (keys "exp id/run id", in the order picked) as a snapshot and push it."""
    ss = st.session_state
    picks = [tuple(k.split("/", 1)) for k in ss.get("class_screen_snapshot_runs", [])]
    layout = ss.get("class_screen_snapshot_layout", "side")
    try:
        snap = S.take_snapshot(classroom(), class_id, [(p[0], p[-1]) for p in picks], layout)
        from pages.screen_figures import snapshot_view
        screen_lang = class_language.language(classroom(), class_id) or i18n.current()  # the screen's, most likely
        snapshot_view(class_id, snap.id, S.screen_state(classroom(), class_id).names, screen_lang)  # built before
        S.push(classroom(), class_id, "snapshot", snapshot_id=snap.id)
    except ClassError as exc:
        st.session_state["class_screen_problem"] = plain_text(str(exc))
        return
    st.session_state.pop("class_screen_snapshot_runs", None)


def _names(class_id: str) -> None:
    S.show_names(classroom(), class_id, bool(st.session_state.get("class_screen_names")))
