"""Runs: the history of experiments (the class gallery), newest page first and filtered, overlays of chosen runs,
CSV and weights downloads, resume, and the teacher's retention (delete by filter after a dry-run count)."""
import datetime as dt

import streamlit as st

from explorer.access.policy import Action
from explorer.data.registry import DATASETS
from explorer.figures.curves import run_series, training_curves
from explorer.i18n import N_, _, count, ngettext
from explorer.store.records import ACTIVE, STATUSES
from explorer.store.reports import export_csv, final_weights_bytes, history_rows
from explorer.store.retention import delete_by_filter, retention_count
from explorer.store.runstore import Filter
from explorer.text import clean
from explorer.training.experiments import KINDS
from pages.class_panel import predict_first
from pages.common import ensure_entry, may, results_gating, store
from pages.display import DATASET_NAMES, confirmed, plot
from pages.follow import class_paused
from pages.job_actions import act_and_rerun

ensure_entry("pages/runs.py")

PAGE_SIZE = 20  # experiments per page
ANY = "any"
# What the filters show for their values (the values stay: the code compares them).
WHOSE_LABELS = {"everyone's": N_("everyone's"), "mine": N_("mine")}
VALUE_LABELS = {ANY: N_("any"), "single": N_("single"), "twin": N_("twin"), "sweep": N_("sweep"),
                "compare": N_("compare"), "queued": N_("queued"), "running": N_("running"),
                "completed": N_("completed"), "stopped": N_("stopped"), "diverged": N_("diverged"),
                "failed": N_("failed"), "interrupted": N_("interrupted")}
# The history table's columns (explorer.store.reports.history_rows's keys) as the reader reads them.
COLUMNS = {"experiment": N_("experiment"), "kind": N_("kind"), "run": N_("run"), "dataset": N_("dataset"),
           "depth": N_("depth"), "shortcut": N_("shortcut"), "placement": N_("placement"), "status": N_("status"),
           "train error": N_("train error"), "test error": N_("test error"),  # not for translation
           "epochs": N_("epochs"),
           "duration": N_("duration"), "owner": N_("owner")}


def _value_label(v) -> str:
    if isinstance(v, str) and v in VALUE_LABELS:
        return _(VALUE_LABELS[v])
    return _(DATASET_NAMES[v]) if isinstance(v, str) and v in DATASET_NAMES else str(v)


def filters() -> Filter:
    """Whose, dataset, kind, status and depth; the page shows the newest experiments that match."""
    c = st.columns(5)
    whose = c[0].selectbox(_("Whose"), list(WHOSE_LABELS), key="runs_whose", format_func=lambda v: _(WHOSE_LABELS[v]))
    dataset = c[1].selectbox(_("Dataset"), [ANY, *DATASETS], key="runs_dataset", format_func=_value_label)
    kind = c[2].selectbox(_("Kind"), [ANY, *KINDS], key="runs_kind", format_func=_value_label)
    status = c[3].selectbox(_("Status"), [ANY, *STATUSES], key="runs_status", format_func=_value_label)
    depth = c[4].selectbox(_("Depth"), [ANY, 8, 14, 20, 32, 44, 56, 110, 164, 1202], key="runs_depth",
                           format_func=_value_label)
    pick = lambda v: None if v == ANY else v  # noqa: E731
    return Filter(kind="train", owner=st.session_state["owner"] if whose == "mine" else None, dataset=pick(dataset),
                  spec_kind=pick(kind), status=pick(status), depth=pick(depth))


def overlay(rows: list, experiments: dict) -> None:
    """Runs of this page's experiments on one chart (the rows of hidden experiments are not offered)."""
    offered = {r["key"] for r in rows}
    if any(k not in offered for k in st.session_state.get("runs_overlay", ())):  # a question opened, or a new page
        st.session_state["runs_overlay"] = [k for k in st.session_state["runs_overlay"] if k in offered]
    chosen = st.multiselect(_("Overlay runs"), [r["key"] for r in rows], key="runs_overlay",
                            format_func=lambda k: f"{k.split('/')[1]} ({k.split('/')[0]})",
                            help=_("Pick runs from the experiments on this page to compare their curves on one chart."))
    if not chosen:
        return
    s = store()
    series = []
    for key in chosen:
        exp_id, run_id = key.split("/", 1)
        run = experiments[exp_id].run(run_id) if exp_id in experiments else None
        if run is not None:
            series.append(run_series(run, s.read_metrics(exp_id, run_id)))
    plot(st, training_curves(series), key="runs_overlay_chart", listen=True)


