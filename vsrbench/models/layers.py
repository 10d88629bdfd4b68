"""Building blocks shared by the VSR / STVSR architectures.

* :class:`ResidualBlockNoBN` -- conv-ReLU-conv plus identity (EDVR / ZSM style, parameter names
  ``conv1`` / ``conv2``).
* :func:`modulated_deform_conv` and :class:`DCNv2Pack` -- modulated deformable convolution (DCNv2)
  through :func:`torchvision.ops.deform_conv2d`, with offsets and masks predicted from a separate
  "offset feature" (ZSM ``DCN_sep`` layout; EDVR / BasicSR's ``DCNv2Pack`` is its subclass
  ``edvr_blocks.DeformAlignPack``, which only renames the offset conv and initialises as BasicSR).
* :func:`flow_warp` -- backward warping by a dense flow (BasicVSR, IconVSR, BasicVSR++, TOFlow).
* :func:`lrelu`, :func:`up2` -- LeakyReLU(0.1) and bilinear x2 (``align_corners=False``), as every
  EDVR-family network uses them.
* :func:`deformable_kernel_conv2d` and :class:`DeformableKernelConv2d` -- the deformable-kernel
  convolution of DKSAN's eq. 11 (Gao et al.'s Deformable Kernels combined with DCNv2): the kernel is
  resampled at ``k + dk`` from a learnable weight grid and the input at ``p + p_k + dp_k``
  (modulated); the input sampling runs through :func:`torchvision.ops.deform_conv2d`.
* :func:`pad_to_multiple` -- replicate padding of the last two dims (crop back after the net).

Nothing here names a device: every tensor is created on the input's device and dtype, so the blocks
run on CPU and CUDA, under fp16 / bf16 autocast too (torchvision's ``deform_conv2d`` casts itself to
float32 under autocast).
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import deform_conv2d

__all__ = [
    "lrelu",
    "up2",
    "flow_warp",
    "ResidualBlockNoBN",
    "make_layer",
    "modulated_deform_conv",
    "DCNv2Pack",
    "deformable_unfold",
    "kernel_grid_coefficients",
    "kernel_tap_positions",
    "deformable_kernel_conv2d",
    "DeformableKernelConv2d",
    "pad_to_multiple",
]


_log = logging.getLogger(__name__)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """LeakyReLU with slope 0.1 (every LeakyReLU of the EDVR / BasicVSR family)."""
    return F.leaky_relu(x, 0.1)


def up2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 upsampling, ``align_corners=False``."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def flow_warp(x: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Sample ``x`` (``N x C x H x W``) at ``p + flow(p)``; ``flow`` is ``N x 2 x H x W`` in pixels,
    channel 0 horizontal, 1 vertical. Bilinear, pixel centres at integer positions
    (``align_corners=True``), outside samples by ``padding_mode``."""
    _, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype, device=x.device).view(h, 1).expand(h, w)
    xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, w).expand(h, w)
    px = xs + flow[:, 0].to(x.dtype)
    py = ys + flow[:, 1].to(x.dtype)
    grid = torch.stack((px * (2.0 / max(w - 1, 1)) - 1.0, py * (2.0 / max(h - 1, 1)) - 1.0), dim=3)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)


def make_layer(block, n: int, **kwargs) -> nn.Sequential:
    """``nn.Sequential`` of ``n`` blocks built by ``block(**kwargs)`` (children named 0..n-1)."""
    return nn.Sequential(*[block(**kwargs) for _ in range(n)])


class ResidualBlockNoBN(nn.Module):
    """``x + conv2(relu(conv1(x)))``, 3x3 convs, no batch norm.

    Initialisation: Kaiming-normal scaled by ``init_scale`` (0.1, EDVR / BasicSR practice) so a
    deep stack starts close to identity.
    """

    def __init__(self, nf: int = 64, init_scale: float = 0.1):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            conv.weight.data.mul_(init_scale)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


