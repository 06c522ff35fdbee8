"""Who may do what: one policy over roles and actions, asked by the job manager, the classroom and every page.

A person acts as an `Actor`: their owner id (a cookie's random id, or owner_for(issuer, subject) when signed in),
whether the deployment's teacher rule counts them as a teacher (they may create classes), whether its admin rule
counts them as the server's administrator, and the role they hold in each class (`classes`: class id -> role, read
from the class's staff by explorer.classroom.staff). Toward one thing (a job, a class) they hold roles: `owner`
when they started the job, their class role when the thing belongs to that class, `teacher` and `admin` everywhere,
`student` when nothing else. `RULES` says which roles may take each `Action`; nothing else in the library or the app
writes the rule. A class link grants membership, never a role (DESIGN.md, "Who may do what").

The password (the embedded default on a laptop) makes its holder teacher and admin: one secret, one person in
charge of the machine. A school's sign-in (OpenID Connect) makes teachers by the deployment's rule; each sees and
runs only the classes they hold a role in, and server-wide settings stay with the admin rule.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from ..i18n import N_, _


class Role(str, Enum):
    """What a person is toward one thing (a job, a class)."""

    OWNER = "owner"  # started the job
    STUDENT = "student"  # anyone else with a session, in a class or not
    TA = "ta"  # a teaching assistant of the class (added by its teacher)
    CO_TEACHER = "co_teacher"  # a co-teacher of the class (added by its teacher)
    CLASS_TEACHER = "class_teacher"  # created the class: its owner-teacher
    TEACHER = "teacher"  # passes the deployment's teacher rule (or holds the password): may create classes
    ADMIN = "admin"  # passes the deployment's admin rule (or holds the password): server-wide settings, every class


CLASS_ROLES = (Role.CLASS_TEACHER, Role.CO_TEACHER, Role.TA)  # roles held toward one class, strongest first
STAFF_ROLES = (Role.CO_TEACHER, Role.TA)  # the roles a class's teacher gives to others


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
    VIEW_CLASS = "view_class"  # see a class on the Class page: its roster with names, its runs, its tallies
    CREATE_CLASS = "create_class"  # create a new class (its creator becomes its teacher)
    MANAGE_CLASS = "manage_class"  # close and reopen a class, put it on a lesson
    DELETE_CLASS = "delete_class"  # delete a class with its members, questions and answers
    STAFF = "staff"  # add and remove a class's co-teachers and TAs, make invite links
    SET_BUDGET = "set_budget"  # change the time budget of jobs that start from now on (server-wide)
    RETENTION = "retention"  # delete old experiments by filter (server-wide)
    SERVER_FOLDER = "server_folder"  # train on a folder of the server's own disk (not an upload)
    SCREEN = "screen"  # open a class's screen for the projector and push what it shows (question, snapshot, ...)
    PAUSE = "pause"  # pause a class (its students' starts wait) and resume it
    AUTHOR = "author"  # write, import and export a class's own lessons
    DEBRIEF = "debrief"  # download a class's debrief (HTML page and CSV of predictions and outcomes)


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


_ALL = frozenset(Role)
_CLASS_STAFF = _roles(Role.TA, Role.CO_TEACHER, Role.CLASS_TEACHER, Role.ADMIN)  # everyone who helps run a class
_CLASS_TEACHERS = _roles(Role.CO_TEACHER, Role.CLASS_TEACHER, Role.ADMIN)  # those who lead it
_CLASS_OWNER = _roles(Role.CLASS_TEACHER, Role.ADMIN)  # who may delete it and give its roles
_ADMIN = _roles(Role.ADMIN)

# Class roles count only toward a class's own things (a job started inside the class, the class itself): the caller
# passes the class id. A TA helps run the room: roster, runs, questions, the screen, stopping a student's job; a
# co-teacher also manages the class and its lessons; only its teacher deletes it or gives its roles; server-wide
# settings are the admin's.
RULES: Mapping[Action, frozenset[Role]] = MappingProxyType({
    Action.SEE: _ALL,
    Action.STOP: _CLASS_STAFF | {Role.OWNER},
    Action.DELETE: _CLASS_TEACHERS | {Role.OWNER},
    Action.RESUME: _CLASS_TEACHERS | {Role.OWNER},
    Action.REVEAL: _CLASS_STAFF,
    Action.SKIP_PREDICTION: _CLASS_STAFF | {Role.TEACHER},  # a teacher is never a class's student
    Action.PROJECT: _CLASS_STAFF,
    Action.ASK: _CLASS_STAFF,
    Action.VIEW_CLASS: _CLASS_STAFF,
    Action.CREATE_CLASS: _roles(Role.TEACHER, Role.ADMIN),
    Action.MANAGE_CLASS: _CLASS_TEACHERS,
    Action.DELETE_CLASS: _CLASS_OWNER,
    Action.STAFF: _CLASS_OWNER,
    Action.SET_BUDGET: _ADMIN,
    Action.RETENTION: _ADMIN,
    Action.SERVER_FOLDER: _ADMIN,
    Action.SCREEN: _CLASS_STAFF,
    Action.PAUSE: _CLASS_TEACHERS,
    Action.AUTHOR: _CLASS_TEACHERS,
    Action.DEBRIEF: _CLASS_STAFF,
})

# The sentence a refused person reads (one plain sentence, HOUSE_STYLE.md); the job manager raises it as is. It names
# who may, never how to sign in: the page says that, for its deployment (pages.signin).
_REFUSALS: Mapping[frozenset[Role], str] = {
    RULES[Action.STOP]: "Only the person who started this job, or their class's teacher or TA, can {verb} it.",
    RULES[Action.DELETE]: "Only the person who started this job, or their class's teacher, can {verb} it.",
    _CLASS_STAFF: "Only the class's teacher or TA can {verb}.",
    RULES[Action.SKIP_PREDICTION]: "Only a teacher can {verb}.",
    _CLASS_TEACHERS: "Only the class's teacher or co-teacher can {verb}.",
    _CLASS_OWNER: "Only the teacher who created the class can {verb}.",
    RULES[Action.CREATE_CLASS]: "Only a teacher can {verb}.",
    _ADMIN: "Only the server's administrator can {verb}.",
}
_VERBS: Mapping[Action, str] = {
    Action.STOP: "stop", Action.DELETE: "delete", Action.RESUME: "resume",
    Action.REVEAL: "reveal a question's answers", Action.SKIP_PREDICTION: "see results before predicting",
    Action.PROJECT: "project a student's charts", Action.ASK: "ask the class a question",
    Action.VIEW_CLASS: "see the class's roster", Action.CREATE_CLASS: "create a class",
    Action.MANAGE_CLASS: "manage the class", Action.DELETE_CLASS: "delete the class",
    Action.STAFF: "add or remove the class's co-teachers and TAs", Action.SET_BUDGET: "change the job time budget",
    Action.RETENTION: "delete old experiments", Action.SERVER_FOLDER: "train on a folder of the server",
    Action.SCREEN: "open the class screen", Action.PAUSE: "pause the class",
    Action.AUTHOR: "write the class's lessons", Action.DEBRIEF: "download the class's debrief",
}

# Every sentence `Policy.refusal` writes for the default rules, whole, for the translators (a verb put into a sentence
# does not translate: "can stop it" is "puede detenerlo" in Spanish).
_SENTENCES = (
    N_("You may not see."),
    N_("Only the person who started this job, or their class's teacher or TA, can stop it."),
    N_("Only the person who started this job, or their class's teacher, can delete it."),
    N_("Only the person who started this job, or their class's teacher, can resume it."),
    N_("Only the class's teacher or TA can reveal a question's answers."),
    N_("Only a teacher can see results before predicting."),
    N_("Only the class's teacher or TA can project a student's charts."),
    N_("Only the class's teacher or TA can ask the class a question."),
    N_("Only the class's teacher or TA can see the class's roster."),
    N_("Only a teacher can create a class."),
    N_("Only the class's teacher or co-teacher can manage the class."),
    N_("Only the teacher who created the class can delete the class."),
    N_("Only the teacher who created the class can add or remove the class's co-teachers and TAs."),
    N_("Only the server's administrator can change the job time budget."),
    N_("Only the server's administrator can delete old experiments."),
    N_("Only the server's administrator can train on a folder of the server."),
    N_("Only the class's teacher or TA can open the class screen."),
    N_("Only the class's teacher or co-teacher can pause the class."),
    N_("Only the class's teacher or co-teacher can write the class's lessons."),
    N_("Only the class's teacher or TA can download the class's debrief."),
)


@dataclass(frozen=True)
class Actor:
    """Who asks: their owner id (None: unknown), the deployment's teacher and admin rules' verdicts, and their role
    in each class they help run ({class id: Role.CLASS_TEACHER, CO_TEACHER or TA})."""

    owner: str | None
    teacher: bool = False
    admin: bool = False
    classes: Mapping[str, Role] = field(default_factory=dict)

    @classmethod
    def password_teacher(cls, owner: str | None) -> Actor:
        """The password's holder: teacher and admin (the embedded default: one secret, the machine's teacher)."""
        return cls(owner, teacher=True, admin=True)


@dataclass(frozen=True)
class Policy:
    """The rules, asked one action at a time: `allows(actor, action, owner, class_id)`."""

    rules: Mapping[Action, frozenset[Role]] = field(default_factory=lambda: RULES)

    def roles(self, actor: Actor, owner: str | None = None, class_id: str | None = None) -> frozenset[Role]:
        """The roles `actor` holds toward a thing `owner` started (None: nobody's, a class) inside class `class_id`
        (None: outside any class)."""
        roles = {Role.TEACHER} if actor.teacher else set()
        if actor.admin:
            roles.add(Role.ADMIN)
        if actor.owner is not None and owner is not None and actor.owner == owner:
            roles.add(Role.OWNER)
        held = actor.classes.get(class_id) if class_id is not None else None
        if held in CLASS_ROLES:
            roles.add(held)
        return frozenset(roles or {Role.STUDENT})

    def allows(self, actor: Actor, action: Action, owner: str | None = None, class_id: str | None = None) -> bool:
        """True when one of actor's roles toward the thing `owner` started, in class `class_id`, may take `action`."""
        return bool(self.roles(actor, owner, class_id) & self.rules[action])

    def allows_any_class(self, actor: Actor, action: Action) -> bool:
        """True when `actor` may take `action` in at least one class (or everywhere): whether to show a control."""
        return self.allows(actor, action) or any(self.allows(actor, action, class_id=c) for c in actor.classes)

    def refusal(self, action: Action) -> str:
        """The one sentence shown to someone the policy refuses `action`."""
        template = _REFUSALS.get(self.rules[action], "You may not {verb}.")
        return _(template.format(verb=_VERBS.get(action, action.value)))  # a whole sentence: _SENTENCES lists them


POLICY = Policy()


def policy_markdown(policy: Policy = POLICY) -> str:
    """The rules as a markdown table, one row per action and one column per role (docs/security.md shows it)."""
    roles = list(Role)
    rows = ["| action | " + " | ".join(r.value for r in roles) + " |", "|---|" + "---|" * len(roles)]
    rows += [f"| {a.value} | " + " | ".join("yes" if r in policy.rules[a] else "–" for r in roles) + " |"
             for a in Action]
    return "\n".join(rows) + "\n"
