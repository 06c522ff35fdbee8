"""The class screen (`/?screen=CODE`, for the projector): what the teacher pushed to it, and the snapshots.

One row per class in `class_screens` holds what the screen shows (a kind and its payload), whether students appear
by name (off by default: pseudonyms, explorer.classroom.pseudonyms) and a version that grows on every push; the
screen polls that row (one primary-key read) and redraws when the version moves. A snapshot is a record (2 to 4
students' runs in the teacher's order, side by side or overlaid), kept with the class so the debrief can list them.
Every payload is checked when pushed and again when read back: a damaged row shows the join screen.
Size budget: ~300 lines.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..i18n import _, pct
from ..store import db
from ..store.records import Metric, Run, run_slug
from . import tables as t
from .pseudonyms import pseudonyms
from .records import ClassError

if TYPE_CHECKING:
    from ..store.db import Row
    from .classes import Classroom

# What the screen can show; the payload each kind needs is checked by `_payload`.
KINDS = ("join", "roster", "question", "reveal", "snapshot", "figure6", "lesson")
LAYOUTS = ("side", "overlay")  # a snapshot's runs: one panel each, or one panel with every curve
MIN_SNAPSHOT, MAX_SNAPSHOT = 2, 4  # runs in a snapshot: a comparison, and what stays legible side by side at 1080p
MAX_SNAPSHOT_CHOICES = 200  # the class's newest runs offered to pick from (a class of 30 starts a few each)
_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")  # question, snapshot, experiment and run ids as the store makes them


@dataclass(frozen=True)
class ScreenState:
    """What a class screen shows now: a kind from KINDS and the one id or key it needs, names on or off."""

    class_id: str
    kind: str = "join"
    question_id: str | None = None  # kinds "question" and "reveal"
    snapshot_id: str | None = None  # kind "snapshot"
    lesson: str | None = None  # kind "lesson": a key of explorer.classroom.lessons.LESSONS
    names: bool = False  # students' own names instead of their pseudonyms
    version: int = 0  # 0: nothing was ever pushed
    updated: float = 0.0


@dataclass(frozen=True)
class SnapshotItem:
    """One run in a snapshot: which experiment and run, whose it is (an owner id, never shown) and its name."""

    exp_id: str
    run_id: str
    owner: str
    run_name: str


@dataclass(frozen=True)
class Snapshot:
    """Two to four students' runs the teacher put side by side ("side") or on one chart ("overlay"), in order."""

    id: str
    class_id: str
    created: float
    layout: str
    items: tuple[SnapshotItem, ...]


@dataclass(frozen=True)
class SnapshotPanel:
    """One run of a snapshot, ready to draw: its label on the screen ("Otter: plain-56"), the run, its epochs."""

    label: str
    run: Run
    epochs: tuple[Metric, ...]


@dataclass(frozen=True)
class ScreenRow:
    """The roster as the screen shows it: progress only, under a pseudonym (or the name, when names are on)."""

    label: str
    status: str | None
    fraction: float | None


# ----------------------------------------------------------------------------- the screen's state
def screen_state(room: Classroom, class_id: str) -> ScreenState:
    """What the class's screen shows now (one primary-key read; the join screen when nothing was pushed)."""
    s = t.class_screens.c
    row = room.q(lambda c: c.execute(sa.select(t.class_screens).where(s.class_id == class_id)).first())
    return _state(class_id, row) if row is not None else ScreenState(class_id)


def push(room: Classroom, class_id: str, kind: str, *, question_id: str | None = None,
         snapshot_id: str | None = None, lesson: str | None = None) -> ScreenState:
    """Put something on the class's screen; returns the new state. Pushing "reveal" reveals the question too.

    Raises ClassError (one sentence) for an unknown kind, or a question, snapshot or lesson that is not the class's.
    """
    payload = _payload(kind, question_id, snapshot_id, lesson)
    if kind in ("question", "reveal") and not _owns(room, t.class_questions, class_id, question_id):
        raise ClassError(_("That question is not one of this class's."))
    if kind == "snapshot" and not _owns(room, t.class_snapshots, class_id, snapshot_id):
        raise ClassError(_("That snapshot is not one of this class's."))
    if kind == "reveal" and question_id is not None:
        from .questions import reveal
        reveal(room, question_id)
    return _write(room, class_id, kind=kind, payload=json.dumps(payload))


def show_names(room: Classroom, class_id: str, on: bool) -> ScreenState:
    """Show the students' own names on the screen (on) or their pseudonyms (off, the default)."""
    return _write(room, class_id, names=bool(on))


