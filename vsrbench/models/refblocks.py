"""Blocks shared by the recurrent reference models (BasicVSR, IconVSR, BasicVSR++).

Written from the papers (Chan et al., CVPR 2021 and CVPR 2022; Ranjan & Black, CVPR 2017 for
SPyNet) and from reading the official code (BasicSR
1.4.2 ``archs/*_arch.py``, MMagic 1.2.0 ``basicvsr_net.py``); no code is copied. Module and
parameter names are the official ones, so that released checkpoints load with ``strict=True``.

* :class:`SpyNet`: the 6-level spatial pyramid flow network, in either key layout
  (``'basicsr'``: plain convs ``basic_module.L.basic_module.{0,2,4,6,8}``; ``'mmagic'``:
  ConvModule-style ``basic_module.L.basic_module.{0..4}.conv``).
* :func:`pairwise_flows`: SPyNet between neighbours, both directions.
* :class:`ResidualBlocksWithInputConv`: conv + LeakyReLU + residual blocks (BasicSR's
  ``ConvResidualBlocks``; MMagic's ``ResidualBlocksWithInputConv``; keys ``main.0`` / ``main.2.i``).
* :class:`PixelShufflePack`: conv then pixel shuffle (MMagic's key ``upsample_conv``).
* :class:`BasicSRX4Head`: BasicSR's x4 reconstruction (``upconv1`` / ``upconv2`` / ``conv_hr`` /
  ``conv_last`` on the model itself) plus the bilinear x4 of the LR frame.

``flow_warp`` and ``lrelu`` are :mod:`vsrbench.models.layers`'; EDVR's PCD alignment and TSA fusion
(IconVSR's keyframe features) are :mod:`vsrbench.models.edvr_blocks`'.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.layers import ResidualBlockNoBN, flow_warp, lrelu, make_layer
from vsrbench.models.spec import ModelSpec

__all__ = [
    "RECURRENT_X4_SPEC",
    "SpyNet",
    "pairwise_flows",
    "ResidualBlocksWithInputConv",
    "PixelShufflePack",
    "BasicSRX4Head",
]

#: BasicVSR, IconVSR, BasicVSR++: RGB in [0, 1], x4, the whole clip per call (BasicSR's and MMagic's
#: test scripts feed the recurrent models every frame of a clip at once)
RECURRENT_X4_SPEC = ModelSpec(task="vsr", frames_in="recurrent", frames_out=1, colour="rgb", scales=(4,))

_SLOPE = 0.1


class _ConvAct(nn.Module):
    """A conv with its activation, parameters under ``conv`` (MMCV ``ConvModule`` naming)."""

    def __init__(self, cin: int, cout: int, relu: bool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 7, 1, 3)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return F.relu(x) if self.relu else x


class _SpyLevel(nn.Module):
    """One pyramid level: five 7x7 convs 8 -> 32 -> 64 -> 32 -> 16 -> 2, ReLU between."""

    WIDTHS = (8, 32, 64, 32, 16, 2)

    def __init__(self, layout: str):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(self.WIDTHS[:-1], self.WIDTHS[1:])):
            last = i == len(self.WIDTHS) - 2
            if layout == "mmagic":
                layers.append(_ConvAct(cin, cout, relu=not last))
            else:
                layers.append(nn.Conv2d(cin, cout, 7, 1, 3))
                if not last:
                    layers.append(nn.ReLU())
        self.basic_module = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basic_module(x)


class SpyNet(nn.Module):
    """SPyNet (Ranjan & Black 2017) as BasicVSR uses it: ``forward(ref, supp)`` is the flow from
    ``ref`` to ``supp`` (``N x 2 x H x W``, pixels), so ``flow_warp(supp, flow)`` looks like ``ref``.

    Inputs are RGB in [0, 1], normalised by the ImageNet mean / std (buffers ``mean``, ``std``, part
    of the official state_dicts), resized (bilinear) to multiples of 32 and reduced 5 times by 2x2
    average pooling. From a zero flow at the coarsest level, each level adds the residual its
    network predicts from ``[ref, supp warped (border padding), flow]`` to the flow upsampled by 2
    (bilinear, ``align_corners=True``, values doubled). The result is resized back and its x / y
    components scaled by ``w / w32`` and ``h / h32``.

    ``layout``: ``'basicsr'`` or ``'mmagic'`` key names (same function).
    """

    LEVELS = 6

    def __init__(self, layout: str = "basicsr"):
        super().__init__()
        if layout not in ("basicsr", "mmagic"):
            raise ValueError(f"SpyNet layout must be 'basicsr' or 'mmagic', got {layout!r}")
        self.basic_module = nn.ModuleList(_SpyLevel(layout) for _ in range(self.LEVELS))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def _pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        levels = [(x - self.mean) / self.std]
        for _ in range(self.LEVELS - 1):
            levels.append(F.avg_pool2d(levels[-1], kernel_size=2, stride=2, count_include_pad=False))
        return levels[::-1]  # coarsest first

    def _flow32(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        refs, supps = self._pyramid(ref), self._pyramid(supp)
        n, _, h0, w0 = refs[0].shape
        flow = refs[0].new_zeros(n, 2, h0, w0)
        for level, net in enumerate(self.basic_module):
            if level > 0:
                flow = 2.0 * F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True)
            warped = flow_warp(supps[level], flow, padding_mode="border")
            flow = flow + net(torch.cat((refs[level], warped, flow), dim=1))
        return flow

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        h, w = ref.shape[-2:]
        h32, w32 = -(-h // 32) * 32, -(-w // 32) * 32
        size = (h32, w32)
        ref = F.interpolate(ref, size=size, mode="bilinear", align_corners=False)
        supp = F.interpolate(supp, size=size, mode="bilinear", align_corners=False)
        flow = F.interpolate(self._flow32(ref, supp), size=(h, w), mode="bilinear", align_corners=False)
        scale = flow.new_tensor([w / w32, h / h32]).view(1, 2, 1, 1)
        return flow * scale


def pairwise_flows(spynet: SpyNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flows between neighbours of ``x`` (``N x T x C x H x W``), each ``N x (T-1) x 2 x H x W``:
    ``forward[:, i]`` from frame ``i+1`` to frame ``i`` (warps the state of frame ``i`` to ``i+1``,
    used by the forward-in-time branch), ``backward[:, i]`` from frame ``i`` to ``i+1``."""
    n, t, c, h, w = x.shape
    earlier = x[:, :-1].reshape(-1, c, h, w)
    later = x[:, 1:].reshape(-1, c, h, w)
    backward = spynet(earlier, later).view(n, t - 1, 2, h, w)
    forward = spynet(later, earlier).view(n, t - 1, 2, h, w)
    return forward, backward


