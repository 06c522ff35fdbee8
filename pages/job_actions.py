"""Job actions every page shares: start an experiment, show where a job stands, stop, delete or resume one, and
the landscape-job flow of Inspect and Why it works. Who may act is the access policy's (pages.common.may)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import streamlit as st

from explorer.access.policy import Action
from explorer.classroom.pause import PAUSED_SENTENCE
from explorer.i18n import _, count
from explorer.jobs.landscape import landscape_request
from explorer.jobs.manager import JobError
from explorer.jobs.request import JobRequest, LandscapeSettings
from explorer.jobs.status import JobStatus, job_status
from explorer.store.records import ACTIVE, STATUSES, Experiment
from explorer.text import plain_text
from pages.common import actor, classroom, client_id, job_manager, may, store, train_cfg
from pages.follow import class_paused, pause_note


def start_experiment(spec) -> str | None:
    """Queue an experiment for this session's owner (or attach to an identical one); returns its id.

    Shows one sentence and returns None when the job manager refuses (limits).
    Inside a class, the experiment gets the student's own seed (explorer.classroom.Classroom.member_spec), so the
    class's Figure 6 has one run per student, and it is recorded as the class's.
    """
    owner = st.session_state["owner"]
    if class_paused():  # the buttons are disabled too; and the job manager would hold the job (classroom.pause)
        st.info(_(PAUSED_SENTENCE))
        return None
    spec, class_id = classroom().member_spec(spec, owner)
    try:
        exp_id, attached = job_manager().submit(JobRequest.training(spec, owner, class_id=class_id,
                                                                    client=client_id()))
    except JobError as exc:
        st.error(str(exc))
        return None
    if class_id is not None:
        classroom().record_member_job(class_id, owner, exp_id)
    st.session_state["watch"] = exp_id
    st.session_state["attached"] = attached
    return exp_id


def figure6_spec():
    """The paper's Figure 6 in miniature (explorer.training.experiments.figure6) on the chosen data and recipe."""
    from explorer.data.config import DataConfig
    from explorer.training.experiments import figure6
    return figure6(DataConfig(name=st.session_state.get("dataset", "digits")), train_cfg())


def show_job_status(status: JobStatus) -> None:
    """Draw an explorer.jobs.status.JobStatus: a progress bar while running, else one coloured sentence."""
    if status.level == "progress":
        st.progress(status.fraction or 0.0, text=plain_text(status.text))  # a failure may quote a name
    else:
        draw = {"info": st.info, "success": st.success, "warning": st.warning, "error": st.error}[status.level]
        draw(plain_text(status.text))


# ----------------------------------------------------------------------------- acting on a job
def act(action: Action, exp_id: str, class_id: str | None = None) -> bool:
    """Stop, delete or resume a job as this session (the job manager asks the policy again, with the class's roles
    where the job was started in `class_id`); a refusal is shown as its one sentence. Returns True when taken."""
    from explorer.classroom.staff import job_classes
    manager, owner = job_manager(), st.session_state["owner"]
    do = {Action.STOP: manager.stop, Action.DELETE: manager.delete, Action.RESUME: manager.resume}[action]
    if class_id is not None and class_id not in job_classes(classroom(), exp_id):
        class_id = None  # a class role counts toward that class's own jobs only
    try:
        do(exp_id, owner, actor=actor(), class_id=class_id)
    except JobError as exc:
        st.error(str(exc))
        return False
    return True


def act_and_rerun(action: Action, exp_id: str) -> None:
    """act(), then the page runs again to show the job's new state."""
    if act(action, exp_id):
        st.rerun()


# ----------------------------------------------------------------------------- side jobs (landscapes)
def side_job_status(job: Experiment, what: str) -> None:
    """A landscape job's place in line, progress or ending (nothing when it simply finished)."""
    position = job_manager().queued_wait(job.id) if job.status == "queued" else None
    if job.status != "completed":
        show_job_status(job_status(job, position, what=what, left=job_manager().time_left(job)))


def side_job_live(job_id: str, what: str, cancel_key: str) -> None:
    """Progress and Cancel of a landscape job, redrawn from the run store while it is active (pages.live)."""
    from pages.live import live_fragment
    live_fragment(_side_job_live)(job_id, what, cancel_key)


def _side_job_live(job_id: str, what: str, cancel_key: str) -> None:
    job = store().load_experiment(job_id)
    if job is None:
        st.warning(_("This landscape job is gone (deleted?)."))
        return
    side_job_status(job, what)
    if job.status in ACTIVE and may(Action.STOP, job.owner) \
            and st.button(_("Cancel"), key=cancel_key, help=_("Stops the job at its next grid point.")) \
            and act(Action.STOP, job_id):
        st.toast(_("Cancelling…"))
    if job.status not in ACTIVE:
        from pages.live import stop_watching
        stop_watching()
        st.rerun()  # the whole page redraws once, now with the results


def landscape_job(spec: LandscapeSettings, what: str, key: str, results: Callable[[str], None]) -> None:
    """The landscape job a spec asks for (explorer.jobs.landscape), one flow for Inspect and Why it works.

    While it runs: its progress and a Cancel button (`<key>_cancel`), redrawn live. Once it ended: its ending and
    `results(job id)`. Until one has completed: a Start button (`<key>_start`); an identical job already queued,
    running or done is attached to, never run twice.
    """
    request = landscape_request(store(), spec, owner=st.session_state["owner"])
    job = store().find_by_hash(request.spec_hash(), statuses=STATUSES)
    if job is not None and job.status in ACTIVE:
        side_job_live(job.id, what, f"{key}_cancel")
        return
    if job is not None:
        side_job_status(job, what)
        results(job.id)
    if (job is None or job.status != "completed") and st.button(
            _("Start"), key=f"{key}_start", type="primary", disabled=pause_note(),
            help=_("{steps}×{steps} points per net, on {n} training images.").format(
                steps=spec.steps, n=count(spec.subset))):
        try:
            job_manager().submit(dataclasses.replace(request, client=client_id()))
        except JobError as exc:
            st.error(str(exc))
        else:
            st.rerun()
