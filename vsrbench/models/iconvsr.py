"""IconVSR: BasicVSR with information-refill and coupled propagation (Chan et al., CVPR 2021, the
same paper as BasicVSR, Sec. 4).

Written from the paper and from reading BasicSR 1.4.2's ``basicsr/archs/basicvsr_arch.py``
(``IconVSR`` and ``EDVRFeatureExtractor``, which imports ``PCDAlignment`` and ``TSAFusion`` from
``edvr_arch.py``); no code is copied. The key names are BasicSR's, so the released files
(``{'params': state_dict}``: ``IconVSR_REDS-aaa5367f.pth``, ``IconVSR_Vimeo90K_BIx4-35fec07c.pth``,
``IconVSR_Vimeo90K_BDx4-cfcb7e00.pth``) load strictly. Released configuration: 64 channels,
30 residual blocks per branch, keyframe stride 5, temporal padding 2 (8.7 M parameters, as the
paper states).

``forward(x)``: ``x`` is ``N x T x 3 x H x W`` RGB in [0, 1] with ``T >= 2 * temporal_padding + 1``
(5: the keyframe windows are padded from frames inside the clip); returns ``N x T x 3 x 4H x 4W``.

1. ``H``, ``W`` are reflect-padded (bottom / right) to multiples of 4 (EDVR's pyramid); the output
   is cropped back.
2. Keyframes: every ``keyframe_stride``-th frame and the last one. The clip is extended at each end
   by ``temporal_padding`` frames (frames ``2p, ..., p+1`` before it, ``-(p+2), ..., -(2p+1)``
   after it, as the official code does) and each keyframe gets the feature of EDVR's feature
   extractor (``edvr``: 5 residual blocks, 3-level pyramid, PCD alignment to the window centre,
   TSA fusion) over its ``2p+1``-frame window.
3. Backward branch as BasicVSR's, with the keyframe feature fused (``backward_fusion``, 3x3 on
   [state, keyframe feature]) into the warped state at keyframes.
4. Forward branch: likewise (``forward_fusion``); its trunk takes [LR frame, backward state,
   forward state] (coupled propagation) and its output is reconstructed as in BasicVSR (no
   ``fusion`` conv).

Harness feed: the whole clip in one pass (``frames_in='recurrent'``), as BasicSR's
``options/test/IconVSR/test_IconVSR_*.yml`` evaluate it (``num_frame: -1``). The spatial padding
is the model's own (reflect), so the spec asks for no padding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.edvr_blocks import PCDAlignment, TSAFusion, add_pyramid_layers, pyramid_features
from vsrbench.models.layers import flow_warp
from vsrbench.models.refblocks import (
    RECURRENT_X4_SPEC, BasicSRX4Head, ResidualBlocksWithInputConv, SpyNet, pairwise_flows,
)
from vsrbench.models.registry import ModelCard, register_model
from vsrbench.models.weights import weights_of

__all__ = ["IconVSR", "EDVRFeatureExtractor", "SPEC", "CARD"]

OFFICIAL_CHECKPOINTS = {name: w.filename for name, w in weights_of("iconvsr").items()}

SPEC = RECURRENT_X4_SPEC
CARD = ModelCard(
    paper="Chan et al., BasicVSR: The Search for Essential Components in Video Super-Resolution and Beyond, "
    "CVPR 2021 (IconVSR)",
    reported_params_m=8.7,
    checkpoint_name=OFFICIAL_CHECKPOINTS["reds4"],
    checkpoint_url="https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md",
    notes="BasicSR 1.4.2 architecture and key names (num_feat 64, num_block 30, keyframe_stride 5, "
    "temporal_padding 2); released files " + ", ".join(OFFICIAL_CHECKPOINTS.values())
    + " load as published. Fed the whole clip (BasicSR test_IconVSR_*.yml, num_frame -1); needs >= 5 frames.",
)


class EDVRFeatureExtractor(nn.Module):
    """EDVR without its reconstruction: per-frame features (``conv_first`` + 5 residual blocks),
    a 3-level pyramid (``conv_l2_*``, ``conv_l3_*``, the first of each stride 2), PCD alignment of
    every frame to the centre one, TSA fusion. ``N x T x 3 x H x W`` -> ``N x C x H x W``."""

    def __init__(self, num_input_frame: int = 5, num_feat: int = 64):
        super().__init__()
        self.center_frame_idx = num_input_frame // 2
        add_pyramid_layers(self, 3, num_feat, 5)
        self.pcd_align = PCDAlignment(num_feat=num_feat, deformable_groups=8)
        self.fusion = TSAFusion(num_feat=num_feat, num_frame=num_input_frame, center_frame_idx=self.center_frame_idx)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        pyr = [f.view(b, t, *f.shape[1:]) for f in pyramid_features(self, x.reshape(-1, c, h, w))]
        ref = [p[:, self.center_frame_idx] for p in pyr]
        aligned = torch.stack([self.pcd_align([p[:, i] for p in pyr], ref) for i in range(t)], dim=1)
        return self.fusion(aligned)


class IconVSR(BasicSRX4Head, nn.Module):
    """IconVSR x4 (see the module docstring)."""

    def __init__(self, num_feat: int = 64, num_block: int = 30, keyframe_stride: int = 5, temporal_padding: int = 2):
        super().__init__()
        if temporal_padding not in (2, 3):
            raise ValueError(f"IconVSR's temporal_padding is 2 or 3 (as in the official code), got {temporal_padding}")
        self.num_feat = num_feat
        self.keyframe_stride = keyframe_stride
        self.temporal_padding = temporal_padding
        self.edvr = EDVRFeatureExtractor(2 * temporal_padding + 1, num_feat)
        self.spynet = SpyNet("basicsr")
        self.backward_fusion = nn.Conv2d(2 * num_feat, num_feat, 3, 1, 1, bias=True)
        self.backward_trunk = ResidualBlocksWithInputConv(num_feat + 3, num_feat, num_block)
        self.forward_fusion = nn.Conv2d(2 * num_feat, num_feat, 3, 1, 1, bias=True)
        self.forward_trunk = ResidualBlocksWithInputConv(2 * num_feat + 3, num_feat, num_block)
        self._init_head(num_feat)

    def keyframes(self, t: int) -> list[int]:
        idx = list(range(0, t, self.keyframe_stride))
        return idx if idx[-1] == t - 1 else idx + [t - 1]

    def _keyframe_features(self, x: torch.Tensor, keyframes: list[int]) -> dict[int, torch.Tensor]:
        p = self.temporal_padding
        before = list(range(2 * p, p, -1))  # p = 2: frames 4, 3
        after = list(range(-(p + 2), -(2 * p + 2), -1))  # p = 2: frames -4, -5
        ext = torch.cat((x[:, before], x, x[:, after]), dim=1)
        return {i: self.edvr(ext[:, i:i + 2 * p + 1].contiguous()) for i in keyframes}

    def _backward_states(self, x, flows_backward, feats, keyframes) -> list[torch.Tensor]:
        n, t, _, h, w = x.shape
        states: list[torch.Tensor] = [None] * t  # type: ignore[list-item]
        state = x.new_zeros(n, self.num_feat, h, w)
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                state = flow_warp(state, flows_backward[:, i])
            if i in keyframes:
                state = self.backward_fusion(torch.cat((state, feats[i]), dim=1))
            state = self.backward_trunk(torch.cat((x[:, i], state), dim=1))
            states[i] = state
        return states

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, c, h_in, w_in = x.shape
        if t < 2 * self.temporal_padding + 1:
            raise ValueError(f"IconVSR needs at least {2 * self.temporal_padding + 1} frames, got {t}")
        pad_h, pad_w = (4 - h_in % 4) % 4, (4 - w_in % 4) % 4
        x = F.pad(x.reshape(-1, c, h_in, w_in), [0, pad_w, 0, pad_h], mode="reflect")
        x = x.view(n, t, c, h_in + pad_h, w_in + pad_w)
        keyframes = self.keyframes(t)
        flows_forward, flows_backward = pairwise_flows(self.spynet, x)
        feats = self._keyframe_features(x, keyframes)
        back = self._backward_states(x, flows_backward, feats, keyframes)

        state = torch.zeros_like(back[0])
        outputs = []
        for i in range(t):
            if i > 0:
                state = flow_warp(state, flows_forward[:, i - 1])
            if i in keyframes:
                state = self.forward_fusion(torch.cat((state, feats[i]), dim=1))
            state = self.forward_trunk(torch.cat((x[:, i], back[i], state), dim=1))
            outputs.append(self._to_hr(state, x[:, i]))
        return torch.stack(outputs, dim=1)[..., : 4 * h_in, : 4 * w_in]


@register_model("iconvsr", SPEC, CARD)
def iconvsr(scale: int = 4, **kwargs) -> IconVSR:
    if scale != 4:
        raise ValueError(f"IconVSR is x4 only, got scale {scale}")
    return IconVSR(**kwargs)
