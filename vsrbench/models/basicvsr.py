"""BasicVSR: bidirectional recurrent propagation with flow-based alignment (Chan et al., CVPR 2021,
"BasicVSR: The Search for Essential Components in Video Super-Resolution and Beyond").

Written from the paper (Sec. 3, Fig. 2) and from reading BasicSR 1.4.2's
``basicsr/archs/basicvsr_arch.py`` (the code BasicSR's released checkpoints run on); no code is
copied. ``BasicVSR().state_dict()`` has BasicSR's key names, so the released files
(``{'params': state_dict}``: ``BasicVSR_REDS4-543c8261.pth``, ``BasicVSR_Vimeo90K_BIx4-2a29695a.pth``,
``BasicVSR_Vimeo90K_BDx4-e9bf46eb.pth``) load strictly through :func:`vsrbench.models.load_checkpoint`.
Released configuration: 64 channels, 30 residual blocks per branch (BasicSR's test options; its
class default of 15 is not the released model), 6.3 M parameters as the paper states.

``forward(x)``: ``x`` is ``N x T x 3 x H x W`` RGB in [0, 1] (any ``T >= 2``, any ``H, W``);
returns ``N x T x 3 x 4H x 4W``, not clamped.

1. Flows between neighbours by SPyNet (:func:`vsrbench.models.refblocks.pairwise_flows`).
2. Backward branch, frame ``T-1`` down to 0: the state (zeros at the start) is warped by the flow
   from frame ``i`` to ``i+1``, concatenated after the LR frame, and refined by
   ``backward_trunk`` (conv + 30 residual blocks).
3. Forward branch, frame 0 up to ``T-1``, likewise with ``forward_trunk``; per frame the two
   states are fused (1x1 ``fusion`` + LeakyReLU) and reconstructed by two pixel-shuffle x2 steps,
   ``conv_hr`` and ``conv_last``, plus the bilinear x4 of the LR frame.

Harness feed (:class:`~vsrbench.models.registry.ModelSpec` ``frames_in='recurrent'``): the whole
clip in one pass, as BasicSR's ``options/test/BasicVSR/test_BasicVSR_*.yml`` evaluate it
(``VideoRecurrentTestDataset``, ``num_frame: -1``, i.e. every frame of the clip at once).
"""

from __future__ import annotations

import torch
from torch import nn

from vsrbench.models.layers import flow_warp, lrelu
from vsrbench.models.refblocks import (
    RECURRENT_X4_SPEC, BasicSRX4Head, ResidualBlocksWithInputConv, SpyNet, pairwise_flows,
)
from vsrbench.models.registry import ModelCard, register_model
from vsrbench.models.weights import weights_of

__all__ = ["BasicVSR", "SPEC", "CARD"]

#: the released BasicSR checkpoints' file names (weights name -> file), from the catalog
OFFICIAL_CHECKPOINTS = {name: w.filename for name, w in weights_of("basicvsr").items()}

SPEC = RECURRENT_X4_SPEC
CARD = ModelCard(
    paper="Chan et al., BasicVSR: The Search for Essential Components in Video Super-Resolution and Beyond, CVPR 2021",
    reported_params_m=6.3,
    checkpoint_name=OFFICIAL_CHECKPOINTS["reds4"],
    checkpoint_url="https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md",
    notes="BasicSR 1.4.2 architecture and key names (num_feat 64, num_block 30); released files "
    + ", ".join(OFFICIAL_CHECKPOINTS.values())
    + " load as published. Fed the whole clip (BasicSR test_BasicVSR_*.yml, num_frame -1).",
)


class BasicVSR(BasicSRX4Head, nn.Module):
    """BasicVSR x4 (see the module docstring); ``num_feat`` channels, ``num_block`` residual blocks
    in each branch's trunk."""

    def __init__(self, num_feat: int = 64, num_block: int = 30):
        super().__init__()
        self.num_feat = num_feat
        self.spynet = SpyNet("basicsr")
        self.backward_trunk = ResidualBlocksWithInputConv(num_feat + 3, num_feat, num_block)
        self.forward_trunk = ResidualBlocksWithInputConv(num_feat + 3, num_feat, num_block)
        self.fusion = nn.Conv2d(num_feat * 2, num_feat, 1, 1, 0, bias=True)
        self._init_head(num_feat)

    def _backward_states(self, x: torch.Tensor, flows_backward: torch.Tensor) -> list[torch.Tensor]:
        n, t, _, h, w = x.shape
        states: list[torch.Tensor] = [None] * t  # type: ignore[list-item]
        state = x.new_zeros(n, self.num_feat, h, w)
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                state = flow_warp(state, flows_backward[:, i])
            state = self.backward_trunk(torch.cat((x[:, i], state), dim=1))
            states[i] = state
        return states

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] < 2:
            raise ValueError(f"BasicVSR takes N x T x 3 x H x W with T >= 2, got {tuple(x.shape)}")
        flows_forward, flows_backward = pairwise_flows(self.spynet, x)
        back = self._backward_states(x, flows_backward)
        n, t, _, h, w = x.shape
        state = x.new_zeros(n, self.num_feat, h, w)
        outputs = []
        for i in range(t):
            if i > 0:
                state = flow_warp(state, flows_forward[:, i - 1])
            state = self.forward_trunk(torch.cat((x[:, i], state), dim=1))
            fused = lrelu(self.fusion(torch.cat((back[i], state), dim=1)))
            outputs.append(self._to_hr(fused, x[:, i]))
        return torch.stack(outputs, dim=1)


@register_model("basicvsr", SPEC, CARD)
def basicvsr(scale: int = 4, **kwargs) -> BasicVSR:
    if scale != 4:
        raise ValueError(f"BasicVSR is x4 only, got scale {scale}")
    return BasicVSR(**kwargs)
