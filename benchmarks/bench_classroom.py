"""The classroom under load: 30 students in one class each start their own seeded Figure 6; the teacher watches.

Runs the app's own scripts in this process with Streamlit's AppTest (one AppTest per browser session; they share
one job manager and one run store, as the sessions of one `streamlit run` server do), so this process is the
server and its CPU time (time.process_time, workers excluded: they are child processes) is the server's.

1. 30 student sessions open the class link, join, set 1 epoch and press "Reproduce Figure 6": every press must
   make its own experiment with its own seed (none attached to another's, none refused, none lost);
2. while the queue drains, the teacher's Class page is run about once a second; each run's wall time is what
   one update of the teacher's view costs the server (a full script run: more than the page's 1 s fragment);
   the roster's own queries are timed too;
3. the run ends when every job has finished (or --wait-s passes): all 30 must be completed and on the class
   chart (n = 30).

    python benchmarks/bench_classroom.py [--students 30] [--jobs 2] [--wait-s 1500]

Prints a markdown block for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "bench"


def app(**query):
    from tests.helpers import open_app
    return open_app(timeout_s=300, **query)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2, help="EXPLORER_MAX_JOBS: workers at once")
    ap.add_argument("--wait-s", type=float, default=1500.0)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-class-")
    os.environ.update(EXPLORER_RUNS_DIR=f"{tmp}/runs", EXPLORER_TEACHER_PASSWORD=PASSWORD,
                      EXPLORER_MAX_JOBS=str(args.jobs))
    teacher = app()
    teacher.switch_page("pages/classroom.py").run()
    teacher.text_input(key="class_teacher_pw").input(PASSWORD).run()
    teacher.text_input(key="class_new_name").input("Load test").run()
    teacher.button(key="class_create").click().run()
    code = next(m.value.split(": ")[1] for m in teacher.markdown if m.value.startswith("## Join code"))
    from pages.common import job_manager
    job_manager().backend.warm_up(wait=True)  # as on a server that has run a job: its warm worker is up
    t0, cpu0, join_s = time.monotonic(), time.process_time(), []
    for i in range(args.students):
        s = time.monotonic()
        at = app(join=code, epochs=1)
        at.text_input(key="sidebar_join_name").input(f"S{i + 1}")
        at.button(key="sidebar_join").click().run()
        at.button(key="home_figure6").click().run()
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
        join_s.append(time.monotonic() - s)
    from explorer.store.runstore import RunStore
    from pages.common import classroom, job_manager
    store = RunStore(f"{tmp}/runs")
    exps = store.list_experiments(with_runs=False)
    seeds = {e.spec["train"]["seed"] for e in exps}
    print(f"sessions: {args.students}, experiments: {len(exps)}, distinct seeds: {len(seeds)}, "
          f"owners: {len({e.owner for e in exps})}; join + start per session: median {statistics.median(join_s):.2f} s")
    class_id = classroom().find(code).id
    updates, roster_s, cpu_start, wall_start = [], [], time.process_time(), time.monotonic()
    deadline = time.monotonic() + args.wait_s
    while time.monotonic() < deadline:
        s = time.monotonic()
        teacher.run()
        updates.append(time.monotonic() - s)
        assert not teacher.exception, teacher.exception
        s = time.monotonic()
        rows = classroom().roster(class_id)
        roster_s.append(time.monotonic() - s)
        if all(r.status in ("completed", "failed", "stopped", "interrupted") for r in rows):
            break
        time.sleep(max(0.0, 1.0 - (time.monotonic() - s)))
    wall, cpu = time.monotonic() - wall_start, time.process_time() - cpu_start
    done = store.list_experiments(with_runs=False)
    status = {st: sum(e.status == st for e in done) for st in {e.status for e in done}}
    curves = classroom().epoch_curves(class_id)
    n = max((len(v) for v in curves.values()), default=0)
    print(f"jobs: {status}; class chart n = {n}; drained in {wall:.0f} s with {args.jobs} workers at once")
    print(f"teacher view update (full Class page run, {len(updates)} updates): "
          f"median {statistics.median(updates):.3f} s, p90 {pct(updates, 0.9):.3f} s, "
          f"p99 {pct(updates, 0.99):.3f} s, max {max(updates):.3f} s; over 1 s: {sum(u > 1.0 for u in updates)}")
    print(f"roster queries ({len(rows)} students): median {statistics.median(roster_s) * 1000:.1f} ms, "
          f"max {max(roster_s) * 1000:.1f} ms")
    print(f"server process CPU while the teacher watched: {cpu / wall:.2f} cores (workers excluded); "
          f"whole run incl. the 30 sessions: {(time.process_time() - cpu0) / (time.monotonic() - t0):.2f} cores")
    job_manager().shutdown(grace_s=2.0)


if __name__ == "__main__":
    main()
