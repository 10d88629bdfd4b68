"""Blur-and-subsample degradations, NumPy (float64, the reference) and torch (batched).

Two incompatible "BD" conventions exist and both are needed (protocol.md, "BD"):

``bd`` - BasicVSR / BasicVSR++ / IconVSR / mmagic / KAIR / TDAN, MATLAB ``BD_degradation.m``:
    kernel size ``k = ceil(3 sigma) * 2 + 2`` (12 for sigma 1.6, even), Gaussian on the grid
    ``-(k-1)/2 .. (k-1)/2``, normalised; ``imfilter(..., 'replicate')`` (correlation, the even
    kernel anchored at index ``(k-1)//2``); keep rows/columns ``1, 5, 9, ...`` (0-based); round.
    LR pixel ``j`` is centred at HR coordinate ``4j + 1.5``.
``bd-duf`` - DUF / PFNL / BasicSR ``duf_downsample``: 13 x 13 Gaussian, sigma ``0.4 * scale``,
    reflect-101 borders, keep every ``scale``-th pixel from 0; LR pixel ``j`` is centred at ``4j``.

The seed papers' own variants are here too: LCVSR's Gaussian blur (3 x 3, sigma 1) followed by
subsampling, and FSTRN's Gaussian smoothing (sigma 2) followed by MATLAB bicubic downscaling.
All functions take uint8 or float images in 0..255 and return float64 (unrounded); the spec layer
rounds to uint8 (halves up).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vsrbench.degradations.imresize import imresize

__all__ = [
    "gaussian_kernel_1d",
    "bd_kernel_1d",
    "bd_downsample",
    "duf_downsample",
    "gaussian_subsample",
    "blur_bicubic_downsample",
    "bd_downsample_torch",
    "duf_downsample_torch",
]


def gaussian_kernel_1d(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian on the grid ``-(size-1)/2 .. (size-1)/2`` (even sizes allowed)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    k = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return k / k.sum()


def bd_kernel_size(sigma: float) -> int:
    """MATLAB ``BD_degradation.m``: ``ceil(3 sigma) * 2 + 2`` (12 for sigma 1.6)."""
    return int(math.ceil(3 * sigma)) * 2 + 2


def bd_kernel_1d(sigma: float = 1.6) -> np.ndarray:
    return gaussian_kernel_1d(bd_kernel_size(sigma), sigma)


def _as_float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64, copy=False)


def _sep_filter(img: np.ndarray, k: np.ndarray, anchor: int, border: int) -> np.ndarray:
    """Separable correlation with the same 1-D kernel on both axes, float64 throughout."""
    kk = k.reshape(-1, 1)
    return cv2.sepFilter2D(
        _as_float(img), cv2.CV_64F, kk, kk, anchor=(anchor, anchor), delta=0.0, borderType=border
    )


def _bd_start(scale: int) -> int:
    """0-based first kept row: MATLAB ``scale/2 : scale : end - scale/2`` (1-based) for even
    scales; MATLAB cannot index by 1.5 at odd scales, where we keep the block centre ``scale // 2``."""
    return scale // 2 - 1 if scale % 2 == 0 else scale // 2


def bd_downsample(img: np.ndarray, scale: int = 4, sigma: float = 1.6) -> np.ndarray:
    """The ``bd`` convention (MATLAB ``BD_degradation.m``); returns float64, unrounded."""
    k = bd_kernel_1d(sigma)
    blurred = _sep_filter(img, k, (k.size - 1) // 2, cv2.BORDER_REPLICATE)
    start = _bd_start(scale)
    h, w = img.shape[:2]
    return blurred[start : h - scale // 2 : scale, start : w - scale // 2 : scale]


def duf_downsample(img: np.ndarray, scale: int = 4, sigma: float | None = None, size: int = 13) -> np.ndarray:
    """The ``bd-duf`` convention (DUF / BasicSR ``duf_downsample``); returns float64, unrounded."""
    sigma = 0.4 * scale if sigma is None else sigma
    k = gaussian_kernel_1d(size, sigma)
    blurred = _sep_filter(img, k, size // 2, cv2.BORDER_REFLECT_101)
    return blurred[::scale, ::scale]


def gaussian_subsample(
    img: np.ndarray, scale: int, sigma: float = 1.0, size: int = 3, offset: int = 0
) -> np.ndarray:
    """LCVSR's degradation: ``size x size`` Gaussian blur (sigma), then every ``scale``-th pixel.

    The paper gives only "Gaussian blur 3 x 3, sigma 1, then downsampling"; we keep pixels
    ``offset, offset + scale, ...`` (default 0, as DUF-style subsampling) with replicate borders.
    """
    k = gaussian_kernel_1d(size, sigma)
    blurred = _sep_filter(img, k, (size - 1) // 2, cv2.BORDER_REPLICATE)
    return blurred[offset::scale, offset::scale]


def blur_bicubic_downsample(img: np.ndarray, scale: int, sigma: float = 2.0, size: int = 5) -> np.ndarray:
    """FSTRN's degradation: Gaussian smoothing (sigma 2; 5 x 5 as its public TensorFlow code; replicate
    borders as MATLAB ``imgaussfilt``), then MATLAB bicubic ``imresize(., 1/scale)``."""
    k = gaussian_kernel_1d(size, sigma)
    blurred = _sep_filter(img, k, (size - 1) // 2, cv2.BORDER_REPLICATE)
    return imresize(blurred, 1.0 / scale)


# --------------------------------------------------------------------------------------------
# torch versions (B x C x H x W, any device, float64 inside)


def _sep_filter_torch(x, k: np.ndarray, pad_before: int, pad_after: int, mode: str):
    import torch
    import torch.nn.functional as F

    b, c, h, w = x.shape
    y = x.to(torch.float64).reshape(b * c, 1, h, w)
    y = F.pad(y, (pad_before, pad_after, pad_before, pad_after), mode=mode)
    kt = torch.from_numpy(k).to(device=x.device, dtype=torch.float64)
    y = F.conv2d(y, kt.view(1, 1, -1, 1))
    y = F.conv2d(y, kt.view(1, 1, 1, -1))
    return y.reshape(b, c, y.shape[-2], y.shape[-1])


def bd_downsample_torch(x, scale: int = 4, sigma: float = 1.6):
    """Torch ``bd`` convention on ``B x C x H x W`` (0..255); float64 result, unrounded."""
    k = bd_kernel_1d(sigma)
    anchor = (k.size - 1) // 2
    y = _sep_filter_torch(x, k, anchor, k.size - 1 - anchor, "replicate")
    h, w = x.shape[-2:]
    start = _bd_start(scale)
    return y[..., start : h - scale // 2 : scale, start : w - scale // 2 : scale]


def duf_downsample_torch(x, scale: int = 4, sigma: float | None = None, size: int = 13):
    """Torch ``bd-duf`` convention on ``B x C x H x W`` (0..255); float64 result, unrounded."""
    sigma = 0.4 * scale if sigma is None else sigma
    k = gaussian_kernel_1d(size, sigma)
    y = _sep_filter_torch(x, k, size // 2, size // 2, "reflect")
    return y[..., ::scale, ::scale]
