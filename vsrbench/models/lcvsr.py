"""LCVSR: dynamic local filter network (DLFN) + global refinement network (GRN), seed 000.

Written from the architecture facts (``architectures.md``); no code or weights are public.
``B x 7 x 1 x H x W`` (Y channel in [0, 1]) -> ``B x 1 x 1 x rH x rW`` (centre frame, Y).

* **LFGN** (local filter generation): the 7 frames are channels (C = 7). A stem conv (C -> 64) and
  four densely connected sub-blocks (each fed the concatenation of the stem and all earlier
  sub-blocks; each = one depth-enlarging ResBlock with a 1x1 conv on its shortcut + three
  shape-keeping ResBlocks; grouped 3x3 convolutions) grow the depth; a 1x1 conv maps the dense
  concatenation to ``C' = C * s^2 * L`` (s = 3, L = r^2: 1008 channels at x4, 567 at x3), read per
  LR pixel as ``L`` filters of shape ``C x 3 x 3``.
* **LC layer** (eq. 2): ``out[l, p] = sum_{c, k} filt[l, c, k, p] * x[c, p + d_k]`` over the 3x3
  neighbourhood (zero padding) and the 7 frames, no softmax on the filters (the paper does not
  normalise them, unlike DUF). Vectorised as ``F.unfold(x, 3, padding=1)`` contracted with the
  filters (``einsum``), in row chunks (``lc_chunk_rows``). PixelShuffle(r) of the ``L`` maps gives
  the provisional HR frame.
* **GRN**: five sub-blocks (conv or transposed conv + LeakyReLU, then three ResBlocks): 1 full-res,
  2-3 encoder (stride-2 convs, depth up), 4-5 decoder (4x4 stride-2 transposed convs); shortcuts
  add sub-block 2's output to sub-block 4's and sub-block 1's to sub-block 5's (U-Net-style, additive)
  ; a final 5x5 conv + LeakyReLU gives the HR frame. The HR frame is replicate-padded to a multiple
  of 4 inside the GRN and cropped back.
* ResBlock: ``shortcut(x) + lrelu(conv2(lrelu(conv1(x))))`` (two 3x3 convs, two LeakyReLUs).

**Choices where the paper is silent** (all constructor arguments): LeakyReLU slope 0.1; stem width
64; LFGN sub-block widths (64, 128, 256, 512) with 8 groups (a conv whose channels 8 does not divide
uses the greatest common divisor); the final 1x1 projection to ``C'`` (so ``C'`` need not be
divisible by the group count: 567 at x3 is odd); GRN widths (32, 64, 128); Xavier-uniform init
(paper), zero biases. With these defaults the model has 5.88 M parameters at x4 (paper: 5.81 M,
+1.1 %) and 5.42 M at x3 (-6.7 %: the 1x1 projection shrinks with ``C'``; the paper reports one count).

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
    """Local filter generation network: ``B x C x H x W`` -> ``B x C' x H x W`` filters."""

    def __init__(self, in_channels: int, out_channels: int, stem: int = 64, widths=(64, 128, 256, 512),
                 groups: int = 8, n_keep: int = 3, slope: float = 0.1):
        super().__init__()
        self.slope = slope
        self.stem = nn.Conv2d(in_channels, stem, 3, 1, 1)
        blocks = []
        cin = stem
        for wdt in widths:
            blocks.append(nn.Sequential(_ResBlock(cin, wdt, groups, slope),
                                        *[_ResBlock(wdt, wdt, groups, slope) for _ in range(n_keep)]))
            cin += wdt
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, out_channels, 1)
        #: rows of context one output row depends on (3x3 convs only)
        self.receptive_radius = 1 + len(widths) * 2 * (1 + n_keep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [F.leaky_relu(self.stem(x), self.slope)]
        for blk in self.blocks:
            feats.append(blk(torch.cat(feats, 1) if len(feats) > 1 else feats[0]))
        return self.head(torch.cat(feats, 1))


class GRN(nn.Module):
    """Global refinement network (5 sub-blocks, encoder-decoder, final 5x5 conv + LeakyReLU)."""

    def __init__(self, channels: int = 1, widths=(32, 64, 128), n_res: int = 3, slope: float = 0.1):
        super().__init__()
        w0, w1, w2 = widths
        self.slope = slope
        rb = lambda c: nn.Sequential(*[_ResBlock(c, c, 1, slope) for _ in range(n_res)])  # noqa: E731
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

    def __init__(self, scale: int = 4, nframes: int = 7, filter_size: int = 3, lfgn_stem: int = 64,
                 lfgn_widths=(64, 128, 256, 512), lfgn_groups: int = 8, grn_widths=(32, 64, 128),
                 slope: float = 0.1, tile_rows: int = 48, tile_halo: int | None = None, lc_chunk_rows: int = 16):
        super().__init__()
        if filter_size != 3:
            raise ValueError("LCVSR: only 3x3 local filters (s = 3) are implemented")
        self.scale = scale
        self.nframes = nframes
        self.n_maps = scale * scale
        self.lfgn = LFGN(nframes, nframes * 9 * self.n_maps, lfgn_stem, tuple(lfgn_widths), lfgn_groups, 3, slope)
        self.shuffle = nn.PixelShuffle(scale)
        self.grn = GRN(1, tuple(grn_widths), 3, slope)
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
    notes="No official code or weights. Implementation from the paper; 5.88 M parameters at x4 (5.42 M at x3) with defaults.",
)


@register_model("lcvsr", LCVSR_SPEC, LCVSR_CARD)
def lcvsr(scale: int = 4, nframes: int = 7, filter_size: int = 3, lfgn_stem: int = 64,
          lfgn_widths=(64, 128, 256, 512), lfgn_groups: int = 8, grn_widths=(32, 64, 128), slope: float = 0.1,
          tile_rows: int = 48, tile_halo: int | None = None, lc_chunk_rows: int = 16) -> LCVSR:
    if scale not in (3, 4):
        raise ValueError(f"LCVSR supports scales 3 and 4, got {scale}")
    return LCVSR(scale=scale, nframes=nframes, filter_size=filter_size, lfgn_stem=lfgn_stem,
                 lfgn_widths=lfgn_widths, lfgn_groups=lfgn_groups, grn_widths=grn_widths, slope=slope,
                 tile_rows=tile_rows, tile_halo=tile_halo, lc_chunk_rows=lc_chunk_rows)
