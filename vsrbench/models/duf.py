"""DUF (Jo, Oh, Kang, Kim, CVPR 2018, "Deep Video Super-Resolution Network Using Dynamic Upsampling
Filters Without Explicit Motion Compensation"): 3D-conv dense blocks predict, per LR pixel, 16
dynamic 5 x 5 upsampling filters (softmax-normalised) applied to the centre frame, plus a residual.

Registered as ``duf-16l``, ``duf-28l``, ``duf-52l`` (the paper's depths: 3 / 9 / 21 dense layers,
growth 32 / 16 / 16), BasicSR 1.4.2's ``DUF`` with ``adapt_official_weights=True`` (batch norm with
TensorFlow's epsilon 1e-3), the setting of its converted checkpoints ``DUF_x4_{16,28,52}L_official-*.pth``
(and ``DUF_x{2,3}_16L_official-*.pth`` for ``duf-16l`` at x2 / x3).

``forward`` is BasicSR's: ``B x 7 x 3 x H x W`` RGB in [0, 1] -> ``B x 3 x sH x sW``; the network has
no spatial padding of its own beyond its convs' (the 3D convs pad H and W by 1, the temporal
axis shrinks 7 -> 1 in the last three dense layers). Harness (``options/test/DUF/test_DUF_official.yml``):
7-frame windows padded with ``reflection_circle`` (BasicSR's choice; the original TensorFlow code
pads the clip with zero frames: ``--padding zeros``), inputs made with DUF's Gaussian downsampling
(suite ``vid4-bd-duf``: 13 x 13, sigma 1.6, reflect padding), scored on Y with an 8-pixel border crop.
Written from the paper and from reading BasicSR's ``archs/duf_arch.py``; function checked against
that code in ``tests/test_refmodels_window.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.registry import ModelCard, ModelSpec, register_model
from vsrbench.models.weights import get_weights

__all__ = ["DUF", "DUF_DEPTHS"]

#: layers -> (dense layers in the first block, growth rate)
DUF_DEPTHS = {16: (3, 32), 28: (9, 16), 52: (21, 16)}

#: the size of the dynamic filters
FILTER = 5


def _bn(channels: int, official: bool) -> nn.BatchNorm3d:
    # TensorFlow's defaults (epsilon 1e-3) for the converted weights, PyTorch's otherwise
    return nn.BatchNorm3d(channels, eps=1e-3, momentum=1e-3) if official else nn.BatchNorm3d(channels)


def _dense_layer(cin: int, growth: int, official: bool, temporal_pad: int) -> nn.Sequential:
    """BN-ReLU-Conv(1x1x1)-BN-ReLU-Conv(3x3x3): ``cin`` -> ``growth`` channels (children 0..5)."""
    return nn.Sequential(
        _bn(cin, official), nn.ReLU(inplace=True), nn.Conv3d(cin, cin, 1),
        _bn(cin, official), nn.ReLU(inplace=True), nn.Conv3d(cin, growth, 3, 1, (temporal_pad, 1, 1)),
    )


class DenseBlocks(nn.Module):
    """``n`` dense layers keeping T (3 x 3 x 3 convs padded in time): ``C -> C + n * growth``."""

    def __init__(self, n: int, num_feat: int, growth: int, official: bool):
        super().__init__()
        self.dense_blocks = nn.ModuleList([_dense_layer(num_feat + i * growth, growth, official, 1) for i in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.dense_blocks:
            x = torch.cat((x, layer(x)), 1)
        return x


class DenseBlocksTemporalReduce(nn.Module):
    """Three dense layers without temporal padding (T -> T - 6); the kept input is cropped in time to match."""

    def __init__(self, num_feat: int, growth: int, official: bool):
        super().__init__()
        for i in range(3):
            setattr(self, f"temporal_reduce{i + 1}", _dense_layer(num_feat + i * growth, growth, official, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(3):
            y = getattr(self, f"temporal_reduce{i + 1}")(x)
            x = torch.cat((x[:, :, 1:-1], y), 1)
        return x


def dynamic_upsample(frame: torch.Tensor, filters: torch.Tensor, size: int = FILTER) -> torch.Tensor:
    """Apply per-pixel filters to every channel: ``frame`` ``B x C x H x W``, ``filters``
    ``B x size^2 x s^2 x H x W`` -> ``B x C * s^2 x H x W`` (``out[c * s^2 + j] = sum_k f[k, j] * patch_k``,
    the ``size x size`` neighbourhood zero-padded, row-major)."""
    b, c, h, w = frame.shape
    patches = F.unfold(frame, size, padding=size // 2).reshape(b, c, size * size, h * w)
    out = torch.einsum("bckp,bkjp->bcjp", patches, filters.reshape(b, size * size, -1, h * w))
    return out.reshape(b, -1, h, w)


class DUF(nn.Module):
    """DUF-``num_layer`` for x``scale`` (``num_layer`` 16, 28 or 52)."""

    def __init__(self, scale: int = 4, num_layer: int = 52, adapt_official_weights: bool = True):
        super().__init__()
        if num_layer not in DUF_DEPTHS:
            raise ValueError(f"DUF has 16, 28 or 52 layers, got {num_layer}")
        self.scale = int(scale)
        n, growth = DUF_DEPTHS[num_layer]
        official = adapt_official_weights
        self.conv3d1 = nn.Conv3d(3, 64, (1, 3, 3), 1, (0, 1, 1))
        self.dense_block1 = DenseBlocks(n, 64, growth, official)
        self.dense_block2 = DenseBlocksTemporalReduce(64 + n * growth, growth, official)
        channels = 64 + (n + 3) * growth
        self.bn3d2 = _bn(channels, official)
        self.conv3d2 = nn.Conv3d(channels, 256, (1, 3, 3), 1, (0, 1, 1))
        self.conv3d_r1 = nn.Conv3d(256, 256, 1)
        self.conv3d_r2 = nn.Conv3d(256, 3 * self.scale**2, 1)
        self.conv3d_f1 = nn.Conv3d(256, 512, 1)
        self.conv3d_f2 = nn.Conv3d(512, FILTER * FILTER * self.scale**2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        s2 = self.scale**2
        centre = x[:, t // 2]
        feat = self.dense_block2(self.dense_block1(self.conv3d1(x.transpose(1, 2))))
        feat = F.relu(self.conv3d2(F.relu(self.bn3d2(feat))))  # B x 256 x 1 x H x W
        residual = self.conv3d_r2(F.relu(self.conv3d_r1(feat))).squeeze(2)
        logits = self.conv3d_f2(F.relu(self.conv3d_f1(feat))).reshape(b, FILTER * FILTER, s2, h, w)
        out = dynamic_upsample(centre, torch.softmax(logits, dim=1)) + residual
        return F.pixel_shuffle(out, self.scale)


_NOTES = ("BasicSR's DUF (adapt_official_weights=True); harness as test_DUF_official.yml: 7-frame windows "
          "padded with reflection_circle (the original code pads with zero frames), LR by DUF's Gaussian "
          "downsampling (suite vid4-bd-duf), Y with an 8-pixel crop.")
_PAPER = ("Jo et al., Deep Video Super-Resolution Network Using Dynamic Upsampling Filters Without Explicit "
          "Motion Compensation, CVPR 2018")


def _register(layers: int, scales: tuple[int, ...], params_m: float | None) -> None:
    ckpt = get_weights(f"duf-{layers}l", "official").filename
    spec = ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="rgb", scales=scales)
    card = ModelCard(paper=_PAPER, reported_params_m=params_m, checkpoint_name=ckpt, notes=_NOTES,
                     checkpoint_url="https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md")

    def factory(scale: int = scales[-1], **kw):
        return DUF(scale=scale, num_layer=layers, **kw)

    factory.__name__ = factory.__qualname__ = f"duf_{layers}l"
    register_model(f"duf-{layers}l", spec, card)(factory)


_register(16, (2, 3, 4), None)
_register(28, (4,), None)
_register(52, (4,), 5.8)
