"""The app's languages: one translation function for every sentence a user reads, and numbers in the reader's way.

Every user-facing sentence, in pages/ and in the library texts that reach users (errors, takeaways, the gradient
sentences, lessons and questions), goes through `_` (or `ngettext` for a count, or `N_` to mark a constant that is
translated where it is shown). `pybabel extract` finds them (babel.cfg; `scripts/i18n.sh` updates the catalogues)
and translators work on `explorer/locale/<code>/LC_MESSAGES/explorer.po` (docs/translating.md). The catalogues are
read as .po files when first needed (no compiled .mo in the repository); a fuzzy or empty entry reads as English.

Which language: `using(code)` for a block of code (exports, the CLI, tests), else the source the app installs with
`set_language_source` (pages.lang: the session's choice, its class's language, the browser's), else the environment
variable EXPLORER_LANG, else English. A code no catalogue offers reads as English.

Numbers: `pct`, `num`, `count` and `listing` write "66.0%", "0.123", "1,234" and "a, b and c" the reader's way
("66,0 %", "0,123", "1234", "a, b y c" in Spanish), with Babel's locale data.
"""
from __future__ import annotations

import gettext
import io
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from pathlib import Path

try:  # the app's requirement; the engine alone (a GPU machine with torch only) reads English without it
    from babel import Locale, UnknownLocaleError
    from babel.lists import format_list
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.numbers import format_decimal, format_percent, get_decimal_symbol
except ImportError:  # pragma: no cover - tests/test_layering.py imports the engine without Babel
    Locale = None  # type: ignore[assignment,misc]

SOURCE = "en"  # the language the code is written in: msgids are English sentences
DOMAIN = "explorer"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
PSEUDO = "qps"  # a test language: every translated sentence comes back as ⟦sentence⟧ (finds unwrapped text)
PSEUDO_OPEN, PSEUDO_CLOSE = "⟦", "⟧"
_CODE = re.compile(r"^[a-z]{2,3}(?:_[A-Z][a-z]{3})?(?:_[A-Z]{2})?$")  # es, zh_Hans, pt_BR: a catalogue's folder name

_override: ContextVar[str | None] = ContextVar("explorer_language", default=None)
_source: list[Callable[[], str | None]] = []  # the app's resolver (pages.lang), set once per server process


def locale_dirs() -> tuple[Path, ...]:
    """Where catalogues are found: the app's own, then EXPLORER_LOCALE_DIR's (a deployment's added languages; the
    same layout, <code>/LC_MESSAGES/explorer.po). The first folder that has a language's catalogue wins."""
    extra = os.environ.get("EXPLORER_LOCALE_DIR")
    return (LOCALE_DIR, Path(extra)) if extra else (LOCALE_DIR,)


def _catalogue_path(code: str) -> Path | None:
    for base in locale_dirs():
        path = base / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.is_file():
            return path
    return None


def available() -> tuple[str, ...]:
    """The languages offered: English, then every language with a catalogue, in code order."""
    if Locale is None:
        return (SOURCE,)
    found = {p.name for base in locale_dirs() if base.is_dir() for p in base.iterdir()
             if _CODE.match(p.name) and _catalogue_path(p.name)}
    return (SOURCE, *sorted(found - {SOURCE}))


@cache
def _offered(dirs: tuple[Path, ...]) -> frozenset[str]:
    return frozenset(available())


def offered(code: str | None) -> bool:
    """Whether `code` is a language this app has (English, a catalogue, or the pseudo language when enabled)."""
    if code == PSEUDO:
        return os.environ.get("EXPLORER_PSEUDO_LANGUAGE") == "1"
    return code in _offered(locale_dirs())


def babel_locale(code: str) -> Locale:
    try:
        return Locale.parse(SOURCE if code == PSEUDO else code)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(SOURCE)


# The shipped languages' names in themselves, as Babel's locale data gives them (tests/test_i18n_core.py keeps them
# equal): the language picker shows them on a server's first page, where loading that data took 0.14 s.
SHIPPED_NAMES = {"en": "English", "es": "Español", "zh_Hans": "中文 (简体)"}


