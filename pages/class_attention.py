"""Needs attention, on the teacher's Class page: which students the rules of explorer.classroom.attention flag, each
with the rule in words, and the roster's order (joining, name, status, flags)."""
from __future__ import annotations

import streamlit as st

from explorer import i18n
from explorer.classroom import attention, pause
from explorer.i18n import N_, _
from explorer.text import plain_text
from pages.common import classroom, job_manager

SORTS = {"joined": N_("joining order"), "name": N_("name"), "status": N_("status"),
         "flags": N_("needs attention first")}
_STATUS_ORDER = ("failed", "diverged", "interrupted", "queued", "running", "stopped", "completed", None)


def queue_view(class_id: str) -> attention.QueueView:
    """The server's queue now: queued ids (one query), jobs at once, and whether this class is paused."""
    manager = job_manager()
    capacity = manager.backend.capacity()
    slots = manager.limits.concurrent if capacity is None else min(manager.limits.concurrent, capacity)
    return attention.QueueView(tuple(manager.queue()), max(1, slots), pause.paused(classroom(), class_id) is not None)


def needs_attention(class_id: str, rows: list) -> dict:
    """Draw the flagged students with their rules; returns {owner: flags} for the roster."""
    flags = attention.attention(classroom(), class_id, rows, queue_view(class_id))
    names = {row.owner: row.name for row in rows}
    with st.container(border=True, key="class_attention_box"):
        if not flags:
            st.markdown(_("**Needs attention:** nobody right now."))
        else:
            st.markdown(_("**Needs attention ({n})**").format(n=i18n.count(len(flags))))
            st.markdown("\n".join(f"- **{plain_text(names.get(owner, '?'))}**: {plain_text(f.text)}"
                                  for owner, student_flags in flags.items() for f in student_flags))
        with st.expander(_("The rules"), expanded=False):
            st.markdown("\n".join(f"- **{attention.label(kind)}**: {plain_text(attention.rule_words(kind))}"
                                   for kind in attention.RULES))
    return flags


def sort_roster(rows: list, flags: dict) -> list:
    """The roster in the order the teacher picked (a selectbox keyed class_roster_sort)."""
    by = st.selectbox(_("Sort the roster by"), list(SORTS), format_func=lambda k: _(SORTS[k]), key="class_roster_sort")
    if by == "name":
        return sorted(rows, key=lambda r: r.name.casefold())
    if by == "status":
        return sorted(rows, key=lambda r: _STATUS_ORDER.index(r.status) if r.status in _STATUS_ORDER else 0)
    if by == "flags":
        return sorted(rows, key=lambda r: min((attention.KINDS.index(f.kind) for f in flags.get(r.owner, ())),
                                              default=len(attention.KINDS)))
    return list(rows)


def flag_words(flags: dict, owner: str) -> str:
    """The row's flags in a few words ("⚠ diverged, waiting"), or nothing."""
    kinds = list(dict.fromkeys(attention.label(f.kind) for f in flags.get(owner, ())))
    return f" · ⚠ {', '.join(kinds)}" if kinds else ""
