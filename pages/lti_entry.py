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
from explorer.text import plain_text
from pages.common import classroom

_AS = {lti_courses.TEACHER: "teacher of", lti_courses.TA: "teaching assistant in", lti_courses.MEMBER: "a member of"}


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
            who = f"{got.name}, " if got.name else ""
            ss["lti"] = {"class_id": got.class_id, "role": got.role,
                         "said": f"Signed in from your course: {who}{_AS[got.role]} "
                                 f"{info.name if info is not None else 'its class'}."}
            if got.lesson in {x.key for x in LESSONS}:
                ss["lessons_pick"] = got.lesson
                return "pages/lessons.py"
            if got.role != lti_courses.MEMBER:  # the course's staff land on their class
                ss["class_pick"] = got.class_id
                return "pages/classroom.py"
    if "lti" in ss:
        st.caption(plain_text(ss["lti"]["said"]))
    return None
