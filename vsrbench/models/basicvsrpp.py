"""BasicVSR++: second-order grid propagation with flow-guided deformable alignment (Chan et al.,
CVPR 2022, "BasicVSR++: Improving Video Super-Resolution with Enhanced Propagation and Alignment").

Written from the paper (Sec. 3, Fig. 2-4, Eq. 1-6) and from reading MMagic 1.2.0's
``mmagic/models/editors/basicvsr_plusplus_net/basicvsr_plusplus_net.py`` (with its SPyNet and
``ResidualBlocksWithInputConv`` from ``basicvsr/basicvsr_net.py``), the code of the authors' released
checkpoints; no code is copied. The module and parameter names are MMagic's, so its released files
(``{'meta': ..., 'state_dict': {'generator.<key>': ..., 'step_counter': ...}}``, e.g.
``basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth``) load strictly through
:func:`vsrbench.models.load_checkpoint`, which takes the ``generator.`` entries and leaves the
training wrapper's own (``step_counter``).

Parameters: 7,322,927 at 64 channels and 7 blocks, the paper's 7.3 M. BasicSR's port
(``basicsr/archs/basicvsrpp_arch.py``) counts 5,283,439 (5.28 M) because it creates the four second-order
deformable alignment modules (``deform_align.*``, 509,872 parameters each, 2.04 M together) only
``if torch.cuda.is_available()``: built on a machine without CUDA it has no alignment at all (and
its forward then skips alignment), so neither its count nor its CPU output is BasicVSR++'s. This
model matches MMagic's (and the paper's) architecture, alignment included, on every device.

``forward(lqs)``: ``N x T x 3 x H x W`` RGB in [0, 1], ``H, W >= 64`` (as MMagic asserts: SPyNet's
pyramid); returns ``N x T x 3 x 4H x 4W``, not clamped.

1. ``feat_extract`` (conv + 5 residual blocks) per frame; SPyNet flows between neighbours (the
   forward flows are the backward ones reversed when the clip is a mirror-extended one, as MMagic
   does: the same values at half the cost).
2. Four propagation branches in order ``backward_1``, ``forward_1``, ``backward_2``,
   ``forward_2``; each step aligns its previous two states by :class:`SecondOrderDeformableAlignment`
   (deformable conv whose offsets are ``10 * tanh(residue)`` added to the flows, Eq. 6) and adds
   ``backbone[branch]([spatial feature, the earlier branches' features of this frame, aligned
   state])`` to the aligned state.
3. ``reconstruction`` (conv + 5 residual blocks on all five features), two ``PixelShufflePack``
   x2, ``conv_hr``, ``conv_last``, plus the bilinear x4 of the LR frame.

MMagic's ``cpu_cache`` (features parked in CPU memory for clips over 100 frames on a GPU) changes
memory use only, not the result, and is not reproduced. Only the x4 (``is_low_res_input=True``)
form is provided.

Harness feed: the whole clip in one pass (``frames_in='recurrent'``), as MMagic's test configs
(``configs/basicvsr_pp/basicvsr-pp_c64n7_8xb1-600k_reds4.py`` and its base
``basicvsr_2xb4_reds4.py``: ``num_input_frames`` unset at test time, i.e. every frame) evaluate it.
"""

from __future__ import annotations

import torch
from torch import nn

from vsrbench.models.layers import flow_warp, lrelu, modulated_deform_conv
from vsrbench.models.refblocks import (
    RECURRENT_X4_SPEC, PixelShufflePack, ResidualBlocksWithInputConv, SpyNet, pairwise_flows,
)
from vsrbench.models.registry import ModelCard, register_model
from vsrbench.models.weights import weights_of

__all__ = ["BasicVSRPlusPlus", "SecondOrderDeformableAlignment", "SPEC", "CARD"]

#: the released MMagic checkpoints' download URLs (weights name -> URL), from the catalog
OFFICIAL_CHECKPOINTS = {name: w.url for name, w in weights_of("basicvsrpp").items()}

