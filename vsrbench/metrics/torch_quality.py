"""Batched torch Y-PSNR / SSIM on ``B x 3 x H x W`` tensors (any device; float64 inside).

Same definitions as :mod:`vsrbench.metrics.quality` (equal to it to ~1e-12 on CPU): inputs are RGB
on the 0..255 scale (uint8, or float already rounded with :func:`to_uint8_torch`); results are
``B``-element float64 tensors, ``+inf`` PSNR for identical frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vsrbench.colour import BT601_Y
from vsrbench.metrics.quality import C1, C2, SSIM_SIGMA, SSIM_WINDOW

__all__ = ["rgb_to_y_torch", "psnr_torch", "ssim_torch", "to_uint8_torch"]


def to_uint8_torch(x: torch.Tensor) -> torch.Tensor:
    """Round halves away from zero and clip a 0..255 tensor to uint8 (MATLAB)."""
    if x.dtype == torch.uint8:
        return x
    return torch.floor(x.to(torch.float64).clamp(0.0, 255.0) + 0.5).to(torch.uint8)


def rgb_to_y_torch(x: torch.Tensor) -> torch.Tensor:
    """``B x 3 x H x W`` RGB (0..255) -> ``B x 1 x H x W`` BT.601 Y, float64, unrounded."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected B x 3 x H x W RGB, got {tuple(x.shape)}")
    x = x.to(torch.float64)
    w = torch.tensor(BT601_Y, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    return 16.0 + (x * w).sum(dim=1, keepdim=True) / 255.0


def _prepare(pred, gt, crop_border: int, channel: str):
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: prediction {tuple(pred.shape)} vs ground truth {tuple(gt.shape)}")
    if channel == "y":
        a, b = rgb_to_y_torch(pred), rgb_to_y_torch(gt)
    elif channel == "rgb":
        a, b = pred.to(torch.float64), gt.to(torch.float64)
    else:
        raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")
    if crop_border:
        c = int(crop_border)
        a, b = a[..., c:-c, c:-c], b[..., c:-c, c:-c]
    return a, b


def psnr_torch(pred: torch.Tensor, gt: torch.Tensor, crop_border: int = 0, channel: str = "y") -> torch.Tensor:
    """Per-image PSNR (dB) of a batch; ``+inf`` where the images are identical."""
    a, b = _prepare(pred, gt, crop_border, channel)
    mse = ((a - b) ** 2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(255.0**2 / mse)


def _window(device) -> torch.Tensor:
    r = SSIM_WINDOW // 2
    x = torch.arange(-r, r + 1, dtype=torch.float64, device=device)
    g = torch.exp(-(x * x) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def ssim_torch(pred: torch.Tensor, gt: torch.Tensor, crop_border: int = 0, channel: str = "y") -> torch.Tensor:
    """Per-image SSIM of a batch (mean over channels for ``channel='rgb'``)."""
    a, b = _prepare(pred, gt, crop_border, channel)
    n, c, h, w = a.shape
    g = _window(a.device)
    gv, gh = g.view(1, 1, -1, 1), g.view(1, 1, 1, -1)

    def filt(x):
        x = x.reshape(n * c, 1, x.shape[-2], x.shape[-1])
        return F.conv2d(F.conv2d(x, gv), gh).reshape(n, c, h - SSIM_WINDOW + 1, w - SSIM_WINDOW + 1)

    mu1, mu2 = filt(a), filt(b)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = filt(a * a) - mu1_sq
    s2 = filt(b * b) - mu2_sq
    s12 = filt(a * b) - mu12
    m = ((2 * mu12 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2))
    return m.flatten(2).mean(dim=2).mean(dim=1)
