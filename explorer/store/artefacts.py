"""Where the run store's artefact files live: its runs folder (the default), or an fsspec URL every node sees.

    local   EXPLORER_ARTIFACTS_URL unset: files under the runs folder, exactly as they always were (fsspec is
            not even imported).
    remote  EXPLORER_ARTIFACTS_URL (or --artifacts-url) = s3://bucket/prefix, file:///shared/artefacts, ...:
            the same relative paths under that URL. A writer saves the file in its own runs folder (its scratch
            space, as before), uploads it under a temporary name and renames it into place, and only then is it
            recorded in the database. A reader downloads it into its own runs folder before reading it (its
            size checked against MAX_ARTEFACT_BYTES first and while copying) and keeps that copy as a cache,
            trusted while the remote file's size and version (ETag, mtime or creation time) are unchanged.

So an app replica and a worker on another node share only the database and this location, never a disk.
The key of every artefact is the database's relative path ("EXPID/RUNSLUG/final.pt"): never absolute, never
with "..". The URL comes from the server's administrator (the environment or the CLI), never from a user.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import secrets
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ..i18n import _

log = logging.getLogger(__name__)

ARTIFACTS_ENV = "EXPLORER_ARTIFACTS_URL"
# fsspec stores a shared artefact location may be: a folder every node mounts, object stores, and fsspec's
# in-memory one (one process: tests)
ARTEFACT_SCHEMES = ("file", "local", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory")
_CHUNK = 4 * 2**20
MAX_ARTEFACT_BYTES = 4 * 2**30  # one file from a remote artefact location; a larger one is not ours, never fetched
# (a resume state of a few of the largest nets MAX_PARAMS allows, weights + momentum at 0.5 GB each, fits)


def artefacts_url(url: str | None = None) -> str | None:
    """The artefact location to use: `url`, else EXPLORER_ARTIFACTS_URL, else None (the runs folder)."""
    return url or os.environ.get(ARTIFACTS_ENV) or None


def check_scheme(url: str) -> str:
    """The scheme of an artefact URL (a plain path is `file`), refused (ValueError, one sentence) unless it is a
    store that every node can write, rename in and read back: not http (read-only), not ftp or sftp (each file a
    connection that fsspec opens while it parses the URL), not a chain of caches."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    if scheme not in ARTEFACT_SCHEMES:
        raise ValueError(_("An artefact location must be a URL of {schemes} or a folder; got {scheme} (fix {setting} "
                           "or --artifacts-url).").format(schemes=", ".join(s + "://" for s in ARTEFACT_SCHEMES),
                                                       scheme=repr(scheme[:20]), setting=ARTIFACTS_ENV))
    return scheme


def check_key(relative: str) -> str:
    """An artefact's key as the database holds it, refused (ValueError) when absolute or with "..", "." or "\\"."""
    parts = PurePosixPath(relative).parts if isinstance(relative, str) else ()
    if not parts or relative.startswith("/") or "\\" in relative or any(p in ("..", ".") for p in parts):
        raise ValueError(f"Not an artefact path: {str(relative)[:60]!r}.")
    return relative


