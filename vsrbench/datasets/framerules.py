"""What every frame source obeys, image files and video files alike: the natural order of names and
the frame-size limit (checked from a header, before anything is decoded). Shared by
:mod:`~vsrbench.datasets.frames` and :mod:`~vsrbench.datasets.video`."""

from __future__ import annotations

import os
import re

from vsrbench.errors import VsrbenchError

__all__ = ["natural_key", "DEFAULT_MAX_PIXELS", "MAX_PIXELS_ENV", "max_pixels", "parse_pixels", "check_frame_pixels"]

#: the largest frame vsrbench decodes, in pixels (8192 x 8192; an 8K UHD frame is 33 M pixels). A
#: frame declaring more is refused from its header, before anything is decoded or allocated (a
#: 1 KB PNG can declare 60000 x 60000). Raise it with ``--max-pixels N`` or ``VSRBENCH_MAX_PIXELS``.
DEFAULT_MAX_PIXELS = 8192 * 8192
MAX_PIXELS_ENV = "VSRBENCH_MAX_PIXELS"


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: ``Frame 9`` < ``Frame 10`` < ``frame 11``."""
    return [int(t) if t.isdecimal() else t.lower() for t in re.split(r"(\d+)", str(name))]  # not isdigit: '²'


def max_pixels() -> int:
    """The frame-size limit in pixels: ``$VSRBENCH_MAX_PIXELS`` (``--max-pixels`` sets it) or
    :data:`DEFAULT_MAX_PIXELS`."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        n = parse_pixels(raw)
    except ValueError as e:
        raise VsrbenchError(f"{MAX_PIXELS_ENV}={raw!r}: {e}") from None
    return n


def parse_pixels(text: str) -> int:
    """``N`` or ``WxH`` (``16384x16384``) -> a positive pixel count; ValueError otherwise."""
    t = str(text).strip().lower()
    parts = t.split("x") if "x" in t else [t]
    if len(parts) > 2 or not all(p.isascii() and p.isdigit() and len(p) <= 12 for p in parts):
        raise ValueError("not a pixel count (N, or WxH such as 16384x16384)")
    n = int(parts[0]) * (int(parts[1]) if len(parts) == 2 else 1)
    if n < 1:
        raise ValueError("a pixel count must be at least 1")
    return n


def check_frame_pixels(width: int, height: int, where) -> None:
    """Refuse a frame of ``width x height`` above :func:`max_pixels`, naming ``where`` (a file, or a
    file and frame) and the flag that raises the limit."""
    limit = max_pixels()
    if int(width) * int(height) > limit:
        raise VsrbenchError(
            f"{where}: declares a {width}x{height} frame ({int(width) * int(height) / 1e6:.1f} M pixels), above the "
            f"limit of {limit} pixels; if the frame is genuine pass --max-pixels N (or set {MAX_PIXELS_ENV})"
        )
