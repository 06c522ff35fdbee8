"""Issue 19, finding 3 (and part of 8): everything a user named is shown as plain text on every page and figure.

A hostile-name corpus (a markdown link, Streamlit's :red[...] and :material/..: directives, an emoji shortcode,
bold, HTML, <script>, maths, code, an autolink, a newline, a very long name, a right-to-left override, a zero-width
space) goes through (a) the helpers themselves; (b) every page of the app in AppTest, over one run store whose
class folders, runs, class, member and question carry those names: no markdown element shows a corpus entry's
live markup outside a code span, and no plotly figure holds a raw `<a` or `<script`; (c) a check of the source
that pages and figures pass user-named fields through the helpers. Also the low items of finding 8: a class
folder name of 256 bytes, display names that pass for the teacher or a classmate, and the teacher's wait.
"""
from __future__ import annotations

import ast
import html
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.access.teacher import TeacherGate, refusal_sentence
from explorer.classroom.classes import name_refusal, name_skeleton
from explorer.text import MAX_SHOWN_CHARS, clean, plain_text, plot_text, plot_texts, reads_plainly

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("torch_one_thread")

# name -> (the hostile text, a piece of it that must never reach a page outside a code span: its live markup)
CORPUS = {
    "link": ("[Teacher notice: log in here](https:evil.example)", "](https:evil"),
    "colour": (":red[**Your session expired**]", ":red["),
    "bold": ("**bold** and _it_", "**bold** and"),
    "anchor": ("<a href=https:evil.example>click here", "<a href"),
    "script": ("<script>alert(1)", "<script"),
    "maths": ("$x^2$ costs $5", "$x^2$"),
    "code": ("`code` and ``more``", "`code` and"),
    "autolink": ("www.evil.example and https:evil.example", "www.evil"),
    "icon": (":material/warning: update now", ":material/warning:"),
    "emoji": (":smile: :rotating_light:", ":smile:"),
    "newline": ("line one\n# heading", "# heading"),
    "long": ("L" * 3000, "L" * (MAX_SHOWN_CHARS + 1)),
    "bidi": ("invoice\u202egnp.exe", "\u202e"),
    "zero-width": ("Tea\u200bcher", "\u200b"),
}
PLAIN_NAMES = ["Ann", "golden retriever", "Zoë O'Neil-Smith", "Ωmega 3", "猫", "Which is deeper: plain-20 or plain-56?"]
_SPANS = re.compile(r"(?<!`)(`+)(?!`) (.*?) \1(?!`)")


def outside_code_spans(markdown: str) -> str:
    """The markdown with every code span (as plain_text writes them) taken out: what markdown still reads."""
    return _SPANS.sub("", markdown)


# ----------------------------------------------------------------------------- (a) the helpers
@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_text_shows_exactly_its_visible_text_markup_in_one_code_span(name):
    text, tell = CORPUS[name]
    shown, visible = plain_text(text), clean(text)
    fence = re.match(r"`*", shown).group()
    assert shown.replace("\u2060", "") == (f"{fence} {visible} {fence}" if fence else visible)
    assert (not fence or fence not in visible) and ":material/" not in shown  # Streamlit rewrites that even in code
    assert bool(fence) == (name not in ("long", "bidi", "zero-width"))  # only markup needs the span
    assert tell not in outside_code_spans(shown)
    assert "\n" not in shown and "\u202e" not in shown and "\u200b" not in shown
    assert len(shown) <= MAX_SHOWN_CHARS + 2 * len(fence) + 2


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_an_ordinary_name_or_sentence_reads_as_it_is(name):
    assert reads_plainly(name) and plain_text(name) == name


@pytest.mark.parametrize("text", ["1. first", "- item", "+ x", "a  b", " padded", "x_y_", "a|b", "a~b~", "C#",
                                  "ann@school.example", "&lt;", "a\\b", "{x}", "a:b", "WWW.x", "^", "1) x"])
