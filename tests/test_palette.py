"""The charts' colours, computed: text at 4.5:1 and lines at 3:1 on the light and dark backgrounds (WCAG 2.2 SC 1.4.3,
1.4.11), and palette colours told apart under simulated protanopia, deuteranopia and tritanopia (Machado et al.
2009) by their CIEDE2000 difference. The colour arithmetic itself is checked against Sharma et al.'s published data.
"""
from __future__ import annotations

import itertools

import plotly.graph_objects as go
import pytest

from explorer.figures.contrast import ciede2000, contrast_ratio, seen_difference, simulate
from explorer.figures.style import DARK, LIGHT, PALETTE, PALETTE_DARK, THEMES, RunSeries, apply_layout, run_line, themed
from pages.a11y import _FADED, _RING

# CIEDE2000's just-noticeable difference is about 2.3 (Sharma 2003). Lines are thin marks, which need several times
# that to be told apart at a glance (Szafir 2017, "Modeling color difference for visualization design"): we ask for
# 6 (2.6 JND) between every two colours of a palette, under normal vision and each simulated dichromacy. A chart
# shows up to eight runs at once (a placement comparison), so every pair counts; plain and residual never rely on
# colour (dashed against solid, named in the legend).
MIN_DIFFERENCE = 6.0
VISIONS = (None, "protanopia", "deuteranopia", "tritanopia")


def test_ciede2000_matches_sharma_wu_dalal_2005_test_data():
    pairs = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425), ((50, 2.5, 0), (58, 24, 15), 19.4535),
             ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
             ((22.7233, 20.0904, -46.694), (23.0331, 14.973, -42.5619), 2.0373),
             ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
             ((50, 2.5, 0), (50, 0, -2.5), 4.3065)]
    for a, b, expected in pairs:
        assert ciede2000(a, b) == pytest.approx(expected, abs=1e-4)
        assert ciede2000(b, a) == pytest.approx(expected, abs=1e-4)


def test_contrast_ratio_is_wcag_s():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#828180", "#FFFFFF") == pytest.approx(3.88, abs=0.01)  # Streamlit's caption, as axe says


def test_dichromat_simulation_merges_red_and_green_but_keeps_grey():
    # Deuteranopes and protanopes confuse red and green; nobody confuses greys with anything new.
    for vision in ("protanopia", "deuteranopia"):
        assert seen_difference("#D55E00", "#009E73", vision) < seen_difference("#D55E00", "#009E73") / 2
    for vision in ("protanopia", "deuteranopia", "tritanopia"):
        assert simulate("#808080", vision) == pytest.approx((128 / 255,) * 3, abs=0.01)


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_chart_text_and_lines_meet_wcag_on_their_background(theme):
    assert contrast_ratio(theme.text, theme.background) >= 4.5  # ticks, legends, titles (SC 1.4.3)
    assert contrast_ratio(theme.axis, theme.background) >= 3.0  # axis and zero lines (SC 1.4.11)
    for colour in theme.palette:
        assert contrast_ratio(colour, theme.background) >= 3.0, colour  # data lines (SC 1.4.11)
    assert contrast_ratio(_FADED[theme.name], theme.background) >= 4.5  # captions (pages.a11y)
    assert contrast_ratio(_RING[theme.name], theme.background) >= 3.0  # the focus ring (SC 2.4.11)


@pytest.mark.parametrize("palette", [PALETTE, PALETTE_DARK], ids=["light", "dark"])
def test_palette_colours_stay_apart_for_colour_blind_viewers(palette):
    worst = min((seen_difference(a, b, v), a, b, v) for a, b in itertools.combinations(palette, 2) for v in VISIONS)
    assert worst[0] >= MIN_DIFFERENCE, worst


def test_the_dark_theme_recolours_a_chart_index_for_index_and_leaves_the_cached_one_alone():
    runs = [RunSeries("plain-20", 20, True), RunSeries("resnet-20", 20, False), RunSeries("plain-56", 56, True)]
    fig = go.Figure([run_line([1, 2], [0.5, 0.4], r, (PALETTE[i], "dash" if r.plain else "solid"), True)
                     for i, r in enumerate(runs)])
    fig.add_annotation(text="a note", x=1, y=0.5, showarrow=False)
    apply_layout(fig, "Training error")
    assert fig.layout.font.color == LIGHT.text and fig.layout.xaxis.tickfont.color == LIGHT.text
    dark = themed(fig, "dark")
    assert [t.line.color for t in dark.data] == list(PALETTE_DARK[:3])
    assert [t.line.dash for t in dark.data] == ["dash", "solid", "dash"]  # plain vs residual without colour
    assert dark.layout.paper_bgcolor == DARK.background and dark.layout.font.color == DARK.text
    assert dark.layout.yaxis.tickfont.color == DARK.text and dark.layout.annotations[0].font.color == DARK.text
    assert [t.line.color for t in fig.data] == list(PALETTE[:3]) and fig.layout.paper_bgcolor == LIGHT.background
    assert themed(fig, "light") is fig and set(THEMES) == {"light", "dark"}
