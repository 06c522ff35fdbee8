"""Who a signed-in person is in the run store: one owner id per (issuer, subject), whatever signed them in.

An owner id is what every job, class membership and answer records (DESIGN.md, "Who may do what"). Anonymous
sessions get a random one kept in a cookie; a person signed in through OpenID Connect (st.login) or launched from
an LMS over LTI 1.3 gets one derived from their identity provider's issuer and subject, so the same person is the
same owner on every device and after a cleared cookie. Both doors call `owner_for`.
"""
from __future__ import annotations

import hashlib

SIGNED_IN_PREFIX = "u-"  # owner ids of signed-in people; random cookie ids are 32 hex digits, never this prefix


def owner_for(issuer: str, subject: str) -> str:
    """The owner id of the person `subject` at identity provider `issuer` (stable, 34 characters, no personal data).

    The issuer is part of the key: two providers may both have a subject "1234" for different people.
    """
    if not issuer or not subject:
        raise ValueError("A signed-in identity needs both an issuer and a subject.")
    digest = hashlib.sha256(f"{issuer.strip()}\n{subject.strip()}".encode()).hexdigest()
    return SIGNED_IN_PREFIX + digest[:32]


def is_signed_in_owner(owner: str | None) -> bool:
    """True for an owner id made by `owner_for` (a signed-in person), False for a cookie's random id."""
    return bool(owner) and str(owner).startswith(SIGNED_IN_PREFIX)
