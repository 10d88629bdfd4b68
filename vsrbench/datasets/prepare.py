"""``vsrbench prepare``: source -> canonical GT tree -> LR variants -> LMDB / HDF5 / folders.

One pass per clip (in a joblib worker): read and validate every source frame, encode the GT frame
(PNG, level 1) and every LR variant (``parse_spec(v).apply_frame(gt, dataset=, clip=, index=)``);
the parent writes the results, in clip order, into one writer per store. Only one clip per worker is
in memory at a time, and the output bytes do not depend on ``workers``. Stores are crash-safe and
resumable (see :mod:`vsrbench.datasets.stores`); a rerun on complete stores does no work.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from vsrbench.datasets.catalog import DatasetEntry, Source, get_entry, vsrbench_home
from vsrbench.datasets.download import download
from vsrbench.datasets.extract import BadArchiveError, safe_extract
from vsrbench.datasets.frames import IMAGE_EXTENSIONS, list_frames, natural_key, read_frame_bgr
from vsrbench.datasets.stores import (
    BACKENDS, check_clip_names, find_store, is_complete, make_writer, open_store, store_path,
)
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError

__all__ = ["prepare", "add_variant", "PrepareResult", "resolve_variants", "obtain_source", "discover_clips", "ClipSource"]


@dataclass
class ClipSource:
    clip: str
    set: str
    frames: list[str] | None  # file paths; None for rendered (demo) clips and video files
    video: str | None = None  # the clip's video file (frames decoded by vsrbench.datasets.video)
    n_frames: int = 0  # frames of the video file (decoded and counted at discovery)
    sha256: str | None = None  # pinned sha256 of the video's RGB frames (catalog), checked while preparing


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


# ----------------------------------------------------------------------------------------- sources


def _log(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"vsrbench: {msg}", file=sys.stderr, flush=True)


def _extract_cached(archive: Path, dest: Path, progress: bool, quiet: bool, entry: DatasetEntry | None = None) -> Path:
    st = archive.stat()
    stamp = {"archive": str(archive.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    stamp_file = dest / ".vsrbench-extracted.json"
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):  # an extraction killed earlier
        shutil.rmtree(stale, ignore_errors=True)
    if dest.exists():
        try:
            if json.loads(stamp_file.read_text()) == stamp:
                return dest
        except (OSError, ValueError):
            pass
        shutil.rmtree(dest)
    _log(f"extracting {archive} -> {dest}", quiet)
    safe_extract(archive, dest, progress=progress, **_extract_limits(entry))
    stamp_file.write_text(json.dumps(stamp))
    return dest


def _extract_limits(entry: DatasetEntry | None) -> dict:
    from vsrbench.datasets.extract import extraction_limit

    return {} if entry is None else {"max_bytes": extraction_limit(entry.extracted_size), "what": entry.name}


def obtain_source(entry: DatasetEntry, source=None, urls=None, home=None, progress=True, quiet=False) -> Path:
    """Folder holding the dataset's source files: ``source`` (folder or archive) or a download."""
    home = Path(home) if home is not None else vsrbench_home()
    ds_home = home / entry.name
    if source is None and not urls and entry.layout == "package-videos":
        from vsrbench.datasets.video import package_data_dir

        return package_data_dir(entry.extra["package"], entry.extra["package_dir"], entry.extra.get("pip"))
    if source is not None:
        p = Path(source).expanduser()
        if p.is_dir():
            return p
        if p.is_file():
            return _extract_cached(p, ds_home / "source", progress, quiet, entry)
        raise VsrbenchError(f"--source {p}: no such file or folder")
    srcs = [Source(u) for u in urls] if urls else [s for s in entry.sources if not s.browser]
    if not srcs:
        notes = "\n".join(f"  - {s.url}: {s.note}" for s in entry.sources)
        raise VsrbenchError(
            f"{entry.name} cannot be downloaded automatically (its source needs a browser):\n{notes}\n"
            f"then run `vsrbench prepare {entry.name} --source PATH`"
        )
    first = srcs[0]
    filename = first.filename or Path(first.url.split("?")[0]).name or f"{entry.name}.zip"
    dest = ds_home / "downloads" / filename
    _log(f"downloading {filename} from {first.url}" + (f" ({first.size / 1e9:.1f} GB)" if first.size else ""), quiet)
    # the catalog's sizes are approximate ("82 GB"): only a pinned sha256 is enforced
    download([s.url for s in srcs], dest, sha256=None if urls else first.sha256, progress=progress)
    if first.size and not urls and dest.stat().st_size < 0.5 * first.size:
        _log(f"warning: {dest} is {dest.stat().st_size} bytes; the catalog expects about {first.size}", quiet)
    try:
        return _extract_cached(dest, ds_home / "source", progress, quiet, entry)
    except BadArchiveError as e:  # unsafe, a bomb or corrupt: do not reuse this copy on the next run
        dest.unlink(missing_ok=True)
        raise BadArchiveError(f"{e} (the downloaded copy {dest} was removed)") from None


