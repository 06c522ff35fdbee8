"""Bring your own data: a zip of class folders (or a folder on the server) turned into a `folder` dataset.

A zip is checked as a whole before anything is extracted: its size, its number of entries, the sum of the
sizes it declares, each entry's compression ratio (a zip bomb expands far more than any image) and every
path. Then each image is read with a bounded read and goes through the image door (explorer.data.images
.load_image, with its byte and pixel caps); only files that decode are written, under names we choose, into
a folder named by the zip's hash (the same upload twice is one dataset). Unreadable files are skipped and
counted. Size budget: ~200 lines.
"""
from __future__ import annotations

import hashlib
import io
import os
import pathlib
import secrets
import shutil
import zipfile
import zlib
from typing import Any

from .builtin import IMAGE_SUFFIXES
from .images import MAX_BYTES, ImageError, load_image

MAX_ZIP_BYTES = 200 * 2**20  # Streamlit's default upload limit
MAX_ENTRIES = 10_000  # files and folders listed in the zip
MAX_UNCOMPRESSED = 512 * 2**20  # the sum of the sizes the entries declare
MAX_RATIO = 100  # uncompressed / compressed size of one entry; images barely compress, zip bombs expand 1000x
MAX_CLASSES = 100  # class folders in one dataset: more than any picture set a class makes


class UploadRefused(ValueError):
    """An upload we will not take; the message is one sentence for the user."""


def _plan(zf: zipfile.ZipFile, caps: dict) -> tuple:
    """([(ZipInfo, class name)], skipped count) from the listing alone; raises UploadRefused."""
    infos = zf.infolist()
    if len(infos) > caps["entries"]:
        raise UploadRefused(f"The zip lists {len(infos):,} entries; at most {caps['entries']:,} are accepted.")
    if sum(i.file_size for i in infos) > caps["uncompressed"]:
        raise UploadRefused(f"The zip would expand to more than {caps['uncompressed'] / 2**20:.0f} MB; "
                            f"upload fewer or smaller images.")
    for i in infos:
        if i.file_size > caps["ratio"] * max(i.compress_size, 1) and i.file_size > 2**20:
            raise UploadRefused("This zip looks like a zip bomb (a file expands far more than an image could), "
                                "so it was refused.")
    files = [i for i in infos if not i.is_dir() and not _hidden(i.filename)]
    parts = [pathlib.PurePosixPath(i.filename).parts for i in files]
    if any(p[0] in ("/", "..") or ".." in p or "\\" in i.filename for p, i in zip(parts, files, strict=True)):
        raise UploadRefused("The zip holds a path that leaves its folder, so it was refused.")
    images = [p for p in parts if pathlib.PurePosixPath(p[-1]).suffix.lower() in IMAGE_SUFFIXES]
    if images and all(len(p) >= 3 for p in images) and len({p[0] for p in images}) == 1:
        parts = [p[1:] for p in parts]  # one folder wrapping the class folders
    plan, skipped = [], 0
    for info, p in zip(files, parts, strict=True):
        if len(p) < 2 or pathlib.PurePosixPath(p[-1]).suffix.lower() not in IMAGE_SUFFIXES:
            skipped += 1  # a file beside the class folders, or not an image
            continue
        cls = p[0].strip()[:64]
        if not cls:
            skipped += 1
            continue
        plan.append((info, cls))
    classes = {c for _, c in plan}
    if len(classes) < 2:
        raise UploadRefused("The zip needs at least two folders of images, one per class (for example cats/ and "
                            "dogs/).")
    if len(classes) > caps["classes"]:
        raise UploadRefused(f"The zip has {len(classes)} class folders; at most {caps['classes']} are accepted.")
    return plan, skipped


def _hidden(name: str) -> bool:
    """macOS's __MACOSX/ and dot-files (a ".." is not hidden: it is refused as a path that leaves the folder)."""
    parts = pathlib.PurePosixPath(name).parts
    return any((p.startswith(".") and p != "..") or p == "__MACOSX" for p in parts)


