"""Teacher-made lessons: a predict-then-observe question, the experiment it gates, the controls its link locks or
hides; saved with the class, listed on the students' Lessons page beside the built-in ones, and carried to next
year's class as a small JSON file that is checked like every upload.

A lesson gates its experiment's kind through an ordinary class question (explorer.classroom.gating): the question is
made the first time it is used (the teacher asks the class, or a student makes the lesson's prediction), with an id
fixed by the class and the lesson, so asking twice never opens two. Everything in a lesson is text the teacher typed:
it is checked here (lengths, no markup or control characters, known experiments and controls only) and shown with
explorer.text's escapers.
Size budget: ~250 lines.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..i18n import N_, _
from ..store.untrusted import Skipped, parse_json
from ..text import clean
from ..urlstate import CONTROLS, EPOCHS, controls_to_query
from . import tables as t
from .lessons import lesson as builtin_lesson
from .questions import MAX_CHOICE, MAX_CHOICES, MAX_PROMPT, question_from_row
from .records import ClassError, Question

if TYPE_CHECKING:
    from ..data.config import DataConfig
    from ..store.db import Row
    from ..training.experiments import ExperimentSpec
    from ..training.recipes import TrainConfig
    from .classes import Classroom

MAX_TITLE = 80  # characters of a lesson's title: one line in the Lessons page's picker
MAX_CLASS_LESSONS = 30  # lessons one class keeps (and one file carries): a term of weekly lessons, with room
MAX_LESSONS_FILE_BYTES = 256 * 1024  # 30 lessons at every length cap, all in 4-byte characters, export as 128 KB
FILE_FORMAT = "resnet-explorer-lessons"  # the exported file's "format"; "version" is FILE_VERSION
FILE_VERSION = 1
_FILE_KEYS = frozenset({"format", "version", "lessons"})
_LESSON_KEYS = frozenset({"title", "prompt", "choices", "experiment", "lock", "hide", "epochs"})
# Characters markdown, Streamlit or HTML read as markup (tags, links, emphasis, code, tables, maths), and links.
_MARKUP = re.compile(r"[<>\[\]`*_#|~\\{}$]|://|www\.", re.IGNORECASE)
OWN_PREFIX = "own:"  # a teacher-made lesson's key on the Lessons page ("own:<id>"); built-in keys have no colon


@dataclass(frozen=True)
class LessonExperiment:
    """An experiment a teacher-made lesson can gate: a built-in lesson's one experiment, or one the student sets up
    on Train (a kind, with the lesson's locked controls)."""

    key: str
    words: str  # what it trains, in words (English, marked for the catalogue: show it with `_`)
    kind: str  # the spec kind its question gates (explorer.classroom.questions.GATED_KINDS)
    builtin: str | None  # the built-in lesson whose experiment it is (Run it starts it), or None: the student's own
    link: tuple[tuple[str, str], ...]  # what the lesson link sets (explorer.urlstate's keys)

    def spec(self, data: DataConfig, train: TrainConfig) -> ExperimentSpec | None:
        """The experiment Run it starts on this dataset and recipe, or None when the student sets it up on Train."""
        return builtin_lesson(self.builtin).spec(data, train) if self.builtin else None


EXPERIMENTS = (
    LessonExperiment("figure6", N_("Figure 6 in miniature: plain-20, ResNet-20, plain-56 and ResNet-56 (lesson 1's)"),
                     "sweep", "degradation", (("kind", "sweep"),)),
    LessonExperiment("twin56", N_("A twin at 56 layers: plain-56 and ResNet-56, option A shortcuts (lesson 2's)"),
                     "twin", "fix", (("kind", "twin"), ("depth", "56"), ("shortcut", "A"))),
    LessonExperiment("shortcuts20", N_("No shortcut and options A, B and C at 20 layers (lesson 3's)"), "compare",
                     "shortcuts", (("kind", "compare"),)),
    LessonExperiment("placements20", N_("Five BN and ReLU placements at 20 layers (lesson 4's)"), "compare",
                     "placement", (("kind", "compare"),)),
    LessonExperiment("own_twin", N_("A twin of the net the student sets up on Build and Train"), "twin", None,
                     (("kind", "twin"),)),
    LessonExperiment("own_sweep", N_("A depth sweep (Figure 6) the student sets up on Train"), "sweep", None,
                     (("kind", "sweep"),)),
    LessonExperiment("own_compare", N_("A comparison the student sets up on Train"), "compare", None,
                     (("kind", "compare"),)),
)
_EXPERIMENT = {e.key: e for e in EXPERIMENTS}


@dataclass(frozen=True)
class TeacherLesson:
    """One teacher-made lesson of a class: its question (choices, or none for a number answer), the experiment its
    question gates, and the Build and Train controls its link locks or hides."""

    id: str
    class_id: str
    title: str
    prompt: str
    choices: tuple[str, ...]
    experiment: str  # a key of EXPERIMENTS
    lock: tuple[str, ...] = ()
    hide: tuple[str, ...] = ()
    epochs: int | None = None  # the recipe's length the link sets (None: the dataset's recipe)
    created: float = 0.0

    @property
    def key(self) -> str:
        """Its key among the Lessons page's lessons."""
        return OWN_PREFIX + self.id

    @property
    def is_number(self) -> bool:
        return not self.choices

    @property
    def setup(self) -> LessonExperiment:
        return _EXPERIMENT[self.experiment]

    def query(self, join_code: str | None = None) -> dict[str, str]:
        """The lesson link's query: the class to join, this lesson, its experiment's setup, its locked and hidden
        controls. A link shares a setup and a membership, never rights."""
        q = {"join": join_code} if join_code else {}
        length = {"epochs": str(self.epochs)} if self.epochs is not None else {}
        return {**q, "lesson": self.id, **dict(self.setup.link), **length, **controls_to_query(self.lock, self.hide)}


def experiment(key: str) -> LessonExperiment:
    """The experiment a lesson may gate (ClassError with one sentence for an unknown key)."""
    if key not in _EXPERIMENT:
        raise ClassError(_("A lesson's experiment is one of {keys}.").format(keys=", ".join(_EXPERIMENT)))
    return _EXPERIMENT[key]


# ----------------------------------------------------------------------------- checking what the teacher typed
_TEXT_PROBLEMS = {  # field -> (not text, too short or long, markup): whole sentences, for the translators
    "title": (N_("The lesson's title must be text."),
              N_("The lesson's title must be 1 to {most} characters long."),
              N_("The lesson's title may not hold markup, links or control characters (such as < > [ ] ` * _ # or "
                 "://); write it as plain words.")),
    "question": (N_("The lesson's question must be text."),
                 N_("The lesson's question must be 1 to {most} characters long."),
                 N_("The lesson's question may not hold markup, links or control characters (such as < > [ ] ` * _ # "
                    "or ://); write it as plain words.")),
    "choice": (N_("The lesson's choice must be text."),
               N_("The lesson's choice must be 1 to {most} characters long."),
               N_("The lesson's choice may not hold markup, links or control characters (such as < > [ ] ` * _ # or "
                  "://); write it as plain words.")),
}
_NAMES_PROBLEMS = {  # list -> (not a list, unknown control)
    "lock": (N_("The lesson's lock list must be a list of at most {n} control names."),
             N_("The lesson's lock list names a control the pages do not have; the controls are {controls}.")),
    "hide": (N_("The lesson's hide list must be a list of at most {n} control names."),
             N_("The lesson's hide list names a control the pages do not have; the controls are {controls}.")),
}


def _text(value: object, what: str, most: int) -> str:
    """Text of 1 to `most` characters with no control characters, no invisible ones and no markup."""
    not_text, length, markup = _TEXT_PROBLEMS[what]
    if not isinstance(value, str):
        raise ClassError(_(not_text))
    text = " ".join(value.split())
    if not text or len(text) > most:
        raise ClassError(_(length).format(most=most))
    if clean(text, most) != text or _MARKUP.search(text):
        raise ClassError(_(markup))
    return text


def _names(value: object, what: str) -> tuple[str, ...]:
    not_list, unknown = _NAMES_PROBLEMS[what]
    if not isinstance(value, (list, tuple)) or len(value) > len(CONTROLS):
        raise ClassError(_(not_list).format(n=len(CONTROLS)))
    bad = [n for n in value if not isinstance(n, str) or n not in CONTROLS]
    if bad:
        raise ClassError(_(unknown).format(controls=", ".join(CONTROLS)))
    return tuple(n for n in CONTROLS if n in value)


def check_lesson(title: object, prompt: object, choices: object, experiment_key: object, lock: object = (),
                 hide: object = (), epochs: object = None) -> dict[str, Any]:
    """A lesson's fields as they are kept ({title, prompt, choices, experiment, lock, hide, epochs}), or ClassError
    with one sentence: lengths within the caps, plain words only, at most MAX_CHOICES different choices (none: a
    number answer), a known experiment and known controls (a control both locked and hidden is hidden), epochs
    within the Train page's range or None."""
    if not isinstance(choices, (list, tuple)) or len(choices) > MAX_CHOICES:
        raise ClassError(_("A lesson offers at most {n} choices (none: the answer is a number).").format(
            n=MAX_CHOICES))
    kept = [_text(c, "choice", MAX_CHOICE) for c in choices if not (isinstance(c, str) and not c.strip())]
    if len(set(kept)) != len(kept) or len(kept) == 1:
        raise ClassError(_("A lesson's choices must differ from each other, and there must be two or more (or "
                           "none for a number answer)."))
    if not isinstance(experiment_key, str) or experiment_key not in _EXPERIMENT:
        raise ClassError(_("A lesson's experiment is one of {keys}.").format(keys=", ".join(_EXPERIMENT)))
    hidden = _names(hide, "hide")
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or
                               not EPOCHS[0] <= epochs <= EPOCHS[1]):
        raise ClassError(_("A lesson's epochs are a whole number from {low} to {high} (or none: the dataset's "
                           "recipe).").format(low=EPOCHS[0], high=EPOCHS[1]))
    return {"title": _text(title, "title", MAX_TITLE), "prompt": _text(prompt, "question", MAX_PROMPT),
            "choices": tuple(kept), "experiment": experiment_key, "epochs": epochs,
            "lock": tuple(n for n in _names(lock, "lock") if n not in hidden), "hide": hidden}