def _payload(kind: object, question_id: object, snapshot_id: object, lesson: object) -> dict[str, str]:
    """The one payload a kind needs, checked (ClassError otherwise)."""
    if kind not in KINDS:
        raise ClassError(_("The class screen shows one of {kinds}.").format(kinds=", ".join(KINDS)))
    if kind in ("question", "reveal"):
        return {"question": _checked_id(question_id, "question")}
    if kind == "snapshot":
        return {"snapshot": _checked_id(snapshot_id, "snapshot")}
    if kind == "lesson":
        from .lessons import LESSONS
        if lesson not in {x.key for x in LESSONS}:
            raise ClassError(_("Pick one of the lessons to put on the screen."))
        return {"lesson": str(lesson)}
    return {}


def _checked_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ClassError(_("Pick a question to put on the screen.") if what == "question" else
                         _("Pick a snapshot to put on the screen."))
    return value


def _owns(room: Classroom, table: sa.Table, class_id: str, row_id: str | None) -> bool:
    return room.q(lambda c: c.execute(sa.select(table.c.id).where(
        (table.c.id == row_id) & (table.c.class_id == class_id))).first()) is not None


def _write(room: Classroom, class_id: str, **values: Any) -> ScreenState:
    """Insert or update the class's screen row, its version one higher, in one transaction (retried once when
    another push created the row at the same moment)."""
    s = t.class_screens.c

    def write(conn: sa.Connection) -> None:
        old = conn.execute(sa.select(s.version).where(s.class_id == class_id)).first()
        if old is None:
            row = {"kind": "join", "payload": "{}", "names": False, **values}
            conn.execute(t.class_screens.insert().values(class_id=class_id, version=1, updated=time.time(), **row))
        else:
            conn.execute(t.class_screens.update().where(s.class_id == class_id).values(
                version=int(old.version) + 1, updated=time.time(), **values))
    try:
        room.tx(write)
    except sa.exc.IntegrityError:
        room.tx(write)
    return screen_state(room, class_id)


def _state(class_id: str, row: Row) -> ScreenState:
    """A class_screens row as a ScreenState; a damaged kind or payload reads as the join screen."""
    r = row._mapping
    try:
        data = json.loads(r["payload"] or "{}")
        kind = str(r["kind"])
        payload = _payload(kind, data.get("question"), data.get("snapshot"), data.get("lesson"))
    except (ClassError, TypeError, ValueError, AttributeError):
        kind, payload = "join", {}
    return ScreenState(class_id=class_id, kind=kind, question_id=payload.get("question"),
                       snapshot_id=payload.get("snapshot"), lesson=payload.get("lesson"), names=bool(r["names"]),
                       version=int(r["version"]), updated=float(r["updated"]))


# ----------------------------------------------------------------------------- who is who on the screen
def screen_labels(room: Classroom, class_id: str, names: bool = False) -> dict[str, str]:
    """owner -> what the screen calls each member: a stable pseudonym, or their own name when names are on."""
    members = room.members(class_id)
    return {m.owner: m.name for m in members} if names else pseudonyms(members)  # pseudonyms in the reader's words


def screen_roster(room: Classroom, class_id: str, labels: Mapping[str, str]) -> list[ScreenRow]:
    """The roster as progress only (no errors, seeds or owner ids), in joining order: the roster's three queries."""
    return [ScreenRow(labels.get(r.owner) or _("Student"), r.status, r.fraction) for r in room.roster(class_id)]


# ----------------------------------------------------------------------------- snapshots
def snapshot_choices(room: Classroom, class_id: str) -> list[SnapshotItem]:
    """Every run of the class's jobs the teacher may put in a snapshot, newest job first (one query)."""
    j, r = t.class_jobs.c, db.runs.c
    rows = room.q(lambda c: c.execute(
        sa.select(j.exp_id, j.owner, r.id, r.name).join(db.runs, r.exp_id == j.exp_id)
        .where(j.class_id == class_id).order_by(j.created.desc(), r.position).limit(MAX_SNAPSHOT_CHOICES)).all())
    return [SnapshotItem(row.exp_id, row.id, row.owner, row.name) for row in rows]


def take_snapshot(room: Classroom, class_id: str, picks: Sequence[tuple[str, str]],
                  layout: str = "side") -> Snapshot:
    """Keep 2 to 4 of the class's runs, as (exp id, run id) in the teacher's order, as a snapshot record.

    Raises ClassError (one sentence) for too few or too many runs, the same run twice, an unknown layout, or a run
    that is not one of the class's jobs.
    """
    picks = [(str(e), run_slug(str(r))) for e, r in picks]
    if not MIN_SNAPSHOT <= len(picks) <= MAX_SNAPSHOT or len(set(picks)) != len(picks):
        raise ClassError(_("Pick {least} to {most} different runs for a snapshot.").format(least=MIN_SNAPSHOT,
                                                                                            most=MAX_SNAPSHOT))
    if layout not in LAYOUTS:
        raise ClassError(_("A snapshot is shown side by side or overlaid."))
    known = {(i.exp_id, i.run_id): i for i in _items(room, class_id, {e for e, _run in picks})}
    if any(p not in known for p in picks):
        raise ClassError(_("A snapshot takes only runs of this class's students."))
    snap = Snapshot(id=secrets.token_hex(8), class_id=class_id, created=time.time(), layout=layout,
                    items=tuple(known[p] for p in picks))
    room.tx(lambda c: c.execute(t.class_snapshots.insert().values(
        id=snap.id, class_id=class_id, created=snap.created, layout=layout, items=json.dumps(picks))))
    return snap


