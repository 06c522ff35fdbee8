"""Teachers and TAs signing in for real: a real OpenID Connect provider on 127.0.0.1 (oidc-provider-mock, in this
process), one `streamlit run` configured by a secrets.toml in a temp folder (STREAMLIT_SECRETS_FILES), Streamlit's own
st.login / st.logout and Authlib, Chromium. A teacher on the allow-list signs in, creates a class and adds a TA by
e-mail; the TA signs in in another browser context and stops a student's job but cannot delete the class; a user
outside the allow-list gets student rights only; signing out ends the teacher's rights.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, launch_app, stop_app

UNDER_LOAD_MS = 90_000  # a rerun after a click, on a 2-core machine running the whole suite (30 s ran out once)
USERS = {"tess": {"email": "tess@school.example", "email_verified": True, "name": "Tess Teacher"},
         "tia": {"email": "tia@school.example", "email_verified": True, "name": "Tia Assistant"},
         "eve": {"email": "eve@elsewhere.example", "email_verified": True, "name": "Eve Outsider"}}
SECRETS = """[auth]
redirect_uri = "{app}/oauth2callback"
cookie_secret = "{cookie}"

[auth.school]
client_id = "resnet-explorer"
client_secret = "not-a-secret"
server_metadata_url = "{idp}/.well-known/openid-configuration"

[explorer]
teacher_emails = ["tess@school.example"]
provider_labels = {{ school = "School ID" }}
"""


@pytest.fixture(scope="module")
def signin(tmp_path_factory):
    """(app URL, Chromium, runs folder): one provider and one Streamlit server for the module."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    mock = pytest.importorskip("oidc_provider_mock", reason="needs oidc-provider-mock (requirements-dev.txt)")
    from werkzeug.serving import make_server
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the provider's own redirect check: plain http on loopback
    idp = make_server("127.0.0.1", 0, mock.app(user_claims=[mock.User(sub=sub, claims=c) for sub, c in USERS.items()]),
                      threaded=True)
    threading.Thread(target=idp.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    tmp = tmp_path_factory.mktemp("signin")
    port = free_port()
    app = f"http://127.0.0.1:{port}"
    (tmp / "secrets.toml").write_text(SECRETS.format(app=app, cookie=secrets.token_hex(32),
                                                     idp=f"http://127.0.0.1:{idp.server_port}"))
    server = launch_app(tmp / "runs", port, tmp / "streamlit.log", STREAMLIT_SECRETS_FILES=str(tmp / "secrets.toml"),
                        AUTHLIB_INSECURE_TRANSPORT="1")
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield app, browser, tmp / "runs"
            finally:
                browser.close()
    finally:
        stop_app(server)
        idp.shutdown()
        os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)


def signed_in(browser, app: str, sub: str):
    """A fresh browser context (its own cookies) signed in as `sub` through the Class page's button; on the Class
    page (reached by the top navigation after the provider sends the browser back to Home: no second page load)."""
    page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    page.goto(f"{app}/classroom", timeout=60_000)
    page.get_by_role("button", name="Sign in with School ID").click(timeout=60_000)
    page.get_by_role("button", name=sub, exact=True).click(timeout=UNDER_LOAD_MS)  # the provider's page: pick the user
    page.get_by_role("heading", name="ResNet Explorer").wait_for(timeout=60_000)  # back from /oauth2callback: Home
    page.get_by_role("link", name="Class").first.click()
    page.get_by_text(re.compile(f"igned in as {USERS[sub]['name']}")).first.wait_for(timeout=60_000)
    return page


@pytest.fixture(scope="module")
def tess(signin):
    """The teacher on the allow-list, signed in once for the module."""
    app, browser, _ = signin
    return signed_in(browser, app, "tess")


