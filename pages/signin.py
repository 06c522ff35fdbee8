"""Signing in: the teacher's entry on the Class page (the password box, or the school's sign-in buttons), who is
signed in with a Sign out, the quiet link at the bottom of Home, the wall when students must sign in, and a staff
invite link's Accept. Who counts as what is explorer.access.signin's and explorer.access.policy's; this only draws."""
from __future__ import annotations

import streamlit as st

from explorer.access.policy import Action, Role
from explorer.access.signin import Door
from explorer.classroom import staff
from explorer.classroom.records import ClassError
from explorer.i18n import N_, _
from explorer.text import plain_text
from pages.common import (
    classroom,
    door,
    forget_class_roles,
    is_teacher,
    may,
    may_somewhere,
    providers,
    secrets_table,
    signed_in,
    signin_rules,
    try_teacher_password,
)

ROLE_WORDS = {Role.CLASS_TEACHER: N_("teacher"), Role.CO_TEACHER: N_("co-teacher"),
              Role.TA: N_("teaching assistant")}  # shown with _(): ROLE_WORDS[role] is English
_INVITED = {
    Role.CLASS_TEACHER: N_("**You are invited as teacher of the class {name}** (code {code}). The link works once; "
                           "accept it in the browser you will teach from."),
    Role.CO_TEACHER: N_("**You are invited as co-teacher of the class {name}** (code {code}). The link works once; "
                        "accept it in the browser you will teach from."),
    Role.TA: N_("**You are invited as teaching assistant of the class {name}** (code {code}). The link works once; "
                "accept it in the browser you will teach from."),
}
_NOW = {Role.CLASS_TEACHER: N_("You are now teacher of the class {name}."),
        Role.CO_TEACHER: N_("You are now co-teacher of the class {name}."),
        Role.TA: N_("You are now teaching assistant of the class {name}.")}
_NONE = N_("No teacher sign-in is set up on this server, so the Class page is closed. Whoever runs the server can "
         "start it with a teacher password (EXPLORER_TEACHER_PASSWORD) or with the school's sign-in.")


def provider_label(name: str) -> str:
    """The button's words for one configured provider: "Sign in with Google" ("default": the school's account)."""
    table = provider_labels()
    if name in table:
        return _("Sign in with {provider}").format(provider=table[name])
    return _("Sign in with your school account") if name == "default" else \
        _("Sign in with {provider}").format(provider=name.title())


def provider_labels() -> dict[str, str]:
    table = secrets_table("explorer")
    labels = table.get("provider_labels") if table is not None else None
    return {str(k): str(v)[:40] for k, v in labels.items()} if hasattr(labels, "items") else {}


def login_buttons(prefix: str) -> None:
    """One button per configured provider; a click goes to the provider and comes back signed in."""
    for name in providers():
        if st.button(plain_text(provider_label(name)), key=f"{prefix}_login_{name}", type="primary",
                     icon=":material/login:"):
            st.login(name)


def signin_panel() -> None:
    """The Class page for someone who is not (yet) a teacher here: the sentence for this deployment, and its door."""
    how, me = door(), signed_in()
    if how is Door.NONE:
        st.info(_(_NONE))
        return
    if me is not None:
        st.info(_("You are signed in as {name}, whom this server does not count as a teacher. Ask its "
                  "administrator to add you, or a class's teacher to add you as a co-teacher or TA.")
                .format(name=plain_text(me.name)))
        signout_button("class")
    else:
        st.info({Door.PASSWORD: _("The Class page is for the teacher: type the teacher password below."),
                 Door.OIDC: _("The Class page is for teachers: sign in with your school account."),
                 Door.BOTH: _("The Class page is for teachers: sign in with your school account, or type the "
                              "teacher password below.")}[how])
    if how in (Door.OIDC, Door.BOTH) and me is None:
        login_buttons("class")
    if how in (Door.PASSWORD, Door.BOTH):  # kept beside the school's sign-in: it works for anyone who knows it
        st.text_input(_("Teacher password"), type="password", key="class_teacher_pw", autocomplete="current-password",
                      on_change=try_teacher_password, args=("class_teacher_pw",))
        if st.session_state.get("_teacher_error"):
            st.error(st.session_state["_teacher_error"])


