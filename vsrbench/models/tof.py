"""TOFlow (Xue, Chen, Wu, Wei, Freeman, IJCV 2019, "Video Enhancement with Task-Oriented Flow"), x4 SR.

Registered as ``tof``: BasicSR 1.4.2's ``TOFlow`` with ``adapt_official_weights=True``, the setting of
its converted checkpoint ``tof_x4_vimeo90k_official-32c9e01f.pth`` (test option
``options/test/TOF/test_TOF_official.yml``: Vid4 ``BIx4up_direct``, 7 frames, ``reflection_circle``;
BasicSR's model zoo: Vid4 Y 25.86 / 0.7626).

* ``forward`` takes what BasicSR's module takes: ``B x 7 x 3 x H x W`` RGB in [0, 1], **already
  upsampled** to the output size (TOFlow works at HR), and returns the centre frame ``B x 3 x H x W``.
  ``H, W`` must be multiples of 16 (the 4-level SPyNet). The ModelSpec says ``input_upsample='bicubic'``:
  the harness upsamples the LR window with MATLAB bicubic, rounded to 8 bits (the ``BIx4up_direct``
  PNGs), and ``spatial_multiple=4`` (LR).
* Inside: ImageNet mean / std normalisation (buffers ``mean`` / ``std``, part of the state dict); the
  official weights take the centre frame first (frames reordered ``3, 0, 1, 2, 4, 5, 6``); a SPyNet
  with batch norm (``spynet.basic_module.N.basic_module.M``) estimates the flow from the reference to
  each other frame at 4 pyramid levels (2 x 2 average pooling), each neighbour is warped (bilinear,
  zeros outside) and the 7 frames go through ``conv_1`` (9 x 9) .. ``conv_4`` plus the reference.

Written from the paper and from reading BasicSR's ``archs/tof_arch.py``; function checked against
that code in ``tests/test_refmodels_window.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.layers import flow_warp as warp
from vsrbench.models.registry import ModelCard, ModelSpec, register_model
from vsrbench.models.weights import get_weights

__all__ = ["TOFlow", "SPyNetBN"]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
#: the official weights expect the reference (centre) frame first
_OFFICIAL_ORDER = (3, 0, 1, 2, 4, 5, 6)


def _flow_level() -> nn.Module:
    """One SPyNet level (TOFlow's variant, with batch norm): 8 -> 32 -> 64 -> 32 -> 16 -> 2, 7 x 7 convs.

    A module holding ``basic_module`` (an ``nn.Sequential``) so the keys are BasicSR's."""
    widths = (8, 32, 64, 32, 16)
    layers: list[nn.Module] = []
    for cin, cout in zip(widths[:-1], widths[1:]):
        layers += [nn.Conv2d(cin, cout, 7, 1, 3, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(widths[-1], 2, 7, 1, 3))
    holder = nn.Module()
    holder.basic_module = nn.Sequential(*layers)
    return holder


class SPyNetBN(nn.Module):
    """Coarse-to-fine flow from ``ref`` to ``supp`` (both ``B x 3 x H x W``, normalised, ``H, W`` multiples
    of 16): 4 levels, each adding a residual to the x2-upsampled (and doubled) coarser flow."""

    def __init__(self, levels: int = 4):
        super().__init__()
        self.basic_module = nn.ModuleList([_flow_level() for _ in range(levels)])

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        refs, supps = [ref], [supp]
        for _ in range(len(self.basic_module) - 1):
            refs.insert(0, F.avg_pool2d(refs[0], 2, 2))
            supps.insert(0, F.avg_pool2d(supps[0], 2, 2))
        b, _, h, w = refs[0].shape
        flow = ref.new_zeros(b, 2, h // 2, w // 2)
        for level, r, s in zip(self.basic_module, refs, supps):
            up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            flow = up + level.basic_module(torch.cat((r, warp(s, up), up), 1))
        return flow


class TOFlow(nn.Module):
    """TOFlow for SR on pre-upsampled frames: ``B x 7 x 3 x H x W`` in [0, 1] -> ``B x 3 x H x W``."""

    def __init__(self, adapt_official_weights: bool = True, scale: int = 4):
        super().__init__()
        self.scale = int(scale)
        self.adapt_official_weights = adapt_official_weights
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self.spynet = SPyNetBN()
        self.conv_1 = nn.Conv2d(3 * 7, 64, 9, 1, 4)
        self.conv_2 = nn.Conv2d(64, 64, 9, 1, 4)
        self.conv_3 = nn.Conv2d(64, 64, 1)
        self.conv_4 = nn.Conv2d(64, 3, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = frames.shape
        if t != 7 or c != 3 or h % 16 or w % 16:
            raise ValueError(f"TOFlow needs B x 7 x 3 x H x W with H, W multiples of 16, got {tuple(frames.shape)}")
        ref_idx = 3
        if self.adapt_official_weights:
            frames, ref_idx = frames[:, list(_OFFICIAL_ORDER)], 0
        x = ((frames.reshape(b * t, c, h, w) - self.mean) / self.std).reshape(b, t, c, h, w)
        ref = x[:, ref_idx]
        aligned = [ref if i == ref_idx else warp(x[:, i], self.spynet(ref, x[:, i])) for i in range(t)]
        out = F.relu(self.conv_1(torch.cat(aligned, 1)))
        out = F.relu(self.conv_2(out))
        out = F.relu(self.conv_3(out))
        return (self.conv_4(out) + ref) * self.std + self.mean


@register_model(
    "tof",
    ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="rgb", scales=(4,), spatial_multiple=4,
              input_upsample="bicubic"),
    ModelCard(
        paper="Xue et al., Video Enhancement with Task-Oriented Flow, IJCV 2019",
        reported_params_m=1.4,
        checkpoint_url="https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md",
        checkpoint_name=get_weights("tof", "vimeo90k").filename,
        notes=("BasicSR's TOFlow (adapt_official_weights=True); harness: 7-frame windows padded with "
               "reflection_circle, MATLAB-bicubic x4 upsampled to 8 bits (BIx4up_direct), as test_TOF_official.yml."),
    ),
)
def tof(scale: int = 4, **kw) -> TOFlow:
    if scale != 4:
        raise ValueError(f"TOFlow's released model is x4, got scale={scale}")
    return TOFlow(scale=scale, **kw)
