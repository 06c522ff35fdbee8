"""Bring your own data: a zip of class folders (or a folder on the server) turned into a `folder` dataset.

A zip is checked as a whole before anything is extracted: its size, its number of entries, its layout (no two
entries may share bytes, no name may appear twice: Python's zipfile accepts a directory that lists one image 500
times), the sum of the sizes it declares, each entry's compression ratio (a zip bomb expands far more than any
image) and every path. Then every image's header is read (nothing decoded) and the pixels of all of them are
summed against MAX_UPLOAD_PIXELS, and the disk the upload would take is checked against the uploads' budget (total
and per owner; nothing is ever deleted to make room). Only then is each image decoded, once, through the image door
(explorer.data.images.load_image, with its byte and pixel caps), under a CPU-time cap: the files that decode are
written, under names we choose, into a folder named by the zip's hash (the same upload twice is one dataset), with
their 32x32 arrays beside them (explorer.data.builtin.DECODED_FILE), which the preview and every worker read instead
of decoding the images again. Unreadable files are skipped and counted. Size budget: ~350 lines.
"""
from __future__ import annotations

import hashlib
import io
import os
import pathlib
import secrets
import shutil
import struct
import time
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from ..i18n import _, count, decimal
from ..nets.preprocessing import MAX_CLASS_NAME
from .builtin import FOLDER_INPUT_SIZE, IMAGE_SUFFIXES, UPLOAD_MARKER, folder_image, keep_decoded
from .images import MAX_BYTES, ImageError, image_size

MAX_ZIP_BYTES = 200 * 2**20  # Streamlit's default upload limit
MAX_ENTRIES = 10_000  # files and folders listed in the zip
MAX_UNCOMPRESSED = 512 * 2**20  # the sum of the sizes the entries declare
MAX_RATIO = 100  # uncompressed / compressed size of one entry; images barely compress, zip bombs expand 1000x
MAX_CLASSES = 100  # class folders in one dataset: more than any picture set a class makes
MAX_UPLOAD_PIXELS = 2_000_000_000  # all of a zip's images, from headers: 10-30 s of a core to decode (5-15 ns/pixel)
MAX_UPLOAD_CPU_S = 60  # CPU seconds one upload may take to read and decode its images (2x the pixel budget's worst)
UPLOADS_BUDGET_BYTES = 20 * 2**30  # all uploaded datasets together (folders and kept zips): ~40 of the largest
OWNER_UPLOADS_BUDGET_BYTES = 2 * 2**30  # one owner's uploaded datasets: four of the largest uploads
HEADER_BYTES = 64 * 2**10  # read this much of an entry for its image header first (all of it when that is not enough)
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip entry's local header: its signature, then name and extra lengths
OWNER_MARKER, BYTES_MARKER = ".owner", ".bytes"  # who uploaded a folder first, and the bytes it takes
MAX_CLASS_NAME_BYTES = 128  # a class folder's name in UTF-8: file systems allow 255 (64 emoji: ENAMETOOLONG)


class UploadRefused(ValueError):
    """An upload we will not take; the message is one sentence for the user."""


@dataclass(frozen=True)
class UploadBudget:
    """Disk for uploaded datasets: all of them together, and one owner's (None: no cap)."""

    total_bytes: int | None = UPLOADS_BUDGET_BYTES
    owner_bytes: int | None = OWNER_UPLOADS_BUDGET_BYTES

    @classmethod
    def from_env(cls) -> UploadBudget:
        """EXPLORER_UPLOADS_BUDGET_MB and EXPLORER_OWNER_UPLOADS_BUDGET_MB (MB; "none": no cap; unset: defaults)."""
        def mb(name: str, default: int | None) -> int | None:
            value = os.environ.get(name, "").strip().lower()
            if value == "none":
                return None
            try:
                return int(float(value) * 2**20) if value else default
            except (ValueError, OverflowError):
                return default
        return cls(mb("EXPLORER_UPLOADS_BUDGET_MB", UPLOADS_BUDGET_BYTES),
                   mb("EXPLORER_OWNER_UPLOADS_BUDGET_MB", OWNER_UPLOADS_BUDGET_BYTES))


