"""Finding and opening stores: :func:`find_store` (the store of a dataset, set and variant),
:func:`open_store` (any store on disk, its backend read from what is there) and :func:`is_complete`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vsrbench.datasets.stores.base import MARKER
from vsrbench.datasets.stores.damage import check_store, claims_complete, store_damage
from vsrbench.datasets.stores.folder_backend import PlainFolderStore
from vsrbench.datasets.stores.reader import Store
from vsrbench.datasets.stores.registry import BACKENDS, backend_at, has_signature, store_path
from vsrbench.errors import VsrbenchError
from vsrbench.home import vsrbench_home

__all__ = ["is_complete", "find_store", "open_store", "store_marker"]


def is_complete(path: str | os.PathLike) -> bool:
    """The store at ``path`` is finished and sound (a damaged one counts as not complete, so that
    ``prepare`` writes it again)."""
    path = Path(path)
    if not claims_complete(path):
        return False
    if path.is_file() and _file_marker(path) is None:
        return False
    return store_damage(path) is None


def _file_marker(path: Path):
    """The raw marker of the single-file store ``path`` (None: none, or not readable)."""
    try:
        return backend_at(path).reader.load_marker(path)
    except OSError:
        return None


def store_marker(path: str | os.PathLike) -> str | bytes | None:
    """The raw completion marker of the store at ``path`` (the marker file, or the HDF5 root attribute);
    None when it has none."""
    path = Path(path)
    return backend_at(path).reader.load_marker(path)


def find_store(dataset: str, variant: str = "GT", set: str = "all", backend: str | None = None, home=None) -> Path:
    """Path of a complete store for (dataset, set, variant); ``backend`` None tries lmdb, hdf5, folders.

    Raises :class:`VsrbenchError` saying which ``vsrbench prepare`` command makes it, and
    :class:`StoreDamagedError` for a store that is there but damaged (never silently skipped).
    """
    for b in [backend] if backend else list(BACKENDS):
        p = store_path(dataset, variant, set, b, home)
        if claims_complete(p):
            check_store(p)
        if is_complete(p):
            return p
    flag = f" --{backend}" if backend else ""
    var = "" if variant == "GT" else f" --variants {variant}"
    raise VsrbenchError(
        f"no prepared store for {dataset} ({set}, {variant}) under {Path(home) if home else vsrbench_home()}; "
        f"run `vsrbench prepare {dataset}{flag}{var}`"
    )


def open_store(path: str | os.PathLike, *, require_marker: bool = True) -> Store:
    """Open an LMDB folder, an HDF5 file or a folder tree written by ``prepare``.

    Stores without the completion marker (an interrupted prepare) are refused. With
    ``require_marker=False`` a plain folder of clip folders (``ROOT/<clip>/<frames>``) is accepted too.
    """
    path = Path(path).expanduser()
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        if partial.exists():
            raise VsrbenchError(
                f"{path}: not complete ({partial.name} is an interrupted prepare); rerun the same "
                "`vsrbench prepare` command to finish it"
            )
        raise VsrbenchError(f"{path}: no such store; run `vsrbench prepare DATASET` (see `vsrbench datasets`)")
    if path.is_file():
        return _open_file_store(path)
    if (path / MARKER).is_file():
        check_store(path)
        meta = json.loads((path / MARKER).read_text(encoding="utf-8"))
        return backend_at(path, meta).reader(path, meta)
    if not require_marker and not has_signature(path):
        return PlainFolderStore(path)
    raise VsrbenchError(
        f"{path}: not a complete vsrbench store (no {MARKER}): an interrupted or foreign store; rerun the "
        "`vsrbench prepare` command that makes it" + ("" if has_signature(path) else
        " (for a plain folder of clips use open_store(path, require_marker=False))")
    )


def _open_file_store(path: Path) -> Store:
    """A single-file store (HDF5): its marker is inside."""
    backend = backend_at(path)
    try:
        raw = backend.reader.load_marker(path)
    except OSError as e:
        check_store(path)
        raise VsrbenchError(f"{path}: not a readable HDF5 file ({e}); delete it and run prepare again") from None
    if raw is None:
        raise VsrbenchError(f"{path}: HDF5 file without the vsrbench completion marker; run prepare again")
    check_store(path)
    return backend.reader(path, json.loads(raw))
