"""Datasets: catalog, download, safe extraction, preparation into LMDB / HDF5 / folders, one reader.

Public API (the evaluation harness reads only through :func:`open_store`)::

    prepare(name, backend="lmdb", variants=None, source=None, workers=1, ...) -> PrepareResult
    add_variant(name, "bd-duf:x4", set="all") -> Path   # an LR store made from the prepared GT store
    find_store(dataset, variant="GT", set="all", backend=None) -> Path   # set: "train"/"test" for vimeo90k
    open_store(path) -> Store   # .clips(), .num_frames(clip), .read(clip, i) -> uint8 RGB, .read_clip(clip)
    load_split("fast", form="cleaned") -> list[str]; check_split(ids, store.clips())
"""

from vsrbench.datasets import frames  # noqa: F401

__all__ = [
    "CATALOG", "DatasetEntry", "Source", "get_entry", "variant_dirname", "vsrbench_home",
    "download", "sha256_file", "safe_extract", "PrepareResult", "prepare", "add_variant", "resolve_variants",
    "install_splits", "MOTION_SPLITS", "SPLIT_COUNTS", "check_split", "load_split", "read_id_list",
    "BACKENDS", "Store", "find_store", "frame_key", "is_complete", "open_store", "store_path", "local_status",
]
from vsrbench.datasets.catalog import CATALOG, DatasetEntry, Source, get_entry, variant_dirname, vsrbench_home  # noqa: F401
from vsrbench.datasets.download import download, sha256_file  # noqa: F401
from vsrbench.datasets.extract import safe_extract  # noqa: F401
from vsrbench.datasets.prepare import PrepareResult, add_variant, prepare, resolve_variants  # noqa: F401
from vsrbench.datasets.splits import install_splits, MOTION_SPLITS, SPLIT_COUNTS, check_split, load_split, read_id_list  # noqa: F401
from vsrbench.datasets.stores import (  # noqa: F401
    BACKENDS,
    Store,
    find_store,
    frame_key,
    is_complete,
    open_store,
    store_path,
)
from vsrbench.datasets.status import local_status  # noqa: F401
