"""The papers' own numbers (assets/paper_numbers.json), shown beside the user's runs."""
from __future__ import annotations

import json
import re

from ..resources import asset_path

PAPER_NUMBERS = asset_path("paper_numbers.json")


def paper_reference() -> dict:
    """The papers' CIFAR-10 (and ImageNet) numbers with their sources, from assets/paper_numbers.json.

    He et al. 2015 Table 6, He et al. 2016 Tables 1 and 2, Gross & Wilber 2016, Li et al. 2018; errors in %.
    """
    with open(PAPER_NUMBERS, encoding="utf-8") as f:
        return json.load(f)


def reference_tables() -> dict:
    """The papers' CIFAR-10 tables as rows ready to show: {"label", "table6", "plain", "table2"}.

    table6: He et al. 2015 Table 6 (ResNet depth, test error %, parameters in millions); plain: plain-net test
    error % from the two public reproductions of Figure 6 that PAPERS.md names (the paper gives no table), one
    column per reproduction, by name; table2: He et al. 2016 Table 2 (each placement's test error % at 110 and
    164 layers).
    """
    ref = paper_reference()
    table6 = [{"net": r["name"], "test error %": r["test_error"], "params (M)": r["params_m"]}
              for r in ref["resnet_depths"]["rows"]]
    table2 = [{"placement": k, "ResNet-110": v["test_error"]["110"], "ResNet-164": v["test_error"]["164"]}
              for k, v in ref["placements"]["rows"].items()]
    names = ref["plain_depths"]["reproductions"]
    plain = [{"net": r["name"], **{name: r[key] for key, name in names.items()}} for r in ref["plain_depths"]["rows"]]
    return {"label": ref["label"], "table6": table6, "plain": plain, "table2": table2}


def degradation_note(train_errors: dict[str, float | None], dataset: str, who: str = "Yours") -> str | None:
    """Your plain nets' final training errors beside the paper's scale of degradation (He et al. 2015, Figure 6).

    Args:
        train_errors: {run name: final training error as a fraction}; the plain nets ("plain-<depth>") are read.
        dataset: the dataset's name, said in the sentence. who: whose numbers they are ("Your class's medians").
    Returns:
        one sentence (None with fewer than two plain depths): the shallowest and deepest plain nets' errors, the
        gap, and the paper's mild CIFAR-10 gap from the two public reproductions PAPERS.md names (test errors:
        the paper gives no table), with plain-110 the only one that fails badly.
    """
    plains = sorted((int(m.group(1)), e) for n, e in train_errors.items()
                    if e is not None and (m := re.fullmatch(r"plain-(\d+)", n)))
    if len(plains) < 2:
        return None
    (d1, e1), (d2, e2) = plains[0], plains[-1]
    ref = paper_reference()["plain_depths"]
    rows = {r["depth"]: r for r in ref["rows"]}
    text = (f"{who}, on {dataset}: plain-{d1} ends at {100 * e1:.1f}% training error and plain-{d2} at "
            f"{100 * e2:.1f}% ({100 * (e2 - e1):+.1f} points). The paper's, on CIFAR-10: the deeper plain nets are "
            "only mildly worse")
    if d1 in rows and d2 in rows:
        pairs = [f"{rows[d1][key]} → {rows[d2][key]} % ({name})" for key, name in ref["reproductions"].items()]
        text += (f" (plain-{d1} → plain-{d2} test error {' and '.join(pairs)}, two public reproductions; the paper "
                 "gives no table)")
    text += "; only plain-110 fails badly (above 60 % error in Figure 6)."
    if e2 - e1 > 0.2:
        text += (f" So this miniature exaggerates the degradation: in so short a run plain-{d2} barely trains, "
                 "while the paper's trained for about 164 epochs.")
    return text
