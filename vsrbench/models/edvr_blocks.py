"""EDVR's building blocks (Wang et al., CVPR-W 2019, "EDVR: Video Restoration with Enhanced Deformable
Convolutional Networks", sec. 3.2 and 3.3), shared by EDVR and IconVSR (its keyframe feature
extractor, ``iconvsr.EDVRFeatureExtractor``).

* :class:`DeformAlignPack` -- DCNv2 whose offsets and masks come from a separate feature (BasicSR's
  ``DCNv2Pack``): a ``conv_offset`` predicts ``3 * G * k * k`` channels, split in three equal chunks
  ``o1, o2, m``; ``offset = cat(o1, o2)`` in torchvision's layout, ``mask = sigmoid(m)``.
* :class:`PCDAlignment` -- Pyramid, Cascading and Deformable alignment (three pyramid levels, coarse
  to fine, offsets upsampled x2 *and doubled* between levels, then one cascading DCN at full size).
* :class:`TSAFusion` -- Temporal and Spatial Attention fusion (sigmoid of the per-pixel dot product
  with the reference embedding weights each frame; a two-level spatial attention pyramid modulates
  the fused feature as ``feat * 2 sigmoid(a) + add(a)``).
* :func:`add_pyramid_layers` / :func:`pyramid_features` -- the per-frame L1 / L2 / L3 features
  (stride-2 convs), as top-level layers of the model that uses them (BasicSR's key names).

Parameter names are BasicSR 1.4.2's (``offset_conv1.l3``, ``dcn_pack.l1.conv_offset``,
``cas_dcnpack``, ``temporal_attn1``, ``spatial_attn_l2``, ...), so the released checkpoints load
strictly. Written from the paper and from reading BasicSR's ``archs/edvr_arch.py``; the function is
checked against that code in ``tests/test_refmodels_window.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.layers import DCNv2Pack, ResidualBlockNoBN, make_layer
from vsrbench.models.layers import lrelu as _lrelu
from vsrbench.models.layers import up2 as _up2

__all__ = ["DeformAlignPack", "PCDAlignment", "TSAFusion", "add_pyramid_layers", "pyramid_features", "LEVELS"]

#: pyramid levels, coarse to fine (L3 = 1/4 size, L1 = full size)
LEVELS = ("l3", "l2", "l1")

#: BasicSR warns when the mean |offset| exceeds this (a sign of diverging alignment)
OFFSET_WARN = 50.0


class DeformAlignPack(DCNv2Pack):
    """BasicSR's ``DCNv2Pack``: :class:`~vsrbench.models.layers.DCNv2Pack` with the offset conv named
    ``conv_offset``, BasicSR's initialisation (``weight`` uniform in +-1/sqrt(fan_in), ``bias`` 0,
    ``conv_offset`` 0: offsets 0, mask 0.5) and its warning when the mean |offset| exceeds 50.
    ``forward(x, feat)`` deforms ``x`` with the offsets and mask predicted from ``feat``."""

    offset_conv = "conv_offset"
    zero_bias = True
    warn_mean_offset = OFFSET_WARN


def add_pyramid_layers(module: nn.Module, in_channels: int = 3, num_feat: int = 64, num_blocks: int = 5) -> None:
    """Give ``module`` the per-frame feature layers under BasicSR's top-level names: ``conv_first``,
    ``feature_extraction`` (``num_blocks`` residual blocks), ``conv_l2_1/2`` and ``conv_l3_1/2``."""
    module.conv_first = nn.Conv2d(in_channels, num_feat, 3, 1, 1)
    module.feature_extraction = make_layer(ResidualBlockNoBN, num_blocks, nf=num_feat)
    module.conv_l2_1 = nn.Conv2d(num_feat, num_feat, 3, 2, 1)
    module.conv_l2_2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
    module.conv_l3_1 = nn.Conv2d(num_feat, num_feat, 3, 2, 1)
    module.conv_l3_2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)


def pyramid_features(module: nn.Module, frames: torch.Tensor) -> list[torch.Tensor]:
    """``[L1, L2, L3]`` features of ``N x C x H x W`` frames (``H, W`` multiples of 4) through the layers
    :func:`add_pyramid_layers` gave ``module``."""
    l1 = module.feature_extraction(_lrelu(module.conv_first(frames)))
    l2 = _lrelu(module.conv_l2_2(_lrelu(module.conv_l2_1(l1))))
    l3 = _lrelu(module.conv_l3_2(_lrelu(module.conv_l3_1(l2))))
    return [l1, l2, l3]


class PCDAlignment(nn.Module):
    """Pyramid, Cascading and Deformable alignment of a neighbour's features to the reference's.

    ``forward(nbr, ref)`` takes two ``[L1, L2, L3]`` lists (``B x C x H/2^i x W/2^i``) and returns the
    aligned L1 feature. Per level (coarse to fine): offset feature from ``cat(nbr, ref)``, merged with
    the coarser level's offset feature (upsampled x2, doubled); a DCN aligns the neighbour, merged with
    the coarser aligned feature by ``feat_conv``; then a cascading DCN refines the L1 result.
    """

    def __init__(self, num_feat: int = 64, deformable_groups: int = 8):
        super().__init__()
        self.offset_conv1 = nn.ModuleDict()
        self.offset_conv2 = nn.ModuleDict()
        self.offset_conv3 = nn.ModuleDict()
        self.dcn_pack = nn.ModuleDict()
        self.feat_conv = nn.ModuleDict()
        for level in LEVELS:
            coarsest = level == "l3"
            self.offset_conv1[level] = nn.Conv2d(2 * num_feat, num_feat, 3, 1, 1)
            self.offset_conv2[level] = nn.Conv2d(num_feat if coarsest else 2 * num_feat, num_feat, 3, 1, 1)
            if not coarsest:
                self.offset_conv3[level] = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
                self.feat_conv[level] = nn.Conv2d(2 * num_feat, num_feat, 3, 1, 1)
            self.dcn_pack[level] = DeformAlignPack(num_feat, num_feat, 3, 1, deformable_groups)
        self.cas_offset_conv1 = nn.Conv2d(2 * num_feat, num_feat, 3, 1, 1)
        self.cas_offset_conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.cas_dcnpack = DeformAlignPack(num_feat, num_feat, 3, 1, deformable_groups)

    def _level(self, level: str, nbr, ref, coarse_offset, coarse_feat):
        offset = _lrelu(self.offset_conv1[level](torch.cat((nbr, ref), 1)))
        if coarse_offset is None:
            offset = _lrelu(self.offset_conv2[level](offset))
        else:
            offset = _lrelu(self.offset_conv2[level](torch.cat((offset, coarse_offset), 1)))
            offset = _lrelu(self.offset_conv3[level](offset))
        feat = self.dcn_pack[level](nbr, offset)
        if coarse_feat is not None:
            feat = self.feat_conv[level](torch.cat((feat, coarse_feat), 1))
        return offset, feat

    def forward(self, nbr: list[torch.Tensor], ref: list[torch.Tensor]) -> torch.Tensor:
        coarse_offset = coarse_feat = None
        feat = None
        for level in LEVELS:
            i = int(level[1]) - 1
            offset, feat = self._level(level, nbr[i], ref[i], coarse_offset, coarse_feat)
            if level != "l1":
                feat = _lrelu(feat)
                coarse_offset = _up2(offset) * 2  # the offsets are in pixels: twice as many one level up
                coarse_feat = _up2(feat)
        cas = _lrelu(self.cas_offset_conv2(_lrelu(self.cas_offset_conv1(torch.cat((feat, ref[0]), 1)))))
        return _lrelu(self.cas_dcnpack(feat, cas))


class TSAFusion(nn.Module):
    """Temporal and Spatial Attention fusion of ``B x T x C x H x W`` aligned features -> ``B x C x H x W``."""

    def __init__(self, num_feat: int = 64, num_frame: int = 5, center_frame_idx: int = 2):
        super().__init__()
        self.center_frame_idx = center_frame_idx
        c = num_feat
        self.temporal_attn1 = nn.Conv2d(c, c, 3, 1, 1)
        self.temporal_attn2 = nn.Conv2d(c, c, 3, 1, 1)
        self.feat_fusion = nn.Conv2d(num_frame * c, c, 1, 1)
        self.spatial_attn1 = nn.Conv2d(num_frame * c, c, 1)
        self.spatial_attn2 = nn.Conv2d(2 * c, c, 1)
        self.spatial_attn3 = nn.Conv2d(c, c, 3, 1, 1)
        self.spatial_attn4 = nn.Conv2d(c, c, 1)
        self.spatial_attn5 = nn.Conv2d(c, c, 3, 1, 1)
        self.spatial_attn_l1 = nn.Conv2d(c, c, 1)
        self.spatial_attn_l2 = nn.Conv2d(2 * c, c, 3, 1, 1)
        self.spatial_attn_l3 = nn.Conv2d(c, c, 3, 1, 1)
        self.spatial_attn_add1 = nn.Conv2d(c, c, 1)
        self.spatial_attn_add2 = nn.Conv2d(c, c, 1)

    @staticmethod
    def _pool_pair(x: torch.Tensor) -> torch.Tensor:
        """Max and average pooling (3 x 3, stride 2, pad 1; the average counts the padding), stacked."""
        return torch.cat((F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1)), 1)

    def _temporal(self, aligned: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = aligned.shape
        ref = self.temporal_attn1(aligned[:, self.center_frame_idx])
        emb = self.temporal_attn2(aligned.reshape(b * t, c, h, w)).reshape(b, t, -1, h, w)
        weight = torch.sigmoid((emb * ref.unsqueeze(1)).sum(2, keepdim=True))  # B x T x 1 x H x W
        return (aligned * weight).reshape(b, t * c, h, w)

    def _spatial(self, weighted: torch.Tensor) -> torch.Tensor:
        attn = _lrelu(self.spatial_attn1(weighted))
        attn = _lrelu(self.spatial_attn2(self._pool_pair(attn)))
        level = _lrelu(self.spatial_attn_l1(attn))
        level = _lrelu(self.spatial_attn_l2(self._pool_pair(level)))
        level = _up2(_lrelu(self.spatial_attn_l3(level)))
        attn = _lrelu(self.spatial_attn3(attn)) + level
        return self.spatial_attn5(_up2(_lrelu(self.spatial_attn4(attn))))

    def forward(self, aligned: torch.Tensor) -> torch.Tensor:
        weighted = self._temporal(aligned)
        feat = _lrelu(self.feat_fusion(weighted))
        attn = self._spatial(weighted)
        add = self.spatial_attn_add2(_lrelu(self.spatial_attn_add1(attn)))
        return feat * torch.sigmoid(attn) * 2 + add