class ResidualBlocksWithInputConv(nn.Module):
    """``main = [conv3x3 in -> out, LeakyReLU(0.1), num_blocks x ResidualBlockNoBN(out)]``."""

    def __init__(self, in_channels: int, out_channels: int = 64, num_blocks: int = 30):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=True),
            nn.LeakyReLU(negative_slope=_SLOPE, inplace=True),
            make_layer(ResidualBlockNoBN, num_blocks, nf=out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class PixelShufflePack(nn.Module):
    """``pixel_shuffle(upsample_conv(x), scale)``: a ``kernel x kernel`` conv to ``out * scale**2``
    channels, then sub-pixel rearrangement."""

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel: int = 3):
        super().__init__()
        self.scale = scale
        self.upsample_conv = nn.Conv2d(in_channels, out_channels * scale * scale, kernel, padding=(kernel - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.upsample_conv(x), self.scale)


class BasicSRX4Head(nn.Module):
    """Mixin: BasicSR's x4 reconstruction of BasicVSR / IconVSR, its layers on the model itself.

    ``hr = conv_last(lrelu(conv_hr(lrelu(ps(upconv2(lrelu(ps(upconv1(feat)))))))))
    + bilinear_x4(lr)`` (``ps``: pixel shuffle by 2; bilinear with ``align_corners=False``).
    """

    def _init_head(self, num_feat: int) -> None:
        self.upconv1 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1, bias=True)
        self.upconv2 = nn.Conv2d(num_feat, 64 * 4, 3, 1, 1, bias=True)
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)

    def _to_hr(self, feat: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        out = lrelu(F.pixel_shuffle(self.upconv1(feat), 2))
        out = lrelu(F.pixel_shuffle(self.upconv2(out), 2))
        out = self.conv_last(lrelu(self.conv_hr(out)))
        return out + F.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False)
