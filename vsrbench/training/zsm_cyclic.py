"""Zooming Slow-Mo's training-only parts (journal version, section 3.5, eqs. 8-10).

* ``rho`` (:class:`LRSynthesis`), the LR synthesis module: ``k3`` residual blocks and one conv
  (``nf -> 3``) that turn a feature map into its LR frame. The paper does not give ``k3``; 5 (its
  ``k1``) is **invented**.
* First-order cyclic interpolation loss (eq. 8): ``|| I^LGT_2t - rho(F_2t) ||_c`` on the interpolated
  features of the missing (even) frames.
* Second-order (eq. 9): the interpolated features are interpolated again (the same pyramid convs,
  PCD alignment and fusion: a **reading**), giving ``F'_2t+1`` for the inner input frames, and
  ``|| I^LGT_2t+1 - rho(F'_2t+1) ||_c``.

``rho`` never enters the inference network: ``model.pth`` keeps the official key layout; the run's
``latest.pth`` holds ``rho`` under ``aux`` for ``--resume``.
"""

from __future__ import annotations

import torch
from torch import nn

from vsrbench.models.layers import ResidualBlockNoBN, make_layer
from vsrbench.models.zsm import ZoomingSlowMo

__all__ = ["LRSynthesis", "ZSMCyclic"]


class LRSynthesis(nn.Module):
    """rho: ``(B*T) x nf x H x W`` features -> ``(B*T) x 3 x H x W`` LR frames."""

    def __init__(self, nf: int = 64, blocks: int = 5):
        super().__init__()
        self.body = make_layer(ResidualBlockNoBN, blocks, nf=nf)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.conv_last(self.body(f))


class ZSMCyclic(nn.Module):
    """The network and ``rho`` as one module (one DDP wrapper). ``forward(lr_all)``: ``lr_all`` holds
    all ``2N - 1`` LR frames ``B x (2N-1) x 3 x h x w``; the odd ones (0, 2, ...) go in. Returns
    ``(HR output, rho(F_2t), its LR targets, rho(F'_2t+1) or None, its LR targets or None)``."""

    def __init__(self, net: ZoomingSlowMo, blocks: int = 5):
        super().__init__()
        self.net = net
        self.rho = LRSynthesis(net.nf, blocks)

    def _rho(self, f: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, t = f.shape[:2]
        return self.rho(f.reshape(b * t, *f.shape[2:])).reshape(b, t, 3, *f.shape[-2:])[..., :h, :w]

    def forward(self, lr_all: torch.Tensor):
        if lr_all.dim() != 5 or lr_all.shape[1] % 2 == 0 or lr_all.shape[1] < 3:
            raise ValueError(f"ZSM cyclic training needs B x (2N-1) x 3 x h x w LR frames, N >= 2; got "
                             f"{tuple(lr_all.shape)}")
        h, w = lr_all.shape[-2:]
        y, _, inter = self.net.forward_features(lr_all[:, ::2])
        first = self._rho(inter, h, w)  # eq. 8
        second = tgt2 = None
        if inter.shape[1] >= 2:  # eq. 9: interpolate the interpolated features once more
            b, m, nf, hp, wp = inter.shape
            l2, l3 = self.net.pyramid(inter.reshape(b * m, nf, hp, wp))
            levels = [inter, l2.reshape(b, m, nf, hp // 2, wp // 2), l3.reshape(b, m, nf, hp // 4, wp // 4)]
            second = self._rho(self.net.interpolate(levels), h, w)
            tgt2 = lr_all[:, 2:-2:2]
        return y, first, lr_all[:, 1::2], second, tgt2
