"""LCVSR against its paper (section 3.1, Table 4): the LFGN's depth-enlarging ResBlocks with 1x1
shortcuts, additive dense shortcuts through 1x1 convs where depths differ, GRN ResBlocks grouped like
the DLFN's, and the parameter count near 5.81 M."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vsrbench.models import create_model
from vsrbench.models.lcvsr import LFGN

pytestmark = pytest.mark.usefixtures("fast_cpu_for_tiny_tensors")


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_lfgn_sub_blocks_and_parameter_count_follow_the_paper():
    with torch.device("meta"):
        m4 = create_model("lcvsr", scale=4)
        m3 = create_model("lcvsr", scale=3)
    n4 = _count(m4)
    print(f"LCVSR x4 {n4:,} (LFGN {_count(m4.lfgn):,}, GRN {_count(m4.grn):,}); x3 {_count(m3):,}")
    assert n4 == 5_709_553 and abs(n4 / 5.81e6 - 1) < 0.10  # Table 4: 5.81 M
    assert _count(m3) == 5_483_320
    lfgn = m4.lfgn
    assert len(lfgn.blocks) == 4
    depth = lfgn.stem.out_channels
    for blk in lfgn.blocks:
        enlarge, *keep = list(blk)
        assert len(keep) == 3 and enlarge.conv1.out_channels > depth == enlarge.conv1.in_channels
        assert enlarge.shortcut is not None and enlarge.shortcut.kernel_size == (1, 1)
        assert all(k.shortcut is None and k.conv1.in_channels == k.conv1.out_channels for k in keep)
        assert enlarge.conv2.groups == 8 and all(k.conv1.groups == k.conv2.groups == 8 for k in keep)
        depth = enlarge.conv1.out_channels
    # dense shortcuts: every earlier output reaches every later sub-block and the head; depths all differ
    # at the defaults, so each goes through a 1x1 conv
    assert [len(d) for d in lfgn.dense] == [1, 2, 3, 4]
    assert all(isinstance(s, nn.Conv2d) and s.kernel_size == (1, 1) for d in lfgn.dense for s in d)
    # the GRN's ResBlocks are grouped like the DLFN's
    grn_blocks = [mod for name, mod in m4.grn.named_modules() if type(mod).__name__ == "_ResBlock"]
    assert len(grn_blocks) == 15 and all(b.conv1.groups == b.conv2.groups == 8 for b in grn_blocks)


def _randomise(module):
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.4)
    return module


def test_shortcut_across_differing_shapes_goes_through_a_1x1_conv():
    """The enlarging ResBlock's shortcut is a 1x1 conv (its residual branch zeroed: the block *is* that
    1x1 conv); the dense shortcuts add earlier outputs through 1x1 convs where depths differ and
    unchanged where they match; the LFGN equals that sum computed by hand."""
    torch.manual_seed(0)
    lfgn = _randomise(LFGN(3, 5, stem=2, widths=(4, 4, 6, 7), groups=1)).double()
    x = torch.randn(1, 3, 5, 6, dtype=torch.float64)
    # same depth (sub-block 1 -> 2): identity; differing depth: a 1x1 conv
    assert isinstance(lfgn.dense[0][0], nn.Conv2d)  # stem (2) -> sub-block 2's input (4)
    assert isinstance(lfgn.dense[1][1], nn.Identity)  # sub-block 1 (4) -> sub-block 3's input (4)
    assert lfgn.blocks[1][0].shortcut is None  # 4 -> 4: no enlargement, no 1x1
    enlarge = lfgn.blocks[2][0]  # 4 -> 6
    with torch.no_grad():
        h = torch.randn(1, 4, 5, 6, dtype=torch.float64)
        sc = F.conv2d(h, enlarge.shortcut.weight, enlarge.shortcut.bias)
        assert enlarge.shortcut.weight.shape == (6, 4, 1, 1)
        assert (enlarge(h) - sc).abs().max() > 1e-3  # the residual branch counts ...
        enlarge.conv2.weight.zero_()
        enlarge.conv2.bias.zero_()
        torch.testing.assert_close(enlarge(h), sc)  # ... and the shortcut is the 1x1 conv

        a = lambda t: F.leaky_relu(t, 0.1)  # noqa: E731
        f0 = a(F.conv2d(x, lfgn.stem.weight, lfgn.stem.bias, padding=1))
        f1 = lfgn.blocks[0](f0)
        c = lambda s, t: F.conv2d(t, s.weight, s.bias)  # noqa: E731
        d = lfgn.dense
        f2 = lfgn.blocks[1](f1 + c(d[0][0], f0))
        f3 = lfgn.blocks[2](f2 + c(d[1][0], f0) + f1)
        f4 = lfgn.blocks[3](f3 + c(d[2][0], f0) + c(d[2][1], f1) + c(d[2][2], f2))
        out = F.conv2d(f4 + c(d[3][0], f0) + c(d[3][1], f1) + c(d[3][2], f2) + c(d[3][3], f3),
                       lfgn.head.weight, lfgn.head.bias)
        torch.testing.assert_close(lfgn(x), out)
        # the dense 1x1 convs are on the path (the comparison above can fail)
        d[2][0].weight.add_(1.0)
        assert (lfgn(x) - out).abs().max() > 1e-3


def test_lcvsr_tiling_with_dense_1x1_shortcuts_equals_untiled():
    torch.manual_seed(0)
    m = create_model("lcvsr", scale=4, lfgn_stem=4, lfgn_widths=(8, 8, 12, 16), grn_widths=(8, 16, 16)).eval()
    x = torch.rand(1, 7, 1, 23, 9)
    with torch.no_grad():
        m.tile_rows = 0
        full = m(x)
        m.tile_rows = 5
        tiled = m(x)
    torch.testing.assert_close(tiled, full, atol=1e-5, rtol=1e-5)
