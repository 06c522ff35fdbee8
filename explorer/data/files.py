"""The datasets' file formats, read safely: gzip IDX (MNIST, Fashion-MNIST) and CIFAR-10's pickled batches.

CIFAR-10's batch files are pickles; they are read with a restricted unpickler that can build only
what the format needs (dicts, lists, bytes, numeric numpy arrays), never with plain pickle.load. An uploaded
folder's decoded images are kept beside it as an uncompressed .npz (`write_decoded`), read back without pickle.
torch is imported where a tensor is made, so the module loads without it (docs/architecture.md).
Size budget: ~200 lines.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib
import json
import math
import os
import pathlib
import pickle
import secrets
import struct
import zipfile
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    import torch


class DatasetUnavailable(RuntimeError):
    """A dataset that is not here and cannot be fetched; the message says where to put the files."""


class DatasetCorrupt(DatasetUnavailable):
    """A dataset file that is malformed or unsafe to read; the message names the file."""


def read_idx(path: pathlib.Path, dims: int) -> np.ndarray:
    """Read a gzip-compressed IDX file of unsigned bytes (LeCun's MNIST format).

    Args:
        path: e.g. train-images-idx3-ubyte.gz.
        dims: 3 for images (N, rows, cols), 1 for labels (N,).
    Returns:
        A uint8 array of that shape.
    Raises:
        DatasetCorrupt: wrong magic number, or a size that does not match the header.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetCorrupt(f"{path} is not a readable gzip file ({exc}); reinstall or re-download it.") from None
    header = 4 + 4 * dims
    if len(raw) < header or struct.unpack(">I", raw[:4])[0] != 0x0800 + dims:
        raise DatasetCorrupt(f"{path} is not an IDX file of {dims}-dimensional unsigned bytes (wrong magic number).")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    if len(raw) != header + math.prod(shape):
        raise DatasetCorrupt(f"{path} holds {len(raw) - header} bytes of data but its header says {shape}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _numpy_reconstruct() -> Callable[..., np.ndarray]:
    """numpy's array-unpickling helper (the real files name it numpy.core.multiarray._reconstruct)."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):  # numpy 2, then numpy 1.x
        try:
            found: Callable[..., np.ndarray] = importlib.import_module(module)._reconstruct
            return found
        except (ImportError, AttributeError):
            continue
    raise ImportError("numpy's _reconstruct was not found; CIFAR-10 batches cannot be read.")


_RECONSTRUCT = _numpy_reconstruct()


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that builds only what CIFAR-10's batch files hold: dicts, lists, bytes, numpy arrays.

    Any other global (os.system, builtins.eval, ...) is refused before it is looked up, so it never runs.
    """

    def find_class(self, module: str, name: str) -> Callable[..., object]:
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _RECONSTRUCT
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return _numeric_dtype
        if (module, name) == ("_codecs", "encode"):  # how protocol 2 stores bytes written by Python 3
            return _latin1_encode
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: a CIFAR-10 batch holds only arrays and lists")


def _numeric_dtype(spec: DTypeLike, align: bool = False, copy: bool = True) -> np.dtype:
    dtype = np.dtype(spec, align, copy)
    if dtype.hasobject:
        raise pickle.UnpicklingError("refused an array of Python objects")
    return dtype


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refused codec {encoding!r}")
    return text.encode("latin1")


def read_cifar_batch(path: pathlib.Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one CIFAR-10 python batch file with a restricted unpickler (never plain pickle.load).

    Args:
        path: e.g. cifar-10-batches-py/data_batch_1.
    Returns:
        (x, y): (N, 3, 32, 32) uint8 and (N,) int64 tensors.
    Raises:
        DatasetCorrupt: the file is malformed, or asks to build anything but arrays and lists.
    """
    import torch
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DatasetCorrupt(f"{path} is not a valid CIFAR-10 batch and was not loaded ({exc}).") from None
    batch = batch if isinstance(batch, dict) else {}
    data, labels = batch.get(b"data"), batch.get(b"labels", [])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetCorrupt(f"{path} is not a valid CIFAR-10 batch: it needs b'data' as an (N, 3072) uint8 array.")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(data),) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise DatasetCorrupt(f"{path} is not a valid CIFAR-10 batch: it needs one label from 0 to 9 per image.")
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())  # rows hold 1024 R, then G, then B values
    return x, torch.from_numpy(labels)


# --------------------------------------------------------------------- decoded folders
_DECODED_MEMBERS = ["meta.npy", "x.npy", "y.npy"]


def files_fingerprint(files: Iterable[pathlib.Path], root: pathlib.Path) -> str:
    """A hash of each file's name (relative to root), size and modification time: a cache is stale when it differs."""
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def write_decoded(path: pathlib.Path, x: np.ndarray, y: np.ndarray, meta: dict[str, Any]) -> None:
    """Keep decoded images (x (N, C, H, W) uint8, y (N,) int64) and a small JSON record as one uncompressed
    .npz, written whole or not at all (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, x=np.ascontiguousarray(x, dtype=np.uint8), y=np.asarray(y, dtype=np.int64),
                     meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_decoded(path: pathlib.Path, max_bytes: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """What write_decoded kept, or None when it is absent, a link, over max_bytes, damaged or not in that shape
    (the caller then decodes the images again). Read without pickle, from stored (never deflated) members."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > max_bytes:
            return None
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if sorted(i.filename for i in infos) != _DECODED_MEMBERS or \
                    any(i.compress_type != zipfile.ZIP_STORED or _npy_bytes(zf, i) > i.file_size for i in infos):
                return None  # an array may not declare more than its member holds (numpy allocates it first)
        with np.load(path, allow_pickle=False) as npz:
            x, y, raw = npz["x"], npz["y"], npz["meta"]
        meta = json.loads(raw.tobytes()) if raw.dtype == np.uint8 and raw.ndim == 1 and raw.size < 2**20 else None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, RecursionError,
            MemoryError):
        return None
    if not isinstance(meta, dict) or x.dtype != np.uint8 or x.ndim != 4 or y.dtype != np.int64 or y.shape != (len(x),):
        return None
    return x, y, meta


def _npy_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The bytes an .npy member's header says its array holds (read from the header alone)."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        raise ValueError("an array of Python objects")
    return math.prod(shape) * dtype.itemsize
