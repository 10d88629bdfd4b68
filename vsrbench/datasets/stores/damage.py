"""Damage diagnosis: whether a store that claims to be complete can be read safely. Cheap: sizes, the
marker and LMDB's meta pages, never a mapped read of the data (a truncated ``data.mdb`` would
otherwise kill the reader with SIGBUS)."""

from __future__ import annotations

import os
from pathlib import Path

from vsrbench.datasets.stores.base import MARKER, damaged, read_marker_file
from vsrbench.datasets.stores.registry import backend_at, backend_named

__all__ = ["store_damage", "check_store", "claims_complete"]


def claims_complete(path: Path) -> bool:
    """The store carries its completion marker (or is a file that may: a file keeps it inside)."""
    return (path / MARKER).is_file() if path.is_dir() else path.is_file()


def store_damage(path: str | os.PathLike) -> str | None:
    """Why the store at ``path`` (which claims to be complete) cannot be read safely, or None."""
    path = Path(path)
    if path.is_dir():
        if not (path / MARKER).is_file():
            return None
        meta, why = read_marker_file(path)
        return why or backend_at(path, meta).reader.damage(path, meta)
    if path.is_file():
        return backend_at(path).reader.damage(path, None)
    return None


def check_store(path: str | os.PathLike, meta: dict | None = None) -> None:
    """Raise :class:`~vsrbench.datasets.stores.base.StoreDamagedError` (naming the store and the command
    that rewrites it) when the store at ``path`` is damaged."""
    path = Path(path)
    why = store_damage(path)
    if why is None:
        return
    if meta is None and path.is_dir():
        meta, _ = read_marker_file(path)
    meta = meta if isinstance(meta, dict) else None
    raise damaged(path, why, meta, backend_named(path, meta).layout)
