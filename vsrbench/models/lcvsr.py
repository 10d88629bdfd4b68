"""LCVSR: dynamic local filter network (DLFN) + global refinement network (GRN), seed 000.

Written from the paper (``shared/reference/papers/lcvsr.txt``) and ``architectures.md``; no code or
weights are public. ``B x 7 x 1 x H x W`` (Y channel in [0, 1]) -> ``B x 1 x 1 x rH x rW`` (centre, Y).

Model card (``paper`` = what the paper says, and where; **reading** / **invented** = a choice here):

==================  ===============================================  =========================================
layer group         paper says                                       vsrbench does (why)
==================  ===============================================  =========================================
input               3.1: C = 7 LR frames (Y), eq. 3                  the 7 frames as 7 channels
LFGN stem           not described                                    conv 3x3 7 -> 32 + LeakyReLU (**invented**:
                                                                     the sub-blocks need a first depth)
LFGN sub-blocks     3.1 "four sub-blocks ... one ResBlock for depth  sub-block k: ResBlock w_{k-1} -> w_k with a
                    enlargement and three ResBlocks with no shape    1x1 conv on its shortcut, then three ResBlocks
                    change"; "grouped convolutions"                  at w_k; 3x3 convs in 8 groups. Widths 32 ->
                                                                     64, 128, 256, 512 and 8 groups **invented**
                                                                     (sized to Table 4's 5.81 M)
dense shortcuts     3.1 "densely connected by shortcuts ... If the   additive: sub-block k's input = the previous
                    tensors at the two sides of a shortcut have      output + every earlier output (stem
                    different shapes, a 1 x 1 convolution"           included), each through a 1x1 conv where
                                                                     its depth differs (**reading**: a 1x1 that
                                                                     makes shapes compatible implies a sum, not a
                                                                     concatenation); the same into the head
resize to filters   3.1: depth C -> C' = C s^2 L, resized to         a 1x1 conv 512 -> C' (**invented**: the
                    C x sH x sW x L                                  paper's last sub-block reaches C' itself;
                                                                     512 -> 1008 wide 3x3 convs would cost ~9 M)
ResBlock            3.1 "two 3x3 conv layers, two LeakyReLU layers   ``shortcut(x) + lrelu(conv2(lrelu(conv1)))``;
                    and an inner shortcut"                           slope 0.1 **invented**
LC layer            eq. 2, s = 3                                     unfold + einsum, zero padding, no softmax
pixel shuffle       3.1 "pixel-shuffle network"                      PixelShuffle(r), L = r^2 maps
GRN                 3.2: five sub-blocks, conv / transposed conv +   1: conv 1 -> 64; 2-3: stride-2 convs (128,
                    LeakyReLU then three ResBlocks "structurally     256); 4-5: 4x4 stride-2 transposed convs;
                    the same as those in the DLFN"; encoder 2-3,     ResBlocks grouped like the DLFN's (8 groups);
                    decoder 4-5; shortcuts; final 5x5 conv +         shortcuts 2 -> 4 and 1 -> 5 added
                    LeakyReLU                                        (**reading**, U-Net style); widths 64 /
                                                                     128 / 256 **invented**; 5x5 conv + LeakyReLU
init                4.x: Xavier                                      Xavier-uniform, zero biases
==================  ===============================================  =========================================

Parameter arithmetic at x4 (C' = 7 * 9 * 16 = 1008; a grouped 3x3 conv ``a -> b`` = ``9ab/8 + b``):

* LFGN 3,960,048 = stem 2,048 + sub-blocks 37,184 + 147,584 + 588,032 + 2,347,520 (each: the enlarging
  ResBlock with its 1x1 shortcut + three shape-keeping ones; the last: 147,968 + 295,424 + 131,584 =
  574,976, + 3 x 590,848) + dense 1x1s 2,112 + 12,544 + 58,112 + 247,808 + head 517,104 (512 x 1008 + 1008);
* GRN 1,749,505 = convs 640 + 73,856 + 295,168 + 524,416 + 131,136 + 1,601, ResBlocks 28,032 + 111,360 +
  443,904 + 111,360 + 28,032;
* total **5,709,553** (paper, Table 4: 5.81 M; -1.7 %). At x3 (C' = 567) the head shrinks: 5,483,320.

**Memory**: in eval mode the LFGN + LC layer run in horizontal strips of ``tile_rows`` LR rows with a
halo covering the LFGN's receptive field (``tile_halo``, default = that radius), so the 1008-channel
filter volume is never held for the whole frame; the result equals the untiled computation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models.layers import pad_to_multiple
from vsrbench.models.registry import ModelCard, ModelSpec, register_model

__all__ = ["LCVSR", "local_filter", "LFGN", "GRN"]


def local_filter(x: torch.Tensor, filters: torch.Tensor, chunk_rows: int | None = None) -> torch.Tensor:
    """The locally connected layer: per-pixel dynamic 3x3 x C filters.

    Args:
        x: ``B x C x H x W``.
        filters: ``B x (L * C * 9) x H x W``, per pixel ``L`` filters laid out ``(L, C, 3, 3)``.
        chunk_rows: compute this many rows at a time (``None``: all at once).

    Returns:
        ``B x L x H x W`` with ``out[b, l, i, j] = sum_{c, u, v} filters[b, (l, c, u, v), i, j] *
        xpad[b, c, i + u, j + v]`` (``xpad`` = ``x`` zero-padded by 1).
    """
    b, c, h, w = x.shape
    k = c * 9
    if filters.shape[1] % k:
        raise ValueError(f"filters have {filters.shape[1]} channels, not a multiple of C*9 = {k}")
    n_l = filters.shape[1] // k
    xp = F.pad(x, (1, 1, 1, 1))
    step = h if not chunk_rows else max(1, int(chunk_rows))
    outs = []
    for r0 in range(0, h, step):
        r1 = min(h, r0 + step)
        patches = F.unfold(xp[:, :, r0 : r1 + 2], 3)  # B x (C*9) x (rows*W), ordered (c, u, v)
        filt = filters[:, :, r0:r1].reshape(b, n_l, k, (r1 - r0) * w)
        outs.append(torch.einsum("blkp,bkp->blp", filt, patches.to(filt.dtype)).reshape(b, n_l, r1 - r0, w))
    return torch.cat(outs, 2) if len(outs) > 1 else outs[0]


def _groups(cin: int, cout: int, g: int) -> int:
    return math.gcd(math.gcd(cin, cout), g)


class _ResBlock(nn.Module):
    """``shortcut(x) + lrelu(conv2(lrelu(conv1(x))))``; 1x1 conv shortcut when in != out."""

    def __init__(self, cin: int, cout: int, groups: int = 1, slope: float = 0.1):
        super().__init__()
        self.slope = slope
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, groups=_groups(cin, cout, groups))
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, groups=_groups(cout, cout, groups))
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x if self.shortcut is None else self.shortcut(x)
        return s + F.leaky_relu(self.conv2(F.leaky_relu(self.conv1(x), self.slope)), self.slope)


class LFGN(nn.Module):
    """Local filter generation network: ``B x C x H x W`` -> ``B x C' x H x W`` filters.

    ``stem`` conv (C -> ``stem``) + LeakyReLU, then four sub-blocks; sub-block ``k`` = one ResBlock that
    enlarges the depth ``w_{k-1} -> w_k`` (1x1 conv on its shortcut) + ``n_keep`` shape-keeping
    ResBlocks. Dense shortcuts, additive: the input of sub-block ``k`` (and of the ``head``) is the sum
    of the stem's and every earlier sub-block's output, each through a 1x1 conv where its depth differs
    (``dense[k][j]``; ``None`` = the identity: same shape). ``head``: 1x1 conv to ``C'``.
    """

    def __init__(self, in_channels: int, out_channels: int, stem: int = 64, widths=(64, 128, 256, 512),
                 groups: int = 8, n_keep: int = 3, slope: float = 0.1):
        super().__init__()
        self.slope = slope
        self.stem = nn.Conv2d(in_channels, stem, 3, 1, 1)
        outs = (stem,) + tuple(widths)  # output depth of the stem and of each sub-block
        blocks, dense = [], []
        for k, wdt in enumerate(widths):
            blocks.append(nn.Sequential(_ResBlock(outs[k], wdt, groups, slope),
                                        *[_ResBlock(wdt, wdt, groups, slope) for _ in range(n_keep)]))
        for k in range(1, len(outs)):  # destination: sub-block k's input (k = len(widths): the head's)
            # sources: the stem and the sub-blocks before the one feeding it directly (outs[j], j < k)
            dense.append(nn.ModuleList(nn.Conv2d(outs[j], outs[k], 1) if outs[j] != outs[k] else nn.Identity()
                                       for j in range(k)))
        self.blocks = nn.ModuleList(blocks)
        self.dense = nn.ModuleList(dense)
        self.head = nn.Conv2d(outs[-1], out_channels, 1)
        #: rows of context one output row depends on (3x3 convs only)
        self.receptive_radius = 1 + len(widths) * 2 * (1 + n_keep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [F.leaky_relu(self.stem(x), self.slope)]
        for k, blk in enumerate(self.blocks):
            inp = feats[-1]
            if k > 0:
                inp = inp + sum(s(f) for s, f in zip(self.dense[k - 1], feats[: k]))
            feats.append(blk(inp))
        out = feats[-1] + sum(s(f) for s, f in zip(self.dense[-1], feats[:-1]))
        return self.head(out)


class GRN(nn.Module):
    """Global refinement network (5 sub-blocks, encoder-decoder, final 5x5 conv + LeakyReLU)."""

    def __init__(self, channels: int = 1, widths=(32, 64, 128), n_res: int = 3, slope: float = 0.1, groups: int = 8):
        super().__init__()
        w0, w1, w2 = widths
        self.slope = slope
        # ResBlocks "structurally the same as those in the DLFN": grouped like them
        rb = lambda c: nn.Sequential(*[_ResBlock(c, c, groups, slope) for _ in range(n_res)])  # noqa: E731
        self.head1, self.body1 = nn.Conv2d(channels, w0, 3, 1, 1), rb(w0)
        self.head2, self.body2 = nn.Conv2d(w0, w1, 3, 2, 1), rb(w1)
        self.head3, self.body3 = nn.Conv2d(w1, w2, 3, 2, 1), rb(w2)
        self.head4, self.body4 = nn.ConvTranspose2d(w2, w1, 4, 2, 1), rb(w1)
        self.head5, self.body5 = nn.ConvTranspose2d(w1, w0, 4, 2, 1), rb(w0)
        self.conv_last = nn.Conv2d(w0, channels, 5, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x, _, _ = pad_to_multiple(x, 4)
        a = lambda t: F.leaky_relu(t, self.slope)  # noqa: E731
        s1 = self.body1(a(self.head1(x)))
        s2 = self.body2(a(self.head2(s1)))
        s3 = self.body3(a(self.head3(s2)))
        s4 = self.body4(a(self.head4(s3)) + s2)
        s5 = self.body5(a(self.head5(s4)) + s1)
        return a(self.conv_last(s5))[..., :h, :w]


class LCVSR(nn.Module):
    """LCVSR: ``B x T x 1 x H x W`` (T = 7, Y in [0, 1]) -> ``B x 1 x 1 x rH x rW``.

    Args:
        scale: r (3 or 4); L = r^2 filters per pixel.
        nframes: C, the number of input frames (7).
        filter_size: s (3; only 3 is supported).
        lfgn_stem, lfgn_widths, lfgn_groups: LFGN widths / groups (choices, see the module docstring).
        grn_widths: GRN widths of the three resolutions.
        slope: LeakyReLU negative slope (0.1, a choice).
        tile_rows, tile_halo: eval-time strip height (LR rows) and halo (``None``: the receptive radius).
        lc_chunk_rows: row chunk of the LC layer contraction.
    """

    def __init__(self, scale: int = 4, nframes: int = 7, filter_size: int = 3, lfgn_stem: int = 32,
                 lfgn_widths=(64, 128, 256, 512), lfgn_groups: int = 8, grn_widths=(64, 128, 256),
                 slope: float = 0.1, tile_rows: int = 48, tile_halo: int | None = None, lc_chunk_rows: int = 16):
        super().__init__()
        if filter_size != 3:
            raise ValueError("LCVSR: only 3x3 local filters (s = 3) are implemented")
        self.scale = scale
        self.nframes = nframes
        self.n_maps = scale * scale
        self.lfgn = LFGN(nframes, nframes * 9 * self.n_maps, lfgn_stem, tuple(lfgn_widths), lfgn_groups, 3, slope)
        self.shuffle = nn.PixelShuffle(scale)
        self.grn = GRN(1, tuple(grn_widths), 3, slope, lfgn_groups)
        self.tile_rows = tile_rows
        self.tile_halo = self.lfgn.receptive_radius + 1 if tile_halo is None else tile_halo
        self.lc_chunk_rows = lc_chunk_rows
        for mod in self.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(mod.weight)
                nn.init.zeros_(mod.bias)

    def dlfn(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W`` frames -> ``B x L x H x W`` LC-layer maps (tiled over rows in eval mode)."""
        h = x.shape[-2]
        tile = self.tile_rows
        if self.training or not tile or h <= tile:
            return local_filter(x, self.lfgn(x), self.lc_chunk_rows)
        outs = []
        for r0 in range(0, h, tile):
            r1 = min(h, r0 + tile)
            a, b = max(0, r0 - self.tile_halo), min(h, r1 + self.tile_halo)
            strip = x[:, :, a:b]
            out = local_filter(strip, self.lfgn(strip), self.lc_chunk_rows)
            outs.append(out[:, :, r0 - a : r1 - a])
        return torch.cat(outs, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[2] != 1 or x.shape[1] != self.nframes:
            raise ValueError(f"LCVSR expects B x {self.nframes} x 1 x H x W, got {tuple(x.shape)}")
        frames = x[:, :, 0]
        provisional = self.shuffle(self.dlfn(frames))
        return self.grn(provisional).unsqueeze(1)


LCVSR_SPEC = ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="y", scales=(3, 4), input_range=(0.0, 1.0),
                       spatial_multiple=1)

