"""What watching costs the app server: N browser sessions watching one running Figure 6 job (issue 13).

A real Figure 6 in miniature (digits, the default recipe) is trained first into a scratch store; then the app's
store gets a *running* copy of it (the same spec, so "Reproduce Figure 6" attaches to it; a stand-in process is
its worker) whose metric records are replayed at the pace they were recorded (the engine's elapsed time), so the
watchers see the curves grow as a class would, while no training competes for the cores. N Chromium pages
(one browser, each its own context: its own session) open Home and press "Reproduce Figure 6", which puts
each on the Train page's live view of that one job.

To measure the server without starving it on a small machine, the Streamlit server is pinned to CPU 0 and this
script, Chromium and the replay to the other CPUs. Over a window while all N are watching:
- server cores: the server process's CPU seconds (user + system, /proc) per second of wall time;
- live redraws: the Train page's fragment reruns, counted as the messages the pages send to the server
  (a fragment's timer asks the server for each rerun; nothing else is sent while a page only watches);
- server CPU per redraw, and from it the cost of 30 watchers each redrawn once a second.

    python benchmarks/bench_watchers.py [--watchers 1,10,30] [--window 30] [--out docs/benchmarks_watchers.md]
                                        [--source RUNS_DIR_WITH_A_FINISHED_FIGURE6]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_app import _cpu_s  # noqa: E402
from benchmarks.machine import cpu_name  # noqa: E402
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, launch_app, stop_app  # noqa: E402

TARGET_CORES_30 = 0.3  # issue 13: 30 browser sessions watching one job cost the server at most 0.3 core


def _figure6():
    from explorer.data.config import DataConfig
    from explorer.training.experiments import figure6
    from explorer.training.recipes import train_config_for
    return figure6(DataConfig("digits"), train_config_for("digits"))


def train_source(folder: pathlib.Path) -> tuple:
    """A real Figure 6 run: (store, experiment id)."""
    from explorer.jobs.worker import run_job
    from explorer.store.runstore import RunStore
    spec = _figure6()
    store = RunStore(folder)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models])
    run_job(store, exp_id)
    return store, exp_id


def running_copy(store, source, source_id: str) -> tuple:
    """The source's spec as a running experiment (spec hash as the app computes it), no metrics yet."""
    import atexit

    from explorer.store.runstore import worker_handle
    spec = _figure6()
    runs = [{"name": n, "model": c.to_dict()} for n, c in spec.models]
    exp_id = store.create_experiment(spec.to_dict(), runs, owner="bench-teacher", spec_hash=spec.spec_hash())
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(7200)", "explorer", "worker"])
    atexit.register(stand_in.kill)
    store.update_experiment(exp_id, status="running", worker=worker_handle(stand_in.pid), started=time.time())
    for r in runs:
        store.update_run(exp_id, r["name"], status="running")
    records = []  # (elapsed, run, record) of every run, in recording order
    for run in source.load_experiment(source_id).runs:
        last = 0.0
        for m in source.read_metrics(source_id, run.id):
            d = m.to_dict() if hasattr(m, "to_dict") else dict(m)
            last = d.get("elapsed") or last
            records.append((last, run.name, d))
    records.sort(key=lambda t: t[0])
    return exp_id, records


def replay(store, exp_id: str, records: list, stop: threading.Event, speed: float = 1.0) -> None:
    """Append the records at `speed` times the pace they were made, until they run out or `stop` is set."""
    t0, i = time.monotonic(), 0
    total = max(1, len(records))
    while not stop.is_set() and i < total:
        due = records[i][0] / speed
        wait = due - (time.monotonic() - t0)
        if wait > 0:
            stop.wait(min(wait, 0.5))
            continue
        batch = {}
        while i < total and records[i][0] / speed <= time.monotonic() - t0:
            batch.setdefault(records[i][1], []).append(records[i][2])
            i += 1
        for run, recs in batch.items():
            store.append_metrics(exp_id, run, recs)
        store.write_progress(exp_id, {"step": i, "total_steps": total, "eta": (records[-1][0] - due)})


def _pin(pid: int, cpus: set) -> None:
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), cpus)


