"""The embedded demo dataset: synthetic camera motion over real photographs (no download).

Each clip is rendered from one photograph that ships inside scikit-image (astronaut, coffee,
chelsea, rocket, hubble_deep_field, immunohistochemistry, retina) by a smooth sub-pixel camera path:
a pan along a curve, a slow zoom and a slight rotation. Every frame is rendered directly from the
full-resolution photograph by one affine warp: the photo is first low-passed by a Gaussian matched to
the frame's sampling step (anti-aliasing), then resampled with Lanczos-4. The motion is synthetic;
the image content is real. Frames are ``DEMO_SIZE`` (H x W) = 192 x 256, a multiple of 16, so every
scale (x2 ... x16) applies without cropping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["DemoClip", "DEMO_CLIPS", "DEMO_SIZE", "render_demo_clip", "demo_photo"]

DEMO_SIZE = (192, 256)


@dataclass(frozen=True)
class DemoClip:
    photo: str  # skimage.data function name
    frames: int
    view: float  # fraction of the photo's short side covered by the frame height at t = 0
    pan: tuple[float, float]  # pan amplitude (x, y) as fractions of the free margin
    zoom: float  # total relative zoom over the clip (0.1 = 10% closer at the end)
    rotation_deg: float  # total rotation over the clip
    phase: float = 0.0


DEMO_CLIPS: dict[str, DemoClip] = {
    "astronaut": DemoClip("astronaut", 24, 0.55, (0.8, 0.3), 0.10, 2.0),
    "coffee": DemoClip("coffee", 20, 0.60, (0.9, 0.2), -0.08, -1.5, 0.5),
    "chelsea": DemoClip("chelsea", 16, 0.75, (0.6, 0.4), 0.06, 1.0, 1.0),
    "rocket": DemoClip("rocket", 20, 0.55, (0.7, 0.5), 0.12, -2.0, 1.5),
    "hubble": DemoClip("hubble_deep_field", 24, 0.35, (0.8, 0.8), 0.15, 3.0, 2.0),
    "ihc": DemoClip("immunohistochemistry", 20, 0.45, (0.9, 0.6), -0.10, 2.5, 2.5),
    "retina": DemoClip("retina", 16, 0.30, (0.7, 0.7), 0.08, -1.0, 3.0),
}


def demo_photo(name: str) -> np.ndarray:
    """The full-resolution RGB uint8 photograph behind a demo clip (from ``skimage.data``)."""
    import skimage.data

    img = getattr(skimage.data, DEMO_CLIPS[name].photo)()
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def _camera(clip: DemoClip, photo_hw: tuple[int, int], t: float) -> tuple[float, float, float, float]:
    """(centre x, centre y, source pixels per frame pixel, rotation radians) at time t in [0, 1]."""
    ph, pw = photo_hw
    fh, fw = DEMO_SIZE
    step0 = clip.view * min(ph, pw) / fh
    step = step0 / (1.0 + clip.zoom * t)
    step_max = max(step0, step0 / (1.0 + clip.zoom))
    # half-extent of the rotated frame footprint, so the view never leaves the photo
    half_diag = 0.5 * math.hypot(fh, fw) * step_max
    mx = max(pw / 2 - half_diag, 0.0)
    my = max(ph / 2 - half_diag, 0.0)
    a = 2 * math.pi * (0.5 * t) + clip.phase  # half a period over the clip: smooth, non-repeating
    cx = pw / 2 + clip.pan[0] * mx * math.sin(a)
    cy = ph / 2 + clip.pan[1] * my * math.sin(0.7 * a + 0.3)
    return cx, cy, step, math.radians(clip.rotation_deg * t)


def render_demo_clip(name: str, frames: int | None = None) -> list[np.ndarray]:
    """Render the demo clip ``name``: a list of uint8 RGB frames of size ``DEMO_SIZE``."""
    if name not in DEMO_CLIPS:
        raise KeyError(f"unknown demo clip {name!r}; clips: {', '.join(DEMO_CLIPS)}")
    clip = DEMO_CLIPS[name]
    n = clip.frames if frames is None else int(frames)
    photo = demo_photo(name).astype(np.float32)
    fh, fw = DEMO_SIZE
    out = []
    blurred_cache: dict[float, np.ndarray] = {}
    for i in range(n):
        t = i / max(n - 1, 1)
        cx, cy, step, theta = _camera(clip, photo.shape[:2], t)
        sigma = round(max(0.0, 0.5 * math.sqrt(max(step * step - 1.0, 0.0))), 2)
        if sigma not in blurred_cache:
            blurred_cache[sigma] = cv2.GaussianBlur(photo, (0, 0), sigma) if sigma > 0 else photo
        src = blurred_cache[sigma]
        c, s = math.cos(theta) * step, math.sin(theta) * step
        # frame pixel (u, v) -> photo (x, y) = centre + R(theta) * step * ((u, v) - frame centre)
        ou, ov = (fw - 1) / 2, (fh - 1) / 2
        m = np.array([[c, -s, cx - c * ou + s * ov], [s, c, cy - s * ou - c * ov]], dtype=np.float64)
        frame = cv2.warpAffine(
            src, m, (fw, fh), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101
        )
        out.append(np.floor(np.clip(frame, 0, 255) + 0.5).astype(np.uint8))
    return out
