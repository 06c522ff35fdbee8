"""Hear a curve (issue 23): each series of a line chart as pitch over time, written as a WAV file with numpy.

One note per point; a higher value is a higher pitch, on one scale shared by every series so two nets compare by
ear. The series play one after another, each in its own timbre (a plain net's dashed line is a reedy tone, a
residual net's solid line a pure one), with a short silence between them. `pitches` is the mapping, tested on its
own: pitch order equals value order.
"""
from __future__ import annotations

import io
import math
import wave
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ..i18n import _, num

SAMPLE_RATE = 22_050
LOW_HZ, HIGH_HZ = 220.0, 880.0  # two octaves (A3 to A5): wide enough to hear, comfortable on laptop speakers
NOTE_S = 0.16  # one point; a long series is squeezed so it lasts at most SERIES_MAX_S
SERIES_MAX_S = 6.0
GAP_S = 0.5
MAX_SERIES = 6


@dataclass(frozen=True)
class Sound:
    """A WAV file (bytes) and the sentence that says what is heard, in order."""

    wav: bytes
    sentence: str


def pitches(values: Sequence[float | None], low: float, high: float) -> list[float | None]:
    """Each value's pitch in Hz: `low` maps to LOW_HZ, `high` to HIGH_HZ, evenly in octaves between (a gap: None).

    A flat range (low == high) plays the middle pitch.
    """
    span = high - low
    out: list[float | None] = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(None)
            continue
        share = 0.5 if span <= 0 else min(1.0, max(0.0, (v - low) / span))
        out.append(LOW_HZ * (HIGH_HZ / LOW_HZ) ** share)
    return out


def _tone(freq: float | None, seconds: float, reedy: bool) -> np.ndarray:
    n = int(SAMPLE_RATE * seconds)
    if freq is None:
        return np.zeros(n)
    t = np.arange(n) / SAMPLE_RATE
    wave_ = np.sin(2 * np.pi * freq * t)
    if reedy:  # odd harmonics: a clarinet-like tone, clearly not the pure one
        wave_ = wave_ + 0.45 * np.sin(2 * np.pi * 3 * freq * t) + 0.25 * np.sin(2 * np.pi * 5 * freq * t)
        wave_ /= 1.7
    fade = min(n // 2, int(0.01 * SAMPLE_RATE))  # 10 ms in and out: no clicks between notes
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave_[:fade] *= ramp
        wave_[-fade:] *= ramp[::-1]
    return wave_


def sonify(series: Sequence[tuple[str, Sequence[float | None], bool]], quantity: str) -> Sound:
    """The series (name, values, plain?) one after another as notes; `quantity` names the value ("training error
    (%)"). At most MAX_SERIES series are played."""
    series = [s for s in series if any(v is not None and math.isfinite(v) for v in s[1])][:MAX_SERIES]
    if not series:
        raise ValueError(_("This chart has no values to play yet."))
    finite = [float(v) for _x, vs, _y in series for v in vs if v is not None and math.isfinite(v)]
    low, high = min(finite), max(finite)
    parts: list[np.ndarray] = []
    for i, (_x, values, plain) in enumerate(series):
        note = min(NOTE_S, SERIES_MAX_S / max(1, len(values)))
        parts += [_tone(f, note, reedy=plain) for f in pitches(values, low, high)]
        if i < len(series) - 1:
            parts.append(np.zeros(int(SAMPLE_RATE * GAP_S)))
    samples = (np.concatenate(parts) * 0.6 * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.tobytes())
    order = _(", then ").join((_("{series} (a reedy tone)") if plain else _("{series} (a pure tone)")).format(
        series=name) for name, _x, plain in series)
    points = max(len(vs) for _x, vs, _y in series)
    unit = "%" if quantity.endswith("(%)") else ""
    quantity = quantity.removesuffix("(%)").strip()
    sentence = _("You hear {series}: one note per point ({points} at most), a higher pitch is a higher {quantity}, "
                 "from {low_hz} Hz at {low} to {high_hz} Hz at {high}.").format(
        series=order, points=points, quantity=quantity, low_hz=f"{LOW_HZ:.0f}", low=num(low) + unit,
        high_hz=f"{HIGH_HZ:.0f}", high=num(high) + unit)
    return Sound(buf.getvalue(), sentence)


def figure_series(fig: go.Figure) -> list[tuple[str, list[float | None], bool]]:
    """The named line series of a figure's first panel: (name, y values, dashed?), what `sonify` plays."""
    out = []
    for t in fig.data:
        if t.type != "scatter" or not t.name or "lines" not in (t.mode or "lines") or t.xaxis not in (None, "x") \
                or t.fill == "toself":  # a band's outline (the class's spread), not a curve
            continue
        ys = [None if v is None else float(v) for v in (t.y.tolist() if hasattr(t.y, "tolist") else t.y or ())]
        out.append((str(t.name), ys, bool(t.line and t.line.dash and t.line.dash != "solid")))
    return out


def figure_sound(fig: go.Figure) -> Sound:
    """`sonify` of the figure's first panel, the quantity named by its first y axis title."""
    title = fig.layout.yaxis.title.text if fig.layout.yaxis.title is not None else None
    return sonify(figure_series(fig), title or _("value"))