class _Clock:
    """The CPU time this thread has spent on one upload (Streamlit serves each session from its own thread)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s, self.start = limit_s, time.thread_time()

    def check(self) -> None:
        if time.thread_time() - self.start > self.limit_s:
            raise UploadRefused(_("Reading the zip's images took more than {seconds} s of the server's time; upload "
                                  "fewer or smaller images.").format(seconds=f"{self.limit_s:g}"))


def _check_layout(zf: zipfile.ZipFile, data: bytes) -> None:
    """Refuse entries that share bytes (each spans its local header, name, extra field and data) or a name
    (after normalisation: Unicode NFC, case folded, `a//b` = `a/./b` = `a/b`); only the 30-byte headers are read."""
    spans, names, repeated = [], set(), False
    end_of_entries = min(len(data), getattr(zf, "start_dir", len(data)))
    for info in zf.infolist():
        start = info.header_offset
        head = data[start:start + _LOCAL_HEADER.size] if start >= 0 else b""
        if len(head) < _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
            raise UploadRefused(_("The zip is damaged (an entry points where no entry begins), so it was refused."))
        _signature, name_len, extra_len = _LOCAL_HEADER.unpack(head)
        end = start + _LOCAL_HEADER.size + name_len + extra_len + info.compress_size
        if end > end_of_entries:
            raise UploadRefused(_("The zip is damaged (an entry runs past the end of the entries), so it was refused."))
        spans.append((start, end))
        key = unicodedata.normalize("NFC", "/".join(pathlib.PurePosixPath(info.filename).parts)).casefold()
        repeated = repeated or (key, info.is_dir()) in names
        names.add((key, info.is_dir()))
    spans.sort()
    if any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)):
        raise UploadRefused(_("Entries of the zip share their bytes (one file listed as many), so it was refused."))
    if repeated:
        raise UploadRefused(_("The zip lists the same file name more than once, so it was refused."))


def _plan(zf: zipfile.ZipFile, data: bytes, caps: dict) -> tuple:
    """([(ZipInfo, class name)], skipped count) from the listing alone; raises UploadRefused."""
    infos = zf.infolist()
    if len(infos) > caps["entries"]:
        raise UploadRefused(_("The zip lists {entries} entries; at most {most} are accepted.").format(
            entries=count(len(infos)), most=count(caps["entries"])))
    _check_layout(zf, data)
    if sum(i.file_size for i in infos) > caps["uncompressed"]:
        raise UploadRefused(_("The zip would expand to more than {most} MB; upload fewer or smaller images.").format(
            most=decimal(caps["uncompressed"] / 2**20, 0)))
    for i in infos:
        if i.file_size > caps["ratio"] * max(i.compress_size, 1) and i.file_size > 2**20:
            raise UploadRefused(_("This zip looks like a zip bomb (a file expands far more than an image could), "
                                  "so it was refused."))
    files = [i for i in infos if not i.is_dir() and not _hidden(i.filename)]
    parts = [pathlib.PurePosixPath(i.filename).parts for i in files]
    if any(p[0] in ("/", "..") or ".." in p or "\\" in i.filename for p, i in zip(parts, files, strict=True)):
        raise UploadRefused(_("The zip holds a path that leaves its folder, so it was refused."))
    images = [p for p in parts if pathlib.PurePosixPath(p[-1]).suffix.lower() in IMAGE_SUFFIXES]
    if images and all(len(p) >= 3 for p in images) and len({p[0] for p in images}) == 1:
        parts = [p[1:] for p in parts]  # one folder wrapping the class folders
    plan, skipped = [], 0
    for info, p in zip(files, parts, strict=True):
        if len(p) < 2 or pathlib.PurePosixPath(p[-1]).suffix.lower() not in IMAGE_SUFFIXES:
            skipped += 1  # a file beside the class folders, or not an image
            continue
        cls = _class_name(p[0])
        if not cls:
            skipped += 1
            continue
        plan.append((info, cls))
    classes = {c for _info, c in plan}
    if len(classes) < 2:
        raise UploadRefused(_("The zip needs at least two folders of images, one per class (for example cats/ and "
                              "dogs/)."))
    if len(classes) > caps["classes"]:
        raise UploadRefused(_("The zip has {n} class folders; at most {most} are accepted.").format(
            n=len(classes), most=caps["classes"]))
    return plan, skipped


def _class_name(folder: str) -> str:
    """A class folder's name as its class name: trimmed, cut to MAX_CLASS_NAME characters and MAX_CLASS_NAME_BYTES
    bytes; UploadRefused for < or >, which no class name holds (explorer.nets.preprocessing)."""
    if set(folder) & set("<>"):
        raise UploadRefused(_("A class folder's name holds < or >, which class names may not; rename it and zip it "
                              "again."))
    return folder.strip()[:MAX_CLASS_NAME].encode()[:MAX_CLASS_NAME_BYTES].decode(errors="ignore").strip()


def _hidden(name: str) -> bool:
    """macOS's __MACOSX/ and dot-files (a ".." is not hidden: it is refused as a path that leaves the folder)."""
    parts = pathlib.PurePosixPath(name).parts
    return any((p.startswith(".") and p != "..") or p == "__MACOSX" for p in parts)


