"""``vsrbench prepare``: source -> canonical GT tree -> LR variants -> LMDB / HDF5 / folders.

The locked orchestration; each other job has its module: obtaining a source
(:mod:`~vsrbench.datasets.sources`), discovering clips per layout (:mod:`~vsrbench.datasets.discover`),
the per-clip worker (:mod:`~vsrbench.datasets.clipwork`: one pass per clip in a joblib worker, read
and validate every source frame, encode GT and every LR variant), the shared store-writing pieces
(:mod:`~vsrbench.datasets.packing`) and LR stores from a GT store (:mod:`~vsrbench.datasets.variants`).
The parent writes the results, in clip order, into one writer per store. Only one clip per worker is
in memory at a time, and the output bytes do not depend on ``workers``. Stores are crash-safe and
resumable (see :mod:`vsrbench.datasets.stores`); a rerun on complete stores does no work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from vsrbench.cluster import parse_scheduler
from vsrbench.datasets.catalog import DatasetEntry, get_entry, vsrbench_home
from vsrbench.datasets.clipwork import ClipTask, frames_arg, process_clip
from vsrbench.datasets.discover import ClipSource, copy_vimeo_lists, discover_clips
from vsrbench.datasets.diskspace import check_free_space, estimate_pack_bytes
from vsrbench.datasets.packing import StoreKey, dataset_lock, in_clip_order, store_meta, write_clips
from vsrbench.datasets.sources import log as _log
from vsrbench.datasets.sources import obtain_source
from vsrbench.datasets.splits import install_splits
from vsrbench.datasets.stores import (check_clip_names, get_backend, is_complete, make_writer, open_store,
                                      store_path, tree_backend)
from vsrbench.datasets.variants import add_variant
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError
from vsrbench.numeric import check_workers, positive_int

__all__ = ["prepare", "add_variant", "PrepareResult", "PrepareJob", "resolve_variants", "obtain_source",
           "discover_clips", "ClipSource"]


@dataclass
class PrepareResult:
    dataset: str
    backend: str
    stores: dict = field(default_factory=dict)  # (set, variant) -> Path
    did_work: bool = True
    clips: int = 0
    frames: int = 0
    missing_ids: dict = field(default_factory=dict)  # set -> ids its list names that the source lacks
    seconds: float = 0.0
    from_gt_stores: bool = False  # only LR variants were missing: made from the GT stores (no source)


@dataclass
class PrepareJob:
    """What one ``prepare`` run does, and how (the arguments of :func:`prepare`, resolved)."""

    entry: DatasetEntry
    specs: list[str]  # canonical LR specs (GT is always written)
    backend: str
    home: Path
    source: str | Path | None = None
    urls: list[str] | None = None
    workers: int = 1
    lmdb_keys: str = "basicsr"
    commit_every: int = 1000
    map_size: int = 1 << 28
    progress: bool = True
    quiet: bool = False
    scheduler: str | None = None  # a Dask cluster for the per-clip work (see packing.in_clip_order)


def resolve_variants(entry: DatasetEntry, variants) -> list[str]:
    """Canonical specs of the LR variants (GT is always written and is not listed here)."""
    if variants is None:
        items = list(entry.default_variants)
    elif isinstance(variants, str):
        items = [v for v in _split_specs(variants)]
    else:
        items = list(variants)
    out = []
    for v in items:
        v = v.strip()
        if not v or v.upper() == "GT":
            continue
        spec = parse_spec(v).spec
        if spec not in out:
            out.append(spec)
    return out


def _split_specs(text: str) -> list[str]:
    """Split ``bi:x4,bd:x4,gauss:sigma=1,size=3:x3`` at commas that start a new op (not key=value)."""
    parts, cur = [], ""
    for tok in text.split(","):
        if cur and "=" in tok.split(":")[0]:  # a key=value continuing the previous op's parameters
            cur += "," + tok
        else:
            if cur:
                parts.append(cur)
            cur = tok
    if cur:
        parts.append(cur)
    return parts


# ----------------------------------------------------------------------------------------- main


def prepare(
    name: str,
    *,
    backend: str = "lmdb",
    variants=None,
    source=None,
    workers: int = 1,
    home=None,
    urls=None,
    lmdb_keys: str = "basicsr",
    commit_every: int = 1000,
    map_size: int = 1 << 28,
    progress: bool = True,
    quiet: bool = False,
    scheduler: str | None = None,
) -> PrepareResult:
    """Prepare dataset ``name`` under ``home`` (default ``$VSRBENCH_HOME``).

    ``backend``: ``lmdb`` (default; BasicSR layout, ``lmdb_keys='mmagic'`` for ``00001_0001_4`` keys),
    ``hdf5`` or ``folders``. The canonical GT tree ``<home>/<name>/GT`` is always written.
    ``variants``: LR specs (list or comma-separated string); default the catalog's. ``source``: an
    archive or folder already on disk (no download). ``urls``: mirrors to download from instead of the
    catalog's. ``workers``: joblib processes (the output does not depend on it). ``commit_every``:
    frames per LMDB transaction / journal checkpoint. ``scheduler``: ``local:N`` or a Dask scheduler
    address: the per-clip work runs on that cluster (joblib's Dask backend; the source must be at the
    same path on its workers), the stores are still written here, byte for byte the same.
    """
    t0 = time.time()
    job = _make_job(name, backend, variants, source, workers, home, urls, lmdb_keys, commit_every, map_size,
                    progress, quiet, scheduler)
    entry, home = job.entry, job.home
    result = PrepareResult(entry.name, backend)
    wanted = _wanted_stores(job)
    result.stores = {(k.set, k.variant, k.backend): p for k, p in wanted.items()}
    todo = {k: p for k, p in wanted.items() if not is_complete(p)}
    if not todo:
        _log(f"{entry.name}: already prepared ({len(wanted)} stores complete under {home / entry.name}); nothing to do", quiet)
        result.did_work = False
        return result
    official_lr = set(entry.extra.get("official_lr", {}))  # those come from the source, never from GT
    if (source is None and urls is None and _only_lr_missing(entry.name, home, todo, lmdb_keys)
            and not any(k.variant in official_lr for k in todo)):
        # GT is prepared: new LR variants come from the GT stores, no source or download needed
        for k in todo:
            add_variant(entry.name, k.variant, set="all" if k.set == "*" else k.set, backend=k.backend,
                        workers=job.workers, home=home, commit_every=job.commit_every, map_size=map_size,
                        progress=progress, quiet=quiet, scheduler=scheduler)
        result.from_gt_stores = True
        result.seconds = time.time() - t0
        _log(f"{entry.name}: {len(todo)} LR store(s) made from the GT stores in {result.seconds:.1f} s", quiet)
        return result

    with dataset_lock(home / entry.name):
        return _prepare_locked(job, result, todo, t0)


def _make_job(name, backend, variants, source, workers, home, urls, lmdb_keys, commit_every, map_size, progress,
              quiet, scheduler) -> PrepareJob:
    """The arguments of :func:`prepare`, checked (before any work) and resolved."""
    workers, commit_every = check_workers(workers, "workers"), positive_int(commit_every, "commit_every")
    entry = get_entry(name)
    get_backend(backend)  # an unknown name: the registry's one-line error
    if lmdb_keys not in ("basicsr", "mmagic"):
        raise VsrbenchError(f"--lmdb-keys {lmdb_keys!r}: use basicsr or mmagic")
    specs = resolve_variants(entry, variants)
    if scheduler:
        parse_scheduler(scheduler)  # a bad value fails before any work
    home = Path(home) if home is not None else vsrbench_home()
    return PrepareJob(entry, specs, backend, home, source=source, urls=urls, workers=workers, lmdb_keys=lmdb_keys,
                      commit_every=commit_every, map_size=map_size, progress=progress, quiet=quiet, scheduler=scheduler)


def _wanted_stores(job: PrepareJob) -> dict[StoreKey, Path]:
    """The stores this run makes: GT and every LR variant in the backend's stores (per set where the
    backend keeps sets apart), and the canonical GT tree (which holds the LR variants too when it is
    the backend)."""
    entry, specs, backend, home = job.entry, job.specs, job.backend, job.home
    tree = tree_backend()
    wanted: dict[StoreKey, Path] = {}
    for s in entry.sets:
        for v in ["GT", *specs]:
            if get_backend(backend).layout.per_set:
                wanted[StoreKey(backend, s, v)] = store_path(entry.name, v, s, backend, home)
    for v in ["GT", *specs] if backend == tree.name else ["GT"]:
        wanted[StoreKey(tree.name, "*", v)] = store_path(entry.name, v, "all", tree.name, home)
    return wanted


def _only_lr_missing(name: str, home: Path, todo: dict, lmdb_keys: str) -> bool:
    """True when every missing store is an LR variant whose GT store of the same backend and set is
    complete (and, for LMDB, has the requested key style)."""
    for b, s, v in todo:  # StoreKey
        if v == "GT":
            return False
        gt = store_path(name, "GT", "all" if s == "*" else s, b, home)
        if not is_complete(gt):
            return False
        if open_store(gt).meta.get("key_style") != get_backend(b).layout.key_style(lmdb_keys):
            return False
    return True


def _store_meta(job: PrepareJob, k: StoreKey) -> dict:
    """A store's marker; an LR variant the source ships (REDS's official X4) says where it came from."""
    entry = job.entry
    meta = store_meta(entry, k.set, k.variant, k.backend, job.lmdb_keys)
    if k.variant in entry.extra.get("official_lr", {}):
        meta["lr_origin"] = entry.extra.get("official_lr_note", "the source's official LR frames")
    return meta


def _prepare_locked(job: PrepareJob, result: PrepareResult, todo: dict[StoreKey, Path], t0: float) -> PrepareResult:
    entry, specs, home, quiet = job.entry, job.specs, job.home, job.quiet
    todo = {k: p for k, p in todo.items() if not is_complete(p)}  # another run may have finished them
    if not todo:
        result.did_work = False
        return result
    clips = _discover(job, result)
    need = estimate_pack_bytes(clips, [(s, 1 if v == "GT" else parse_spec(v).scale) for (_, s, v) in todo])
    check_free_space(home / entry.name, need, f"packing {entry.name} ({len(todo)} stores)")
    writers = {k: make_writer(k.backend, p, _store_meta(job, k), job.commit_every, map_size=job.map_size)
               for k, p in todo.items()}

    def targets(clip: str):
        c = by_clip[clip]
        return [(k.variant, w) for k, w in writers.items() if (k.set in (c.set, "*")) and c.clip not in w.done]

    by_clip = {c.clip: c for c in clips}
    pending = [c for c in clips if targets(c.clip)]
    if len(clips) > len(pending):
        _log(f"{entry.name}: resuming; {len(clips) - len(pending)} of {len(clips)} clips already written", quiet)
    kinds = {w.layout.payload for w in writers.values()}
    tasks = [ClipTask(entry.name, c.clip, frames_arg(c), specs, entry.expected_size(c.clip), "png" in kinds,
                      "array" in kinds, {v: p for v, p in (c.lr or {}).items() if v in specs} or None)
             for c in pending]
    total_frames = sum(len(c.frames) if c.frames else c.n_frames or entry.expected_frames(c.clip)[0] for c in pending)
    _log(
        f"{entry.name}: {len(pending)} clips ({total_frames} frames) -> GT + {', '.join(specs) or 'no LR'} "
        f"as {job.backend}, {'Dask cluster ' + job.scheduler if job.scheduler else str(job.workers) + ' worker(s)'}", quiet,
    )
    order: dict[str, list[str]] = {}
    for c in clips:
        order.setdefault(c.set, []).append(c.clip)
    all_clips = [c.clip for c in clips]
    finals = [(w, all_clips if k.set == "*" else order.get(k.set, [])) for k, w in writers.items()]
    result.frames += write_clips(in_clip_order(process_clip, tasks, job.workers, job.scheduler), targets, finals,
                                 total=total_frames, count=lambda clip, out: len(out["GT"].indices),
                                 desc=f"prepare {entry.name}", progress=job.progress)
    result.clips = len(clips)
    result.seconds = time.time() - t0
    _log(f"{entry.name}: done in {result.seconds:.1f} s; stores under {home / entry.name}", quiet)
    return result


def _discover(job: PrepareJob, result: PrepareResult) -> list[ClipSource]:
    """The clips of the source (obtained, downloaded if need be), their names checked before anything
    is written; the ids a list names that the source lacks are reported; Vimeo's lists installed."""
    entry, home, quiet = job.entry, job.home, job.quiet
    root = None if entry.layout == "rendered" else obtain_source(entry, job.source, job.urls, home, job.progress, quiet)
    clips, result.missing_ids = discover_clips(entry, root, quiet)
    if not clips:
        raise VsrbenchError(f"{entry.name}: no clips to prepare in {root}")
    check_clip_names([c.clip for c in clips], job.backend, str(root))  # before anything is written
    if result.missing_ids:
        rep = home / entry.name / "missing_ids.txt"
        rep.parent.mkdir(parents=True, exist_ok=True)
        rep.write_text("".join(f"{s} {i}\n" for s, ids in result.missing_ids.items() for i in ids))
        _log(f"{entry.name}: the missing ids are listed in {rep}", quiet)
    for s in entry.sets:
        if not any(c.set == s for c in clips):
            _log(f"{entry.name}: the {s} set has no clips in the source; its stores will be empty", quiet)
    if entry.layout == "septuplets":
        copy_vimeo_lists(root, home / entry.name, clips)
        if install_splits(root, home):
            _log(f"vimeo90k: motion-split lists installed in {home / entry.name / 'splits'}", quiet)
    return clips
