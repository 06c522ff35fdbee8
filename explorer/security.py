"""Every cap in one table: each one lives beside what it caps, with its reason as a comment; this gathers them.

docs/security.md shows the table `caps_markdown()` writes (a test keeps the two equal); to refresh it after a cap
changed, run `python -m explorer.security` and paste its output between the page's markers.
"""
from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass

# module: ((name, the environment variable a deployment sets it with, or ""), ...), lowest layer first.
_WHERE: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("explorer.text", (("MAX_SHOWN_CHARS", ""),)),
    ("explorer.access.teacher", (("TEACHER_BACKOFF_FREE", ""), ("TEACHER_BACKOFF_BASE_S", ""),
                                 ("TEACHER_BACKOFF_MAX_S", ""))),
    ("explorer.nets.caps", (("MAX_INPUT_SIZE", ""), ("MAX_LAYERS", ""), ("MAX_WIDTH", ""), ("MAX_PARAMS", ""),
                            ("MAX_MULT_ADDS", ""), ("MACS_PER_S", "EXPLORER_MACS_PER_S"),
                            ("MAX_REQUEST_ACTIVATION_BYTES", ""),
                            ("ACTIVATION_BUDGET_BYTES", "EXPLORER_ACTIVATION_BUDGET_MB"), ("ACTIVATION_WAIT_S", ""),
                            ("MAX_JOB_ACTIVATION_BYTES", "EXPLORER_JOB_ACTIVATION_MB"))),
    ("explorer.data.images", (("MAX_IMAGE_BYTES", ""), ("MAX_IMAGE_PIXELS", ""), ("MAX_ASPECT_RATIO", ""))),
    ("explorer.data.uploads", (("MAX_ZIP_BYTES", ""), ("MAX_ENTRIES", ""), ("MAX_UNCOMPRESSED", ""),
                               ("MAX_RATIO", ""), ("MAX_CLASSES", ""), ("MAX_UPLOAD_PIXELS", ""),
                               ("MAX_UPLOAD_CPU_S", ""), ("UPLOADS_BUDGET_BYTES", "EXPLORER_UPLOADS_BUDGET_MB"),
                               ("OWNER_UPLOADS_BUDGET_BYTES", "EXPLORER_OWNER_UPLOADS_BUDGET_MB"),
                               ("MAX_CLASS_NAME_BYTES", ""))),
    ("explorer.training.recipes", (("MAX_RECIPE_EPOCHS", ""), ("MAX_SEED", ""))),
    ("explorer.store.checkpoints", (("MAX_CHECKPOINT_BYTES", ""), ("MAX_UNZIPPED_BYTES", ""),
                                    ("MAX_DEFLATE_RATIO", ""), ("REFUSED_FILES_KEPT", ""))),
    ("explorer.store.artefacts", (("MAX_ARTEFACT_BYTES", ""),)),
    ("explorer.store.host", (("MAX_JSON_BYTES", ""),)),
    ("explorer.store.untrusted", (("MAX_RECORD_BYTES", ""), ("MAX_JSON_DEPTH", ""), ("MAX_LINE_BYTES", ""))),
    ("explorer.store.importer", (("MAX_METRICS_BYTES", ""),)),
    ("explorer.store.runstore", (("MAX_METRIC_ROWS", ""),)),
    ("explorer.store.snapshots", (("MAX_SNAPSHOTS", ""), ("SNAPSHOT_BYTES", ""))),
    ("explorer.store.reports", (("MAX_WEIGHTS_BYTES", ""),)),
    ("explorer.classroom.classes", (("MAX_NAME", ""),)),
    ("explorer.classroom.questions", (("MAX_PROMPT", ""), ("MAX_CHOICES", ""), ("MAX_CHOICE", ""))),
    ("explorer.classroom.authoring", (("MAX_TITLE", ""), ("MAX_CLASS_LESSONS", ""), ("MAX_LESSONS_FILE_BYTES", ""))),
    ("explorer.classroom.staff", (("INVITE_TTL_S", ""), ("INVITE_MAX_TTL_S", ""), ("MAX_EMAIL", ""),
                                  ("MAX_STAFF", ""))),
    ("explorer.classroom.lti_courses", (("TICKET_LIFETIME_S", ""),)),
    ("explorer.classroom.screen", (("MAX_SNAPSHOT", ""), ("MAX_SNAPSHOT_CHOICES", ""))),
    ("explorer.classroom.joinlink", (("MAX_URL", ""),)),
    ("explorer.jobs.budget", (("JOB_BUDGET_S", "EXPLORER_JOB_BUDGET_S"), ("MIN_JOB_BUDGET_S", ""),
                              ("MAX_JOB_BUDGET_S", ""))),
    ("explorer.jobs.manager", (("Limits.concurrent", "EXPLORER_MAX_JOBS"),
                               ("Limits.queued_per_owner", "EXPLORER_MAX_QUEUED_PER_OWNER"),
                               ("Limits.running_per_owner", "EXPLORER_MAX_RUNNING_PER_OWNER"),
                               ("Limits.starts_per_hour", "EXPLORER_MAX_STARTS_PER_HOUR"),
                               ("Limits.active_per_client", "EXPLORER_MAX_ACTIVE_PER_CLIENT"),
                               ("Limits.starts_per_client_hour", "EXPLORER_MAX_STARTS_PER_CLIENT_HOUR"))),
    ("explorer.jobs.watching", (("DEFAULT_BUDGET_CORES", "EXPLORER_LIVE_BUDGET_CORES"), ("MAX_INTERVAL_S", ""))),
    ("explorer.lti.settings", (("MAX_CONFIG_BYTES", ""), ("MAX_PLATFORMS", ""), ("MAX_DEPLOYMENTS", ""),
                               ("MAX_KEY_BYTES", ""))),
    ("explorer.lti.tool", (("CLOCK_SKEW_S", ""), ("NONCE_LIFETIME_S", ""), ("STATE_COOKIE_S", ""),
                           ("KEY_SET_CACHE_S", ""))),
    ("explorer.lti.app", (("MAX_LAUNCH_BYTES", ""),)),
    ("explorer.lti.roster", (("MAX_ROSTER", ""), ("MAX_ROSTER_PAGES", ""), ("REQUEST_TIMEOUT_S", ""))),
    ("explorer.urlstate", (("MAX_QUERY_VALUE_CHARS", ""), ("MAX_CONTROL_LIST", ""))),
)


