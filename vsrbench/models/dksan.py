"""DKSAN: deformable kernel spatial attention network for extreme (x16) video super-resolution.

Written from the paper (``shared/reference/papers/dksan.txt``) and ``architectures.md``; there is no
official code or checkpoint. ``B x 7 x 3 x H x W`` RGB in [0, 1] -> the centre frame
``B x 1 x 3 x 16H x 16W``. Progressive x16 = four x2 levels (eqs. 5-8),
``Y_k = U_k(Recon_k(E_k(Y_{k-1}))) + bicubic_x2(Y_{k-1})``, ``Y_0`` = the centre LR frame.

Model card (``paper`` = what the paper says, and where; **reading** / **invented** = a choice here):

=====================  ==========================================  =============================================
layer group            paper says                                   vsrbench does (why)
=====================  ==========================================  =============================================
feature extraction     eq. 2; 4.2 "5 resblocks are in feature       ``conv_first`` 3 -> 128 + LeakyReLU(0.1), 5
(level 1)              extractor"; 128 filters, 3x3 (4.2)           residual blocks (no BN, EDVR's [35]).
                                                                    LeakyReLU 0.1: **invented** (EDVR practice)
DKC Align ``f``        eq. 10 "one Conv2d layer to fuse F_n, F_r"   conv 3x3 2*128 -> 128 + LeakyReLU(0.1)
                       (128 filters, 4.2)                           (activation **invented**)
DKC Align ``D``        eq. 10 "dP_n, dM_n = D(f([F_n, F_r]))",       **one** deformable-kernel layer 128 -> 3 x 8 x
                       eq. 11 (D applied to f's output), text       9 whose output *is* (o1, o2, m): offsets
                       "several deformable kernel layers";          ``cat(o1, o2)``, masks ``sigmoid(m)`` (**reading**:
                       "128 filters ... all deformable kernel       eq. 11 writes D on f's output; a second 128-
                       layers" (4.2)                                wide DK layer breaks Table 3, see below)
DKC Align DConv        eq. 9, modulated deformable conv;            modulated deformable 3x3 conv 128 -> 128, 8
                       128 filters (4.2)                            deformable groups (**reading**: EDVR's 8, the
                                                                    paper compares with EDVR), BasicSR's split
alignment targets      eqs. 3, 10: n != r                           neighbours only; the reference passes unaligned
fusion W_E             eq. 4, 1x1 conv (4.2 "fusion layers 1x1")    1x1 7*128 -> 128, then LeakyReLU(0.1) (the
                                                                    LeakyReLU is **invented**: not in eq. 4)
E_2..E_4               eqs. 6-8 name them, no structure             conv 3x3 3 -> 128 + LeakyReLU(0.1) (**invented**:
                                                                    5 resblocks per level would add 4.4 M)
RCABs                  3.3 "same structure as RCAN"; 30/20/15/10     RCAN's RCAB, reduction 16
                       per level, r = 16 (4.2)
long skip              eq. 12 ``F_recon = DKSA(RCABs(F)) + F``      as eq. 12
DKSA                   3.3 "one Conv layer ... then a couple of     conv 3x3 128 -> 128 + ReLU, three DK layers 128
                       stacked DKC layers" -> attention map;        -> 128 (+ ReLU), a DK layer 128 -> 1 -> sigmoid,
                       Fig. 3(c) a light version in level 1;        multiplies every channel. Number of DK layers,
                       128 filters (4.2)                            ReLU and the one-channel map: **reading**.
                                                                    Light (level 1): conv + the one-channel DK
                                                                    layer (**reading**, sized by Table 3)
DK layer (eq. 11)      ``sum_k W_{k+dk} . x(p + p_k + dp_k)``: no   kernel resampled at ``k + dk`` (bilinear on a
                       modulation mask                              3x3 weight grid, **reading**: kernel space =
                                                                    kernel), input at ``p + p_k + dp_k``, no mask
                                                                    (eq. 11). ``dk``, ``dp`` from a 3x3 conv on the
                                                                    layer's input (4 x 9 channels; **reading**: the
                                                                    DCN / Deformable Kernels generator), zero-init
upscale U_k            Fig. 4: convs + PixelShuffle + LeakyReLU,    conv 128 -> 512, PixelShuffle(2), LeakyReLU(0.1),
                       last conv 3 maps (4.2)                       conv 128 -> 3 (slope **invented**)
=====================  ==========================================  =============================================

Widths and Table 3 (IntVID x16 ablation: backbone 26.1 M -> + channel attention 26.3 M -> + DKC Align
27.0 M -> + DKSA 29.5 M): every DK and deformable-conv layer reads 128 channels and every hidden one
writes 128 (section 4.2); only output heads differ (216 = offsets + masks, 1 = the map). Arithmetic
(3x3 conv ``a -> b`` = ``9ab + b``; a DK layer ``a -> b`` = ``9ab + b`` (grid) + ``9a*36 + 36`` (generator)):

* Align = f ``295,040`` + DK 128 -> 216 ``249,048 + 41,508`` + DConv ``147,584`` = **733,180** (27.01 M:
  Table 3's 27.0). A second DK layer would add 189,092 (full) or 42,788 (depthwise): 0.92 / 0.78 M, out
  of Table 3's rounding; a 4x4 weight grid makes the offset head alone 442,584 (Align 0.93 M).
* DKSA at levels 2-4 = conv ``147,584`` + 3 x ``189,092`` + one-channel ``1,153 + 41,508`` = 757,521;
  light level 1 = ``147,584 + 42,661`` = 190,245; DKSA = 3 x 757,521 + 190,245 = **2,462,808**. (Two
  full DK layers per level give 1.90 M, four 3.03 M; a light level with one full layer 2.65 M.)
* Eq. 11's modulation mask (DCNv2's ``+K`` generator channels, about 0.15 M over the model) is dropped:
  the paper gives it no mask.

Parameters at the defaults (``channel_attention``, ``align``, ``dksa`` switch the modules off, as the
ablation does): backbone 26,117,772; + channel attention 26,281,572; + DKC Align 27,014,752; + DKSA
29,477,560 -- each rounds to Table 3's value. The authors' later code fragments (64 channels, six
depthwise DK layers on a 4x4 grid, stride-2 DKSA) are reachable through the constructor arguments.
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

ALIGN_WIDTH_RATIO = (1, 1)  # align_width = nf: 128 filters (section 4.2)
DKSA_WIDTH_RATIO = (1, 1)  # dksa_width = nf: 128 filters (section 4.2)


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
      It starts at zero (offsets 0, masks 0.5: BasicSR practice). The DK layers have no mask (eq. 11);
    * ``DConv``: a modulated deformable 3x3 conv ``nf -> nf`` with ``groups`` deformable groups.
    """

    def __init__(self, nf: int = 128, width: int | None = None, groups: int = 8, n_dk: int = 1,
                 weight_grid: int = 3):
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

    def __init__(self, nf: int = 128, width: int | None = None, n_dk: int = 4, weight_grid: int = 3):
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
                 dksa_width: int | None = None, weight_grid: int = 3, channel_attention: bool = True,
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
        n_align_dk: deformable-kernel convs in DKC Align's ``D`` (1, the one that outputs the
            offsets/masks; more add depthwise ones before it, as the authors' later code's 6).
        dksa_layers: deformable-kernel convs in DKSA, levels >= 2 (4; the last outputs the map).
        dksa_light_layers: deformable-kernel convs in the light level-1 DKSA (1: the map; a reading).
        groups: deformable groups of the alignment DConv (8).
        align_width: width of ``f`` and ``D`` in DKC Align (``None``: ``nf``, 128 filters: section 4.2).
        dksa_width: width of DKSA's conv and deformable-kernel convs (``None``: ``nf``, 128).
        weight_grid: side of every deformable-kernel conv's learnable weight grid (3, a reading; the
            authors' later code uses 4).
        channel_attention, align, dksa: switch the RCABs' channel attention, DKC Align (off: the 7
            extracted features go straight into the fusion) and DKSA (off: ``f + RCABs(f)``) on or
            off: Table 3's ablation ladder.
    """

    def __init__(self, scale: int = 16, nf: int = 128, nframes: int = 7, n_rcabs=(30, 20, 15, 10),
                 reduction: int = 16, n_resblocks: int = 5, n_align_dk: int = 1, dksa_layers: int = 4,
                 dksa_light_layers: int = 1, groups: int = 8, align_width: int | None = None,
                 dksa_width: int | None = None, weight_grid: int = 3, channel_attention: bool = True,
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
        "No official code or weights. Written from the paper's text, eqs. 9-12, section 4.2 and Table 3; "
        "the card table (paper says / vsrbench does / why) is the module docstring of vsrbench.models.dksan. "
        "128 filters in every deformable-kernel and deformable-conv layer (4.2); DK layers follow eq. 11 "
        "(kernel at k + dk on a 3x3 grid, input at p + p_k + dp_k, no mask); DKC Align = conv + one DK layer "
        "giving the DConv's offsets and masks (eq. 10) + modulated DConv (8 groups); DKSA = conv + 3 DK "
        "layers + a one-channel DK map (light level 1: conv + the map). Align +0.733 M, DKSA +2.463 M, "
        "29.48 M in total (Table 3: 27.0 -> 29.5 M)."
    ),
)


@register_model("dksan", DKSAN_SPEC, DKSAN_CARD)
def dksan(scale: int = 16, nf: int = 128, nframes: int = 7, n_rcabs=(30, 20, 15, 10), reduction: int = 16,
          n_resblocks: int = 5, n_align_dk: int = 1, dksa_layers: int = 4, dksa_light_layers: int = 1,
          groups: int = 8, align_width: int | None = None, dksa_width: int | None = None, weight_grid: int = 3,
          channel_attention: bool = True, align: bool = True, dksa: bool = True) -> DKSAN:
    return DKSAN(scale=scale, nf=nf, nframes=nframes, n_rcabs=n_rcabs, reduction=reduction,
                 n_resblocks=n_resblocks, n_align_dk=n_align_dk, dksa_layers=dksa_layers,
                 dksa_light_layers=dksa_light_layers, groups=groups, align_width=align_width,
                 dksa_width=dksa_width, weight_grid=weight_grid, channel_attention=channel_attention,
                 align=align, dksa=dksa)
