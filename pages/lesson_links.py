"""Lesson links on the Build and Train pages: a control the link locks is drawn disabled and pinned to the link's
value; one it hides is not drawn and the link's value is used (explorer.urlstate parses lock= and hide=). Whatever a
widget says, a locked or hidden control keeps the link's value: a link shares a setup, never rights."""
from __future__ import annotations

import streamlit as st

from explorer import urlstate
from explorer.i18n import _, listing, ngettext
from explorer.nets.config import ModelConfig
from explorer.training.recipes import train_config_for


def lesson_pins() -> dict:
    """The values a lesson link set for the controls it may lock or hide: {control name: value}."""
    link = st.session_state.get("lesson_link") or {"kind": "twin", "dataset": "digits", "train": {}}
    try:
        recipe = train_config_for(link["dataset"], **link["train"])
    except (TypeError, ValueError):
        recipe = train_config_for(link["dataset"])
    try:
        model = ModelConfig.from_dict({**ModelConfig().to_dict(), **link.get("model", {})})
    except (TypeError, ValueError):
        model = ModelConfig()
    return {**{k: getattr(model, k) for k in urlstate.BUILD_CONTROLS if hasattr(model, k)},
            **{k: getattr(recipe, k) for k in urlstate.TRAIN_CONTROLS if hasattr(recipe, k)},
            "kind": link["kind"], "dataset": link["dataset"], "preset": "custom"}


def locked_controls() -> tuple:
    """(locked names, hidden names) from the lesson link this session was opened with."""
    controls = st.session_state.get("lesson_controls", {})
    return set(controls.get("lock", ())), set(controls.get("hide", ()))


def control(name: str, draw):
    """A Train control under a lesson link: hidden ones are not drawn, locked ones are drawn disabled, and both
    keep the link's value whatever the widget says. draw(disabled) draws the widget and returns its value."""
    locked, hidden = locked_controls()
    if name in hidden:
        return lesson_pins()[name]
    value = draw(name in locked)
    return lesson_pins()[name] if name in locked else value


def pinned(name: str, key: str, draw):
    """A Build control under a lesson link: as control(), and the widget's state (key) is set to the link's value
    first, so a locked widget shows that value and what depends on it (depth options, captions) follows it."""
    locked, hidden = locked_controls()
    if name in locked or name in hidden:
        st.session_state[key] = lesson_pins()[name]
    if name in hidden:
        return st.session_state[key]
    draw(name in locked)
    return st.session_state[key]


def is_pinned(name: str) -> bool:
    locked, hidden = locked_controls()
    return name in locked or name in hidden


def link_note(names) -> None:
    """One caption at the top of a page when its lesson link locks or hides some of its controls (names)."""
    locked, hidden = locked_controls()
    locked, hidden = [n for n in names if n in locked], [n for n in names if n in hidden]
    if locked and hidden:
        text = ngettext("This page was opened from a lesson link, which keeps {locked} as it set it (greyed out) and "
                        "hides {hidden}.",
                        "This page was opened from a lesson link, which keeps {locked} as it set them (greyed out) and "
                        "hides {hidden}.", len(locked))
    elif locked:
        text = ngettext("This page was opened from a lesson link, which keeps {locked} as it set it (greyed out).",
                        "This page was opened from a lesson link, which keeps {locked} as it set them (greyed out).",
                        len(locked))
    elif hidden:
        text = _("This page was opened from a lesson link, which hides {hidden}.")
    else:
        return
    st.caption(text.format(locked=listing(locked), hidden=listing(hidden)))
