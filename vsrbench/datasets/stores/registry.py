"""The backends by name: each one's layout facts, reader and writer. Adding a backend is one module
(its :class:`~vsrbench.datasets.stores.base.Layout`, a ``Writer`` and a ``Store``) and one line here;
nothing outside this module compares a backend's name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsrbench.datasets.catalog import variant_dirname
from vsrbench.datasets.stores.base import Layout, check_clip_names as _check_names
from vsrbench.datasets.stores.folder_backend import FolderStore, FolderWriter
from vsrbench.datasets.stores.hdf5_backend import Hdf5Store, Hdf5Writer
from vsrbench.datasets.stores.lmdb_backend import LmdbStore, LmdbWriter
from vsrbench.datasets.stores.reader import Store
from vsrbench.datasets.stores.writer import Writer
from vsrbench.errors import VsrbenchError
from vsrbench.home import vsrbench_home

__all__ = ["Backend", "REGISTRY", "BACKENDS", "get_backend", "tree_backend", "store_path", "backend_at",
           "backend_named", "make_writer", "check_clip_names", "has_signature"]


@dataclass(frozen=True)
class Backend:
    layout: Layout
    reader: type[Store]
    writer: type[Writer]

    @property
    def name(self) -> str:
        return self.layout.name


#: in the order :func:`~vsrbench.datasets.stores.find_store` tries them
REGISTRY: dict[str, Backend] = {b.name: b for b in (
    Backend(LmdbStore.layout, LmdbStore, LmdbWriter),
    Backend(Hdf5Store.layout, Hdf5Store, Hdf5Writer),
    Backend(FolderStore.layout, FolderStore, FolderWriter),
)}
BACKENDS = tuple(REGISTRY)


def get_backend(name: str) -> Backend:
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise VsrbenchError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}") from None


def tree_backend() -> Backend:
    """The backend of the canonical tree every ``prepare`` writes (``<dataset>/GT/<clip>/...``): the one
    whose stores hold every set."""
    return next(b for b in REGISTRY.values() if not b.layout.per_set)


def store_path(dataset: str, variant: str = "GT", set: str = "all", backend: str = "lmdb", home=None) -> Path:
    """Where the store of (dataset, set, variant) lives for ``backend`` (it may not exist)."""
    home = Path(home) if home is not None else vsrbench_home()
    vdir = variant_dirname(variant)
    return get_backend(backend).layout.path(home, dataset, vdir, set)


def has_signature(path: Path) -> bool:
    """A backend's signature file (``data.mdb``) is in the folder ``path``."""
    return any(b.layout.signature and (path / b.layout.signature).exists() for b in REGISTRY.values())


def backend_at(path: Path, meta: dict | None = None) -> Backend:
    """The backend of the store on disk at ``path`` (a file, or a folder with its marker ``meta``): the
    one its marker names, else the one whose signature file it holds, else the plain one of its shape."""
    shaped = [b for b in REGISTRY.values() if b.layout.is_file == path.is_file()]
    named = (meta or {}).get("backend")
    for b in shaped:
        if named == b.name:
            return b
    for b in shaped:
        if b.layout.signature and (path / b.layout.signature).exists():
            return b
    return next(b for b in shaped if not b.layout.signature)


def backend_named(path: Path, meta: dict | None = None) -> Backend:
    """The backend a store's marker names, else the one its path's suffix names (a damaged store:
    what wrote it, for the command that writes it again)."""
    named = (meta or {}).get("backend")
    if named in REGISTRY:
        return REGISTRY[named]
    return next((b for b in REGISTRY.values() if b.layout.suffix and path.suffix == b.layout.suffix), tree_backend())


def make_writer(backend: str, final: Path, meta: dict, commit_every: int = 1000, **kw) -> Writer:
    """A crash-safe writer of ``backend`` for the store at ``final`` (``map_size``: LMDB's initial map)."""
    return get_backend(backend).writer(final, {**meta, "backend": backend}, commit_every, **kw)


def check_clip_names(clips, backend: str, where: str = "") -> None:
    """Refuse, before anything is written, clip names a store of ``backend`` cannot hold (see
    :func:`~vsrbench.datasets.stores.base.check_clip_names`)."""
    layout = get_backend(backend).layout
    others = " or ".join(b.layout.flag for b in REGISTRY.values() if not b.layout.max_key_bytes)
    _check_names(clips, layout, where, others)
