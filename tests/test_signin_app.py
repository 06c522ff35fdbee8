"""Signing in, in Streamlit's AppTest: the Class page's sentence and door for each deployment (nothing configured,
the password, the school's sign-in), the teacher rule over a signed-in person's claims, a TA's rights in their own
class only, and staff invite links. st.user is seeded through AppTest.user (the claims Streamlit's own callback
stores after a real sign-in; tests/test_signin_browser.py signs in for real)."""
from pathlib import Path

from explorer.access.identity import owner_for
from explorer.access.policy import Role
from explorer.classroom import staff

ISS = "https://idp.school.example"
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "school": {"client_id": "c", "client_secret": "s",
                   "server_metadata_url": "https://idp.school.example/.well-known/openid-configuration"}}


def claims(sub, email, verified=True, **more):
    return {"is_logged_in": True, "iss": ISS, "sub": sub, "email": email, "email_verified": verified,
            "name": sub.title(), "provider": "school", **more}


def open_class(new_app, user=None, secrets=None, page="pages/classroom.py"):
    """An AppTest on the Class page (or `page`), as this signed-in person (claims) with these secrets."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=120)
    at.secrets.update(secrets or {})
    if user is not None:
        at.user = user
    at.run()
    if page is not None:  # AppTest then runs the page file alone (the entry script ran on the first run)
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(at) -> str:
    return " ".join(str(e.value) for kind in ("info", "markdown", "caption", "error", "warning", "success")
                    for e in at.get(kind))


def test_nothing_configured_says_so_and_shows_no_box(new_app):
    at = open_class(new_app)
    assert "No teacher sign-in is set up on this server" in texts(at)
    assert "sidebar" not in texts(at)
    assert not [w for w in at.text_input if w.key in ("class_teacher_pw", "sidebar_teacher_pw")]
    home = new_app()
    assert not home.get("page_link")  # no "Teacher sign-in" link to follow: there is no door


def test_the_password_on_the_class_page(new_app, monkeypatch):
    monkeypatch.setenv("EXPLORER_TEACHER_PASSWORD", "sesame")
    home = new_app()
    assert [p.proto.label for p in home.get("page_link")] == ["Teacher sign-in"]  # quiet, at the bottom of Home
    assert not home.text_input  # no password box in the sidebar any more
    at = open_class(new_app)
    assert "type the teacher password below" in texts(at)
    at.text_input(key="class_teacher_pw").input("wrong").run()
    assert "That password is not the teacher's." in texts(at)
    at.text_input(key="class_teacher_pw").input("sesame").run()
    assert "Teacher mode (the teacher password)" in texts(at)
    at.text_input(key="class_new_name").input("Physics").run()
    at.button(key="class_create").click().run()
    assert any(m.value.startswith("## Join code") for m in at.markdown)
    at.button(key="class_bar_leave").click().run()
    assert "type the teacher password below" in texts(at)
    assert not any(m.value.startswith("## Join") for m in at.markdown)  # the class was the password's, not the cookie's


def test_the_school_sign_in_turns_the_password_off_unless_kept(new_app, monkeypatch):
    monkeypatch.setenv("EXPLORER_TEACHER_PASSWORD", "sesame")
    at = open_class(new_app, secrets={"auth": AUTH})
    assert "sign in with your school account" in texts(at)
    assert [b.label for b in at.button if b.key == "class_login_school"] == ["Sign in with School"]
    assert not [w for w in at.text_input if w.key == "class_teacher_pw"]
    monkeypatch.setenv("EXPLORER_KEEP_PASSWORD", "1")
    at = open_class(new_app, secrets={"auth": AUTH})
    assert [w.key for w in at.text_input if w.key == "class_teacher_pw"] == ["class_teacher_pw"]


def test_the_teacher_rule_decides_who_is_a_teacher(new_app, monkeypatch):
    monkeypatch.setenv("EXPLORER_TEACHER_DOMAINS", "staff.school.example")
    monkeypatch.setenv("EXPLORER_ADMIN_EMAILS", "head@school.example")
    tess = open_class(new_app, claims("tess", "tess@staff.school.example"), {"auth": AUTH})
    assert "Signed in as **Tess** (teacher)" in texts(tess)
    assert [b.label for b in tess.button if b.key == "class_bar_signout"] == ["Sign out"]
    tess.text_input(key="class_new_name").input("Physics").run()
    tess.button(key="class_create").click().run()
    # An unverified e-mail in the allowed domain counts for nothing; a student gets the one sentence.
    eve = open_class(new_app, claims("eve", "eve@staff.school.example", verified=False), {"auth": AUTH})
    assert "whom this server does not count as a teacher" in texts(eve)
    assert not any(m.value.startswith("## Join") for m in eve.markdown)
    head = open_class(new_app, claims("head", "head@school.example"), {"auth": AUTH})
    assert "(admin)" in texts(head)
    assert any(m.value.startswith("## Join") for m in head.markdown)  # every class
    assert any(m.value.startswith("## Join") for m in head.markdown)


def test_a_ta_sees_their_class_stops_its_jobs_and_nothing_more(new_app, monkeypatch):
    from pages.common import classroom
    monkeypatch.setenv("EXPLORER_TEACHER_EMAILS", "tess@school.example")
    tess = open_class(new_app, claims("tess", "tess@school.example"), {"auth": AUTH})
    tess.text_input(key="class_new_name").input("Physics").run()
    tess.button(key="class_create").click().run()
    room = classroom()
    mine = room.teacher_classes(owner_for(ISS, "tess"))[0]
    room.create(owner_for(ISS, "olga"), "Olga's class")
    tess.text_input(key="class_staff_email").input("TIA@school.example").run()
    tess.button(key="class_staff_add").click().run()
    assert staff.class_role(room, mine.id, owner_for(ISS, "tia"), "tia@school.example") is Role.TA
    tia = open_class(new_app, claims("tia", "tia@school.example"), {"auth": AUTH})
    assert "(staff)" in texts(tia)
    assert [o for o in tia.selectbox(key="class_pick").options] == [f"Physics ({mine.code})"]  # not Olga's
    keys = {b.key for b in tia.button}
    assert "class_remove" not in keys and "class_close" not in keys and "class_staff_invite" not in keys
    assert "class_q_prompt" in {w.key for w in tia.text_input}  # a TA may ask the class


def test_an_invite_link_makes_a_ta_once(new_app, monkeypatch):
    from pages.common import classroom
    room = classroom()
    info = room.create("t" * 32, "Physics")
    token = staff.create_invite(room, info.id, Role.TA)
    ta = new_app(staff=token)
    assert "You are invited as teaching assistant of the class Physics" in texts(ta)
    ta.button(key="invite_accept").click().run()  # AppTest reruns the page alone: the entry's panel says it later
    assert ta.session_state["staff_invite_done"] == "You are now teaching assistant of the class Physics."
    ta.switch_page("pages/classroom.py").run()
    assert any(m.value.startswith(f"## Join code: {info.code}") for m in ta.markdown)
    again = new_app(staff=token)
    assert "That invite link has been used already" in texts(again)
    assert not [b for b in again.button if b.key == "invite_accept"]


def test_students_sign_in_where_required_and_keep_their_class_across_devices(new_app, monkeypatch):
    from pages.common import classroom
    monkeypatch.setenv("EXPLORER_STUDENT_LOGIN", "required")
    wall = open_class(new_app, secrets={"auth": AUTH}, page=None)
    assert "asks everyone to sign in" in texts(wall)
    assert [b.key for b in wall.button] == ["wall_login_school"]  # nothing else until signed in
    info = classroom().create("t" * 32, "Physics")
    laptop = open_class(new_app, claims("ann", "ann@school.example"), {"auth": AUTH}, page=None)
    assert laptop.session_state["owner"] == owner_for(ISS, "ann")  # the person, not a cookie
    classroom().join(info.code, laptop.session_state["owner"], "Ann")
    phone = open_class(new_app, claims("ann", "ann@school.example"), {"auth": AUTH}, page=None)
    assert phone.session_state["owner"] == laptop.session_state["owner"]
    assert "In class Physics" in texts(phone) and "as Ann" in texts(phone)
    monkeypatch.delenv("EXPLORER_STUDENT_LOGIN")
    anonymous = open_class(new_app, secrets={"auth": AUTH}, page=None)  # the default: the cookie
    assert "asks everyone to sign in" not in texts(anonymous)
    assert len(anonymous.session_state["owner"]) == 32