def _find_dir(root: Path, pred, depth: int = 4) -> Path | None:
    """Breadth-first: the first folder under ``root`` (itself included) satisfying ``pred``."""
    level = [root]
    for _ in range(depth + 1):
        nxt = []
        for d in level:
            if pred(d):
                return d
            try:
                nxt += sorted((p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: natural_key(p.name))
            except OSError:
                pass
        level = nxt
    return None


def _images(d: Path) -> bool:
    try:
        return any(p.suffix.lower() in IMAGE_EXTENSIONS for p in d.iterdir() if p.is_file())
    except OSError:
        return False


def _clip_frames_dir(entry: DatasetEntry, d: Path) -> Path:
    """The folder of GT frames of a clip folder (itself, or its ``truth``/``GT`` sub-folder: SPMCS)."""
    if _images(d):
        return d
    for g in entry.gt_dirs:
        if (d / g).is_dir() and _images(d / g):
            return d / g
    return d


def _holds_gt_subfolders(entry: DatasetEntry, d: Path) -> bool:
    """``d`` holds clip folders that keep their GT frames in a ``truth``/``GT`` sub-folder, or in the
    clip folder itself (SPMCS as RBPN-PyTorch's tree has it: SPMCS/<clip>/truth/NNNN.png beside
    input2..4 for most clips, SPMCS/veni5_015/NNNN.png for one)."""
    try:
        subs = [p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return False
    in_gt_dir = [any(_images(p / g) for g in entry.gt_dirs if (p / g).is_dir()) for p in subs]
    return len(subs) >= 2 and any(in_gt_dir) and all(g or _images(p) for g, p in zip(in_gt_dir, subs))


def _discover_vimeo(entry: DatasetEntry, root: Path, quiet: bool) -> tuple[list[ClipSource], dict]:
    seq = _find_dir(root, lambda d: d.name == "sequences", depth=3)
    if seq is None:
        raise VsrbenchError(
            f"{root}: no 'sequences' folder; expected the vimeo_septuplet layout "
            "(vimeo_septuplet/sequences/00001/0001/im1.png ..., sep_trainlist.txt, sep_testlist.txt)"
        )
    lists = {}
    for s in entry.sets:
        cand = [seq.parent / f"sep_{s}list.txt", root / f"sep_{s}list.txt"]
        f = next((c for c in cand if c.is_file()), None)
        if f is None:
            raise VsrbenchError(
                f"{seq.parent}: sep_{s}list.txt missing; it ships at the root of vimeo_septuplet.zip "
                "beside 'sequences' -- put it there"
            )
        from vsrbench.datasets.splits import read_id_list

        lists[s] = read_id_list(f)
    on_disk = set()
    for a in os.scandir(seq):
        if a.is_dir():
            for b in os.scandir(a.path):
                if b.is_dir():
                    on_disk.add(f"{a.name}/{b.name}")
    clips, missing, used = [], {}, set()
    for s in entry.sets:
        miss = [i for i in lists[s] if i not in on_disk]
        if miss:
            missing[s] = miss
            shown = ", ".join(miss[:5]) + (" ..." if len(miss) > 5 else "")
            _log(f"vimeo90k: {len(miss)} of the {len(lists[s])} clip ids in sep_{s}list.txt are not in the source ({shown})", quiet)
        for i in lists[s]:
            if i in on_disk and i not in used:
                used.add(i)
                clips.append(ClipSource(i, s, None))
    extra = len(on_disk - used)
    if extra:
        _log(f"vimeo90k: {extra} clip folder(s) are in neither list; skipped", quiet)
    clips.sort(key=lambda c: natural_key(c.clip))
    for c in clips:
        d = seq.joinpath(*c.clip.split("/"))
        try:
            frames = list_frames(d)
        except VsrbenchError:
            frames = []
        names = [p.name for p in frames]
        want = [f"im{k}.png" for k in range(1, 8)]
        if names != want:
            lack = [w for w in want if w not in names]
            raise VsrbenchError(
                f"vimeo90k clip {c.clip} ({d}): found {len(names)} frames, expected 7 (im1.png..im7.png)"
                + (f"; missing {', '.join(lack)}" if lack else f"; unexpected {', '.join(n for n in names if n not in want)}")
                + ". Re-extract the archive or download it again"
            )
        c.frames = [str(p) for p in frames]
    return clips, missing


def _video_clip(entry: DatasetEntry, clip: str, path: Path, sha256: str | None = None) -> ClipSource:
    """A clip given as a video file: decoded and counted now (a corrupt file fails before any work)."""
    from vsrbench.datasets.video import count_video_frames

    n = count_video_frames(path)
    allowed = entry.expected_frames(clip)
    if allowed and n not in allowed:
        raise VsrbenchError(
            f"{entry.name} clip {clip} ({path}): decoded {n} frames, expected {' or '.join(map(str, allowed))}; "
            "re-encode or re-download it"
        )
    return ClipSource(clip, "all", None, video=str(path), n_frames=n, sha256=sha256)


def _discover_package_videos(entry: DatasetEntry, root: Path) -> tuple[list[ClipSource], dict]:
    """The catalog's named video files in ``root`` (other files there are not part of the dataset)."""
    clips = []
    for clip, fname in entry.extra["files"].items():
        p = root / fname
        if not p.is_file():
            raise VsrbenchError(
                f"{root}: {fname} (clip {clip}) is missing; reinstall {entry.extra.get('pip', 'the package')} "
                f"or pass --source a folder holding {', '.join(entry.extra['files'].values())}"
            )
        clips.append(_video_clip(entry, clip, p, entry.extra.get("frames_sha256", {}).get(clip)))
    return clips, {}


def _clip_entries(d: Path) -> dict[str, Path]:
    """Clip folders and video files (one clip each, by stem) directly in ``d`` (a folder wins over a
    video of the same name); {} when unreadable."""
    from vsrbench.datasets.video import list_videos

    try:
        dirs = {p.name: p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")}
    except OSError:
        return {}
    return {**list_videos(d), **dirs}


def discover_clips(entry: DatasetEntry, root: Path | None, quiet: bool = False) -> tuple[list[ClipSource], dict]:
    """The clips to prepare, validated against the catalog (names, counts); ``(clips, missing_ids)``."""
    if entry.layout == "rendered":
        from vsrbench.datasets.demo import DEMO_CLIPS

        return [ClipSource(c, "all", None) for c in DEMO_CLIPS], {}
    if entry.layout == "septuplets":
        return _discover_vimeo(entry, root, quiet)
    if entry.layout == "package-videos":
        return _discover_package_videos(entry, root)
    names = entry.clips if isinstance(entry.clips, tuple) else None
    if names:
        base = _find_dir(root, lambda d: all((d / n).is_dir() for n in names) or set(names) <= set(_clip_entries(d)))
        if base is None:
            found = ", ".join(sorted((p.name for p in root.iterdir() if p.is_dir()), key=natural_key)[:12])
            raise VsrbenchError(
                f"{root}: no folder holding the {entry.name} clips {', '.join(names)} (found: {found or 'nothing'}); "
                f"point --source at the extracted {entry.name} GT folder or its archive"
            )
    else:
        base = (_find_dir(root, lambda d: d.name in entry.gt_dirs and not _images(d))
                or _find_dir(root, lambda d: _holds_gt_subfolders(entry, d)) or root)
    entries = _clip_entries(base)  # clip folders and video files (one clip per file, by stem)
    present = sorted(entries, key=natural_key)
    counts = (entry.num_clips,) + tuple(entry.allowed_clip_counts)
    if names and sorted(present, key=natural_key) != sorted(names, key=natural_key):
        extra = [p for p in present if p not in names]
        raise VsrbenchError(
            f"{base}: {entry.name} has {len(names)} clips ({', '.join(names)}); found {len(present)}"
            + (f", unexpected: {', '.join(extra[:5])}" if extra else "")
            + ". Point --source at the GT folder only"
        )
    if not names and len(present) not in counts:
        raise VsrbenchError(
            f"{base}: found {len(present)} clip folders, expected {' or '.join(map(str, counts))} for {entry.name}"
        )
    clips = []
    for c in present:
        if not entries[c].is_dir():
            clips.append(_video_clip(entry, c, entries[c]))
            continue
        d = _clip_frames_dir(entry, base / c)
        frames = list_frames(d)
        allowed = entry.expected_frames(c)
        if allowed and len(frames) not in allowed:
            from vsrbench.datasets.lr import check_clip_frames

            gap = ""
            try:
                check_clip_frames(d, frames)
            except VsrbenchError as e:
                gap = f" ({str(e).split(': ', 1)[-1].split(';')[0]})"
            raise VsrbenchError(
                f"{entry.name} clip {c} ({d}): found {len(frames)} frames, expected "
                f"{' or '.join(map(str, allowed))}{gap}; re-extract or re-download it"
            )
        clips.append(ClipSource(c, "all", [str(p) for p in frames]))
    if entry.extra.get("max_35") is not None:
        n35 = sum(1 for c in clips if (len(c.frames) if c.frames else c.n_frames) == 35)
        if n35 > entry.extra["max_35"]:
            raise VsrbenchError(f"{base}: {n35} clips have 35 frames; SPMCS has at most one")
    return clips, {}


# ----------------------------------------------------------------------------------------- worker


def _encode_bgr(bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise VsrbenchError(f"could not encode a frame of shape {bgr.shape} as PNG")
    return buf.tobytes()


def _process_clip(dataset: str, clip: str, frames, specs, expect_hw, want_png: bool, want_arrays: bool):
    """Read, validate and degrade one clip. Returns ``(clip, {variant: (indices, shape, pngs, arrays)})``.

    PNG values equal ``frames.encode_png(rgb, 1)`` and LR frames equal
    ``parse_spec(v).apply_frame(rgb, dataset=, clip=, index=)``; internally frames stay BGR where the
    op allows it.
    """
    if frames is None:
        from vsrbench.datasets.demo import render_demo_clip

        rendered = render_demo_clip(clip)

        def demo_frames():
            for i in range(len(rendered)):
                bgr = np.ascontiguousarray(rendered[i][:, :, ::-1])
                rendered[i] = None  # one frame at a time in memory
                yield f"{dataset}:{clip}#{i}", bgr

        n, source = len(rendered), demo_frames()
    elif isinstance(frames, dict):  # a video file: decoded one frame at a time, pinned sha256 checked at the end
        from vsrbench.datasets.video import iter_video

        n = frames["n_frames"]
        source = (
            (f"{frames['video']} frame {i}", np.ascontiguousarray(rgb[:, :, ::-1]))
            for i, rgb in enumerate(iter_video(frames["video"], frames["sha256"]))
        )
    else:
        n, source = len(frames), ((p, read_frame_bgr(p)) for p in frames)
    return clip, _degrade_and_encode(dataset, clip, n, source, specs, expect_hw, want_png, want_arrays, True)


def _derive_clip(gt_store, dataset: str, clip: str, specs, want_png: bool, want_arrays: bool):
    """One clip of LR variants made from a prepared GT store (see :func:`add_variant`)."""
    n = gt_store.num_frames(clip)
    frames = (
        (f"{gt_store.path} clip {clip} frame {i}", np.ascontiguousarray(gt_store.read(clip, i)[:, :, ::-1]))
        for i in range(n)
    )
    return clip, _degrade_and_encode(dataset, clip, n, frames, specs, None, want_png, want_arrays, False)


def _degrade_and_encode(dataset, clip, n, frames, specs, expect_hw, want_png, want_arrays, with_gt: bool) -> dict:
    """``frames`` yields ``(where, bgr)`` for frames 0..n-1 -> ``{variant: (indices, shape, pngs, arrays)}``."""
    degs = [(s, parse_spec(s)) for s in specs]
    symmetric = {s: d.channel_symmetric for s, d in degs}  # BGR in, BGR out: saves two channel flips per frame
    keep = {s: set(d.select_frames(n)) for s, d in degs}
    variants = ["GT", *specs] if with_gt else list(specs)
    out = {v: ([], None, [], []) for v in variants}
    first_shape = None
    for i, (p, bgr) in enumerate(frames):
        hw = tuple(bgr.shape[:2])
        want = expect_hw or first_shape
        if want is not None and hw != tuple(want):
            raise VsrbenchError(
                f"{dataset} clip {clip}, frame {i} ({p}): found {hw[1]}x{hw[0]}, expected {want[1]}x{want[0]} "
                "(width x height); the source is damaged or not this dataset"
            )
        first_shape = first_shape or hw
        for _, d in degs:
            d.check_frame_size(hw[0], hw[1], f"{dataset} clip {clip}, frame {i} ({p})")
        rgb = None
        for v in variants:
            if v == "GT":
                img_bgr = bgr
            elif i not in keep[v]:
                continue
            else:
                d = dict(degs)[v]
                if symmetric[v]:
                    img_bgr = d.apply_frame(bgr, dataset=dataset, clip=clip, index=i)
                else:
                    if rgb is None:
                        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
                    img_bgr = np.ascontiguousarray(d.apply_frame(rgb, dataset=dataset, clip=clip, index=i)[:, :, ::-1])
            idx, shape, pngs, arrs = out[v]
            idx.append(i)
            if want_png:
                pngs.append(_encode_bgr(img_bgr))
            if want_arrays:
                arrs.append(np.ascontiguousarray(img_bgr[:, :, ::-1]))
            out[v] = (idx, shape or tuple(img_bgr.shape), pngs, arrs)
    return out


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
) -> PrepareResult:
    """Prepare dataset ``name`` under ``home`` (default ``$VSRBENCH_HOME``).

    ``backend``: ``lmdb`` (default; BasicSR layout, ``lmdb_keys='mmagic'`` for ``00001_0001_4`` keys),
    ``hdf5`` or ``folders``. The canonical GT tree ``<home>/<name>/GT`` is always written.
    ``variants``: LR specs (list or comma-separated string); default the catalog's. ``source``: an
    archive or folder already on disk (no download). ``urls``: mirrors to download from instead of the
    catalog's. ``workers``: joblib processes (the output does not depend on it). ``commit_every``:
    frames per LMDB transaction / journal checkpoint.
    """
    t0 = time.time()
    entry = get_entry(name)
    if backend not in BACKENDS:
        raise VsrbenchError(f"unknown backend {backend!r}; use --lmdb, --hdf5 or --folders")
    if lmdb_keys not in ("basicsr", "mmagic"):
        raise VsrbenchError(f"--lmdb-keys {lmdb_keys!r}: use basicsr or mmagic")
    specs = resolve_variants(entry, variants)
    home = Path(home) if home is not None else vsrbench_home()
    workers = max(1, int(workers or 1))
    result = PrepareResult(entry.name, backend)

    # the stores this run makes: (backend, set, variant) -> final path
    wanted = {}
    for s in entry.sets:
        for v in ["GT", *specs]:
            if backend != "folders":
                wanted[(backend, s, v)] = store_path(entry.name, v, s, backend, home)
    for v in ["GT", *specs] if backend == "folders" else ["GT"]:
        wanted[("folders", "*", v)] = store_path(entry.name, v, "all", "folders", home)
    result.stores = {(s, v, b): p for (b, s, v), p in wanted.items()}
    todo = {k: p for k, p in wanted.items() if not is_complete(p)}
    if not todo:
        _log(f"{entry.name}: already prepared ({len(wanted)} stores complete under {home / entry.name}); nothing to do", quiet)
        result.did_work = False
        return result

    if source is None and urls is None and _only_lr_missing(entry.name, home, todo, lmdb_keys):
        # GT is prepared: new LR variants come from the GT stores, no source or download needed
        for (b, s, v), _ in todo.items():
            add_variant(entry.name, v, set="all" if s == "*" else s, backend=b, workers=workers, home=home,
                        commit_every=commit_every, map_size=map_size, progress=progress, quiet=quiet)
        result.from_gt_stores = True
        result.seconds = time.time() - t0
        _log(f"{entry.name}: {len(todo)} LR store(s) made from the GT stores in {result.seconds:.1f} s", quiet)
        return result

    with _lock(home / entry.name):
        return _prepare_locked(entry, result, wanted, todo, specs, backend, source, urls, home, workers,
                               lmdb_keys, commit_every, map_size, progress, quiet, t0)


def _store_meta(entry: DatasetEntry, set: str, variant: str, backend: str, lmdb_keys: str) -> dict:
    """What a store records about itself (also the identity its resume journal checks)."""
    from vsrbench.codeversion import degradation_code_version  # an LR store names the code that made it

    return {
        "dataset": entry.name, "set": "all" if backend == "folders" else set, "variant": variant,
        "scale": 1 if variant == "GT" else parse_spec(variant).scale,
        "key_style": lmdb_keys if backend == "lmdb" else "files",
        "vimeo_names": entry.layout == "septuplets" and backend == "lmdb",
        **({} if variant == "GT" else {"degradation_code": degradation_code_version()}),
    }


def _in_clip_order(fn, tasks: list, workers: int):
    """``fn(*task)`` for each task, in order: in this process, or streamed from joblib workers (at
    most 2 per worker in flight, so memory stays bounded)."""
    if workers <= 1 or len(tasks) <= 1:
        return (fn(*t) for t in tasks)
    from joblib import Parallel, delayed

    return Parallel(n_jobs=int(workers), return_as="generator", pre_dispatch="2*n_jobs", batch_size=1)(
        delayed(fn)(*t) for t in tasks
    )


def _only_lr_missing(name: str, home: Path, todo: dict, lmdb_keys: str) -> bool:
    """True when every missing store is an LR variant whose GT store of the same backend and set is
    complete (and, for LMDB, has the requested key style)."""
    for b, s, v in todo:
        if v == "GT":
            return False
        gt = store_path(name, "GT", "all" if s == "*" else s, b, home)
        if not is_complete(gt):
            return False
        if b == "lmdb" and open_store(gt).meta.get("key_style") != lmdb_keys:
            return False
    return True


@contextlib.contextmanager
def _lock(ds_home: Path):
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


def _prepare_locked(entry, result, wanted, todo, specs, backend, source, urls, home, workers, lmdb_keys,
                    commit_every, map_size, progress, quiet, t0) -> PrepareResult:
    todo = {k: p for k, p in todo.items() if not is_complete(p)}  # another run may have finished them
    if not todo:
        result.did_work = False
        return result
    root = None if entry.layout == "rendered" else obtain_source(entry, source, urls, home, progress, quiet)
    clips, result.missing_ids = discover_clips(entry, root, quiet)
    if not clips:
        raise VsrbenchError(f"{entry.name}: no clips to prepare in {root}")
    check_clip_names([c.clip for c in clips], backend, str(root))  # before anything is written
    if result.missing_ids:
        rep = home / entry.name / "missing_ids.txt"
        rep.parent.mkdir(parents=True, exist_ok=True)
        rep.write_text("".join(f"{s} {i}\n" for s, ids in result.missing_ids.items() for i in ids))
        _log(f"{entry.name}: the missing ids are listed in {rep}", quiet)
    for s in entry.sets:
        if not any(c.set == s for c in clips):
            _log(f"{entry.name}: the {s} set has no clips in the source; its stores will be empty", quiet)
    if entry.layout == "septuplets":
        _copy_vimeo_lists(root, home / entry.name, clips)
        from vsrbench.datasets.splits import install_splits

        if install_splits(root, home):
            _log(f"vimeo90k: motion-split lists installed in {home / entry.name / 'splits'}", quiet)

    from vsrbench.datasets.diskspace import check_free_space, estimate_pack_bytes

    need = estimate_pack_bytes(clips, [(s, 1 if v == "GT" else parse_spec(v).scale) for (_, s, v) in todo])
    check_free_space(home / entry.name, need, f"packing {entry.name} ({len(todo)} stores)")
    writers = {}
    for (b, s, v), p in todo.items():
        kw = {"map_size": map_size} if b == "lmdb" else {}
        writers[(b, s, v)] = make_writer(b, p, _store_meta(entry, s, v, b, lmdb_keys), commit_every, **kw)

    def targets(c: ClipSource):
        return [(k, w) for k, w in writers.items() if (k[1] in (c.set, "*")) and c.clip not in w.done]

    pending = [c for c in clips if targets(c)]
    n_done = len(clips) - len(pending)
    if n_done:
        _log(f"{entry.name}: resuming; {n_done} of {len(clips)} clips already written", quiet)
    want_png = any(b in ("lmdb", "folders") for (b, _, _) in writers)
    want_arrays = any(b == "hdf5" for (b, _, _) in writers)
    expect = {c.clip: entry.expected_size(c.clip) for c in pending}
    by_clip = {c.clip: c for c in pending}
    tasks = [(entry.name, c.clip, _frames_arg(c), specs, expect[c.clip], want_png, want_arrays) for c in pending]
    total_frames = sum(len(c.frames) if c.frames else c.n_frames or entry.expected_frames(c.clip)[0] for c in pending)
    _log(
        f"{entry.name}: {len(pending)} clips ({total_frames} frames) -> GT + {', '.join(specs) or 'no LR'} "
        f"as {backend}, {workers} worker(s)", quiet,
    )
    try:
        results = _in_clip_order(_process_clip, tasks, workers)
        with tqdm(total=total_frames, unit="frame", desc=f"prepare {entry.name}", disable=not progress, file=sys.stderr) as bar:
            for clip, out in results:
                c = by_clip[clip]
                for (b, s, v), w in targets(c):
                    idx, shape, pngs, arrs = out[v]
                    w.add_clip(clip, idx, shape, arrs if b == "hdf5" else pngs)
                    if w.should_flush():
                        w.flush()
                bar.update(len(out["GT"][0]))
                result.frames += len(out["GT"][0])
        order = {}
        for c in clips:
            order.setdefault(c.set, []).append(c.clip)
        all_clips = [c.clip for c in clips]
        for (b, s, v), w in writers.items():
            w.finalize(all_clips if s == "*" else order.get(s, []))
    except VsrbenchError:
        for w in writers.values():
            w.abort()
        raise
    result.clips = len(clips)
    result.seconds = time.time() - t0
    _log(f"{entry.name}: done in {result.seconds:.1f} s; stores under {home / entry.name}", quiet)
    return result


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
) -> Path:
    """Make LR variant ``spec`` of an already prepared dataset from its GT store; returns the store path.

    No source and no download: the frames come from the GT store of ``set`` (``backend`` None: the
    first of lmdb, hdf5, folders that is complete), and the new store has that backend. The store
    is the one ``prepare(name, variants=spec, backend=...)`` writes, frame for frame (same keys,
    same seeded degradation, same PNG level), so a later ``prepare`` counts it as done. Crash-safe
    and resumable like ``prepare``; a complete store is returned at once.
    """
    entry = get_entry(name)
    spec = parse_spec(spec).spec
    home = Path(home) if home is not None else vsrbench_home()
    gt = open_store(find_store(entry.name, "GT", set, backend, home))
    b = gt.backend
    final = store_path(entry.name, spec, set, b, home)
    if is_complete(final):
        return final
    with _lock(home / entry.name):
        if is_complete(final):
            return final
        meta = _store_meta(entry, set, spec, b, gt.meta.get("key_style", "basicsr"))
        writer = make_writer(b, final, meta, commit_every, **({"map_size": map_size} if b == "lmdb" else {}))
        clips = gt.clips()
        pending = [c for c in clips if c not in writer.done]
        tasks = [(gt, entry.name, c, [spec], b in ("lmdb", "folders"), b == "hdf5") for c in pending]
        _log(f"{entry.name}: making {spec} from the GT store {gt.path} ({len(pending)} of {len(clips)} clips to do)", quiet)
        try:
            results = _in_clip_order(_derive_clip, tasks, workers)
            total = sum(gt.num_frames(c) for c in pending)
            with tqdm(total=total, unit="frame", desc=f"{entry.name} {spec}", disable=not progress, file=sys.stderr) as bar:
                for clip, out in results:
                    idx, shape, pngs, arrs = out[spec]
                    writer.add_clip(clip, idx, shape, arrs if b == "hdf5" else pngs)
                    if writer.should_flush():
                        writer.flush()
                    bar.update(gt.num_frames(clip))
            return writer.finalize(clips)
        except VsrbenchError:
            writer.abort()
            raise


def _frames_arg(c: ClipSource):
    """What :func:`_process_clip` gets for a clip: frame paths, None (rendered) or a video dict."""
    if c.video is None:
        return c.frames
    return {"video": c.video, "n_frames": c.n_frames, "sha256": c.sha256}


def _copy_vimeo_lists(root: Path, ds_home: Path, clips) -> None:
    """Keep the archive's list files beside the stores (splits.load_split('test') reads them)."""
    for s in ("train", "test"):
        d = _find_dir(root, lambda d: (d / f"sep_{s}list.txt").is_file(), depth=2)
        if d is not None:
            ds_home.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(d / f"sep_{s}list.txt", ds_home / f"sep_{s}list.txt")