def snapshots(room: Classroom, class_id: str) -> list[Snapshot]:
    """The class's snapshots, oldest first (for the debrief): two queries, whatever their number."""
    s = t.class_snapshots.c
    rows = room.q(lambda c: c.execute(sa.select(t.class_snapshots).where(s.class_id == class_id)
                                      .order_by(s.created)).all())
    parsed = [(row, _picks(row._mapping["items"])) for row in rows]
    known = {(i.exp_id, i.run_id): i for i in _items(room, class_id, {e for _row, p in parsed for e, _run in p})}
    out = []
    for row, picks in parsed:
        items = tuple(known[p] for p in picks if p in known)  # a run deleted since is left out
        layout = row._mapping["layout"] if row._mapping["layout"] in LAYOUTS else "side"
        out.append(Snapshot(row._mapping["id"], class_id, float(row._mapping["created"]), layout, items))
    return out


def snapshot(room: Classroom, class_id: str, snapshot_id: str) -> Snapshot | None:
    """One of the class's snapshots, or None."""
    return next((s for s in snapshots(room, class_id) if s.id == snapshot_id), None)


def snapshot_panels(room: Classroom, snap: Snapshot, labels: Mapping[str, str]) -> list[SnapshotPanel]:
    """What explorer.figures.screen.snapshot_figure draws: each run with its label and epoch records, in order.

    Args: labels: owner -> shown name (screen_labels: pseudonyms unless names are on).
    """
    panels = []
    for item in snap.items:
        exp = room.store.load_experiment(item.exp_id)
        run = next((r for r in exp.runs if r.id == item.run_id), None) if exp is not None else None
        if run is None:
            continue
        epochs = tuple(room.store.read_metrics(item.exp_id, item.run_id, kind="epoch"))
        panels.append(SnapshotPanel(f"{labels.get(item.owner) or _('Student')}: {item.run_name}", run, epochs))
    return panels


def snapshot_version(room: Classroom, snap: Snapshot) -> tuple[tuple[str, str, int], ...]:
    """(exp id, run id, newest metric sequence number) of the snapshot's runs (one indexed query): its figure
    changes only when this does, so the screen caches the figure by it."""
    m = db.metrics.c
    pairs = [sa.and_(m.exp_id == i.exp_id, m.run_id == i.run_id) for i in snap.items]
    if not pairs:
        return ()
    rows = room.q(lambda c: c.execute(sa.select(m.exp_id, m.run_id, sa.func.max(m.seq)).where(sa.or_(*pairs))
                                      .group_by(m.exp_id, m.run_id)).all())
    return tuple(sorted((str(e), str(r), int(n)) for e, r, n in rows))


def snapshot_takeaway(panels: Sequence[SnapshotPanel]) -> str:
    """The snapshot in words: each run's last training error, highest first ("Otter: plain-56 ends at 66.7%
    training error; Falcon: resnet-56 at 11.7%"), as He et al. 2015's Figure 6 is read: by the training error."""
    ends = []
    for p in panels:
        last = next((r.train_error for r in reversed(p.epochs) if r.train_error is not None), None)
        if last is not None and last == last:  # NaN (a diverged run) is left out
            ends.append((last, p.label))
    if not ends:
        return _("No epoch has finished in these runs yet.")
    ends.sort(reverse=True)
    first = _("{run} ends at {error} training error").format(run=ends[0][1], error=pct(ends[0][0] * 100))
    rest = [_("{run} at {error}").format(run=label, error=pct(err * 100)) for err, label in ends[1:]]
    return _("{runs}.").format(runs=_("; ").join([first, *rest]))


def _picks(text: object) -> list[tuple[str, str]]:
    """A snapshot's stored items as (exp id, run id) pairs; anything damaged is left out."""
    try:
        data = json.loads(str(text))
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [(str(p[0]), str(p[1])) for p in data[:MAX_SNAPSHOT]
            if isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and _ID.match(x) for x in p)]


def _items(room: Classroom, class_id: str, exp_ids: set[str]) -> list[SnapshotItem]:
    """The class's runs in these experiments, with their owners and names (one query)."""
    if not exp_ids:
        return []
    j, r = t.class_jobs.c, db.runs.c
    rows = room.q(lambda c: c.execute(
        sa.select(j.exp_id, j.owner, r.id, r.name).join(db.runs, r.exp_id == j.exp_id)
        .where((j.class_id == class_id) & j.exp_id.in_(sorted(exp_ids)))).all())
    return [SnapshotItem(row.exp_id, row.id, row.owner, row.name) for row in rows]
