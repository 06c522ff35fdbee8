"""The LTI 1.3 tool's web endpoints, a small Starlette app served beside Streamlit (`python -m explorer lti`).

    /lti/login    OIDC login initiation (GET or POST from the LMS): sets the state cookie, redirects to the LMS
    /lti/launch   the launch (the LMS's form POST): verified, then the course's class, a one-time ticket, and a
                  redirect to the app's `/?lti=TICKET`
    /lti/jwks     the tool's public key (the LMS verifies the tool's roster requests with it)
    /lti/         the addresses an LMS administrator pastes when adding the tool

Why beside Streamlit and not inside it: Streamlit 1.67's `st.App` takes extra Starlette routes, but it entered
Streamlit in 2026 as an experimental ASGI entry point, and using it means serving the app through `st.App` instead
of `streamlit run`; a separate process keeps the app starting as it does, keeps this code free of Streamlit, and is
mounted at /lti by the same proxy (docs/deploy.md). `LtiTool.routes()` are plain Starlette routes: a deployment that
serves through `st.App` can pass them to it.
Size budget: ~170 lines.
"""
from __future__ import annotations

import html
import logging
import re
import typing as t
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import i18n
from ..access.identity import owner_for
from ..classroom import lti_courses
from ..classroom.records import ClassError
from .roster import sync_course
from .settings import LtiError, LtiSettings, ToolKey
from .tool import Exchange, launch, login

if t.TYPE_CHECKING:
    from ..classroom.classes import Classroom

log = logging.getLogger(__name__)

MAX_LAUNCH_BYTES = 65_536  # a launch form (an id_token of a few KB and a state); a larger body is refused unread
_PAGE = ("<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>ResNet Explorer</title></head>"
         "<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><p>{text}</p></body></html>")


_COOKIE_TEXT = re.compile(r"[A-Za-z0-9._-]{1,200}")  # what pylti1p3's cookie names and values are made of


