"""The papers' own numbers (assets/paper_numbers.json), shown beside the user's runs."""
from __future__ import annotations

import json

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