SPEC = RECURRENT_X4_SPEC
CARD = ModelCard(
    paper="Chan et al., BasicVSR++: Improving Video Super-Resolution with Enhanced Propagation and Alignment, "
    "CVPR 2022",
    reported_params_m=7.3,
    checkpoint_name=weights_of("basicvsrpp")["reds4"].filename,
    checkpoint_url=OFFICIAL_CHECKPOINTS["reds4"],
    notes="MMagic 1.2.0 architecture and key names (mid_channels 64, num_blocks 7): 7.32 M parameters as the "
    "paper states (BasicSR's port counts 5.28 M on a machine without CUDA: it omits the deformable alignment "
    "there). MMagic's released files (generator. prefix) load as published. Fed the whole clip; H, W >= 64.",
)

BRANCHES = ("backward_1", "forward_1", "backward_2", "forward_2")


class SecondOrderDeformableAlignment(nn.Module):
    """Flow-guided deformable alignment of the two previous states (paper Sec. 3.2, Eq. 5-6).

    Parameters ``weight`` (``out x in x 3 x 3``), ``bias`` and ``conv_offset`` (four 3x3 convs,
    LeakyReLU between, ``3 * out + 4 -> out -> out -> out -> 27 * G``). ``forward(x, cond, flow_1,
    flow_2)``: ``x`` = [state n-1, state n-2] (unwarped), ``cond`` = [state n-1 warped by
    ``flow_1``, current feature, state n-2 warped by ``flow_2``]; the offset residues (``max_residue_magnitude *
    tanh``) are added to the flows (as ``(dy, dx)``, repeated over groups and taps: the first half
    of the groups to ``flow_1``, the second to ``flow_2``); masks are sigmoids.
    """

    def __init__(self, in_channels: int = 128, out_channels: int = 64, deform_groups: int = 16,
                 max_residue_magnitude: float = 10):
        super().__init__()
        self.deform_groups = deform_groups
        self.max_residue_magnitude = max_residue_magnitude
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        bound = 1.0 / (in_channels * 9) ** 0.5
        nn.init.uniform_(self.weight, -bound, bound)
        self.conv_offset = nn.Sequential(
            nn.Conv2d(3 * out_channels + 4, out_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(out_channels, 27 * deform_groups, 3, 1, 1),
        )
        nn.init.zeros_(self.conv_offset[-1].weight)
        nn.init.zeros_(self.conv_offset[-1].bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, flow_1: torch.Tensor, flow_2: torch.Tensor) -> torch.Tensor:
        o1, o2, m = torch.chunk(self.conv_offset(torch.cat((cond, flow_1, flow_2), dim=1)), 3, dim=1)
        residue = self.max_residue_magnitude * torch.tanh(torch.cat((o1, o2), dim=1))
        res_1, res_2 = torch.chunk(residue, 2, dim=1)
        reps = res_1.shape[1] // 2
        offset = torch.cat((res_1 + flow_1.flip(1).repeat(1, reps, 1, 1),
                            res_2 + flow_2.flip(1).repeat(1, reps, 1, 1)), dim=1)
        return modulated_deform_conv(x, offset, torch.sigmoid(m), self.weight, self.bias, padding=1)


class BasicVSRPlusPlus(nn.Module):
    """BasicVSR++ x4 (see the module docstring)."""

    MIN_SIZE = 64

    def __init__(self, mid_channels: int = 64, num_blocks: int = 7, max_residue_magnitude: float = 10):
        super().__init__()
        self.mid_channels = mid_channels
        self.spynet = SpyNet("mmagic")
        self.feat_extract = ResidualBlocksWithInputConv(3, mid_channels, 5)
        self.deform_align = nn.ModuleDict()
        self.backbone = nn.ModuleDict()
        for i, name in enumerate(BRANCHES):
            self.deform_align[name] = SecondOrderDeformableAlignment(
                2 * mid_channels, mid_channels, 16, max_residue_magnitude)
            self.backbone[name] = ResidualBlocksWithInputConv((2 + i) * mid_channels, mid_channels, num_blocks)
        self.reconstruction = ResidualBlocksWithInputConv(5 * mid_channels, mid_channels, 5)
        self.upsample1 = PixelShufflePack(mid_channels, mid_channels, 2, 3)
        self.upsample2 = PixelShufflePack(mid_channels, 64, 2, 3)
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)

    def _flows(self, lqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = lqs.shape[1]
        if t % 2 == 0 and torch.equal(lqs[:, : t // 2], lqs[:, t // 2:].flip(1)):  # mirror-extended clip
            n, _, c, h, w = lqs.shape
            backward = self.spynet(lqs[:, :-1].reshape(-1, c, h, w), lqs[:, 1:].reshape(-1, c, h, w))
            backward = backward.view(n, t - 1, 2, h, w)
            return backward.flip(1), backward
        return pairwise_flows(self.spynet, lqs)

    def _align(self, name: str, prop: list[torch.Tensor], flows: torch.Tensor, i: int,
               current: torch.Tensor) -> torch.Tensor:
        """Step ``i`` of branch ``name``: the previous state (and the one before) aligned to the
        current frame. ``flows[:, k]`` is the flow of step k's transition (see :meth:`_propagate`)."""
        state = prop[-1]
        flow_1 = flows[:, i - 1]
        cond_1 = flow_warp(state, flow_1)
        state_2, flow_2, cond_2 = torch.zeros_like(state), torch.zeros_like(flow_1), torch.zeros_like(cond_1)
        if i > 1:
            state_2 = prop[-2]
            flow_2 = flow_1 + flow_warp(flows[:, i - 2], flow_1)
            cond_2 = flow_warp(state_2, flow_2)
        cond = torch.cat((cond_1, current, cond_2), dim=1)
        return self.deform_align[name](torch.cat((state, state_2), dim=1), cond, flow_1, flow_2)

    def _propagate(self, feats: dict[str, list[torch.Tensor]], flows: torch.Tensor, name: str) -> list[torch.Tensor]:
        """One branch; returns its states in time order. ``flows`` are those of the branch's
        direction, re-indexed so that ``flows[:, k]`` carries step ``k`` to step ``k + 1``."""
        t = len(feats["spatial"])
        backward = name.startswith("backward")
        order = list(range(t - 1, -1, -1)) if backward else list(range(t))
        step_flows = flows.flip(1) if backward else flows
        earlier = [k for k in feats if k != "spatial"]  # the branches run before this one
        n, _, _, h, w = flows.shape
        prop: list[torch.Tensor] = []
        state = flows.new_zeros(n, self.mid_channels, h, w)
        for i, idx in enumerate(order):
            current = feats["spatial"][idx]
            if i > 0:
                state = self._align(name, prop, step_flows, i, current)
            inputs = [current] + [feats[k][idx] for k in earlier] + [state]
            state = state + self.backbone[name](torch.cat(inputs, dim=1))
            prop.append(state)
        return prop[::-1] if backward else prop

    def _reconstruct(self, lqs: torch.Tensor, feats: dict[str, list[torch.Tensor]]) -> torch.Tensor:
        outputs = []
        for i in range(lqs.shape[1]):
            hr = self.reconstruction(torch.cat([feats[k][i] for k in feats], dim=1))
            hr = lrelu(self.upsample2(lrelu(self.upsample1(hr))))
            hr = self.conv_last(lrelu(self.conv_hr(hr)))
            up = nn.functional.interpolate(lqs[:, i], scale_factor=4, mode="bilinear", align_corners=False)
            outputs.append(hr + up)
        return torch.stack(outputs, dim=1)

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        n, t, c, h, w = lqs.shape
        if h < self.MIN_SIZE or w < self.MIN_SIZE or t < 2:
            raise ValueError(f"BasicVSR++ needs T >= 2 frames of at least {self.MIN_SIZE}x{self.MIN_SIZE} "
                             f"LR pixels (SPyNet's pyramid, as MMagic asserts), got {tuple(lqs.shape)}")
        spatial = self.feat_extract(lqs.reshape(-1, c, h, w)).view(n, t, -1, h, w)
        feats: dict[str, list[torch.Tensor]] = {"spatial": list(spatial.unbind(1))}
        flows_forward, flows_backward = self._flows(lqs)
        for name in BRANCHES:
            flows = flows_backward if name.startswith("backward") else flows_forward
            feats[name] = self._propagate(feats, flows, name)
        return self._reconstruct(lqs, feats)


@register_model("basicvsrpp", SPEC, CARD)
def basicvsrpp(scale: int = 4, **kwargs) -> BasicVSRPlusPlus:
    if scale != 4:
        raise ValueError(f"BasicVSR++ is x4 only, got scale {scale}")
    return BasicVSRPlusPlus(**kwargs)
