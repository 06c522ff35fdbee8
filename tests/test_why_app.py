"""The "Why it works" page in Streamlit's AppTest, on the shipped digits twin (its default): each view draws its
charts from the real nets, with the sentence built from their own numbers.
"""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def app(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/why.py").run()
    assert not at.exception, at.exception
    yield at
    from pages.common import job_manager
    job_manager().shutdown()
    st.cache_resource.clear()


def _charts(at) -> dict:
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def _open(at, tab: str):
    at.session_state["why_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_the_gradient_highway_view_splits_both_nets_before_and_after_training(app):
    at = _open(app, "Gradient highway")
    assert at.selectbox(key="why_exp").value == at.session_state["why_shipped"]
    fig = _charts(at)["why_highway"]
    names = {t["name"] for t in fig["data"] if t.get("showlegend", True)}
    assert names == {"resnet-20: through the shortcut", "resnet-20: through the branch", "plain-20: through its layers"}
    assert len(fig["data"]) == 6  # three lines in each of the two panels (initial and trained weights)
    text = " ".join(m.value for m in at.markdown)
    assert "At initialisation:" in text and "After training:" in text and "median" in text


def test_the_ensembles_view_draws_path_lengths_and_deletions(app):
    at = _open(app, "Ensembles of paths")
    figures = _charts(at)
    assert [t["name"] for t in figures["why_paths"]["data"]] == ["resnet-20"]
    assert len(figures["why_paths"]["data"][0]["x"]) == 10  # 9 units: paths of length 0..9
    deletions = {t["name"]: t["x"] for t in figures["why_deletions"]["data"]}
    assert deletions == {"plain-20": list(range(8)), "resnet-20": list(range(10))}
    assert any("with nothing deleted" in c.value for c in at.caption)


def test_take_it_home_offers_the_script_with_the_apps_numbers(app):
    at = _open(app, "Take it home")
    button = at.get("download_button")
    assert len(button) == 1 and button[0].proto.label == "Download the script"
    assert at.code and "--device cpu" in at.code[0].value
    assert any("resnet-20: 0.63%" in c.value for c in at.caption)  # the shipped twin's recorded final error
