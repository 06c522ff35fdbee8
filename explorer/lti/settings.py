"""What an LTI 1.3 deployment configures: the platforms (LMSs) it trusts, where the app is, and the tool's own key.

The platforms are registrations the deployment writes in a JSON or TOML file (EXPLORER_LTI_CONFIG), one per LMS
and client id, each checked here before anything uses it (docs/deploy.md, "Launch from an LMS"):

    app_url = "https://explorer.school.edu"          # where a launch sends the browser (the Streamlit app)
    [[platforms]]
    issuer = "https://canvas.instructure.com"
    client_id = "10000000000001"
    deployment_ids = ["1:9f4a..."]
    auth_login_url = "https://sso.canvaslms.com/api/lti/authorize_redirect"
    auth_token_url = "https://sso.canvaslms.com/login/oauth2/token"
    key_set_url = "https://sso.canvaslms.com/api/lti/security/jwks"

The tool signs its roster requests with an RSA key: EXPLORER_LTI_PRIVATE_KEY_FILE names a PEM file the deployment
keeps (a secret store's mount, the same on every replica), else one is generated once in the runs folder
(`lti/tool_key.pem`, permissions 0600). Its public half is what the JWKS endpoint serves.
Size budget: ~220 lines.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..i18n import _

MAX_CONFIG_BYTES = 65_536  # the registrations file: a few hundred bytes per LMS; checked before it is read
MAX_PLATFORMS = 50  # registrations in one file (one per LMS and client id)
MAX_DEPLOYMENTS = 100  # deployment ids of one registration (one per course account or site that installed the tool)
MAX_KEY_BYTES = 16_384  # the tool's PEM key file (an RSA-4096 key is about 3.3 KB); checked before it is read
_MAX_FIELD = 1000  # characters of one URL or id in a registration
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")  # plain http is allowed only here (tests, a laptop)
KEY_FILE = Path("lti") / "tool_key.pem"  # inside the runs folder, when no key file is configured


class LtiError(ValueError):
    """A refused LTI setting, launch or sync, with one sentence for the person who reads it."""


@dataclass(frozen=True)
class Platform:
    """One LMS registration: what its administrator gave when they added the tool."""

    issuer: str  # the `iss` of its id_tokens
    client_id: str  # the `aud` it puts in them
    deployment_ids: tuple[str, ...]  # installations of the tool the LMS may launch from
    auth_login_url: str  # its OIDC authorisation endpoint (the launch's second leg)
    auth_token_url: str  # its OAuth2 token endpoint (client credentials, for the roster service)
    key_set_url: str  # its JWKS: the keys its id_tokens are signed with
    auth_audience: str | None = None  # the token endpoint's audience, when the LMS says it is not the URL itself


@dataclass(frozen=True)
class LtiSettings:
    """The registrations and the app's address."""

    platforms: tuple[Platform, ...]
    app_url: str  # the Streamlit app's public address, without a trailing slash

    def platform(self, issuer: str, client_id: str | None) -> Platform | None:
        """The registration of this issuer (and client id, when the LMS sent one), or None."""
        found = [p for p in self.platforms if p.issuer == issuer and client_id in (None, "", p.client_id)]
        return found[0] if len(found) == 1 or (found and client_id) else None

    def tool_config(self) -> dict[str, list[dict[str, Any]]]:
        """The registrations as pylti1p3's ToolConfDict wants them: {issuer: [{client_id, ...}, ...]}."""
        out: dict[str, list[dict[str, Any]]] = {}
        for p in self.platforms:
            out.setdefault(p.issuer, []).append({
                "default": False, "client_id": p.client_id, "auth_login_url": p.auth_login_url,
                "auth_token_url": p.auth_token_url, "auth_audience": p.auth_audience, "key_set_url": p.key_set_url,
                "key_set": None, "deployment_ids": list(p.deployment_ids)})
        return out


def _url(value: object, field: str) -> str:
    """An https URL (http only on this machine), or LtiError naming the field."""
    text = _text(value, field)
    parts = urlsplit(text)
    if parts.scheme == "https" and parts.hostname:
        return text
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
        return text
    raise LtiError(_("The LTI setting {field} must be an https:// address; it is {value}.").format(
        field=field, value=repr(text[:80])))


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_FIELD:
        raise LtiError(_("The LTI setting {field} must be a non-empty text of at most {n} characters.").format(
            field=field, n=_MAX_FIELD))
    return value.strip()


