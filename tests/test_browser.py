"""The real app in a real browser: `streamlit run` on a free port, driven by Playwright in Debian's Chromium.

Opens the app with ?epochs=1, presses "Reproduce Figure 6", waits for the sweep to finish with all four nets on
the chart, and saves a screenshot to test-artifacts/figure6.png. Playwright's own browser download cannot work
here, so Chromium is launched from /usr/bin/chromium; without it the test is skipped.

`launch_app` / `stop_app` are shared with benchmarks/bench_app.py.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
FIGURE6_NETS = ("plain-20", "resnet-20", "plain-56", "resnet-56")
SWEEP_DEADLINE_S = 300  # one epoch of the four-net sweep: well under a minute on 2 idle cores
FINISHED = re.compile(r"^Finished\.")  # explorer.jobs.status's wording, as the page shows it
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(runs_dir: Path, port: int, log_path: Path, timeout_s: float = 90.0, **env) -> subprocess.Popen:
    """Start `streamlit run streamlit_app.py` headless on this port (its own process group); return once healthy."""
    full_env = dict(os.environ, EXPLORER_RUNS_DIR=str(runs_dir), OMP_WAIT_POLICY="PASSIVE", PYTHONUNBUFFERED="1",
                    **env)
    if "EXPLORER_TEACHER_PASSWORD" not in env:  # teacher mode only where a test asks for it
        full_env.pop("EXPLORER_TEACHER_PASSWORD", None)
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with open(log_path, "wb") as log:  # the server keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}; see {log_path}.")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    stop_app(proc)
    raise RuntimeError(f"streamlit was not healthy after {timeout_s:.0f} s; see {log_path}.")


def stop_app(proc: subprocess.Popen) -> None:
    """SIGTERM the server (its job manager stops its workers at exit), then kill whatever is left of its group.

    Workers run in their own sessions (explorer.jobs), so the server's shutdown is what stops them.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def kill_workers(runs_dir: Path) -> None:
    """Kill any worker a run store's experiments still name (a server killed hard cannot stop them itself)."""
    from explorer.store.runstore import RunStore, worker_alive
    if not (runs_dir / "runs.db").is_file():
        return
    store = RunStore(runs_dir)
    for exp in store.with_status(["running"]).items:
        if exp.worker and worker_alive(exp.worker):  # the same process that was recorded, not a reused pid
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.killpg(int(exp.worker.rsplit(":", 2)[1]), signal.SIGKILL)  # workers lead their own group
    store.close()


def legend_names(page) -> set:
    """The legend entries of every plotly chart on the page (SVG text: textContent, not innerText)."""
    return set(page.locator(".js-plotly-plot .legendtext").evaluate_all("els => els.map(e => e.textContent)"))


def _is_rich_png(path: Path) -> tuple:
    """(ok, why): a PNG of at least 800x600 with many colours (a chart, text), not a blank page."""
    from PIL import Image
    if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        return False, "not a PNG"
    with Image.open(path) as im:
        size = im.size
        colours = len(im.convert("RGB").getcolors(maxcolors=1 << 20) or [])
    return size[0] >= 800 and size[1] >= 600 and colours >= 200, f"size {size}, {colours} colours"


def again_if_dropped(step, tries: int = 3):
    """step() until it returns, at most `tries` times: under the suite's load a rerun can drop what a click or a
    keystroke sent, or close a list it opened, and the step's own wait then times out. The last failure is raised."""
    for attempt in range(tries):
        try:
            return step()
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError (playwright may be absent at import)
            if attempt == tries - 1:
                raise
    return None


def script_done(page, timeout_ms: int = 60_000) -> None:
    """Wait until the app's script run has ended (Streamlit marks its root `notRunning`): the page is drawn."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_ms)


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the module's tests (each test opens its own pages, each page its own context)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def close_pages(browser) -> None:
    """Close every page (context) of this browser: a server waits for its open sessions when it is stopped."""
    for context in browser.contexts:
        context.close()


@contextlib.contextmanager
def _server(folder: Path, **env):
    """The base URL of a fresh `streamlit run` with its own run store in this folder; stopped afterwards."""
    runs_dir, port = folder / "runs", free_port()
    server = launch_app(runs_dir, port, folder / "streamlit.log", **env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_app(server)
        kill_workers(runs_dir)


@pytest.fixture(scope="module")
def served(tmp_path_factory, chromium):
    """(base URL, Chromium) of one server that the module's tests share where a claim holds whatever the others did
    before it (Figure 6, the phishing link)."""
    with _server(tmp_path_factory.mktemp("served")) as url:
        yield url, chromium
        close_pages(chromium)


@pytest.fixture
def fresh(tmp_path, chromium):
    """(base URL, Chromium) of a server of this test's own, that no browser has opened yet."""
    with _server(tmp_path) as url:
        yield url, chromium
        close_pages(chromium)


