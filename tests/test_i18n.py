"""The app in the class's language (docs/translating.md): every page sentence wrapped, the catalogues in step with
the code and complete, every page in Spanish and Chinese, the choice from the browser, the picker and a link, and a
language a translator adds from the docs alone.

The catalogues are read from explorer/locale; `scripts/i18n.sh` extracts with pybabel, as a developer would.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from i18n_check import SOURCES, unwrapped
from i18n_probe import untranslated

from explorer import i18n
from explorer.i18n import _

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "explorer" / "locale"
SHIPPED = ("es", "zh_Hans")
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")
# Each page: its title (st.title) and its main action (a button's key and English label), as a reader sees them.
PAGES = {
    "home": (None, ("home_figure6", "Reproduce Figure 6")),
    "build": ("Build a network", None),
    "train": ("Train", ("train_start", "Start training")),
    "runs": ("Runs", None),
    "explain": ("Explain a prediction", None),
    "inspect": ("Inspect", None),
    "why": ("Why shortcuts work", None),
    "data": ("Your data", None),
    "lessons": ("Lessons", None),
    "classroom": ("Class", None),
}
NAV = ("Home", "Build", "Train", "Runs", "Explain", "Inspect", "Why it works", "Your data", "Lessons", "Class")


def _catalogue(code: str):
    with (LOCALE / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=code)


# ----------------------------------------------------------------------------- wrapped, extracted, translated
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_page_sentence_goes_through_the_translation_function(path):
    assert unwrapped(path) == []


def test_the_check_sees_an_unwrapped_sentence(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('import streamlit as st\nfrom explorer.i18n import _\nn = 3\nst.caption(f"{n} runs so far")\n'
                   'st.button(_("Go"), key="go")\nst.info("Nothing here yet.")\nmsg = "Pick a depth first."\n'
                   'st.markdown("<style>a b {}</style>")  # not for translation\n')
    found = unwrapped(bad)
    assert [f.split(":")[1] for f in found] == ["4", "6", "7"], found


def test_the_catalogues_are_in_step_with_the_code(tmp_path):
    """pybabel extract over the tree finds exactly the template's messages, and every language has each of them."""
    pybabel = Path(sys.executable).parent / "pybabel"
    pot = tmp_path / "now.pot"
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_", "-k", "N_", "-k", "ngettext:1,2",
                    "--no-location", "-o", str(pot), "."], cwd=ROOT, check=True, timeout=120)
    with pot.open("rb") as f:
        now = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    with (LOCALE / f"{i18n.DOMAIN}.pot").open("rb") as f:
        kept = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert sorted(now - kept) == [], "new messages: run scripts/i18n.sh"
    assert sorted(kept - now) == [], "messages no longer in the code: run scripts/i18n.sh"
    for code in SHIPPED:
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalogue(code) if m.id}
        assert ids == now, f"{code}: run scripts/i18n.sh"


@pytest.mark.parametrize("code", SHIPPED)
def test_spanish_and_chinese_translate_every_message_and_keep_its_placeholders(code):
    empty, fuzzy, broken = [], [], []
    for m in _catalogue(code):
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        if not all(strings):
            empty.append(ids[0])
        if m.fuzzy:
            fuzzy.append(ids[0])
        # The code fills the msgid's placeholders: a translation keeps each one (a plural's forms may drop some).
        wanted = set(PLACEHOLDER.findall(ids[-1])) if "python-brace-format" in m.flags else set()
        for text in filter(None, strings):
            found = set(PLACEHOLDER.findall(text)) if wanted else set()
            if found - wanted or (len(ids) == 1 and found != wanted):
                broken.append(ids[0])
    assert (empty, fuzzy, broken) == ([], [], [])


def test_the_wheel_carries_the_catalogues():
    """pyproject's package data names every catalogue (the installed app reads the same languages)."""
    data = (ROOT / "pyproject.toml").read_text()
    assert f'"locale/*/LC_MESSAGES/{i18n.DOMAIN}.po"' in data
    assert set(SHIPPED) <= set(i18n.available())


