"""Which sentences of the app's pages are not wrapped for translation (tests/test_i18n.py; `python -m
tests.i18n_check` lists them). Read with `ast`, like the widget-key test.

A string in pages/ (or streamlit_app.py) needs `_()` (or `ngettext`, or `N_` where a constant is translated where
it is shown) when it is:
- a Streamlit text argument: the first argument of st.markdown, caption, write, title, header, subheader, info,
  warning, error, success, toast, spinner, expander, popover, metric, every widget's label, `help=`,
  `placeholder=`, `label=`, `caption=`, `text=`, `title=`, `page_title=`, `show_spinner=`, a tab's name;
- or any other literal that reads as words (two letters with a space between), except a docstring, a `key=`,
  a session-state or query-parameter key, a comparison's operand, or a line marked `# not for translation`
  (CSS, HTML scaffolding, SQL, log lines).
An f-string can never be extracted: it is always reported where it carries words (`_("... {n} ...").format(n=...)`).
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([ROOT / "streamlit_app.py", *(ROOT / "pages").glob("*.py")])
WRAPPERS = {"_", "N_", "ngettext"}
TEXT_CALLS = {"markdown", "caption", "write", "title", "header", "subheader", "text", "info", "warning", "error",
              "success", "toast", "spinner", "expander", "popover", "metric", "status", "button", "download_button",
              "link_button", "page_link", "checkbox", "toggle", "radio", "selectbox", "multiselect", "slider",
              "select_slider", "text_input", "text_area", "number_input", "date_input", "time_input",
              "file_uploader", "camera_input", "color_picker", "form_submit_button", "segmented_control", "pills",
              "dialog", "tabs", "Page", "progress", "confirmed"}
TEXT_KW = {"label", "help", "placeholder", "caption", "text", "title", "page_title", "show_spinner", "body",
           "question", "description", "alt"}
NOT_TEXT_KW = {"key", "type", "icon", "format", "url_path", "unsafe_allow_html", "page_icon", "layout", "on_change",
               "language", "mime", "file_name", "width", "height", "position", "initial_sidebar_state"}
WORDS = re.compile(r"^(?![\w.:/-]*[./_:][\w.:/-]*$).*[A-Za-z]{2,}", re.DOTALL)  # words, not a path or an icon
SENTENCE = re.compile(r"[A-Za-z]{2,}[,.;:!?'’)]*\s+[(\"'‘“]*[A-Za-z]{2,}")  # two words with a space between
MARK = "# not for translation"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _has_words(node: ast.AST, pattern: re.Pattern[str]) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(pattern.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return bool(pattern.search(" ".join(v.value for v in node.values if isinstance(v, ast.Constant))))
    return False


def _name(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)


def unwrapped(path: Path) -> list[str]:
    """'file:line: text' for each sentence in `path` that translation would miss."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    skip: set[int] = set()  # ids of string nodes that are fine where they are
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.Call) and _name(node) in WRAPPERS:
            skip.update(id(n) for a in node.args for n in ast.walk(a))
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in NOT_TEXT_KW:
                    skip.update(id(n) for n in ast.walk(kw.value))
        if isinstance(node, ast.Subscript):
            skip.update(id(n) for n in ast.walk(node.slice))
        if isinstance(node, ast.Compare):
            skip.update(id(n) for n in ast.walk(node) if isinstance(n, ast.Constant))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {
                "get", "pop", "setdefault", "startswith", "endswith", "split", "join", "replace"}:
            skip.update(id(a) for a in node.args if isinstance(a, ast.Constant))
    found = []

    def report(node: ast.AST) -> None:
        line = lines[node.lineno - 1]
        if MARK not in line and id(node) not in skip:
            text = ast.get_source_segment(source, node) or ""
            found.append(f"{_shown(path)}:{node.lineno}: {' '.join(text.split())[:90]}")
            skip.add(id(node))
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):  # Streamlit's text arguments: any words at all
        if isinstance(node, ast.Call) and _name(node) in TEXT_CALLS:
            first = [] if _name(node) in {"Page", "page_link"} else list(node.args[:1])  # those take a path first
            args = first + [kw.value for kw in node.keywords if kw.arg in TEXT_KW]
            if _name(node) == "tabs" and node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
                args += node.args[0].elts
            for arg in args:
                for part in (arg.body, arg.orelse) if isinstance(arg, ast.IfExp) else (arg,):
                    if _has_words(part, WORDS):
                        report(part)
    for node in ast.walk(tree):  # anything else that reads as a sentence
        fstring = isinstance(node, ast.JoinedStr)
        if _has_words(node, SENTENCE) and (fstring or not _inside_fstring(node, tree)):
            report(node)
    return sorted(set(found), key=lambda s: (s.split(":")[0], int(s.split(":")[1])))


def _inside_fstring(node: ast.AST, tree: ast.AST) -> bool:
    parents = _parents(tree)
    return isinstance(parents.get(id(node)), ast.JoinedStr)


_PARENTS: dict[int, dict[int, ast.AST]] = {}


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    if id(tree) not in _PARENTS:
        _PARENTS[id(tree)] = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    return _PARENTS[id(tree)]


if __name__ == "__main__":
    paths = [Path(p).resolve() for p in sys.argv[1:]] or SOURCES
    hits = [h for p in paths for h in unwrapped(p)]
    print("\n".join(hits))
    print(f"{len(hits)} unwrapped", file=sys.stderr)
