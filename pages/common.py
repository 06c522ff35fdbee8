"""What every page shares: session state, the owner id, the job manager, the URL mirror.

State is set up once per session by `init_session()` (called from streamlit_app.py); pages read it.
Cross-page choices live under non-widget keys: "dataset", "model_cfg" (a ModelConfig dict), "kind",
"train" (recipe overrides), "owner", "watch" (the experiment the Train page follows).
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import streamlit as st

from explorer import urlstate
from explorer.data.datasets import dataset_info, model_config_for
from explorer.jobs.manager import JobManager
from explorer.jobs.status import human_duration
from explorer.jobs.teacher import TeacherGate
from explorer.nets.caps import MAX_JOB_BUDGET_S, MIN_JOB_BUDGET_S
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
def classroom():
    """One explorer.classroom.Classroom per server process, on the run store's database."""
    from explorer.classroom.classes import Classroom
    return Classroom(store())


def my_class():
    """(ClassInfo, Member) of the class this session's owner is in, or None (one indexed query)."""
    return classroom().membership(st.session_state["owner"])


@st.cache_data(ttl=60, show_spinner=False)
def _pending_import(root: str) -> int:
    from explorer.store.importer import pending_import
    return pending_import(store())


def store_notice() -> None:
    """One sentence when the run database cannot be used, or when the runs folder holds a file store to import."""
    from explorer.store.db import SchemaMismatch
    try:
        root = store().root
    except SchemaMismatch as exc:
        st.error(str(exc))
        st.stop()
    pending = _pending_import(str(root))
    if pending:
        st.info(f"This runs folder holds {pending} experiments saved before the run database; run "
                f"`python -m explorer import-store {root}` once to see them here.")


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
        ss["owner"] = _owner_id()
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
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def teacher_password() -> str | None:
    """The teacher password from Streamlit secrets or EXPLORER_TEACHER_PASSWORD (None: no teacher mode)."""
    secret = None
    # Touch st.secrets only when a secrets file exists: the first touch starts a polling file watcher.
    from streamlit import config as st_config
    if any(Path(p).expanduser().is_file() for p in st_config.get_option("secrets.files")):
        try:
            secret = st.secrets.get("teacher_password")
        except Exception:  # noqa: BLE001 - an unreadable secrets file means no teacher mode, not a crash
            secret = None
    return secret or os.environ.get("EXPLORER_TEACHER_PASSWORD") or None


def is_teacher() -> bool:
    return bool(st.session_state.get("teacher"))


@st.cache_resource
def teacher_gate() -> TeacherGate:
    """One password back-off per server process: wrong tries from every session count together too."""
    return TeacherGate()


def _try_teacher_password() -> None:
    """Runs once per submitted password (not on every rerun), then clears the box."""
    ss = st.session_state
    pw, ss["sidebar_teacher_pw"] = ss.get("sidebar_teacher_pw"), ""
    session = ss.setdefault("_teacher_session", secrets.token_hex(8))
    ok, wait = teacher_gate().attempt(pw, teacher_password(), session) if pw else (False, 0.0)
    ss["teacher"] = ok
    ss["_teacher_error"] = None if ok or not pw else (
        f"That password is not the teacher's; try again in {human_duration(wait)}." if wait > 0
        else "That password is not the teacher's.")


def teacher_login(container) -> None:
    """A small password box in the sidebar that unlocks stop/delete on every job, and the job time budget."""
    if not teacher_password():
        return
    if is_teacher():
        container.caption("Teacher mode: you can stop and delete any job.")
        manager = job_manager()
        minutes = container.number_input(
            "Time budget per job (minutes)", MIN_JOB_BUDGET_S / 60, MAX_JOB_BUDGET_S / 60,
            value=manager.budget_s / 60, step=5.0, key="sidebar_job_budget",
            help="Jobs that start from now on stop when it runs out, their results kept; longer estimates are "
                 "refused when they are submitted.")
        if minutes * 60 != manager.budget_s:
            manager.set_budget(minutes * 60)
        return
    container.text_input("Teacher password", type="password", key="sidebar_teacher_pw",
                         on_change=_try_teacher_password)
    if st.session_state.get("_teacher_error"):
        container.error(st.session_state["_teacher_error"])


def plain_markdown(text: str) -> str:
    """Text from a user (a link's or a file's values) as one markdown code span: shown exactly as written, with no
    link, autolink, image, colour or maths (markdown, and the autolinks escaping cannot stop, skip code spans).

    The fence is one backtick longer than the longest run inside, as CommonMark asks; newlines become spaces.
    """
    text = str(text).replace("\r", " ").replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def show_url_problems() -> None:
    """The link's dropped or clamped values, one warning each, its quoted values shown as plain text."""
    for problem in st.session_state.pop("url_problems", []):
        st.warning(plain_markdown(problem))


def fmt_int(n) -> str:
    return f"{int(n):,}" if n is not None else "–"


