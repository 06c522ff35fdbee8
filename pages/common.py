"""Session and identity: who this session is, the shared job manager and store, the setup, the teacher's sign-in.

State is set up once per session by `init_session()` (called from streamlit_app.py); pages read it.
Cross-page choices live under non-widget keys: "dataset", "model_cfg" (a ModelConfig dict), "kind",
"train" (recipe overrides), "owner", "watch" (the experiment the Train page follows).
The other shared parts: pages.job_actions (starting and acting on jobs), pages.class_panel (joining and leaving a
class), pages.display (projector mode, charts, the net picker, one-sentence errors).
"""
from __future__ import annotations

import os
import re
import secrets
import time
from typing import Any

import streamlit as st

from explorer import urlstate
from explorer.access.identity import is_signed_in_owner
from explorer.access.policy import POLICY, Action, Actor, Role
from explorer.access.signin import Door, SignedIn, SignInRules, oidc_providers
from explorer.access.teacher import TeacherGate, refusal_sentence
from explorer.classroom.classes import Classroom
from explorer.classroom.gating import Gating, viewer_gating
from explorer.classroom.records import ClassInfo, Member
from explorer.data.config import model_config_for
from explorer.data.registry import dataset_info
from explorer.i18n import _, ngettext
from explorer.jobs.budget import MAX_JOB_BUDGET_S, MIN_JOB_BUDGET_S
from explorer.jobs.manager import JobManager
from explorer.jobs.request import client_key, proxy_setting
from explorer.nets.config import ModelConfig
from explorer.store.runstore import RunStore
from explorer.training.recipes import TrainConfig, train_config_for

OWNER_COOKIE = "explorer_owner"
_OWNER_RE = re.compile(r"^[0-9a-f]{32}$")


@st.cache_resource
def job_manager() -> JobManager:
    """One job manager per server process, shared by every session (built from the environment)."""
    return JobManager.from_env()


def store() -> RunStore:
    return job_manager().store


@st.cache_resource
def classroom() -> Classroom:
    """One explorer.classroom.Classroom per server process, on the run store's database."""
    return Classroom(store())


def my_class() -> tuple[ClassInfo, Member] | None:
    """(ClassInfo, Member) of the class this session's owner is in, or None (one indexed query)."""
    return classroom().membership(st.session_state["owner"])


# ----------------------------------------------------------------------------- who may do what
def actor() -> Actor:
    """This session as the access policy sees it: its owner id, the password's teacher mode or the deployment's
    teacher and admin rules (signed in), and its role in each class it helps run (explorer.classroom.staff)."""
    owner, me = st.session_state.get("owner"), signed_in()
    password = is_teacher()
    # An owner id made by a sign-in (OIDC, or an LMS's launch: pages.lti_entry) is the person, never a cookie's.
    created = SignInRules.creator_counts(me is not None or is_signed_in_owner(owner), password)
    return Actor(owner, teacher=password or bool(me and me.teacher), admin=password or bool(me and me.admin),
                 classes=class_roles(owner, me.email if me else None, created))


def class_roles(owner: str | None, email: str | None, created: bool = True) -> dict[str, Role]:
    """{class id: role} this session holds (one indexed query, kept 2 s: a page run asks the policy many times)."""
    from explorer.classroom.staff import staff_classes
    ss, now, asked = st.session_state, time.monotonic(), (owner, email, created)
    kept = ss.get("_class_roles")
    if kept and kept[0] == asked and now - kept[1] < 2.0:
        return kept[2]
    from explorer.store.db import StoreError
    try:
        roles = staff_classes(classroom(), owner, email, created) if owner else {}
    except StoreError:  # the database went away mid-page: no class roles this run (store_notice says why)
        return {}
    ss["_class_roles"] = (asked, now, roles)
    return roles


def forget_class_roles() -> None:
    """After this session changed a class's staff (or created a class): ask the store again on the next question."""
    st.session_state.pop("_class_roles", None)


def may(action: Action, owner: str | None = None, class_id: str | None = None) -> bool:
    """Whether this session may take `action` on a thing `owner` started, inside class `class_id` (None: outside any
    class); explorer.access.policy decides."""
    return POLICY.allows(actor(), action, owner, class_id)


def may_somewhere(action: Action) -> bool:
    """Whether this session may take `action` in at least one class (or everywhere): whether to show a control."""
    return POLICY.allows_any_class(actor(), action)


def results_gating() -> Gating:
    """Which experiments' results this session may not see yet: an open class question it has not answered
    (explorer.classroom.gating decides; two queries, none in teacher mode). Ask it once per page run."""
    return viewer_gating(classroom(), actor())


# ----------------------------------------------------------------------------- the session
@st.cache_data(ttl=60, show_spinner=False)
def _pending_import(root: str) -> int:
    from explorer.store.importer import pending_import
    return pending_import(store())