def set_cookie(name: str, value: str, max_age: int | None, secure: bool) -> str:
    """A Set-Cookie header for the launch's state: HttpOnly, and over https `SameSite=None; Secure; Partitioned` (the
    LMS posts the launch from its own site, often inside its iframe; CHIPS keeps it per top-level site). Written by
    hand: Starlette's `partitioned=True` needs Python 3.14's http.cookies."""
    if not (_COOKIE_TEXT.fullmatch(name) and (value == "" or _COOKIE_TEXT.fullmatch(value))):
        raise ValueError("A cookie name or value outside [A-Za-z0-9._-].")
    parts = [f"{name}={value}", "Path=/", "HttpOnly"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    parts += ["Secure", "SameSite=None", "Partitioned"] if secure else ["SameSite=Lax"]
    return "; ".join(parts)


def _sentence(text: str, status: int = 400) -> HTMLResponse:
    """One sentence on a page of its own (nothing else: no traceback, no detail), in the reader's language."""
    lang = i18n.current().replace("_", "-")
    return HTMLResponse(_PAGE.format(lang=html.escape(lang), text=html.escape(text)), status_code=status)


def reader_language(request: Request) -> str | None:
    """The language of the browser the LMS sent (the first of its Accept-Language tags the app has), or None: the
    launch has no session yet, so its refusals read in this."""
    for part in request.headers.get("accept-language", "")[:200].split(",")[:8]:
        code = i18n.match(part.split(";")[0].strip())
        if code:
            return code
    return None


class LtiTool:
    """The endpoints over one run database, the registrations and the tool's key; `tool_url` is where the LMS reaches
    this app (https in production: its cookies then are `SameSite=None; Secure; Partitioned` for the LMS's iframe)."""

    def __init__(self, room: Classroom, settings: LtiSettings, key: ToolKey, tool_url: str | None = None) -> None:
        self.room, self.settings, self.key = room, settings, key
        self.tool_url = (tool_url or settings.app_url + "/lti").rstrip("/")
        self.secure = self.tool_url.startswith("https://")

    async def _exchange(self, request: Request) -> Exchange:
        """The request's parameters (query string, and a POST's url-encoded form, read at most MAX_LAUNCH_BYTES far:
        an LMS posts its launch as a plain form) and cookies."""
        too_large = LtiError(i18n._("This request is larger than any LMS launch; it was not read."))
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_LAUNCH_BYTES):
            raise too_large
        params = dict(request.query_params)
        if request.method == "POST":
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_LAUNCH_BYTES:
                    raise too_large
            params.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        return Exchange(params=params, cookies=dict(request.cookies), secure=self.secure)

    def _with_cookies(self, response: Response, exchange: Exchange) -> Response:
        for name, (value, max_age) in exchange.set_cookies.items():
            response.raw_headers.append((b"set-cookie", set_cookie(name, value, max_age, self.secure).encode()))
        return response

    async def login(self, request: Request) -> Response:
        with i18n.using(reader_language(request)):  # the threadpool's call reads the same (contextvars)
            try:
                exchange = await self._exchange(request)
                url = await run_in_threadpool(login, exchange, self.room, self.settings, self.key,
                                              self.tool_url + "/launch")
            except LtiError as exc:
                return _sentence(str(exc))
        return self._with_cookies(RedirectResponse(url, status_code=302), exchange)

    async def launch(self, request: Request) -> Response:
        with i18n.using(reader_language(request)):
            try:
                exchange = await self._exchange(request)
                ticket, task = await run_in_threadpool(self._launch, exchange)
            except (LtiError, ClassError) as exc:
                return _sentence(str(exc))
        response = RedirectResponse(f"{self.settings.app_url}/?{urlencode({'lti': ticket})}", status_code=303,
                                    background=task)
        state = exchange.params.get("state", "")
        if _COOKIE_TEXT.fullmatch(state):  # the state cookie has done its work
            response.raw_headers.append((b"set-cookie", set_cookie(f"lti1p3-{state}", "", 0, self.secure).encode()))
        return response

    def _launch(self, exchange: Exchange) -> tuple[str, BackgroundTask | None]:
        """Verify, find or make the course's class, issue the ticket; an instructor's launch also syncs the roster
        after the redirect has gone out (a failed sync is logged: the Class page offers it again)."""
        done = launch(exchange, self.room, self.settings, self.key)
        owner = owner_for(done.issuer, done.subject)
        info = lti_courses.course_class(self.room, done.issuer, done.deployment, done.context,
                                        client_id=done.client_id, title=done.context_title,
                                        teacher=owner if done.role == lti_courses.TEACHER else None,
                                        memberships_url=done.memberships_url)
        lti_courses.enroll(self.room, info.id, owner, done.role, done.name)
        ticket = lti_courses.issue_ticket(self.room, owner, info.id, done.role, done.name, done.lesson)
        task = None
        if done.role == lti_courses.TEACHER and done.memberships_url:
            task = BackgroundTask(self._sync_quietly, info.id)
        return ticket, task

    def _sync_quietly(self, class_id: str) -> None:
        try:
            sync_course(self.room, self.settings, self.key, class_id)
        except LtiError as exc:
            log.warning("Roster sync after a launch: %s", exc)

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.jwk]}, headers={"Cache-Control": "public, max-age=300"})

    async def about(self, request: Request) -> Response:
        """What an LMS administrator pastes when adding the tool (docs/deploy.md walks through Canvas and Moodle)."""
        return JSONResponse({"title": "ResNet Explorer", "oidc_initiation_url": self.tool_url + "/login",
                             "target_link_uri": self.tool_url + "/launch", "redirect_uris": [self.tool_url + "/launch"],
                             "public_jwk_url": self.tool_url + "/jwks",
                             "custom_fields": {"lesson": "optional: a lesson key, e.g. degradation"}})

    def routes(self, prefix: str = "/lti") -> list[Route]:
        """The four routes under `prefix` (mount them elsewhere with prefix="")."""
        return [Route(prefix + "/login", self.login, methods=["GET", "POST"]),
                Route(prefix + "/launch", self.launch, methods=["POST"]),
                Route(prefix + "/jwks", self.jwks, methods=["GET"]),
                Route(prefix + "/", self.about, methods=["GET"])]


def create_app(room: Classroom, settings: LtiSettings, key: ToolKey, tool_url: str | None = None) -> Starlette:
    """The tool as an ASGI app (its routes under /lti)."""
    return Starlette(routes=LtiTool(room, settings, key, tool_url).routes())


def serve(host: str, port: int, runs_dir: str | None = None, database_url: str | None = None,
          tool_url: str | None = None) -> int:
    """`python -m explorer lti`: the tool's endpoints on host:port until stopped, for the registrations named by
    EXPLORER_LTI_CONFIG (LtiError with one sentence when there are none or they are wrong)."""
    import uvicorn

    from ..classroom.classes import Classroom
    from ..store.runstore import RunStore
    from .settings import settings_from_env, tool_key
    settings = settings_from_env()
    if settings is None:
        raise LtiError("Set EXPLORER_LTI_CONFIG to the LTI registrations file first (docs/deploy.md).")
    store = RunStore(runs_dir, database_url)
    app = create_app(Classroom(store), settings, tool_key(store.root), tool_url)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
    return 0
