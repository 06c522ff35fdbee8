"""Every widget in the app has a `key` (tests find widgets by key; state survives reruns).

Reads the page sources with `ast` and checks each call of a Streamlit widget function, whatever object
it is called on (st, a column, the sidebar).
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WIDGETS = {"button", "download_button", "checkbox", "toggle", "radio", "selectbox", "multiselect", "slider",
           "select_slider", "text_input", "text_area", "number_input", "date_input", "time_input",
           "file_uploader", "camera_input", "color_picker", "data_editor", "segmented_control", "pills",
           "feedback", "chat_input", "st_canvas", "form_submit_button"}
SOURCES = sorted([ROOT / "streamlit_app.py", *(ROOT / "pages").glob("*.py")])


def _unkeyed(path: Path) -> list:
    tree = ast.parse(path.read_text(), filename=str(path))
    missing = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name in WIDGETS and not any(k.arg == "key" for k in node.keywords):
            missing.append(f"{path.name}:{node.lineno} {name}(...)")
    return missing


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_widget_has_a_key(path):
    assert _unkeyed(path) == []


def test_the_check_sees_widgets(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import streamlit as st\ncol = st.columns(2)[0]\ncol.button('Go')\nst.slider('x', key='ok')\n")
    assert _unkeyed(bad) == ["bad.py:3 button(...)"]