def serve(tmp_path, **env):
    """(base URL, Chromium) of a fresh server started with these environment variables, and a Chromium of its own
    (a generator for other modules' fixtures)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with _server(tmp_path, **env) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield url, browser
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_reproduce_figure6_in_chromium_shows_all_four_runs(served):
    url, browser = served
    page = browser.new_page(viewport={"width": 1400, "height": 1700})  # Streamlit scrolls inside
    # its own container, so a full-page screenshot is the viewport: make it tall enough for the charts
    page.goto(f"{url}/?epochs=1", timeout=60_000)  # the flow and the chart, not the training, are tested here
    page.get_by_role("button", name="Reproduce Figure 6").click(timeout=60_000)
    page.get_by_role("heading", name="Train").first.wait_for(timeout=90_000)  # 30 s were seen to pass at load 20
    # The job's status sentence, "Finished." (a substring match would take a takeaway's "has finished" for it)
    page.get_by_text(FINISHED).first.wait_for(timeout=SWEEP_DEADLINE_S * 1000)
    page.wait_for_function(
        "names => names.every(n => [...document.querySelectorAll('.js-plotly-plot .legendtext')]"
        ".some(e => e.textContent === n))", arg=list(FIGURE6_NETS), timeout=30_000)
    assert set(FIGURE6_NETS) <= legend_names(page)
    assert "epochs=1" in page.url
    page.wait_for_timeout(1000)  # let plotly finish its transitions
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "figure6.png"
    page.screenshot(path=str(shot), full_page=True)
    ok, why = _is_rich_png(shot)
    assert ok, why


@pytest.mark.browser
def test_a_deep_link_opened_first_on_a_fresh_server_gets_the_whole_app(fresh):
    url, browser = fresh
    page = browser.new_page()
    page.goto(f"{url}/train?epochs=2", timeout=60_000)  # a teacher's shared link
    page.get_by_role("heading", name="Train").first.wait_for(timeout=60_000)
    script_done(page)  # the run has finished drawing
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_role("link", name="Build").count() >= 1  # the entry script drew the navigation


@pytest.mark.browser
def test_a_click_on_a_confusion_matrix_cell_opens_its_test_images(fresh):
    """Click-through in a real browser (issue 15): the invisible markers over the heatmap take the click."""
    url, browser = fresh  # Explain on an empty run store: the built-in net, whatever other tests trained
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{url}/explain", timeout=60_000)
    page.get_by_text("On the test set").first.wait_for(timeout=120_000)
    script_done(page)
    chart = page.locator(".js-plotly-plot", has=page.locator("text=Confusion matrix")).first
    chart.locator(".nsewdrag").first.wait_for(timeout=120_000)
    chart.scroll_into_view_if_needed()
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + 0.05 * box["width"], box["y"] + 0.05 * box["height"])  # true 0, predicted 0
    page.get_by_text("True 0, predicted 0:").first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.browser
def test_a_phishing_link_in_the_url_is_shown_as_plain_text_in_chromium(served):
    """Issue 11, item 6: a link's value inside the app's own warning renders as text: no link, no image fetched."""
    import urllib.parse
    url, browser = served
    page = browser.new_page()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "evil" in (urllib.parse.urlparse(r.url).hostname or "")
            else None)
    for value in ("[Teacher notice: log in here](https://evil.example/login)", "![x](https://evil.example/p.png)",
                  "`x` www.evil.example :red[expired]"):
        page.goto(f"{url}/?kind={urllib.parse.quote(value)}", timeout=60_000)
        warning = page.locator('[data-testid="stAlert"]').filter(has_text="is not one we know").first
        warning.wait_for(timeout=60_000)
        assert value in warning.inner_text()  # shown literally, brackets and all
        assert warning.locator("a, img").count() == 0, warning.inner_html()
    assert fetched == []


@pytest.mark.browser
def test_wrong_teacher_passwords_back_off_and_the_teacher_sets_the_job_budget(tmp_path, chromium):
    """Issue 11, items 10 and 12, on a real server with a teacher password: the box on the Class page, the budget in
    the sidebar."""
    with _server(tmp_path, EXPLORER_TEACHER_PASSWORD="s3cret") as url:
        page = chromium.new_page()
        page.goto(f"{url}/classroom", timeout=60_000)  # the teacher signs in on the Class page
        box = page.get_by_label("Teacher password")
        for _ in range(3):
            box.fill("guess")
            box.press("Enter")
            page.wait_for_timeout(500)
        page.get_by_text("try again in 1 s").wait_for(timeout=30_000)
        page.wait_for_timeout(1500)  # the back-off's one second passes
        box.fill("s3cret")
        box.press("Enter")
        page.get_by_text("Teacher mode (the teacher password)").wait_for(timeout=30_000)
        page.locator('[data-testid="stExpandSidebarButton"]').click(timeout=60_000)  # the budget: the admin's
        budget = page.get_by_test_id("stNumberInputField")
        assert float(budget.input_value()) == 30.0
        budget.fill("45")
        budget.press("Enter")
        page.wait_for_timeout(1500)
        assert float(budget.input_value()) == 45.0
        assert page.locator('[data-testid="stException"]').count() == 0
        close_pages(chromium)