def hidden_results(experiments: list) -> dict:
    """{experiment id: the explorer.classroom.gating.Gate hiding its results from this session}, with the box that
    says why above the table: the question to answer (one at a time), or the wait for the teacher's reveal."""
    gating = results_gating()
    hidden = {e.id: g for e in experiments if (g := gating.gate(e.spec_kind, e.owner)) is not None}
    gates = list(dict.fromkeys(hidden.values()))
    if gates:
        predict_first(gates[0], "runs")
    for gate in gates[1:]:
        st.caption(f"{gate.title} {gate.sentence}")
    return hidden


def manage(exp, hidden=None) -> None:
    """Downloads for everyone (built on demand) unless a class question hides its results; resume and delete for
    the owner or the teacher."""
    c = st.columns(4)
    csv_key = f"runs_csv_ready_{exp.id}"
    if hidden is not None:  # the explorer.classroom.gating.Gate hiding its results
        c[0].caption(_("No CSV or weights: {reason}.").format(reason=hidden.short))
    elif st.session_state.get(csv_key) is None:
        if c[0].button(_("Metrics (CSV)"), key=f"runs_csv_make_{exp.id}", help=_("Builds the CSV of every epoch.")):
            st.session_state[csv_key] = export_csv(store(), exp.id)
            st.rerun()
    else:
        c[0].download_button(_("Download CSV"), st.session_state[csv_key], file_name=f"{exp.id}.csv",
                             mime="text/csv", key=f"runs_csv_{exp.id}")
    finals = [] if hidden is not None else [r.id for r in exp.runs if r.final_weights]
    if finals:
        pick = c[1].selectbox(_("Weights"), finals, key=f"runs_wpick_{exp.id}", label_visibility="collapsed")
        data = final_weights_bytes(store(), exp, pick)
        if data is None:
            c[1].caption(_("These weights cannot be offered (missing, not a regular file, or too large)."))
        else:
            c[1].download_button(_("Weights (.pt)"), data, file_name=f"{exp.id}-{pick}.pt",
                                 key=f"runs_weights_{exp.id}")
    if exp.status == "interrupted" and may(Action.RESUME, exp.owner) \
            and c[2].button(_("Resume"), key=f"runs_resume_{exp.id}", help=_("Goes on from the last completed epoch."),
                            disabled=class_paused()):
        act_and_rerun(Action.RESUME, exp.id)
    if may(Action.DELETE, exp.owner) and confirmed(
            c[3], _("Delete"), f"runs_delete_{exp.id}", _("Delete experiment {id} and its files?").format(id=exp.id),
            help=_("Deletes the experiment and its files (a running job is stopped first).")):
        act_and_rerun(Action.DELETE, exp.id)


def other_jobs() -> None:
    """Jobs that are not training runs (loss landscapes), newest first: status, and delete for the owner or teacher."""
    jobs = store().page(Filter(kind="landscape"), limit=PAGE_SIZE, with_runs=False).items
    if not jobs:
        return
    st.subheader(_("Other jobs"))
    me = st.session_state["owner"]
    st.dataframe([{_("job"): j.id, _("kind"): j.kind, _("of experiment"): j.source or "?",
                   _("status"): _value_label(j.status),
                   _("owner"): _("you") if j.owner == me else _("someone else")} for j in jobs],
                 hide_index=True, key="runs_other_table")
    deletable = [j.id for j in jobs if may(Action.DELETE, j.owner)]
    if deletable:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        pick = c1.selectbox(_("Job"), deletable, key="runs_other_pick")
        if confirmed(c2, _("Delete job"), "runs_other_delete", _("Delete the job {id}?").format(id=pick)):
            act_and_rerun(Action.DELETE, pick)


