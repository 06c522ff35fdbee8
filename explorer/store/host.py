"""What the run store knows of this machine: files written atomically (JSON, checkpoints: a full disk leaves no
half-written file, and says so with errno ENOSPC), read safely, and worker processes by handle.

A worker's handle is "host:pid:start ticks": a pid alone may be reused by any process after a restart, so
liveness (and the job manager's right to signal it) checks the start time too.
"""
from __future__ import annotations

import io
import json
import os
import secrets
import socket
from pathlib import Path
from stat import S_ISREG
from typing import IO, Any, cast

from ..i18n import _

MAX_JSON_BYTES = 64 * 2**20  # a JSON artefact larger than this is not read


def atomic_write_json(path: Path, obj: object) -> None:
    """Write JSON to a temp file in the same folder, then rename over the target (readers never see half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Recording(io.RawIOBase):
    """A file torch.save writes through that keeps the OSError of a failed write: torch reports a full disk as
    RuntimeError("unexpected pos ..."), with no errno; the caller raises the recorded error instead."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.error = f, None  # type: tuple[IO[bytes], OSError | None]

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:  # a bytes-like object
        try:
            return self.f.write(b)
        except OSError as exc:
            self.error = exc
            raise


def save_atomically(path: Path, obj: object) -> None:
    """torch.save(obj) to a temp file in the same folder, then rename over `path`: readers see the old file or
    the whole new one. A failed write (a full disk) removes the temp file and raises its OSError (errno ENOSPC)."""
    import torch
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "wb", buffering=0) as f:
            out = _Recording(f)
            try:
                torch.save(obj, cast(IO[bytes], out))  # a file object, as torch.save takes
            except RuntimeError:
                if out.error is not None:
                    raise out.error from None
                raise
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES) -> dict | None:
    """The JSON object in a regular file (no link, at most max_bytes), or None when missing, too big or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not S_ISREG(st.st_mode) or st.st_size > max_bytes:
            return None
        try:
            obj = json.loads(f.read(max_bytes + 1))
        except (OSError, ValueError):
            return None
    return obj if isinstance(obj, dict) else None


def pid_alive(pid: object) -> bool:
    """True if a process with this pid runs (a zombie counts as dead)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)  # read once: the process may end between two reads
    return stat is None or stat[0] != "Z"


def _proc_stat(pid: int) -> tuple | None:
    """(state, start time in clock ticks) from /proc/PID/stat, or None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return rest[0], rest[19]
    except (OSError, IndexError):
        return None


def worker_handle(pid: int) -> str:
    """"host:pid:start ticks" of a process: what the job manager checks before it signals a worker."""
    stat = _proc_stat(pid)
    return f"{socket.gethostname()}:{pid}:{stat[1] if stat else '?'}"


def is_local(handle: str | None) -> bool:
    """True when a worker handle names a process of this machine."""
    return str(handle).rsplit(":", 2)[0] == socket.gethostname()


def worker_alive(handle: str | None) -> bool:
    """True while the process a handle names still runs (same pid, same start time); other hosts count as alive."""
    try:
        host, pid_text, start = str(handle).rsplit(":", 2)
        pid = int(pid_text)
    except (ValueError, TypeError):
        return False
    if host != socket.gethostname():
        return True  # another machine's worker (PostgreSQL deployment): its own job manager watches it
    stat = _proc_stat(pid)
    return pid_alive(pid) and (stat is None or start in ("?", "claim") or stat[1] == start)


def load_checkpoint(source: str | os.PathLike[str] | bytes | bytearray | IO[bytes]) -> dict:
    """Read a checkpoint (path, bytes or file object) with weights_only=True and check its format.

    Returns {"state_dict", "model", "preprocessing"}; anything else raises ValueError with one sentence.
    """
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    import torch
    try:
        ckpt = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for foreign files
        raise ValueError(_("This file is not a ResNet Explorer checkpoint (it could not be read safely).")) from exc
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict) and isinstance(ckpt.get("model"), dict)
            and isinstance(ckpt.get("preprocessing"), dict)):
        raise ValueError(_("This file is not a ResNet Explorer checkpoint (weights, model config and preprocessing "
                           "are expected)."))
    return ckpt

