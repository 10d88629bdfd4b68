"""What ``prepare`` and ``add_variant`` share to write stores: the per-dataset lock, the metadata a
store records about itself, running the per-clip worker in clip order (in this process or in
joblib workers) and the one loop that writes its results into the stores."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from vsrbench.codeversion import degradation_code_version
from vsrbench.datasets.catalog import DatasetEntry
from vsrbench.datasets.stores import get_backend
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError

__all__ = ["StoreKey", "dataset_lock", "store_meta", "in_clip_order", "write_clips"]


class StoreKey(NamedTuple):
    """A store a run makes: backend, set (``*``: the folders tree, all sets) and variant."""

    backend: str
    set: str
    variant: str


def store_meta(entry: DatasetEntry, set: str, variant: str, backend: str, lmdb_keys: str) -> dict:
    """What a store records about itself (also the identity its resume journal checks)."""
    layout = get_backend(backend).layout
    keyed = bool(layout.max_key_bytes)
    return {
        "dataset": entry.name, "set": set if layout.per_set else "all", "variant": variant,
        "scale": 1 if variant == "GT" else parse_spec(variant).scale,
        "key_style": layout.key_style(lmdb_keys),
        "vimeo_names": entry.layout == "septuplets" and keyed,
        **({} if variant == "GT" else {"degradation_code": degradation_code_version()}),  # the code that made it
    }


def write_clips(results, targets, writers, *, total: int, count, desc: str, progress: bool) -> int:
    """The write loop of ``prepare`` and ``add_variant``: ``results`` yields ``(clip, {variant:
    EncodedVariant})`` in clip order; ``targets(clip)`` -> ``[(variant, writer)]`` that take the clip;
    ``count(clip, out)``: the source frames it had (for the progress bar and the total returned).
    Then every ``(writer, clip order)`` of ``writers`` is finalized; on a :class:`VsrbenchError`
    every writer is aborted instead (nothing half-written is kept)."""
    frames = 0
    try:
        with tqdm(total=total, unit="frame", desc=desc, disable=not progress, file=sys.stderr) as bar:
            for clip, out in results:
                for variant, w in targets(clip):
                    w.add_encoded(clip, out[variant])
                n = count(clip, out)
                bar.update(n)
                frames += n
        for w, order in writers:
            w.finalize(order)
    except VsrbenchError:
        for w, _ in writers:
            w.abort()
        raise
    return frames


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
