"""What ``prepare`` and ``add_variant`` share to write stores: the per-dataset lock, the metadata a
store records about itself, and running the per-clip worker in clip order (in this process or in
joblib workers)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import NamedTuple

from vsrbench.datasets.catalog import DatasetEntry
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError

__all__ = ["StoreKey", "dataset_lock", "store_meta", "in_clip_order"]


class StoreKey(NamedTuple):
    """A store a run makes: backend, set (``*``: the folders tree, all sets) and variant."""

    backend: str
    set: str
    variant: str


def store_meta(entry: DatasetEntry, set: str, variant: str, backend: str, lmdb_keys: str) -> dict:
    """What a store records about itself (also the identity its resume journal checks)."""
    from vsrbench.codeversion import degradation_code_version  # an LR store names the code that made it

    return {
        "dataset": entry.name, "set": "all" if backend == "folders" else set, "variant": variant,
        "scale": 1 if variant == "GT" else parse_spec(variant).scale,
        "key_style": lmdb_keys if backend == "lmdb" else "files",
        "vimeo_names": entry.layout == "septuplets" and backend == "lmdb",
        **({} if variant == "GT" else {"degradation_code": degradation_code_version()}),
    }


def in_clip_order(fn, tasks: list, workers: int, scheduler: str | None = None):
    """``fn(task)`` for each task, in order: in this process, or streamed from joblib workers (at
    most 2 per worker in flight, so memory stays bounded); with ``scheduler`` (``local:N`` or a
    Dask scheduler address), from the workers of that Dask cluster (joblib's Dask backend)."""
    if scheduler:
        return _on_dask(fn, tasks, scheduler)
    if workers <= 1 or len(tasks) <= 1:
        return (fn(t) for t in tasks)
    from joblib import Parallel, delayed

    return Parallel(n_jobs=int(workers), return_as="generator", pre_dispatch="2*n_jobs", batch_size=1)(
        delayed(fn)(t) for t in tasks
    )


def _on_dask(fn, tasks: list, scheduler: str):
    """:func:`in_clip_order` on a Dask cluster: the client stays connected while the results are read."""
    from joblib import Parallel, delayed, parallel_config

    from vsrbench.cluster import connect

    with connect(scheduler), parallel_config(backend="dask"):
        yield from Parallel(n_jobs=-1, return_as="generator", pre_dispatch="2*n_jobs", batch_size=1)(
            delayed(fn)(t) for t in tasks
        )


@contextlib.contextmanager
def dataset_lock(ds_home: Path):
    """One prepare per dataset at a time (a second one would interleave writes into the same stores)."""
    import fcntl

    ds_home.mkdir(parents=True, exist_ok=True)
    with open(ds_home / ".prepare.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise VsrbenchError(
                f"{ds_home}: another `vsrbench prepare` is running on this dataset; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