def import_zip(data: bytes, root: str | pathlib.Path, max_zip_bytes: int = MAX_ZIP_BYTES,
               max_entries: int = MAX_ENTRIES, max_uncompressed: int = MAX_UNCOMPRESSED,
               max_ratio: int = MAX_RATIO, max_pixels: int = MAX_UPLOAD_PIXELS,
               max_cpu_s: float = MAX_UPLOAD_CPU_S, owner: str | None = None, budget: UploadBudget | None = None,
               reserve_bytes: int = 0) -> tuple[pathlib.Path, dict[str, Any]]:
    """Check a zip of class folders, then extract its readable images into root/<hash>/<class>/.

    Args:
        data: the zip's bytes. root: the folder that keeps uploaded datasets (e.g. the run store's uploads/).
        max_*: the caps (see the module constants); everything is checked before the first file is written.
        owner, budget: who uploads it, and the disk budget a new upload must fit in (None: not checked, e.g. a
            worker extracting again an upload the app accepted). reserve_bytes: what the caller keeps beside it.
    Returns:
        (the dataset folder, preview {"classes": {name: images}, "images", "skipped", "path"}).
    Raises:
        UploadRefused: one sentence, for a file that is not a zip, too large, a zip bomb, entries that share bytes
        or names, unsafe paths, too many pixels, too slow to read, over the disk budget, or fewer than two classes
        with readable images.
    """
    clock = _Clock(max_cpu_s)
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise UploadRefused(_("The file is empty; upload a zip of class folders."))
    if len(data) > max_zip_bytes:
        raise UploadRefused(_("The zip is {size} MB; zips up to {most} MB are accepted.").format(
            size=f"{len(data) / 2**20:.0f}", most=f"{max_zip_bytes / 2**20:.0f}"))
    caps = {"entries": max_entries, "uncompressed": max_uncompressed, "ratio": max_ratio, "classes": MAX_CLASSES}
    data = bytes(data)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise UploadRefused(_("This file is not a zip archive; zip a folder with one sub-folder per class.")) from None
    root = pathlib.Path(root)
    target = root / ("upload-" + hashlib.sha256(data).hexdigest()[:16])
    with zf:
        plan, skipped = _plan(zf, data, caps)
        if not target.is_dir():
            plan, unreadable = _headers(zf, plan, max_pixels, clock)
            if budget is not None:
                need = sum(i.file_size for i, _cls in plan) + len(plan) * 3 * FOLDER_INPUT_SIZE**2 + 2**12
                check_room(root, owner, need + reserve_bytes, budget)
            skipped += unreadable + _extract(zf, plan, target, clock, owner)
    preview = folder_preview(target)
    preview["skipped"] = max(preview.get("skipped", 0), skipped)
    return target, preview


def _headers(zf: zipfile.ZipFile, plan: list, max_pixels: int, clock: _Clock) -> tuple[list, int]:
    """The planned entries whose image header reads, and the count of the others; refuses a zip whose images
    hold more than max_pixels in all. Nothing is decoded."""
    kept, skipped, pixels = [], 0, 0
    for info, cls in plan:
        clock.check()
        try:
            if info.file_size > MAX_BYTES:
                raise ImageError("too large")  # load_image would refuse it too
            head = _bounded_read(zf, info, HEADER_BYTES)
            try:
                width, height = image_size(head)
            except ImageError:
                if len(head) >= info.file_size:
                    raise
                width, height = image_size(_bounded_read(zf, info))  # a header past the first bytes (JPEG)
        except ImageError:
            skipped += 1
            continue
        pixels += width * height
        if pixels > max_pixels:
            raise UploadRefused(_("The zip's images hold more than {most} megapixels in all; upload fewer or "
                                  "smaller images.").format(most=decimal(max_pixels / 1e6, 0)))
        kept.append((info, cls))
    return kept, skipped


def _extract(zf: zipfile.ZipFile, plan: list, target: pathlib.Path, clock: _Clock, owner: str | None) -> int:
    """Decode each entry once; write those that decode, and their 32x32 arrays, into a staging folder, then move it
    into place; returns skips."""
    staging = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    skipped, kept, decoded = 0, set(), {}
    try:
        for n, (info, cls) in enumerate(plan):
            clock.check()
            raw = _bounded_read(zf, info)
            try:
                array = folder_image(raw)  # the image door: byte and pixel caps, image decoders only
            except ImageError:
                skipped += 1
                continue
            folder = staging / cls
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{n:05d}{pathlib.PurePosixPath(info.filename).suffix.lower()}"
            (folder / name).write_bytes(raw)
            decoded[f"{cls}/{name}"] = array
            kept.add(cls)
        if len(kept) < 2:
            raise UploadRefused(_("Fewer than two class folders hold a readable image (PNG, JPEG, WebP, BMP or GIF)."))
        keep_decoded(staging, decoded)  # nothing decoded again: every array is given
        (staging / UPLOAD_MARKER).write_text(str(skipped))
        if owner is not None:
            (staging / OWNER_MARKER).write_text(owner)
        (staging / BYTES_MARKER).write_text(str(_disk_bytes(staging)))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return skipped


