"""The papers' own numbers (assets/paper_numbers.json), shown beside the user's runs."""
from __future__ import annotations

import json
import math
import re

from ..i18n import N_, _, decimal, listing, pct
from ..resources import asset_path

PAPER_NUMBERS = asset_path("paper_numbers.json")
N_("CIFAR-10 results (the paper's), not your dataset")  # paper_numbers.json's label, for the catalogue


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
    net, error = _("net"), _("test error %")  # column names, in the reader's language
    table6 = [{net: r["name"], error: r["test_error"], _("params (M)"): r["params_m"]}
              for r in ref["resnet_depths"]["rows"]]
    table2 = [{_("placement"): k, "ResNet-110": v["test_error"]["110"], "ResNet-164": v["test_error"]["164"]}
              for k, v in ref["placements"]["rows"].items()]
    names = ref["plain_depths"]["reproductions"]
    plain = [{net: r["name"], **{name: r[key] for key, name in names.items()}} for r in ref["plain_depths"]["rows"]]
    return {"label": _(ref["label"]), "table6": table6, "plain": plain, "table2": table2}


def degradation_note(train_errors: dict[str, float | None], dataset: str, who: str | None = None) -> str | None:
    """Your plain nets' final training errors beside the paper's scale of degradation (He et al. 2015, Figure 6).

    Args:
        train_errors: {run name: final training error as a fraction}; the plain nets ("plain-<depth>") are read.
        dataset: the dataset's name, said in the sentence. who: whose numbers they are ("Your class's medians"; None:
            "Yours", in the reader's language).
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
    gap = 100 * (e2 - e1)
    text = _("{who}, on {dataset}: plain-{d1} ends at {e1} training error and plain-{d2} at {e2} ({gap} points).")\
        .format(who=_("Yours") if who is None else who, dataset=dataset, d1=d1, d2=d2, e1=pct(100 * e1),
                e2=pct(100 * e2), gap=("-" if math.copysign(1.0, gap) < 0 else "+") + decimal(abs(gap), 1))
    if d1 in rows and d2 in rows:
        pairs = [f"{rows[d1][key]} → {rows[d2][key]} % ({name})" for key, name in ref["reproductions"].items()]
        text += " " + _("The paper's, on CIFAR-10: the deeper plain nets are only mildly worse (plain-{d1} → "
                        "plain-{d2} test error {pairs}, two public reproductions; the paper gives no table); only "
                        "plain-110 fails badly (above {error} error in Figure 6).").format(
            d1=d1, d2=d2, pairs=listing(pairs), error="60 %")  # a placeholder: "60 % error" reads as "% e" to gettext
    else:
        text += " " + _("The paper's, on CIFAR-10: the deeper plain nets are only mildly worse; only plain-110 fails "
                        "badly (above {error} error in Figure 6).").format(error="60 %")
    if e2 - e1 > 0.2:
        text += " " + _("So this miniature exaggerates the degradation: in so short a run plain-{d2} barely trains, "
                        "while the paper's trained for about 164 epochs.").format(d2=d2)
    return text