def fmt_madds(n) -> str:
    return f"{n / 1e6:,.2f} M" if n is not None else "–"


def start_experiment(spec) -> str | None:
    """Queue an experiment for this session's owner (or attach to an identical one); returns its id.

    Shows one sentence and returns None when the job manager refuses (limits).
    Inside a class, the experiment gets the student's own seed (explorer.classroom.seeded_spec), so the class's
    Figure 6 has one run per student, and it is recorded as the class's.
    """
    from explorer.classroom.classes import seeded_spec, student_seed
    from explorer.jobs.manager import JobError
    owner, member = st.session_state["owner"], my_class()
    if member is not None:
        spec = seeded_spec(spec, member[0].id, owner)
    from explorer.jobs.request import JobRequest
    request = JobRequest.training(spec, owner, class_id=member[0].id if member is not None else None)
    try:
        exp_id, attached = job_manager().submit(request)
    except JobError as exc:
        st.error(str(exc))
        return None
    if member is not None:
        classroom().record_job(member[0].id, owner, exp_id, student_seed(member[0].id, owner))
    st.session_state["watch"] = exp_id
    st.session_state["attached"] = attached
    return exp_id


def figure6_spec():
    """The paper's Figure 6 in miniature (explorer.training.experiments.figure6) on the chosen data and recipe."""
    from explorer.data.config import DataConfig
    from explorer.training.experiments import figure6
    return figure6(DataConfig(name=st.session_state.get("dataset", "digits")), train_cfg())


def show_job_status(status) -> None:
    """Draw an explorer.jobs.status.JobStatus: a progress bar while running, else one coloured sentence."""
    if status.level == "progress":
        st.progress(status.fraction or 0.0, text=status.text)
    else:
        {"info": st.info, "success": st.success, "warning": st.warning, "error": st.error}[status.level](status.text)


def ensure_entry(page: str) -> None:
    """Run the entry script first when a page was opened on its own.

    With a folder named pages/ beside streamlit_app.py, Streamlit runs the first request of a fresh server
    as an old-style multipage app: a deep link such as /train?epochs=2 runs the page file without the entry
    script (no navigation, no session defaults). Then hop through the entry script, which comes back here.
    """
    if "_initialised" not in st.session_state:
        st.session_state["_deep_link"] = page
        st.switch_page("streamlit_app.py", query_params=st.query_params.to_dict())


# ----------------------------------------------------------------------------- the classroom
def join_panel() -> None:
    """A class link (?join=CODE) asks for a display name and joins; a closed or unknown class gets one sentence."""
    if "join_problem" in st.session_state:
        st.warning(st.session_state.pop("join_problem"))

    code = st.session_state.get("join_code")
    if not code:
        return
    room = classroom()
    info = room.find(code)
    if info is None or not info.is_open:
        st.warning("This class has been closed by its teacher, so it takes no new members." if info is not None
                   else "There is no class with that code; check it with your teacher.")
        st.session_state.pop("join_code", None)
        return
    mine = my_class()
    if mine is not None and mine[0].id == info.id:
        st.session_state.pop("join_code", None)
        return
    with st.container(border=True):
        st.markdown(f"**Join the class {info.name!r}** (code {info.code}). Your name is shown to the teacher only.")
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        c1.text_input("Your name (or leave empty to be \"Student N\")", max_chars=40, key="sidebar_join_name")
        c2.button("Join the class", key="sidebar_join", type="primary", on_click=_join, args=(info.code,))


def _join(code: str) -> None:
    """The Join button's callback: membership before the page runs, so it already shows the class."""
    from explorer.classroom.records import ClassError
    try:
        classroom().join(code, st.session_state["owner"], st.session_state.get("sidebar_join_name", ""))
    except ClassError as exc:
        st.session_state["join_problem"] = str(exc)
    st.session_state.pop("join_code", None)


def class_caption() -> None:
    """Above every page: which class this session is in, as whom, and a button to leave it."""
    mine = my_class()
    if mine is None:
        if "class_notice" in st.session_state:
            st.info(st.session_state.pop("class_notice"))
        return
    c = st.columns([5, 1], vertical_alignment="center")
    c[0].caption(f"In class {mine[0].name} ({mine[0].code}) as {mine[1].name}.")
    c[1].button("Leave the class", key="member_leave", on_click=_leave, args=(mine[0].id,),
                help="You become a lone user again; the class's code lets you join again while it is open.")


def _leave(class_id: str) -> None:
    classroom().leave(class_id, st.session_state["owner"])
    st.session_state["class_notice"] = "You left the class; your experiments are still yours."


PROJECTOR_CSS = """<style>
.stApp [data-testid="stMarkdownContainer"] p, .stApp [data-testid="stMarkdownContainer"] li,
.stApp [data-testid="stCaptionContainer"], .stApp label p, .stApp button p { font-size: 1.45rem !important; }
.stApp h1 { font-size: 3.4rem !important; } .stApp h2 { font-size: 2.6rem !important; }
.stApp h3 { font-size: 2.1rem !important; }
</style>"""
PROJECTOR_SCALE = 1.6