# ----------------------------------------------------------------------------- the class's lessons
def _from_row(row: Row) -> TeacherLesson:
    r = row._mapping
    try:
        choices = tuple(str(c) for c in json.loads(r["choices"] or "[]"))
    except (TypeError, ValueError):
        choices = ()
    return TeacherLesson(id=r["id"], class_id=r["class_id"], title=r["title"], prompt=r["prompt"], choices=choices,
                         experiment=r["experiment"] if r["experiment"] in _EXPERIMENT else "own_twin",
                         lock=tuple(n for n in (r["lock"] or "").split(",") if n in CONTROLS),
                         hide=tuple(n for n in (r["hide"] or "").split(",") if n in CONTROLS),
                         epochs=r["epochs"] if isinstance(r["epochs"], int) else None,
                         created=float(r["created"]))


def save_lessons(room: Classroom, class_id: str, fields: Sequence[dict[str, Any]]) -> list[TeacherLesson]:
    """Keep checked lessons (check_lesson's dicts) with a class, all or none, within MAX_CLASS_LESSONS a class."""
    now = time.time()
    made = [TeacherLesson(id=secrets.token_hex(8), class_id=class_id, created=now + i * 1e-3, **f)
            for i, f in enumerate(fields)]
    lc = t.class_lessons.c

    def write(conn: sa.Connection) -> None:
        have = conn.execute(sa.select(sa.func.count()).where(lc.class_id == class_id)).scalar_one()
        if have + len(made) > MAX_CLASS_LESSONS:
            raise ClassError(_("A class keeps at most {most} lessons; it has {have}. Delete some first.").format(
                most=MAX_CLASS_LESSONS, have=have))
        for x in made:
            conn.execute(t.class_lessons.insert().values(
                id=x.id, class_id=class_id, title=x.title, prompt=x.prompt, choices=json.dumps(list(x.choices)),
                experiment=x.experiment, lock=",".join(x.lock), hide=",".join(x.hide), epochs=x.epochs,
                created=x.created))
    room.tx(write)
    return made


