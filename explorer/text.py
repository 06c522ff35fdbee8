"""Text from a user, made safe to show in Streamlit markdown: the one helper every page uses.

Names (a student's, a class's, an uploaded file's), a link's values and sentences that quote them go through
`plain_text` before they reach `st.markdown`, a caption, a warning or a subheader.
"""
from __future__ import annotations

import re

_TICKS = re.compile(r"`+")


def plain_text(text: object) -> str:
    """Any text as one markdown code span: shown exactly as written, with no link, autolink, image, colour, emoji
    or maths (markdown reads none of these inside a code span; backslash escapes cannot stop GFM's autolinks).

    The fence is one backtick longer than the longest run inside, as CommonMark asks; newlines become spaces.
    """
    flat = str(text).replace("\r", " ").replace("\n", " ")
    fence = "`" * (max((len(run) for run in _TICKS.findall(flat)), default=0) + 1)
    return f"{fence} {flat} {fence}"
