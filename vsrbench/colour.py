"""BT.601 YCbCr <-> RGB exactly as MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb`` (0..255 scale, float64).

Pure NumPy helpers shared by every stage (Y-only models get Y; their output is merged with
bicubic-upsampled Cb/Cr).
"""

from __future__ import annotations

import numpy as np

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb"]

_M = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=np.float64
) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0])
_M_INV = np.linalg.inv(_M)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``... x 3`` RGB (0..255) -> YCbCr (Y in 16..235, Cb/Cr in 16..240), float64, unrounded."""
    return rgb.astype(np.float64) @ _M.T + _OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`; float64 RGB on the 0..255 scale, unrounded and unclipped."""
    return (ycbcr.astype(np.float64) - _OFFSET) @ _M_INV.T