def save_lesson(room: Classroom, class_id: str, title: object, prompt: object, choices: object = (),
                experiment_key: object = "own_twin", lock: object = (), hide: object = (),
                epochs: object = None) -> TeacherLesson:
    """Check and keep one lesson with the class (ClassError with one sentence when a field is refused)."""
    return save_lessons(room, class_id, [check_lesson(title, prompt, choices, experiment_key, lock, hide, epochs)])[0]


def class_lessons(room: Classroom, class_id: str) -> list[TeacherLesson]:
    """The class's own lessons, oldest first (one indexed query)."""
    lc = t.class_lessons.c
    return [_from_row(r) for r in room.q(lambda c: c.execute(
        sa.select(t.class_lessons).where(lc.class_id == class_id).order_by(lc.created)).all())]


def get_lesson(room: Classroom, lesson_id: object) -> TeacherLesson | None:
    """The lesson with this id (as a lesson link names it), or None (one query)."""
    if not isinstance(lesson_id, str) or not re.fullmatch(r"[0-9a-f]{16}", lesson_id):
        return None
    row = room.q(lambda c: c.execute(sa.select(t.class_lessons).where(t.class_lessons.c.id == lesson_id)).first())
    return _from_row(row) if row is not None else None


def delete_lesson(room: Classroom, class_id: str, lesson_id: str) -> None:
    """Delete a class's lesson. Its question, if it was asked, is revealed (so it hides nothing any longer) and kept
    with its answers for the debrief."""
    lc, qc = t.class_lessons.c, t.class_questions.c

    def write(conn: sa.Connection) -> None:
        conn.execute(t.class_lessons.delete().where((lc.class_id == class_id) & (lc.id == lesson_id)))
        conn.execute(t.class_questions.update().where((qc.id == gate_id(class_id, lesson_id)) & qc.revealed.is_(None))
                     .values(revealed=time.time()))
    room.tx(write)