def projector_toggle(container) -> None:
    """A toggle that enlarges text, chart fonts and line widths for a projected screen."""
    ss = st.session_state
    ss.setdefault("sidebar_projector", bool(ss.get("projector")))
    container.toggle("Projector mode", key="sidebar_projector", help="Larger text, chart fonts and lines.",
                     on_change=lambda: ss.update(projector=bool(ss.get("sidebar_projector"))))
    if ss.get("projector"):
        st.html(PROJECTOR_CSS)


def chart_scale() -> float:
    """1.6 in projector mode (kept under a plain key, so it holds on every page), else 1."""
    return PROJECTOR_SCALE if st.session_state.get("projector") else 1.0


def plot(container, fig, key: str, **kw) -> None:
    """Draw a plotly figure, enlarged in projector mode (explorer.figures.projected); kw go to st.plotly_chart."""
    from explorer.figures.classroom import projected
    container.plotly_chart(projected(fig, chart_scale()), key=key, **kw)


def choose_nets(prefix: str) -> tuple:
    """An experiment picker and a plain/residual pair (Inspect, Why it works); the shipped twin first.

    Returns:
        (experiment record or None, {net name: (exp id, run id)}); widgets keyed `<prefix>_...`.
    """
    from explorer.store.checkpoints import explainable_runs
    from explorer.training.experiments import plain_residual_pairs
    shipped = _shipped_id(prefix)
    sources = {e.exp_id: e for e in explainable_runs(store())}
    if not sources:
        st.info("No finished experiment has trained weights yet; train one on the Train page.")
        return None, {}
    ids = list(sources)
    label = {i: ("Shipped digits twin (plain-20, resnet-20)" if i == shipped else sources[i].label) for i in ids}
    exp_id = st.selectbox("Experiment", ids, index=ids.index(shipped) if shipped in ids else 0,
                          format_func=label.get, key=f"{prefix}_exp")
    exp = store().load_experiment(exp_id)
    runs = dict(sources[exp_id].runs)  # run id -> name
    pair = next(((p, r) for p, r in plain_residual_pairs(exp) if p in runs and r in runs),
                (list(runs)[0], list(runs)[-1]))
    left, right = st.columns(2)
    plain = left.selectbox("Plain net", list(runs), index=list(runs).index(pair[0]), format_func=runs.get,
                           key=f"{prefix}_plain_{exp_id}")
    residual = right.selectbox("Residual net", list(runs), index=list(runs).index(pair[1]), format_func=runs.get,
                               key=f"{prefix}_residual_{exp_id}")
    return exp, {runs[rid]: (exp_id, rid) for rid in dict.fromkeys([plain, residual])}


def _shipped_id(prefix: str):
    """The shipped digits twin's experiment id, imported into the store once per session (None when missing)."""
    from explorer.store.shipped import ensure_shipped_in_store
    ss, key = st.session_state, f"{prefix}_shipped"
    if ss.get(key) is None or store().load_experiment(ss[key]) is None:
        try:
            ss[key] = ensure_shipped_in_store(store())
        except FileNotFoundError as exc:
            st.caption(str(exc))
            ss[key] = None
    return ss[key]


def guard_view(view, *args) -> None:
    """Draw one view; a missing dataset or unreadable weights becomes one sentence instead of a traceback."""
    try:
        view(*args)
    except (ValueError, RuntimeError, OSError) as exc:
        st.error(str(exc).splitlines()[0] if str(exc) else "This view could not be drawn for these nets.")

def side_job_status(job, what: str) -> None:
    """A landscape job's place in line, progress or ending (nothing when it simply finished)."""
    from explorer.jobs.status import job_status
    position = job_manager().queued_wait(job.id) if job.status == "queued" else None
    if job.status != "completed":
        show_job_status(job_status(job, position, what=what))


def side_job_live(job_id: str, what: str, cancel_key: str) -> None:
    """Progress and Cancel of a landscape job, redrawn from the run store while it is active (pages.live)."""
    from pages.live import live_fragment
    live_fragment(_side_job_live)(job_id, what, cancel_key)


def _side_job_live(job_id: str, what: str, cancel_key: str) -> None:
    from explorer.store.records import ACTIVE
    job = store().load_experiment(job_id)
    if job is None:
        st.warning("This landscape job is gone (deleted?).")
        return
    side_job_status(job, what)
    owner = st.session_state["owner"]
    if job.status in ACTIVE and (job.owner == owner or is_teacher()):
        if st.button("Cancel", key=cancel_key, help="Stops the job at its next grid point."):
            job_manager().stop(job_id, owner, teacher=is_teacher())
            st.toast("Cancelling…")
    if job.status not in ACTIVE:
        from pages.live import stop_watching
        stop_watching()
        st.rerun()  # the whole page redraws once, now with the results
