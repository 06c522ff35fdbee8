"""Display helpers every page shares: a link's problems as plain text, numbers, projector mode and its charts, the
plain/residual net picker of Inspect and Why it works, and a view that fails as one sentence."""
from __future__ import annotations

import html
import inspect
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from explorer.i18n import N_, _, count, ngettext
from explorer.store.records import Experiment
from explorer.text import clean, plain_text
from explorer.urlstate import said
from pages.common import store


def show_url_problems() -> None:
    """The link's dropped or clamped values, one warning each, its quoted values shown as plain text."""
    for problem in st.session_state.pop("url_problems", []):
        st.warning(plain_text(said(problem)))


# The datasets' keys as a picker shows them (the keys stay: links, the store and the code use them).
DATASET_NAMES = {"digits": N_("digits"), "fashion_mnist": N_("fashion_mnist"), "mnist": N_("mnist"),
                 "cifar10": N_("cifar10"), "folder": N_("folder")}


def dataset_name(name: str) -> str:
    """A dataset's key in the reader's language (English: the key itself); an unknown key as it is."""
    return _(DATASET_NAMES[name]) if name in DATASET_NAMES else name


def fmt_int(n: float | None) -> str:
    return f"{int(n):,}" if n is not None else "–"


def fmt_madds(n: float | None) -> str:
    return f"{n / 1e6:,.2f} M" if n is not None else "–"


# ----------------------------------------------------------------------------- projector mode
PROJECTOR_CSS = (
    "<style>"  # not for translation
    """
.stApp [data-testid="stMarkdownContainer"] p, .stApp [data-testid="stMarkdownContainer"] li,
.stApp [data-testid="stCaptionContainer"], .stApp label p, .stApp button p { font-size: 1.45rem !important; }
.stApp h1 { font-size: 3.4rem !important; } .stApp h2 { font-size: 2.6rem !important; }
.stApp h3 { font-size: 2.1rem !important; }
</style>""")
PROJECTOR_SCALE = 1.6


def projector_toggle(container: Any) -> None:
    """A toggle that enlarges text, chart fonts and line widths for a projected screen."""
    ss = st.session_state
    ss.setdefault("sidebar_projector", bool(ss.get("projector")))
    container.toggle(_("Projector mode"), key="sidebar_projector", help=_("Larger text, chart fonts and lines."),
                     on_change=lambda: ss.update(projector=bool(ss.get("sidebar_projector"))))
    if ss.get("projector"):
        st.html(PROJECTOR_CSS)


# On a phone (a narrow window) plotly does not wrap a chart's title: a smaller one fits the width.
NARROW_CSS = (
    "<style>"  # not for translation
    """@media (max-width: 640px) {
.stApp .js-plotly-plot .gtitle { font-size: 12px !important; }
.stApp .js-plotly-plot .annotation-text { font-size: 13px !important; } }</style>""")


def narrow_screen_css() -> None:
    """Chart titles that fit a phone's width (CSS for narrow windows only; nothing changes on a wide one)."""
    st.html(NARROW_CSS)


def chart_scale() -> float:
    """1.6 in projector mode (kept under a plain key, so it holds on every page), else 1."""
    return PROJECTOR_SCALE if st.session_state.get("projector") else 1.0


# Streamlit 1.67 added `alt` (the chart's accessible name) to plotly_chart and graphviz_chart; older ones have none.
_PLOTLY_ALT = "alt" in inspect.signature(st.plotly_chart).parameters
_GRAPHVIZ_ALT = "alt" in inspect.signature(st.graphviz_chart).parameters
STRICT_WORDS = True  # every figure builder says its takeaway (explorer.figures.words.say): a chart without one fails
LIVE_ANNOUNCE_S = 5.0  # a live chart's takeaway is announced at most this often (an ARIA polite live region)


def plot(container: Any, fig: Any, key: str, *, live: bool = False, listen: bool = False, **kw: Any) -> None:
    """Draw a plotly figure with its words (explorer.figures.words): the takeaway as the chart's accessible name and
    as a caption under it, "Show as table" with the numbers behind it, and on line charts (`listen`) a "Listen"
    toggle that plays the curves (explorer.figures.sound). Enlarged in projector mode; kw go to st.plotly_chart.

    `live`: the chart redraws while a job runs; its caption is a polite live region, updated at most every
    LIVE_ANNOUNCE_S seconds so a screen reader is not interrupted at every redraw.
    """
    from explorer.figures.classroom import projected
    from explorer.figures.style import themed
    from explorer.figures.words import without_words, words_of
    from pages.a11y import theme_type
    words = words_of(fig, strict=STRICT_WORDS)
    alt = {"alt": words.takeaway} if _PLOTLY_ALT else {}
    shown = themed(projected(fig, chart_scale()), theme_type())  # theme=None: Streamlit's would fade the ticks
    container.plotly_chart(without_words(shown), key=key, theme=None, **alt, **kw)
    chart_words(container, words, key, live=live)
    if listen:
        listen_control(container, fig, key)


