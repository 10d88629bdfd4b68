"""Blocks shared by the recurrent reference models (BasicVSR, IconVSR, BasicVSR++).

Written from the papers (Chan et al., CVPR 2021 and CVPR 2022; Ranjan & Black, CVPR 2017 for
SPyNet; Wang et al., CVPRW 2019 for EDVR's PCD / TSA) and from reading the official code (BasicSR
1.4.2 ``archs/*_arch.py``, MMagic 1.2.0 ``basicvsr_net.py``); no code is copied. Module and
parameter names are the official ones, so that released checkpoints load with ``strict=True``.

* :func:`flow_warp`: backward warping by a dense flow (bilinear, ``align_corners=True``).
* :class:`SpyNet`: the 6-level spatial pyramid flow network, in either key layout
  (``'basicsr'``: plain convs ``basic_module.L.basic_module.{0,2,4,6,8}``; ``'mmagic'``:
  ConvModule-style ``basic_module.L.basic_module.{0..4}.conv``).
* :func:`pairwise_flows`: SPyNet between neighbours, both directions.
* :class:`ResidualBlocksWithInputConv`: conv + LeakyReLU + residual blocks (BasicSR's
  ``ConvResidualBlocks``; MMagic's ``ResidualBlocksWithInputConv``; keys ``main.0`` / ``main.2.i``).
* :class:`PixelShufflePack`: conv then pixel shuffle (MMagic's key ``upsample_conv``).
* :class:`BasicSRX4Head`: BasicSR's x4 reconstruction (``upconv1`` / ``upconv2`` / ``conv_hr`` /
  ``conv_last`` on the model itself) plus the bilinear x4 of the LR frame.
* :class:`ModulatedDCNPack`, :class:`PCDAlignment`, :class:`TSAFusion`: EDVR's alignment and
  fusion, as IconVSR's keyframe feature extractor uses them (BasicSR key names: ``conv_offset``,
  ``offset_conv1.l3``, ...). NOTE for the merge: the EDVR reference models need the same blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.layers import ResidualBlockNoBN, make_layer, modulated_deform_conv

__all__ = [
    "flow_warp",
    "SpyNet",
    "pairwise_flows",
    "ResidualBlocksWithInputConv",
    "PixelShufflePack",
    "BasicSRX4Head",
    "ModulatedDCNPack",
    "PCDAlignment",
    "TSAFusion",
    "lrelu",
]

_SLOPE = 0.1


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """LeakyReLU with slope 0.1 (every LeakyReLU of these models)."""
    return F.leaky_relu(x, _SLOPE)


def flow_warp(x: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Sample ``x`` (``N x C x H x W``) at ``p + flow(p)``; ``flow`` is ``N x 2 x H x W`` in pixels,
    channel 0 horizontal, 1 vertical. Bilinear, pixel centres at integer positions
    (``align_corners=True``), outside samples by ``padding_mode``."""
    _, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype, device=x.device).view(h, 1).expand(h, w)
    xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, w).expand(h, w)
    px = xs + flow[:, 0].to(x.dtype)
    py = ys + flow[:, 1].to(x.dtype)
    grid = torch.stack((px * (2.0 / max(w - 1, 1)) - 1.0, py * (2.0 / max(h - 1, 1)) - 1.0), dim=3)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)


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


class ModulatedDCNPack(nn.Module):
    """DCNv2 whose offsets and masks are predicted from a separate feature (BasicSR ``DCNv2Pack``).

    Parameters ``weight``, ``bias`` and ``conv_offset`` (``k x k`` conv to ``3 * G * k * k``); its
    output splits into thirds ``o1, o2, m``: ``offset = cat(o1, o2)`` in torchvision's layout,
    ``mask = sigmoid(m)``.
    """

    def __init__(self, in_channels: int = 64, out_channels: int = 64, kernel_size: int = 3, padding: int = 1,
                 deformable_groups: int = 8):
        super().__init__()
        self.padding = padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        bound = 1.0 / (in_channels * kernel_size * kernel_size) ** 0.5
        nn.init.uniform_(self.weight, -bound, bound)
        self.conv_offset = nn.Conv2d(in_channels, 3 * deformable_groups * kernel_size * kernel_size,
                                     kernel_size, 1, padding)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        o1, o2, m = torch.chunk(self.conv_offset(feat), 3, dim=1)
        return modulated_deform_conv(x, torch.cat((o1, o2), dim=1), torch.sigmoid(m), self.weight, self.bias,
                                     padding=self.padding)


