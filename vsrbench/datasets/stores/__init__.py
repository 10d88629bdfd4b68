"""Frame stores: crash-safe writers (LMDB, HDF5, folders) and one reader for all three.

Layout under ``$VSRBENCH_HOME`` (see :func:`store_path`)::

    <dataset>/GT/<clip>/<00000000>.png            canonical tree (folders backend), always written
    <dataset>/<VARIANT>/<clip>/<00000000>.png     LR variants with --folders (BIx4, BDx4, ...)
    <dataset>/lmdb/<set>/<VARIANT>.lmdb/          data.mdb, lock.mdb, meta_info.txt, vsrbench.json
    <dataset>/hdf5/<set>/<VARIANT>.h5             one dataset per clip, T x H x W x 3 uint8

``<set>`` is ``train`` / ``test`` for Vimeo-90K and ``all`` for the other datasets; folder trees hold
every clip of every set.

**Crash safety.** A store is built under ``<name>.partial`` with a journal of the clips already
committed; the rerun continues after the last committed clip (a clip being written when the process
died is written again: writes are idempotent). Only when every clip is in, the completion marker
(``vsrbench.json``; for HDF5 the root attribute ``vsrbench``) is written and the store renamed into
place. :func:`open_store` refuses a store without the marker.

The package, bottom up: ``base`` (marker, layout facts, the damaged-store error, clip-name rules),
``write_errors`` (a failed write in words), ``reader`` / ``writer`` (what every backend extends), one
module per backend (``lmdb_backend``, ``hdf5_backend``, ``folder_backend``: layout, writer, reader),
``registry`` (name -> layout, reader, writer), ``damage`` (is a store sound) and ``access``
(:func:`find_store`, :func:`open_store`, :func:`is_complete`). A new backend is one module and one
line in ``registry``.
"""

from __future__ import annotations

from vsrbench.datasets.stores.access import find_store, is_complete, open_store, store_marker
from vsrbench.datasets.stores.base import JOURNAL, MARKER, Layout, StoreDamagedError
from vsrbench.datasets.stores.damage import check_store, store_damage
from vsrbench.datasets.stores.folder_backend import FolderStore, FolderWriter, PlainFolderStore
from vsrbench.datasets.stores.hdf5_backend import Hdf5Store, Hdf5Writer
from vsrbench.datasets.stores.lmdb_backend import _LMDB_ENVS, LMDB_MAX_KEY_BYTES, LmdbStore, LmdbWriter, frame_key  # noqa: F401
from vsrbench.datasets.stores.reader import Store
from vsrbench.datasets.stores.registry import (BACKENDS, REGISTRY, Backend, check_clip_names, get_backend, make_writer,
                                               store_path, tree_backend)
from vsrbench.datasets.stores.writer import Writer

__all__ = [
    "MARKER",
    "JOURNAL",
    "BACKENDS",
    "REGISTRY",
    "Backend",
    "Layout",
    "get_backend",
    "tree_backend",
    "frame_key",
    "store_path",
    "find_store",
    "open_store",
    "is_complete",
    "store_marker",
    "Store",
    "LmdbStore",
    "Hdf5Store",
    "FolderStore",
    "PlainFolderStore",
    "Writer",
    "LmdbWriter",
    "Hdf5Writer",
    "FolderWriter",
    "make_writer",
    "StoreDamagedError",
    "store_damage",
    "check_store",
    "check_clip_names",
    "LMDB_MAX_KEY_BYTES",
]
