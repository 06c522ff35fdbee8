"""The class's public join link and its QR code: an address the students' devices can open, not the teacher's own.

Where the address comes from, first match wins:
1. `EXPLORER_PUBLIC_URL` (e.g. https://resnet.school.example/physics): the deployment says it; always right.
2. Behind the deployment's own proxy (it names one: EXPLORER_CLIENT_HEADER, with EXPLORER_TRUSTED_PROXIES hops,
   as the per-client limits read it), the X-Forwarded-Host and X-Forwarded-Proto entry that proxy wrote. Without a
   proxy these headers come from the browser itself and are never read.
3. The address the teacher's browser used for this page.
A link whose host is this machine only (localhost, 127.0.0.1, ::1) is marked, so the Class page can warn.
Size budget: ~120 lines.
"""
from __future__ import annotations

import io
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..i18n import _

MAX_URL = 300  # characters of a public address: a QR code at version ~10 still reads from the back of a room
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")  # a host name or [IPv6], an optional port
_PREFIX = re.compile(r"^[A-Za-z0-9._~/-]*$")  # a path prefix (Streamlit's baseUrlPath): nothing to quote


@dataclass(frozen=True)
class JoinLink:
    """The join link to show and encode: `url`; `local_only` when only this machine can open it; `source` says
    where its address came from ("EXPLORER_PUBLIC_URL", "proxy", "browser"); `problem`: a setting that was ignored."""

    url: str
    local_only: bool
    source: str
    problem: str | None = None


def base_url(text: object) -> str | None:
    """An http(s) address with a host and at most a path prefix (no user, query or fragment), without its trailing
    slash; None when it is not one."""
    if not isinstance(text, str) or len(text) > MAX_URL:
        return None
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    if not _HOST.match(parts.netloc) or not _PREFIX.match(parts.path):
        return None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_local_only(url: str) -> bool:
    """True when the link's host is this machine only: localhost, a loopback or unspecified address."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost") or not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def join_link(code: str, env: Mapping[str, str], page_url: str | None, headers: Mapping[str, Sequence[str]],
              trusted_hops: int = 0) -> JoinLink:
    """The class's join link (base address + "/?join=CODE"), from the first source that gives one (module doc).

    Args:
        code: the class's code. env: the environment (EXPLORER_PUBLIC_URL). page_url: the teacher's page address
        (st.context.url). headers: {header name in lower case: [values]} of the request. trusted_hops: the
        deployment's proxies (explorer.jobs.request.proxy_setting); 0: no proxy, forwarded headers are not read.
    """
    problem = None
    configured = env.get("EXPLORER_PUBLIC_URL", "").strip()
    if configured:
        base = base_url(configured)
        if base is not None:
            return JoinLink(f"{base}/?join={code}", is_local_only(base), "EXPLORER_PUBLIC_URL")
        problem = _("EXPLORER_PUBLIC_URL is not an http(s) address with a host (and at most a path), so it was "
                    "ignored.")
    page = _page_base(page_url)
    if trusted_hops > 0:
        host = _forwarded(headers.get("x-forwarded-host", ()), trusted_hops)
        proto = _forwarded(headers.get("x-forwarded-proto", ()), trusted_hops) or "https"
        prefix = urlsplit(page).path if page else ""
        base = base_url(f"{proto}://{host}{prefix}") if host else None
        if base is not None:
            return JoinLink(f"{base}/?join={code}", is_local_only(base), "proxy", problem)
    base = page or "http://localhost:8501"
    return JoinLink(f"{base}/?join={code}", is_local_only(base), "browser", problem)


def _page_base(page_url: str | None) -> str | None:
    """The app's base address from a page's (the page name and query dropped): "http://h:8501/class" -> "http://h:8501"."""
    if not page_url:
        return None
    parts = urlsplit(page_url)
    prefix = parts.path.rsplit("/", 1)[0]
    return base_url(f"{parts.scheme}://{parts.netloc}{prefix}")


def _forwarded(values: Sequence[str], hops: int) -> str | None:
    """The entry the deployment's outermost proxy wrote: `hops` places from the right of the comma-joined values."""
    entries = [v.strip() for value in values for v in str(value)[:MAX_URL].split(",") if v.strip()]
    return entries[-hops] if len(entries) >= hops else None


def qr_png(text: str, scale: int = 10) -> bytes:
    """A QR code of `text` as PNG bytes (segno: pure Python, no image library), dark on white with the standard
    four-module quiet zone; error correction M, so a projector's glare or a keystone does not stop a phone."""
    import segno
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