def native_name(code: str) -> str:
    """A language's name in itself, as a picker shows it: "English", "Español", "中文 (简体)"."""
    if code == PSEUDO:
        return "Pseudo (⟦test⟧)"
    if code in SHIPPED_NAMES:
        return SHIPPED_NAMES[code]
    if Locale is None:
        return "English" if code == SOURCE else code
    name = babel_locale(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def match(tag: str | None) -> str | None:
    """The offered language closest to a browser's tag ("es-MX" -> "es", "zh-CN" and "zh-Hans-CN" -> "zh_Hans",
    "en-GB" -> "en"), or None."""
    if not tag or len(tag) > 35 or Locale is None:
        return None
    try:
        loc = Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    script = loc.script or ("Hant" if loc.language == "zh" and loc.territory in {"TW", "HK", "MO"} else
                            "Hans" if loc.language == "zh" else None)
    for code in (f"{loc.language}_{script}" if script else None, loc.language):
        if code and offered(code):
            return code
    return None


def _translations(code: str) -> gettext.NullTranslations:
    return _read(code, locale_dirs())


@lru_cache(maxsize=16)
def _read(code: str, dirs: tuple[Path, ...]) -> gettext.NullTranslations:
    path = _catalogue_path(code) if code != SOURCE else None
    if path is None:
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalogue = read_po(f, locale=path.parent.parent.name)
    buf = io.BytesIO()
    write_mo(buf, catalogue, use_fuzzy=False)  # fuzzy entries read as English until a translator confirms them
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def set_language_source(source: Callable[[], str | None]) -> None:
    """The app's way to find the reader's language (pages.lang); called when no `using` block is open."""
    _source[:] = [source]


def current() -> str:
    """The reader's language code: a `using` block's, else the app's source, else EXPLORER_LANG, else English."""
    for code in (_override.get(), _source[0]() if _source else None, os.environ.get("EXPLORER_LANG")):
        if code and offered(code):
            return code
    return SOURCE


@contextmanager
def using(code: str | None) -> Iterator[str]:
    """Everything inside reads in `code` (English when it is not offered)."""
    token = _override.set(code if offered(code) else SOURCE)
    try:
        yield _override.get() or SOURCE
    finally:
        _override.reset(token)


def _(message: str) -> str:
    """`message` (an English sentence) in the reader's language."""
    code = current()
    if code == SOURCE:
        return message
    if code == PSEUDO:
        return f"{PSEUDO_OPEN}{message}{PSEUDO_CLOSE}" if message else message
    return _translations(code).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The sentence for `n` things in the reader's language (its own plural rules: Chinese has one form)."""
    code = current()
    if code == SOURCE:
        return singular if n == 1 else plural
    if code == PSEUDO:
        return f"{PSEUDO_OPEN}{singular if n == 1 else plural}{PSEUDO_CLOSE}"
    return _translations(code).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a constant for the catalogue without translating it (it is translated with `_` where it is shown)."""
    return message


# ----------------------------------------------------------------------------- numbers the reader's way
NO_VALUE = N_("no value")
HUGE = 1e24  # past this, Babel's decimal arithmetic gives up (a hostile --depth=6000...): Python writes it


def pct(v: float | None, digits: int = 1) -> str:
    """A percentage given in percent (66.0 -> '66.0%' in English, '66,0 %' in Spanish), or 'no value'."""
    if v is None or not math.isfinite(v):
        return _(NO_VALUE)
    if Locale is None:
        return f"{v:.{digits}f}%"
    loc = babel_locale(current())
    pattern = loc.percent_formats[None].pattern  # the locale's own: "#,##0%", "#,##0 %" (Spanish spaces it)
    if digits > 0:
        pattern = pattern.replace("0", "0." + "0" * digits, 1)
    return format_percent(v / 100, format=pattern, locale=loc)


def num(v: float | None, digits: int = 3) -> str:
    """A number to `digits` significant figures ('0.123', '1.5e-05'; the decimal sign the reader's), or 'no value'."""
    if v is None or not math.isfinite(v):
        return _(NO_VALUE)
    text = f"{v:.{digits}g}"
    if Locale is None:
        return text
    mark = get_decimal_symbol(babel_locale(current()))
    return text.replace(".", mark) if mark != "." else text


def count(n: int | float) -> str:
    """A whole number with the reader's grouping ('1,234' in English, '1.234' in Spanish)."""
    if Locale is None or abs(n) >= HUGE:
        return f"{round(n):,}"
    return format_decimal(round(n), locale=babel_locale(current()))


def decimal(v: float, digits: int = 1) -> str:
    """A number with a fixed count of decimals ('2.50' for digits=2), the reader's decimal sign and grouping."""
    if Locale is None or not math.isfinite(v) or abs(v) >= HUGE:
        return f"{v:,.{digits}f}"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(v, format=pattern, locale=babel_locale(current()))


def listing(parts: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c' in the reader's language ('a, b y c'; 'a、b和c')."""
    parts = [p for p in parts if p]
    if not parts:
        return ""
    if current() in (SOURCE, PSEUDO) or Locale is None:  # English without the serial comma, as the app always wrote it
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return format_list(parts, locale=babel_locale(current()))


def sentences(*parts: str) -> str:
    """Sentences one after another: a space between them, none in Chinese (its full stop needs no space)."""
    return ("" if current().startswith("zh") else " ").join(p for p in parts if p)
