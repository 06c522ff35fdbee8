"""The app in Spanish and Chinese in Chromium (docs/translating.md): Home, Train with its curves, and the class
screen in its class's language. Each view must show its main words in the language, draw Chinese glyphs (the
server's Chromium has a CJK font: .ci/run installs fonts-wqy-microhei) and overflow nothing sideways; screenshots go
to test-artifacts/i18n-*.png for a person to look at.

One server (teacher password set) for the module; the class, a student's finished twin and the class's language
are written straight into the run store (no training).
"""
from __future__ import annotations

import time

import pytest
from test_a11y_browser import axe_check
from test_browser import ARTIFACTS, serve

from explorer import i18n
from explorer.classroom import language as class_language
from explorer.classroom import screen as S
from explorer.classroom.classes import Classroom, student_seed
from explorer.i18n import _
from explorer.store.runstore import RunStore
from explorer.training.experiments import figure6

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "i18n-pw"
HD = {"width": 1920, "height": 1080}
WIDE = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
LANGUAGES = ("es", "zh_Hans")
HAN = r"[\u4e00-\u9fff]"
# Does any text on the page overflow its box sideways, or the page the window?
OVERFLOW = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (main.scrollWidth > main.clientWidth + 1) return 'the page scrolls sideways: ' + main.scrollWidth;
  for (const el of document.querySelectorAll('button, [data-testid="stMarkdownContainer"] p, label')) {
    if (el.checkVisibility() && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible')
      return 'cut: ' + el.textContent.slice(0, 80);
  }
  return ''; }"""
# Chinese glyphs drawn with a real font: two different characters draw different pixels (a missing glyph draws the
# same box for both), and a character that no font has draws that box.
HAN_DRAWN = """() => { const draw = (ch) => { const c = document.createElement('canvas'); c.width = c.height = 40;
    const g = c.getContext('2d'); g.font = '32px "Open Sans", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif';
    g.fillText(ch, 2, 34); return Array.from(g.getImageData(0, 0, 40, 40).data).join(','); };
  const a = draw('训'), b = draw('练'), none = draw('\\u{10FFFD}');
  return a !== b && a !== none && b !== none; }"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("i18n")
    gen = serve(tmp, EXPLORER_TEACHER_PASSWORD=PASSWORD)
    url, browser = next(gen)
    store = RunStore(tmp / "runs")
    room = Classroom(store)
    classes = {}
    for code in LANGUAGES:
        info = room.create("teacher-owner", f"Period {code}")
        owner = f"{len(classes) + 1:032x}"
        room.join(info.code, owner, "Ann")
        exp = f"20261206-000000-00000{len(classes)}"
        spec = figure6()  # a finished sweep: the class's Figure 6 has curves to draw
        errors = {"plain-20": 0.1, "resnet-20": 0.05, "plain-56": 0.3, "resnet-56": 0.03}
        store.insert_experiment(exp, spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                owner=owner, status="completed", created=time.time())
        for name, err in errors.items():
            store.update_run(exp, name, status="completed")
            store.append_metrics(exp, name, [{"type": "epoch", "epoch": e, "train_error": err + 0.2 / e,
                                              "test_error": err + 0.1} for e in (1, 2, 3)])
        room.record_job(info.id, owner, exp, student_seed(info.id, owner))
        class_language.set_language(room, info.id, code)
        classes[code] = info
    yield url, browser, room, classes
    room.close_engines()
    store.close()
    next(gen, None)


def _look(page, name: str) -> None:
    page.wait_for_timeout(800)  # plotly's transitions
    assert page.evaluate(OVERFLOW) == ""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i18n-{name}.png"), full_page=True)


@pytest.mark.parametrize("code", LANGUAGES)
def test_home_and_train_read_in_the_language(served, code):
    url, browser, _room, _classes = served
    page = browser.new_context(viewport=WIDE).new_page()
    with i18n.using(code):
        figure6, start, train = _("Reproduce Figure 6"), _("Start training"), _("Train")
    assert figure6 != "Reproduce Figure 6" and start != "Start training"
    page.goto(f"{url}/?lang={code}", timeout=60_000)
    page.get_by_role("button", name=figure6).wait_for(timeout=60_000)
    assert page.get_by_role("link", name=train).count() >= 1  # the navigation reads in the language
    page.wait_for_function("tag => document.documentElement.lang === tag", arg=code.replace("_", "-"),
                           timeout=30_000)  # <html lang> says so too (WCAG 3.1.1): a screen reader's voice
    axe_check(page, f"home-{code}")  # axe-core: nothing critical or serious in the language
    if code == "zh_Hans":
        assert page.evaluate(HAN_DRAWN)  # the server's Chromium draws Chinese with a real font
    _look(page, f"home-{code}")
    page.set_viewport_size(PHONE)  # a phone: longer Spanish words and Chinese lines still wrap inside the page
    _look(page, f"home-{code}-phone")
    page.set_viewport_size(WIDE)
    page.get_by_role("link", name=train).first.click()
    page.get_by_role("button", name=start).wait_for(timeout=60_000)
    assert f"lang={code}" in page.url  # the choice travels with the link
    _look(page, f"train-{code}")
    page.context.close()


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_class_screen_reads_in_its_class_language(served, code):
    url, browser, room, classes = served
    info = classes[code]
    screen = browser.new_context(viewport=HD).new_page()
    screen.goto(f"{url}/?screen={info.code}", timeout=60_000)  # no ?lang: the class's language, once signed in
    screen.get_by_label("Teacher password").fill(PASSWORD)  # before: the browser's (a code reveals no class)
    screen.get_by_label("Teacher password").press("Enter")
    screen.get_by_role("heading", name=info.code).wait_for(timeout=60_000)
    S.push(room, info.id, "figure6")
    screen.locator(".js-plotly-plot").filter(visible=True).first.wait_for(timeout=60_000)
    text = screen.locator('[data-testid="stMain"]').inner_text()
    if code == "zh_Hans":
        import re
        assert re.search(HAN, text), text[:300]
    _look(screen, f"screen-{code}")
    screen.context.close()
