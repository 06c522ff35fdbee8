"""A launch from an LMS arriving in the app: `/?lti=TICKET` signs this session in as the person the LMS launched.

The tool's endpoints (explorer.lti.app, `python -m explorer lti`) verified the launch, put the person in the course's
class (teacher, co-teacher, TA or member) and issued a one-time ticket; here the session redeems it once
(explorer.classroom.lti_courses) and becomes that person's owner id. The ticket leaves the URL at once; a used,
expired or unknown one is one sentence.
"""
from __future__ import annotations

import streamlit as st

from explorer.classroom import lti_courses
from explorer.classroom.lessons import LESSONS
from explorer.classroom.records import ClassError
from explorer.i18n import N_, _
from explorer.text import plain_text
from pages.common import classroom

# Who the launch signed in, by role: (with the person's name, without it).
_SAID = {
    lti_courses.TEACHER: (N_("Signed in from your course: {name}, teacher of {class_name}."),
                          N_("Signed in from your course: teacher of {class_name}.")),
    lti_courses.TA: (N_("Signed in from your course: {name}, teaching assistant in {class_name}."),
                     N_("Signed in from your course: teaching assistant in {class_name}.")),
    lti_courses.MEMBER: (N_("Signed in from your course: {name}, a member of {class_name}."),
                         N_("Signed in from your course: a member of {class_name}.")),
}


def _said(lti: dict) -> str:
    """Who this session is signed in as, in the reader's language (composed on every run: the language may change)."""
    with_name, without = _SAID[lti["role"]]
    class_name = lti["class_name"] if lti["class_name"] is not None else _("its class")
    return (_(with_name) if lti["name"] else _(without)).format(name=lti["name"], class_name=class_name)


def redeem_launch() -> str | None:
    """Redeem `?lti=` once, and say who this session is signed in as on every run after; returns the page to open
    (a lesson the launch deep-linked to; the Class page, on its class, for the course's staff) or None. Call it
    once per run from the entry script, before the page runs."""
    ss = st.session_state
    ticket = st.query_params.get("lti")
    if ticket is not None:
        del st.query_params["lti"]
        try:
            got = lti_courses.redeem_ticket(classroom(), ticket)
        except ClassError as exc:
            st.error(plain_text(str(exc)))
        else:
            ss["owner"] = got.owner  # the signed-in person's owner id (owner_for(issuer, subject)), never a cookie's
            ss.pop("_set_owner_cookie", None)  # the anonymous cookie stays as it was, for a later anonymous visit
            info = classroom().get(got.class_id)
            ss["lti"] = {"class_id": got.class_id, "role": got.role, "name": got.name or "",
                         "class_name": info.name if info is not None else None}
            if got.lesson in {x.key for x in LESSONS}:
                ss["lessons_pick"] = got.lesson
                return "pages/lessons.py"
            if got.role != lti_courses.MEMBER:  # the course's staff land on their class
                ss["class_pick"] = got.class_id
                return "pages/classroom.py"
    if "lti" in ss:
        st.caption(plain_text(_said(ss["lti"])))
    return None
