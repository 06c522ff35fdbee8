"""The Class page's section for a class opened from an LMS course: who in the course has not joined yet, and a button
that reads the course's roster again (LTI Names and Role Provisioning Services, explorer.lti.roster)."""
from __future__ import annotations

import time

import streamlit as st

from explorer import i18n
from explorer.access.policy import Action
from explorer.classroom import lti_courses
from explorer.i18n import N_, _, ngettext
from explorer.text import plain_text
from pages.common import classroom, may, store

_SHOWN = 40  # names listed before "and N more"
NOT_SET_UP = N_("This app server is not set up to read rosters from an LMS; its administrator gives it the same LTI "
                "settings as the tool.")


@st.cache_resource(show_spinner=False)
def _lti_setup(root: str, lang: str) -> tuple[object, object] | str:
    """(settings, tool key) for the roster sync, or the sentence saying why there are none, in `lang` (read once per
    server and language)."""
    from explorer.lti.settings import LtiError, settings_from_env, tool_key
    try:
        settings = settings_from_env()
        if settings is None:
            return _(NOT_SET_UP)
        return settings, tool_key(root)
    except LtiError as exc:
        return str(exc)


def _sync(class_id: str) -> None:
    from explorer.lti.roster import sync_course
    from explorer.lti.settings import LtiError
    setup = _lti_setup(str(store().root), i18n.current())
    try:
        if isinstance(setup, str):
            raise LtiError(setup)
        count = sync_course(classroom(), setup[0], setup[1], class_id)  # type: ignore[arg-type]
    except LtiError as exc:
        st.session_state["lti_roster_error"] = str(exc)
        return
    st.session_state.pop("lti_roster_error", None)
    st.toast(ngettext("Read {n} person from the course's roster.", "Read {n} people from the course's roster.",
                      count).format(n=i18n.count(count)))


def lms_roster(info) -> None:
    """Draw the section for the class `info` when it was opened from an LMS course (nothing otherwise)."""
    room = classroom()
    course = lti_courses.course_of(room, info.id)
    if course is None:
        return
    missing = lti_courses.not_joined(room, info.id)
    with st.container(border=True):
        if course.get("synced"):
            ago = max(0, int(time.time() - course["synced"]) // 60)
            st.markdown(" · ".join((
                _("**From your LMS course**"), _("roster read {minutes} min ago").format(minutes=ago),
                ngettext("{n} student not joined yet", "{n} students not joined yet", len(missing)).format(
                    n=i18n.count(len(missing))))))
        else:
            st.markdown(_("**From your LMS course** · its roster has not been read yet"))
        if missing:
            names = ", ".join(e.name for e in missing[:_SHOWN])
            more = len(missing) - _SHOWN
            st.caption(plain_text(
                ngettext("Not joined yet: {names} and {n} more.", "Not joined yet: {names} and {n} more.", more)
                .format(names=names, n=i18n.count(more)) if more > 0 else
                _("Not joined yet: {names}.").format(names=names)))
        if may(Action.MANAGE_CLASS, class_id=info.id):
            st.button(_("Read the roster from the LMS"), key="class_lti_sync", on_click=_sync, args=(info.id,),
                      help=_("Asks the LMS who is in the course (students join by opening the tool from the "
                             "course)."))
        if st.session_state.get("lti_roster_error"):
            st.error(plain_text(st.session_state["lti_roster_error"]))
