"""The special layers against slow direct (loop) references, and the DCN conventions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsrbench.models.dksan import DeformableKernelConv2d
from vsrbench.models.layers import DCNv2Pack, modulated_deform_conv
from vsrbench.models.lcvsr import LCVSR, local_filter


pytestmark = pytest.mark.usefixtures("fast_cpu_for_tiny_tensors")


def _lc_reference(x, filters):
    b, c, h, w = x.shape
    n_l = filters.shape[1] // (c * 9)
    f = filters.reshape(b, n_l, c, 3, 3, h, w)
    xp = F.pad(x, (1, 1, 1, 1))
    out = torch.zeros(b, n_l, h, w, dtype=x.dtype)
    for bb in range(b):
        for ll in range(n_l):
            for i in range(h):
                for j in range(w):
                    acc = 0.0
                    for cc in range(c):
                        for u in range(3):
                            for v in range(3):
                                acc += float(f[bb, ll, cc, u, v, i, j]) * float(xp[bb, cc, i + u, j + v])
                    out[bb, ll, i, j] = acc
    return out


def test_local_filter_matches_loop_reference():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    filters = torch.randn(2, 4 * 3 * 9, 5, 4, dtype=torch.float64)
    ref = _lc_reference(x, filters)
    for chunk in (None, 1, 2, 3, 16):
        out = local_filter(x, filters, chunk)
        assert out.shape == (2, 4, 5, 4)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # float32 as used by the model
    torch.testing.assert_close(local_filter(x.float(), filters.float(), 2), ref.float(), atol=1e-5, rtol=1e-5)


def test_local_filter_rejects_bad_filter_depth():
    with pytest.raises(ValueError, match="multiple of C\\*9"):
        local_filter(torch.rand(1, 3, 4, 4), torch.rand(1, 26, 4, 4))


def test_lcvsr_row_tiling_equals_untiled():
    torch.manual_seed(0)
    m = LCVSR(scale=3, lfgn_stem=8, lfgn_widths=(8, 8, 8, 8), grn_widths=(4, 8, 8)).eval()
    x = torch.rand(1, 7, 1, 23, 9)
    with torch.no_grad():
        m.tile_rows = 0
        full = m(x)
        m.tile_rows = 5  # 5 strips, halo = receptive radius + 1
        tiled = m(x)
        m.tile_rows, m.tile_halo = 5, 2  # a halo too small must differ (the test can fail)
        wrong = m(x)
    assert full.shape == (1, 1, 1, 69, 27)
    torch.testing.assert_close(tiled, full, atol=1e-5, rtol=1e-5)
    assert (wrong - full).abs().max() > 1e-4


def _bilinear_border(grid_w, y, x):
    """Bilinear sample of a 2-D tensor at (y, x) in index units, clamped to the border."""
    n = grid_w.shape[0]
    y = min(max(y, 0.0), n - 1.0)
    x = min(max(x, 0.0), n - 1.0)
    y0, x0 = int(y // 1), int(x // 1)
    y1, x1 = min(y0 + 1, n - 1), min(x0 + 1, n - 1)
    wy, wx = y - y0, x - x0
    return (
        (1 - wy) * (1 - wx) * float(grid_w[y0, x0])
        + (1 - wy) * wx * float(grid_w[y0, x1])
        + wy * (1 - wx) * float(grid_w[y1, x0])
        + wy * wx * float(grid_w[y1, x1])
    )


def _dk_reference(layer, x, offset):
    b, c, h, w = x.shape
    g = layer.weight_grid
    base = [i * (g - 1) / 2 for i in range(3)]
    xp = F.pad(x, (1, 1, 1, 1))
    out = torch.zeros_like(x)
    for bb in range(b):
        for cc in range(c):
            wgrid = layer.weight[cc, 0].detach()
            for i in range(h):
                for j in range(w):
                    acc = float(layer.bias[cc].detach())
                    for u in range(3):
                        for v in range(3):
                            k = u * 3 + v
                            dy = float(offset[bb, 2 * k, i, j])
                            dx = float(offset[bb, 2 * k + 1, i, j])
                            wk = _bilinear_border(wgrid, base[u] + dy, base[v] + dx)
                            acc += wk * float(xp[bb, cc, i + u, j + v])
                    out[bb, cc, i, j] = acc
    return out


def test_deformable_kernel_conv_matches_loop_reference():
    torch.manual_seed(0)
    layer = DeformableKernelConv2d(3).double()
    with torch.no_grad():
        layer.bias.normal_()
        layer.conv_offset.weight.normal_(0, 0.5)  # non-trivial offsets, some beyond the grid border
        layer.conv_offset.bias.normal_(0, 1.0)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    offset = layer.conv_offset(x).detach()
    assert offset.abs().max() > 1.5  # exercises the border clamping
    out = layer(x)
    ref = _dk_reference(layer, x, offset)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # float32
    layer32 = layer.float()
    torch.testing.assert_close(layer32(x.float()), ref.float(), atol=1e-5, rtol=1e-5)


def test_deformable_kernel_conv_zero_offset_is_fixed_depthwise_conv():
    torch.manual_seed(0)
    layer = DeformableKernelConv2d(4)  # offsets start at zero
    x = torch.randn(1, 4, 6, 6)
    w = layer.weight[:, 0]  # 4 x 4 x 4 grid; taps at 0, 1.5, 3
    mid = 0.5 * (w[:, 1] + w[:, 2])  # row 1.5
    rows = torch.stack((w[:, 0], mid, w[:, 3]), 1)  # C x 3 x 4
    k = torch.stack((rows[..., 0], 0.5 * (rows[..., 1] + rows[..., 2]), rows[..., 3]), -1)  # C x 3 x 3
    ref = F.conv2d(x, k.unsqueeze(1), layer.bias, padding=1, groups=4)
    torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-5)


def test_deformable_kernel_conv_gradients_reach_weights_and_offsets():
    torch.manual_seed(0)
    layer = DeformableKernelConv2d(2)
    with torch.no_grad():
        layer.conv_offset.bias.fill_(0.3)
    layer(torch.randn(1, 2, 5, 5)).square().sum().backward()
    assert layer.weight.grad.abs().sum() > 0
    assert layer.conv_offset.weight.grad.abs().sum() > 0


def test_modulated_deform_conv_zero_offset_mask_one_is_conv():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 7, 6)
    w = torch.randn(8, 16, 3, 3)
    b = torch.randn(8)
    off = torch.zeros(2, 2 * 8 * 9, 7, 6)
    mask = torch.ones(2, 8 * 9, 7, 6)
    torch.testing.assert_close(modulated_deform_conv(x, off, mask, w, b), F.conv2d(x, w, b, padding=1),
                               atol=1e-5, rtol=1e-5)


def test_offset_layout_is_dy_dx_per_tap():
    """A (dy, dx) = (1, 0) offset on every tap equals the conv of the input shifted up by one row (and (0, 1): left by one column)."""
    torch.manual_seed(0)
    x = torch.randn(1, 4, 6, 6)
    w = torch.randn(4, 4, 3, 3)
    off = torch.zeros(1, 2 * 9, 6, 6)
    off[:, 0::2] = 1.0  # dy
    out = modulated_deform_conv(x, off, torch.ones(1, 9, 6, 6), w, None)
    # output row i, tap u in {-1, 0, 1} reads input row i + u + 1 (zero outside the image)
    torch.testing.assert_close(out, F.conv2d(F.pad(x, (1, 1, 0, 2)), w), atol=1e-5, rtol=1e-5)
    off2 = torch.zeros(1, 2 * 9, 6, 6)
    off2[:, 1::2] = 1.0  # dx
    out2 = modulated_deform_conv(x, off2, torch.ones(1, 9, 6, 6), w, None)
    torch.testing.assert_close(out2, F.conv2d(F.pad(x, (0, 2, 1, 1)), w), atol=1e-5, rtol=1e-5)


def test_dcnv2pack_splits_offsets_and_applies_sigmoid_mask():
    torch.manual_seed(0)
    pack = DCNv2Pack(8, 8, 3, 1, deformable_groups=2)
    x = torch.randn(1, 8, 5, 5)
    feat = torch.randn(1, 8, 5, 5)
    # zero-initialised offset/mask conv: offsets 0, mask sigmoid(0) = 0.5
    torch.testing.assert_close(pack(x, feat), 0.5 * F.conv2d(x, pack.weight, None, padding=1) + pack.bias.view(1, -1, 1, 1),
                               atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        pack.conv_offset_mask.weight.normal_(0, 0.1)
        pack.conv_offset_mask.bias.normal_(0, 0.5)
    raw = pack.conv_offset_mask(feat)
    o1, o2, m = raw.chunk(3, 1)
    ref = modulated_deform_conv(x, torch.cat((o1, o2), 1), torch.sigmoid(m), pack.weight, pack.bias)
    torch.testing.assert_close(pack(x, feat), ref)
    with torch.no_grad():
        off, mask = pack.offsets_and_mask(feat)
    assert off.shape == (1, 2 * 2 * 9, 5, 5) and mask.shape == (1, 2 * 9, 5, 5)
    assert float(mask.min()) > 0 and float(mask.max()) < 1
