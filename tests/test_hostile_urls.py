"""Hostile links and the Build page (issue 11, items 5-9): a link's values are echoed as plain text, accepted
exactly as the widgets accept them (clamped or dropped with one sentence), the page recovers; over-cap nets get
one sentence instead of being built; students never see tracebacks.

The app runs in Streamlit's AppTest with its own run store; nothing is mocked.
"""
import re
from pathlib import Path

import pytest
import tomllib
from memory import measure

from explorer.nets.caps import MAX_PARAMS
from explorer.text import plain_text
from explorer.urlstate import BATCH_SIZES, EPOCHS, LR, MAX_QUERY_VALUE_CHARS, WIDTHS, from_query

ROOT = Path(__file__).resolve().parent.parent
BUILD_GROWTH_MB = 150  # stated in docs/security.md: describing any net the Build page allows adds less than this
PHISH = ["[Teacher notice: log in here](https://evil.example/login)", "![pixel](https://evil.example/p.png)",
         ":red[Your session expired]", "<b>hi</b> $x^2$ `code` **bold**"]


def _one_sentence(text: str) -> bool:
    return text[:1].isupper() and text.endswith(".") and "\n" not in text and not re.search(r"\.\s+[A-Z]", text)


@pytest.fixture
def app(new_app):
    """app(page="", **query) -> an AppTest of streamlit_app.py after its first run (on that page, with that query),
    with its own run store (conftest's runs_dir)."""
    return new_app


# ----------------------------------------------------------------------------- item 6: echo as plain text
@pytest.mark.parametrize("value", PHISH)
def test_markdown_in_the_url_is_shown_as_plain_text(app, value):
    at = app(kind=value)
    assert not at.exception, at.exception
    shown = [w.value for w in at.warning]
    assert len(shown) == 1
    # One code span around the whole sentence: markdown, autolinks, colours and maths are not read inside it.
    fence = re.match(r"`+", shown[0]).group()
    assert shown[0] == f"{fence} The link's experiment kind {value!r} is not one we know; using twin. {fence}"
    assert fence not in shown[0][len(fence):-len(fence)]


@pytest.mark.parametrize("text", ["*plain*", "a `tick` inside", "``two``", "`", "line\nbreak :x:"])
def test_plain_text_fences_any_text_in_one_code_span(text):
    shown = plain_text(text)
    fence = re.match(r"`+", shown).group()
    assert shown.endswith(" " + fence) and shown[len(fence):-len(fence)].strip() == text.replace("\n", " ")
    runs = re.findall(r"`+", text)
    assert all(len(r) != len(fence) for r in runs)  # the inside never closes the span early


# ----------------------------------------------------------------------------- item 7: out of range, recovery
@pytest.mark.parametrize("query, key, shown", [
    ({"epochs": "201"}, "train_epochs", EPOCHS[1]),
    ({"epochs": "1000"}, "train_epochs", EPOCHS[1]),
    ({"lr": "10"}, "train_lr", LR[1]),
    ({"lr": "1e-300"}, "train_lr", LR[0]),
])
def test_an_out_of_range_value_is_clamped_with_one_sentence_and_the_train_page_works(app, query, key, shown):
    at = app("train", **query)
    assert not at.exception, at.exception
    assert at.number_input(key=key).value == pytest.approx(shown)
    at.radio(key="train_kind").set_value("sweep").run()  # the page keeps working for the rest of the session
    assert not at.exception, at.exception
    settings, problems = from_query(query)
    assert len(problems) == 1 and _one_sentence(problems[0]) and "using" in problems[0]


def test_a_build_link_with_width_8_is_clamped_to_the_slider(app):
    at = app("build", width="8")
    assert not at.exception, at.exception
    assert at.slider(key="build_width").value == WIDTHS[1]
    at.selectbox(key="build_depth").set_value(56).run()
    assert not at.exception, at.exception


# ----------------------------------------------------------------------------- item 8: exactly what the widgets take
def test_links_cannot_ask_for_more_than_the_widgets_offer():
    settings, problems = from_query({"depth": "1202", "width": "8", "epochs": "1000", "batch_size": "4096"})
    assert "depth" not in settings["model"] and settings["model"]["width"] == WIDTHS[1]
    assert settings["train"]["epochs"] == EPOCHS[1] and "batch_size" not in settings["train"]
    assert len(problems) == 4 and all(_one_sentence(p) for p in problems), problems
    assert any(", ".join(map(str, BATCH_SIZES)) in p for p in problems)


