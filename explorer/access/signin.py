"""Who counts as a teacher or the admin once signed in, and how this deployment signs people in.

The deployment sets the rules in the environment (EXPLORER_TEACHER_EMAILS, EXPLORER_TEACHER_DOMAINS,
EXPLORER_TEACHER_CLAIM, the same three for EXPLORER_ADMIN_..., EXPLORER_STUDENT_LOGIN, EXPLORER_KEEP_PASSWORD) or in
an `[explorer]` table of Streamlit's secrets (teacher_emails = [...], ...); the environment wins. Sign-in itself is
Streamlit's (st.login over OpenID Connect, configured under `[auth]` in secrets): this module reads the ID token's
claims it hands over (st.user) and never sees a token or a password. A claim rule is "name=value" (the claim equals
value, or is a list holding it: "groups=teachers", "roles=Teacher") or a bare "name" (the claim is true).
Size budget: ~150 lines.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .identity import owner_for


class Door(str, Enum):
    """How teachers get in on this deployment (the Class page says the sentence that goes with it)."""

    NONE = "none"  # nothing configured: no teacher mode (`streamlit run` with nothing works as a learner's app)
    PASSWORD = "password"  # the teacher password (the embedded default on a laptop or a single server)
    OIDC = "oidc"  # the school's sign-in (st.login); the password is off
    BOTH = "oidc+password"  # the school's sign-in, and the password explicitly kept (EXPLORER_KEEP_PASSWORD=1)


_TRUE = {"1", "true", "yes", "on"}


def _words(value: object) -> frozenset[str]:
    """A list from the environment ("a@x.org, b@y.org") or from secrets (a TOML list), lower-cased, blanks dropped."""
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) \
        else []
    return frozenset(str(x).strip().lower().lstrip("@") for x in items if str(x).strip())


@dataclass(frozen=True)
class Rule:
    """One of the deployment's rules (teacher or admin): e-mails, e-mail domains, a claim. Empty: nobody."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    claim: str = ""  # "name=value" or "name"

    def __bool__(self) -> bool:
        return bool(self.emails or self.domains or self.claim)

    def matches(self, claims: Mapping[str, Any], email: str | None) -> bool:
        """True when this signed-in person (their ID token's claims, their verified e-mail) passes the rule."""
        if email and (email in self.emails or email.rsplit("@", 1)[-1] in self.domains):
            return True
        if not self.claim:
            return False
        name, _, wanted = self.claim.partition("=")
        held = claims.get(name.strip())
        if not wanted:
            return held is True or (isinstance(held, str) and held.lower() in _TRUE)
        wanted = wanted.strip()
        return held == wanted or (isinstance(held, list) and wanted in held)


@dataclass(frozen=True)
class SignInRules:
    """The deployment's sign-in rules, read once from the environment and secrets (`from_settings`)."""

    teacher: Rule = Rule()
    admin: Rule = Rule()
    student_login: bool = False  # EXPLORER_STUDENT_LOGIN=required: everyone signs in (with a school sign-in only)
    keep_password: bool = False  # the password stays on beside the school's sign-in
    trust_unverified_email: bool = False  # e-mails without email_verified=true count (a provider that omits it)

    @classmethod
    def from_settings(cls, env: Mapping[str, str], secrets: Mapping[str, Any] | None = None) -> SignInRules:
        """The rules from EXPLORER_* variables, else from secrets' [explorer] table (keys in lower case, no prefix)."""
        table = secrets or {}

        def get(name: str) -> Any:
            return env.get(f"EXPLORER_{name.upper()}") or table.get(name)

        def rule(who: str) -> Rule:
            return Rule(_words(get(f"{who}_emails") or ""), _words(get(f"{who}_domains") or ""),
                        str(get(f"{who}_claim") or "").strip())
        return cls(teacher=rule("teacher"), admin=rule("admin"),
                   student_login=str(get("student_login") or "").strip().lower() == "required",
                   keep_password=str(get("keep_password") or "").strip().lower() in _TRUE or
                   get("keep_password") is True,
                   trust_unverified_email=str(get("trust_unverified_email") or "").strip().lower() in _TRUE or
                   get("trust_unverified_email") is True)

    def door(self, oidc: bool, password: bool) -> Door:
        """How teachers get in: the school's sign-in turns the password off unless it is explicitly kept."""
        if oidc:
            return Door.BOTH if password and self.keep_password else Door.OIDC
        return Door.PASSWORD if password else Door.NONE

    @staticmethod
    def creator_counts(signed_in: bool, password_teacher: bool) -> bool:
        """Whether the classes this session's owner created make them their teacher now: always when signed in (the
        owner id is the person), and with a cookie's owner id only while the password is typed (on a shared laptop,
        leaving teacher mode leaves the classes too; an invite link's role stays with the browser it was given to)."""
        return signed_in or password_teacher

    def email(self, claims: Mapping[str, Any]) -> str | None:
        """The signed-in person's e-mail when the provider vouches for it (email_verified true), lower-cased."""
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email or len(email) > 254:
            return None
        verified = claims.get("email_verified")
        if verified is True or (isinstance(verified, str) and verified.lower() == "true") or \
                self.trust_unverified_email:
            return email.strip().lower()
        return None

    def identity(self, claims: Mapping[str, Any]) -> SignedIn | None:
        """Who this signed-in person is to the app, from their ID token's claims (None: not signed in, or a token
        without an issuer and a subject)."""
        iss, sub = claims.get("iss"), claims.get("sub")
        if not claims.get("is_logged_in") or not isinstance(iss, str) or not isinstance(sub, str) or not iss or \
                not sub:
            return None
        email = self.email(claims)
        name = next((str(claims[k]) for k in ("name", "preferred_username", "email") if claims.get(k)), "you")
        return SignedIn(owner=owner_for(iss, sub), name=name[:80], email=email,
                        teacher=self.teacher.matches(claims, email) or self.admin.matches(claims, email),
                        admin=self.admin.matches(claims, email))


@dataclass(frozen=True)
class SignedIn:
    """A person signed in with the school's sign-in: their owner id (owner_for(iss, sub)), the name to greet them by,
    their verified e-mail (None: none vouched for), and the deployment rules' verdicts."""

    owner: str
    name: str
    email: str | None
    teacher: bool
    admin: bool


def oidc_providers(auth: Mapping[str, Any] | None) -> list[str]:
    """The names st.login takes for the providers configured under [auth] in secrets ("default" for one unnamed
    provider), in the order written; [] when sign-in is not configured (no redirect_uri or cookie_secret)."""
    if not auth or not auth.get("redirect_uri") or not auth.get("cookie_secret"):
        return []
    named = [k for k, v in auth.items() if isinstance(v, Mapping) and v.get("client_id")]
    return (["default"] if auth.get("client_id") else []) + named
