"""The classroom end to end in Chromium: one server, three browser contexts (a teacher and two students, each
with its own owner cookie). The teacher creates a class and asks the Figure 6 question; the students join by the
link, start their own Figure 6, one answers and one does not; the teacher sees the tally, reveals, and the class
chart shows both students' runs. Screenshots: test-artifacts/class_teacher.png, class_student.png.
"""
from __future__ import annotations

import re

import pytest
from test_browser import ARTIFACTS, _is_rich_png, again_if_dropped, script_done, serve

PASSWORD = "browser-class-pw"
JOBS_DEADLINE_S = 480  # two 1-epoch four-net sweeps one after the other on shared cores


@pytest.fixture
def served(tmp_path):
    """(base URL, Chromium) of a fresh server with teacher mode's password set."""
    yield from serve(tmp_path, EXPLORER_TEACHER_PASSWORD=PASSWORD, OMP_NUM_THREADS="1")


def open_sidebar(page) -> None:
    for selector in ('[data-testid="stExpandSidebarButton"]', '[data-testid="stSidebarCollapsedControl"] button'):
        if page.locator(selector).count():
            page.locator(selector).first.click()
            return


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def ask_the_class(teacher, tries: int = 3) -> None:
    """Open the ask form, press Ask, and wait for the new question's tally (0 of 0 answered).

    Under a loaded CI machine (a second test worker training nets on the other core) a click that lands while the
    page's live roster fragment is redrawing was seen to be dropped now and then (2 of 3 runs, never alone): then
    the form is still there with no tally. Press again, at most `tries` times; each press opens at most one question,
    and the class shows its newest, so the rest of the test reads the same state either way.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    ask = teacher.get_by_role("button", name="Ask", exact=True)
    for attempt in range(tries):
        if not ask.is_visible():
            teacher.get_by_text("Ask the class to predict").click()
        ask.click()
        try:
            teacher.get_by_text("0 of 0 answered").first.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


@pytest.mark.browser
@pytest.mark.slow
def test_a_class_end_to_end_in_three_browser_contexts(served):
    url, browser = served
    size = {"viewport": {"width": 1400, "height": 1800}}
    teacher = browser.new_context(viewport={"width": 1400, "height": 2700}).new_page()  # the class chart is low
    teacher.goto(url, timeout=60_000)
    teacher.get_by_role("heading", name="ResNet Explorer").wait_for(timeout=60_000)
    teacher.get_by_role("link", name="Class").first.click()  # the teacher signs in on the Class page
    teacher.get_by_label("Teacher password").fill(PASSWORD)
    teacher.get_by_label("Teacher password").press("Enter")
    teacher.get_by_text("Teacher mode (the teacher password)").wait_for(timeout=30_000)
    teacher.get_by_label("Class name").fill("Period 3")
    teacher.get_by_role("button", name="Create the class").click()
    heading = teacher.get_by_role("heading", name=re.compile("Join code")).first
    heading.wait_for(timeout=30_000)
    code = heading.inner_text().split(":")[1].strip()
    ask_the_class(teacher)

    students = []
    for name in ("Ann", "Bob"):
        page = browser.new_context(**size).new_page()
        page.goto(f"{url}/?join={code}&epochs=1", timeout=60_000)  # one epoch: the class flow, not training, is tested
        joined = page.get_by_text(f"In class Period 3 ({code}) as {name}.")

        def join(page=page, name=name, joined=joined) -> None:  # a name or click made during a run may be dropped
            script_done(page)
            if joined.is_visible():  # the last click's rerun ended late
                return
            page.get_by_label(re.compile("Your name")).fill(name)
            page.get_by_role("button", name="Join the class").click()
            joined.wait_for(timeout=40_000)
        again_if_dropped(join)
        figure6 = page.get_by_role("button", name="Reproduce Figure 6")
        # until the join's rerun ends, Streamlit may still show the previous run's button beside the new one
        page.wait_for_function("() => [...document.querySelectorAll('button')]"
                               ".filter(b => b.innerText.trim() === 'Reproduce Figure 6').length === 1",
                               timeout=30_000)
        figure6.click()
        # The first job on a fresh server waits for the warm process to import torch (up to 120 s at load 25+)
        page.get_by_text("Predict first.").wait_for(timeout=240_000)
        assert page.locator('.js-plotly-plot .legendtext').filter(has_text="plain-56").count() == 0
        no_exception(page)
        students.append(page)
    ann, bob = students
    ann.get_by_text("plain-56", exact=True).click()
    ann.get_by_role("button", name="Submit my prediction").click()
    ann.get_by_text("Your prediction is in: plain-56.").wait_for(timeout=30_000)
    teacher.get_by_text("1 of 2 answered; hidden from the students").wait_for(timeout=30_000)
    assert bob.get_by_text("Predict first.").count() == 1  # Bob has not answered: still no curves
    teacher.get_by_role("button", name="Reveal answers and curves").click()
    bob.get_by_text("The class's predictions (1 of 2 answered)").first.wait_for(timeout=30_000)

    for page in students:
        page.get_by_text(re.compile(r"^Finished\.")).first.wait_for(timeout=JOBS_DEADLINE_S * 1000)
    teacher.get_by_text("2 finished").wait_for(timeout=60_000)
    teacher.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot .legendtext')]"
        ".some(e => e.textContent === 'plain-56 (median of n = 2)')", timeout=30_000)
    for page in (teacher, *students):
        no_exception(page)
    ARTIFACTS.mkdir(exist_ok=True)
    bob.wait_for_timeout(1500)
    teacher.wait_for_timeout(1500)
    for page, shot in ((teacher, "class_teacher.png"), (bob, "class_student.png")):
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        ok, why = _is_rich_png(ARTIFACTS / shot)
        assert ok, why
