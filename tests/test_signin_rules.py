"""The deployment's sign-in rules (explorer.access.signin): who is a teacher or the admin from an ID token's claims,
which door teachers use, and the providers Streamlit's [auth] secrets configure. Pure functions: no Streamlit."""
import pytest

from explorer.access.identity import owner_for
from explorer.access.signin import Door, Rule, SignInRules, oidc_providers

ISS = "https://idp.school.example"


def claims(email="tess@staff.school.example", verified=True, **more):
    return {"is_logged_in": True, "iss": ISS, "sub": "s-1", "email": email, "email_verified": verified, **more}


@pytest.mark.parametrize("rule, token, teacher", [
    (Rule(emails=frozenset({"tess@staff.school.example"})), claims(), True),
    (Rule(domains=frozenset({"staff.school.example"})), claims(), True),
    (Rule(domains=frozenset({"school.example"})), claims(), False),  # a domain is the whole domain, not a suffix
    (Rule(claim="groups=teachers"), claims(groups=["students", "teachers"]), True),
    (Rule(claim="groups=teachers"), claims(groups="teachers-not"), False),
    (Rule(claim="hd=school.example"), claims(hd="school.example"), True),
    (Rule(claim="is_teacher"), claims(is_teacher=True), True),
    (Rule(claim="is_teacher"), claims(is_teacher="no"), False),
    (Rule(), claims(), False),  # no rule: nobody
])
def test_a_rule_over_claims(rule, token, teacher):
    rules = SignInRules(teacher=rule)
    me = rules.identity(token)
    assert me is not None and me.teacher is teacher and me.owner == owner_for(ISS, "s-1")


def test_an_unverified_email_counts_for_nothing_unless_the_deployment_says_so():
    rules = SignInRules(teacher=Rule(domains=frozenset({"staff.school.example"})))
    assert not rules.identity(claims(verified=False)).teacher and rules.identity(claims(verified=False)).email is None
    assert not rules.identity({**claims(), "email_verified": None}).teacher  # Entra sends no such claim
    trusting = SignInRules(teacher=rules.teacher, trust_unverified_email=True)
    assert trusting.identity(claims(verified=False)).teacher


def test_the_admin_is_a_teacher_too_and_nobody_is_signed_in_without_issuer_and_subject():
    rules = SignInRules(admin=Rule(emails=frozenset({"head@school.example"})))
    head = rules.identity(claims("head@school.example"))
    assert head.admin and head.teacher
    assert rules.identity({"is_logged_in": False, "iss": ISS, "sub": "x"}) is None
    assert rules.identity({"is_logged_in": True, "sub": "x"}) is None
    assert rules.identity({"is_logged_in": True, "iss": ISS, "sub": ""}) is None


def test_settings_from_the_environment_win_over_secrets():
    env = {"EXPLORER_TEACHER_EMAILS": "A@x.org, b@y.org", "EXPLORER_STUDENT_LOGIN": "Required"}
    table = {"teacher_emails": ["c@z.org"], "teacher_domains": ["@school.example"], "admin_claim": "roles=Admin",
             "keep_password": True}
    rules = SignInRules.from_settings(env, table)
    assert rules.teacher.emails == {"a@x.org", "b@y.org"} and rules.teacher.domains == {"school.example"}
    assert rules.admin.claim == "roles=Admin" and rules.student_login and rules.keep_password
    assert SignInRules.from_settings({}, None) == SignInRules()


@pytest.mark.parametrize("oidc, password, keep, door", [
    (False, False, False, Door.NONE), (False, True, False, Door.PASSWORD), (True, True, False, Door.OIDC),
    (True, True, True, Door.BOTH), (True, False, True, Door.OIDC)])
def test_the_door(oidc, password, keep, door):
    assert SignInRules(keep_password=keep).door(oidc, password) is door


def test_the_providers_streamlit_would_offer():
    base = {"redirect_uri": "https://x/oauth2callback", "cookie_secret": "s"}
    assert oidc_providers(None) == [] and oidc_providers({"client_id": "c"}) == []  # no redirect_uri: not configured
    assert oidc_providers({**base, "client_id": "c"}) == ["default"]
    assert oidc_providers({**base, "google": {"client_id": "g"}, "ms": {"client_id": "m"}, "junk": {}}) == \
        ["google", "ms"]


def test_a_cookie_s_classes_count_only_while_the_password_is_typed():
    assert SignInRules.creator_counts(signed_in=True, password_teacher=False)
    assert SignInRules.creator_counts(signed_in=False, password_teacher=True)
    assert not SignInRules.creator_counts(signed_in=False, password_teacher=False)