@dataclass(frozen=True)
class Cap:
    """One cap: its name in its module, its value, why (the comment beside it) and how a deployment sets it."""

    module: str
    name: str
    value: object
    reason: str
    env: str = ""


def _value(module: object, name: str) -> object:
    owner, _, attr = name.rpartition(".")
    holder = getattr(module, owner) if owner else module
    return getattr(holder, attr)


def _reason(source: str, name: str) -> str:
    """The comment on the line that sets `name` (`NAME = 1  # why`, `a, NAME = ...  # why`, `field: int = 1  # why`)."""
    attr = name.rpartition(".")[2]
    for line in source.splitlines():
        target, eq, rest = line.partition("=")
        if eq and re.search(rf"(^|[\s,]){attr}\b", target.split(":")[0]) and "#" in rest:
            return rest.split("#", 1)[1].strip()
    return ""


def caps_table() -> list[Cap]:
    """Every cap and budget of the library, read from the modules that own them (their current values)."""
    caps = []
    for module_name, names in _WHERE:
        module = importlib.import_module(module_name)
        source = inspect.getsource(module)
        caps += [Cap(module_name, name, _value(module, name), _reason(source, name), env) for name, env in names]
    return caps


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items())
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value).replace("|", "\\|")
    if isinstance(value, int) and value >= 2**20 and value % 2**20 == 0:
        return f"{value // 2**30} GiB" if value % 2**30 == 0 else f"{value // 2**20} MiB"
    return f"{value:,}" if isinstance(value, int) else f"{value:,g}"


def caps_markdown() -> str:
    """The table docs/security.md shows: one row per cap, where it lives, its value, its reason, its variable."""
    rows = ["| cap | where | value | why | environment |", "|---|---|---|---|---|"]
    rows += [f"| `{c.name}` | `{c.module}` | {_shown(c.value)} | {c.reason.replace('|', '/')} | "
             f"{f'`{c.env}`' if c.env else '–'} |" for c in caps_table()]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(caps_markdown(), end="")
