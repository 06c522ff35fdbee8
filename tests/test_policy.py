"""Who may do what: the policy as a table of roles x actions, and the job manager asking it."""
import pytest

from explorer.access.policy import POLICY, RULES, Action, Actor, Role

OWN, STU, TEA = Role.OWNER, Role.STUDENT, Role.TEACHER
# The table as the app promises it (DESIGN.md, "Who may do what"): one row per action, the roles that may take it.
EXPECTED = {
    Action.SEE: {OWN, STU, TEA},  # the Runs page is the class's gallery: everyone sees every experiment
    Action.STOP: {OWN, TEA},
    Action.DELETE: {OWN, TEA},
    Action.RESUME: {OWN, TEA},
    Action.REVEAL: {TEA},
    Action.SKIP_PREDICTION: {TEA},
    Action.PROJECT: {TEA},
    Action.ASK: {TEA},
    Action.MANAGE_CLASS: {TEA},
    Action.SET_BUDGET: {TEA},
    Action.RETENTION: {TEA},
    Action.SERVER_FOLDER: {TEA},
    Action.SCREEN: {TEA},
    Action.PAUSE: {TEA},
    Action.AUTHOR: {TEA},
    Action.DEBRIEF: {TEA},
}
# One actor per role toward a job "ann" started.
ACTORS = {OWN: Actor("ann"), STU: Actor("bob"), TEA: Actor("tess", teacher=True)}


def test_every_action_has_a_rule():
    assert set(RULES) == set(Action) == set(EXPECTED)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(ACTORS))
def test_the_table(role, action):
    assert POLICY.allows(ACTORS[role], action, owner="ann") is (role in EXPECTED[action])


def test_roles_toward_a_thing():
    assert POLICY.roles(Actor("ann"), "ann") == {OWN}
    assert POLICY.roles(Actor("bob"), "ann") == {STU}
    assert POLICY.roles(Actor("ann", teacher=True), "ann") == {OWN, TEA}
    assert POLICY.roles(Actor(None), None) == {STU}  # an unknown session owns nothing, not even an unowned thing
    assert POLICY.roles(Actor("ann"), None) == {STU}


def test_a_teacher_may_do_whatever_an_owner_may():
    assert all(TEA in roles for roles in RULES.values() if OWN in roles)


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.SEE])
def test_every_refusal_is_one_sentence(action):
    text = POLICY.refusal(action)
    assert text.endswith(".") and text.count(". ") == 0 and "{" not in text


def test_the_job_manager_asks_the_policy(tmp_path):
    from explorer.jobs.manager import JobError, JobManager
    from explorer.store.runstore import RunStore
    store = RunStore(tmp_path)
    manager = JobManager(store, background=False)
    try:
        exp = store.create_experiment({"kind": "twin"}, [{"name": "a", "model": {}}], owner="ann")
        with pytest.raises(JobError, match="Only the person who started this job"):
            manager.stop(exp, "bob")
        manager.stop(exp, "tess", teacher=True)  # queued: stopped at once
        assert store.load_experiment(exp).status == "stopped"
        with pytest.raises(JobError, match="can delete it"):
            manager.delete(exp, None)
        manager.delete(exp, "ann")
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
