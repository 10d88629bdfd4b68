"""``add_variant``: an LR store made from a prepared GT store (no source, no download)."""

from __future__ import annotations

from pathlib import Path

from vsrbench.datasets.catalog import get_entry, vsrbench_home
from vsrbench.datasets.clipwork import DeriveTask, derive_clip
from vsrbench.datasets.packing import dataset_lock, in_clip_order, store_meta, write_clips
from vsrbench.datasets.sources import log
from vsrbench.datasets.stores import find_store, is_complete, make_writer, open_store, store_path
from vsrbench.degradations import parse_spec
from vsrbench.numeric import check_workers, positive_int

__all__ = ["add_variant"]


def add_variant(
    name: str,
    spec: str,
    *,
    set: str = "all",
    backend: str | None = None,
    workers: int = 1,
    home=None,
    commit_every: int = 1000,
    map_size: int = 1 << 28,
    progress: bool = True,
    quiet: bool = False,
    scheduler: str | None = None,
) -> Path:
    """Make LR variant ``spec`` of an already prepared dataset from its GT store; returns the store path.

    No source and no download: the frames come from the GT store of ``set`` (``backend`` None: the
    first of lmdb, hdf5, folders that is complete), and the new store has that backend. The store
    is the one ``prepare(name, variants=spec, backend=...)`` writes, frame for frame (same keys,
    same seeded degradation, same PNG level), so a later ``prepare`` counts it as done. Crash-safe
    and resumable like ``prepare``; a complete store is returned at once.
    """
    workers, commit_every = check_workers(workers, "workers"), positive_int(commit_every, "commit_every")
    entry = get_entry(name)
    spec = parse_spec(spec).spec
    home = Path(home) if home is not None else vsrbench_home()
    gt = open_store(find_store(entry.name, "GT", set, backend, home))
    b = gt.backend
    final = store_path(entry.name, spec, set, b, home)
    if is_complete(final):
        return final
    with dataset_lock(home / entry.name):
        if is_complete(final):
            return final
        meta = store_meta(entry, set, spec, b, gt.meta.get("key_style", "basicsr"))
        writer = make_writer(b, final, meta, commit_every, map_size=map_size)
        clips = gt.clips()
        pending = [c for c in clips if c not in writer.done]
        kinds = {writer.layout.payload}
        tasks = [DeriveTask(gt, entry.name, c, [spec], "png" in kinds, "array" in kinds) for c in pending]
        log(f"{entry.name}: making {spec} from the GT store {gt.path} ({len(pending)} of {len(clips)} clips to do)", quiet)
        write_clips(in_clip_order(derive_clip, tasks, workers, scheduler), lambda clip: [(spec, writer)],
                    [(writer, clips)], total=sum(gt.num_frames(c) for c in pending),
                    count=lambda clip, out: gt.num_frames(clip), desc=f"{entry.name} {spec}", progress=progress)
        return final