def measure(browser, port: int, server_pid: int, n: int, window_s: float) -> dict:
    """N sessions watching; server CPU and the pages' messages over the window."""
    sent, pages, contexts = [0], [], []

    def count(_frame):
        sent[0] += 1

    for _i in range(n):
        ctx = browser.new_context(viewport={"width": 1280, "height": 1400})
        page = ctx.new_page()
        page.on("websocket", lambda ws: ws.on("framesent", count))
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        page.get_by_role("button", name="Reproduce Figure 6").click(timeout=120_000)
        contexts.append(ctx)
        pages.append(page)
    for page in pages:
        page.locator(".st-key-train_curves .js-plotly-plot").first.wait_for(timeout=180_000)
    pages[0].wait_for_timeout(3000)  # every page settled into its 1 s rhythm (waiting in Playwright delivers events)
    cpu0, sent0, t0 = _cpu_s([server_pid]), sent[0], time.monotonic()
    pages[0].wait_for_timeout(window_s * 1000)
    cpu1, sent1, t1 = _cpu_s([server_pid]), sent[0], time.monotonic()
    for ctx in contexts:
        ctx.close()
    wall, reruns = t1 - t0, sent1 - sent0
    cores = (cpu1 - cpu0) / wall
    return {"watchers": n, "wall": wall, "server_cores": cores, "reruns_per_s": reruns / wall,
            "ms_per_rerun": 1000 * (cpu1 - cpu0) / max(1, reruns)}


def render(rows: list, train_s: float, idle: float, load: tuple) -> str:
    per = statistics.median(r["ms_per_rerun"] for r in rows if r["watchers"] > 1) if len(rows) > 1 else \
        rows[0]["ms_per_rerun"]
    most = max(rows, key=lambda r: r["watchers"])
    lines = [
        "# Watching one job: the server's cost per browser",
        "",
        f"`python benchmarks/bench_watchers.py` on {cpu_name()}, {os.cpu_count()} cores; load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after. The Streamlit server pinned to CPU 0, Chromium and the rest "
        "to the other CPU(s). The watched job: a real Figure 6 in miniature (digits, 4 nets, default recipe; "
        f"it trained in {train_s:.0f} s here), its records replayed into a running copy at a third of their "
        "recorded pace (so the curves still grow while 30 pages open).",
        "",
        "| watchers | server cores | live redraws / s (all pages) | seconds between one page's redraws | "
        "server CPU per redraw |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        every = r["watchers"] / r["reruns_per_s"] if r["reruns_per_s"] else float("nan")
        lines.append(f"| {r['watchers']} | {r['server_cores']:.3f} | {r['reruns_per_s']:.1f} | {every:.1f} | "
                     f"{r['ms_per_rerun']:.1f} ms |")
    lines += [
        "",
        f"Server idle with the job running and nobody watching: {idle:.3f} cores. With {most['watchers']} "
        f"watchers the server spent **{most['server_cores']:.2f} cores** (target for 30: ≤ {TARGET_CORES_30}). "
        f"Had each of 30 pages redrawn once a second: about 30 × {per:.1f} ms + idle = "
        f"{30 * per / 1000 + idle:.2f} cores.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--watchers", default="1,10,30")
    p.add_argument("--window", type=float, default=30.0)
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks_watchers.md"))
    p.add_argument("--source", help="a runs folder holding a finished Figure 6 (from an earlier run) to replay")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from explorer.store.runstore import RunStore
    load0 = os.getloadavg()[0]
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-watchers-"))
    t = time.monotonic()
    if args.source:
        source = RunStore(args.source)
        source_id = source.list_experiments()[0].id
        train_s = max((m.elapsed or 0.0) for r in source.load_experiment(source_id).runs
                      for m in source.read_metrics(source_id, r.id, kind="epoch"))
    else:
        source, source_id = train_source(work / "source")
        train_s = time.monotonic() - t
    print(f"source Figure 6 trained in {train_s:.0f} s", flush=True)
    store = RunStore(work / "app")
    port = free_port()
    server = launch_app(work / "app", port, work / "server.log")
    cpus = sorted(os.sched_getaffinity(0))
    _pin(server.pid, {cpus[0]})
    os.sched_setaffinity(0, set(cpus[1:]) or {cpus[0]})
    rows, stop = [], threading.Event()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for n in [int(x) for x in args.watchers.split(",")]:
                exp_id, records = running_copy(store, source, source_id)
                # a third of the recorded pace, so the curves still grow while 30 pages open and are measured
                feeder = threading.Thread(target=replay, args=(store, exp_id, records, stop, 1 / 3), daemon=True)
                feeder.start()
                idle0, it0 = _cpu_s([server.pid]), time.monotonic()
                time.sleep(5.0)
                idle = (_cpu_s([server.pid]) - idle0) / (time.monotonic() - it0)
                row = measure(browser, port, server.pid, n, args.window)
                row["idle"] = idle
                rows.append(row)
                print(row, flush=True)
                stop.set()
                feeder.join()
                stop.clear()
                store.update_experiment(exp_id, status="stopped", finished=time.time())
                store.delete_experiment(exp_id)
            browser.close()
    finally:
        stop.set()
        stop_app(server)
    report = render(rows, train_s, statistics.median(r["idle"] for r in rows), (load0, os.getloadavg()[0]))
    pathlib.Path(args.out).write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