def retention() -> None:
    """Teacher only: delete finished experiments older than a date (or one owner's), after counting them."""
    with st.expander(_("Retention (teacher): delete old experiments")):
        c = st.columns(2)
        before = c[0].date_input(_("Finished experiments created before"), key="runs_ret_before",
                                 value=dt.date.today() - dt.timedelta(days=90))
        owner = c[1].text_input(_("Only this owner id (optional)"), key="runs_ret_owner", max_chars=64).strip() or None
        filt = Filter(kind=None, owner=owner, before=dt.datetime.combine(before, dt.time()).timestamp())
        if st.button(_("Count"), key="runs_ret_count"):
            st.session_state["runs_ret_counted"] = (filt, retention_count(store(), filt))
        counted = st.session_state.get("runs_ret_counted")
        if counted and counted[0] == filt:
            st.caption(ngettext("{n} finished experiment matches (queued and running jobs are never deleted here).",
                                "{n} finished experiments match (queued and running jobs are never deleted here).",
                                counted[1]).format(n=count(counted[1])))
            if counted[1] and st.button(ngettext("Delete {n} experiment", "Delete {n} experiments", counted[1])
                                        .format(n=count(counted[1])), key="runs_ret_delete"):
                try:
                    deleted = delete_by_filter(store(), filt, expected=counted[1])
                except ValueError as exc:
                    st.error(str(exc))
                else:
                    st.session_state.pop("runs_ret_counted")
                    st.toast(ngettext("Deleted {n} experiment.", "Deleted {n} experiments.", deleted)
                             .format(n=count(deleted)))


st.title(_("Runs"))
filt = filters()
page_no = int(st.session_state.get("runs_page", 1))
page = store().page(filt, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
if not page.items and page_no > 1:  # the filters changed and this page no longer exists
    st.session_state["runs_page"] = 1
    page = store().page(filt, limit=PAGE_SIZE)
if page.skipped:
    st.caption(ngettext("{n} damaged record was skipped.", "{n} damaged records were skipped.", page.skipped)
               .format(n=count(page.skipped)))
if not page.items:
    st.info(_("No experiments match. Start one on the Train page, or press Reproduce Figure 6 on Home.")
            if filt == Filter(kind="train") else _("No experiments match these filters."))
else:
    pages = max(1, -(-page.total // PAGE_SIZE))
    st.number_input(ngettext("Page (of {pages}; {n} experiment, newest first)",
                             "Page (of {pages}; {n} experiments, newest first)", page.total)
                    .format(pages=count(pages), n=count(page.total)), 1, pages, key="runs_page")
    hidden = hidden_results(page.items)
    rows = [dict(r, **{"train error": hidden[r["experiment"]].short,  # not for translation
                       "test error": hidden[r["experiment"]].short})  # not for translation
            if r["experiment"] in hidden else r for r in history_rows(page.items, st.session_state["owner"])]
    st.dataframe([{_(COLUMNS[k]) if k in COLUMNS else k: _value_label(v) if k in ("kind", "status", "dataset") else v
                   for k, v in r.items() if k != "key"} for r in rows], hide_index=True, key="runs_table")
    by_id = {e.id: e for e in page.items}
    overlay([r for r in rows if r["experiment"] not in hidden], by_id)
    st.header(_("Manage"))  # h2 under the page title (heading order)
    labels = {e.id: f"{e.id} · {_value_label(e.spec_kind)} · {clean(', '.join(r.name for r in e.runs))} · "
                    f"{_value_label(e.status)}" for e in page.items}
    exp_id = st.selectbox(_("Experiment"), list(labels), format_func=labels.get, key="runs_manage_pick")
    exp = by_id[exp_id]
    if exp.status in ACTIVE and st.button(_("Watch it live"), key="runs_watch"):
        st.session_state["watch"] = exp_id
        st.switch_page("pages/train.py")
    manage(exp, hidden.get(exp.id))
other_jobs()
if may(Action.RETENTION):
    retention()