class Artefacts:
    """A run store's artefact files: under `root` (local), or at an fsspec URL with `root` as scratch and cache.

    Args:
        root: the runs folder of this machine. url: an fsspec URL (None: EXPLORER_ARTIFACTS_URL, else local).
        max_bytes: a remote file larger than this is never downloaded.
    """

    def __init__(self, root: Path, url: str | None = None, max_bytes: int = MAX_ARTEFACT_BYTES) -> None:
        self.root, self.url, self.max_bytes = Path(root), artefacts_url(url), max_bytes
        self.fs, self.base = None, ""
        if self.url:
            scheme = check_scheme(self.url)
            import fsspec  # only for a remote location: the default costs nothing
            try:
                self.fs, base = fsspec.core.url_to_fs(self.url)
            except (ImportError, ValueError, OSError) as exc:
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                raise ValueError(_("The artefact location {scheme}:// cannot be used here ({reason}); install its "
                                   "fsspec backend or fix {setting}.").format(scheme=scheme, reason=reason,
                                                                              setting=ARTIFACTS_ENV)) from None
            self.base = base.rstrip("/")

    @property
    def remote(self) -> bool:
        return self.fs is not None

    def _remote(self, relative: str) -> str:
        return f"{self.base}/{check_key(relative)}"

    def publish(self, path: Path) -> str:
        """Make a file written under the runs folder visible to every node; returns its key (relative path)."""
        relative = Path(path).relative_to(self.root).as_posix()
        if self.fs is None:
            return relative
        dest = self._remote(relative)
        tmp = posixpath.join(posixpath.dirname(dest), f".{posixpath.basename(dest)}.{secrets.token_hex(4)}.tmp")
        self.fs.makedirs(posixpath.dirname(dest), exist_ok=True)
        try:
            self.fs.put_file(str(path), tmp)
            self.fs.mv(tmp, dest)  # readers see the whole file or none of it
        except BaseException:
            _quietly(self.fs.rm_file, tmp)
            raise
        self._remember(Path(path), self.fs.info(dest))  # the scratch copy is this node's cached copy
        return relative

    def fetch(self, relative: str | None, cache: bool = True) -> Path | None:
        """A local path holding the artefact, or None when there is none (or it is unsafe, or over the size cap).

        cache: False for a file that is rewritten under the same key (resume.pt): always downloaded again.
        """
        if not relative:
            return None
        if self.fs is None:
            return self._local_file(relative)
        try:
            remote, local = self._remote(relative), self.root / relative
            info = self.fs.info(remote)
        except (OSError, ValueError):
            return None
        size = info.get("size")
        if info.get("type") != "file" or info.get("islink") or not isinstance(size, int):
            return None
        if size > self.max_bytes:
            log.warning("Artefact %s is %d bytes, over the %d-byte cap; it is not downloaded.", relative, size,
                        self.max_bytes)
            return None
        if cache and self._cached(local, info):
            return local
        try:
            self._download(remote, local)
        except (OSError, ValueError) as exc:
            log.warning("Artefact %s could not be downloaded: %s", relative, exc)
            return None
        self._remember(local, info)
        return local

    def exists(self, relative: str | None) -> bool:
        """True when the artefact is there (nothing is downloaded)."""
        if not relative:
            return False
        if self.fs is None:
            return self._local_file(relative) is not None
        try:
            return self.fs.isfile(self._remote(relative))
        except (OSError, ValueError):
            return False

    def names(self, folder: str) -> list:
        """The file names directly in an artefact folder ("EXPID/RUNSLUG"), sorted; [] when there is none."""
        if self.fs is None:
            d = self.root / check_key(folder)
            return sorted(p.name for p in d.iterdir() if p.is_file()) if d.is_dir() and not d.is_symlink() else []
        try:
            found = self.fs.ls(self._remote(folder), detail=True)
        except (OSError, ValueError):
            return []
        return sorted(posixpath.basename(f["name"].rstrip("/")) for f in found if f.get("type") == "file")

    def sizes(self, folder: str) -> dict:
        """{file name: bytes} directly in an artefact folder, from one listing (nothing is downloaded)."""
        if self.fs is None:
            d = self.root / check_key(folder)
            if not d.is_dir() or d.is_symlink():
                return {}
            return {p.name: p.stat().st_size for p in d.iterdir() if p.is_file() and not p.is_symlink()}
        try:
            found = self.fs.ls(self._remote(folder), detail=True)
        except (OSError, ValueError):
            return {}
        return {posixpath.basename(f["name"].rstrip("/")): int(f.get("size") or 0) for f in found
                if f.get("type") == "file"}

    def delete(self, relative: str) -> None:
        """Remove one artefact (a link is removed, never followed), here and at the remote location."""
        if self.fs is not None:
            try:
                remote, local = self._remote(relative), self.root / relative
            except ValueError:
                return  # a key that could not have been written
            _quietly(self.fs.rm_file, remote)
            for p in (local, _sidecar(local)):
                p.unlink(missing_ok=True)
        elif (path := self._local_file(relative)) is not None:
            path.unlink()

    def delete_folder(self, folder: str) -> None:
        """Remove an experiment's remote folder (the runs folder's copy is the store's to remove)."""
        fs = self.fs
        if fs is not None:
            remote = self._remote(folder)
            _quietly(lambda: fs.exists(remote) and fs.rm(remote, recursive=True))

    # ------------------------------------------------------------------ private
    def _local_file(self, relative: str) -> Path | None:
        """The file under the runs folder, only if it is a regular file inside it (no link out)."""
        path = self.root / relative
        try:
            if path.is_symlink() or not path.is_file() or ".." in Path(relative).parts:
                return None
            path.resolve().relative_to(self.root.resolve())
        except (OSError, ValueError):
            return None
        return path

    def _download(self, remote: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{secrets.token_hex(4)}.tmp")
        assert self.fs is not None, "only a remote artefact location downloads"
        try:
            copied = 0
            with self.fs.open(remote, "rb") as src, open(tmp, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    copied += len(chunk)
                    if copied > self.max_bytes:
                        raise ValueError("it grew past the size cap while it was being read")
                    dst.write(chunk)
            os.replace(tmp, local)  # a link in its place is replaced, never followed
        finally:
            tmp.unlink(missing_ok=True)

    def _cached(self, local: Path, info: dict) -> bool:
        try:
            mark = json.loads(_sidecar(local).read_text())
            return (not local.is_symlink() and local.is_file() and local.stat().st_size == info["size"]
                    and mark == _version(info))
        except (OSError, ValueError):
            return False

    def _remember(self, local: Path, info: dict) -> None:
        tmp = _sidecar(local).with_name(f"{_sidecar(local).name}.{secrets.token_hex(3)}.tmp")
        tmp.write_text(json.dumps(_version(info)))
        os.replace(tmp, _sidecar(local))


def _sidecar(local: Path) -> Path:
    return local.with_name(f".{local.name}.remote")


def _version(info: dict) -> dict:
    """What identifies one upload of a remote file: its size and the first version field its filesystem gives."""
    stamp = next((info[k] for k in ("ETag", "etag", "md5Hash", "mtime", "LastModified", "last_modified", "created")
                  if info.get(k) is not None), None)
    return {"size": info.get("size"), "version": str(stamp)}


def _quietly(fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    with contextlib.suppress(OSError):
        fn(*args, **kwargs)


__all__ = ["ARTIFACTS_ENV", "Artefacts", "artefacts_url", "check_key"]
