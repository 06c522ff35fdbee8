"""Stable pseudonyms for what a whole room sees (the class screen, the debrief): "Otter", then "Student 31".

The class screen is anonymous by default (issue 21): a student's name is theirs to show, not the projector's. Each
member gets one pseudonym for the life of the class, decided by the order members joined (earliest first), so it
never changes while the class runs and two students never share one. The teacher's own Class page keeps names.
Size budget: ~40 lines.
"""
from __future__ import annotations

from collections.abc import Iterable

from .records import Member

# Thirty animals a class can tell apart when read aloud; the thirty-first member onward is "Student N".
ANIMALS = (
    "Otter", "Falcon", "Badger", "Heron", "Lynx", "Puffin", "Bison", "Gecko", "Marten", "Ibis",
    "Koala", "Walrus", "Beaver", "Condor", "Dingo", "Ferret", "Gazelle", "Hornet", "Jackal", "Lemur",
    "Mole", "Newt", "Ocelot", "Panda", "Quail", "Raven", "Salmon", "Tapir", "Vole", "Yak",
)


def pseudonym(index: int) -> str:
    """The pseudonym of the member who joined `index`-th (0-based)."""
    return ANIMALS[index] if 0 <= index < len(ANIMALS) else f"Student {index + 1}"


def pseudonyms(members: Iterable[Member]) -> dict[str, str]:
    """owner -> pseudonym for a class's members (joining order decides; ties broken by owner id, so it is stable)."""
    ordered = sorted(members, key=lambda m: (m.joined, m.owner))
    return {m.owner: pseudonym(i) for i, m in enumerate(ordered)}