def store_notice() -> None:
    """One sentence when the run database cannot be used (damaged, another schema, away: then the page tries again
    every few seconds and comes back by itself), or when the runs folder holds a file store to import."""
    from explorer.store.db import StoreError
    try:
        root = store().root
        store().ping()
        pending = _pending_import(str(root))
    except StoreError as exc:
        st.error(str(exc))
        _retry_store()
        st.stop()
    if pending:
        st.info(ngettext("This runs folder holds {n} experiment saved before the run database; run "
                         "`{command}` once to see it here.",
                         "This runs folder holds {n} experiments saved before the run database; run "
                         "`{command}` once to see them here.", pending)
                .format(n=pending, command=f"python -m explorer import-store {root}"))  # not for translation


@st.fragment(run_every=5)
def _retry_store() -> None:
    """While the database is away: ask again every 5 s, and rerun the whole page once it answers."""
    from explorer.store.db import StoreError
    try:
        store().ping()
    except StoreError:
        return
    st.rerun()


def client_id() -> str | None:
    """This browser's network address for the per-client job limits (explorer.jobs.request.client_key): the
    connection's, or behind the deployment's proxy the one its EXPLORER_CLIENT_HEADER names; None on localhost."""
    ss = st.session_state
    if "_client" not in ss:
        header, hops = proxy_setting(os.environ)
        forwarded = st.context.headers.get_all(header) if header else []
        ss["_client"] = client_key(st.context.ip_address, forwarded, hops)
    return ss["_client"]


def _owner_id() -> str:
    """A random id kept in a cookie (never in the URL): who started which job survives a reload."""
    cookie = st.context.cookies.get(OWNER_COOKIE) if hasattr(st, "context") else None
    if isinstance(cookie, str) and _OWNER_RE.match(cookie):
        return cookie
    owner = secrets.token_hex(16)
    st.session_state["_set_owner_cookie"] = owner
    return owner


def init_session() -> None:
    """Defaults once per session; the URL's setup, if any, overrides them (with one sentence per bad field)."""
    ss = st.session_state
    if "owner" not in ss:
        me = signed_in()  # signed in: the same owner on every device, whatever the cookie says
        ss["owner"] = me.owner if me is not None else _owner_id()
    if "_initialised" in ss:
        return
    ss["_initialised"] = True
    ss.setdefault("dataset", "digits")
    ss.setdefault("kind", "twin")
    ss.setdefault("model_cfg", ModelConfig().to_dict())
    ss.setdefault("train", {})
    settings, problems = urlstate.from_query(st.query_params.to_dict())
    if settings["dataset"]:
        ss["dataset"] = settings["dataset"]
    if settings["kind"]:
        ss["kind"] = settings["kind"]
    if settings["model"]:
        ss["model_cfg"] = {**ss["model_cfg"], **settings["model"]}
    ss["train"] = {**ss["train"], **settings["train"]}
    controls, control_problems = urlstate.controls_from_query(st.query_params.to_dict())
    ss["lesson_controls"] = controls
    ss["lesson_link"] = {"kind": settings["kind"] or "twin", "dataset": settings["dataset"] or "digits",
                         "model": dict(settings["model"]), "train": dict(settings["train"])}
    problems = problems + control_problems
    join = st.query_params.get("join")
    if join is not None:
        ss["join_code"] = str(join)[:40]
    lesson = st.query_params.get("lesson")  # a teacher-made lesson's link (pages.own_lesson opens it)
    if lesson is not None:
        ss["lesson_link_id"] = str(lesson)[:32]
    invite = st.query_params.get("staff")  # a class's staff invite link (pages.signin.invite_panel)
    if invite is not None:
        ss["staff_invite"] = str(invite)[:80]
    ss["url_problems"] = problems


def write_owner_cookie() -> None:
    """Set the owner cookie in the browser once (a tiny script; nothing user-supplied goes into it)."""
    owner = st.session_state.pop("_set_owner_cookie", None)
    if owner and _OWNER_RE.match(owner):
        st.html(f"<script>document.cookie='{OWNER_COOKIE}={owner}; path=/; max-age=31536000; SameSite=Strict';"
                "</script>", unsafe_allow_javascript=True)


def model_cfg() -> ModelConfig:
    """The chosen architecture fitted to the chosen dataset; raises ValueError with one sentence if impossible."""
    cfg = ModelConfig.from_dict(st.session_state["model_cfg"])
    return model_config_for(cfg, dataset_info(st.session_state["dataset"]))


def train_cfg() -> TrainConfig:
    """The dataset's recipe with the user's overrides; raises ValueError with one sentence if impossible."""
    return train_config_for(st.session_state["dataset"], **st.session_state.get("train", {}))


