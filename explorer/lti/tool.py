"""The LTI 1.3 tool's two legs, on pylti1p3 (the maintained fork `pylti1p3next`): OIDC login initiation and launch.

pylti1p3 is framework-neutral: it asks for a request (parameters, cookies), a cookie service, a session service with
a data store, and a redirect. Here they are plain objects over what the web layer (explorer.lti.app, Starlette)
read from the request, so this module never touches a socket. Its short-lived values (each login's nonce) live in
the run database (explorer.classroom.lti_courses), so any replica can take the launch that another's login began.

What the library checks, and what is added here (docs/security.md, "LTI 1.3"):
- the library: the state cookie against the state parameter, the JWT's format, the registration (issuer, client id),
  the signature with the platform's key whose kid the token names (fetched from its JWKS), the deployment id, and
  the message's required claims;
- added: the signature check also verifies audience (our client id, and `azp` when there are several), issuer,
  expiry and issue time with CLOCK_SKEW_S of leeway; the nonce is *taken* (used once, on every replica), and only
  after the signature holds, so a forged token cannot spend a real launch's nonce; launch data is not stored.
Every refusal is one sentence (LtiError); the library's own message goes to the server's log.
Size budget: ~300 lines.
"""
from __future__ import annotations

import logging
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from pylti1p3.cookie import CookieService
from pylti1p3.exception import LtiException, OIDCException, ToolConfException
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from pylti1p3.tool_config import ToolConfDict

from ..classroom import lti_courses
from ..classroom.lessons import LESSONS
from ..i18n import N_, _
from .settings import LtiError, LtiSettings, ToolKey

if t.TYPE_CHECKING:
    from ..classroom.classes import Classroom

log = logging.getLogger(__name__)

CLOCK_SKEW_S = 60  # seconds of leeway on exp/iat between the LMS's clock and ours (small: an id_token lives minutes)
NONCE_LIFETIME_S = 600  # seconds from login initiation to launch: the LMS's sign-in page sits between them
STATE_COOKIE_S = 300  # the state cookie's lifetime at most (pylti1p3 asks 5 minutes): login to launch is seconds
KEY_SET_CACHE_S = 300  # seconds an LMS's JWKS is reused (a class launching at once fetches it once)
_ALGORITHMS = ("RS256", "RS384", "RS512")  # what LTI 1.3 platforms sign with (the Security Framework: RS256)
_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
_LESSONS = {lesson.key for lesson in LESSONS}

# What pylti1p3 (and PyJWT, requests beneath it) raise for a bad request: each becomes one of the sentences below.
LIBRARY_ERRORS = (LtiException, OIDCException, ToolConfException, jwt.InvalidTokenError, requests.RequestException,
                  KeyError, TypeError, ValueError, AssertionError)

# The refusals, marked for the catalogue and translated where raised (LtiError(_(NO_USER))): the launch's reader is
# the browser the LMS sent (explorer.lti.app reads its Accept-Language).
NOT_REGISTERED = N_("This LMS is not registered with this ResNet Explorer server; ask its administrator to add it.")
UNVERIFIED = N_("This launch could not be verified (its signature, issuer, audience or expiry is wrong); open "
                "ResNet Explorer again from your course.")
REPLAYED = N_("This launch was already used; open ResNet Explorer again from your course.")
LOST_STATE = N_("This launch did not come back to the browser that started it; allow cookies for this site, or open "
                "the tool in a new window from your course.")
UNKNOWN_DEPLOYMENT = N_("This installation of the tool is not registered here; ask the server's administrator to add "
                        "it.")
NOT_A_LAUNCH = N_("This LMS message is not a link launch, which is all ResNet Explorer takes for now.")
NO_USER = N_("The LMS did not say who you are; ask its administrator to share the user's id with ResNet Explorer.")


@dataclass
class Exchange:
    """One HTTP request as the web layer read it, and what the answer must set (cookies, a redirect)."""

    params: Mapping[str, str]  # query string and form fields
    cookies: Mapping[str, str]
    secure: bool  # https (directly, or per the deployment's proxy)
    set_cookies: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    redirect_url: str | None = None


@dataclass(frozen=True)
class Launch:
    """A verified resource-link launch: who, from which course, as what, to which lesson."""

    issuer: str
    client_id: str
    deployment: str
    context: str  # the course's id in the LMS
    context_title: str
    subject: str  # the person's id at the LMS (`sub`)
    name: str
    role: str  # lti_courses.TEACHER, TA or MEMBER
    lesson: str | None  # a lesson key from explorer.classroom.lessons, or None
    memberships_url: str | None  # the course's roster service (NRPS), when the LMS offers it


