"""A real LTI 1.3 platform (an LMS's side) for the tests, built on `lti1p3platform` from PyPI: its OIDC login
initiation, its authorisation endpoint that signs the id_token, its token endpoint (client credentials with the
tool's signed JWT, checked against the tool's JWKS over HTTP) and its names-and-roles service. Served with the tool's
own endpoints by one uvicorn server on 127.0.0.1 (tests/test_lti.py), so every request between them is real HTTP.

A `Browser` plays the user's browser: it follows the redirects with a cookie jar and reads the auto-submitting form
the platform answers with, so a test can post it as is, tampered or twice.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from html import unescape

import requests
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request as PlatformRequest
from lti1p3platform.service_connector import NamesRoleProvisioningService
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
CLIENT_ID, DEPLOYMENT = "explorer-tool", "deployment-1"
COURSE = ("course-101", "Deep Learning 101")


def new_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass
class Person:
    user_id: str
    name: str
    roles: list


@dataclass
class Platform:
    """The LMS: one course, its people, and its signing key. `base` is the server's http://127.0.0.1:PORT."""

    base: str
    people: dict = field(default_factory=dict)
    private_pem: str = field(default_factory=new_key_pem)

    @property
    def issuer(self) -> str:
        return self.base

    def registration(self) -> Registration:
        return (Registration().set_iss(self.issuer).set_client_id(CLIENT_ID).set_deployment_id(DEPLOYMENT)
                .set_oidc_login_url(self.base + "/lti/login").set_launch_url(self.base + "/lti/launch")
                .set_tool_key_set_url(self.base + "/lti/jwks").set_platform_private_key(self.private_pem)
                .set_platform_public_key(public_pem(self.private_pem)))

    def conf(self) -> LTI1P3PlatformConfAbstract:
        return _Conf(registration=self.registration())

    def settings(self, app_url: str) -> dict:
        """The tool's registrations file for this LMS (explorer.lti.settings)."""
        return {"app_url": app_url, "platforms": [{
            "issuer": self.issuer, "client_id": CLIENT_ID, "deployment_ids": [DEPLOYMENT],
            "auth_login_url": self.base + "/platform/authorize", "auth_token_url": self.base + "/platform/token",
            "key_set_url": self.base + "/platform/jwks"}]}

    # ------------------------------------------------------------------ endpoints
    def start(self, request: Request) -> Response:
        """The LMS's link to the tool: login initiation for ?user=ID (and &lesson=KEY as a custom parameter)."""
        hint = json.dumps({"lesson": request.query_params.get("lesson")})
        login = _Login(None, self.conf())
        login.set_lti_message_hint(hint=hint)
        return login.initiate_login(request.query_params["user"])

    def authorize(self, request: Request) -> Response:
        """The OIDC authorisation endpoint: signs the launch for login_hint and answers with the auto-post form."""
        query = dict(request.query_params)
        person = self.people[query["login_hint"]]
        launch = _Launch(_PlainRequest(query), self.conf())
        launch.set_user_data(person.user_id, person.roles, full_name=person.name)
        launch.set_launch_context_claim(COURSE[0], context_title=COURSE[1])
        launch.set_resource_link_claim("link-1", title="ResNet Explorer")
        lesson = json.loads(query.get("lti_message_hint") or "{}").get("lesson")
        if lesson:
            launch.set_custom_parameters_claim({"lesson": lesson})
        launch.set_nrps(self.base + "/platform/memberships")
        return launch.lti_launch()

    def token(self, request: Request) -> Response:
        form = dict(_run_form(request))
        try:
            return JSONResponse(dict(self.conf().get_access_token(form)))
        except Exception as exc:  # noqa: BLE001 - a refused token request is a 400, as an LMS answers
            return JSONResponse({"error": str(exc)}, status_code=400)

    def memberships(self, request: Request) -> Response:
        service = _Memberships(_PlainRequest(dict(request.query_params), request.headers), self.conf(),
                               self.base + "/platform/memberships")
        service.people = list(self.people.values())
        answer = service.handle_resp(service.handle_get_members)
        return JSONResponse(answer.result, status_code=answer.code, media_type=answer.media_type)

    def jwks(self, request: Request) -> Response:
        conf = self.conf()
        conf.get_registration()
        return JSONResponse(dict(conf.get_jwks()))

    def routes(self) -> list:
        return [Route("/platform/start", self.start), Route("/platform/authorize", self.authorize),
                Route("/platform/token", self.token, methods=["POST"]),
                Route("/platform/memberships", self.memberships), Route("/platform/jwks", self.jwks)]


def _run_form(request: Request) -> dict:
    """The form of a sync endpoint's request (Starlette runs sync endpoints in a thread: read the body there)."""
    import anyio
    return dict(anyio.from_thread.run(request.form))


class _PlainRequest(PlatformRequest):
    def __init__(self, query: dict, headers=None) -> None:
        self.request = {"method": "GET", "form_data": {}, "get_data": query, "headers": headers or {},
                        "content_type": None, "path": "", "json": None}


class _Conf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs) -> Registration:
        return self._registration


class _Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> Response:
        return RedirectResponse(url, status_code=302)


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict, **kwargs) -> Response:
        return HTMLResponse(
            f"<form method='POST' action='{launch_data['launch_url']}' id='form'>"
            f"<input type='hidden' name='id_token' value='{launch_data['id_token']}'/>"
            f"<input type='hidden' name='state' value='{launch_data['state']}'/></form>"
            "<script>document.getElementById('form').submit();</script>")


class _Memberships(NamesRoleProvisioningService):
    people: list = []

    def get_context_by_id(self) -> Context:
        return Context(id=COURSE[0], label="DL101", title=COURSE[1])

    def get_member_data_page(self, page: int = 1, limit: int | None = None, role: str | None = None,
                             since: str | None = None, **_) -> dict:
        members = [{"user_id": p.user_id, "name": p.name, "roles": p.roles, "status": "Active"} for p in self.people]
        return {"content": members, "has_next": False, "next": None}


# ----------------------------------------------------------------------------- the user's browser
@dataclass
class LaunchForm:
    action: str
    id_token: str
    state: str


class Browser:
    """requests with a cookie jar, playing one person's browser between the LMS and the tool."""

    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def open_from_course(self, user: str, lesson: str | None = None) -> LaunchForm:
        """Click the tool's link in the course: login initiation, the tool's redirect, the LMS's signed form."""
        params = {"user": user, **({"lesson": lesson} if lesson else {})}
        page = self.session.get(self.base + "/platform/start", params=params, timeout=30)
        assert page.status_code == 200, page.text
        found = dict(re.findall(r"name='(id_token|state)' value='([^']*)'", page.text))
        action = re.search(r"action='([^']*)'", page.text).group(1)
        return LaunchForm(unescape(action), found["id_token"], found["state"])

    def post(self, form: LaunchForm, id_token: str | None = None) -> requests.Response:
        """Post the launch form (its id_token replaced, for a tampered launch), without following the redirect."""
        return self.session.post(form.action, data={"id_token": id_token or form.id_token, "state": form.state},
                                 allow_redirects=False, timeout=30)


# ----------------------------------------------------------------------------- one server for both
class Served:
    """An ASGI app served by uvicorn on 127.0.0.1:port in a thread of this process, until stop()."""

    def __init__(self, app, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