# ----------------------------------------------------------------------------- every page in each language
@pytest.mark.slow
def test_every_page_reads_in_spanish_and_chinese_and_nothing_is_left_untranslated(new_app, monkeypatch):
    """One reader opens a link in Spanish, then picks Chinese, then the pseudo language (in which every translated
    text reads ⟦..⟧): every page runs without an exception, its title and main action are in the language, and in
    the pseudo language no text a page shows at first sight escaped the catalogue. One session, so the pages'
    caches serve all three."""
    monkeypatch.setenv("EXPLORER_PSEUDO_LANGUAGE", "1")
    at = new_app(lang=SHIPPED[0])
    left = {}
    for code in (*SHIPPED, i18n.PSEUDO):
        if code != SHIPPED[0]:  # the reader's choice, as the picker keeps it (AppTest reruns a page file alone,
            at.session_state["lang"] = at.session_state["_lang"] = code  # without the entry script's sidebar)
        assert at.session_state["_lang"] == code
        # AppTest calls a widget's format_func on this thread, outside the script run: read it in the same language
        with i18n.using(code):
            nav = [_(t) for t in NAV]
            assert all(w != t for w, t in zip(nav, NAV, strict=True)), f"{code}: a page name is not translated"
            for page, (title, action) in PAGES.items():
                at.switch_page(f"pages/{page}.py").run()
                assert not at.exception, (code, page, at.exception)
                if title:
                    assert at.title[0].value == _(title) != title, (code, page)
                if action:
                    key, label = action
                    assert at.button(key=key).label == _(label) != label, (code, page)
                if code == i18n.PSEUDO and (found := untranslated(at)):
                    left[page] = found
    assert left == {}


# ----------------------------------------------------------------------------- choosing
def test_the_browser_language_is_the_default_and_english_otherwise(runs_dir):
    from streamlit.testing.v1 import AppTest
    for tag, code in (("es-MX", "es"), ("zh-CN", "zh_Hans"), ("fr-FR", "en"), (None, "en")):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
        at.context["locale"] = tag
        at.run()
        assert not at.exception and at.session_state["_lang"] == code, tag
        assert at.selectbox(key="lang_picker").value == ""  # automatic: nothing was chosen


def test_a_link_with_an_unknown_language_says_so_and_reads_in_english(new_app):
    at = new_app(lang="xx<b>")
    assert at.session_state["_lang"] == "en"
    assert any("does not have" in w.value for w in at.warning), [w.value for w in at.warning]


def test_the_picker_changes_the_language_and_the_link_keeps_it(new_app):
    at = new_app()
    at.selectbox(key="lang_picker").set_value("zh_Hans").run()
    assert not at.exception
    at.run()  # AppTest reruns the page file alone; the entry script (which writes the link) runs again after this
    at.switch_page("streamlit_app.py").run()
    assert at.session_state["_lang"] == "zh_Hans" and at.query_params["lang"] == "zh_Hans"
    with i18n.using("zh_Hans"):
        assert at.button(key="home_figure6").label == _("Reproduce Figure 6")
    at.selectbox(key="lang_picker").set_value("").run()
    assert at.session_state["_lang"] == "en" and "lang" not in at.session_state  # automatic again: no choice kept


FRENCH = '''msgid ""
msgstr ""
"Language: fr\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Reproduce Figure 6"
msgstr "Reproduire la figure 6"

msgid "Train"
msgstr "Entraîner"
'''


def test_a_translator_adds_a_language_and_the_app_offers_it(new_app, tmp_path, monkeypatch):
    """docs/translating.md's path: `scripts/i18n.sh init fr` writes a catalogue with every message; a translated
    entry shows in the app, which offers the language in its picker and reads it from a link."""
    work = tmp_path / "checkout"
    shutil.copytree(ROOT / "explorer" / "locale", work / "explorer" / "locale")
    (work / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "i18n.sh", work / "scripts" / "i18n.sh")
    shutil.copy(ROOT / "babel.cfg", work / "babel.cfg")
    shutil.copytree(ROOT / "pages", work / "pages")
    shutil.copy(ROOT / "streamlit_app.py", work / "streamlit_app.py")
    shutil.copytree(ROOT / "explorer", work / "explorer", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "locale"))
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYBABEL": str(Path(sys.executable).parent /
                                                                                   "pybabel")}
    subprocess.run(["bash", "scripts/i18n.sh", "init", "fr"], cwd=work, env=env, check=True, timeout=120)
    made = work / "explorer" / "locale" / "fr" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with made.open("rb") as f:
        assert len([m for m in read_po(f) if m.id]) == len([m for m in _catalogue("es") if m.id])
    added = tmp_path / "added" / "fr" / "LC_MESSAGES"
    added.mkdir(parents=True)
    (added / f"{i18n.DOMAIN}.po").write_text(FRENCH, encoding="utf-8")
    monkeypatch.setenv("EXPLORER_LOCALE_DIR", str(tmp_path / "added"))
    at = new_app()
    assert "fr" in at.selectbox(key="lang_picker").options or "Français" in at.selectbox(key="lang_picker").options
    at = new_app(lang="fr")
    assert at.button(key="home_figure6").label == "Reproduire la figure 6"
