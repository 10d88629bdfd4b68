"""Make LR clips from a folder of GT clips (the I/O edge of :mod:`vsrbench.degradations`).

``degrade_folder(input, output, spec)`` mirrors ``input/<clip>/<frames>`` into ``output`` with each
kept frame degraded and written as PNG under its GT name (``.png`` extension); a video file
``input/<clip>.mp4`` (mkv, avi, y4m) becomes ``output/<clip>/<frame index, 8 digits>.png``. Work is split per
frame over joblib workers; random ops are seeded per (dataset, clip, frame index, spec), so the
output bytes do not depend on the worker count or order. The output folder appears only when
complete.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vsrbench.datasets.frames import (atomic_output_dir, check_frame_header, list_clip_sources, list_frames, read_frame,
                                      write_frame)
from vsrbench.degradations.spec import parse_spec
from vsrbench.errors import VsrbenchError
from vsrbench.numeric import check_workers
from vsrbench.outputs import ensure_parent, safe_child

__all__ = ["degrade_folder", "check_clip_frames", "lr_store_staleness", "remove_store", "DEGRADATION_CODE_KEY"]

# the key under which an LR store's marker records the degradation code that made it
DEGRADATION_CODE_KEY = "degradation_code"


def lr_store_staleness(meta: dict) -> str | None:
    """Why an LR store (its marker ``meta``) was made by other degradation code, or None when it is
    current. A GT store is never stale; a store without the key predates the versioning."""
    from vsrbench.codeversion import degradation_code_version

    if meta.get("variant", "GT") == "GT" or meta.get("lr_origin"):  # GT, or the source's own LR files
        return None
    have, now = meta.get(DEGRADATION_CODE_KEY), degradation_code_version()
    if have == now:
        return None
    return (f"made by degradation code {have or '(unversioned)'}, this vsrbench's is {now}")


def remove_store(path: str | os.PathLike) -> None:
    """Delete a store (LMDB folder, HDF5 file or folder tree): first renamed out of the way, so a
    crash never leaves a half-deleted store under the name readers look for."""
    import shutil

    path = Path(path)
    trash = path.with_name(f"{path.name}.stale-{os.getpid()}")
    os.replace(path, trash)
    if trash.is_dir():
        shutil.rmtree(trash)
    else:
        trash.unlink()


#: frame numbers of a clip start at 0 or 1 (``00000000.png``, BasicSR; ``Frame 001.png``, Vid4;
#: ``im1.png``, Vimeo-90K): a clip starting later has lost its first frame(s)
FIRST_FRAME_NUMBERS = (0, 1)


def frame_numbers(frames: list[Path]) -> list[int] | None:
    """The numbers of a clip's frames (``<prefix><digits>``, one prefix), or None when they are not
    numbered so (arbitrary names: no numbering to check)."""
    nums = []
    for p in frames:
        m = re.fullmatch(r"(.*?)(\d+)", p.stem)
        if not m:
            return None
        nums.append((m.group(1), int(m.group(2))))
    if len({pre for pre, _ in nums}) != 1:
        return None
    return [n for _, n in nums]


def first_frame_number(starts) -> int:
    """The first frame number of a folder of clips: 0 when any numbered clip starts at 0, else 1."""
    return 0 if 0 in set(starts) else 1


def check_clip_frames(clip_dir: Path, frames: list[Path], start: int | None = None) -> None:
    """Refuse a numbering gap (``Frame 001``, ``Frame 002``, ``Frame 004``): a missing frame,
    counted from the first expected number ``start`` (default: 0 or 1, :data:`FIRST_FRAME_NUMBERS`),
    so that a missing first frame is a gap too."""
    values = frame_numbers(frames)
    if values is None:
        return
    first = start if start is not None else (values[0] if values[0] in FIRST_FRAME_NUMBERS else 1)
    missing = sorted(set(range(first, max(values) + 1)) - set(values))
    if missing or len(set(values)) != len(values):
        shown = ", ".join(str(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
        why = f"missing frame number(s) {shown}" if missing else "a frame number appears twice"
        if missing and missing[0] == first and start is not None:
            why += f"; the frames of this folder's clips start at {first}"
        raise VsrbenchError(
            f"{clip_dir}: frame numbering has a gap ({why}); "
            f"restore the missing frame(s) or pass --allow-gaps to degrade the frames as they are"
        )


def _degrade_one(src, dst: str, spec: str, dataset: str, clip: str, index: int, expect_shape):
    img = read_frame(src) if isinstance(src, str) else src  # a frame file, or a decoded video frame
    if expect_shape is not None and img.shape != tuple(expect_shape):
        raise VsrbenchError(
            f"{src}: frame shape {img.shape[1]}x{img.shape[0]} differs from the clip's first frame "
            f"({expect_shape[1]}x{expect_shape[0]}); all frames of a clip must have one size"
        )
    lr = parse_spec(spec).apply_frame(img, dataset=dataset, clip=clip, index=index)
    write_frame(dst, lr)
    return lr.shape


def _with_video_tasks(folder_tasks, videos: dict, clips: list, tmp: Path, spec: str, dataset: str):
    """The folder clips' tasks, then each video clip's, its frames decoded one at a time (named
    ``00000000.png`` ...: the frame index in the video)."""
    from joblib import delayed

    from vsrbench.datasets.video import iter_video

    yield from folder_tasks
    for clip in clips:
        if clip in videos:
            path, keep = videos[clip]
            for i, frame in enumerate(iter_video(path)):
                if i in keep:
                    dst = safe_child(tmp, clip, f"{i:08d}.png", what="clip")
                    yield delayed(_degrade_one)(frame, str(dst), spec, dataset, clip, i, None)


def degrade_folder(
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    spec: str,
    *,
    workers: int = 1,
    dataset: str = "",
    overwrite: bool = False,
    allow_gaps: bool = False,
    progress: bool = True,
) -> dict:
    """Degrade every clip of ``input_dir`` into ``output_dir``; returns a summary dict.

    Args:
        spec: a degradation spec (:func:`vsrbench.degradations.parse_spec`), e.g. ``bi:x4``.
        workers: joblib worker processes (the output is identical for any count).
        dataset: name mixed into the seeds of random ops (``prepare`` passes the dataset name).
        allow_gaps: accept clips whose frame numbers have gaps.
    """
    deg = parse_spec(spec)
    workers = check_workers(workers, "workers")
    ensure_parent(output_dir, "choose another --output")
    input_dir = Path(input_dir)
    sources = list_clip_sources(input_dir)  # clip folders and/or video files (one clip each)
    clips = list(sources)
    jobs = []
    videos = {}  # clip -> (video file, kept frame indices); frames are decoded while the jobs run
    listed = {clip: list_frames(src) for clip, src in sources.items() if src.is_dir()}
    start = first_frame_number(n[0] for n in map(frame_numbers, listed.values()) if n)
    for clip, src in sources.items():
        if not src.is_dir():
            from vsrbench.datasets.video import count_video_frames

            keep = deg.select_frames(count_video_frames(src))  # decoded and checked before any output
            videos[clip] = (src, set(keep))
            jobs += [(clip, i, None, None) for i in keep]
            continue
        frames = listed[clip]
        if not allow_gaps:
            check_clip_frames(src, frames, start)
        for f in frames:  # every frame's declared size, before any output exists
            check_frame_header(f)
        first = read_frame(frames[0])
        deg.check_frame_size(first.shape[0], first.shape[1], str(frames[0]))  # before any output exists
        for i in deg.select_frames(len(frames)):
            jobs.append((clip, i, frames[i], first.shape))
    from joblib import Parallel, delayed
    from tqdm import tqdm

    with atomic_output_dir(output_dir, overwrite=overwrite) as tmp:
        for clip in clips:
            safe_child(tmp, clip, what="clip").mkdir(parents=True)
        tasks = (
            delayed(_degrade_one)(str(src), str(safe_child(tmp, clip, src.stem + ".png", what="frame")), deg.spec,
                                  dataset, clip, i, shape)
            for clip, i, src, shape in jobs
            if clip not in videos
        )
        if videos:
            tasks = _with_video_tasks(tasks, videos, clips, tmp, deg.spec, dataset)
        it = tqdm(total=len(jobs), desc=f"degrade {deg.spec}", unit="frame", disable=not progress)
        if workers > 1:
            runner = Parallel(n_jobs=workers, return_as="generator", batch_size=4)
            for _ in runner(tasks):
                it.update()
        else:
            for fn, args, kwargs in tasks:
                fn(*args, **kwargs)
                it.update()
        it.close()
    return {"spec": deg.spec, "scale": deg.scale, "clips": len(clips), "frames": len(jobs), "output": str(output_dir)}
