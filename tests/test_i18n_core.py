"""explorer.i18n: which language, numbers the reader's way, and a language added by a deployment's folder."""
import pathlib

import pytest

from explorer import i18n
from explorer.i18n import _


def test_english_reads_as_written_and_numbers_as_before():
    with i18n.using("en"):
        assert _("Train") == "Train"
        assert i18n.pct(66.04) == "66.0%" and i18n.num(0.0001234) == "0.000123" and i18n.count(12345) == "12,345"
        assert i18n.listing(["a", "b", "c"]) == "a, b and c"
        assert i18n.ngettext("{n} run", "{n} runs", 1) == "{n} run"


def test_spanish_and_chinese_numbers_and_lists():
    with i18n.using("es"):
        assert i18n.pct(66.04) == "66,0\u00a0%" and i18n.num(0.5) == "0,5"
        assert i18n.listing(["a", "b", "c"]) == "a, b y c"
    with i18n.using("zh_Hans"):
        assert i18n.pct(66.04) == "66.0%" and i18n.listing(["a", "b", "c"]) == "a、b和c"


def test_a_browser_tag_finds_the_nearest_language():
    assert i18n.match("es-MX") == "es" and i18n.match("zh-CN") == "zh_Hans" and i18n.match("zh-Hans-SG") == "zh_Hans"
    assert i18n.match("en-GB") == "en" and i18n.match("fr-FR") is None and i18n.match("not a tag at all") is None
    assert i18n.match("x" * 100) is None


def test_a_language_no_catalogue_offers_reads_as_english():
    with i18n.using("xx") as code:
        assert code == "en" and _("Train") == "Train"


def test_the_pseudo_language_marks_every_translated_sentence(monkeypatch):
    monkeypatch.setenv("EXPLORER_PSEUDO_LANGUAGE", "1")
    with i18n.using(i18n.PSEUDO):
        assert _("Train") == "⟦Train⟧" and i18n.ngettext("a", "b", 2) == "⟦b⟧"
    monkeypatch.delenv("EXPLORER_PSEUDO_LANGUAGE")
    assert not i18n.offered(i18n.PSEUDO)


DUMMY_PO = '''msgid ""
msgstr ""
"Language: fr\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Train"
msgstr "Entraîner"

#, fuzzy
msgid "Runs"
msgstr "Exécutions"

msgid "{n} run"
msgid_plural "{n} runs"
msgstr[0] "{n} exécution"
msgstr[1] "{n} exécutions"
'''


@pytest.fixture
def french(tmp_path, monkeypatch):
    """A deployment's added language: a French catalogue in EXPLORER_LOCALE_DIR (docs/translating.md)."""
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / f"{i18n.DOMAIN}.po").write_text(DUMMY_PO, encoding="utf-8")
    monkeypatch.setenv("EXPLORER_LOCALE_DIR", str(tmp_path))
    return tmp_path


def test_a_folder_of_catalogues_adds_a_language(french):
    assert "fr" in i18n.available() and i18n.offered("fr") and i18n.native_name("fr") == "Français"
    with i18n.using("fr"):
        assert _("Train") == "Entraîner"
        assert _("Runs") == "Runs"  # a fuzzy entry reads as English until a translator confirms it
        assert i18n.ngettext("{n} run", "{n} runs", 1) == "{n} exécution"
        assert i18n.ngettext("{n} run", "{n} runs", 0) == "{n} exécution"  # French: 0 is singular
        assert i18n.ngettext("{n} run", "{n} runs", 2) == "{n} exécutions"


def test_the_engine_reads_english_without_babel():
    """The GPU machine has torch, numpy and scikit-learn only: explorer.i18n imports there and reads English."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['babel'] = None; import explorer.training.engine, explorer.i18n as i; "
            "print(i.available(), i._('Train'), i.pct(66.04), i.count(1234), i.listing(['a', 'b']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["('en',)", "Train", "66.0%", "1,234", "a", "and", "b"]


def test_a_huge_number_reads_as_python_writes_it():
    """Babel's decimal arithmetic gives up past 28 digits: a hostile depth still gets its one sentence."""
    with i18n.using("es"):
        assert i18n.count(6 * 10**30) == f"{6 * 10**30:,}" and i18n.decimal(float("inf")) == "inf"


def test_the_shipped_languages_names_are_babels():
    from babel import Locale
    shipped = {d.name for d in (pathlib.Path(i18n.__file__).parent / "locale").iterdir() if d.is_dir()}
    assert set(i18n.SHIPPED_NAMES) == {i18n.SOURCE, *shipped}  # every catalogue the package ships, and English
    for code, name in i18n.SHIPPED_NAMES.items():
        babel = Locale.parse(code).get_display_name(code)
        assert name == babel[:1].upper() + babel[1:], (code, name, babel)
