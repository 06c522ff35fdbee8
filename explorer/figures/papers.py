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
