"""EDVR (Wang, Chan, Yu, Dong, Loy, CVPR-W 2019): PCD alignment + TSA fusion, x4 video SR.

Registered configurations (BasicSR's official test options ``options/test/EDVR/*.yml``):

* ``edvr-m``: 64 channels, 5 extraction / 10 reconstruction blocks, 5 frames (REDS, 3.3 M params);
  ``EDVR_M_x4_SR_REDS_official-32075921.pth`` (REDS4 RGB 30.53 / 0.8699 in BasicSR's model zoo).
* ``edvr-l``: 128 channels, 5 / 40 blocks, 5 frames (REDS, the NTIRE'19 model);
  ``EDVR_L_x4_SR_REDS_official-9f5f5039.pth`` (REDS4 RGB 31.09 / 0.8800).
* ``edvr-l-vimeo90k``: the same network with 7 frames (the window is part of the weights: TSA's
  fusion convs take ``7 x 128`` channels); ``EDVR_L_x4_SR_Vimeo90K_official-162b54e4.pth`` (Vid4 BI
  Y 27.35 / 0.8264). Registered separately because the window size is part of the ModelSpec.

``forward`` is BasicSR's: ``B x T x 3 x H x W`` RGB in [0, 1] (``H, W`` multiples of 4) -> the
centre frame, ``B x 3 x 4H x 4W`` (reconstruction + bilinear x4 of the centre frame). The harness
feeds windows padded at clip ends with ``reflection_circle`` (BasicSR's ``VideoTestDataset`` with
``padding: reflection_circle`` in every EDVR test option; vsrbench's default ``--padding``).
State-dict keys are BasicSR 1.4.2's (``{'params': ...}`` files load strictly).
The deblurring variants (``hr_in`` / ``with_predeblur``) are not registered.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.edvr_blocks import PCDAlignment, TSAFusion, add_pyramid_layers, pyramid_features
from vsrbench.models.layers import ResidualBlockNoBN, make_layer
from vsrbench.models.layers import lrelu as _lrelu
from vsrbench.models.registry import ModelCard, ModelSpec, register_model
from vsrbench.models.weights import get_weights

__all__ = ["EDVR", "EDVR_CONFIGS"]

_PAPER = "Wang et al., EDVR: Video Restoration with Enhanced Deformable Convolutional Networks, CVPR-W 2019"
_ZOO = "https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md"

#: name -> (num_feat, num_frame, num_reconstruct_block, checkpoint file name)
EDVR_CONFIGS = {
    "edvr-m": (64, 5, 10, get_weights("edvr-m", "reds").filename),
    "edvr-l": (128, 5, 40, get_weights("edvr-l", "reds").filename),
    "edvr-l-vimeo90k": (128, 7, 40, get_weights("edvr-l-vimeo90k", "vimeo90k").filename),
}


class EDVR(nn.Module):
    """EDVR for x4 SR from LR frames (BasicSR's ``EDVR`` with ``hr_in=False``, ``with_predeblur=False``)."""

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_frame: int = 5,
                 deformable_groups: int = 8, num_extract_block: int = 5, num_reconstruct_block: int = 10,
                 center_frame_idx: int | None = None, with_tsa: bool = True, scale: int = 4):
        super().__init__()
        if scale != 4:
            raise ValueError(f"EDVR is x4 only, got scale={scale}")
        self.scale = 4
        self.center_frame_idx = num_frame // 2 if center_frame_idx is None else center_frame_idx
        self.with_tsa = with_tsa
        add_pyramid_layers(self, num_in_ch, num_feat, num_extract_block)
        self.pcd_align = PCDAlignment(num_feat, deformable_groups)
        if with_tsa:
            self.fusion = TSAFusion(num_feat, num_frame, self.center_frame_idx)
        else:
            self.fusion = nn.Conv2d(num_frame * num_feat, num_feat, 1, 1)
        self.reconstruction = make_layer(ResidualBlockNoBN, num_reconstruct_block, nf=num_feat)
        self.upconv1 = nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1)
        self.upconv2 = nn.Conv2d(num_feat, 4 * 64, 3, 1, 1)
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, num_out_ch, 3, 1, 1)

    def _align(self, x: torch.Tensor) -> torch.Tensor:
        """PCD-aligned L1 features of every frame to the centre frame: ``B x T x C x H x W``."""
        b, t, c, h, w = x.shape
        levels = [f.reshape(b, t, *f.shape[1:]) for f in pyramid_features(self, x.reshape(b * t, c, h, w))]
        ref = [f[:, self.center_frame_idx] for f in levels]
        return torch.stack([self.pcd_align([f[:, i] for f in levels], ref) for i in range(t)], 1)

    def _upsample(self, feat: torch.Tensor) -> torch.Tensor:
        out = _lrelu(F.pixel_shuffle(self.upconv1(feat), 2))
        out = _lrelu(F.pixel_shuffle(self.upconv2(out), 2))
        return self.conv_last(_lrelu(self.conv_hr(out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        if h % 4 or w % 4:
            raise ValueError(f"EDVR needs H and W multiples of 4, got {h}x{w}")
        aligned = self._align(x)
        feat = self.fusion(aligned if self.with_tsa else aligned.reshape(b, -1, h, w))
        out = self._upsample(self.reconstruction(feat))
        base = F.interpolate(x[:, self.center_frame_idx], scale_factor=4, mode="bilinear", align_corners=False)
        return out + base


def _register(name: str, num_feat: int, num_frame: int, n_rec: int, ckpt: str) -> None:
    spec = ModelSpec(task="vsr", frames_in=num_frame, frames_out=1, colour="rgb", scales=(4,), spatial_multiple=4)
    data = "Vimeo-90K" if "Vimeo" in ckpt else "REDS"
    card = ModelCard(
        paper=_PAPER,
        reported_params_m=20.6 if num_feat == 128 else 3.3,
        checkpoint_url=_ZOO,
        checkpoint_name=ckpt,
        notes=(f"BasicSR's EDVR ({num_feat} channels, {n_rec} reconstruction blocks, {num_frame} frames, trained on "
               f"{data}); harness: windows padded with reflection_circle as BasicSR's test_EDVR_*.yml."),
    )

    def factory(scale: int = 4, **kw):
        kw = {"num_feat": num_feat, "num_frame": num_frame, "num_reconstruct_block": n_rec, **kw}
        return EDVR(scale=scale, **kw)

    factory.__name__ = factory.__qualname__ = name.replace("-", "_")
    register_model(name, spec, card)(factory)


for _name, _cfg in EDVR_CONFIGS.items():
    _register(_name, *_cfg)
