"""Runs: the history of experiments (the class gallery), overlays of chosen runs, CSV and weights downloads."""

import streamlit as st

from explorer import figures as charts
from explorer.jobs.manager import JobError
from explorer.store.reports import history_rows
from explorer.store.runstore import ACTIVE
from pages.common import ensure_entry, is_teacher, job_manager, store

ensure_entry("pages/runs.py")


def overlay(rows: list, experiments: dict) -> None:
    chosen = st.multiselect("Overlay runs", [r["key"] for r in rows], key="runs_overlay",
                            format_func=lambda k: f"{k.split('/')[1]} ({k.split('/')[0]})",
                            help="Pick runs from any experiments to compare their curves on one chart.")
    if not chosen:
        return
    s = store()
    series = []
    for key in chosen:
        exp_id, run_id = key.split("/", 1)
        run = next((r for r in experiments[exp_id]["runs"] if r["id"] == run_id), None)
        if run is not None:
            series.append(charts.run_series(run, s.read_metrics(exp_id, run_id)))
    st.plotly_chart(charts.training_curves(series), key="runs_overlay_chart")


def manage(exp: dict) -> None:
    """Downloads for everyone; delete for the owner or the teacher."""
    s = store()
    c = st.columns(3)
    c[0].download_button("Metrics (CSV)", s.export_csv(exp["id"]), file_name=f"{exp['id']}.csv",
                         mime="text/csv", key=f"runs_csv_{exp['id']}")
    finals = [r for r in exp["runs"] if s.weights_path(exp["id"], r["id"]).exists()]
    if finals:
        pick = c[1].selectbox("Weights", [r["id"] for r in finals], key=f"runs_wpick_{exp['id']}",
                              label_visibility="collapsed")
        c[1].download_button("Weights (.pt)", s.weights_path(exp["id"], pick).read_bytes(),
                             file_name=f"{exp['id']}-{pick}.pt", key=f"runs_weights_{exp['id']}")
    mine = exp.get("owner") == st.session_state["owner"]
    if mine or is_teacher():
        if c[2].button("Delete", key=f"runs_delete_{exp['id']}",
                       help="Deletes the experiment and its files (a running job is stopped first)."):
            try:
                job_manager().delete(exp["id"], st.session_state["owner"], teacher=is_teacher())
            except JobError as exc:
                st.error(str(exc))
            else:
                st.rerun()


def other_jobs(jobs: list) -> None:
    """Jobs that are not training runs (loss landscapes): status, and delete for the owner or the teacher."""
    if not jobs:
        return
    st.subheader("Other jobs")
    me = st.session_state["owner"]
    st.dataframe([{"job": j["id"], "kind": j.get("kind"), "of experiment": (j["spec"].get("source") or "?"),
                   "status": j["status"], "owner": "you" if j.get("owner") == me else "someone else"}
                  for j in jobs], hide_index=True, key="runs_other_table")
    mine = [j["id"] for j in jobs if j.get("owner") == me or is_teacher()]
    if mine:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        pick = c1.selectbox("Job", mine, key="runs_other_pick")
        if c2.button("Delete job", key="runs_other_delete"):
            try:
                job_manager().delete(pick, st.session_state["owner"], teacher=is_teacher())
            except JobError as exc:
                st.error(str(exc))
            else:
                st.rerun()


st.title("Runs")
everything = store().list_experiments()
experiments = [e for e in everything if e.get("kind", "train") == "train"]
others = [e for e in everything if e.get("kind", "train") != "train"]
if not experiments:
    st.info("No experiments yet. Start one on the Train page, or press Reproduce Figure 6 on Home.")
    other_jobs(others)
    st.stop()
only_mine = st.toggle("Only my experiments", key="runs_only_mine")
if only_mine:
    experiments = [e for e in experiments if e.get("owner") == st.session_state["owner"]]
rows = history_rows(experiments, st.session_state["owner"])
st.dataframe([{k: v for k, v in r.items() if k != "key"} for r in rows], hide_index=True, key="runs_table")
overlay(rows, {e["id"]: e for e in experiments})
st.subheader("Manage")
labels = {e["id"]: f"{e['id']} · {e['spec'].get('kind')} · {', '.join(r['name'] for r in e['runs'])} · {e['status']}"
          for e in experiments}
exp_id = st.selectbox("Experiment", list(labels), format_func=labels.get, key="runs_manage_pick")
exp = next(e for e in experiments if e["id"] == exp_id)
if exp["status"] in ACTIVE and st.button("Watch it live", key="runs_watch"):
    st.session_state["watch"] = exp_id
    st.switch_page("pages/train.py")
manage(exp)
other_jobs(others)