def import_zip(data: bytes, root: str | pathlib.Path, max_zip_bytes: int = MAX_ZIP_BYTES,
               max_entries: int = MAX_ENTRIES, max_uncompressed: int = MAX_UNCOMPRESSED,
               max_ratio: int = MAX_RATIO) -> tuple[pathlib.Path, dict[str, Any]]:
    """Check a zip of class folders, then extract its readable images into root/<hash>/<class>/.

    Args:
        data: the zip's bytes. root: the folder that keeps uploaded datasets (e.g. the run store's uploads/).
        max_*: the caps (see the module constants); everything is checked before the first file is written.
    Returns:
        (the dataset folder, preview {"classes": {name: images}, "images", "skipped", "path"}).
    Raises:
        UploadRefused: one sentence, for a file that is not a zip, too large, a zip bomb, unsafe paths, or
        fewer than two classes with readable images.
    """
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise UploadRefused("The file is empty; upload a zip of class folders.")
    if len(data) > max_zip_bytes:
        raise UploadRefused(f"The zip is {len(data) / 2**20:.0f} MB; zips up to {max_zip_bytes / 2**20:.0f} MB are "
                            f"accepted.")
    caps = {"entries": max_entries, "uncompressed": max_uncompressed, "ratio": max_ratio, "classes": MAX_CLASSES}
    try:
        zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    except (zipfile.BadZipFile, ValueError):
        raise UploadRefused("This file is not a zip archive; zip a folder with one sub-folder per class.") from None
    target = pathlib.Path(root) / ("upload-" + hashlib.sha256(bytes(data)).hexdigest()[:16])
    with zf:
        plan, skipped = _plan(zf, caps)
        if not target.is_dir():
            skipped += _extract(zf, plan, target)
    preview = folder_preview(target)
    preview["skipped"] = max(preview.get("skipped", 0), skipped)
    return target, preview


def _extract(zf: zipfile.ZipFile, plan: list, target: pathlib.Path) -> int:
    """Write each entry that decodes as an image into a staging folder, then move it into place; returns skips."""
    staging = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    skipped, kept = 0, set()
    try:
        for n, (info, cls) in enumerate(plan):
            raw = _bounded_read(zf, info)
            try:
                load_image(raw)  # the image door: byte and pixel caps, image decoders only
            except ImageError:
                skipped += 1
                continue
            folder = staging / cls
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{n:05d}{pathlib.PurePosixPath(info.filename).suffix.lower()}").write_bytes(raw)
            kept.add(cls)
        if len(kept) < 2:
            raise UploadRefused("Fewer than two class folders hold a readable image (PNG, JPEG, WebP, BMP or GIF).")
        (staging / ".skipped").write_text(str(skipped))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return skipped


def _bounded_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """An entry's bytes, never more than it declared (a lying header is refused) nor than an image may be."""
    if info.file_size > MAX_BYTES:
        return b""  # load_image refuses it as empty; counted as skipped
    try:
        with zf.open(info) as f:
            raw = f.read(info.file_size + 1)  # zipfile stops at the declared size and checks the CRC there
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
        raw = None
    if raw is None or len(raw) > info.file_size:
        raise UploadRefused("The zip is damaged or its entries do not match their declared sizes, so it was refused.")
    return raw


def folder_preview(path: str | pathlib.Path, max_files: int = 100_000) -> dict[str, Any]:
    """Classes and image counts of a folder dataset (one sub-folder per class), without decoding anything.

    Returns:
        {"classes": {name: images}, "images", "skipped" (files that failed at upload, if known), "path"}.
    Raises:
        UploadRefused: one sentence, when the folder is missing, has fewer than two classes or too many files.
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        raise UploadRefused(f"There is no folder {path} on the server.")
    classes: dict = {}
    total = 0
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        count = 0
        for f in sub.iterdir():
            count += f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            total += 1
            if total > max_files:
                raise UploadRefused(f"The folder {path} holds more than {max_files:,} files; pick a smaller one.")
        classes[sub.name] = count
    if len([c for c in classes.values() if c]) < 2:
        raise UploadRefused(f"The folder {path} needs at least two sub-folders of images, one per class.")
    marker = path / ".skipped"
    skipped: int | None = int(marker.read_text()) if marker.is_file() else 0
    return {"classes": classes, "images": sum(classes.values()), "skipped": skipped, "path": str(path)}