def _bounded_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int | None = None) -> bytes:
    """An entry's bytes (its first `limit` bytes, when given), never more than it declared (a lying header is
    refused) nor than an image may be."""
    if info.file_size > MAX_BYTES:
        return b""  # load_image refuses it as empty; counted as skipped
    want = info.file_size + 1 if limit is None or limit > info.file_size else limit
    try:
        with zf.open(info) as f:
            raw = f.read(want)  # zipfile stops at the declared size and checks the CRC there
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
        raw = None
    if raw is None or len(raw) > info.file_size:
        raise UploadRefused(_("The zip is damaged or its entries do not match their declared sizes, so it was "
                              "refused."))
    return raw


# --------------------------------------------------------------------- the uploads' disk budget
def _disk_bytes(folder: pathlib.Path) -> int:
    """Bytes of the files under a folder (links not followed)."""
    total = 0
    for here, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(here, name)).st_size
            except OSError:
                continue
    return total


def _marker(path: pathlib.Path) -> str | None:
    """A marker file's text (its first 200 bytes), or None when there is none."""
    try:
        with open(path, "rb") as f:
            return f.read(200).decode("utf-8", errors="replace")
    except OSError:
        return None


def uploads_usage(root: str | pathlib.Path) -> dict[str | None, int]:
    """{owner: bytes} of the uploaded datasets under root (folders and kept zips; None: no owner recorded).

    A folder's size is its BYTES_MARKER (written when it was made); an older folder without one is measured."""
    root = pathlib.Path(root)
    usage: dict[str | None, int] = {}
    try:
        entries = list(os.scandir(root))
    except OSError:
        return {}
    for entry in entries:
        if not entry.name.startswith("upload-") or entry.is_symlink():
            continue
        folder = root / entry.name.removesuffix(".zip")
        if entry.is_dir(follow_symlinks=False):
            counted = _marker(folder / BYTES_MARKER)
            size = int(counted) if counted and counted.isdigit() else _disk_bytes(folder)
        else:
            size = entry.stat(follow_symlinks=False).st_size
        owner = _marker(folder / OWNER_MARKER)
        usage[owner] = usage.get(owner, 0) + size
    return usage


def check_room(root: str | pathlib.Path, owner: str | None, need: int, budget: UploadBudget) -> None:
    """Refuse (one sentence) a new upload of `need` bytes that would take the uploads past either budget.

    Nothing is deleted to make room: an uploaded dataset may be what someone's runs were trained on."""
    usage = uploads_usage(root)
    used = sum(usage.values())
    if budget.total_bytes is not None and used + need > budget.total_bytes:
        raise UploadRefused(_("The server's space for uploaded datasets is full ({used} of {total} used), so this "
                              "upload was refused; ask your teacher to remove old uploads.").format(
            used=_mb(used), total=_mb(budget.total_bytes)))
    mine = usage.get(owner, 0) if owner is not None else 0
    if owner is not None and budget.owner_bytes is not None and mine + need > budget.owner_bytes:
        raise UploadRefused(_("This upload would take your uploaded datasets past {budget} ({used} used), so it was "
                              "refused; ask your teacher to remove older ones.").format(
            budget=_mb(budget.owner_bytes), used=_mb(mine)))


def _mb(n: int) -> str:
    return f"{decimal(n / 2**10, 0)} KB" if n < 2**20 else f"{decimal(n / 2**20, 0)} MB"


def folder_preview(path: str | pathlib.Path, max_files: int = 100_000) -> dict[str, Any]:
    """Classes and image counts of a folder dataset (one sub-folder per class), without decoding anything.

    Returns:
        {"classes": {name: images}, "images", "skipped" (files that failed at upload, if known), "path"}.
    Raises:
        UploadRefused: one sentence, when the folder is missing, has fewer than two classes or too many files.
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        raise UploadRefused(_("There is no folder {path} on the server.").format(path=path))
    classes: dict = {}
    total = 0
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        n_images = 0
        for f in sub.iterdir():
            n_images += f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            total += 1
            if total > max_files:
                raise UploadRefused(_("The folder {path} holds more than {most} files; pick a smaller one.").format(
                    path=path, most=count(max_files)))
        classes[sub.name] = n_images
    if len([c for c in classes.values() if c]) < 2:
        raise UploadRefused(_("The folder {path} needs at least two sub-folders of images, one per class.").format(
            path=path))
    marker = path / ".skipped"
    skipped: int | None = int(marker.read_text()) if marker.is_file() else 0
    return {"classes": classes, "images": sum(classes.values()), "skipped": skipped, "path": str(path)}
