"""The demo clips' facts: which real video each one is cut from, the frames and crop it takes, and the
pinned sha256 of its frames (read by the catalog; made by :mod:`vsrbench.datasets.demo`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DemoClip", "DEMO_CLIPS", "demo_frame_size"]


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