def test_a_long_value_is_dropped_without_being_echoed():
    settings, problems = from_query({"kind": "x" * 100_000, "epochs": "3"})
    assert settings["kind"] is None and settings["train"] == {"epochs": 3}
    assert len(problems) == 1 and len(problems[0]) < 200 and str(MAX_QUERY_VALUE_CHARS) in problems[0]


@pytest.mark.parametrize("text", ["٣", "١٠", "۵", "３", "1_0", "1e5e", "nan", "inf", "-0", "0x10", " 3"])
def test_only_ascii_numbers_are_read(text):
    settings, problems = from_query({"epochs": text, "lr": text})
    assert settings["train"] == {} and len(problems) == 2, (settings, problems)


def test_a_sweep_link_on_the_train_page_queues_nothing_enormous(app):
    at = app("train", depth="1202", width="8", epochs="1000", batch_size="4096")
    assert not at.exception, at.exception
    import streamlit  # noqa: F401 - the session state is read through AppTest
    cfg = at.session_state["model_cfg"]
    assert cfg["depth"] != 1202 and cfg["width"] <= WIDTHS[1]
    assert at.number_input(key="train_epochs").value == EPOCHS[1]


# ----------------------------------------------------------------------------- item 5: Build never builds a big net
def test_build_refuses_imagenet_resnet152_at_width_2_with_one_sentence(app):
    at = app("build")
    at.selectbox(key="build_dataset").set_value("cifar10").run()
    at.radio(key="build_family").set_value("imagenet").run()
    at.radio(key="build_block").set_value("bottleneck").run()
    at.selectbox(key="build_depth").set_value(152).run()
    at.slider(key="build_width").set_value(2.0).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and _one_sentence(at.error[0].value), [e.value for e in at.error]
    assert f"{MAX_PARAMS / 1e6:.0f} M" in at.error[0].value and not at.metric


def test_describing_the_biggest_allowed_net_allocates_no_weights():
    """What the Build page computes for ImageNet ResNet-152 (58 M parameters) on CIFAR-10, measured."""
    setup = """
        from explorer.data.config import model_config_for
        from explorer.data.registry import dataset_info
        from explorer.nets.config import preset
        from explorer.nets.cost import check_model_cost
        from explorer.nets.summary import block_diagram, layer_table, model_stats
        cfg = model_config_for(preset("resnet50", depth=152), dataset_info("cifar10"))
    """
    body = """
        for net in (cfg, cfg.plain()):
            check_model_cost(net)
            outcome["value"] = model_stats(net)["params"]
            layer_table(net, max_depth=3)
            block_diagram(net)
    """
    result = measure(setup, body)
    assert result["error"] is None, result
    assert result["value"] > 50e6 and result["growth_mb"] < BUILD_GROWTH_MB, result


# ----------------------------------------------------------------------------- item 9: no tracebacks for students
def test_students_never_see_error_details():
    from streamlit import config
    value = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["client"]["showErrorDetails"]
    assert value == config.ShowErrorDetailsConfigOptions.NONE.value  # a value this Streamlit accepts


def test_an_uncaught_error_reaches_the_browser_without_its_message_type_or_trace(monkeypatch):
    """Streamlit's own marshalling of an uncaught exception, under the shipped setting."""
    from streamlit import config
    from streamlit.elements.exception import marshall
    from streamlit.proto.Exception_pb2 import Exception as ExceptionProto
    value = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["client"]["showErrorDetails"]
    before = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", value)
    try:
        try:
            Path("/srv/secret/path/weights.pt").read_bytes()
        except OSError as exc:
            proto = ExceptionProto()
            marshall(proto, exc, apply_show_error_details=True)
    finally:
        config.set_option("client.showErrorDetails", before)
    text = f"{proto.message} {proto.type} {' '.join(proto.stack_trace)}"
    assert "/srv/secret" not in text and "FileNotFoundError" not in text and not proto.stack_trace