def chart_words(container: Any, words: Any, key: str, live: bool = False) -> None:
    """A chart's takeaway under it (live: a polite live region, throttled) and its table in "Show as table"."""
    text = words.takeaway
    if live:
        shown = st.session_state.setdefault("_chart_announced", {})
        last, when = shown.get(key, (None, 0.0))
        if last is not None and text != last and time.monotonic() - when < LIVE_ANNOUNCE_S:
            text = last
        elif text != last:
            shown[key] = (text, time.monotonic())
        container.html(f'<p class="chart-takeaway" role="status" aria-live="polite">{html.escape(text)}</p>')
    else:
        container.caption(plain_text(text))
    table = words.table
    with container.expander(_("Show as table")):
        st.dataframe(table.as_dict(), hide_index=True, key=f"{key}_table")
        if table.left_out:
            st.caption(ngettext("{n} more row is left out of this table.", "{n} more rows are left out of this table.",
                                table.left_out).format(n=count(table.left_out)))


def listen_control(container: Any, fig: Any, key: str) -> None:
    """"Listen": the chart's curves as pitch over time (explorer.figures.sound), with what is heard in words."""
    from explorer.figures.sound import figure_sound
    if not container.toggle(_("Listen"), key=f"{key}_listen",
                            help=_("Plays each curve as notes: a higher value is a higher pitch.")):
        return
    try:
        sound = figure_sound(fig)
    except ValueError as exc:
        container.caption(str(exc))
        return
    container.audio(sound.wav, format="audio/wav")
    container.caption(plain_text(sound.sentence))


def diagram(container: Any, dot: str, description: str, **kw: Any) -> None:
    """A Graphviz diagram with its text description as its accessible name and as a caption above it (a deep net's
    diagram is a few screens tall: read first, the words say what the picture will show)."""
    alt = {"alt": description} if _GRAPHVIZ_ALT else {}
    container.caption(plain_text(description))
    container.graphviz_chart(dot, **alt, **kw)


def confirmed(container: Any, label: str, key: str, question: str, help: str | None = None) -> bool:
    """A button whose action needs a second press (WCAG 3.3.4: deleting is confirmed): the first press asks
    `question` (plain text) with "Yes, delete" and "Keep"; True once on the yes. Keys: `key`, `key`_yes, `key`_no."""
    ss, asking = st.session_state, f"_{key}_asking"
    if not ss.get(asking):
        container.button(label, key=key, help=help, on_click=ss.__setitem__, args=(asking, True))
        return False
    container.caption(plain_text(question))
    yes, no = container.columns(2)
    no.button(_("Keep"), key=f"{key}_no", on_click=ss.__setitem__, args=(asking, False))
    if yes.button(_("Yes, delete"), key=f"{key}_yes", type="primary"):
        ss[asking] = False
        return True
    return False


# ----------------------------------------------------------------------------- a plain net and its residual twin
def choose_nets(prefix: str) -> tuple[Experiment | None, dict[str, tuple[str, str]]]:
    """An experiment picker and a plain/residual pair (Inspect, Why it works); the shipped twin first.

    Returns:
        (experiment record or None, {net name: (exp id, run id)}); widgets keyed `<prefix>_...`.
    """
    from explorer.store.checkpoints import explainable_runs
    from explorer.training.experiments import plain_residual_pairs
    shipped = _shipped_id(prefix)
    sources = {e.exp_id: e for e in explainable_runs(store())}
    if not sources:
        st.info(_("No finished experiment has trained weights yet; train one on the Train page."))
        return None, {}
    ids = list(sources)
    label = {i: (_("Shipped digits twin (plain-20, resnet-20)") if i == shipped else sources[i].label) for i in ids}
    exp_id = st.selectbox(_("Experiment"), ids, index=ids.index(shipped) if shipped in ids else 0,
                          format_func=lambda i: clean(label[i]), key=f"{prefix}_exp")
    exp = store().load_experiment(exp_id)
    runs = dict(sources[exp_id].runs)  # run id -> name
    pair = next(((p, r) for p, r in plain_residual_pairs(exp) if p in runs and r in runs),
                (list(runs)[0], list(runs)[-1]))
    left, right = st.columns(2)
    plain = left.selectbox(_("Plain net"), list(runs), index=list(runs).index(pair[0]),
                           format_func=lambda r: clean(runs[r]), key=f"{prefix}_plain_{exp_id}")
    residual = right.selectbox(_("Residual net"), list(runs), index=list(runs).index(pair[1]),
                               format_func=lambda r: clean(runs[r]), key=f"{prefix}_residual_{exp_id}")
    return exp, {runs[rid]: (exp_id, rid) for rid in dict.fromkeys([plain, residual])}


def _shipped_id(prefix: str) -> str | None:
    """The shipped digits twin's experiment id, imported into the store once per session (None when missing)."""
    from explorer.store.shipped import ensure_shipped_in_store
    ss, key = st.session_state, f"{prefix}_shipped"
    if ss.get(key) is None or store().load_experiment(ss[key]) is None:
        try:
            ss[key] = ensure_shipped_in_store(store())
        except FileNotFoundError as exc:
            st.caption(str(exc))
            ss[key] = None
    return ss[key]


def guard_view(view: Callable[..., None], *args: Any) -> None:
    """Draw one view; a missing dataset or unreadable weights becomes one sentence instead of a traceback."""
    try:
        view(*args)
    except (ValueError, RuntimeError, OSError) as exc:
        st.error(plain_text(str(exc).splitlines()[0]) if str(exc)
                 else _("This view could not be drawn for these nets."))
