"""FSTRN: fast spatio-temporal residual network (Li et al., CVPR 2019), seed 001.

Written from the architecture facts (``architectures.md``), following the common (PyTorch) reading
of the public code; no checkpoint is public. ``B x 5 x C x H x W`` (C = 1, Y in [0, 1] by default as
in the paper; ``channels=3`` for RGB) -> the centre frame ``B x 1 x C x sH x sW``.

* LFENet: ``Conv3d`` 3x3x3, C -> 64 (F0).
* 5 FRBs: ``F_d = F_{d-1} + Conv3d_3x1x1(Conv3d_1x3x3(PReLU(F_{d-1})))`` (64 maps).
* LR residual: ``F_D + F0``; then PReLU -> Dropout(0.3) (LRL).
* LSRNet: ``Conv3d`` 3x3x3 64 -> 64, ``ConvTranspose3d`` with kernel = stride = (1, s, s)
  (non-overlapping) 64 -> 64, ``Conv3d`` 3x3x3 64 -> C.
* CRL: the LR frames upscaled by plain bilinear interpolation (``align_corners=False``) are added;
  the centre frame of the volume is returned.

Model card (``paper`` = what the paper says, and where; **reading** / **invented** = a choice here):

==============  ==============================================  ============================================
layer group     paper says                                      vsrbench does (why)
==============  ==============================================  ============================================
input           5 LR frames, Y channel (sections 3, 4)          ``B x 5 x 1 x H x W`` Y; RGB with channels=3
LFENet          eq. 3.1, one C3D                                Conv3d 3x3x3 C -> 64 (64 maps: **reading**,
                                                                the paper's cost table 1 uses 64)
FRBs            eq. 3.6 ``F_d = F_{d-1} + W_t(W_s(PReLU(.)))``,  5 FRBs, W_s 1x3x3, W_t 3x1x1, PReLU per
                D = 5 (section 4)                               channel (per-channel slopes **invented**)
LRL             eq. 3.7, PReLU + dropout on ``F_D + F0``;        as eq. 3.7, dropout 0.3
                dropout 0.3 (section 4)
LSRNet          eq. 3.4: C3D fusion, deconvolution, C3D         Conv3d 3x3x3, ConvTranspose3d kernel =
                                                                stride = (1, s, s) (**reading**: the public
                                                                PyTorch code), Conv3d 3x3x3 -> C
CRL             eq. 3.8, bilinear (section 5)                   bilinear x s (align_corners False) added
output          the centre frame                                the centre frame of the volume
loss            eq. 3.9, Charbonnier ``sqrt(x^2 + eps^2)``      eps 1e-3 (**reading**: the paper names no
                                                                value; architectures.md and the public code)
==============  ==============================================  ============================================

Choices where the paper is silent: zero padding in time and space ("same" convolutions), PReLU with
one parameter per channel (64), PyTorch default initialisation. Parameters with the defaults:
0.43 M (the facts: about 0.4-0.8 M; the paper reports no count). The loss used in training is
Charbonnier (eps 1e-3) on the centre frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.registry import ModelCard, ModelSpec, register_model

__all__ = ["FSTRN", "FRB"]


class FRB(nn.Module):
    """Fast spatio-temporal residual block: ``x + W_t(W_s(PReLU(x)))``."""

    def __init__(self, nf: int = 64, k: int = 3):
        super().__init__()
        self.act = nn.PReLU(nf)
        self.conv_s = nn.Conv3d(nf, nf, (1, k, k), 1, (0, k // 2, k // 2))
        self.conv_t = nn.Conv3d(nf, nf, (k, 1, 1), 1, (k // 2, 0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_t(self.conv_s(self.act(x)))


class FSTRN(nn.Module):
    """FSTRN; see the module docstring.

    Args:
        scale: spatial factor (4).
        channels: 1 (Y, paper) or 3 (RGB).
        nf: feature maps (64).
        n_frb: number of FRBs (D = 5).
        k: kernel size (3).
        dropout: LRL dropout probability (0.3).
        nframes: frames per volume (5).
    """

    def __init__(self, scale: int = 4, channels: int = 1, nf: int = 64, n_frb: int = 5, k: int = 3,
                 dropout: float = 0.3, nframes: int = 5):
        super().__init__()
        self.scale = scale
        self.channels = channels
        self.nframes = nframes
        pad = k // 2
        self.lfe = nn.Conv3d(channels, nf, k, 1, pad)
        self.frbs = nn.Sequential(*[FRB(nf, k) for _ in range(n_frb)])
        self.lrl_act = nn.PReLU(nf)
        self.dropout = nn.Dropout(dropout)
        self.fuse = nn.Conv3d(nf, nf, k, 1, pad)
        self.up = nn.ConvTranspose3d(nf, nf, (1, scale, scale), (1, scale, scale))
        self.tail = nn.Conv3d(nf, channels, k, 1, pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[2] != self.channels:
            raise ValueError(f"FSTRN expects B x T x {self.channels} x H x W, got {tuple(x.shape)}")
        b, t, c, h, w = x.shape
        v = x.transpose(1, 2)  # B x C x T x H x W
        f0 = self.lfe(v)
        f = self.dropout(self.lrl_act(self.frbs(f0) + f0))
        y = self.tail(self.up(self.fuse(f)))  # B x C x T x sH x sW
        centre = t // 2
        base = F.interpolate(x[:, centre], scale_factor=self.scale, mode="bilinear", align_corners=False)
        return (y[:, :, centre] + base).unsqueeze(1)


FSTRN_SPEC = ModelSpec(task="vsr", frames_in=5, frames_out=1, colour="y", scales=(4,), input_range=(0.0, 1.0),
                       spatial_multiple=1)

FSTRN_CARD = ModelCard(
    paper="Li, Yan, Ren, Zhang. Fast Spatio-Temporal Residual Network for Video Super-Resolution. CVPR 2019",
    reported_params_m=None,
    notes="No checkpoint is public; the paper reports no parameter count (this implementation: 0.43 M).",
)


@register_model("fstrn", FSTRN_SPEC, FSTRN_CARD)
def fstrn(scale: int = 4, channels: int = 1, nf: int = 64, n_frb: int = 5, k: int = 3, dropout: float = 0.3,
          nframes: int = 5) -> FSTRN:
    return FSTRN(scale=scale, channels=channels, nf=nf, n_frb=n_frb, k=k, dropout=dropout, nframes=nframes)
