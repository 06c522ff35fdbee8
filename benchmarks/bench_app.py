"""The app's speed as a user meets it: pages, start-up, how soon a new metric is on screen, and what watching costs.

Four measurements, all with `streamlit run` on a free port and Debian's Chromium driven by Playwright
(the helpers come from tests/test_browser.py), OMP_WAIT_POLICY=PASSIVE in every process:

0. pages (issue 20, item 11): the cold first paint of Home (a fresh server, healthy, then the first browser visit,
   to Home's title, its first chart and its "Reproduce Figure 6" button visible), and navigation to every page
   through the top navigation links on a warm server (the click to the page's title and its first chart or
   table visible, drawn: a plotly SVG, a graphviz SVG, a data grid's canvas), several rounds, medians. The runs
   folder holds the shipped digits twin, so Runs, Explain, Inspect and Why it works have an experiment to show;
1. start-up: from launching `streamlit run streamlit_app.py` to the landing page's "Reproduce Figure 6" button
   being visible (the browser is already open; the time to a healthy server is shown too);
2. metric latency: a fake-running experiment (its worker pid is this process, so it stays `running`) is watched
   on the Train page; one epoch record is appended to a run's metrics.jsonl and the clock runs until the
   browser's training-curves chart has one more point for that run (polled in the page every 10 ms);
3. watching cost: the same `python -m explorer train ... --json` run (a digits twin, fixed seed) with and
   without the app watching it in the browser, in alternating order (U W W U ...); the engine's own
   images/s (training time only) are compared.

    python benchmarks/bench_app.py [--starts 3] [--samples 12] [--pairs 2] [--epochs 6] [--out PATH]
    python benchmarks/bench_app.py --only pages [--colds 5] [--rounds 5] [--out PATH]

Writes a markdown report to docs/benchmarks_app.md (or --out). Takes about 4-5 minutes on 2 cores; `--only pages`
about 2 (and prints its section; with --out it writes only that section there).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # every process this script starts inherits it

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.machine import cpu_name  # noqa: E402
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, kill_workers, launch_app, stop_app  # noqa: E402

TARGET_WATCH_COST = 0.05  # issue 4: watching a job may cost it at most 5 % of its images/s
CURVE_JS = """([run, n]) => [...document.querySelectorAll('.st-key-train_curves .js-plotly-plot')].some(gd => {
  const t = (gd.data || []).find(d => d.name === run);  // during a redraw an old copy may linger: any will do
  return !!t && t.x.length >= n;
})"""




def _versions() -> str:
    import plotly  # noqa: E401
    import streamlit
    import torch
    return f"torch {torch.__version__}, streamlit {streamlit.__version__}, plotly {plotly.__version__}"


# ----------------------------------------------------------------------------- 0. pages
# (link in the top navigation, the page's title, whether its first chart or table shows on a first visit)
PAGES = [("Home", "ResNet Explorer", True), ("Build", "Build a network", True), ("Train", "Train", True),
         ("Runs", "Runs", True), ("Explain", "Explain a prediction", True), ("Inspect", "Inspect", True),
         ("Why it works", "Why shortcuts work", True), ("Your data", "Your data", False),
         ("Lessons", "Lessons", True), ("Class", "Class", False)]
MOUNTED = "() => !!document.querySelector('[data-testid=\"stMain\"]')"  # Streamlit's frontend is up
DRAWN = ('[data-testid="stPlotlyChart"] .main-svg, [data-testid="stGraphVizChart"] svg, '
         '[data-testid="stDataFrame"] canvas, [data-testid="stTable"] table')
# The page's own title, then its first drawn chart or table, in the main area and not left over from the page before
# (Streamlit keeps the old page's elements, marked data-stale, until the new run replaces them).
PAGE_JS = """([title, drawn]) => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return false;
  const live = el => !el.closest('[data-stale="true"]') && el.getClientRects().length > 0;
  const h1 = [...main.querySelectorAll('h1')].some(h => live(h) && h.textContent.trim().startsWith(title));
  return h1 && (!drawn || [...main.querySelectorAll(drawn)].some(live));
}"""


def _seed_store(runs: pathlib.Path) -> None:
    """The shipped digits twin in the runs folder, as an Inspect visit would import it."""
    from explorer.store.runstore import RunStore
    from explorer.store.shipped import ensure_shipped_in_store
    ensure_shipped_in_store(RunStore(runs))


def _until(page, title: str, drawn: str | None, t0: float, timeout_s: float = 120.0) -> float:
    page.wait_for_function(PAGE_JS, arg=[title, drawn], polling=10, timeout=timeout_s * 1000)
    return time.perf_counter() - t0


def time_cold_home(browser, work: pathlib.Path, n: int) -> list:
    """n fresh servers: {healthy, title, chart, button}: seconds from the first visit (healthy: from the launch)."""
    out = []
    for i in range(n):
        runs, port = work / f"cold{i}", free_port()
        _seed_store(runs)
        page = browser.new_page(viewport={"width": 2200, "height": 1400})
        t0 = time.perf_counter()
        server = launch_app(runs, port, work / f"cold{i}.log")
        try:
            healthy = time.perf_counter() - t0
            t1 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="commit", timeout=120_000)
            page.wait_for_function(MOUNTED, polling=10, timeout=120_000)
            mounted = time.perf_counter() - t1  # the frontend's script loaded; the server's first run comes next
            title = _until(page, "ResNet Explorer", None, t1)
            chart = _until(page, "ResNet Explorer", DRAWN, t1)
            page.get_by_role("button", name="Reproduce Figure 6").wait_for(state="visible", timeout=120_000)
            out.append({"healthy": healthy, "mounted": mounted, "title": title, "chart": chart,
                        "button": time.perf_counter() - t1})
            print(f"  cold {i + 1}: healthy {healthy:.2f} s, mounted {mounted:.2f} s, title {title:.2f} s, "
                  f"chart {chart:.2f} s", flush=True)
        finally:
            page.close()
            stop_app(server)
    return out


def _nav_link(page, name: str):
    return page.locator('[data-testid="stTopNavLink"]').filter(has_text=name).first


def time_navigation(browser, work: pathlib.Path, rounds: int, settle: float = 0.0) -> dict:
    """One session on one server: Home once (and `settle` seconds on it, as a reader would), then `rounds` + 1 passes
    over every page by its navigation link.

    Returns {page: [(seconds to the title, seconds to its first chart or table or None), ...]}; the first pass is
    each page's first visit in this server process, the others are warm."""
    runs, port = work / "nav", free_port()
    _seed_store(runs)
    server = launch_app(runs, port, work / "nav.log")
    page = browser.new_page(viewport={"width": 2200, "height": 1400})
    out: dict = {name: [] for name, _, _ in PAGES}
    try:
        _open_home(page, port)
        time.sleep(settle)  # the server imports what the other pages need meanwhile (launch.preload_in_background)
        for r in range(rounds + 1):
            order = PAGES[1:] + PAGES[:1]  # Home last: it is the page each pass comes back to
            for name, title, has_chart in order:
                link = _nav_link(page, name)
                link.wait_for(state="visible", timeout=60_000)
                t0 = time.perf_counter()
                link.click()
                t_title = _until(page, title, None, t0)
                t_chart = _until(page, title, DRAWN, t0) if has_chart else None
                out[name].append((t_title, t_chart))
                time.sleep(0.3)  # let the page settle (late fragments, the browser's layout) before the next click
            print(f"  pass {r + 1}: " + ", ".join(f"{n} {v[-1][1] or v[-1][0]:.2f}" for n, v in out.items()),
                  flush=True)
    finally:
        page.close()
        stop_app(server)
        kill_workers(runs)
    return out


