"""Who may do what: one policy over roles and actions, asked by the job manager and by every page.

A person acts as an `Actor` (the owner id kept in their cookie, and whether they are signed in as the teacher).
Toward one thing (a job, a class) they hold roles: `owner` when they started it, `teacher` in teacher mode,
`student` otherwise (anyone else with a session: another student, a lone learner). `RULES` says which roles
may take each `Action`; nothing else in the library or the app writes the rule. A class link grants membership,
never a role (DESIGN.md, "Who may do what"). Co-teachers, TAs and administrators are roles a later issue adds:
a new `Role`, its column in `RULES`, and whatever grants it in `Policy.roles`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class Role(str, Enum):
    """What a person is toward one thing (a job, a class)."""

    OWNER = "owner"  # started the job / created the class
    STUDENT = "student"  # anyone else with a session, in a class or not
    TEACHER = "teacher"  # signed in as the teacher (the password, or the school's sign-in)


class Action(str, Enum):
    """Everything the app lets someone do that not everyone may."""

    SEE = "see"  # an experiment, its runs, curves and downloads (the Runs page is the class's gallery)
    STOP = "stop"  # ask a queued or running job to stop
    DELETE = "delete"  # delete a job and its files
    RESUME = "resume"  # queue an interrupted job again
    REVEAL = "reveal"  # show a class question's answers (and the curves it hides) to everyone
    SKIP_PREDICTION = "skip_prediction"  # see results an open class question still hides (explorer.classroom.gating)
    PROJECT = "project"  # put one student's charts on the teacher's screen
    ASK = "ask"  # open a predict-then-observe question to a class
    MANAGE_CLASS = "manage_class"  # create, close, reopen, delete a class; its roster and its lesson
    SET_BUDGET = "set_budget"  # change the time budget of jobs that start from now on
    RETENTION = "retention"  # delete old experiments by filter
    SERVER_FOLDER = "server_folder"  # train on a folder of the server's own disk (not an upload)
    SCREEN = "screen"  # open a class's screen for the projector and push what it shows (question, snapshot, ...)
    PAUSE = "pause"  # pause a class (its students' starts wait) and resume it
    AUTHOR = "author"  # write, import and export a class's own lessons
    DEBRIEF = "debrief"  # download a class's debrief (HTML page and CSV of predictions and outcomes)


_ALL = frozenset(Role)
_OWNER_OR_TEACHER = frozenset({Role.OWNER, Role.TEACHER})
_TEACHER = frozenset({Role.TEACHER})

RULES: Mapping[Action, frozenset[Role]] = {
    Action.SEE: _ALL,
    Action.STOP: _OWNER_OR_TEACHER,
    Action.DELETE: _OWNER_OR_TEACHER,
    Action.RESUME: _OWNER_OR_TEACHER,
    Action.REVEAL: _TEACHER,
    Action.SKIP_PREDICTION: _TEACHER,
    Action.PROJECT: _TEACHER,
    Action.ASK: _TEACHER,
    Action.MANAGE_CLASS: _TEACHER,
    Action.SET_BUDGET: _TEACHER,
    Action.RETENTION: _TEACHER,
    Action.SERVER_FOLDER: _TEACHER,
    Action.SCREEN: _TEACHER,
    Action.PAUSE: _TEACHER,
    Action.AUTHOR: _TEACHER,
    Action.DEBRIEF: _TEACHER,
}

# The sentence a refused person reads (one plain sentence, HOUSE_STYLE.md); the job manager raises it as is.
_REFUSALS: Mapping[frozenset[Role], str] = {
    _OWNER_OR_TEACHER: "Only the person who started this job (or the teacher) can {verb} it.",
    _TEACHER: "Only the teacher can {verb}; unlock teacher mode with the password in the sidebar.",
}
_VERBS: Mapping[Action, str] = {
    Action.REVEAL: "reveal a question's answers", Action.SKIP_PREDICTION: "see results before predicting",
    Action.PROJECT: "project a student's charts", Action.ASK: "ask the class a question",
    Action.MANAGE_CLASS: "manage a class", Action.SET_BUDGET: "change the job time budget",
    Action.RETENTION: "delete old experiments", Action.SERVER_FOLDER: "train on a folder of the server",
    Action.SCREEN: "open the class screen", Action.PAUSE: "pause the class",
    Action.AUTHOR: "write the class's lessons", Action.DEBRIEF: "download the class's debrief",
}


@dataclass(frozen=True)
class Actor:
    """Who asks: the owner id from their cookie (None: unknown) and whether they are in teacher mode."""

    owner: str | None
    teacher: bool = False


@dataclass(frozen=True)
class Policy:
    """The rules, asked one action at a time: `allows(actor, action, owner)`."""

    rules: Mapping[Action, frozenset[Role]] = field(default_factory=lambda: RULES)

    def roles(self, actor: Actor, owner: str | None = None) -> frozenset[Role]:
        """The roles `actor` holds toward a thing `owner` started (owner None: a thing nobody owns, a class)."""
        roles = {Role.TEACHER} if actor.teacher else set()
        if actor.owner is not None and owner is not None and actor.owner == owner:
            roles.add(Role.OWNER)
        return frozenset(roles or {Role.STUDENT})

    def allows(self, actor: Actor, action: Action, owner: str | None = None) -> bool:
        """True when one of actor's roles toward the thing `owner` started may take `action`."""
        return bool(self.roles(actor, owner) & self.rules[action])

    def refusal(self, action: Action) -> str:
        """The one sentence shown to someone the policy refuses `action`."""
        allowed = self.rules[action]
        template = _REFUSALS.get(allowed, "You may not {verb}.")
        return template.format(verb=_VERBS.get(action, action.value))


POLICY = Policy()


def policy_markdown(policy: Policy = POLICY) -> str:
    """The rules as a markdown table, one row per action and one column per role (docs/security.md shows it)."""
    roles = list(Role)
    rows = ["| action | " + " | ".join(r.value for r in roles) + " |", "|---|" + "---|" * len(roles)]
    rows += [f"| {a.value} | " + " | ".join("yes" if r in policy.rules[a] else "–" for r in roles) + " |"
             for a in Action]
    return "\n".join(rows) + "\n"
