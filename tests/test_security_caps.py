"""docs/security.md's table of every cap is the one explorer.security gathers from the modules that own them."""
import re
from pathlib import Path

from explorer.security import caps_markdown, caps_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"


def test_the_security_page_shows_every_cap_as_the_code_states_it():
    text = DOC.read_text(encoding="utf-8")
    shown = re.search(r"<!-- caps-table:start -->\n(.*?)<!-- caps-table:end -->", text, re.S)
    assert shown is not None, "docs/security.md lost its caps-table markers"
    assert shown.group(1) == caps_markdown(), "refresh docs/security.md with `python -m explorer.security`"


def test_every_cap_states_its_reason_beside_it():
    caps = caps_table()
    assert len(caps) > 30
    assert [c.name for c in caps if not c.reason] == []


def test_the_table_reads_the_values_the_code_uses():
    from explorer.jobs.budget import JOB_BUDGET_S
    from explorer.store.checkpoints import MAX_CHECKPOINT_BYTES
    by_name = {c.name: c for c in caps_table()}
    assert by_name["MAX_CHECKPOINT_BYTES"].value == MAX_CHECKPOINT_BYTES
    assert by_name["JOB_BUDGET_S"].value == JOB_BUDGET_S and by_name["JOB_BUDGET_S"].env == "EXPLORER_JOB_BUDGET_S"
    assert "| `MAX_CHECKPOINT_BYTES` | `explorer.store.checkpoints` | 50 MiB |" in caps_markdown()