# ----------------------------------------------------------------------------- the lesson's question
def gate_id(class_id: str, lesson_id: str) -> str:
    """The id of a lesson's question in its class (the same on every server and reload)."""
    return "T" + hashlib.sha256(f"{class_id}:{lesson_id}".encode()).hexdigest()[:31]


def lesson_gate(room: Classroom, lesson: TeacherLesson) -> Question:
    """The lesson's question as a class question on its experiment's kind, made on first use: from then on it hides
    that kind's results from each member until they answer (or the teacher reveals), as any class question does."""
    qid, qc = gate_id(lesson.class_id, lesson.id), t.class_questions.c

    def write(conn: sa.Connection) -> None:
        if conn.execute(sa.select(qc.id).where(qc.id == qid)).first() is None:
            conn.execute(t.class_questions.insert().values(
                id=qid, class_id=lesson.class_id, experiment=lesson.setup.kind, prompt=lesson.prompt,
                choices=json.dumps(list(lesson.choices)), opened=time.time()))
    with contextlib.suppress(sa.exc.IntegrityError):  # another session made it at the same moment
        room.tx(write)
    return question_from_row(room.q(lambda c: c.execute(sa.select(t.class_questions).where(qc.id == qid)).one()))


def asked(room: Classroom, lesson: TeacherLesson) -> Question | None:
    """The lesson's question if it was asked already, else None (one query)."""
    qc = t.class_questions.c
    row = room.q(lambda c: c.execute(sa.select(t.class_questions).where(
        qc.id == gate_id(lesson.class_id, lesson.id))).first())
    return question_from_row(row) if row is not None else None


# ----------------------------------------------------------------------------- next year's class: a small JSON file
def export_lessons(lessons: Iterable[TeacherLesson]) -> bytes:
    """The lessons as a small JSON file (no ids, no class: only what a teacher wrote)."""
    body = [{"title": x.title, "prompt": x.prompt, "choices": list(x.choices), "experiment": x.experiment,
             "lock": list(x.lock), "hide": list(x.hide), **({"epochs": x.epochs} if x.epochs is not None else {})}
            for x in lessons]
    return json.dumps({"format": FILE_FORMAT, "version": FILE_VERSION, "lessons": body}, ensure_ascii=False,
                      indent=1).encode("utf-8")


def read_lessons_file(data: bytes) -> list[dict[str, Any]]:
    """The lessons in an exported file, each checked (check_lesson), or ClassError with one sentence.

    Refused before anything is parsed: a file over MAX_LESSONS_FILE_BYTES, or nested deeper than the store's JSON
    limit (explorer.store.untrusted); then anything but the exact format: unknown keys, wrong types, too many lessons,
    and every field as the authoring form checks it.
    """
    if len(data) > MAX_LESSONS_FILE_BYTES:
        raise ClassError(_("That lessons file is larger than {size} KB; an exported one is a few KB.").format(
            size=MAX_LESSONS_FILE_BYTES // 1024))
    try:
        obj = parse_json(data, _("That lessons file"))
    except Skipped as exc:
        raise ClassError(str(exc)) from None
    if not isinstance(obj, dict) or set(obj) != _FILE_KEYS or obj["format"] != FILE_FORMAT:
        raise ClassError(_("That is not a lessons file exported from ResNet Explorer (it needs exactly format, "
                           "version and lessons)."))
    if obj["version"] != FILE_VERSION or isinstance(obj["version"], bool):
        raise ClassError(_("That lessons file has version {version}; this app reads version {ours}.").format(
            version=repr(str(obj["version"])[:20]), ours=FILE_VERSION))
    lessons = obj["lessons"]
    if not isinstance(lessons, list) or not 1 <= len(lessons) <= MAX_CLASS_LESSONS:
        raise ClassError(_("A lessons file holds 1 to {most} lessons.").format(most=MAX_CLASS_LESSONS))
    out = []
    for i, item in enumerate(lessons, 1):
        if not isinstance(item, dict) or not set(item) <= _LESSON_KEYS or not {"title", "prompt"} <= set(item):
            raise ClassError(_("Lesson {i} of that file must have a title and a prompt, and only the keys "
                               "{keys}.").format(i=i, keys=", ".join(sorted(_LESSON_KEYS))))
        try:
            out.append(check_lesson(item["title"], item["prompt"], item.get("choices", []),
                                    item.get("experiment", "own_twin"), item.get("lock", []), item.get("hide", []),
                                    item.get("epochs")))
        except ClassError as exc:
            said = str(exc)
            raise ClassError(_("Lesson {i} of that file: {problem}").format(
                i=i, problem=said[:1].lower() + said[1:])) from None
    return out


def import_lessons(room: Classroom, class_id: str, data: bytes) -> list[TeacherLesson]:
    """Add the lessons of an exported file to a class, all or none (ClassError with one sentence)."""
    return save_lessons(room, class_id, read_lessons_file(data))
