"""The Class page's staff section: the class's co-teachers and TAs, added by e-mail (the school's sign-in) or by a
single-use invite link (any deployment), and removed; and which classes this session sees at all. The policy decides
(pages.common.may with the class's id); explorer.classroom.staff keeps the roles."""
from __future__ import annotations

import hashlib

import streamlit as st

from explorer.access.policy import STAFF_ROLES, Action, Role
from explorer.access.signin import Door
from explorer.classroom import staff
from explorer.classroom.records import ClassError, ClassInfo
from explorer.i18n import _
from explorer.text import plain_text
from pages.common import classroom, door, forget_class_roles, may
from pages.signin import ROLE_WORDS


def visible_classes(every: list[ClassInfo]) -> list[ClassInfo]:
    """The classes this session may see on the Class page: those it helps run (the admin: every one)."""
    return [c for c in every if may(Action.VIEW_CLASS, class_id=c.id)]


def _row_key(owner: str) -> str:  # a staff key is an owner id (a right): never in a page, a hash of it instead
    return hashlib.sha256(owner.encode()).hexdigest()[:12]


def staff_panel(info: ClassInfo) -> None:
    """Who helps run this class, and (for its teacher) adding and removing them."""
    room, editable = classroom(), may(Action.STAFF, class_id=info.id)
    people = staff.class_staff(room, info.id)
    with st.expander(_("Co-teachers and TAs"), expanded=False, key="class_staff_box"):
        if not people:
            st.caption(_("Nobody yet: the class's teacher can add a co-teacher or a teaching assistant here."))
        for person in people:
            c = st.columns([4, 2, 1], vertical_alignment="center")
            c[0].markdown(_("{name} (until they sign in)").format(name=plain_text(person.name)) if person.by_email
                          else plain_text(person.name))
            c[1].markdown(_(ROLE_WORDS[person.role]))
            if editable:
                c[2].button(_("Remove"), key=f"class_staff_remove_{_row_key(person.owner)}", on_click=_remove,
                            args=(info.id, person.owner))
        if editable:
            _add_forms(info)


def _role_pick(key: str) -> Role:
    picked: Role = st.selectbox(_("Role"), STAFF_ROLES, key=key, index=len(STAFF_ROLES) - 1,
                                format_func=lambda r: _(ROLE_WORDS[r]))
    return picked


def _add_forms(info: ClassInfo) -> None:
    """Add by e-mail where people sign in with the school's account; an invite link on every deployment."""
    ss = st.session_state
    if door() in (Door.OIDC, Door.BOTH):
        c = st.columns([3, 2, 1], vertical_alignment="bottom")
        c[0].text_input(_("E-mail of a co-teacher or TA (their school sign-in)"), max_chars=staff.MAX_EMAIL,
                        key="class_staff_email")
        with c[1]:
            role = _role_pick("class_staff_role")
        c[2].button(_("Add"), key="class_staff_add", on_click=_add_email, args=(info.id, role))
    c = st.columns([3, 2, 1], vertical_alignment="bottom")
    c[0].caption(_("Or make an invite link: it works once, for a week; whoever opens it first gets the role."))
    with c[1]:
        invite_role = _role_pick("class_staff_invite_role")
    c[2].button(_("Make a link"), key="class_staff_invite", on_click=_invite, args=(info.id, invite_role))
    made = ss.get("class_staff_link")
    if made and made[0] == info.id:
        st.code(f"{_base_url()}/?staff={made[1]}", language=None)
        st.caption(_("Send this link to one person; it is shown only now."))
    if "class_staff_problem" in ss:
        st.warning(ss.pop("class_staff_problem"))


def _base_url() -> str:
    url = getattr(st.context, "url", None) or ""
    return url.split("?")[0].rsplit("/", 1)[0]


def _add_email(class_id: str, role: Role) -> None:
    ss = st.session_state
    try:
        added = staff.add_staff_by_email(classroom(), class_id, ss.get("class_staff_email"), role, by=ss["owner"])
    except ClassError as exc:
        ss["class_staff_problem"] = str(exc)
        return
    ss["class_staff_email"] = ""
    st.toast(_("{name} is now {role} of this class.").format(name=plain_text(added.name),
                                                             role=_(ROLE_WORDS[added.role])))


def _invite(class_id: str, role: Role) -> None:
    try:
        token = staff.create_invite(classroom(), class_id, role, by=st.session_state["owner"])
    except ClassError as exc:
        st.session_state["class_staff_problem"] = str(exc)
        return
    st.session_state["class_staff_link"] = (class_id, token)


def _remove(class_id: str, owner: str) -> None:
    staff.remove_staff(classroom(), class_id, owner)
    forget_class_roles()