def student_job(runs: Path, code: str) -> tuple[str, subprocess.Popen]:
    """Ann joins the class and has a running job there, written straight into the store: its worker is a sleeping
    process of ours in its own session, recorded as just claimed (so the server's job manager leaves it running)."""
    from explorer.classroom.classes import Classroom
    from explorer.store.runstore import RunStore
    store = RunStore(runs)
    room = Classroom(store)
    sleeper = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        info, _ = room.join(code, "a" * 32, "Ann")
        exp = store.create_experiment({"kind": "sweep"}, [{"name": "plain-20", "model": {}}], owner="a" * 32)
        store.update_experiment(exp, status="running", started=time.time(),
                                worker=f"{socket.gethostname()}:{sleeper.pid}:claim")
        room.record_job(info.id, "a" * 32, exp, seed=1)
    finally:
        room.close_engines()
        store.close()
    return exp, sleeper


def stop_requested(runs: Path, exp: str) -> bool:
    from explorer.store.runstore import RunStore
    store = RunStore(runs)
    try:
        return store.stop_requested(exp)
    finally:
        store.close()


@pytest.mark.browser
def test_a_teacher_adds_a_ta_who_stops_a_student_s_job_but_cannot_delete_the_class(signin, tess):
    app, browser, runs = signin
    tess.get_by_text("Signed in as Tess Teacher (teacher)").wait_for()
    tess.get_by_label("Class name").fill("Period 3")
    tess.get_by_role("button", name="Create the class").click()
    heading = tess.get_by_role("heading", name=re.compile("Join code")).first
    heading.wait_for(timeout=UNDER_LOAD_MS)
    code = heading.inner_text().split(":")[1].strip()
    tess.get_by_text("Co-teachers and TAs", exact=True).click()
    tess.get_by_label("E-mail of a co-teacher or TA (their school sign-in)").fill("tia@school.example")
    tess.get_by_role("button", name="Add", exact=True).click()
    tess.get_by_text("tia@school.example (until they sign in)").wait_for(timeout=UNDER_LOAD_MS)
    shots = Path("/tmp/shots-identity")
    shots.mkdir(exist_ok=True)
    tess.screenshot(path=str(shots / "teacher_staff.png"))

    exp, sleeper = student_job(runs, code)
    try:
        tia = signed_in(browser, app, "tia")
        tia.get_by_text("Signed in as Tia Assistant (staff)").wait_for()
        tia.get_by_role("heading", name=f"Join code: {code}").wait_for(timeout=UNDER_LOAD_MS)
        # the roster: names, for the class's staff
        tia.get_by_text("Ann", exact=True).first.wait_for(timeout=UNDER_LOAD_MS)
        assert tia.get_by_role("button", name="Delete this class…").count() == 0
        assert tia.get_by_role("button", name="Close this class").count() == 0
        assert tia.get_by_role("button", name="Delete", exact=True).count() == 0  # a TA stops; deleting is not theirs
        tia.get_by_role("button", name="Stop", exact=True).click()
        deadline = time.monotonic() + 30
        while not stop_requested(runs, exp) and time.monotonic() < deadline:
            tia.wait_for_timeout(200)
        assert stop_requested(runs, exp)
        assert tia.locator('[data-testid="stException"]').count() == 0
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.browser
def test_outside_the_allow_list_student_rights_only_and_sign_out_ends_teacher_rights(signin, tess):
    app, browser, _ = signin
    eve = signed_in(browser, app, "eve")
    eve.get_by_text("whom this server does not count as a teacher").wait_for(timeout=UNDER_LOAD_MS)
    assert eve.get_by_text("New class", exact=True).count() == 0
    tess.get_by_text("New class", exact=True).wait_for(timeout=UNDER_LOAD_MS)  # a teacher: may create a class
    tess.get_by_role("button", name="Sign out").first.click()
    # the provider's logout
    tess.wait_for_url(lambda url: not url.startswith(f"{app}/classroom"), timeout=UNDER_LOAD_MS)
    tess.goto(f"{app}/classroom", timeout=60_000)
    tess.get_by_role("button", name="Sign in with School ID").wait_for(timeout=60_000)
    assert tess.get_by_text("New class", exact=True).count() == 0
    assert tess.get_by_text("Signed in as").count() == 0
