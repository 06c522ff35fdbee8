"""What a page shows that is not translated: run it in the pseudo language, where every translated sentence reads
⟦like this⟧, and list the texts on the page that carry words outside the brackets (tests/test_i18n.py; `python -m
tests.i18n_probe home train ...` prints them for those pages, on a fresh runs folder).
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

from explorer import i18n

LETTERS = re.compile(r"[^\W\d_]{2,}")
INSIDE = re.compile(re.escape(i18n.PSEUDO_OPEN) + r"[^" + i18n.PSEUDO_OPEN + i18n.PSEUDO_CLOSE + r"]*" +
                    re.escape(i18n.PSEUDO_CLOSE))  # an innermost ⟦..⟧: taken out until none is left (they nest)
# Text that is the same in every language: the app's name, the papers' and nets' names, maths, numbers
# (units, identifiers such as preact_resnet164 and a job's id too).
UNTRANSLATABLE = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]+\b|ResNet Explorer|ResNet-?\d*|plain-?\d*|resnet-?\d*|"
                            r"He et al\.|\b(?:CIFAR-10|MNIST|Fashion-MNIST|ImageNet|BN|ReLU|SGD|Adam|Grad-CAM|conv\w*|"
                            r"[KMG]B)\b|\b\w+_\w+\b|[\d.,%×]+", re.IGNORECASE)
# Documents shipped with the app's assets (a model card), which stay English (docs/translating.md).
DOCUMENTS = ("# The shipped digits twin",)
KINDS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "button",
         "checkbox", "toggle", "radio", "selectbox", "multiselect", "slider", "select_slider", "number_input",
         "text_input", "text_area", "expander", "tabs", "metric", "toast")


def texts(at) -> list[tuple[str, str]]:
    """(kind, text) for every text an AppTest's page shows: bodies, labels, help, radio and select options."""
    out = []
    for kind in KINDS:
        for el in getattr(at, kind, []):
            for attr in ("value", "label", "help", "body"):
                v = getattr(el, attr, None) if attr != "value" or kind in (
                    "title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                    "toast") else None
                if isinstance(v, str) and v:
                    out.append((f"{kind}.{attr}", v))
            if kind in ("radio", "selectbox", "multiselect"):
                out += [(f"{kind}.option", str(o)) for o in (el.options or [])]
    return out


def untranslated(at) -> list[str]:
    """The page's texts that carry words outside ⟦⟧ (after the untranslatable names are taken out)."""
    bad = []
    for kind, text in texts(at):
        if text.startswith(DOCUMENTS):
            continue
        rest, before = text, None
        while rest != before:
            before, rest = rest, INSIDE.sub(" ", rest)
        rest = UNTRANSLATABLE.sub(" ", rest)
        if LETTERS.search(rest):
            bad.append(f"{kind}: {' '.join(text.split())[:120]}")
    return sorted(set(bad))


def main(pages: list[str]) -> None:
    os.environ["EXPLORER_PSEUDO_LANGUAGE"] = "1"
    os.environ.setdefault("EXPLORER_RUNS_DIR", tempfile.mkdtemp(prefix="i18n-probe-"))
    from tests.helpers import open_app
    for page in pages or ["home"]:
        at = open_app(None if page == "home" else page, lang=i18n.PSEUDO)
        found = untranslated(at)
        print(f"== {page}: {len(found)} untranslated")
        print("\n".join(found))


if __name__ == "__main__":
    main(sys.argv[1:])