LCVSR_CARD = ModelCard(
    paper="LCVSR: video super-resolution with a dynamic local filter network and a global refinement network (seed 000)",
    reported_params_m=5.81,
    notes=("No official code or weights. Implementation from the paper (section 3, Table 4); the card table "
           "(paper says / vsrbench does / why) is the module docstring of vsrbench.models.lcvsr. LFGN: four "
           "sub-blocks, each a depth-enlarging ResBlock with a 1x1 shortcut + three shape-keeping ResBlocks, "
           "additive dense shortcuts with 1x1 convs where depths differ; GRN ResBlocks grouped like the DLFN's. "
           "5.71 M parameters at x4 (paper 5.81 M), 5.48 M at x3."),
)


@register_model("lcvsr", LCVSR_SPEC, LCVSR_CARD)
def lcvsr(scale: int = 4, nframes: int = 7, filter_size: int = 3, lfgn_stem: int = 32,
          lfgn_widths=(64, 128, 256, 512), lfgn_groups: int = 8, grn_widths=(64, 128, 256), slope: float = 0.1,
          tile_rows: int = 48, tile_halo: int | None = None, lc_chunk_rows: int = 16) -> LCVSR:
    if scale not in (3, 4):
        raise ValueError(f"LCVSR supports scales 3 and 4, got {scale}")
    return LCVSR(scale=scale, nframes=nframes, filter_size=filter_size, lfgn_stem=lfgn_stem,
                 lfgn_widths=lfgn_widths, lfgn_groups=lfgn_groups, grn_widths=grn_widths, slope=slope,
                 tile_rows=tile_rows, tile_halo=tile_halo, lc_chunk_rows=lc_chunk_rows)