def _platform(raw: object, n: int) -> Platform:
    if not isinstance(raw, dict):
        raise LtiError(_("Platform {n} of the LTI settings must be a table of settings.").format(n=n))
    where = f"platforms[{n}]"
    ids = raw.get("deployment_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_DEPLOYMENTS:
        raise LtiError(_("The LTI setting {field} must list 1 to {n} deployment ids.").format(
            field=f"{where}.deployment_ids", n=MAX_DEPLOYMENTS))
    unknown = set(raw) - {"issuer", "client_id", "deployment_ids", "auth_login_url", "auth_token_url", "key_set_url",
                          "auth_audience"}
    if unknown:
        raise LtiError(_("The LTI setting {field} has unknown keys: {keys}.").format(
            field=where, keys=", ".join(sorted(map(str, unknown)))[:200]))
    audience = raw.get("auth_audience")
    return Platform(issuer=_text(raw.get("issuer"), f"{where}.issuer"),
                    client_id=_text(raw.get("client_id"), f"{where}.client_id"),
                    deployment_ids=tuple(_text(d, f"{where}.deployment_ids") for d in ids),
                    auth_login_url=_url(raw.get("auth_login_url"), f"{where}.auth_login_url"),
                    auth_token_url=_url(raw.get("auth_token_url"), f"{where}.auth_token_url"),
                    key_set_url=_url(raw.get("key_set_url"), f"{where}.key_set_url"),
                    auth_audience=_text(audience, f"{where}.auth_audience") if audience is not None else None)


def parse_settings(raw: object) -> LtiSettings:
    """LtiSettings from the decoded file ({app_url, platforms: [...]}), or LtiError with one sentence."""
    if not isinstance(raw, dict):
        raise LtiError(_("The LTI settings must be a table with app_url and platforms."))
    platforms = raw.get("platforms")
    if not isinstance(platforms, list) or not 1 <= len(platforms) <= MAX_PLATFORMS:
        raise LtiError(_("The LTI settings must list 1 to {n} platforms.").format(n=MAX_PLATFORMS))
    parsed = tuple(_platform(p, n) for n, p in enumerate(platforms))
    pairs = [(p.issuer, p.client_id) for p in parsed]
    if len(set(pairs)) != len(pairs):
        raise LtiError(_("Two LTI platforms have the same issuer and client id; keep one."))
    return LtiSettings(platforms=parsed, app_url=_url(raw.get("app_url"), "app_url").rstrip("/"))


def load_settings(path: str | os.PathLike[str]) -> LtiSettings:
    """The registrations file (.json or .toml), its size checked before it is read."""
    where = Path(path)
    try:
        size = where.stat().st_size
    except OSError as exc:
        raise LtiError(_("The LTI settings file {path} cannot be read ({error}).").format(
            path=where, error=exc.strerror)) from exc
    if size > MAX_CONFIG_BYTES:
        raise LtiError(_("The LTI settings file {path} is {size} bytes; at most {most} are read.").format(
            path=where, size=f"{size:,}", most=f"{MAX_CONFIG_BYTES:,}"))
    text = where.read_text(encoding="utf-8", errors="replace")
    try:
        if where.suffix.lower() == ".toml":
            import tomllib  # Python 3.11+: a TOML file needs it (a JSON file does not)
            raw: object = tomllib.loads(text)
        else:
            raw = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise LtiError(_("The LTI settings file {path} is not valid {format}.").format(
            path=where, format=where.suffix.lstrip(".").upper() or "JSON")) from exc
    return parse_settings(raw)


def settings_from_env() -> LtiSettings | None:
    """The registrations named by EXPLORER_LTI_CONFIG, or None when LTI is not set up."""
    path = os.environ.get("EXPLORER_LTI_CONFIG")
    return load_settings(path) if path else None


# ----------------------------------------------------------------------------- the tool's key
@dataclass(frozen=True)
class ToolKey:
    """The tool's RSA key: the private PEM signs its roster requests; `jwk` (public, with its kid) is published."""

    private_pem: str
    jwk: dict[str, Any]

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])

    @property
    def public_pem(self) -> str:
        from jwcrypto.jwk import JWK
        return JWK(**self.jwk).export_to_pem().decode()


def _from_pem(pem: bytes, where: Path) -> ToolKey:
    from jwcrypto.jwk import JWK
    try:
        key = JWK.from_pem(pem)
    except (ValueError, TypeError) as exc:
        raise LtiError(_("The LTI tool key {path} is not a PEM private key.").format(path=where)) from exc
    if key.get("kty") != "RSA" or not key.has_private:
        raise LtiError(_("The LTI tool key {path} must be an RSA private key.").format(path=where))
    public = json.loads(key.export_public())
    public.update(alg="RS256", use="sig")
    return ToolKey(private_pem=pem.decode(), jwk=public)


def _read_key(where: Path) -> ToolKey:
    try:
        info = os.stat(where, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):  # a secret store's mount may be a link: follow it, then check the file
            info = where.stat()
    except OSError as exc:
        raise LtiError(_("The LTI tool key {path} cannot be read ({error}).").format(path=where,
                                                                                   error=exc.strerror)) from exc
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_KEY_BYTES:
        raise LtiError(_("The LTI tool key {path} must be a PEM file of at most {most} bytes.").format(
            path=where, most=f"{MAX_KEY_BYTES:,}"))
    if info.st_mode & 0o077:
        raise LtiError(_("The LTI tool key {path} can be read by others; make it private (chmod 600).").format(
            path=where))
    return _from_pem(where.read_bytes(), where)


def tool_key(runs_dir: str | os.PathLike[str]) -> ToolKey:
    """The tool's key: EXPLORER_LTI_PRIVATE_KEY_FILE, else `lti/tool_key.pem` in the runs folder, made once (RSA
    2048, 0600, linked into place whole, so two processes starting together end with the same key)."""
    named = os.environ.get("EXPLORER_LTI_PRIVATE_KEY_FILE")
    if named:
        return _read_key(Path(named))
    where = Path(runs_dir) / KEY_FILE
    if not where.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = where.with_name(f".{where.name}.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(temp, where)  # whole or not at all; another process that linked first wins, and we use theirs
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    return _read_key(where)
