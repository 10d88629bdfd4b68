"""Y-channel PSNR and SSIM exactly as the VSR literature computes them (NumPy, float64 reference).

Protocol (``shared/reference/protocol.md``, checked against published Vid4 numbers):

* Y = ITU-R BT.601 as MATLAB ``rgb2ycbcr``: ``16 + (65.481 R + 128.553 G + 24.966 B) / 255`` on
  uint8 values, float64, **not rounded**.
* PSNR = ``10 log10(255^2 / MSE)`` after cropping ``crop_border`` pixels on every side; identical
  frames give ``+inf`` (callers keep it out of means and report it).
* SSIM (Wang et al. 2004, MATLAB reference): 11 x 11 Gaussian window (sigma 1.5, normalised),
  statistics by filtering, 'valid' part only, ``C1 = (0.01 * 255)^2``, ``C2 = (0.03 * 255)^2``,
  mean of the map. For ``channel='rgb'`` the mean over the three channels' SSIM (BasicSR).

Inputs are ``H x W x 3`` RGB arrays, uint8 or float already on the 0..255 scale (a model output
must be rounded and clipped to uint8 first: :func:`to_uint8`). The Gaussian filtering is separable
(two 11-tap passes instead of one 121-tap pass), which is where the speed comes from.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vsrbench.colour import BT601_Y

__all__ = ["rgb_to_y", "psnr", "ssim", "psnr_ssim", "to_uint8", "SSIM_WINDOW", "SSIM_SIGMA", "C1", "C2"]

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
_Y_WEIGHTS = np.array(BT601_Y, dtype=np.float64)
_Y_ROW = (_Y_WEIGHTS / 255.0).reshape(1, 3)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Round (halves away from zero, as MATLAB) and clip a 0..255 float image to uint8."""
    if x.dtype == np.uint8:
        return x
    return np.floor(np.clip(x, 0.0, 255.0) + 0.5).astype(np.uint8)


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB ``H x W x 3`` image (0..255), float64, unrounded (MATLAB ``rgb2ycbcr``)."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"rgb_to_y expects H x W x 3 RGB, got shape {img.shape}")
    y = cv2.transform(img.astype(np.float64, copy=False), _Y_ROW)  # one SIMD pass, H x W
    y += 16.0
    return y


def _prepare(pred: np.ndarray, gt: np.ndarray, crop_border: int, channel: str) -> tuple[np.ndarray, np.ndarray]:
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs ground truth {gt.shape}")
    if channel == "y":
        a, b = rgb_to_y(pred), rgb_to_y(gt)
    elif channel == "rgb":
        a, b = pred.astype(np.float64), gt.astype(np.float64)
    else:
        raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")
    if crop_border:
        c = int(crop_border)
        a, b = a[c:-c, c:-c], b[c:-c, c:-c]
    return a, b


def psnr(pred: np.ndarray, gt: np.ndarray, crop_border: int = 0, channel: str = "y") -> float:
    """PSNR in dB (``+inf`` for identical inputs)."""
    a, b = _prepare(pred, gt, crop_border, channel)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def _gauss_1d() -> np.ndarray:
    g = cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA, cv2.CV_64F)
    return g / g.sum()


_G = _gauss_1d()


def _filter_valid(x: np.ndarray) -> np.ndarray:
    r = SSIM_WINDOW // 2
    return cv2.sepFilter2D(x, cv2.CV_64F, _G, _G, borderType=cv2.BORDER_REFLECT_101)[r:-r, r:-r]


def _ssim_2d(a: np.ndarray, b: np.ndarray, strip: int = 32) -> float:
    # The map only needs sigma1^2 + sigma2^2, so E[a^2 + b^2] is filtered once: four filterings
    # instead of five (identical up to float64 rounding, ~1e-14). The map is then combined in strips
    # of rows that stay in the CPU cache.
    mu1 = _filter_valid(a)
    mu2 = _filter_valid(b)
    sum_sq = a * a
    sum_sq += b * b
    e_sum = _filter_valid(sum_sq)
    e12 = _filter_valid(a * b)
    total = 0.0
    for r in range(0, mu1.shape[0], strip):
        m1, m2 = mu1[r : r + strip], mu2[r : r + strip]
        mu12 = m1 * m2
        mu_sq = m1 * m1
        mu_sq += m2 * m2
        s_sum = e_sum[r : r + strip] - mu_sq
        s_sum += C2
        s12 = e12[r : r + strip] - mu12
        s12 *= 2.0
        s12 += C2
        mu12 *= 2.0
        mu12 += C1
        mu12 *= s12
        mu_sq += C1
        mu_sq *= s_sum
        mu12 /= mu_sq
        total += float(mu12.sum())
    return total / mu1.size


def ssim(pred: np.ndarray, gt: np.ndarray, crop_border: int = 0, channel: str = "y") -> float:
    """SSIM (Wang et al. 2004, MATLAB reference) on Y or on RGB (mean of the channels)."""
    a, b = _prepare(pred, gt, crop_border, channel)
    if a.shape[0] < SSIM_WINDOW or a.shape[1] < SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after cropping, got {a.shape[:2]}")
    if a.ndim == 2:
        return _ssim_2d(a, b)
    return float(np.mean([_ssim_2d(a[:, :, c], b[:, :, c]) for c in range(a.shape[2])]))


def psnr_ssim(pred: np.ndarray, gt: np.ndarray, crop_border: int = 0, channel: str = "y") -> tuple[float, float]:
    """``(psnr(...), ssim(...))`` with one colour conversion; the values equal the two calls'."""
    a, b = _prepare(pred, gt, crop_border, channel)
    mse = np.mean((a - b) ** 2)
    p = math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
    if a.shape[0] < SSIM_WINDOW or a.shape[1] < SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after cropping, got {a.shape[:2]}")
    if a.ndim == 2:
        return p, _ssim_2d(a, b)
    return p, float(np.mean([_ssim_2d(np.ascontiguousarray(a[:, :, c]), np.ascontiguousarray(b[:, :, c])) for c in range(a.shape[2])]))
