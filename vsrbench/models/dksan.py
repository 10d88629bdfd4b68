"""DKSAN: deformable kernel spatial attention network for extreme (x16) video super-resolution.

Written from the paper's text and numbers (``architectures.md``); there is no official code or
checkpoint. ``B x 7 x 3 x H x W`` RGB in [0, 1] -> the centre frame ``B x 1 x 3 x 16H x 16W``.

Progressive x16 = four x2 levels, ``Y_k = U_k(Recon_k(E_k(Y_{k-1}))) + bicubic_x2(Y_{k-1})``,
``Y_0`` = the centre LR frame:

* ``E_1``: ``conv_first`` (3 -> nf) + LeakyReLU(0.1), 5 residual blocks (no BN), DKC Align of the six
  neighbours to the centre (reference) frame, and a 1x1 fusion (7 nf -> nf) of the aligned neighbours
  with the reference feature, which passes through **unaligned** (eq. 10 holds for ``n != r``).
* DKC Align (:class:`DKCAlign`, eqs. 10-11): ``dP_n, dM_n = D(f([F_n, F_r]))``, ``f`` = conv 3x3
  (2 nf -> ``align_width``) + LeakyReLU(0.1); ``D`` = six deformable-kernel convs (five depthwise at
  ``align_width`` + LeakyReLU(0.1), the sixth a full one to ``3 x 8 x 9`` channels that *are* the
  offsets and mask logits of the alignment; no separate regular conv predicts them); the neighbour is
  aligned by a modulated deformable 3x3 conv (nf -> nf, 8 deformable groups; BasicSR's
  ``o1, o2, sigmoid(m)`` split, through ``torchvision.ops.deform_conv2d``).
* ``E_k``, k >= 2: one conv 3x3 (3 -> nf) + LeakyReLU(0.1) on ``Y_{k-1}`` (**choice**: the paper's
  5-ResBlock extractor is the one fed the 7 LR frames; a 5-ResBlock extractor at every level would
  overshoot the reported 29.5 M by 4.4 M).
* ``Recon_k``: RCABs (30, 20, 15, 10 per level; RCAN's block, channel-attention reduction 16) then
  DKSA, with a long skip ``f + DKSA(RCABs(f))`` (**choice**, RCAN's residual-group practice).
  DKSA (:class:`DKSA`, the paper's text) = one conv 3x3 (nf -> ``dksa_width``) + ReLU, then
  deformable-kernel convs (+ ReLU) whose last one gives a one-channel map -> sigmoid -> multiplies
  the features. Five DK convs in levels 2-4 (the authors' later code); the light level-1 DKSA has four
  (**choice**: the paper only says "light").
* ``U_k``: conv nf -> 4 nf, PixelShuffle(2), LeakyReLU(0.1), conv nf -> 3.

Deformable-kernel conv (eq. 11; :class:`~vsrbench.models.layers.DeformableKernelConv2d`): the kernel
is resampled at ``k + dk`` (bilinear on a learnable 4x4 weight grid per input/output channel pair, as
the authors' later code; taps at grid positions 0, 1.5, 3; clamped to the grid) **and** the input at
``p + p_k + dp_k``, modulated by a mask (DCNv2). ``dk``, ``dp`` and the mask come from a 3x3 conv on
the layer's input (5 x 9 channels, shared by all channels; zero-initialised: a fresh layer is the
regular resampled kernel at mask 0.5, DCNv2's initialisation).

Widths (**choice**, from Table 3 of the paper, the IntVID x16 ablation: backbone 26.1 M -> + channel
attention 26.3 M -> + DKC Align 27.0 M -> + DKSA 29.5 M): the paper gives neither internal width, and
the 128-channel reading of the authors' later code overshoots (Align +0.83 M, DKSA +3.34 M). With
nf = 128:

* ``align_width`` = nf / 2 = 64 (the width of the authors' code fragments) gives Align +0.678 M
  (Table 3: +0.7; 56 gives 0.61 M, 72 gives 0.74 M);
* ``dksa_width`` = 5 nf / 8 = 80 with five (level 1: four) DK convs gives DKSA +2.528 M (Table 3:
  +2.5; 72 gives 2.14 M, 88 gives 2.95 M): the only multiple of 8 inside Table 3's rounding.

Parameters at the defaults (``channel_attention``, ``align``, ``dksa`` switch the modules off, as the
ablation does): backbone 26,117,772; + channel attention 26,281,572 (+163,800); + DKC Align
26,959,306 (+677,734); + DKSA 29,487,045 (+2,527,739) -- each rounds to Table 3's value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.layers import (
    DeformableKernelConv2d,
    ResidualBlockNoBN,
    make_layer,
    modulated_deform_conv,
)
from vsrbench.models.registry import ModelCard, ModelSpec, register_model

__all__ = ["DeformableKernelConv2d", "DKCAlign", "DKSA", "RCAB", "DKSAN"]

ALIGN_WIDTH_RATIO = (1, 2)  # align_width = nf * 1 / 2: 64 at nf = 128
DKSA_WIDTH_RATIO = (5, 8)  # dksa_width = nf * 5 / 8: 80 at nf = 128


def _width(nf: int, width: int | None, ratio: tuple[int, int]) -> int:
    return max(1, nf * ratio[0] // ratio[1]) if width is None else int(width)


class DKCAlign(nn.Module):
    """DKC Align of one neighbour to the reference (eqs. 10-11).

    ``dP_n, dM_n = D(f([F_n, F_r]))``; ``aligned = DConv(F_n; dP_n, dM_n)``:

    * ``f``: conv 3x3 (``2 nf -> width``) + LeakyReLU(0.1) (``conv_fuse``);
    * ``D``: ``n_dk`` deformable-kernel convs (eq. 11, each resamples its kernel at ``k + dk`` and its
      input at ``p + p_k + dp_k``): ``n_dk - 1`` depthwise ones at ``width`` (+ LeakyReLU(0.1)), the
      last a full one ``width -> 3 * groups * 9`` whose output *is* the offsets and masks (split
      ``o1, o2, m``; ``offset = cat(o1, o2)``, ``mask = sigmoid(m)``: the BasicSR DCNv2Pack layout).
      It starts at zero (offsets 0, masks 0.5: BasicSR practice);
    * ``DConv``: a modulated deformable 3x3 conv ``nf -> nf`` with ``groups`` deformable groups.
    """

    def __init__(self, nf: int = 128, width: int | None = None, groups: int = 8, n_dk: int = 6,
                 weight_grid: int = 4):
        super().__init__()
        if n_dk < 1:
            raise ValueError(f"DKCAlign: n_dk must be >= 1 (the last deformable-kernel layer outputs the offsets), "
                             f"got {n_dk}")
        width = _width(nf, width, ALIGN_WIDTH_RATIO)
        self.groups = groups
        self.conv_fuse = nn.Conv2d(2 * nf, width, 3, 1, 1)
        layers = [DeformableKernelConv2d(width, width, 3, weight_grid, groups=width) for _ in range(n_dk - 1)]
        layers.append(DeformableKernelConv2d(width, 3 * groups * 9, 3, weight_grid))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.dk_convs = nn.ModuleList(layers)
        dcn = nn.Conv2d(nf, nf, 3, 1, 1)  # PyTorch's default conv initialisation for the DConv weights
        self.weight = nn.Parameter(dcn.weight.detach().clone())
        self.bias = nn.Parameter(dcn.bias.detach().clone())

    def offsets_and_mask(self, nbr: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 10: ``(dP_n, dM_n)``, ``B x 2*G*9 x H x W`` (torchvision layout) and ``B x G*9 x H x W``."""
        d = F.leaky_relu(self.conv_fuse(torch.cat((nbr, ref), 1)), 0.1)
        for dk in self.dk_convs[:-1]:
            d = F.leaky_relu(dk(d), 0.1)
        o1, o2, m = torch.chunk(self.dk_convs[-1](d), 3, dim=1)
        return torch.cat((o1, o2), 1), torch.sigmoid(m)

    def forward(self, nbr: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        offset, mask = self.offsets_and_mask(nbr, ref)
        return modulated_deform_conv(nbr, offset, mask, self.weight, self.bias, padding=1)


class DKSA(nn.Module):
    """Deformable-kernel spatial attention: ``x * sigmoid(DK_n(...relu(DK_1(relu(conv(x))))))``.

    One conv 3x3 (``nf -> width``) + ReLU, then ``n_dk`` deformable-kernel convs (eq. 11; ``n_dk - 1``
    at ``width`` + ReLU, the last ``width -> 1``): a one-channel spatial map through a sigmoid that
    multiplies every feature channel.
    """

    def __init__(self, nf: int = 128, width: int | None = None, n_dk: int = 5, weight_grid: int = 4):
        super().__init__()
        if n_dk < 1:
            raise ValueError(f"DKSA: n_dk must be >= 1 (the last deformable-kernel layer gives the map), got {n_dk}")
        width = _width(nf, width, DKSA_WIDTH_RATIO)
        self.conv = nn.Conv2d(nf, width, 3, 1, 1)
        self.dk_convs = nn.ModuleList(
            [DeformableKernelConv2d(width, width, 3, weight_grid) for _ in range(n_dk - 1)]
            + [DeformableKernelConv2d(width, 1, 3, weight_grid)]
        )

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The ``B x 1 x H x W`` map in (0, 1)."""
        a = F.relu(self.conv(x))
        for dk in self.dk_convs[:-1]:
            a = F.relu(dk(a))
        return torch.sigmoid(self.dk_convs[-1](a))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x).to(x.dtype)


class RCAB(nn.Module):
    """RCAN's residual channel attention block: ``x + CA(conv(relu(conv(x))))``.

    ``channel_attention=False`` drops ``CA`` (a plain residual block: Table 3's backbone).
    """

    def __init__(self, nf: int = 128, reduction: int = 16, channel_attention: bool = True):
        super().__init__()
        mid = max(1, nf // reduction)
        self.body = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(nf, nf, 3, 1, 1))
        self.ca = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(nf, mid, 1), nn.ReLU(inplace=True), nn.Conv2d(mid, nf, 1), nn.Sigmoid()
        ) if channel_attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.body(x)
        return x + (r if self.ca is None else r * self.ca(r))


class _Level(nn.Module):
    def __init__(self, nf: int, n_rcab: int, reduction: int, dksa_layers: int, first: bool, nframes: int,
                 groups: int, n_resblocks: int, n_align_dk: int, align_width: int | None = None,
                 dksa_width: int | None = None, weight_grid: int = 4, channel_attention: bool = True,
                 align: bool = True, dksa: bool = True):
        super().__init__()
        self.first = first
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.align = None
        if first:
            self.feature_extraction = make_layer(ResidualBlockNoBN, n_resblocks, nf=nf, init_scale=1.0)
            if align:
                self.align = DKCAlign(nf, align_width, groups, n_align_dk, weight_grid)
            self.fusion = nn.Conv2d(nframes * nf, nf, 1)
        self.rcabs = nn.Sequential(*[RCAB(nf, reduction, channel_attention) for _ in range(n_rcab)])
        self.dksa = DKSA(nf, dksa_width, dksa_layers, weight_grid) if dksa else None
        self.upconv = nn.Conv2d(nf, 4 * nf, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(2)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if not self.first:
            return F.leaky_relu(self.conv_first(x), 0.1)
        b, t, c, h, w = x.shape
        f = self.feature_extraction(F.leaky_relu(self.conv_first(x.reshape(b * t, c, h, w)), 0.1))
        nf = f.shape[1]
        f = f.reshape(b, t, nf, h, w)
        if self.align is not None and t > 1:
            # eq. 10, n != r: the neighbours are aligned to the reference; the reference passes unaligned
            r = t // 2
            ref = f[:, r]
            nbr = torch.cat((f[:, :r], f[:, r + 1 :]), 1).reshape(b * (t - 1), nf, h, w)
            ref_rep = ref.unsqueeze(1).expand(b, t - 1, nf, h, w).reshape(b * (t - 1), nf, h, w)
            aligned = self.align(nbr, ref_rep).reshape(b, t - 1, nf, h, w).to(f.dtype)
            f = torch.cat((aligned[:, :r], ref.unsqueeze(1), aligned[:, r:]), 1)
        return F.leaky_relu(self.fusion(f.reshape(b, t * nf, h, w)), 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.encode(x)
        r = self.rcabs(f)
        f = f + (r if self.dksa is None else self.dksa(r))
        return self.conv_last(F.leaky_relu(self.shuffle(self.upconv(f)), 0.1))


class DKSAN(nn.Module):
    """DKSAN: ``B x T x 3 x H x W`` -> ``B x 1 x 3 x sH x sW`` (centre frame), ``s = 2 ** len(n_rcabs)``.

    Args:
        scale: 16 (four x2 levels); any power of two with ``len(n_rcabs) == log2(scale)``.
        nf: width (128 in the paper; the authors' later code fragments use 64).
        nframes: input frames (7).
        n_rcabs: RCABs per level (30, 20, 15, 10).
        reduction: channel-attention reduction (16).
        n_resblocks: residual blocks of the level-1 feature extractor (5).
        n_align_dk: deformable-kernel convs in DKC Align's ``D`` (6; the last outputs the offsets/masks).
        dksa_layers: deformable-kernel convs in DKSA, levels >= 2 (5; the last outputs the map).
        dksa_light_layers: deformable-kernel convs in the light level-1 DKSA (4; a choice).
        groups: deformable groups of the alignment DConv (8).
        align_width: width of ``f`` and ``D`` in DKC Align (``None``: ``nf / 2``, 64 at the defaults).
        dksa_width: width of DKSA's conv and deformable-kernel convs (``None``: ``5 nf / 8``, 80).
        weight_grid: side of every deformable-kernel conv's learnable weight grid (4).
        channel_attention, align, dksa: switch the RCABs' channel attention, DKC Align (off: the 7
            extracted features go straight into the fusion) and DKSA (off: ``f + RCABs(f)``) on or
            off: Table 3's ablation ladder.
    """

    def __init__(self, scale: int = 16, nf: int = 128, nframes: int = 7, n_rcabs=(30, 20, 15, 10),
                 reduction: int = 16, n_resblocks: int = 5, n_align_dk: int = 6, dksa_layers: int = 5,
                 dksa_light_layers: int = 4, groups: int = 8, align_width: int | None = None,
                 dksa_width: int | None = None, weight_grid: int = 4, channel_attention: bool = True,
                 align: bool = True, dksa: bool = True):
        super().__init__()
        n_rcabs = tuple(n_rcabs)
        if 2 ** len(n_rcabs) != scale:
            raise ValueError(f"DKSAN: scale {scale} needs log2(scale) levels, got n_rcabs={n_rcabs}")
        self.scale = scale
        self.nframes = nframes
        self.levels = nn.ModuleList(
            _Level(nf, n, reduction, dksa_light_layers if i == 0 else dksa_layers, i == 0, nframes, groups,
                   n_resblocks, n_align_dk, align_width, dksa_width, weight_grid, channel_attention, align, dksa)
            for i, n in enumerate(n_rcabs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f"DKSAN expects B x T x 3 x H x W, got {tuple(x.shape)}")
        y = x[:, x.shape[1] // 2]
        inp = x
        for level in self.levels:
            up = F.interpolate(y, scale_factor=2, mode="bicubic", align_corners=False)
            y = level(inp) + up
            inp = y
        return y.unsqueeze(1)


DKSAN_SPEC = ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="rgb", scales=(16,), input_range=(0.0, 1.0),
                       spatial_multiple=1)

DKSAN_CARD = ModelCard(
    paper=(
        "DKSAN: deformable kernel spatial attention network for extreme video super-resolution (x16), "
        "seed 003"
    ),
    reported_params_m=29.5,
    checkpoint_url=None,
    checkpoint_name=None,
    notes=(
        "No official code or weights. Written from the paper's text, eqs. 10-11 and Table 3: DKC Align's "
        "deformable-kernel layers D output the offsets and masks themselves (neighbours only; the reference "
        "passes unaligned into the fusion); each DK conv resamples its kernel (k + dk, 4x4 weight grid) and "
        "its input (p + p_k + dp_k, modulated); DKSA = conv + stacked DK convs to a one-channel sigmoid map "
        "(light: 4 DK convs in level 1, 5 elsewhere). Internal widths chosen to match Table 3's per-module "
        "counts: Align width 64 (+0.68 M), DKSA width 80 (+2.53 M); 29.49 M in total (paper 29.5 M)."
    ),
)


@register_model("dksan", DKSAN_SPEC, DKSAN_CARD)
def dksan(scale: int = 16, nf: int = 128, nframes: int = 7, n_rcabs=(30, 20, 15, 10), reduction: int = 16,
          n_resblocks: int = 5, n_align_dk: int = 6, dksa_layers: int = 5, dksa_light_layers: int = 4,
          groups: int = 8, align_width: int | None = None, dksa_width: int | None = None, weight_grid: int = 4,
          channel_attention: bool = True, align: bool = True, dksa: bool = True) -> DKSAN:
    return DKSAN(scale=scale, nf=nf, nframes=nframes, n_rcabs=n_rcabs, reduction=reduction,
                 n_resblocks=n_resblocks, n_align_dk=n_align_dk, dksa_layers=dksa_layers,
                 dksa_light_layers=dksa_light_layers, groups=groups, align_width=align_width,
                 dksa_width=dksa_width, weight_grid=weight_grid, channel_attention=channel_attention,
                 align=align, dksa=dksa)
