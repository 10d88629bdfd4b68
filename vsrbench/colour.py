"""BT.601 YCbCr <-> RGB exactly as MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb`` (0..255 scale, float64).

Pure NumPy helpers shared by every stage (Y-only models get Y; their output is merged with
bicubic-upsampled Cb/Cr).
"""

from __future__ import annotations

import numpy as np

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "BT601", "BT601_Y", "BT601_Y_DUF"]

#: ITU-R BT.601 RGB (0..255) -> YCbCr as MATLAB's ``rgb2ycbcr``, rows Y, Cb, Cr (divided by 255, plus 16, 128,
#: 128): the one definition of the weights (the metrics' Y, the models' Y input, the Y-channel training data)
BT601 = ((65.481, 128.553, 24.966), (-37.797, -74.203, 112.0), (112.0, -93.786, -18.214))
#: the Y row: ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``
BT601_Y = BT601[0]
#: ``BT601_Y / 255`` as DUF's and TecoGAN's ``rgb2ycbcr`` write it (15 digits, so not bit-equal to the
#: division): TecoGAN's printed PSNR is computed with these
BT601_Y_DUF = (0.256788235294118, 0.504129411764706, 0.097905882352941)

_M = np.array(BT601, dtype=np.float64) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0])
_M_INV = np.linalg.inv(_M)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``... x 3`` RGB (0..255) -> YCbCr (Y in 16..235, Cb/Cr in 16..240), float64, unrounded."""
    return rgb.astype(np.float64) @ _M.T + _OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`; float64 RGB on the 0..255 scale, unrounded and unclipped."""
    return (ycbcr.astype(np.float64) - _OFFSET) @ _M_INV.T
