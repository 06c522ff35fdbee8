"""Words and numbers for charts (explorer.figures.words) and a curve you can hear (explorer.figures.sound)."""
import io
import wave

import numpy as np
import plotly.graph_objects as go
import pytest

from explorer.figures.curves import curves_takeaway, training_curves
from explorer.figures.sound import HIGH_HZ, LOW_HZ, SAMPLE_RATE, figure_sound, pitches, sonify
from explorer.figures.style import RunSeries
from explorer.figures.words import MissingWords, figure_table, say, without_words, words_of
from explorer.store.records import Metric


def _run(name, depth, plain, errors):
    records = tuple(Metric("epoch", epoch=float(i + 1), train_error=e, test_error=e + 0.02)
                    for i, e in enumerate(errors))
    return RunSeries(name, depth, plain, "completed", records)


RUNS = [_run("plain-20", 20, True, [0.5, 0.3, 0.2]), _run("plain-56", 56, True, [0.6, 0.5, 0.45]),
        _run("resnet-56", 56, False, [0.4, 0.1, 0.05])]


def test_curves_takeaway_numbers_are_the_charts_last_points():
    fig = training_curves(RUNS)
    words = words_of(fig)
    # the chart's own last training points (left panel), in %
    ends = {t.name: t.y[-1] for t in fig.data if t.xaxis in (None, "x")}
    for name, value in ends.items():
        assert f"{value:.1f}% for {name}" in words.takeaway
    assert "After 3 epochs" in words.takeaway
    assert "plain-56" in words.takeaway and "degradation problem" in words.takeaway
    # and the table is the chart's numbers: one row per run and epoch
    assert words.table.columns == ("run", "epoch", "training error (%)", "test error (%)")
    assert ("resnet-56", 3.0, 5.0, 7.0) in words.table.rows and len(words.table.rows) == 9


def test_degradation_sentence_follows_the_data():
    better = [_run("plain-20", 20, True, [0.5, 0.4]), _run("plain-56", 56, True, [0.4, 0.1])]
    assert "trains better" in curves_takeaway(better) and "degradation" not in curves_takeaway(better)
    assert curves_takeaway([]).startswith("No epoch has finished yet")


def test_a_gap_of_a_point_near_chance_is_not_called_the_degradation_problem():
    """After one epoch of Figure 6 every net sat near chance and plain-56 ended 1.1 points above plain-20: the words
    called that the degradation problem. Two points (DEGRADATION_GAP_POINTS) are the least they name."""
    near = [_run("plain-20", 20, True, [0.857]), _run("plain-56", 56, True, [0.868])]
    words = curves_takeaway(near)
    assert "too close together to say which trains worse" in words and "degradation" not in words, words
    at_gap = [_run("plain-20", 20, True, [0.30]), _run("plain-56", 56, True, [0.32])]
    assert "the degradation problem" in curves_takeaway(at_gap)
    assert "trains better" in curves_takeaway([_run("plain-20", 20, True, [0.30]), _run("plain-56", 56, True, [0.2])])


def test_a_chart_without_words_is_refused_and_words_stay_off_the_wire():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="a"))
    with pytest.raises(MissingWords):
        words_of(fig)
    with pytest.raises(MissingWords):
        say(fig, "  ")
    say(fig, "It rises from 3 to 4.")
    assert words_of(fig).takeaway == "It rises from 3 to 4."
    assert words_of(fig).table.rows == (("a", 1, 3), ("a", 2, 4))
    assert "explorer_words" not in (without_words(fig).to_json())


def test_figure_table_of_a_heatmap_has_every_cell():
    fig = go.Figure(go.Heatmap(z=[[1.0, 2.0], [3.0, float("nan")]], x=["e0", "e1"], y=["c1", "c2"], name="net"))
    table = figure_table(fig)
    assert table.rows == (("net", "c1", "e0", 1.0), ("net", "c1", "e1", 2.0), ("net", "c2", "e0", 3.0),
                          ("net", "c2", "e1", None))


def test_pitch_order_is_value_order():
    values = [0.66, 0.1, 0.3, None, 0.006, 0.5]
    hz = pitches(values, 0.006, 0.66)
    finite = [(v, h) for v, h in zip(values, hz, strict=True) if v is not None]
    assert [v for v, _ in sorted(finite, key=lambda p: p[1])] == sorted(v for v, _ in finite)
    assert hz[3] is None and min(h for h in hz if h) == pytest.approx(LOW_HZ) and max(h for h in hz if h) == \
        pytest.approx(HIGH_HZ)


def test_the_wav_plays_the_pitches_in_order():
    sound = sonify([("plain-56", [60.0, 50.0, 45.0], True), ("resnet-56", [40.0, 10.0, 5.0], False)], "error (%)")
    with wave.open(io.BytesIO(sound.wav)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (SAMPLE_RATE, 2, 1)
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    note = int(SAMPLE_RATE * 0.16)
    heard = []
    for start in [0, note, 2 * note]:  # the first series' notes: the strongest frequency of each
        chunk = samples[start + 200:start + note - 200]
        spectrum = np.abs(np.fft.rfft(chunk))
        heard.append(np.fft.rfftfreq(len(chunk), 1 / SAMPLE_RATE)[spectrum.argmax()])
    expected = pitches([60.0, 50.0, 45.0], 5.0, 60.0)
    assert heard == pytest.approx(expected, rel=0.03)
    assert heard[0] > heard[1] > heard[2]
    assert "plain-56 (a reedy tone), then resnet-56 (a pure tone)" in sound.sentence and "60%" in sound.sentence


def test_figure_sound_plays_the_training_panel():
    sound = figure_sound(training_curves(RUNS))
    assert sound.sentence.startswith("You hear plain-20") and "higher error" in sound.sentence
    with pytest.raises(ValueError, match="no values"):
        sonify([("a", [None, None], True)], "error")


def test_pages_draw_charts_only_through_display():
    """Every chart and diagram goes through pages.display.plot / diagram, which give it its words (issue 23)."""
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    direct = []
    for path in [root / "streamlit_app.py", *sorted((root / "pages").glob("*.py"))]:
        if path.name == "display.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("plotly_chart", "graphviz_chart", "pyplot", "altair_chart"):
                direct.append(f"{path.name}:{node.lineno} {node.func.attr}")
    assert direct == []


def test_a_page_refuses_a_chart_without_words():
    import pages.display
    assert pages.display.STRICT_WORDS