def sync_query() -> None:
    """Mirror the current setup into the URL, so a link opens the same configuration."""
    try:
        cfg, tr = ModelConfig.from_dict(st.session_state["model_cfg"]), train_cfg()
    except ValueError:
        return
    wanted = urlstate.to_query(st.session_state["dataset"], cfg, tr, st.session_state.get("kind", "twin"))
    controls = st.session_state.get("lesson_controls", {})
    wanted.update(urlstate.controls_to_query(controls.get("lock", ()), controls.get("hide", ())))
    if st.session_state.get("lang"):  # the reader's chosen language travels with the link (pages.lang)
        wanted["lang"] = st.session_state["lang"]
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def ensure_entry(page: str) -> None:
    """Run the entry script first when a page was opened on its own.

    With a folder named pages/ beside streamlit_app.py, Streamlit runs the first request of a fresh server
    as an old-style multipage app: a deep link such as /train?epochs=2 runs the page file without the entry
    script (no navigation, no session defaults). Then hop through the entry script, which comes back here.
    """
    if "_initialised" not in st.session_state:
        st.session_state["_deep_link"] = page
        st.switch_page("streamlit_app.py", query_params=st.query_params.to_dict())


# ----------------------------------------------------------------------------- the teacher's sign-in
def secrets_table(name: str) -> Any:
    """A table of Streamlit's secrets (None without secrets: load_if_toml_exists parses a file only where one exists,
    and only a parsed file starts Streamlit's polling file watcher)."""
    try:
        if not st.secrets.load_if_toml_exists():
            return None
        return st.secrets.get(name)
    except Exception:  # noqa: BLE001 - an unreadable secrets file means nothing configured, not a crash
        return None


def signin_rules() -> SignInRules:
    """The deployment's rules: who is a teacher or the admin once signed in, whether students sign in too."""
    table = secrets_table("explorer")
    return SignInRules.from_settings(os.environ, table.to_dict() if hasattr(table, "to_dict") else None)


def providers() -> list[str]:
    """The school sign-in's providers (st.login's names) configured under [auth] in secrets; [] when none is."""
    auth = secrets_table("auth")
    return oidc_providers(auth.to_dict() if hasattr(auth, "to_dict") else None)


def door() -> Door:
    """How teachers get in here: nothing, the password, the school's sign-in, or both (explorer.access.signin)."""
    return signin_rules().door(bool(providers()), bool(_password_setting()))


def signed_in() -> SignedIn | None:
    """The person signed in with the school's sign-in (st.user), or None (no sign-in configured, or not signed in)."""
    try:
        claims = st.user.to_dict()
    except Exception:  # noqa: BLE001 - no script context (a test building pages bare): nobody is signed in
        return None
    return signin_rules().identity(claims) if claims.get("is_logged_in") else None


def _password_setting() -> str | None:
    return _secrets_value("teacher_password") or os.environ.get("EXPLORER_TEACHER_PASSWORD") or None


def _secrets_value(name: str) -> str | None:
    value = secrets_table(name)
    return value if isinstance(value, str) and value else None


def teacher_password() -> str | None:
    """The teacher password from Streamlit secrets or EXPLORER_TEACHER_PASSWORD; None when there is none, or when
    the school's sign-in is configured and the password was not explicitly kept (EXPLORER_KEEP_PASSWORD=1)."""
    return _password_setting() if door() in (Door.PASSWORD, Door.BOTH) else None


def is_teacher() -> bool:
    """Whether this session typed the teacher password (teacher and admin: explorer.access.policy)."""
    return bool(st.session_state.get("teacher"))


@st.cache_resource
def teacher_gate() -> TeacherGate:
    """One password back-off per server process: wrong tries from every session count together too."""
    return TeacherGate()


def try_teacher_password(key: str) -> None:
    """A password box's on_change: runs once per submitted password (not on every rerun), then clears the box."""
    ss = st.session_state
    pw, ss[key] = ss.get(key), ""
    session = ss.setdefault("_teacher_session", secrets.token_hex(8))
    ok, wait = teacher_gate().attempt(pw, teacher_password(), session) if pw else (False, 0.0)
    ss["teacher"] = ok
    ss["_teacher_error"] = None if ok or not pw else refusal_sentence(wait)
    forget_class_roles()


def teacher_login(container: Any) -> None:
    """The sidebar's part for the admin (the password's holder, or the admin rule's): the job time budget for the
    whole server. Signing in is on the Class page (pages.signin), where a teacher looks and a student need not."""
    if not may(Action.SET_BUDGET):
        return
    container.caption(_("Teacher mode: you can stop and delete any job."))
    manager = job_manager()
    minutes = container.number_input(
        _("Time budget per job (minutes)"), MIN_JOB_BUDGET_S / 60, MAX_JOB_BUDGET_S / 60,
        value=manager.budget_s / 60, step=5.0, key="sidebar_job_budget",
        help=_("Jobs that start from now on stop when it runs out, their results kept; longer estimates are "
               "refused when they are submitted."))
    if minutes * 60 != manager.budget_s:
        manager.set_budget(minutes * 60)
