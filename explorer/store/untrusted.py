"""Reading files that someone else wrote (an old run store's folders): bounded before anything is decoded.

Every file is opened without following a link (O_NOFOLLOW) and checked to be a regular file of at most a given
size, from the open descriptor, before a byte is read; JSON is refused past MAX_JSON_DEPTH levels by a linear scan
before the decoder recurses; text lines are read with a bounded length. Each refusal is `Skipped`, one sentence.
Size budget: ~120 lines.
"""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_RECORD_BYTES = 4 * 2**20  # experiment.json, run.json, progress.json, landscape.json: the app writes a few KB
MAX_JSON_DEPTH = 32  # nesting of any JSON the import reads; the app's deepest file, experiment.json, nests 6
MAX_LINE_BYTES = 2**20  # one metrics.jsonl line, read at most this far; ResNet-1202's epoch record is < 100 KB
_NOFOLLOW = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class Skipped(ValueError):
    """A folder, a run or a file that is not imported: one sentence that says which and why."""


def open_regular(path: Path, most: int) -> tuple[int, int]:
    """(fd, size) of a regular file, opened without following a link; Skipped (one sentence) otherwise."""
    try:
        fd = os.open(path, _NOFOLLOW)
    except OSError:
        raise Skipped(f"{path.name} is a link or cannot be opened; links are never followed.") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > most:
        os.close(fd)
        what = "not a regular file" if not stat.S_ISREG(st.st_mode) else f"larger than {most // 2**20} MiB"
        raise Skipped(f"{path.name} is {what}.")
    return fd, st.st_size


def read_json_object(path: Path) -> dict:
    """The JSON object in a regular file (no link), at most MAX_RECORD_BYTES and MAX_JSON_DEPTH deep."""
    fd, _ = open_regular(path, MAX_RECORD_BYTES)
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_RECORD_BYTES + 1)
    obj = parse_json(data, path.name)
    if not isinstance(obj, dict):
        raise Skipped(f"{path.name} does not hold a JSON object.")
    return obj


def parse_json(data: bytes, what: str) -> Any:
    """JSON text, its nesting within MAX_JSON_DEPTH (refused before the decoder recurses on it)."""
    if _depth(data) > MAX_JSON_DEPTH:
        raise Skipped(f"{what} nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # ValueError: bad JSON, bad UTF-8, or an integer of over 4,300 digits
        raise Skipped(f"{what} is not valid JSON.") from None


def _depth(data: bytes) -> int:
    """The deepest nesting of brackets in JSON text, strings skipped (a linear scan, no recursion)."""
    # Escapes go first, left to right as JSON reads them (an escaped backslash, then an escaped quote), so the
    # quotes left split the text exactly: even parts are outside strings, odd parts inside.
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    deepest = depth = 0
    for part in plain.split(b'"')[::2]:
        for char in part.translate(None, delete=_NOT_BRACKETS):
            depth += 1 if char in b"[{" else -1
            deepest = max(deepest, depth)
    return deepest


_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def bounded_lines(path: Path, most: int) -> Iterator[bytes]:
    """A text file's lines (a regular file, no link), each read with a bounded length: a line longer than
    MAX_LINE_BYTES is Skipped, never held whole; reading stops after `most` bytes."""
    fd, _ = open_regular(path, 2**62)
    read = 0
    with os.fdopen(fd, "rb") as f:
        while read < most:
            line = f.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_LINE_BYTES:
                raise Skipped(f"{path.name} has a line longer than {MAX_LINE_BYTES // 2**20} MiB.")
            read += len(line)
            yield line
