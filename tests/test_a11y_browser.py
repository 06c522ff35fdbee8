"""Accessibility in Chromium (issue 23): axe-core over every page and the class's key states, and the keyboard alone.

One server (teacher password set) for the module. A class, a student's finished sweep and the teacher's open question
are written straight into the run store (no training). axe-core (4.12, bundled by axe-playwright-python) must find no
critical or serious violation; moderate ones are printed for the conformance report. The keyboard test presses only
Tab, Shift+Tab, Enter and Space: it starts a five-epoch twin with "Start training", stops it with "Stop", and starts
Figure 6 with "Reproduce Figure 6", counting Tab presses from the page's start and checking that each stop is visible.
Screenshots of the light and dark themes, a focus ring and a phone width go to test-artifacts/a11y-*.png.
"""
from __future__ import annotations

import time

import pytest
from test_browser import ARTIFACTS, script_done, serve

from explorer.classroom import questions as Q
from explorer.classroom.classes import Classroom, student_seed
from explorer.store.runstore import RunStore

axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright", reason="needs axe-playwright-python")
pytestmark = pytest.mark.browser
PASSWORD = "a11y-pw"
STUDENT = "5" * 32  # the student's owner cookie
PAGES = ("", "build", "train", "runs", "inspect", "why", "explain", "data", "lessons", "classroom")
MAIN_ACTION_TABS = 5  # issue 23: a page's main action within 5 Tab presses of the page start (or a skip link)
DARK_PAGES = ("", "train")  # the dark theme: captions, a diagram, charts and sliders (Home, Train)
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 1000}
_AXE = None
MODERATE: dict[str, set[str]] = {}
CHARTS_SEEN: dict[str, int] = {}  # view -> plotly charts whose names and tables were checked


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, Chromium, class code) with a class, a student in it whose finished sweep an open question hides."""
    tmp = tmp_path_factory.mktemp("a11y")
    gen = serve(tmp, EXPLORER_TEACHER_PASSWORD=PASSWORD)
    url, browser = next(gen)
    store = RunStore(tmp / "runs")
    room = Classroom(store)
    info = room.create("teacher-owner", "Period 3")
    room.join(info.code, STUDENT, "Ann")
    exp = "20261206-000000-000001"  # finished: the server's job manager leaves it alone
    store.insert_experiment(exp, {"kind": "sweep"}, [{"name": "plain-56", "model": {"depth": 56}}], owner=STUDENT,
                            status="completed", created=time.time())
    store.update_run(exp, "plain-56", status="completed")
    store.append_metrics(exp, "plain-56", [{"type": "epoch", "epoch": e, "train_error": 0.6 / e, "test_error": 0.6}
                                           for e in (1, 2)])
    room.record_job(info.id, STUDENT, exp, student_seed(info.id, STUDENT))
    Q.open_question(room, info.id, "Which net ends with the highest training error?", ["plain-56", "resnet-56"])
    yield url, browser, info.code
    room.close_engines()
    store.close()
    next(gen, None)


# Settled: no script run and no stale (faded) element for half a second; a page's first run is often followed by a
# second (the URL's query synced), which replaces the elements a Tab would land on.
SETTLED = """() => { const now = performance.now();
  const calm = document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    && !document.querySelector('[data-stale="true"]');
  if (!calm || window.__calmSince === undefined) { window.__calmSince = calm ? now : undefined; return false; }
  return now - window.__calmSince > 500; }"""


def axe_check(page, view: str) -> None:
    """axe-core over the page as it is: no critical or serious violation; moderate ones remembered for the report."""
    global _AXE
    _AXE = _AXE or axe_sync.Axe()
    page.wait_for_function(SETTLED, timeout=30_000)  # Streamlit fades a rerun's old elements: measure once settled
    found = _AXE.run(page).response["violations"]
    bad = [f"{v['id']} ({v['impact']}): {n['html'][:120]} {(n.get('failureSummary') or '')[30:230]}"
           for v in found if v["impact"] in ("critical", "serious")
           for n in v["nodes"]]
    for v in found:
        if v["impact"] not in ("critical", "serious"):
            MODERATE.setdefault(f"{v['id']} ({v['impact']}): {v['help']}", set()).add(view)
    assert not bad, f"{view}: " + "; ".join(bad)
    unnamed = page.evaluate(UNNAMED_CHARTS)
    CHARTS_SEEN[view] = unnamed["charts"]
    assert unnamed == {"charts": unnamed["charts"], "unnamed": [], "tables": unnamed["charts"]}, view


# Every chart in the page has an accessible name (its takeaway: Streamlit's role=figure + aria-label from
# pages.display.plot's alt) and a text alternative ("Show as table" beside it); diagrams have their description.
UNNAMED_CHARTS = """() => {
  const charts = [...document.querySelectorAll('.js-plotly-plot, [data-testid="stGraphVizChart"]')];
  const named = c => { const f = c.closest('[role="figure"][aria-label]');
                       return f && f.getAttribute('aria-label').trim().length > 10; };
  const plots = charts.filter(c => c.classList.contains('js-plotly-plot')).length;
  const tables = [...document.querySelectorAll('[data-testid="stExpander"] summary')]
    .filter(s => s.textContent.includes('Show as table')).length;
  return {charts: plots, unnamed: charts.filter(c => !named(c)).map(c => c.outerHTML.slice(0, 80)),
          tables: Math.min(tables, plots)}; }"""


def opened(page, url: str) -> None:
    page.goto(url, timeout=60_000)
    script_done(page)
    page.wait_for_function(SETTLED, timeout=30_000)


def sign_in(page) -> None:
    page.get_by_label("Teacher password").fill(PASSWORD)
    page.get_by_label("Teacher password").press("Enter")


def test_axe_finds_nothing_serious_on_every_page_in_both_themes(served):
    url, browser, _ = served
    for scheme in ("light", "dark"):
        page = browser.new_context(viewport=WIDE, color_scheme=scheme).new_page()
        for name in PAGES if scheme == "light" else DARK_PAGES:
            opened(page, f"{url}/{name}")
            axe_check(page, f"{name or 'home'} ({scheme})")
        if scheme == "dark":  # the charts drawn in the dark template (pages.display.plot)
            assert page.evaluate("() => getComputedStyle(document.querySelector('.stApp')).backgroundColor") \
                == "rgb(14, 17, 23)"
        opened(page, f"{url}/")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"a11y-home-{scheme}.png"))
        page.context.close()
    print("charts checked per view:", CHARTS_SEEN)
    assert sum(CHARTS_SEEN.values()) >= 8  # the charts of Why it works, Inspect and Explain (the shipped twin) at least


def test_axe_finds_nothing_serious_in_the_class_states_projector_mode_and_a_phone(served):
    url, browser, code = served
    teacher = browser.new_context(viewport=WIDE).new_page()
    opened(teacher, f"{url}/classroom")
    sign_in(teacher)
    teacher.get_by_text("Push to the class screen").wait_for(timeout=60_000)
    script_done(teacher)
    axe_check(teacher, "Class page, teacher, a class with a finished job and an open question")
    screen = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    opened(screen, f"{url}/?screen={code}")
    sign_in(screen)
    screen.get_by_role("heading", name=code).wait_for(timeout=30_000)
    axe_check(screen, "class screen (/?screen=CODE)")
    student = browser.new_context(viewport=WIDE)
    student.add_cookies([{"name": "explorer_owner", "value": STUDENT, "url": url}])
    page = student.new_page()
    opened(page, f"{url}/train")
    page.get_by_text("Predict first.").first.wait_for(timeout=60_000)
    axe_check(page, "student, Train, Predict first")
    phone = browser.new_context(viewport=PHONE).new_page()
    for name in ("", "train"):
        opened(phone, f"{url}/{name}")
        axe_check(phone, f"{name or 'home'} at 390x844")
    phone.screenshot(path=str(ARTIFACTS / "a11y-phone.png"))
    projector = browser.new_context(viewport=WIDE).new_page()
    opened(projector, f"{url}/")
    projector.get_by_role("button", name="Expand sidebar").click()
    projector.get_by_text("Projector mode").click()
    projector.locator('.stApp h1').first.wait_for()
    projector.wait_for_function("() => parseFloat(getComputedStyle(document.querySelector('.stApp h1')).fontSize) > 50")
    axe_check(projector, "home, projector mode")
    print("\naxe-core moderate and minor violations (for docs/accessibility.md):")
    for what, where in sorted(MODERATE.items()):
        print(f"  {what}: {', '.join(sorted(where))}")


FOCUSED = """() => { const e = document.activeElement, r = e.getBoundingClientRect();
  return {text: (e.innerText || e.getAttribute('aria-label') || '').trim(), tag: e.tagName,
          shown: e === document.body || (e.checkVisibility({visibilityProperty: true}) && r.width > 0 && r.right > 0
                 && r.bottom > 0 && r.left < innerWidth),
          ring: getComputedStyle(e).outlineStyle !== 'none' && parseFloat(getComputedStyle(e).outlineWidth) >= 2}; }"""


STOPPED = "() => !document.querySelector('.st-key-train_stop button')"  # the job is no longer active


def tab_to(page, text: str, limit: int = 40, key: str | None = None) -> int:
    """Press Tab until the focused element's text is `text`; the number of presses. Every stop is visible with a
    focus ring of at least 2 px."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        for _ in range(20):  # while a rerun redraws the page, the style element may be replaced: settle first
            if now["ring"]:
                break
            page.wait_for_timeout(100)
            now = page.evaluate(FOCUSED)
        assert now["shown"], f"Tab {presses} landed on a hidden element: {now}"
        assert now["ring"], f"Tab {presses}: no visible focus ring on {now}"
        keyed = key is None or page.evaluate(f"() => !!document.activeElement.closest('.st-key-{key}')")
        if now["text"] == text and keyed:
            return presses
    raise AssertionError(f"{text!r} not reached in {limit} Tab presses")


