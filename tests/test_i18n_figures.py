"""The figures speak the reader's language: in the pseudo language (every translated sentence reads ⟦like this⟧)
the training curves', a loss landscape's and the debrief's words come back translated, and net names stay as they
are. The real catalogues (es, zh_Hans) are checked by tests/test_i18n.py; this file needs none of them.
"""
import re

import pytest

from explorer import i18n
from explorer.classroom.debrief import Debrief, Outcome
from explorer.classroom.records import ClassInfo
from explorer.figures import landscape_surfaces, training_curves
from explorer.figures.debrief import debrief_html
from explorer.figures.style import RunSeries
from explorer.figures.words import words_of
from explorer.store.records import Metric

OPEN, CLOSE = i18n.PSEUDO_OPEN, i18n.PSEUDO_CLOSE


@pytest.fixture
def pseudo(monkeypatch):
    monkeypatch.setenv("EXPLORER_PSEUDO_LANGUAGE", "1")
    with i18n.using(i18n.PSEUDO) as code:
        assert code == i18n.PSEUDO
        yield code


def translated(text: str) -> bool:
    """Every word of `text` is inside ⟦⟧ (names, numbers and punctuation may sit outside)."""
    rest, inner = text, re.compile(re.escape(OPEN) + "[^" + OPEN + CLOSE + "]*" + re.escape(CLOSE))
    while inner.search(rest):  # a translated sentence may hold translated parts: innermost first
        rest = inner.sub(" ", rest)
    rest = re.sub(r"plain-\d+|resnet-\d+|[\d.,%:;()\s]", " ", rest)
    return OPEN in text and not re.search(r"[^\W\d_]{2,}", rest)


def _run(name: str, depth: int, plain: bool, errors: list[float]) -> RunSeries:
    records = tuple(Metric(type="epoch", run=name, epoch=e, train_error=v, test_error=v + 0.01)
                    for e, v in enumerate(errors, start=1))
    return RunSeries(name, depth, plain, "completed", records)


def test_the_training_curves_read_in_the_readers_language_and_keep_net_names(pseudo):
    fig = training_curves([_run("plain-20", 20, True, [0.5, 0.2]), _run("plain-56", 56, True, [0.6, 0.3])])
    words = words_of(fig)
    assert translated(words.takeaway), words.takeaway
    assert "plain-20" in words.takeaway and "plain-56" in words.takeaway
    assert translated(fig.layout.title.text)
    assert translated(fig.layout.xaxis.title.text) and translated(fig.layout.yaxis.title.text)
    assert all(translated(c) for c in words.table.columns)
    assert {t.name for t in fig.data} == {"plain-20", "plain-56"}  # net names are not translated


def test_a_landscape_reads_in_the_readers_language(pseudo):
    grid = {"alpha": [-1.0, 0.0, 1.0], "beta": [-1.0, 0.0, 1.0], "loss": [[3.0, 2.0, 3.0], [2.0, 1.0, 2.0],
                                                                        [3.0, 2.0, 3.0]]}
    fig = landscape_surfaces({"plain-20": grid, "resnet-20": grid})
    words = words_of(fig)
    assert translated(words.takeaway) and "plain-20" in words.takeaway, words.takeaway
    assert translated(fig.layout.title.text)
    assert translated(fig.layout.xaxis.title.text) and translated(fig.layout.yaxis.title.text)
    assert [a.text for a in fig.layout.annotations][:2] == ["plain-20", "resnet-20"]  # panel titles: net names


def test_the_debrief_page_reads_in_the_readers_language(pseudo):
    curves = {name: [[{"epoch": 1, "train_error": v, "test_error": v}, {"epoch": 2, "train_error": v / 2,
                                                                         "test_error": v / 2}]]
              for name, v in (("plain-20", 0.2), ("plain-56", 0.4))}
    debrief = Debrief(info=ClassInfo("c1", "ABC123", "Physics 1", "teacher", 0.0), made=0.0,
                      names={"ann": "Otter"}, asked=(),
                      outcomes={"sweep": Outcome("sweep", "digits", "digits", 2, curves)}, finals={}, lessons=())
    page = debrief_html(debrief)
    headings = re.findall(r"<h[12]>(.*?)</h[12]>", page)
    assert len(headings) >= 4 and all(translated(h) for h in headings), headings
    notes = re.findall(r'<p class="note">(.*?)</p>', page)  # the first, the papers' scale, is explorer.figures.papers'
    assert len(notes) == 4 and all(translated(n) for n in notes[1:]), notes
    assert all(translated(m) for m in re.findall(r'<p class="meta">(.*?)</p>', page))
    assert all(translated(c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", page))
    assert "<summary>" + OPEN + "Show as table" + CLOSE + "</summary>" in page
    assert "plain-56" in page and '<html lang="qps">' in page


def test_english_is_unchanged_and_the_debrief_says_its_language():
    with i18n.using("en"):
        fig = training_curves([_run("plain-20", 20, True, [0.5, 0.2])])
    assert words_of(fig).takeaway.startswith("After 2 epochs the training error ends at 20.0% for plain-20.")
    assert fig.layout.xaxis.title.text == "epoch" and OPEN not in fig.layout.title.text
