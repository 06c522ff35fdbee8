"""The classroom's typed records: a class, a member, a roster row, a question and its tally.

Size budget: ~80 lines.
"""
from __future__ import annotations

from dataclasses import dataclass


class ClassError(ValueError):
    """A refused classroom request (unknown or closed class, a bad answer), with one sentence for the user."""


@dataclass(frozen=True)
class ClassInfo:
    """One class: its short code goes on the projector; `closed` is a time, or None while open."""

    id: str
    code: str
    name: str
    teacher: str
    created: float
    closed: float | None = None
    lesson: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed is None

    def join_query(self) -> str:
        """The query string of the join link ("?join=CODE"): a link grants membership, never rights."""
        return f"?join={self.code}"


@dataclass(frozen=True)
class Member:
    class_id: str
    owner: str
    name: str
    joined: float


@dataclass(frozen=True)
class RosterRow:
    """One student in the teacher's live view: their newest class job and its runs' final errors."""

    owner: str
    name: str
    member: str = ""  # member_id(class, owner): the row's id in pages (widget keys), never the owner cookie
    exp_id: str | None = None
    status: str | None = None  # the job's status (queued, running, completed, ...), None before any job
    fraction: float | None = None  # 0..1 while running
    seed: int | None = None
    finals: tuple = ()  # ((run name, final training error or None, final test error or None), ...)
    jobs: int = 0  # how many jobs this student started in the class


@dataclass(frozen=True)
class Question:
    """A predict-then-observe question: choices (multiple choice) or none (a number answer)."""

    id: str
    class_id: str
    experiment: str  # the spec kind whose curves it gates: "sweep" (Figure 6), "twin", "compare"
    prompt: str
    choices: tuple
    opened: float
    revealed: float | None = None

    @property
    def is_number(self) -> bool:
        return not self.choices


@dataclass(frozen=True)
class Tally:
    """How the class answered: counts per answer (each student once) and how many members there are."""

    counts: tuple  # ((answer, count), ...) in the question's choice order, then other answers
    answered: int
    members: int