def pages_section(cold: list, nav: dict, load: tuple, label: str = "", settle: float = 0.0) -> list:
    """The markdown of the pages measurement."""
    med = statistics.median
    rows = []
    for name, _, _ in PAGES:
        first, warm = nav[name][0], nav[name][1:]
        warm_t, warm_c = [t for t, _ in warm], [c for _, c in warm if c is not None]
        shown = warm_c or warm_t
        rows.append(f"| {name} | {first[1] if first[1] is not None else first[0]:.2f} | {med(warm_t):.2f} | "
                    f"{f'{med(warm_c):.2f}' if warm_c else '(none)'} | {max(shown):.2f} |")
    return [
        f"## 0. Pages{label}",
        "",
        f"Load average {load[0]:.1f} at the start, {load[1]:.1f} at the end. The runs folder holds the shipped "
        "digits twin only.",
        "",
        f"**Cold first paint of Home** ({len(cold)} fresh servers): the clock starts at the browser's first visit to "
        "a healthy server (which has run no script yet) and stops when Home's title, its first chart (the block "
        "diagram, drawn) and its \"Reproduce Figure 6\" button are visible. The server's start to healthy is shown "
        "too.",
        "",
        "| measure | median (s) | all (s) |",
        "|---|---|---|",
        *[f"| {what} | {med([c[k] for c in cold]):.2f} | {', '.join(f'{c[k]:.2f}' for c in cold)} |"
          for k, what in (("healthy", "launch to healthy server"),
                          ("mounted", "first visit to the frontend mounted (its script loaded)"),
                          ("title", "first visit to Home's title"),
                          ("chart", "first visit to Home's first chart"),
                          ("button", "first visit to the Reproduce Figure 6 button"))],
        "",
        f"**Navigation** (one session on one server, {len(nav['Home']) - 1} warm passes after a first one): a click "
        "on the page's link in the top navigation to its title and its first chart or table visible and drawn "
        "(Your data and Class show neither until something is uploaded or a class exists: their title). The first "
        "pass is each page's first run in the server process; max is over the warm passes. "
        + (f"The first pass starts {settle:g} s after Home is drawn (a reader's pause; the server imports what the "
           "other pages need meanwhile)." if settle else "The first pass starts as soon as Home is drawn, while the "
           "server still imports what the other pages need."),
        "",
        "| page | first visit (s) | warm: title (s) | warm: first chart or table (s) | warm max (s) |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def time_pages(browser, work: pathlib.Path, colds: int, rounds: int, settle: float = 0.0) -> list:
    load0 = os.getloadavg()[0]
    print("0. pages: cold first paint of Home", flush=True)
    cold = time_cold_home(browser, work, colds)
    print("0. pages: navigation", flush=True)
    nav = time_navigation(browser, work, rounds, settle)
    return pages_section(cold, nav, (load0, os.getloadavg()[0]), settle=settle)


# ----------------------------------------------------------------------------- 1. start-up
def time_startups(browser, work: pathlib.Path, n: int) -> list:
    """[(seconds to a healthy server, seconds to the visible landing button)] for n fresh servers."""
    out = []
    for i in range(n):
        page = browser.new_page()
        runs, port = work / f"start{i}", free_port()
        t0 = time.perf_counter()
        server = launch_app(runs, port, work / f"start{i}.log")
        try:
            healthy = time.perf_counter() - t0
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            page.get_by_role("button", name="Reproduce Figure 6").wait_for(state="visible", timeout=120_000)
            out.append((healthy, time.perf_counter() - t0))
        finally:
            page.close()
            stop_app(server)
    return out


# ----------------------------------------------------------------------------- 2. metric latency
def _fake_running_experiment(store) -> tuple:
    """A digits twin in the store that reads as running (a stand-in worker process), with epochs 0 and 1 recorded."""
    from explorer.data.config import DataConfig, model_config_for
    from explorer.data.registry import dataset_info
    from explorer.nets.config import ModelConfig
    from explorer.training.experiments import twin
    from explorer.training.recipes import train_config_for
    base = model_config_for(ModelConfig(), dataset_info("digits"))
    spec = twin(base, DataConfig("digits"), train_config_for("digits", epochs=200))
    runs = [{"name": n, "model": c.to_dict()} for n, c in spec.models]
    exp_id = store.create_experiment(spec.to_dict(), runs, owner="bench", spec_hash=None)
    import atexit

    from explorer.store.runstore import worker_handle
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", "explorer", "worker"])
    atexit.register(stand_in.kill)  # the job manager signals only a process whose command line is a worker's
    store.update_experiment(exp_id, status="running", worker=worker_handle(stand_in.pid), started=time.time())
    store.write_progress(exp_id, {"step": 1, "total_steps": 1000, "eta": 600.0})
    for r in runs:
        store.update_run(exp_id, r["name"], status="running")
        store.append_metrics(exp_id, r["name"], [_epoch_record(r["name"], 0), _epoch_record(r["name"], 1)])
    return exp_id, [r["name"] for r in runs]


def _epoch_record(run: str, epoch: int) -> dict:
    err = 0.9 * 0.9 ** epoch
    return {"type": "epoch", "run": run, "epoch": epoch, "step": 23 * epoch, "test_error": err,
            "test_loss": 2.3 * err, "train_error": None if epoch == 0 else err, "train_loss": None if epoch == 0
            else 2.3 * err, "lr": 0.1, "elapsed": float(epoch), "images_per_second": None}


def _open_home(page, port: int) -> None:
    """Open the landing page once on a fresh server. Until some session has run streamlit_app.py, Streamlit treats
    the pages/ folder as old-style pages and runs a deep link such as /runs without the entry script."""
    page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
    page.get_by_role("button", name="Reproduce Figure 6").wait_for(timeout=60_000)


def _watch_from_runs_page(page, port: int) -> None:
    """Open Runs, press "Watch it live" for the newest active experiment, wait for the live Train page."""
    page.goto(f"http://127.0.0.1:{port}/runs", timeout=60_000)
    page.get_by_role("button", name="Watch it live").click(timeout=60_000)
    page.wait_for_function(CURVE_JS, arg=["plain-20", 0], timeout=60_000)  # the live chart is drawn


def time_metric_latency(browser, work: pathlib.Path, n: int) -> list:
    """Seconds from appending an epoch record to the browser's chart showing it, n samples."""
    from explorer.store.runstore import RunStore
    runs_dir, port = work / "latency", free_port()
    store = RunStore(runs_dir)
    exp_id, names = _fake_running_experiment(store)
    server = launch_app(runs_dir, port, work / "latency.log")
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    out = []
    try:
        _open_home(page, port)
        _watch_from_runs_page(page, port)
        for i in range(n):
            epoch = 2 + i
            time.sleep(random.uniform(0.3, 1.3))  # de-phase from the page's 1 s poll
            t0 = time.perf_counter()
            store.append_metrics(exp_id, names[0], [_epoch_record(names[0], epoch)])
            page.wait_for_function(CURVE_JS, arg=[names[0], epoch], polling=10, timeout=30_000)
            out.append(time.perf_counter() - t0)
    finally:
        page.close()
        store.update_experiment(exp_id, status="stopped", finished=time.time())
        stop_app(server)
    return out


# ----------------------------------------------------------------------------- 3. watching cost
def _children() -> dict:
    """{parent pid: [child pids]} for every process we can read."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(pathlib.Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(name))
    return out


def _tree(root: int) -> list:
    """root and all its descendants (so only our own Chromium is counted, not another user's)."""
    kids, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _cpu_s(pids: list) -> float:
    """User + system CPU seconds used so far by these processes (those still alive)."""
    total = 0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _train_cmd(runs_dir: pathlib.Path, epochs: int) -> list:
    return [sys.executable, "-m", "explorer", "train", "--dataset", "digits", "--depth", "20", "--compare-plain",
            "--epochs", str(epochs), "--batch-size", "64", "--seed", "0", "--device", "cpu",
            "--runs-dir", str(runs_dir), "--json"]


def _epoch_speeds(store, exp_id: str) -> list:
    """Per run: {epoch: cumulative images/s} from the engine's epoch records (complete epochs only)."""
    exp = store.load_experiment(exp_id)
    return [{r.epoch: r.images_per_second for r in store.read_metrics(exp_id, run.id, kind="epoch")
             if r.images_per_second and not r.partial} for run in exp.runs]


def window_speed(cumulative: dict, a: int, b: int) -> float:
    """Images/s over epochs a+1..b from cumulative images/s at the ends of epochs a and b.

    Every epoch trains on the same images (N each), so training time to epoch k is k N / ips_k and N cancels:
    (b - a) N / (b N / ips_b - a N / ips_a).
    """
    return (b - a) / (b / cumulative[b] - a / cumulative[a])


def _epochs_done(runs_dir: pathlib.Path) -> int:
    from explorer.store.runstore import RunStore
    store = RunStore(runs_dir)
    exp = store.list_experiments()[0]
    return max((r.epoch for r in store.read_metrics(exp.id, exp.runs[0].id, kind="epoch")), default=0)


def _one_training(runs_dir: pathlib.Path, epochs: int, window_from: int, server: int, page=None,
                  port: int = 0) -> dict:
    """Run the CLI once; with a page, watch its job live in the browser while it trains."""
    from explorer.store.runstore import RunStore
    before = {p.name for p in runs_dir.iterdir()}
    t0 = time.perf_counter()
    proc = subprocess.Popen(_train_cmd(runs_dir, epochs), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    attached = attached_epoch = None
    if page is not None:
        while not ({p.name for p in runs_dir.iterdir()} - before) and proc.poll() is None:
            time.sleep(0.05)
        _watch_from_runs_page(page, port)
        attached, attached_epoch = time.perf_counter() - t0, _epochs_done(runs_dir)
    browser_pids, t1 = [p for p in _tree(os.getpid()) if p not in (os.getpid(), proc.pid)], time.perf_counter()
    cpu0 = (_cpu_s(_tree(server)), _cpu_s(browser_pids))
    out, _ = proc.communicate(timeout=600)
    busy = time.perf_counter() - t1
    cpu = ((_cpu_s(_tree(server)) - cpu0[0]) / busy, (_cpu_s(browser_pids) - cpu0[1]) / busy)
    report = json.loads(out.strip().splitlines()[-1])
    speeds = _epoch_speeds(RunStore(runs_dir), report["experiment"])
    return {"watched": page is not None, "wall_s": time.perf_counter() - t0, "attached_s": attached,
            "attached_epoch": attached_epoch, "server_cores": cpu[0], "browser_cores": cpu[1],
            "whole": statistics.mean(r["images_per_second"] for r in report["runs"]),
            "window": statistics.mean(window_speed(c, window_from, epochs) for c in speeds)}


def time_watching(browser, work: pathlib.Path, pairs: int, epochs: int, window_from: int) -> list:
    """Alternate unwatched/watched runs of one fixed recipe (U W W U ...); the app server runs throughout."""
    runs_dir, port = work / "watch", free_port()
    runs_dir.mkdir(parents=True, exist_ok=True)
    server = launch_app(runs_dir, port, work / "watch.log")
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    results = []
    try:
        _open_home(page, port)
        for i in range(pairs):
            for watched in ((False, True) if i % 2 == 0 else (True, False)):
                page.goto("about:blank")  # unwatched: no session polls the store
                r = _one_training(runs_dir, epochs, window_from, server.pid, page if watched else None, port)
                results.append(r)
                print(f"  {'watched  ' if watched else 'unwatched'} {r['window']:8.1f} images/s in epochs "
                      f"{window_from + 1}-{epochs} ({r['whole']:.1f} over the run)", flush=True)
    finally:
        page.close()
        stop_app(server)
        kill_workers(runs_dir)
    return results


# ----------------------------------------------------------------------------- report
_NOTES = [
    "## Notes",
    "",
    "- Start-up: most of the time after the server is healthy is the first script run of the first session "
    "(importing torch, torchvision and plotly, the first Home page). Later sessions on a warm server are faster.",
    "- Latency is bounded by the Train page's poll: the live view is an `st.fragment(run_every=1.0)`, so a new "
    "point waits up to one second for the next poll, plus one rerun of the fragment and the browser's redraw.",
    "- Watching cost on this machine: the training job, the Streamlit server and Chromium all share 2 cores "
    "with other work. The server and browser columns show where the watcher's CPU goes; every core-second they "
    "take is one the two lockstep nets (one core each) do not get. On a classroom server the students' browsers "
    "run on their own machines and only the server column is paid there; on a laptop demo both are.",
    "- The engine runs one net per core here (explorer.training.engine), so any other busy process slows it at once; "
    "the "
    "machine's load average (above) moved the unwatched throughput by up to 2x between separate runs of this "
    "script, which is why only adjacent pairs are compared.",
    "",
]


def _ratios(results: list, key: str) -> list:
    """watched / unwatched images/s (results[key]) for each adjacent pair, in the order they ran."""
    out = []
    for a, b in zip(results[::2], results[1::2], strict=False):
        w, u = (a, b) if a["watched"] else (b, a)
        out.append(w[key] / u[key])
    return out


def _fmt_s(xs: list) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return f"median {statistics.median(xs):.2f} s, 90th percentile {p90:.2f} s, max {xs[-1]:.2f} s (n = {len(xs)})"


def _row(i: int, r: dict) -> str:
    attached = "" if r["attached_s"] is None else f"{r['attached_s']:.1f} s (after epoch {r['attached_epoch']})"
    return (f"| {i + 1} | {'watched' if r['watched'] else 'not watched'} | {r['window']:,.1f} | {r['whole']:,.1f} | "
            f"{r['wall_s']:.1f} | {attached} | {r['server_cores']:.2f} | {r['browser_cores']:.2f} |")


def _watch_section(watching: list, epochs: int, window_from: int) -> list:
    ratios, whole = _ratios(watching, "window"), _ratios(watching, "whole")
    cost = 1.0 - statistics.mean(ratios)
    late = [r for r in watching if r["watched"] and r["attached_epoch"] > window_from]
    return [
        "## 3. Engine throughput, watched against not watched",
        "",
        f"`python -m explorer train --dataset digits --depth 20 --compare-plain --epochs {epochs} --batch-size 64 "
        "--seed 0 --device cpu --json`, run with the app server up in both cases. \"Watched\": as soon as the job "
        "appears in the store a browser opens Runs, presses Watch it live and keeps the Train page open (its charts "
        "redraw every second). \"Not watched\": the browser tab shows about:blank. Runs alternate U W, W U, ... so "
        "drift in the machine's load falls on both sides.",
        "",
        f"images/s is the engine's own figure (images per second of training time, mean of the two nets), taken "
        f"over epochs {window_from + 1}-{epochs}, when the watched runs were watched throughout: the engine records "
        "cumulative images/s at each epoch end, and every epoch trains on the same images, so the rate over epochs "
        "a+1..b is (b - a) / (b / ips_b - a / ips_a). The whole-run figure (which includes the seconds the "
        "browser spent opening the pages) is shown too. Server and browser cores: CPU seconds per second used by "
        "the Streamlit server and by this benchmark's Chromium (and Playwright driver) from the moment the "
        "browser was watching (or the run started) to the end of the run.",
        "",
        "| run | app | images/s, window | images/s, whole run | wall (s) | browser watching after | server cores "
        "| browser cores |",
        "|---|---|---|---|---|---|---|---|",
        *[_row(i, r) for i, r in enumerate(watching)],
        "",
        f"Watched / not watched in the window, per pair: {', '.join(f'{r:.3f}' for r in ratios)} (whole runs: "
        f"{', '.join(f'{r:.3f}' for r in whole)}). Mean cost of watching: **{100 * cost:.1f} %** (target: under "
        f"{100 * TARGET_WATCH_COST:.0f} %: {'met' if cost < TARGET_WATCH_COST else 'not met'})."
        + (f" {len(late)} watched run(s) attached after epoch {window_from}: their window was partly unwatched."
           if late else ""),
        "",
    ]


def _machine(load: tuple) -> str:
    return (f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared with other work; load average {load[0]:.1f} "
            f"at the start, {load[1]:.1f} at the end). {_versions()}, Chromium at {CHROMIUM} driven by Playwright. "
            "`OMP_WAIT_POLICY=PASSIVE` in every process. Produced by `python benchmarks/bench_app.py`.")


def render(pages: list, starts: list, latency: list, watching: list, epochs: int, window_from: int,
           load: tuple) -> str:
    """The markdown report."""
    return "\n".join([
        "# App benchmark: pages, start-up, metric latency, cost of watching",
        "",
        _machine(load),
        "",
        *pages,
        "## 1. From `streamlit run` to the landing page",
        "",
        "Clock starts when the server process is launched (the browser is already open) and stops when the "
        "\"Reproduce Figure 6\" button is visible.",
        "",
        "| start | healthy server (s) | landing page visible (s) |",
        "|---|---|---|",
        *[f"| {i + 1} | {h:.2f} | {v:.2f} |" for i, (h, v) in enumerate(starts)],
        "",
        "## 2. From a metric on disk to the chart on screen",
        "",
        "A fake-running experiment (its worker pid is the benchmark's own, so it stays `running`) is watched live "
        "on the Train page. The benchmark appends one epoch record to `plain-20/metrics.jsonl` and times until the "
        "training-curves chart in the browser has that point (checked in the page every 10 ms), with a random "
        "0.3-1.3 s pause between samples so they fall at all phases of the page's 1 s poll.",
        "",
        f"Latency: {_fmt_s(latency)}.",
        "",
        *_watch_section(watching, epochs, window_from),
        *_NOTES,
    ])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["pages"], help="run only this part (pages: about 2 minutes)")
    p.add_argument("--colds", type=int, default=5, help="fresh servers for Home's cold first paint")
    p.add_argument("--rounds", type=int, default=5, help="warm passes over every page")
    p.add_argument("--settle", type=float, default=0.0, help="seconds on Home before the first pass (a reader's)")
    p.add_argument("--starts", type=int, default=3, help="fresh servers to time")
    p.add_argument("--samples", type=int, default=12, help="metric-latency samples")
    p.add_argument("--pairs", type=int, default=2, help="watched/unwatched pairs of training runs")
    p.add_argument("--epochs", type=int, default=12, help="epochs of each timed training run")
    p.add_argument("--window-from", type=int, help="images/s are compared after this epoch (default: half)")
    p.add_argument("--out", help="where the report goes (default: docs/benchmarks_app.md; with --only pages, "
                                 "printed only)")
    args = p.parse_args(argv)
    window_from = args.window_from if args.window_from is not None else args.epochs // 2
    from playwright.sync_api import sync_playwright
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_app_") as tmp, sync_playwright() as pw:
        work = pathlib.Path(tmp)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pages = time_pages(browser, work, args.colds, args.rounds, args.settle)
            if args.only == "pages":
                text = "\n".join([_machine((load0, os.getloadavg()[0])), "", *pages])
            else:
                print("1. start-up", flush=True)
                starts = time_startups(browser, work, args.starts)
                print("2. metric latency", flush=True)
                latency = time_metric_latency(browser, work, args.samples)
                print("3. watching cost", flush=True)
                watching = time_watching(browser, work, args.pairs, args.epochs, window_from)
                text = render(pages, starts, latency, watching, args.epochs, window_from,
                              (load0, os.getloadavg()[0]))
        finally:
            browser.close()
    out = args.out or (None if args.only else str(ROOT / "docs" / "benchmarks_app.md"))
    if out:
        pathlib.Path(out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