def test_keyboard_alone_starts_training_stops_it_and_reproduces_figure6(served):
    url, browser, _ = served
    page = browser.new_context(viewport=WIDE).new_page()
    attempts = 4
    for attempt in range(attempts):  # a late rerun under the suite's load can redraw the skip target and drop its focus
        opened(page, f"{url}/train?epochs=5")
        assert tab_to(page, "Skip to main content") == 1  # Streamlit's own link: first on every page
        page.keyboard.press("Enter")
        tabs = 1 + tab_to(page, "Skip to Start training")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.activeElement.id === 'skip-train_start'", timeout=10_000)
        page.wait_for_function(SETTLED, timeout=30_000)
        if page.evaluate("() => document.activeElement.id === 'skip-train_start'") or attempt == attempts - 1:
            break  # the focus is where the skip link put it (the last time, measure whatever happens)
    tabs += tab_to(page, "Start training")
    assert tabs <= MAIN_ACTION_TABS, tabs
    train_tabs = tabs
    page.screenshot(path=str(ARTIFACTS / "a11y-focus-ring.png"))
    page.keyboard.press("Space")
    page.locator(".st-key-train_stop button").first.wait_for(timeout=60_000)
    page.wait_for_function(SETTLED, timeout=30_000)
    stop_tabs = tab_to(page, "Stop", key="train_stop")  # not the header's Stop (of a script run)
    page.keyboard.press("Enter")
    page.wait_for_function(STOPPED, timeout=60_000)  # the job is no longer active
    home = browser.new_context(viewport=WIDE).new_page()
    opened(home, f"{url}/?epochs=5")
    tabs = tab_to(home, "Skip to main content")
    home.keyboard.press("Enter")
    tabs += tab_to(home, "Reproduce Figure 6")
    assert tabs <= MAIN_ACTION_TABS, tabs
    home.keyboard.press("Enter")
    home.locator(".st-key-train_stop button").first.wait_for(timeout=90_000)
    home.wait_for_function(SETTLED, timeout=30_000)
    tab_to(home, "Stop", key="train_stop")
    home.keyboard.press("Enter")
    home.wait_for_function(STOPPED, timeout=60_000)
    print(f"\nTab presses: Start training {train_tabs}, Stop after it {stop_tabs}, Reproduce Figure 6 {tabs}")
