"""The reader's language, chosen once per script run (explorer.i18n reads it for every sentence).

In order: the reader's own choice (the sidebar's picker, or a link's `?lang=es`, kept for the session and written
back into the page's link), their class's language (set by the teacher; the class screen uses it too), the
browser's language (st.context.locale), English. Streamlit's own chrome (the file uploader's "Drag and drop file
here" and "Browse files", the main menu, "Running...", the dataframe toolbar) stays English: Streamlit offers no
hook for it (docs/translating.md).
"""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer import i18n
from explorer.classroom import language as class_language
from explorer.i18n import _
from explorer.text import plain_text
from pages.common import classroom, my_class

CHOICE = "lang"  # session_state: the reader's explicit choice (a code), absent for automatic
RESOLVED = "_lang"  # session_state: this run's language (what explorer.i18n reads)
AUTOMATIC = "_lang_auto"  # session_state: the language this run would have without the reader's choice
AUTO = ""  # the picker's "Automatic" option


def _session_language() -> str | None:
    """This session's language, for explorer.i18n; None outside a script run (a job manager's thread)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    return st.session_state.get(RESOLVED)


i18n.set_language_source(_session_language)


def from_link() -> None:
    """A link's `?lang=`, read on a session's first run: kept when the app has that language, else one sentence."""
    if st.session_state.get("_lang_link_read"):
        return
    st.session_state["_lang_link_read"] = True
    value = st.query_params.get(CHOICE)
    if value is None:
        return
    code = str(value)[:16]
    if i18n.offered(code):
        st.session_state[CHOICE] = code
    else:
        st.session_state.setdefault("url_problems", []).append(
            _("The link asks for the language {code}, which this app does not have, so the page stays in {name}.")
            .format(code=plain_text(code), name=i18n.native_name(browser_language() or i18n.SOURCE)))


def browser_language() -> str | None:
    """The offered language nearest the browser's (st.context.locale: "es-MX" -> "es"), or None."""
    try:
        return i18n.match(st.context.locale)
    except Exception:  # noqa: BLE001 - no browser context (AppTest may have none)
        return None


def _class_language() -> str | None:
    info = st.session_state.get("screen_class")  # the class screen: its class's language
    if info is not None:
        return class_language.language(classroom(), info.id)
    mine = my_class() if "owner" in st.session_state else None  # a student: the class's language
    return class_language.language(classroom(), mine[0].id) if mine else None


def choose_language() -> str:
    """Resolve this run's language and keep it where explorer.i18n reads it; returns the code."""
    ss = st.session_state
    from_link()
    try:
        automatic = _class_language()
    except Exception:  # noqa: BLE001 - the store is down: store_notice says so; the page reads on
        automatic = None
    ss[AUTOMATIC] = automatic or browser_language() or i18n.SOURCE  # the picker's "Automatic (...)" names it
    code = ss.get(CHOICE)
    ss[RESOLVED] = code if code and i18n.offered(code) else ss[AUTOMATIC]
    return ss[RESOLVED]


def _picked() -> None:
    code = st.session_state.get("lang_picker", AUTO)
    if code == AUTO:
        st.session_state.pop(CHOICE, None)
    else:
        st.session_state[CHOICE] = code
    choose_language()


def language_picker(container) -> None:
    """The sidebar's language picker: Automatic (the class's or the browser's), then each language in itself."""
    ss = st.session_state
    options = [AUTO, *i18n.available()]
    if i18n.offered(i18n.PSEUDO):
        options.append(i18n.PSEUDO)
    ss["lang_picker"] = ss.get(CHOICE) or AUTO
    auto = _("Automatic ({language})").format(language=i18n.native_name(ss.get(AUTOMATIC, i18n.SOURCE)))
    container.selectbox(_("Language"), options, key="lang_picker", on_change=_picked,
                        format_func=lambda c: i18n.native_name(c) if c else auto)


def page_language(container) -> None:
    """Tell the browser the page's language (`<html lang>`, WCAG 3.1.1): Streamlit's page says "en" whatever the
    text, and a screen reader would read Spanish with an English voice. A tiny script; the code is an offered one."""
    code = st.session_state.get(RESOLVED, i18n.SOURCE)
    if code != i18n.PSEUDO and i18n.offered(code):
        tag = code.replace("_", "-")  # BCP 47: es, zh-Hans
        container.html(f"<script>document.documentElement.lang = '{tag}';</script>", unsafe_allow_javascript=True)