def modulated_deform_conv(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    padding: int = 1,
    stride: int = 1,
    dilation: int = 1,
) -> torch.Tensor:
    """Modulated deformable convolution (DCNv2) = :func:`torchvision.ops.deform_conv2d`.

    ``offset``: ``B x (2 * G * kh * kw) x H' x W'`` in torchvision's layout, i.e. for deformable
    group ``g`` and tap ``k`` (row-major over the kernel) channels ``2 * (g * kh * kw + k)`` and
    ``+ 1`` hold ``(dy, dx)`` in pixels. ``mask``: ``B x (G * kh * kw) x H' x W'`` (already in
    [0, 1]) or ``None`` (DCNv1). With zero offsets and a mask of ones this is ``F.conv2d``.
    """
    tensors = [t for t in (x, offset, mask, weight, bias) if t is not None]
    if any(t.dtype in (torch.float16, torch.bfloat16) for t in tensors) or len({t.dtype for t in tensors}) > 1:
        # Reduced precision / autocast: run in float32, as torchvision's own CUDA autocast rule does
        # (its CPU kernel has no bfloat16 / float16 version). The result stays float32.
        f = lambda t: None if t is None else t.float()  # noqa: E731
        with torch.autocast(x.device.type, enabled=False):
            return deform_conv2d(f(x), f(offset), f(weight), f(bias), stride=(stride, stride),
                                 padding=(padding, padding), dilation=(dilation, dilation), mask=f(mask))
    return deform_conv2d(
        x,
        offset,
        weight,
        bias,
        stride=(stride, stride),
        padding=(padding, padding),
        dilation=(dilation, dilation),
        mask=mask,
    )


