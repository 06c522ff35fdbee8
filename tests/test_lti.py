"""LTI 1.3 (issue 22, item 5): a real platform (lti1p3platform, tests/lti_platform.py) launches the real tool
(explorer.lti.app on pylti1p3next), both served by uvicorn on 127.0.0.1; the app redeems the ticket in Streamlit's
AppTest. Nothing of either LTI library is mocked: ids, keys, signatures and the roster service are the real thing.

One server for the module (its tests share the course, in order: the instructor's launch makes the class).
"""
import json
import os
import stat
import time

import jwt
import pytest
import requests
import streamlit as st
from lti_platform import CLIENT_ID, COURSE, ROLE, Browser, Person, Platform, Served, new_key_pem
from starlette.applications import Starlette
from test_browser import free_port

from explorer.access.identity import owner_for
from explorer.access.policy import POLICY, Action, Actor, Role
from explorer.classroom import lti_courses, staff
from explorer.classroom.classes import Classroom
from explorer.lti import settings as lti_settings
from explorer.lti import tool
from explorer.lti.app import LtiTool
from explorer.lti.roster import sync_course
from explorer.lti.settings import LtiError, parse_settings, tool_key
from explorer.store.runstore import RunStore

PEOPLE = [Person("inst-1", "Ada Lovelace", [ROLE + "Instructor"]),
          Person("stud-1", "Grace Hopper", [ROLE + "Learner"]),
          Person("stud-2", "Alan Turing", [ROLE + "Learner"]),
          Person("ta-1", "Mary Somerville", ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor"
                                             "#TeachingAssistant"])]


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """(platform, room, tool, base): the LMS and the tool on one uvicorn server, over a fresh run store."""
    runs = tmp_path_factory.mktemp("lti") / "runs"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    platform = Platform(base, people={p.user_id: p for p in PEOPLE})
    room = Classroom(RunStore(runs))
    settings = parse_settings(platform.settings(app_url=f"http://127.0.0.1:{free_port()}"))
    endpoints = LtiTool(room, settings, tool_key(runs), tool_url=base + "/lti")
    served = Served(Starlette(routes=endpoints.routes() + platform.routes()), port)
    yield platform, room, endpoints, base
    served.stop()
    room.close_engines()


