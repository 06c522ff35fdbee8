"""Datasets uploaded to the run store (a checked zip of class folders, explorer.data.uploads), on any machine.

The zip is extracted under the runs folder (`uploads/upload-<sha256 prefix>/<class>/...`) and the experiment's
DataConfig names that folder. With a remote artefact location (explorer.store.artefacts) the zip itself is kept
there too, as `uploads/upload-<...>.zip`; a worker or app replica on another machine that lacks the folder
fetches the zip (size-checked) and extracts it again through the same checks before reading the dataset.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..data.config import DataConfig
from ..data.datasets import Dataset, load_dataset
from ..data.uploads import MAX_ZIP_BYTES, UploadBudget, UploadRefused, import_zip
from ..i18n import _
from .runstore import RunStore

UPLOADS = "uploads"


def keep_upload(store: RunStore, data: bytes, owner: str | None = None) -> tuple:
    """import_zip into the store's uploads folder; with a remote artefact location, the zip is kept there too.

    A new upload must fit the uploads' disk budget (UploadBudget.from_env(): all uploads, and `owner`'s).
    Returns (the dataset folder, its preview). Raises UploadRefused with one sentence.
    """
    folder, preview = import_zip(data, store.root / UPLOADS, owner=owner, budget=UploadBudget.from_env(),
                                 reserve_bytes=len(data) if store.artefacts.remote else 0)
    if store.artefacts.remote:
        key = f"{UPLOADS}/{folder.name}.zip"
        if not store.artefacts.exists(key):
            path = store.root / key
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(bytes(data))
            os.replace(tmp, path)
            store.publish(path)
    return folder, preview


def ensure_upload(store: RunStore, cfg: DataConfig) -> None:
    """Before reading an uploaded folder dataset that this machine lacks: extract it again from the artefact
    location (nothing happens for other datasets, for folders that are here, or without a remote location)."""
    if cfg.name != "folder" or not cfg.path or not store.artefacts.remote:
        return
    path = Path(cfg.path)
    try:
        rel = path.relative_to(store.root / UPLOADS)
    except ValueError:
        return
    if path.is_dir() or len(rel.parts) != 1 or not rel.parts[0].startswith("upload-"):
        return
    zfile = store.artefact(f"{UPLOADS}/{rel.parts[0]}.zip")
    if zfile is None:
        return  # load_dataset then says in one sentence that the folder is missing
    if zfile.stat().st_size > MAX_ZIP_BYTES:
        raise UploadRefused(_("The uploaded dataset kept for this experiment is larger than an upload may be."))
    import_zip(zfile.read_bytes(), store.root / UPLOADS)


def load_store_dataset(store: RunStore, cfg: DataConfig) -> Dataset:
    """load_dataset, after ensure_upload: what workers and pages use for an experiment's data."""
    ensure_upload(store, cfg)
    return load_dataset(cfg)
