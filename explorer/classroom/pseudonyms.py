"""Stable pseudonyms for what a whole room sees (the class screen, the debrief): "Otter", then "Student 31".

The class screen is anonymous by default (issue 21): a student's name is theirs to show, not the projector's. Each
member gets one pseudonym for the life of the class, decided by the order members joined (earliest first), so it
never changes while the class runs and two students never share one. The teacher's own Class page keeps names.
The animals are named in the reader's language (a Spanish class screen reads "Nutria"): the identity is the joining
order, never the word, so a translation changes no one's pseudonym.
Size budget: ~40 lines.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..i18n import N_, _
from .records import Member

# Thirty animals a class can tell apart when read aloud; the thirty-first member onward is "Student N".
ANIMALS = (
    N_("Otter"), N_("Falcon"), N_("Badger"), N_("Heron"), N_("Lynx"), N_("Puffin"), N_("Bison"), N_("Gecko"),
    N_("Marten"), N_("Ibis"), N_("Koala"), N_("Walrus"), N_("Beaver"), N_("Condor"), N_("Dingo"), N_("Ferret"),
    N_("Gazelle"), N_("Hornet"), N_("Jackal"), N_("Lemur"), N_("Mole"), N_("Newt"), N_("Ocelot"), N_("Panda"),
    N_("Quail"), N_("Raven"), N_("Salmon"), N_("Tapir"), N_("Vole"), N_("Yak"),
)


def pseudonym(index: int) -> str:
    """The pseudonym of the member who joined `index`-th (0-based), in the reader's language."""
    return _(ANIMALS[index]) if 0 <= index < len(ANIMALS) else _("Student {n}").format(n=index + 1)


def pseudonyms(members: Iterable[Member]) -> dict[str, str]:
    """owner -> pseudonym for a class's members (joining order decides; ties broken by owner id, so it is stable)."""
    ordered = sorted(members, key=lambda m: (m.joined, m.owner))
    return {m.owner: pseudonym(i) for i, m in enumerate(ordered)}
