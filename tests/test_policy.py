"""Who may do what: the policy as a table of roles x actions, class roles counting in their own class only, and the
job manager asking it."""
import pytest

from explorer.access.policy import POLICY, RULES, Action, Actor, Role

OWN, STU, TA, CO, CT, TEA, ADM = (Role.OWNER, Role.STUDENT, Role.TA, Role.CO_TEACHER, Role.CLASS_TEACHER,
                                  Role.TEACHER, Role.ADMIN)
STAFF = {TA, CO, CT, ADM}
LEADS = {CO, CT, ADM}
# The table as the app promises it (DESIGN.md, "Who may do what"; issue 22): one row per action, the roles that may
# take it. A TA runs the room (roster, runs, questions, the screen, stopping a student's job); a co-teacher also
# manages the class and its lessons; only its creator deletes it or gives roles; server-wide settings are the admin's.
EXPECTED = {
    Action.SEE: {OWN, STU, TA, CO, CT, TEA, ADM},  # the Runs page is the class's gallery
    Action.STOP: {OWN} | STAFF,
    Action.DELETE: {OWN} | LEADS,
    Action.RESUME: {OWN} | LEADS,
    Action.REVEAL: STAFF,
    Action.SKIP_PREDICTION: STAFF | {TEA},
    Action.PROJECT: STAFF,
    Action.ASK: STAFF,
    Action.VIEW_CLASS: STAFF,
    Action.CREATE_CLASS: {TEA, ADM},
    Action.MANAGE_CLASS: LEADS,
    Action.DELETE_CLASS: {CT, ADM},
    Action.STAFF: {CT, ADM},
    Action.SET_BUDGET: {ADM},
    Action.RETENTION: {ADM},
    Action.SERVER_FOLDER: {ADM},
    Action.SCREEN: STAFF,
    Action.PAUSE: LEADS,
    Action.AUTHOR: LEADS,
    Action.DEBRIEF: STAFF,
}
# One actor per role toward a job "ann" started inside class "c1".
ACTORS = {OWN: Actor("ann"), STU: Actor("bob"), TA: Actor("tia", classes={"c1": TA}),
          CO: Actor("cole", classes={"c1": CO}), CT: Actor("tess", classes={"c1": CT}),
          TEA: Actor("tom", teacher=True), ADM: Actor("ada", admin=True)}


def test_every_action_has_a_rule():
    assert set(RULES) == set(Action) == set(EXPECTED)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(ACTORS))
def test_the_table(role, action):
    assert POLICY.allows(ACTORS[role], action, owner="ann", class_id="c1") is (role in EXPECTED[action])


@pytest.mark.parametrize("role", [TA, CO, CT])
@pytest.mark.parametrize("action", [a for a in Action if a is not Action.SEE])
def test_a_class_role_counts_in_its_own_class_only(role, action):
    """A TA of c1 stops c1's jobs, not c2's nor a lone learner's; a teacher of c1 cannot delete c2."""
    actor = ACTORS[role]
    assert not POLICY.allows(actor, action, owner="ann", class_id="c2") or action is Action.SKIP_PREDICTION
    assert not POLICY.allows(actor, action, owner="ann") or action is Action.SKIP_PREDICTION


def test_roles_toward_a_thing():
    assert POLICY.roles(Actor("ann"), "ann") == {OWN}
    assert POLICY.roles(Actor("bob"), "ann") == {STU}
    assert POLICY.roles(Actor("ann", teacher=True), "ann") == {OWN, TEA}
    assert POLICY.roles(Actor(None), None) == {STU}  # an unknown session owns nothing, not even an unowned thing
    assert POLICY.roles(Actor("ann"), None) == {STU}
    assert POLICY.roles(Actor("tia", classes={"c1": TA}), "ann", "c1") == {TA}
    assert POLICY.roles(Actor.password_teacher("p"), "ann") == {TEA, ADM}  # the password: the machine's teacher


def test_a_ta_cannot_delete_the_class_change_budgets_or_see_other_classes():
    tia = ACTORS[TA]
    assert POLICY.allows(tia, Action.STOP, owner="ann", class_id="c1")
    assert POLICY.allows(tia, Action.VIEW_CLASS, class_id="c1")
    assert not POLICY.allows(tia, Action.DELETE_CLASS, class_id="c1")
    assert not POLICY.allows(tia, Action.SET_BUDGET, class_id="c1")
    assert not POLICY.allows(tia, Action.VIEW_CLASS, class_id="c2")
    assert POLICY.allows_any_class(tia, Action.VIEW_CLASS) and not POLICY.allows_any_class(tia, Action.STAFF)


def test_an_admin_and_a_class_teacher_may_do_whatever_an_owner_may():
    assert all({ADM, CT} <= roles for roles in RULES.values() if OWN in roles)


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.SEE])
def test_every_refusal_is_one_sentence_and_names_no_password(action):
    text = POLICY.refusal(action)
    assert text.endswith(".") and text.count(". ") == 0 and "{" not in text
    assert "password" not in text and "sidebar" not in text and "may not" not in text


def test_the_job_manager_asks_the_policy(tmp_path):
    from explorer.jobs.manager import JobError, JobManager
    from explorer.store.runstore import RunStore
    store = RunStore(tmp_path)
    manager = JobManager(store, background=False)
    try:
        exp = store.create_experiment({"kind": "twin"}, [{"name": "a", "model": {}}], owner="ann")
        with pytest.raises(JobError, match="Only the person who started this job"):
            manager.stop(exp, "bob")
        with pytest.raises(JobError, match="or TA"):  # a TA of another class
            manager.stop(exp, "tia", actor=ACTORS[TA], class_id="c2")
        manager.stop(exp, "tia", actor=ACTORS[TA], class_id="c1")  # queued: stopped at once
        assert store.load_experiment(exp).status == "stopped"
        with pytest.raises(JobError, match="can delete it"):
            manager.delete(exp, "tia", actor=ACTORS[TA], class_id="c1")
        with pytest.raises(JobError, match="can delete it"):
            manager.delete(exp, None)
        manager.delete(exp, "p", teacher=True)  # the password's teacher
        assert store.load_experiment(exp) is None
    finally:
        manager.shutdown()


def test_the_security_page_shows_the_policy_as_the_code_states_it():
    import re
    from pathlib import Path

    from explorer.access.policy import policy_markdown
    text = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- policy-table:start -->\n(.*?)<!-- policy-table:end -->", text, re.S)
    assert shown is not None and shown.group(1) == policy_markdown()
