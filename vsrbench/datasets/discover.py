"""Discovering the clips of a source, per catalog layout: Vimeo-90K septuplets (its list files),
named clip folders (Vid4, SPMCS with ``truth``/``GT`` sub-folders), counted clip folders, video files
(one clip per file) and a package's video files; every clip validated against the catalog (names,
frame counts) before anything is written."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from vsrbench.datasets.catalog import DatasetEntry
from vsrbench.datasets.frames import IMAGE_EXTENSIONS, list_frames, natural_key
from vsrbench.datasets.sources import find_dir, log
from vsrbench.errors import VsrbenchError

__all__ = ["ClipSource", "discover_clips", "copy_vimeo_lists"]


@dataclass
class ClipSource:
    clip: str
    set: str
    frames: list[str] | None  # file paths; None for rendered (demo) clips and video files
    video: str | None = None  # the clip's video file (frames decoded by vsrbench.datasets.video)
    n_frames: int = 0  # frames of the video file (decoded and counted at discovery)
    sha256: str | None = None  # pinned sha256 of the video's RGB frames (catalog), checked while preparing
    lr: dict | None = None  # variant -> official LR frame paths the source ships (REDS), used as they are


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
    seq = find_dir(root, lambda d: d.name == "sequences", depth=3)
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
            log(f"vimeo90k: {len(miss)} of the {len(lists[s])} clip ids in sep_{s}list.txt are not in the source ({shown})", quiet)
        for i in lists[s]:
            if i in on_disk and i not in used:
                used.add(i)
                clips.append(ClipSource(i, s, None))
    extra = len(on_disk - used)
    if extra:
        log(f"vimeo90k: {extra} clip folder(s) are in neither list; skipped", quiet)
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
    if entry.layout == "reds":
        return _discover_reds(entry, root), {}
    names = entry.clips if isinstance(entry.clips, tuple) else None
    if names:
        base = find_dir(root, lambda d: all((d / n).is_dir() for n in names) or set(names) <= set(_clip_entries(d)))
        if base is None:
            found = ", ".join(sorted((p.name for p in root.iterdir() if p.is_dir()), key=natural_key)[:12])
            raise VsrbenchError(
                f"{root}: no folder holding the {entry.name} clips {', '.join(names)} (found: {found or 'nothing'}); "
                f"point --source at the extracted {entry.name} GT folder or its archive"
            )
    else:
        base = (find_dir(root, lambda d: d.name in entry.gt_dirs and not _images(d))
                or find_dir(root, lambda d: _holds_gt_subfolders(entry, d)) or root)
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


def _official_lr_dir(entry: DatasetEntry, root: Path, parts: tuple) -> Path:
    top = find_dir(root, lambda d: d.name == parts[0] and d.joinpath(*parts[1:]).is_dir())
    if top is None:
        raise VsrbenchError(f"{root}: no {'/'.join(parts)} folder (the official LR); {entry.name} needs "
                            f"{' and '.join(entry.extra.get('archives', ()))} -- put both in the --source folder")
    return top.joinpath(*parts[1:])


def _discover_reds(entry: DatasetEntry, root: Path) -> list[ClipSource]:
    """REDS' official layout: ``<gt_dir>/<clip>/00000000.png..`` beside the official LR tree
    (``train_sharp_bicubic/X4/<clip>/`` with the same file names); every clip in both, checked."""
    gt_name = entry.extra["gt_dir"]
    names = tuple(entry.clips)
    gt = find_dir(root, lambda d: d.name == gt_name and any((d / c).is_dir() for c in names))
    if gt is None:
        raise VsrbenchError(f"{root}: no {gt_name} folder; expected the official {entry.name} layout "
                            f"({gt_name}/000/00000000.png ...)")
    lr_dirs = {v: _official_lr_dir(entry, root, tuple(parts)) for v, parts in entry.extra["official_lr"].items()}
    present = sorted((p.name for p in gt.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key)
    if present != sorted(names, key=natural_key):
        extra = [p for p in present if p not in names]
        lack = [n for n in names if n not in present]
        raise VsrbenchError(f"{gt}: {entry.name} has {len(names)} clips; found {len(present)}"
                            + (f", missing {', '.join(lack[:5])}" if lack else "")
                            + (f", unexpected {', '.join(extra[:5])}" if extra else "") + "; re-extract the archive")
    set_of = {c: s for s, cs in entry.extra.get("set_clips", {}).items() for c in cs}
    clips = []
    for c in present:
        frames = list_frames(gt / c)
        allowed = entry.expected_frames(c)
        if allowed and len(frames) not in allowed:
            raise VsrbenchError(f"{entry.name} clip {c} ({gt / c}): found {len(frames)} frames, expected "
                                f"{' or '.join(map(str, allowed))}; re-extract or re-download it")
        lr = {}
        for v, d in lr_dirs.items():
            lr_frames = list_frames(d / c) if (d / c).is_dir() else []
            if [p.name for p in lr_frames] != [p.name for p in frames]:
                raise VsrbenchError(f"{entry.name} clip {c}: the official LR frames in {d / c} ({len(lr_frames)}) are "
                                    f"not the GT frames' names ({len(frames)}); re-extract the LR archive")
            lr[v] = [str(p) for p in lr_frames]
        clips.append(ClipSource(c, set_of.get(c, entry.sets[0]), [str(p) for p in frames], lr=lr))
    return clips


def copy_vimeo_lists(root: Path, ds_home: Path, clips) -> None:
    """Keep the archive's list files beside the stores (splits.load_split('test') reads them)."""
    for s in ("train", "test"):
        d = find_dir(root, lambda d: (d / f"sep_{s}list.txt").is_file(), depth=2)
        if d is not None:
            ds_home.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(d / f"sep_{s}list.txt", ds_home / f"sep_{s}list.txt")