class DCNv2Pack(nn.Module):
    """Modulated deformable conv whose offsets and masks come from a separate offset feature.

    Parameters, in this order (the ZSM ``*_dcnpack_*`` / EDVR layout): ``weight``
    (``out x in x k x k``), ``bias`` (``out``), then ``conv_offset_mask`` (a ``k x k`` conv from
    ``offset_channels`` to ``3 * groups * k * k``). Its output is split into three equal chunks
    ``o1, o2, m``; ``offset = cat(o1, o2)`` goes to ``deform_conv2d`` **unchanged** and
    ``mask = sigmoid(m)``.

    ``conv_offset_mask`` starts at zero (offsets 0, mask 0.5: a plain half-strength conv), the
    BasicSR / EDVR practice that keeps early training stable; ``weight`` gets PyTorch's default
    ``Conv2d`` initialisation.

    Subclasses set :attr:`offset_conv` (the offset conv's name in the state_dict),
    :attr:`zero_bias` (BasicSR's ``ModulatedDeformConv`` initialisation: ``weight`` uniform in
    +-1/sqrt(fan_in), ``bias`` 0) and :attr:`warn_mean_offset` (log a warning when the mean |offset|
    exceeds it, as BasicSR's ``DCNv2Pack`` does).
    """

    offset_conv = "conv_offset_mask"
    zero_bias = False
    warn_mean_offset: float | None = None

    def __init__(
        self,
        in_channels: int = 64,
        out_channels: int = 64,
        kernel_size: int = 3,
        padding: int = 1,
        deformable_groups: int = 8,
        offset_channels: int | None = None,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.padding = padding
        self.deformable_groups = deformable_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        if self.zero_bias:
            self.bias = nn.Parameter(torch.zeros(out_channels))
            nn.init.uniform_(self.weight, -bound, bound)
        else:
            self.bias = nn.Parameter(torch.empty(out_channels))
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            nn.init.uniform_(self.bias, -bound, bound)
        off_in = in_channels if offset_channels is None else offset_channels
        conv = nn.Conv2d(off_in, 3 * deformable_groups * kernel_size * kernel_size, kernel_size, 1, padding)
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
        self.add_module(self.offset_conv, conv)

    def offsets_and_mask(self, offset_feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = getattr(self, self.offset_conv)(offset_feat)
        o1, o2, m = torch.chunk(out, 3, dim=1)
        return torch.cat((o1, o2), dim=1), torch.sigmoid(m)

    def forward(self, x: torch.Tensor, offset_feat: torch.Tensor) -> torch.Tensor:
        offset, mask = self.offsets_and_mask(offset_feat)
        if self.warn_mean_offset is not None and not torch.jit.is_tracing() and offset.numel():
            mean = float(offset.detach().abs().mean())
            if mean > self.warn_mean_offset:
                _log.warning("deformable offsets have mean magnitude %.1f (> %g): alignment may have diverged",
                             mean, self.warn_mean_offset)
        return modulated_deform_conv(x, offset, mask, self.weight, self.bias, padding=self.padding)


def deformable_unfold(
    x: torch.Tensor, offset: torch.Tensor | None, mask: torch.Tensor | None, kernel_size: int = 3
) -> torch.Tensor:
    """The (modulated) input samples of a deformable ``k x k`` conv: ``B x C x K x H*W`` (``K = k*k``).

    ``out[b, c, t, p] = mask[b, t, p] * x_c(p + p_t + offset_t(p))`` with ``p_t`` the ``t``-th tap of
    the ``k x k`` neighbourhood (row-major, "same" padding), ``offset`` in torchvision's layout
    (``(dy, dx)`` per tap, pixels, one offset group: ``B x 2K x H x W``), bilinear sampling with zeros
    outside the image. Computed by :func:`torchvision.ops.deform_conv2d` with a one-hot depthwise
    weight (output channel ``c*K + t`` picks tap ``t`` of channel ``c``); with neither offset nor mask
    it is ``F.unfold``.
    """
    b, c, h, w = x.shape
    k = kernel_size
    kk = k * k
    if offset is None and mask is None:
        return F.unfold(x, k, padding=k // 2).reshape(b, c, kk, h * w)
    if offset is None:
        offset = x.new_zeros(b, 2 * kk, h, w)
    eye = torch.eye(kk, dtype=x.dtype, device=x.device).reshape(kk, 1, k, k).repeat(c, 1, 1, 1)
    cols = modulated_deform_conv(x, offset, mask, eye, None, padding=k // 2)
    return cols.reshape(b, c, kk, h * w)


def kernel_tap_positions(kernel_size: int, weight_grid: int) -> torch.Tensor:
    """Regular positions of the ``k x k`` taps on the ``S x S`` weight grid: ``K x 2`` (row, col),
    ``i * (S - 1) / (k - 1)`` per axis (0, 1.5, 3 for k = 3 on a 4 x 4 grid; 0, 1, 2 on a 3 x 3 one)."""
    k, s = kernel_size, weight_grid
    axis = torch.linspace(0.0, s - 1.0, k, dtype=torch.float64) if k > 1 else torch.full((1,), (s - 1) / 2.0,
                                                                                       dtype=torch.float64)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack((gy.reshape(-1), gx.reshape(-1)), -1)


def kernel_grid_coefficients(
    kernel_offset: torch.Tensor, kernel_size: int, weight_grid: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear resampling of the weight grid at the shifted taps, as 4 corners per tap.

    ``kernel_offset``: ``B x 2K x H x W``, ``(dy, dx)`` per tap in weight-grid cells. Tap ``t`` sits at
    its regular position (:func:`kernel_tap_positions`) plus its offset, clamped to ``[0, S - 1]``
    (the kernel space ends at the grid's border, as ``grid_sample(padding_mode='border',
    align_corners=True)``). Returns ``(index, coeff)``, both ``B x K x 4 x H*W``: flat grid indices
    (row-major, ``S * S``) and their weights, so ``W(q_t + dk_t) = sum_c coeff[.., t, c, .] *
    W[index[.., t, c, .]]``. The lower corner is ``floor`` (``S - 2`` at the upper border), so the
    derivative in ``dk`` is the one-sided slope ``grid_sample`` uses, also at integer positions.
    Computed in at least float32 (under autocast, reduced precision would quantise the positions).
    """
    b, c2, h, w = kernel_offset.shape
    kk = kernel_size * kernel_size
    s = weight_grid
    if c2 != 2 * kk:
        raise ValueError(f"kernel_offset needs 2*{kk} channels for a {kernel_size}x{kernel_size} kernel, got {c2}")
    if s < 2:
        raise ValueError(f"weight_grid must be >= 2, got {s}")
    dt = torch.promote_types(kernel_offset.dtype, torch.float32)
    off = kernel_offset.to(dt).reshape(b, kk, 2, h * w)
    base = kernel_tap_positions(kernel_size, s).to(device=off.device, dtype=dt)  # K x 2
    py = (base[:, 0].reshape(1, kk, 1) + off[:, :, 0]).clamp(0, s - 1)
    px = (base[:, 1].reshape(1, kk, 1) + off[:, :, 1]).clamp(0, s - 1)
    y0 = py.detach().floor().clamp(0, s - 2)
    x0 = px.detach().floor().clamp(0, s - 2)
    fy, fx = py - y0, px - x0
    coeff = torch.stack(((1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx), 2)
    i0 = (y0 * s + x0).long()
    index = torch.stack((i0, i0 + 1, i0 + s, i0 + s + 1), 2)
    return index, coeff


def deformable_kernel_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    kernel_offset: torch.Tensor,
    offset: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    kernel_size: int = 3,
    groups: int = 1,
    max_elements: int = 1 << 25,
) -> torch.Tensor:
    """Deformable-kernel convolution (DKSAN eq. 11), stride 1, "same" padding:

    ``y_o(p) = bias_o + sum_{i in group(o)} sum_t W_oi(q_t + dk_t(p)) * m_t(p) * x_i(p + p_t + dp_t(p))``

    * ``weight``: ``C_out x C_in/groups x S x S``, a learnable weight grid; ``W_oi(.)`` is its bilinear
      interpolation, ``q_t`` the tap's regular grid position (:func:`kernel_tap_positions`), ``dk``
      = ``kernel_offset`` (``B x 2K x H x W``, grid cells; clamped to the grid: see
      :func:`kernel_grid_coefficients`).
    * ``offset`` (``dp``, ``B x 2K x H x W``, pixels, torchvision layout) and ``mask`` (``m``,
      ``B x K x H x W``, in [0, 1]): the input side, DCNv2's; ``None``: a regular grid / no modulation.
    * ``groups``: channel groups (``groups = C_in = C_out``: depthwise). Offsets and mask are shared
      by all channels (one offset group).

    Evaluated without materialising per-pixel kernels: ``z_ig(p) = sum_t coeff_tg(p) m_t x_i(..)``
    (``C_in x S*S`` per pixel; a scatter-add of each tap's 4 grid corners), then ``y = W @ z`` (one
    matmul per group), in pixel chunks of at most ``max_elements`` values of ``z``.
    """
    b, cin, h, w = x.shape
    cout, cin_g, s, s2 = weight.shape
    if s != s2 or cin_g * groups != cin or cout % groups:
        raise ValueError(f"deformable_kernel_conv2d: weight {tuple(weight.shape)} does not fit {cin} input "
                         f"channels in {groups} groups")
    kk = kernel_size * kernel_size
    cols = deformable_unfold(x, offset, mask, kernel_size)  # B x Cin x K x HW
    index, coeff = kernel_grid_coefficients(kernel_offset, kernel_size, s)  # B x K x 4 x HW
    dt = torch.promote_types(cols.dtype, weight.dtype)
    if torch.is_autocast_enabled(x.device.type):
        dt = cols.dtype
    cols, coeff = cols.to(dt), coeff.to(dt)
    wg = weight.to(dt).reshape(groups, cout // groups, cin_g * s * s)
    n = h * w
    step = max(1, min(n, max_elements // max(1, b * cin * s * s)))
    outs = []
    for a in range(0, n, step):
        e = min(n, a + step)
        # z[b, i, g, p] = sum_t coeff_tg(p) * cols[b, i, t, p]: the 4 grid corners of each tap, scattered
        src = (cols[..., a:e].unsqueeze(3) * coeff[..., a:e].unsqueeze(1)).reshape(b, cin, 4 * kk, e - a)
        idx = index[..., a:e].reshape(b, 1, 4 * kk, e - a).expand(b, cin, 4 * kk, e - a)
        z = src.new_zeros(b, cin, s * s, e - a).scatter_add_(2, idx, src)
        z = z.reshape(b, groups, cin_g * s * s, e - a)
        outs.append(torch.matmul(wg.unsqueeze(0), z).reshape(b, cout, e - a))  # y = W @ z per group
    y = outs[0] if len(outs) == 1 else torch.cat(outs, -1)
    if bias is not None:
        y = y + bias.to(y.dtype).reshape(1, cout, 1)
    return y.reshape(b, cout, h, w)


class DeformableKernelConv2d(nn.Module):
    """Deformable-kernel conv (eq. 11) whose ``dk`` and ``dp`` come from the layer's own input.

    A ``k x k`` conv (``C_in -> 4K`` channels: ``dk`` (2K) then ``dp`` (2K); shared by all channels,
    the DCN / Deformable Kernels generator) predicts them; it starts at zero, so a fresh layer is the
    regular conv of the resampled kernel. Eq. 11 has no modulation mask, so by default there is none;
    ``modulated=True`` adds one (``+ K`` mask logits, ``sigmoid``, DCNv2's; 0.5 when fresh).
    The weight grid is ``weight_grid x weight_grid`` (4: the authors' later code; 3: kernel space =
    kernel). ``groups = in_channels = out_channels`` makes it depthwise.
    """

    def __init__(self, in_channels: int, out_channels: int | None = None, kernel_size: int = 3,
                 weight_grid: int = 4, groups: int = 1, modulated: bool = False):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"DeformableKernelConv2d: {in_channels} -> {out_channels} channels in {groups} groups")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.weight_grid, self.groups = kernel_size, weight_grid, groups
        self.modulated = bool(modulated)
        kk = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, weight_grid, weight_grid))
        self.bias = nn.Parameter(torch.empty(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1.0 / math.sqrt(in_channels // groups * kk)
        nn.init.uniform_(self.bias, -bound, bound)
        self.conv_offset = nn.Conv2d(in_channels, (5 if self.modulated else 4) * kk, kernel_size, 1, kernel_size // 2)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def offsets(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(dk, dp, mask)`` for input ``x``: ``B x 2K``, ``B x 2K``, ``B x K`` (sigmoid; ``None`` when
        not ``modulated``) ``x H x W``."""
        kk = self.kernel_size * self.kernel_size
        out = self.conv_offset(x)
        if not self.modulated:
            dk, dp = torch.split(out, (2 * kk, 2 * kk), dim=1)
            return dk, dp, None
        dk, dp, m = torch.split(out, (2 * kk, 2 * kk, kk), dim=1)
        return dk, dp, torch.sigmoid(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dk, dp, mask = self.offsets(x)
        return deformable_kernel_conv2d(x, self.weight, self.bias, dk, dp, mask, self.kernel_size, self.groups)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "replicate") -> tuple[torch.Tensor, int, int]:
    """Pad the last two dims (bottom / right) to multiples of ``multiple``; returns (x, pad_h, pad_w)."""
    h, w = x.shape[-2:]
    ph = (-h) % multiple
    pw = (-w) % multiple
    if ph == 0 and pw == 0:
        return x, 0, 0
    shape = x.shape
    y = F.pad(x.reshape(-1, *shape[-3:]) if x.dim() > 4 else x, (0, pw, 0, ph), mode=mode)
    if x.dim() > 4:
        y = y.reshape(*shape[:-2], h + ph, w + pw)
    return y, ph, pw
