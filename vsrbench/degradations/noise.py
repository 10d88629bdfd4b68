"""Noise and compression degradations (NumPy; uint8 RGB in, uint8 RGB out).

Randomness always comes from a ``numpy.random.Generator`` the caller passes, so the spec layer
can seed it from (dataset, clip, frame index, spec) and outputs are byte-identical everywhere.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["gaussian_impulse_noise", "jpeg_roundtrip"]


def gaussian_impulse_noise(
    img: np.ndarray, rng: np.random.Generator, sigma: float = 25.5, p: float = 0.1
) -> np.ndarray:
    """ToFlow / Zooming Slow-Mo noisy setting, on the 0..255 scale.

    Adds zero-mean Gaussian noise of standard deviation ``sigma``, then replaces a fraction ``p``
    of the pixels (one mask shared by the channels) with uniform random values drawn per channel
    (random-valued impulse noise, not 0/255 salt and pepper); clips to 0..255 and rounds.
    """
    x = img.astype(np.float64)
    x = x + rng.normal(0.0, sigma, size=x.shape)
    mask = rng.random(size=x.shape[:2]) < p
    impulses = rng.uniform(0.0, 255.0, size=x.shape)
    x = np.where(mask[..., None] if x.ndim == 3 else mask, impulses, x)
    return np.floor(np.clip(x, 0.0, 255.0) + 0.5).astype(np.uint8)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Baseline JPEG encode at ``quality`` (1..100, OpenCV/libjpeg, 4:2:0) and decode."""
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    bgr = np.ascontiguousarray(img[:, :, ::-1]) if img.ndim == 3 else img
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(dec[:, :, ::-1]) if dec.ndim == 3 else dec
