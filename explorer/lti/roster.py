"""The course's roster from the LMS (LTI Names and Role Provisioning Services 2.0), so the teacher sees who has not
joined the class yet.

pylti1p3 does the protocol: it signs a client-credentials JWT with the tool's key, trades it at the LMS's token
endpoint for an access token (kept here until it expires), and pages through the course's memberships. Each person
becomes the owner id their launch would give them (explorer.access.identity.owner_for), so "joined" is a plain
comparison with the class's members. The fetch is bounded: MAX_ROSTER people, MAX_ROSTER_PAGES pages, a timeout per
request.
Size budget: ~130 lines.
"""
from __future__ import annotations

import logging
import threading
import time
import typing as t

import requests
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.roles import TeacherRole, TeachingAssistantRole
from pylti1p3.service_connector import ServiceConnector

from ..access.identity import owner_for
from ..classroom import lti_courses
from ..classroom.lti_courses import RosterEntry
from ..i18n import N_, _
from .settings import LtiError, LtiSettings, ToolKey
from .tool import LIBRARY_ERRORS, tool_config

if t.TYPE_CHECKING:
    from ..classroom.classes import Classroom

log = logging.getLogger(__name__)

MAX_ROSTER = 5000  # people read from one course's roster (a large lecture has a few hundred)
MAX_ROSTER_PAGES = 50  # pages of it the LMS may split that into
REQUEST_TIMEOUT_S = 10  # seconds for one request to the LMS (token, one roster page)
_ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
NO_SERVICE = N_("The LMS did not offer this course's roster to ResNet Explorer; turn on its names and roles "
                "service for the tool, then open the tool again from the course.")
NOT_FETCHED = N_("The LMS's roster could not be fetched just now; try again in a minute.")


class _TimedSession(requests.Session):
    """requests with a timeout on every call (pylti1p3 sets none)."""

    def request(self, method: t.Any, url: t.Any, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        return super().request(method, url, *args, **kwargs)


class _Connector(ServiceConnector):
    """pylti1p3's service connector with its access tokens kept in this process until they expire."""

    _tokens: t.ClassVar[dict[str, tuple[str, float]]] = {}
    _lock = threading.Lock()

    def _get_cached_access_token(self, scope_key: str) -> str | None:
        with self._lock:
            token, until = self._tokens.get(scope_key, ("", 0.0))
        return token if until > time.monotonic() else None

    def _cache_access_token(self, scope_key: str, access_token: str, expires_in: float) -> None:
        with self._lock:
            self._tokens[scope_key] = (access_token, time.monotonic() + float(expires_in or 0) - 30)


def _role(roles: object) -> str:
    claim = {_ROLES: [str(r) for r in roles] if isinstance(roles, list) else []}
    if TeacherRole(claim).check():
        return lti_courses.TEACHER
    return lti_courses.TA if TeachingAssistantRole(claim).check() else lti_courses.MEMBER


def fetch_roster(settings: LtiSettings, key: ToolKey, issuer: str, client_id: str,
                 memberships_url: str) -> list[RosterEntry]:
    """The course's active members as RosterEntry records (owner id, name, role); LtiError with one sentence."""
    platform = settings.platform(issuer, client_id)
    if platform is None:
        raise LtiError(_("This course's LMS is no longer registered with this server."))
    registration = tool_config(settings, key).find_registration_by_params(issuer, client_id)
    service = NamesRolesProvisioningService(_Connector(registration, _TimedSession()),
                                            {"context_memberships_url": memberships_url})
    entries: dict[str, RosterEntry] = {}
    url: str | None = memberships_url
    try:
        for _page in range(MAX_ROSTER_PAGES):
            members, url = service.get_members_page(url)
            for m in members:
                if m.get("status", "Active") == "Active" and isinstance(m.get("user_id"), str) and m["user_id"]:
                    name = str(m.get("name") or " ".join(filter(None, (m.get("given_name"), m.get("family_name")))))
                    entries[owner_for(issuer, m["user_id"])] = RosterEntry(owner_for(issuer, m["user_id"]), name,
                                                                           _role(m.get("roles")))
            if not url or len(entries) >= MAX_ROSTER:
                break
    except LIBRARY_ERRORS as exc:
        log.warning("NRPS fetch from %s failed: %s", issuer, exc)
        raise LtiError(_(NOT_FETCHED)) from exc
    return list(entries.values())[:MAX_ROSTER]


def sync_course(room: Classroom, settings: LtiSettings, key: ToolKey, class_id: str) -> int:
    """Fetch the roster of the course a class was launched from and keep it with the class; how many people it
    lists. LtiError (one sentence) for a class made on the Class page, a course without the service, a failed fetch.
    """
    course = lti_courses.course_of(room, class_id)
    if course is None:
        raise LtiError(_("This class was not opened from an LMS course, so it has no roster to fetch."))
    if not course.get("memberships_url"):
        raise LtiError(_(NO_SERVICE))
    entries = fetch_roster(settings, key, course["issuer"], course["client_id"], course["memberships_url"])
    return lti_courses.sync_roster(room, class_id, entries)