# ----------------------------------------------------------------------------- pylti1p3's framework hooks
class _Request(Request):
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    @property
    def session(self) -> dict[str, t.Any]:  # unused: values live in the database (_DatabaseValues)
        return {}

    def is_secure(self) -> bool:
        return self.exchange.secure

    def get_param(self, key: str) -> str:
        return self.exchange.params.get(key) or ""


class _Cookies(CookieService):
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def get_cookie(self, name: str) -> str | None:
        return self.exchange.cookies.get(f"{self._cookie_prefix}-{name}")

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        self.exchange.set_cookies[f"{self._cookie_prefix}-{name}"] = (str(value), exp and min(exp, STATE_COOKIE_S))


class _DatabaseValues(LaunchDataStorage[t.Any]):
    """The library's values (nonces) in the run database: no session cookie, the keys are random."""

    def __init__(self, room: Classroom) -> None:
        self.room = room

    def get_session_cookie_name(self) -> None:
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> t.Any:
        return lti_courses.get_value(self.room, self._prepare_key(key))

    def set_value(self, key: str, value: t.Any, exp: int | None = None) -> None:
        lti_courses.put_value(self.room, self._prepare_key(key), value, exp or NONCE_LIFETIME_S)

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def take(self, key: str) -> bool:
        """Remove the value under `key`: True for the one caller that found it valid."""
        return lti_courses.take_value(self.room, self._prepare_key(key))


class _Session(SessionService):
    """The library's session service on the database, with nonces used once."""

    def __init__(self, request: _Request, room: Classroom) -> None:
        super().__init__(request)
        self.values = _DatabaseValues(room)
        self.set_data_storage(self.values)
        self.set_launch_data_lifetime(NONCE_LIFETIME_S)

    def take_nonce(self, nonce: str) -> bool:
        """True once per nonce a login saved (and not expired): the launch that takes it is the only one."""
        return self.values.take(self._get_key("nonce", nonce))


class _Redirect(Redirect[str]):
    def __init__(self, url: str) -> None:
        self.url = url

    def do_redirect(self) -> str:
        return self.url

    def do_js_redirect(self) -> str:
        return self.url

    def set_redirect_url(self, location: str) -> None:
        self.url = location

    def get_redirect_url(self) -> str:
        return self.url


class _Login(OIDCLogin[_Request, ToolConfDict, _Session, _Cookies, str]):
    def get_redirect(self, url: str) -> _Redirect:
        return _Redirect(url)


class _Launch(MessageLaunch[_Request, ToolConfDict, _Session, _Cookies]):
    """pylti1p3's launch with this module's stricter order and checks (see the module's docstring)."""

    known_issuers: frozenset[str] = frozenset()  # an LMS we know with a client id we do not: the token is wrong

    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)

    def _registration_refusal(self) -> str:
        iss = self._jwt.get("body", {}).get("iss")
        return UNVERIFIED if iss in self.known_issuers else NOT_REGISTERED

    def validate(self) -> _Launch:
        self._validated = True
        try:
            for step, sentence in ((self.validate_state, LOST_STATE), (self.validate_jwt_format, UNVERIFIED),
                                   (self.validate_registration, ""),
                                   (self.validate_jwt_signature, UNVERIFIED), (self.take_nonce, REPLAYED),
                                   (self.validate_deployment, UNKNOWN_DEPLOYMENT), (self.validate_message, UNVERIFIED)):
                try:
                    step()
                except LIBRARY_ERRORS as exc:
                    log.info("LTI launch refused at %s: %s", step.__name__, exc)
                    raise LtiError(_(sentence or self._registration_refusal())) from exc
        except Exception:
            self._validated = False
            raise
        return self

    def validate_jwt_signature(self) -> _Launch:
        """The library's key lookup (the platform's JWKS entry with the token's kid and alg), then a decode that also
        checks audience, issuer, expiry and issue time."""
        assert self._registration is not None
        public_key, alg = self.get_public_key()
        if alg not in _ALGORITHMS:
            raise LtiException(f"algorithm {alg} is not accepted")
        client_id, body = self._registration.get_client_id(), self._get_jwt_body()
        jwt.decode(self._get_id_token(), public_key, algorithms=[alg], audience=client_id,
                   issuer=self._registration.get_issuer(), leeway=CLOCK_SKEW_S,
                   options={"require": ["exp", "iat", "iss", "aud", "nonce"]})
        aud = body.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and body.get("azp") != client_id:
            raise LtiException("several audiences and azp is not ours")
        return self

    def take_nonce(self) -> _Launch:
        nonce = self._get_jwt_body().get("nonce")
        if not nonce or not self._session_service.take_nonce(str(nonce)):
            raise LtiException("nonce unknown, expired or already used")
        return self

    def save_launch_data(self) -> _Launch:  # the launch is handed over as a ticket; nothing else is kept
        return self


