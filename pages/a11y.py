"""Accessibility every page shares (issue 23, WCAG 2.2 AA): text colours at 4.5:1 in both themes, a focus ring
that shows, a collapsed sidebar that takes no focus, the chart theme, and skip links to a page's main action.

`a11y_css()` runs once per script run, from streamlit_app.py; the colours come from explorer.figures.style's
themes, whose contrast tests/test_palette.py computes.
"""
from __future__ import annotations

import html

import streamlit as st

from explorer.figures.style import THEMES
from explorer.i18n import _

# Streamlit draws captions and help text in its text colour at 60 % opacity: #828180 on white, 3.9:1 (SC 1.4.3).
# They get a solid colour per theme (_FADED) at full opacity, a little lighter than body text so they still read
# as secondary. In the dark theme a slider's value is drawn in the primary colour, which must stay dark enough to carry
# a primary button's white text: there it takes the text colour instead (3.2:1 otherwise).
# A disabled widget's label is faded as well (an empty Overlay runs picker on Runs): it keeps the body's colour.
# The focus ring: 3 px in a colour at least 3:1 against the page (SC 2.4.7, 2.4.11, 1.4.11).
_RULES = (
    "<style>"  # not for translation
    """
.stApp [data-testid="stCaptionContainer"], .stApp [data-testid="stCaptionContainer"] p,
.stApp [data-testid="stWidgetLabel"] [data-testid="stMarkdownContainer"] small { color: %(faded)s !important;
  opacity: 1 !important; }
.stApp [data-testid="stWidgetLabel"] { color: inherit !important; }
%(dark)s
:focus-visible { outline: 3px solid %(ring)s !important; outline-offset: 2px !important; }
section[data-testid="stSidebar"][data-collapsed="true"] { visibility: hidden; }
.stApp a.skip-to-action { position: absolute; left: -10000px; top: auto; }
.stApp a.skip-to-action:focus { position: static; display: inline-block; padding: .3rem .6rem;
  background: %(background)s; color: %(text)s; }
</style>""")
_FADED = {"light": "#4E5258", "dark": "#B6BDC6"}  # 7.9:1 on white, 10.0:1 on #0E1117 (tests/test_palette.py)
_RING = {"light": "#0B57D0", "dark": "#8AB4F8"}  # 6.4:1 on white, 9.0:1 on #0E1117


def theme_type() -> str:
    """"dark" or "light": the theme the browser shows (st.context.theme, Streamlit >= 1.46), light if unknown."""
    theme = getattr(getattr(st.context, "theme", None), "type", None)
    return theme if theme in THEMES else "light"


def a11y_css() -> None:
    """The page-wide rules above, in the colours of the theme the browser shows."""
    kind = theme_type()
    chart = THEMES[kind]
    dark = "" if kind != "dark" else (  # Graphviz draws black on no background: a white panel keeps it readable
        f'.stApp [data-testid="stSliderThumbValue"] {{ color: {chart.text} !important; }}\n'  # not for translation
        '.stApp [data-testid="stGraphVizChart"] svg { background: #FFFFFF; border-radius: .5rem; }')
    st.html(_RULES % {"faded": _FADED[kind], "ring": _RING[kind], "background": chart.background,
                      "text": chart.text, "dark": dark})


def skip_link(label: str, target: str) -> None:
    """A link, hidden until focused, that moves keyboard focus to `skip_target(target)`: the first thing in the
    page's main region, one Tab after Streamlit's own "Skip to main content" (SC 2.4.1)."""
    text = html.escape(_("Skip to {action}").format(action=label))
    st.html(f'<a class="skip-to-action" href="#skip-{target}">{text}</a>')


def skip_target(target: str) -> None:
    """Where `skip_link(..., target)` lands: the next Tab from here reaches the control drawn after it."""
    st.html(f'<span id="skip-{target}" tabindex="-1"></span>')  # not for translation
