"""The debrief page: one self-contained HTML file a teacher keeps after the lesson (issue 21, item 8).

It holds the class's Figure 6, each question's predictions against what the class's runs showed, the snapshots the
teacher pushed, and the lessons, with plotly.js inline once, so it opens with no network. Every text someone typed
(the class's name, questions, choices, lesson titles) is HTML-escaped here, and plotly's own labels went through
explorer.text.plot_text when the figures were built; plotly writes each figure's data as JSON with `<` escaped.
Size budget: ~150 lines.
"""
from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from ..classroom.debrief import Asked, Debrief, Outcome
from ..text import clean
from .classroom import class_figure6, final_medians, tally_chart
from .papers import degradation_note
from .words import ChartWords, figure_table, has_words, without_words, words_of

_CSS = """body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;
padding:0 1rem;color:#222;line-height:1.45}h1{font-size:2rem;margin-bottom:.2rem}h2{margin-top:2.4rem;
border-bottom:1px solid #ddd;padding-bottom:.3rem}.meta,.note{color:#555}.outcome{font-size:1.1rem}
section.q{margin:1.6rem 0}li{margin:.4rem 0}figure{margin:1rem 0}figcaption{font-size:1.05rem;margin:.4rem 0}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"""


def _e(text: object, limit: int = 2000) -> str:
    """Text as HTML text: control characters and invisible ones dropped (explorer.text.clean; cut past `limit`
    characters, our own sentences included), then <, >, & and quotes as entities."""
    return html.escape(clean(text, limit))


def outcome_sentence(asked: Asked, outcome: Outcome | None) -> str:
    """What the class predicted against what its runs showed, in one sentence ("14 predicted plain-56; the class's
    runs (median final training error): plain-56 18.0% vs plain-20 6.0%, n = 17")."""
    said = [(answer, n) for answer, n in asked.tally.counts if n]
    predicted = ", ".join(f"{n} predicted {clean(answer, 80)}" for answer, n in said) or "Nobody answered"
    if outcome is None:
        return f"{predicted}; the class has no finished runs that answer it yet."
    medians = sorted(final_medians(outcome.curves, epochs=outcome.epochs), key=lambda m: -m[1])
    if not medians:
        return f"{predicted}; the class has no finished runs that answer it yet."
    named = [m for m in medians if any(m[0].lower() == str(c).lower() for c in asked.question.choices)]
    shown = named if len(named) >= 2 else medians
    runs = " vs ".join(f"{name} {median:.1%}" for name, median, _ in shown)
    n = max(count for _, _, count in shown)
    return f"{predicted}; the class's runs (median final training error, up to n = {n}): {runs}."


def _figure(fig: go.Figure, div_id: str, fallback: str | None = None) -> str:
    """The chart with its words (explorer.figures.words): the takeaway as the figure's accessible name and its
    visible caption, and the numbers behind it in a table under "Show as table". A snapshot figure handed in
    without words says `fallback` (its title, which carries its takeaway)."""
    words = words_of(fig) if fallback is None or has_words(fig) else ChartWords(fallback, figure_table(fig))
    chart = without_words(fig).to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                                       config={"displaylogo": False, "responsive": True})
    table = words.table
    head = "".join(f"<th scope=\"col\">{_e(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e('' if v is None else v)}</td>" for v in row) + "</tr>"
                   for row in table.rows)
    more = f'<p class="note">{table.left_out:,} more rows are left out.</p>' if table.left_out else ""
    return (f'<figure aria-label="{_e(words.takeaway)}">{chart}<figcaption>{_e(words.takeaway)}</figcaption>'
            f"<details><summary>Show as table</summary><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table>{more}</details></figure>")


def _figure6_section(debrief: Debrief) -> list[str]:
    sweep = debrief.outcomes.get("sweep")
    parts = ["<h2>The class's Figure 6</h2>"]
    if sweep is None:
        parts.append('<p class="note">No depth sweep (Figure 6) finished in the class.</p>')
        return parts
    parts.append(_figure(class_figure6(sweep.curves, pool=sweep.pool, others=sweep.others), "class-figure6"))
    medians = {name: median for name, median, _ in final_medians(sweep.curves, epochs=sweep.epochs)}
    note = degradation_note(medians, sweep.dataset, who="The class's medians")
    if note:
        parts.append(f'<p class="note">{_e(note)}</p>')
    return parts


def _questions_section(debrief: Debrief) -> list[str]:
    parts = ["<h2>Predictions against the runs</h2>"]
    if not debrief.asked:
        parts.append('<p class="note">The class was asked no question.</p>')
    for i, asked in enumerate(debrief.asked):
        t = asked.tally
        parts += ['<section class="q">', f"<h3>{_e(asked.question.prompt)}</h3>",
                  f'<p class="meta">Asked {_e(asked.where)}; {t.answered} of {t.members} answered.</p>',
                  f'<p class="outcome">{_e(outcome_sentence(asked, debrief.outcomes.get(asked.kind or "")))}</p>',
                  _figure(tally_chart(t.counts, "The class's predictions"), f"tally-{i}"), "</section>"]
    return parts


def debrief_html(debrief: Debrief, snapshots: Sequence[tuple[str, go.Figure]] = ()) -> str:
    """The debrief as one HTML page that needs no network: plotly.js inline once, then every chart.

    Args:
        debrief: explorer.classroom.debrief.gather's record. snapshots: (title, figure) pairs, already built, in the
        order the teacher showed them (their titles are escaped here).
    Returns: the page's HTML text (about 5 MB, nearly all of it plotly.js).
    """
    info = debrief.info
    day = dt.datetime.fromtimestamp(debrief.made).strftime("%d %B %Y, %H:%M")
    body = [f"<h1>Debrief: {_e(info.name)}</h1>",
            f'<p class="meta">Class {_e(info.code)} · {len(debrief.names)} students · made {day}. Students appear '
            "under pseudonyms.</p>"]
    body += _figure6_section(debrief)
    body += _questions_section(debrief)
    body.append("<h2>Snapshots</h2>")
    if not snapshots:
        body.append('<p class="note">No snapshot was shown.</p>')
    for i, (title, fig) in enumerate(snapshots):
        body += [f"<h3>{_e(title)}</h3>", _figure(fig, f"snapshot-{i}", fallback=title)]
    body.append("<h2>Lessons</h2>")
    body.append("<ul>" + "".join(f"<li><b>{_e(title)}</b>: {_e(what)}</li>" for title, what in debrief.lessons)
                + "</ul>" if debrief.lessons else '<p class="note">The class followed no lesson.</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Debrief: {_e(info.name)}</title><style>{_CSS}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>{''.join(body)}</body></html>")