class PCDAlignment(nn.Module):
    """EDVR's pyramid, cascading and deformable alignment of a neighbour to the reference.

    Levels ``l3`` (1/4 size) to ``l1``: the offset feature from [nbr, ref] (and, below l3, the
    upsampled offset feature of the level above, doubled); a deformable conv of the neighbour;
    below l3 merged with the upsampled aligned feature of the level above (``feat_conv``). LeakyReLU
    after every offset conv and after the aligned features of l3 and l2. Then a cascading
    deformable conv at l1 guided by [aligned, ref], followed by a LeakyReLU.
    """

    def __init__(self, num_feat: int = 64, deformable_groups: int = 8):
        super().__init__()
        self.offset_conv1, self.offset_conv2 = nn.ModuleDict(), nn.ModuleDict()
        self.offset_conv3, self.dcn_pack, self.feat_conv = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        for i in (3, 2, 1):
            lv = f"l{i}"
            self.offset_conv1[lv] = nn.Conv2d(num_feat * 2, num_feat, 3, 1, 1)
            self.offset_conv2[lv] = nn.Conv2d(num_feat * (1 if i == 3 else 2), num_feat, 3, 1, 1)
            if i < 3:
                self.offset_conv3[lv] = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.dcn_pack[lv] = ModulatedDCNPack(num_feat, num_feat, 3, 1, deformable_groups)
            if i < 3:
                self.feat_conv[lv] = nn.Conv2d(num_feat * 2, num_feat, 3, 1, 1)
        self.cas_offset_conv1 = nn.Conv2d(num_feat * 2, num_feat, 3, 1, 1)
        self.cas_offset_conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.cas_dcnpack = ModulatedDCNPack(num_feat, num_feat, 3, 1, deformable_groups)

    def forward(self, nbr: list[torch.Tensor], ref: list[torch.Tensor]) -> torch.Tensor:
        """``nbr``, ``ref``: ``[L1, L2, L3]`` features (``N x C x H x W`` at 1, 1/2, 1/4 size)."""
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        off_up = feat_up = None
        for i in (3, 2, 1):
            lv = f"l{i}"
            off = lrelu(self.offset_conv1[lv](torch.cat((nbr[i - 1], ref[i - 1]), dim=1)))
            if i == 3:
                off = lrelu(self.offset_conv2[lv](off))
            else:
                off = lrelu(self.offset_conv2[lv](torch.cat((off, off_up), dim=1)))
                off = lrelu(self.offset_conv3[lv](off))
            feat = self.dcn_pack[lv](nbr[i - 1], off)
            if i < 3:
                feat = self.feat_conv[lv](torch.cat((feat, feat_up), dim=1))
            if i > 1:
                feat = lrelu(feat)
                off_up, feat_up = up(off) * 2, up(feat)
        off = lrelu(self.cas_offset_conv1(torch.cat((feat, ref[0]), dim=1)))
        off = lrelu(self.cas_offset_conv2(off))
        return lrelu(self.cas_dcnpack(feat, off))


class TSAFusion(nn.Module):
    """EDVR's temporal and spatial attention fusion of ``N x T x C x H x W`` aligned features.

    Temporal: each frame's embedding (``temporal_attn2``) is correlated (channel dot product) with
    the reference frame's (``temporal_attn1``); its sigmoid weights that frame. Fusion: 1x1 conv of
    the weighted frames. Spatial: a two-level max+avg pooled attention pyramid (3x3, stride 2,
    padding 1; average pooling counts the padding), upsampled back; ``out = fused * 2 * sigmoid(a)
    + add(a)``.
    """

    def __init__(self, num_feat: int = 64, num_frame: int = 5, center_frame_idx: int = 2):
        super().__init__()
        self.center_frame_idx = center_frame_idx
        nf, tnf = num_feat, num_frame * num_feat
        self.temporal_attn1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.temporal_attn2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.feat_fusion = nn.Conv2d(tnf, nf, 1, 1)
        self.spatial_attn1 = nn.Conv2d(tnf, nf, 1)
        self.spatial_attn2 = nn.Conv2d(nf * 2, nf, 1)
        self.spatial_attn3 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.spatial_attn4 = nn.Conv2d(nf, nf, 1)
        self.spatial_attn5 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.spatial_attn_l1 = nn.Conv2d(nf, nf, 1)
        self.spatial_attn_l2 = nn.Conv2d(nf * 2, nf, 3, 1, 1)
        self.spatial_attn_l3 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.spatial_attn_add1 = nn.Conv2d(nf, nf, 1)
        self.spatial_attn_add2 = nn.Conv2d(nf, nf, 1)

    @staticmethod
    def _pool2(x: torch.Tensor) -> torch.Tensor:
        return torch.cat((F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1)), dim=1)

    def forward(self, aligned: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = aligned.shape
        ref = self.temporal_attn1(aligned[:, self.center_frame_idx])
        emb = self.temporal_attn2(aligned.reshape(-1, c, h, w)).view(b, t, -1, h, w)
        weight = torch.sigmoid((emb * ref.unsqueeze(1)).sum(dim=2, keepdim=True))  # b x t x 1 x h x w
        weighted = (aligned * weight).reshape(b, t * c, h, w)
        fused = lrelu(self.feat_fusion(weighted))

        up = lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        attn = lrelu(self.spatial_attn1(weighted))
        attn = lrelu(self.spatial_attn2(self._pool2(attn)))
        level = lrelu(self.spatial_attn_l1(attn))
        level = lrelu(self.spatial_attn_l2(self._pool2(level)))
        level = up(lrelu(self.spatial_attn_l3(level)))
        attn = lrelu(self.spatial_attn3(attn)) + level
        attn = self.spatial_attn5(up(lrelu(self.spatial_attn4(attn))))
        add = self.spatial_attn_add2(lrelu(self.spatial_attn_add1(attn)))
        return fused * torch.sigmoid(attn) * 2 + add