def test_anything_markdown_could_read_goes_in_a_code_span(text):
    assert not reads_plainly(clean(text)) and plain_text(text).startswith("`")


@pytest.mark.parametrize("name", list(CORPUS))
def test_plotly_text_has_no_tag_and_reads_back_as_the_visible_text(name):
    text, _ = CORPUS[name]
    shown = plot_text(text)
    assert "<" not in shown and ">" not in shown and html.unescape(shown) == clean(text)
    assert plot_texts([text, "a & b"]) == [shown, "a &amp; b"]


# ----------------------------------------------------------------------------- (b) every page, one hostile store
def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


# Class folders named from the corpus: no '/' (a folder), no < or > (no class name holds them: refused at upload).
FOLDERS = [CORPUS["link"][0], CORPUS["colour"][0] + " " + CORPUS["emoji"][0], CORPUS["maths"][0] + " " +
           CORPUS["bold"][0]]


def hostile_zip(folders: list = FOLDERS, per_class: int = 6) -> bytes:
    """These class folders, each with a few distinct real PNGs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c, folder in enumerate(folders):
            for k in range(per_class):
                zf.writestr(f"{folder}/{k}.png", _png(30 * c + 3 * k))
    return buf.getvalue()


RUN_NAMES = [CORPUS["colour"][0] + " " + CORPUS["bidi"][0], CORPUS["anchor"][0] + " " + CORPUS["emoji"][0]]
CLASS_NAME = CORPUS["link"][0] + " " + CORPUS["maths"][0]
MEMBER_NAME = CORPUS["script"][0] + " " + CORPUS["zero-width"][0] + " " + CORPUS["newline"][0]
PROMPT = CORPUS["icon"][0] + " " + CORPUS["bold"][0] + " " + CORPUS["autolink"][0]
CHOICES = [CORPUS["code"][0], CORPUS["anchor"][0]]
TELLS = [tell for _, tell in CORPUS.values()]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One run store holding the corpus: an uploaded dataset's class folders, a trained twin whose runs are named
    from it (as an imported old store may name them), a class, a member and a question; returns what pages need."""
    import sqlalchemy as sa
    import streamlit as st

    from explorer.classroom import questions as Q
    from explorer.classroom import tables as T
    from explorer.classroom.classes import Classroom
    from explorer.data.config import DataConfig, model_config_for
    from explorer.data.registry import dataset_info
    from explorer.jobs.request import JobRequest
    from explorer.jobs.worker import run_experiment
    from explorer.nets.config import ModelConfig
    from explorer.store.runstore import RunStore
    from explorer.store.uploaded import keep_upload
    from explorer.training.experiments import twin
    from explorer.training.recipes import TrainConfig

    root = tmp_path_factory.mktemp("hostile")
    mp = pytest.MonkeyPatch()
    mp.setenv("EXPLORER_RUNS_DIR", str(root / "runs"))
    mp.setenv("OMP_NUM_THREADS", "1")
    mp.delenv("EXPLORER_TEACHER_PASSWORD", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    store = RunStore(root / "runs")
    folder, _ = keep_upload(store, hostile_zip())
    data = DataConfig("folder", path=str(folder))
    net = model_config_for(ModelConfig(depth=8, width=0.25), dataset_info("folder", str(folder)))
    spec = twin(net, data, TrainConfig(epochs=1, batch_size=8, device="cpu", schedule="constant", log_every=1))
    request = JobRequest.training(spec, "someone")
    exp_id = store.create_experiment(request.to_json(), request.runs_json(), owner="someone")
    exp = run_experiment(store, exp_id)
    assert exp.status == "completed", exp.message
    for run, name in zip(exp.runs, RUN_NAMES, strict=True):
        store.update_run(exp_id, run.id, name=name)
    room = Classroom(store)
    info = room.create("teacher-cookie", "x")
    room.tx(lambda c: c.execute(T.classes.update().where(T.classes.c.id == info.id).values(name=CLASS_NAME)))
    question = Q.open_question(room, info.id, PROMPT, CHOICES, "twin")  # it hides the twin until answered
    yield {"store": store, "exp": exp_id, "code": info.code, "room": room, "folder": folder,
           "answer": lambda owner: Q.answer(room, question, owner, CHOICES[1]),
           "member": lambda owner: room.tx(lambda c: c.execute(T.class_members.update().where(
               T.class_members.c.owner == owner).values(name=MEMBER_NAME))), "sa": sa}
    from pages.common import job_manager
    job_manager().shutdown(grace_s=1.0)
    room.close_engines()
    st.cache_resource.clear()
    mp.undo()


MARKDOWN_TYPES = ("markdown", "caption", "info", "warning", "error", "success", "subheader", "header", "title",
                  "toast", "exception")


def _markdown_values(at) -> list[str]:
    """Every text the browser reads as markdown: markdown, captions, alerts, headings, toasts; widget labels,
    help and radio options; expander and tab labels; metric labels."""
    values = [e.value for kind in MARKDOWN_TYPES for e in at.get(kind) if isinstance(e.value, str)]
    for kind in ("button", "radio", "selectbox", "multiselect", "text_input", "number_input", "checkbox", "toggle",
                 "slider", "download_button", "expander", "tab", "metric"):
        for e in at.get(kind):
            proto = getattr(e, "proto", None)
            values += [getattr(proto, f) for f in ("label", "help") if isinstance(getattr(proto, f, None), str)]
            if kind == "radio":
                values += list(proto.options)
    return values


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _figure_strings(at) -> list[str]:
    return [s for c in at.get("plotly_chart") for s in _strings(json.loads(c.proto.spec))]


def _check(at, seen: dict, page: str) -> None:
    """No corpus markup outside a code span in any markdown, no raw tag in any figure; note what the page showed."""
    assert not at.exception, (page, at.exception)
    for value in _markdown_values(at):
        live = outside_code_spans(value)
        assert not [t for t in TELLS if t in live], (page, value)
        seen["markdown"] += any(t in value for t in TELLS)  # a corpus entry reached it, inside its code span
    for text in _figure_strings(at):
        assert "<a" not in text and "<script" not in text, (page, text)
        seen["figure"] += "&lt;a href" in text or "&lt;script" in text


def test_every_page_shows_the_hostile_store_s_names_as_plain_text(hostile):
    from helpers import open_app
    seen = {"markdown": 0, "figure": 0}
    student = open_app(join=hostile["code"])
    student.text_input(key="sidebar_join_name").input("Ann")
    student.button(key="sidebar_join").click().run()
    hostile["member"](student.session_state["owner"])  # the store holds a hostile display name (an old record)
    for page in ("home", "runs", "lessons", "data"):  # Build shows no stored name but the class caption, as these
        student.switch_page(f"pages/{page}.py").run()
        _check(student, seen, page)
    tagged = hostile_zip([CORPUS["anchor"][0], "cats"])
    student.file_uploader(key="data_zip").set_value(("<a href=x>.zip", tagged, "application/zip")).run()
    assert [e.value for e in student.error] == [plain_text(ANCHOR_REFUSED)]
    student.file_uploader(key="data_zip").set_value((":red[x].zip", hostile_zip(), "application/zip")).run()
    _check(student, seen, "data with the zip")
    assert set(plot_texts(FOLDERS)) <= set(_figure_strings(student))  # the class folders reached the sample strip
    student.switch_page("pages/runs.py").run()
    student.multiselect(key="runs_overlay").set_value(student.multiselect(key="runs_overlay").options[:2]).run()
    _check(student, seen, "runs with the overlay")
    student.session_state["watch"] = hostile["exp"]
    student.switch_page("pages/train.py").run()
    _check(student, seen, "train (the question first)")
    assert any(plain_text(PROMPT) in v for v in _markdown_values(student))
    hostile["answer"](student.session_state["owner"])  # predicted: the results show, and the answer beside them
    student.switch_page("pages/explain.py").run()
    student.radio(key="explain_source").set_value("run").run()
    _check(student, seen, "explain")
    true_class = [c.value for c in student.caption if c.value.startswith("True class:")]
    assert true_class and true_class[0].startswith("True class: **`"), true_class  # a class folder, fenced
    for page, key in (("inspect", "inspect_exp"), ("why", "why_exp")):
        student.switch_page(f"pages/{page}.py").run()
        student.selectbox(key=key).set_value(hostile["exp"]).run()
        _check(student, seen, page)
    teacher = open_app()
    teacher.session_state["teacher"] = True  # what the sidebar's password box sets
    teacher.session_state["watch"] = hostile["exp"]
    teacher.switch_page("pages/train.py").run()
    _check(teacher, seen, "train (the teacher: curves)")
    teacher.switch_page("pages/classroom.py").run()
    _check(teacher, seen, "class")
    assert any(plain_text(MEMBER_NAME) in v for v in _markdown_values(teacher))  # the roster's row
    assert seen["figure"] >= 4 and seen["markdown"] >= 5, seen  # the names did reach pages and figures


# ----------------------------------------------------------------------------- (c) the source passes names through
# A guard on the source, not the proof (the pages above are): identifiers that hold user-named text, and ours.
USER_FIELDS = {"name", "names", "prompt", "classes", "choices", "message", "short", "heavy", "labels"}
OURS = {"hidden.short", "cfg.name", "twin.name", "chosen.title", "base.name", "METHODS[method].label", "x.title",
        "followed.predict"}
MARKDOWN_CALLS = {"markdown", "caption", "info", "warning", "error", "success", "subheader", "header", "title",
                  "toast", "button", "metric", "expander"}
HELPERS = {"plain_text", "clean", "plot_text", "plot_texts"}


def _unwrapped_fields(node: ast.AST, fields: set) -> set[str]:
    """Identifiers from `fields` used in node outside a call to a helper (or map(helper, ...)) and outside a test
    (`labels is not None`)."""
    if isinstance(node, ast.Call):
        called = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if called in HELPERS or (called == "map" and getattr(node.args[0], "id", "") in HELPERS):
            return set()
    if isinstance(node, ast.Compare) or ast.unparse(node) in OURS:
        return set()
    own = {node.id} if isinstance(node, ast.Name) else {node.attr} if isinstance(node, ast.Attribute) else set()
    return (own & fields) | {f for child in ast.iter_child_nodes(node) for f in _unwrapped_fields(child, fields)}


@pytest.mark.parametrize("path", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_pass_user_named_fields_in_markdown_through_plain_text(path):
    """In the text given to a call that draws markdown, every value naming a user field (`.name`, `prompt`,
    `classes`...) goes through plain_text (or is one of ours, listed in OURS)."""
    raw = [f"{path.name}:{call.lineno}: {ast.unparse(call.args[0])}" for call in ast.walk(ast.parse(path.read_text()))
           if isinstance(call, ast.Call) and getattr(call.func, "attr", None) in MARKDOWN_CALLS and call.args
           and _unwrapped_fields(call.args[0], USER_FIELDS)]
    assert not raw, raw


FIGURE_TEXT_KEYS = {"name", "text", "hovertext", "subplot_titles", "title", "legendgroup"}
FIGURE_FIELDS = {"name", "names", "labels", "lb", "classes", "title", "prompt", "results", "panels"}


def _is_plotly(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "go") or \
        getattr(func, "id", getattr(func, "attr", "")) in ("make_subplots", "add_annotation", "update_layout", "dict")


@pytest.mark.parametrize("path", sorted((ROOT / "explorer" / "figures").glob("*.py")), ids=lambda p: p.name)
def test_figures_pass_names_into_plotly_text_through_plot_text(path):
    """Each plotly text argument (name=, text=, hovertext=, subplot_titles=, title=) that holds a name goes through
    plot_text or plot_texts."""
    raw = [f"{path.name}:{kw.value.lineno}: {kw.arg}={ast.unparse(kw.value)}"
           for call in ast.walk(ast.parse(path.read_text())) if isinstance(call, ast.Call) and _is_plotly(call)
           for kw in call.keywords if kw.arg in FIGURE_TEXT_KEYS and _unwrapped_fields(kw.value, FIGURE_FIELDS)]
    assert not raw, raw


# ----------------------------------------------------------------------------- finding 8, the low items
ANCHOR_REFUSED = "A class folder's name holds < or >, which class names may not; rename it and zip it again."


def test_a_class_folder_name_with_a_tag_is_refused_with_one_sentence(tmp_path):
    from explorer.data.uploads import UploadRefused, import_zip
    with pytest.raises(UploadRefused) as refused:
        import_zip(hostile_zip([CORPUS["anchor"][0], "cats"]), tmp_path / "uploads")
    assert str(refused.value) == ANCHOR_REFUSED and not (tmp_path / "uploads").exists()


def test_a_class_folder_name_of_256_bytes_is_cut_to_a_name_the_disk_takes(tmp_path):
    from explorer.data.uploads import MAX_CLASS_NAME_BYTES, import_zip
    long = "😀" * 64  # 256 bytes in UTF-8: ENAMETOOLONG on ext4 before
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c, folder in enumerate((long, "cats")):
            for k in range(2):
                zf.writestr(f"{folder}/{k}.png", _png(60 * c + k))
    folder, preview = import_zip(buf.getvalue(), tmp_path)
    kept = sorted(preview["classes"])
    assert kept == sorted(["😀" * (MAX_CLASS_NAME_BYTES // 4), "cats"])
    assert all(len(p.name.encode()) <= MAX_CLASS_NAME_BYTES for p in folder.iterdir())


@pytest.mark.parametrize("typed", ["Teacher", "the teacher", "Mr Teacher", "Теасher", "ＴＥＡＣＨＥＲ", "T e a c h e r",
                                   "Teácher", "Tea\u200bcher", "Admin", "Student 1", "student 12", "Ѕtudent 2",
                                   "STUDENT３", "Student"])
def test_a_display_name_that_passes_for_the_teacher_or_a_given_name_is_refused(typed):
    from explorer.classroom.classes import clean_name
    assert name_refusal(clean_name(typed, "")) == \
        "That name is kept for the teacher or given by the class; choose your own name."


def test_look_alike_names_fold_together_and_ordinary_names_pass():
    assert name_skeleton("Аnn") == name_skeleton("ann") == name_skeleton("A.n-n") == "ann"  # Cyrillic А
    assert name_refusal("Аnn", ["Bob", "Ann"]).startswith("Someone in the class already has a name")
    for ok in ("Ann", "Zoë O'Neil-Smith", "Yusuf", "Student Council Rep", "李雷", "Olga Petrova", "Badminton Fan"):
        assert name_refusal(ok, ["Bob"]) is None, ok


@pytest.mark.parametrize("wait, words", [(0.0, None), (0.2, "1 s"), (1.0, "1 s"), (59.01, "60 s"), (89.5, "90 s"),
                                         (90.5, "2 min"), (299.99, "5 min")])
def test_the_teacher_s_wait_is_rounded_up_never_0_s(wait, words):
    said = refusal_sentence(wait)
    assert said == ("That password is not the teacher's." if words is None else
                    f"That password is not the teacher's; try again in {words}.")


def test_the_real_teacher_refused_in_the_last_instant_of_a_wait_reads_1_s():
    now = [0.0]
    gate = TeacherGate(free=1, base_s=1.0, clock=lambda: now[0])
    gate.attempt("guess", "s3cret", "alice")
    now[0] = 0.9999
    ok, wait = gate.attempt("s3cret", "s3cret", "alice")
    assert not ok and 0 < wait < 0.01 and refusal_sentence(wait).endswith("try again in 1 s.")