def signout_button(prefix: str) -> None:
    if st.button(_("Sign out"), key=f"{prefix}_signout", icon=":material/logout:"):
        st.logout()


def teacher_bar() -> None:
    """Who is signed in, and the way out: the school account's name with Sign out, or the password's teacher mode."""
    me = signed_in()
    if me is not None:
        role = _("admin") if me.admin else _("teacher") if me.teacher else _("staff") \
            if may_somewhere(Action.VIEW_CLASS) else _("student")
        c = st.columns([5, 1], vertical_alignment="center")
        c[0].caption(_("Signed in as **{name}** ({role}).").format(name=plain_text(me.name), role=role))
        with c[1]:
            signout_button("class_bar")
    elif is_teacher():
        c = st.columns([5, 1], vertical_alignment="center")
        c[0].caption(_("Teacher mode (the teacher password): you can see and run every class."))
        c[1].button(_("Leave teacher mode"), key="class_bar_leave", on_click=_leave_teacher_mode)
    elif may_somewhere(Action.VIEW_CLASS):
        st.caption(_("You help run the classes below (an invite link made this browser their co-teacher or TA)."))


def _leave_teacher_mode() -> None:
    st.session_state["teacher"] = False
    forget_class_roles()


def home_link() -> None:
    """At the bottom of Home: a quiet way in for a teacher (the Class page signs them in); nothing for a student to
    follow by mistake."""
    if door() is Door.NONE or may(Action.CREATE_CLASS):
        return
    st.divider()
    st.page_link("pages/classroom.py", label=_("Teacher sign-in"), icon=":material/login:",
                 help=_("For teachers: sign in on the Class page to create and run a class."))


def student_wall() -> None:
    """Where the deployment asks everyone to sign in (EXPLORER_STUDENT_LOGIN=required): nothing else until they do,
    so each student's runs follow their account across devices."""
    if not signin_rules().student_login or not providers() or signed_in() is not None:
        return
    st.title("ResNet Explorer")  # not for translation
    st.markdown(_("This server asks everyone to sign in with their school account, so that your runs follow you "
                  "from one device to another."))
    login_buttons("wall")
    st.stop()


def invite_panel() -> None:
    """A staff invite link (?staff=TOKEN): what it gives, and Accept; one sentence for a used or expired link."""
    ss = st.session_state
    if "staff_invite_problem" in ss:
        st.warning(ss.pop("staff_invite_problem"))
    if "staff_invite_done" in ss:
        st.success(ss.pop("staff_invite_done"))
        st.page_link("pages/classroom.py", label=_("Open the Class page"), icon=":material/groups:")
    token = ss.get("staff_invite")
    if not token:
        return
    try:
        info, role = staff.peek_invite(classroom(), token)
    except ClassError as exc:
        st.warning(str(exc))
        ss.pop("staff_invite", None)
        return
    with st.container(border=True):
        st.markdown(_(_INVITED[role]).format(name=plain_text(info.name), code=info.code))
        c = st.columns(2)
        c[0].button(_("Accept"), key="invite_accept", type="primary", on_click=_accept, args=(token,))
        c[1].button(_("Not now"), key="invite_dismiss", on_click=ss.pop, args=("staff_invite", None))


def _accept(token: str) -> None:
    ss = st.session_state
    ss.pop("staff_invite", None)
    try:
        info, role = staff.redeem_invite(classroom(), token, ss["owner"])
    except ClassError as exc:
        ss["staff_invite_problem"] = str(exc)
        return
    forget_class_roles()
    ss["class_pick"] = info.id
    ss["staff_invite_done"] = _(_NOW[role]).format(name=plain_text(info.name))