# ----------------------------------------------------------------------------- the two legs
def _services(exchange: Exchange, room: Classroom) -> tuple[_Request, _Session, _Cookies]:
    request = _Request(exchange)
    return request, _Session(request, room), _Cookies(exchange)


def tool_config(settings: LtiSettings, key: ToolKey) -> ToolConfDict:
    """The registrations and the tool's key as pylti1p3's tool configuration."""
    conf = ToolConfDict(t.cast(t.Any, settings.tool_config()))
    for p in settings.platforms:
        conf.set_private_key(p.issuer, key.private_pem, client_id=p.client_id)
        conf.set_public_key(p.issuer, key.public_pem, client_id=p.client_id)
    return conf


def login(exchange: Exchange, room: Classroom, settings: LtiSettings, key: ToolKey, launch_url: str) -> str:
    """The OIDC login initiation: where to send the browser (the LMS's authorisation endpoint, with a fresh state
    and nonce); the state cookie is in exchange.set_cookies. Raises LtiError for an unknown LMS."""
    request, session, cookies = _services(exchange, room)
    if settings.platform(request.get_param("iss"), request.get_param("client_id") or None) is None:
        raise LtiError(_(NOT_REGISTERED))
    flow = _Login(request, tool_config(settings, key), session_service=session, cookie_service=cookies)
    try:
        return flow.redirect(launch_url)
    except LIBRARY_ERRORS as exc:
        log.info("LTI login refused: %s", exc)
        raise LtiError(_(NOT_REGISTERED)) from exc


def launch(exchange: Exchange, room: Classroom, settings: LtiSettings, key: ToolKey) -> Launch:
    """Verify a launch (the form the LMS posted: id_token and state) and read who it is; LtiError when refused."""
    request, session, cookies = _services(exchange, room)
    flow = _Launch(request, tool_config(settings, key), session_service=session, cookie_service=cookies)
    flow.set_public_key_caching(_DatabaseValues(room), cache_lifetime=KEY_SET_CACHE_S)
    flow.known_issuers = frozenset(p.issuer for p in settings.platforms)
    body: dict[str, t.Any] = dict(flow.validate().get_launch_data())
    if body.get(_CLAIM + "message_type") != "LtiResourceLinkRequest":
        raise LtiError(_(NOT_A_LAUNCH))
    subject = body.get("sub")
    if not isinstance(subject, str) or not subject:
        raise LtiError(_(NO_USER))
    context, link = _table(body, _CLAIM + "context"), _table(body, _CLAIM + "resource_link")
    role = (lti_courses.TEACHER if flow.check_teacher_access() else
            lti_courses.TA if flow.check_teaching_assistant_access() else lti_courses.MEMBER)
    nrps = _table(body, _NRPS)
    return Launch(issuer=flow.get_iss(), client_id=flow.get_client_id(),
                  deployment=str(body.get(_CLAIM + "deployment_id")),
                  context=str(context.get("id") or f"link:{link.get('id', '')}"),
                  context_title=str(context.get("title") or context.get("label") or ""), subject=subject,
                  name=str(body.get("name") or " ".join(filter(None, (body.get("given_name"),
                                                                      body.get("family_name")))) or ""),
                  role=role, lesson=_lesson(body), memberships_url=_text_or_none(nrps.get("context_memberships_url")))


def _table(body: Mapping[str, t.Any], claim: str) -> dict[str, t.Any]:
    value = body.get(claim)
    return value if isinstance(value, dict) else {}


def _lesson(body: Mapping[str, t.Any]) -> str | None:
    """The lesson a launch deep-links to: the custom parameter `lesson`, else `lesson=` in the target link URI."""
    wanted = _table(body, _CLAIM + "custom").get("lesson")
    target = body.get(_CLAIM + "target_link_uri")
    if not wanted and isinstance(target, str):
        wanted = next(iter(parse_qs(urlsplit(target).query).get("lesson", [])), None)
    return wanted if isinstance(wanted, str) and wanted in _LESSONS else None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None
