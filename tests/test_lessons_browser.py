"""The debrief in Chromium with no network: the page explorer.figures.debrief writes for a class after a lesson (its
records written straight into a real store, tests/test_debrief.py's finished sweeps: nothing trains), opened from a
file in a context that is offline, draws its charts (plotly.js is inline) and fetches nothing. The download button
that serves this page on the Class page is covered in tests/test_lessons_app.py.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from test_debrief import finished_sweep

from explorer.classroom import questions as Q
from explorer.classroom.classes import Classroom
from explorer.classroom.debrief import gather
from explorer.figures.debrief import debrief_html
from explorer.store.runstore import RunStore


@pytest.fixture(scope="module")
def debrief_file(tmp_path_factory):
    """The debrief page of a class of three after a lesson (two finished Figure 6 sweeps, one question), on disk."""
    tmp = tmp_path_factory.mktemp("debrief")
    store = RunStore(tmp / "runs")
    room = Classroom(store)
    info = room.create("someone", "Period 3")
    for who, name in (("ann", "Ann"), ("bob", "Bob"), ("cat", "Cat")):
        room.join(info.code, who, name)
    finished_sweep(room, info.id, "ann", 0.18)
    finished_sweep(room, info.id, "bob", 0.20)
    asked = Q.open_question(room, info.id, "Which ends with the higher training error?", ["plain-20", "plain-56"])
    for who in ("ann", "bob", "cat"):
        Q.answer(room, asked, who, "plain-56")
    path = tmp / "debrief.html"
    path.write_text(debrief_html(gather(room, info.id)), encoding="utf-8")
    room.close_engines()
    store.close()
    return path


@pytest.mark.browser
def test_the_debrief_draws_its_charts_in_an_offline_browser(debrief_file: Path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1200, "height": 1400})
            requests: list[str] = []
            context.on("request", lambda r: requests.append(r.url))
            page = context.new_page()
            page.goto(debrief_file.as_uri())
            page.locator("#class-figure6 .plot-container svg.main-svg").first.wait_for(timeout=30_000)
            page.locator("#tally-0 .plot-container svg.main-svg").first.wait_for(timeout=30_000)
            legends = set(page.locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)"))
            assert "plain-56 (median of n = 2)" in legends
            said = re.compile(r"3 predicted plain-56; the class's runs .*plain-56 19\.0% vs plain-20 6\.0%")
            assert page.get_by_text(said).count() == 1
            assert [u for u in requests if not u.startswith("file://")] == []  # nothing asked of a network
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "debrief.png"), full_page=True)
        finally:
            browser.close()