@pytest.fixture
def app_on(lms, monkeypatch):
    """The Streamlit app on the tool's run store (as the app beside it would be), its caches fresh."""
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(lms[1].store.root))
    monkeypatch.delenv("EXPLORER_TEACHER_PASSWORD", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    from pages.common import job_manager
    job_manager().shutdown(grace_s=1.0)
    st.cache_resource.clear()


def _ticket(response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.split("?")[0].endswith("/") and "lti=" in location
    return location.split("lti=", 1)[1]


def _tickets(room) -> int:
    import sqlalchemy as sa

    from explorer.classroom import tables
    return room.q(lambda c: c.execute(sa.select(sa.func.count()).select_from(tables.lti_tickets)).scalar_one())


# ----------------------------------------------------------------------------- launches
def test_an_instructor_launch_makes_the_course_class_and_signs_the_teacher_in(lms, app_on):
    platform, room, _, base = lms
    ticket = _ticket(_launch(base, "inst-1"))
    from helpers import open_app
    at = open_app(lti=ticket)
    owner = owner_for(platform.issuer, "inst-1")
    assert at.session_state["owner"] == owner
    assert "lti" not in at.query_params
    assert any(c.value == "Signed in from your course: Ada Lovelace, teacher of Deep Learning 101."
               for c in at.caption), [c.value for c in at.caption]
    course = lti_courses.course_class(room, platform.issuer, "deployment-1", COURSE[0], client_id=CLIENT_ID,
                                      title="", teacher=None)
    assert course.name == "Deep Learning 101" and course.teacher == owner
    roles = staff.staff_classes(room, owner)
    assert roles == {course.id: Role.CLASS_TEACHER}
    assert at.session_state["class_pick"] == course.id and [t.value for t in at.title] == ["Class"]  # lands there
    shown = [m.value for m in at.markdown]
    assert f"## Join code: {course.code}" in shown and any("From your LMS course" in m for m in shown), shown
    assert POLICY.allows(Actor(owner, classes=roles), Action.MANAGE_CLASS, class_id=course.id)
    # A second launch of the same course reuses its class.
    _launch(base, "inst-1")
    assert [c.id for c in room.teacher_classes(owner)] == [course.id]


def test_the_roster_sync_lists_who_has_not_joined_and_a_learner_launch_joins_the_class(lms, app_on, wait_for):
    platform, room, endpoints, base = lms
    info = room.teacher_classes(owner_for(platform.issuer, "inst-1"))[0]
    # The instructor's launch synced the roster after its redirect (NRPS, with the tool's signed JWT).
    missing = wait_for(lambda: [e.name for e in lti_courses.not_joined(room, info.id)], 20, "the roster sync")
    assert missing == ["Alan Turing", "Grace Hopper"]
    ticket = _ticket(_launch(base, "stud-1", lesson="fix"))
    from helpers import open_app
    at = open_app(lti=ticket)
    owner = owner_for(platform.issuer, "stud-1")
    assert at.session_state["owner"] == owner
    assert room.membership(owner)[0].id == info.id and room.membership(owner)[1].name == "Grace Hopper"
    assert at.session_state["lessons_pick"] == "fix"  # deep-linked to lesson 2 through a custom parameter
    assert not POLICY.allows(Actor(owner, classes=staff.staff_classes(room, owner)), Action.MANAGE_CLASS,
                             class_id=info.id)
    assert [e.name for e in lti_courses.not_joined(room, info.id)] == ["Alan Turing"]
    # A TA's launch makes them the class's TA; a sync on demand reads the same roster.
    _ticket(_launch(base, "ta-1"))
    assert staff.class_role(room, info.id, owner_for(platform.issuer, "ta-1")) == Role.TA
    assert sync_course(room, endpoints.settings, endpoints.key, info.id) == 4


def _roster_section(class_id: str) -> None:  # an AppTest script: the Class page's LMS section alone
    from pages.common import classroom
    from pages.lti_roster import lms_roster
    lms_roster(classroom().get(class_id))


def test_the_class_page_says_who_in_the_course_has_not_joined(lms, app_on):
    from streamlit.testing.v1 import AppTest
    platform, room, _, _ = lms
    info = room.teacher_classes(owner_for(platform.issuer, "inst-1"))[0]
    at = AppTest.from_function(_roster_section, args=(info.id,), default_timeout=60).run()
    assert not at.exception, at.exception
    assert "1 student not joined yet" in at.markdown[0].value
    assert [c.value for c in at.caption] == ["Not joined yet: Alan Turing."]


def test_a_used_ticket_is_refused_with_one_sentence(lms, app_on):
    ticket = _ticket(_launch(lms[3], "stud-2"))
    from helpers import open_app
    open_app(lti=ticket)
    at = open_app(lti=ticket)
    assert [e.value for e in at.error] == [lti_courses.EXPIRED]
    assert not str(at.session_state["owner"]).startswith("u-")  # still the anonymous session it was


def _launch(base: str, user: str, lesson: str | None = None) -> requests.Response:
    browser = Browser(base)
    return browser.post(browser.open_from_course(user, lesson))


# ----------------------------------------------------------------------------- tampered and replayed
def _forged(platform: Platform, id_token: str, key_pem: str | None = None, **claims) -> str:
    """The id_token with some claims changed, signed again (with the LMS's own key unless another is given)."""
    body = jwt.decode(id_token, options={"verify_signature": False})
    body.update(claims)
    kid = jwt.get_unverified_header(id_token)["kid"]
    return jwt.encode(body, key_pem or platform.private_pem, algorithm="RS256", headers={"kid": kid})


@pytest.mark.parametrize("change, sentence", [
    ("signature", tool.UNVERIFIED), ("audience", tool.UNVERIFIED), ("expired", tool.UNVERIFIED),
    ("issuer", tool.NOT_REGISTERED), ("garbage", tool.UNVERIFIED)])
def test_a_tampered_id_token_is_refused_with_one_sentence(lms, change, sentence):
    platform, room, _, base = lms
    browser = Browser(base)
    form = browser.open_from_course("inst-1")  # the instructor's launch works in any order (it makes the class)
    now = int(time.time())
    token = {"signature": lambda: _forged(platform, form.id_token, new_key_pem()),
             "audience": lambda: _forged(platform, form.id_token, aud="another-tool"),
             "expired": lambda: _forged(platform, form.id_token, iat=now - 7200, exp=now - 3600),
             "issuer": lambda: _forged(platform, form.id_token, iss="https://lms.example.org"),
             "garbage": lambda: form.id_token[:-40] + "x" * 40}[change]()
    before = _tickets(room)
    answer = browser.post(form, id_token=token)
    assert answer.status_code == 400
    assert sentence in answer.text and "Traceback" not in answer.text and answer.text.count("<p>") == 1
    assert _tickets(room) == before
    # The real token still works afterwards: the forged one did not spend its nonce.
    assert browser.post(form).status_code == 303


def test_a_replayed_id_token_is_refused_with_one_sentence(lms):
    browser = Browser(lms[3])
    form = browser.open_from_course("inst-1")
    cookies = browser.session.cookies.copy()  # what someone who captured the launch would hold: its state cookie too
    assert browser.post(form).status_code == 303
    assert not browser.session.cookies.get(f"lti1p3-{form.state}")  # the launch spent its state cookie
    browser.session.cookies = cookies
    again = browser.post(form)
    assert again.status_code == 400 and tool.REPLAYED in again.text and "Traceback" not in again.text
    # ... and without the state cookie (another browser) it is refused before the token is even read.
    other = Browser(lms[3]).post(form)
    assert other.status_code == 400 and tool.LOST_STATE in other.text


def test_a_launch_larger_than_any_lms_sends_is_refused_unread(lms):
    base = lms[3]
    huge = requests.post(base + "/lti/launch", data={"id_token": "x" * 70_000, "state": "s"}, timeout=10)
    assert huge.status_code == 400 and "larger than any LMS launch" in huge.text
    chunked = requests.post(base + "/lti/launch", data=(b"id_token=" + b"x" * 8192 for _ in range(10)), timeout=10)
    assert chunked.status_code == 400 and "larger than any LMS launch" in chunked.text


def test_the_state_cookie_crosses_sites_over_https_and_stays_lax_over_http():
    from explorer.lti.app import set_cookie
    secure = set_cookie("lti1p3-state-1a", "state-1a", 600, secure=True)
    assert secure == "lti1p3-state-1a=state-1a; Path=/; HttpOnly; Max-Age=600; Secure; SameSite=None; Partitioned"
    assert set_cookie("lti1p3-state-1a", "", 0, secure=False).endswith("Max-Age=0; SameSite=Lax")
    with pytest.raises(ValueError):
        set_cookie("a", "b; Domain=evil", 60, secure=True)


def test_the_jwks_serves_the_public_key_only_and_the_about_page_the_urls(lms):
    base = lms[3]
    keys = requests.get(base + "/lti/jwks", timeout=10).json()["keys"]
    assert len(keys) == 1 and keys[0]["kid"] == lms[2].key.kid and "d" not in keys[0] and keys[0]["alg"] == "RS256"
    about = requests.get(base + "/lti/", timeout=10).json()
    assert about["oidc_initiation_url"] == base + "/lti/login" and about["public_jwk_url"] == base + "/lti/jwks"


# ----------------------------------------------------------------------------- settings and the key
def test_the_tool_key_is_made_once_private_and_refused_when_others_can_read_it(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_LTI_PRIVATE_KEY_FILE", raising=False)
    first = tool_key(tmp_path)
    path = tmp_path / lti_settings.KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert tool_key(tmp_path).kid == first.kid
    os.chmod(path, 0o644)
    with pytest.raises(LtiError, match="chmod 600"):
        tool_key(tmp_path)


@pytest.mark.parametrize("broken, words", [
    ({"platforms": []}, "1 to 50 platforms"),
    ({"auth_login_url": "http://lms.example.org/auth"}, "https://"),
    ({"deployment_ids": "d1"}, "deployment_ids"),
    ({"surprise": 1}, "unknown keys"),
])
def test_bad_registrations_are_refused_with_one_sentence(broken, words, tmp_path):
    good = {"issuer": "https://lms.example.org", "client_id": "c", "deployment_ids": ["d1"],
            "auth_login_url": "https://lms.example.org/auth", "auth_token_url": "https://lms.example.org/token",
            "key_set_url": "https://lms.example.org/jwks"}
    raw = {"app_url": "https://explorer.example.org", "platforms": [{**good, **broken}]}
    if "platforms" in broken:
        raw = {"app_url": "https://explorer.example.org", **broken}
    with pytest.raises(LtiError, match=words) as refused:
        parse_settings(raw)
    assert "\n" not in str(refused.value)
    path = tmp_path / "lti.json"
    path.write_text(json.dumps({"app_url": "https://x.org", "platforms": [good]}))
    assert lti_settings.load_settings(path).platforms[0].client_id == "c"
    path.write_text("x" * (lti_settings.MAX_CONFIG_BYTES + 1))
    with pytest.raises(LtiError, match="at most"):
        lti_settings.load_settings(path)


def test_the_lti_command_without_settings_says_what_to_set(monkeypatch, capsys, tmp_path):
    from explorer.cli import main
    monkeypatch.delenv("EXPLORER_LTI_CONFIG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["lti", "--runs-dir", str(tmp_path)])
    assert stopped.value.code == 2 and "EXPLORER_LTI_CONFIG" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the records, on each database backend
def test_tickets_nonces_and_the_course_class_work_once_on_each_backend(room, monkeypatch):
    """SQLite here, PostgreSQL too where CI sets EXPLORER_TEST_DATABASE_URL (the `room` fixture)."""
    with pytest.raises(lti_courses.ClassError, match="has not opened"):
        lti_courses.course_class(room, "https://lms", "d", "c1", client_id="x", title="T", teacher=None)
    made = lti_courses.course_class(room, "https://lms", "d", "c1", client_id="x", title="T", teacher="u-t")
    again = lti_courses.course_class(room, "https://lms", "d", "c1", client_id="x", title="T", teacher="u-other")
    assert again.id == made.id and again.teacher == "u-t"
    ticket = lti_courses.issue_ticket(room, "u-s", made.id, lti_courses.MEMBER, "Sam", "why")
    assert lti_courses.redeem_ticket(room, ticket) == lti_courses.Ticket("u-s", made.id, "member", "Sam", "why")
    for used in (ticket, "x" * 43, None):
        with pytest.raises(lti_courses.ClassError, match="expired or was already used"):
            lti_courses.redeem_ticket(room, used)
    late = lti_courses.issue_ticket(room, "u-s", made.id, lti_courses.MEMBER, "Sam")
    clock = time.time() + lti_courses.TICKET_LIFETIME_S + 1
    monkeypatch.setattr(lti_courses.time, "time", lambda: clock)
    with pytest.raises(lti_courses.ClassError):
        lti_courses.redeem_ticket(room, late)
    monkeypatch.undo()
    lti_courses.put_value(room, "nonce-1", True, 60)
    assert lti_courses.get_value(room, "nonce-1") is True
    assert lti_courses.take_value(room, "nonce-1") and not lti_courses.take_value(room, "nonce-1")
