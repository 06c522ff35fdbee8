"""Text someone typed or named, made safe to show: the one helper family every page and figure uses.

A class folder, a run or experiment name, a class or display name, an uploaded file's name, a question's text and
any sentence that quotes one of them reach the screen through one of two functions:

- `plain_text` for Streamlit markdown: `st.markdown`, captions, alerts, headers, toasts, widget labels and help,
  radio options (Streamlit reads markdown in all of these);
- `plot_text` (and `plot_texts` for a list) for plotly: titles, axis titles, tick labels, legend names, hover
  text and annotations (plotly reads a subset of HTML in all of these: `<a href>`, `<b>`, `<br>`).

Both first `clean` the text: control characters become spaces, bidirectional overrides and zero-width characters
are dropped (they can make one name look like another, or reverse a file's extension), and very long text is cut
to `MAX_SHOWN_CHARS` with an ellipsis. Pages never show a user's text raw; tests/test_hostile_names.py drives every
page with hostile names.
"""
from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

MAX_SHOWN_CHARS = 400  # a name or sentence shown on a page: a roster row stays a row (the store keeps it whole)

_BREAKS = ("Cc", "Zl", "Zp")  # control characters (newline, tab, NUL) and line/paragraph separators: a space
# Format characters ("Cf": bidi overrides and isolates, zero-width spaces and joiners, soft hyphens, tags) are
# dropped: they show nothing themselves, yet make one name look like another or reverse a file's extension.
_TICKS = re.compile(r"`+")
# ASCII that markdown never reads as syntax in running text; anything else in ASCII sends the text to a code span.
_PLAIN_ASCII = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '\",.!?()/%=-:;")
_LIST_START = re.compile(r"^(?:\d{1,9}[.)]|[-+=])")  # "1. ", "2) ", "- ", "+ " start a list; "=" a heading line
_COLON_WORD = re.compile(r":\S")  # :red[..], :smile:, :material/..:, https://: a colon glued to what follows
# Streamlit rewrites ":material/" in the raw markdown before parsing it, code spans included (1.67: ":material/x:"
# inside a code span shows as ":material_x:"); an invisible word joiner after the colon keeps the text as written.
_ICON_BROKEN = ":\u2060material/"
_WWW = re.compile(r"www\.", re.IGNORECASE)  # GFM links "www.x" even with backslash escapes


def clean(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """Any value as one line of visible text: control characters and line separators as spaces, invisible format
    characters (bidi overrides, zero-width spaces and joiners) dropped, cut to `limit` characters with an ellipsis."""
    kinds = [(ch, unicodedata.category(ch)) for ch in str(text)[: 4 * limit]]
    flat = "".join(" " if kind in _BREAKS else ch for ch, kind in kinds if kind != "Cf")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def reads_plainly(text: str) -> bool:
    """True when markdown (with Streamlit's directives, emoji shortcodes, icons and maths, and GFM's autolinks)
    shows this cleaned text exactly as it is: letters, digits, single inner spaces and harmless punctuation."""
    if not text or text != text.strip() or "  " in text:
        return False
    if any(ch.isascii() and ch not in _PLAIN_ASCII for ch in text):
        return False
    return not (_LIST_START.match(text) or _COLON_WORD.search(text) or _WWW.search(text))


def plain_text(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """Any text, made safe for Streamlit markdown: shown exactly as written, with no link, autolink, image, colour,
    icon, emoji or maths.

    Text that markdown cannot misread (`reads_plainly`: "Ann", "golden retriever", "Which ends with the higher
    training error: plain-20 or plain-56?") comes back as it is, so ordinary names read as ordinary words, bold
    where the page makes them bold. Anything else becomes one markdown code span, which markdown shows literally.
    Why not backslash escapes: they stop markdown's own syntax, but not what runs on the text afterwards (GFM's
    autolinks of "www." and "https://", Streamlit's emoji shortcodes such as ":smile:" and its ":material/..:"
    icons), and the code span also marks a strange name as strange. The fence is one backtick longer than the
    longest run inside, as CommonMark asks, so the inside never closes it early; a word joiner after the colon of
    ":material/" stops Streamlit's icon rewrite, which reaches into code spans too.
    """
    flat = clean(text, limit)
    if reads_plainly(flat):
        return flat
    fence = "`" * (max((len(run) for run in _TICKS.findall(flat)), default=0) + 1)
    return f"{fence} {flat.replace(':material/', _ICON_BROKEN)} {fence}"


def plot_text(text: object) -> str:
    """Any text, made safe for a plotly label (title, axis, tick, legend, hover, annotation): `<`, `>` and `&` as
    HTML entities, so plotly draws them as characters instead of reading tags (`<a href>`, `<b>`, `<br>`)."""
    return html.escape(clean(text), quote=False)


def plot_texts(texts: Iterable[object]) -> list[str]:
    """plot_text of each item (category ticks, subplot titles, hover texts). A clicked category comes back as
    shown, so a page finds it in this list, not in the raw names."""
    return [plot_text(t) for t in texts]
