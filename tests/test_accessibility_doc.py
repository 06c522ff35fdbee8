"""docs/accessibility.md, the conformance report (a VPAT 2.x / ACR, WCAG edition), covers WCAG 2.2 whole.

Every Level A and Level AA success criterion of WCAG 2.2 appears exactly once, as a row of the table of its own level,
with one of the four conformance terms and a remark; 4.1.1 Parsing (removed in WCAG 2.2) is in no table; the report
names the version of the product it evaluated. The list of criteria is kept here, by hand, from WCAG 2.2 itself, so a
criterion the report drops or repeats fails.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "accessibility.md"
TERMS = ("Supports", "Partially Supports", "Does Not Support", "Not Applicable")

# WCAG 2.2 (W3C Recommendation, 5 October 2023): 31 Level A and 24 Level AA success criteria.
LEVEL_A = (
    "1.1.1", "1.2.1", "1.2.2", "1.2.3", "1.3.1", "1.3.2", "1.3.3", "1.4.1", "1.4.2",
    "2.1.1", "2.1.2", "2.1.4", "2.2.1", "2.2.2", "2.3.1", "2.4.1", "2.4.2", "2.4.3", "2.4.4",
    "2.5.1", "2.5.2", "2.5.3", "2.5.4", "3.1.1", "3.2.1", "3.2.2", "3.2.6", "3.3.1", "3.3.2", "3.3.7", "4.1.2",
)
LEVEL_AA = (
    "1.2.4", "1.2.5", "1.3.4", "1.3.5", "1.4.3", "1.4.4", "1.4.5", "1.4.10", "1.4.11", "1.4.12", "1.4.13",
    "2.4.5", "2.4.6", "2.4.7", "2.4.11", "2.5.7", "2.5.8", "3.1.2", "3.2.3", "3.2.4", "3.3.3", "3.3.4", "3.3.8",
    "4.1.3",
)
ROW = re.compile(r"^\|\s*(\d\.\d{1,2}\.\d{1,2})\b[^|]*\|([^|]*)\|([^|]*)\|(.*)\|\s*$")


def _tables() -> dict[str, list[tuple[str, str, str, str]]]:
    """{section heading: [(criterion, level, conformance, remarks), ...]} for every criterion row of the report."""
    tables: dict[str, list[tuple[str, str, str, str]]] = {}
    heading = ""
    for line in REPORT.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif m := ROW.match(line):
            number, level, term, remarks = (g.strip() for g in m.groups())
            tables.setdefault(heading, []).append((number, level, term.strip("*"), remarks))
    return tables


def _table(level: str) -> list[tuple[str, str, str, str]]:
    found = [rows for heading, rows in _tables().items() if re.search(rf"\bLevel {level}\b", heading)]
    assert len(found) == 1, f"one table headed 'Level {level}' expected, found {len(found)}"
    return found[0]


def test_every_wcag22_a_and_aa_criterion_is_listed_once_in_its_level_s_table():
    for level, expected in (("A", LEVEL_A), ("AA", LEVEL_AA)):
        rows = _table(level)
        numbers = [r[0] for r in rows]
        assert sorted(numbers) == sorted(expected), (level, set(numbers) ^ set(expected))
        assert len(numbers) == len(set(numbers)), [n for n in numbers if numbers.count(n) > 1]
        assert {r[1] for r in rows} == {level}, f"a row of the Level {level} table names another level"
    all_rows = [r[0] for rows in _tables().values() for r in rows]
    assert len(all_rows) == len(LEVEL_A) + len(LEVEL_AA) == 55  # no criterion row outside the two tables


def test_each_row_has_one_of_the_four_terms_and_a_remark():
    for rows in _tables().values():
        for number, _level, term, remarks in rows:
            assert term in TERMS, f"{number}: {term!r} is not one of {TERMS}"
            assert len(remarks) >= 20, f"{number}: the remark says too little: {remarks!r}"


def test_parsing_4_1_1_is_said_to_be_removed_and_is_in_no_table():
    assert all(r[0] != "4.1.1" for rows in _tables().values() for r in rows)
    lines = REPORT.read_text(encoding="utf-8").splitlines()
    assert any("4.1.1" in line and "removed" in line.lower() for line in lines), "say that WCAG 2.2 removed 4.1.1"


def test_the_report_names_the_version_it_evaluated_and_where_to_report_a_problem():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # tomllib is 3.11+; the project supports 3.10
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
    text = REPORT.read_text(encoding="utf-8")
    assert f"ResNet Explorer {version}" in text, "the report evaluates another version: re-run it and update it"
    assert "## Known limitations and workarounds" in text
    assert "## How to report an accessibility problem" in text


def test_the_checker_catches_a_missing_and_a_repeated_criterion():
    line = "| 2.5.8 Target Size (Minimum) | AA | Partially Supports | the roster's buttons are 24 px high |"
    assert ROW.match(line).groups()[0] == "2.5.8"
    assert ROW.match(line.replace("2.5.8", "1.4.10")).groups()[0] == "1.4.10"
    assert not ROW.match("| Criterion | Level | Conformance | Remarks |")
