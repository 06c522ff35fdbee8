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

from .. import i18n
from ..classroom.debrief import Asked, Debrief, Outcome
from ..i18n import _, ngettext
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


def _h2(text: str) -> str:
    return f"<h2>{_e(text)}</h2>"


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def outcome_sentence(asked: Asked, outcome: Outcome | None) -> str:
    """What the class predicted against what its runs showed, in one sentence ("14 predicted plain-56; the class's
    runs (median final training error): plain-56 18.0% vs plain-20 6.0%, n = 17")."""
    said = [(answer, n) for answer, n in asked.tally.counts if n]
    predicted = _(", ").join(ngettext("{n} predicted {answer}", "{n} predicted {answer}", n).format(
        n=n, answer=clean(answer, 80)) for answer, n in said) or _("Nobody answered")
    if outcome is None:
        return _("{predicted}; the class has no finished runs that answer it yet.").format(predicted=predicted)
    medians = sorted(final_medians(outcome.curves, epochs=outcome.epochs), key=lambda m: -m[1])
    if not medians:
        return _("{predicted}; the class has no finished runs that answer it yet.").format(predicted=predicted)
    named = [m for m in medians if any(m[0].lower() == str(c).lower() for c in asked.question.choices)]
    shown = named if len(named) >= 2 else medians
    runs = _(" vs ").join(f"{name} {i18n.pct(100 * median)}" for name, median, _x in shown)
    n = max(count for _x, _y, count in shown)
    return _("{predicted}; the class's runs (median final training error, up to n = {n}): {runs}.").format(
        predicted=predicted, n=n, runs=runs)


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
    more = ngettext("{n} more row is left out.", "{n} more rows are left out.", table.left_out).format(
        n=i18n.count(table.left_out))
    more = f'<p class="note">{_e(more)}</p>' if table.left_out else ""
    summary = _e(_("Show as table"))
    return (f'<figure aria-label="{_e(words.takeaway)}">{chart}<figcaption>{_e(words.takeaway)}</figcaption>'
            f"<details><summary>{summary}</summary><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table>{more}</details></figure>")


def _figure6_section(debrief: Debrief) -> list[str]:
    sweep = debrief.outcomes.get("sweep")
    parts = [_h2(_("The class's Figure 6"))]
    if sweep is None:
        parts.append(_note(_("No depth sweep (Figure 6) finished in the class.")))
        return parts
    parts.append(_figure(class_figure6(sweep.curves, pool=sweep.pool, others=sweep.others), "class-figure6"))
    medians = {name: median for name, median, _x in final_medians(sweep.curves, epochs=sweep.epochs)}
    note = degradation_note(medians, sweep.dataset, who=_("The class's medians"))
    if note:
        parts.append(f'<p class="note">{_e(note)}</p>')
    return parts


def _questions_section(debrief: Debrief) -> list[str]:
    parts = [_h2(_("Predictions against the runs"))]
    if not debrief.asked:
        parts.append(_note(_("The class was asked no question.")))
    for i, asked in enumerate(debrief.asked):
        t = asked.tally
        meta = _("Asked {where}; {answered} of {members} answered.").format(where=asked.where, answered=t.answered,
                                                                             members=t.members)
        parts += ['<section class="q">', f"<h3>{_e(asked.question.prompt)}</h3>", f'<p class="meta">{_e(meta)}</p>',
                  f'<p class="outcome">{_e(outcome_sentence(asked, debrief.outcomes.get(asked.kind or "")))}</p>',
                  _figure(tally_chart(t.counts, _("The class's predictions")), f"tally-{i}"), "</section>"]
    return parts


def debrief_html(debrief: Debrief, snapshots: Sequence[tuple[str, go.Figure]] = ()) -> str:
    """The debrief as one HTML page that needs no network: plotly.js inline once, then every chart.

    Args:
        debrief: explorer.classroom.debrief.gather's record. snapshots: (title, figure) pairs, already built, in the
        order the teacher showed them (their titles are escaped here).
    Returns: the page's HTML text (about 5 MB, nearly all of it plotly.js).
    """
    info = debrief.info
    day = _day(dt.datetime.fromtimestamp(debrief.made))
    title = _("Debrief: {name}").format(name=info.name)
    meta = ngettext("Class {code} · {n} student · made {day}. Students appear under pseudonyms.",
                    "Class {code} · {n} students · made {day}. Students appear under pseudonyms.",
                    len(debrief.names)).format(code=info.code, n=len(debrief.names), day=day)
    body = [f"<h1>{_e(title)}</h1>", f'<p class="meta">{_e(meta)}</p>']
    body += _figure6_section(debrief)
    body += _questions_section(debrief)
    body.append(_h2(_("Snapshots")))
    if not snapshots:
        body.append(_note(_("No snapshot was shown.")))
    for i, (title, fig) in enumerate(snapshots):
        body += [f"<h3>{_e(title)}</h3>", _figure(fig, f"snapshot-{i}", fallback=title)]
    body.append(_h2(_("Lessons")))
    body.append("<ul>" + "".join(f"<li><b>{_e(title)}</b>: {_e(what)}</li>" for title, what in debrief.lessons)
                + "</ul>" if debrief.lessons else _note(_("The class followed no lesson.")))
    lang = i18n.current().replace("_", "-")  # BCP 47: "en", "es", "zh-Hans"
    return (f"<!DOCTYPE html>\n<html lang=\"{_e(lang)}\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>{''.join(body)}</body></html>")


def _day(when: dt.datetime) -> str:
    """When the page was made: "06 December 2026, 14:05" in English, the reader's long date elsewhere."""
    code = i18n.current()
    if code in (i18n.SOURCE, i18n.PSEUDO) or i18n.Locale is None:
        return when.strftime("%d %B %Y, %H:%M")
    from babel.dates import format_date, format_time
    loc = i18n.babel_locale(code)
    return f"{format_date(when, 'long', locale=loc)}, {format_time(when, 'HH:mm', locale=loc)}"
