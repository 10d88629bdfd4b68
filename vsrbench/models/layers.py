"""Building blocks shared by the VSR / STVSR architectures.

* :class:`ResidualBlockNoBN` -- conv-ReLU-conv plus identity (EDVR / ZSM style, parameter names
  ``conv1`` / ``conv2``).
* :func:`modulated_deform_conv` and :class:`DCNv2Pack` -- modulated deformable convolution (DCNv2)
  through :func:`torchvision.ops.deform_conv2d`, with offsets and masks predicted from a separate
  "offset feature" (EDVR / BasicSR ``DCNv2Pack`` and ZSM ``DCN_sep`` layout).
* :func:`pad_to_multiple` -- replicate padding of the last two dims (crop back after the net).

Nothing here names a device: every tensor is created on the input's device and dtype, so the blocks
run on CPU and CUDA, under fp16 / bf16 autocast too (torchvision's ``deform_conv2d`` casts itself to
float32 under autocast).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import deform_conv2d

__all__ = [
    "ResidualBlockNoBN",
    "make_layer",
    "modulated_deform_conv",
    "DCNv2Pack",
    "pad_to_multiple",
]


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
    """

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
        self.bias = nn.Parameter(torch.empty(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        nn.init.uniform_(self.bias, -bound, bound)
        off_in = in_channels if offset_channels is None else offset_channels
        self.conv_offset_mask = nn.Conv2d(
            off_in, 3 * deformable_groups * kernel_size * kernel_size, kernel_size, 1, padding
        )
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def offsets_and_mask(self, offset_feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.conv_offset_mask(offset_feat)
        o1, o2, m = torch.chunk(out, 3, dim=1)
        return torch.cat((o1, o2), dim=1), torch.sigmoid(m)

    def forward(self, x: torch.Tensor, offset_feat: torch.Tensor) -> torch.Tensor:
        offset, mask = self.offsets_and_mask(offset_feat)
        return modulated_deform_conv(x, offset, mask, self.weight, self.bias, padding=self.padding)


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
