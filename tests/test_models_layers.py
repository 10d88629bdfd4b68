"""The special layers against slow direct (loop) references, and the DCN conventions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vsrbench.models.layers import DCNv2Pack, DeformableKernelConv2d, deformable_kernel_conv2d, modulated_deform_conv
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


def _bilinear_zero(img, y, x):
    """Bilinear sample of a 2-D image at (y, x) in pixels, zero outside (torchvision's DCN convention)."""
    h, w = img.shape
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    wy, wx = y - y0, x - x0
    acc = 0.0
    for yy, cy in ((y0, 1 - wy), (y0 + 1, wy)):
        for xx, cx in ((x0, 1 - wx), (x0 + 1, wx)):
            if 0 <= yy < h and 0 <= xx < w:
                acc += cy * cx * float(img[yy, xx])
    return acc


def dk_conv_reference(x, weight, bias, dk, dp=None, mask=None, groups=1):
    """Eq. 11 pixel by pixel: y_o(p) = b_o + sum_i sum_t W_oi(q_t + dk_t(p)) m_t(p) x_i(p + p_t + dp_t(p)),
    3x3 taps, q_t at i * (S - 1) / 2 on the S x S weight grid (border-clamped), x zero outside."""
    b, cin, h, w = x.shape
    cout, cin_g, s, _ = weight.shape
    q = [i * (s - 1) / 2 for i in range(3)]
    out = torch.zeros(b, cout, h, w, dtype=torch.float64)
    for bb in range(b):
        for i in range(h):
            for j in range(w):
                # the (modulated) input samples and the resampled kernel positions, per tap
                taps = []
                for u in range(3):
                    for v in range(3):
                        t = u * 3 + v
                        oy = float(dp[bb, 2 * t, i, j]) if dp is not None else 0.0
                        ox = float(dp[bb, 2 * t + 1, i, j]) if dp is not None else 0.0
                        m = float(mask[bb, t, i, j]) if mask is not None else 1.0
                        ky = q[u] + float(dk[bb, 2 * t, i, j])
                        kx = q[v] + float(dk[bb, 2 * t + 1, i, j])
                        taps.append((i + u - 1 + oy, j + v - 1 + ox, m, ky, kx))
                for o in range(cout):
                    g = o // (cout // groups)
                    acc = float(bias[o]) if bias is not None else 0.0
                    for ii in range(cin_g):
                        ci = g * cin_g + ii
                        wgrid = weight[o, ii].detach()
                        for sy, sx, m, ky, kx in taps:
                            acc += _bilinear_border(wgrid, ky, kx) * m * _bilinear_zero(x[bb, ci], sy, sx)
                    out[bb, o, i, j] = acc
    return out


def dk_layer_reference(layer, x):
    """A :class:`DeformableKernelConv2d` by the loop reference; its generator is a plain conv."""
    kk = 9
    gen = F.conv2d(x, layer.conv_offset.weight, layer.conv_offset.bias, padding=1).detach()
    dk, dp = gen[:, : 2 * kk], gen[:, 2 * kk : 4 * kk]
    m = torch.sigmoid(gen[:, 4 * kk :]) if layer.modulated else None  # eq. 11: no mask by default
    return dk_conv_reference(x.detach().double(), layer.weight.detach().double(), layer.bias.detach().double(),
                             dk, dp, m, layer.groups)


def _randomise(layer, gen_std=0.3, gen_bias=1.0):
    with torch.no_grad():
        layer.bias.normal_()
        layer.conv_offset.weight.normal_(0, gen_std)
        layer.conv_offset.bias.normal_(0, gen_bias)
    return layer


@pytest.mark.parametrize("cin,cout,groups,grid", [(3, 2, 1, 4), (3, 3, 3, 4), (4, 6, 2, 4), (2, 3, 1, 3)])
def test_deformable_kernel_conv_matches_loop_reference(cin, cout, groups, grid):
    """Functional and module against eq. 11 computed pixel by pixel: kernel resampled at k + dk (some taps
    beyond the grid border: clamped), input sampled at p + p_k + dp_k (fractional, some outside the
    image), modulated; full, depthwise and grouped."""
    torch.manual_seed(0)
    x = torch.randn(2, cin, 4, 5, dtype=torch.float64)
    dk = 1.5 * torch.randn(2, 18, 4, 5, dtype=torch.float64)
    dp = 1.5 * torch.randn(2, 18, 4, 5, dtype=torch.float64)
    mask = torch.rand(2, 9, 4, 5, dtype=torch.float64)
    weight = torch.randn(cout, cin // groups, grid, grid, dtype=torch.float64)
    bias = torch.randn(cout, dtype=torch.float64)
    assert dk.abs().max() > grid - 1 and (dp.abs() > 2).any()  # border clamping and samples outside the image
    ref = dk_conv_reference(x, weight, bias, dk, dp, mask, groups)
    out = deformable_kernel_conv2d(x, weight, bias, dk, dp, mask, groups=groups)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # pixel chunks give the same result
    torch.testing.assert_close(deformable_kernel_conv2d(x, weight, bias, dk, dp, mask, groups=groups,
                                                        max_elements=1), ref, atol=1e-5, rtol=0)
    # float32
    out32 = deformable_kernel_conv2d(x.float(), weight.float(), bias.float(), dk.float(), dp.float(), mask.float(),
                                     groups=groups)
    torch.testing.assert_close(out32, ref.float(), atol=1e-5, rtol=1e-5)
    # each deformation matters (the comparison above can fail): drop dp, then dk
    assert (deformable_kernel_conv2d(x, weight, bias, dk, None, mask, groups=groups) - ref).abs().max() > 1e-2
    assert (deformable_kernel_conv2d(x, weight, bias, 0 * dk, dp, mask, groups=groups) - ref).abs().max() > 1e-2

    for modulated in (False, True):
        layer = _randomise(DeformableKernelConv2d(cin, cout, 3, grid, groups=groups, modulated=modulated).double())
        with torch.no_grad():
            ldk, ldp, lm = layer.offsets(x)
        assert ldk.abs().max() > 1.5 and ldp.abs().max() > 1.5
        assert (lm is None) == (not modulated) and layer.conv_offset.out_channels == (45 if modulated else 36)
        torch.testing.assert_close(layer(x), dk_layer_reference(layer, x), atol=1e-5, rtol=0)


def test_deformable_kernel_conv_integer_shifts():
    """dp = (1, 0) on every tap reads the row below; dk = (0, 1) cell on a 3x3 grid takes the kernel's
    next column (the last column clamped): both against plain conv2d."""
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 5)
    weight = torch.randn(3, 2, 3, 3)
    zero = torch.zeros(1, 18, 6, 5)
    dp = zero.clone()
    dp[:, 0::2] = 1.0
    torch.testing.assert_close(deformable_kernel_conv2d(x, weight, None, zero, dp, None),
                               F.conv2d(F.pad(x, (1, 1, 0, 2)), weight), atol=1e-5, rtol=1e-5)
    dk = zero.clone()
    dk[:, 1::2] = 1.0
    shifted = torch.cat((weight[..., 1:], weight[..., 2:]), -1)  # column v samples column min(v + 1, 2)
    torch.testing.assert_close(deformable_kernel_conv2d(x, weight, None, dk, None, None),
                               F.conv2d(x, shifted, padding=1), atol=1e-5, rtol=1e-5)


def test_deformable_kernel_conv_zero_kernel_offset_on_3x3_grid_is_torchvision_dcn():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 6)
    weight = torch.randn(5, 4, 3, 3)
    bias = torch.randn(5)
    dp = torch.randn(2, 18, 5, 6)
    mask = torch.rand(2, 9, 5, 6)
    ref = modulated_deform_conv(x, dp, mask, weight, bias)
    out = deformable_kernel_conv2d(x, weight, bias, torch.zeros(2, 18, 5, 6), dp, mask)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_deformable_kernel_conv_fresh_layer_is_the_resampled_conv():
    """A new layer: generator at zero -> regular taps (0, 1.5, 3 on the 4x4 grid), no mask (eq. 11);
    a ``modulated`` one starts at mask 0.5 (DCNv2)."""
    torch.manual_seed(0)
    layer = DeformableKernelConv2d(4, groups=4)
    mod = DeformableKernelConv2d(4, groups=4, modulated=True)
    with torch.no_grad():
        mod.weight.copy_(layer.weight)
        mod.bias.copy_(layer.bias)
    x = torch.randn(1, 4, 6, 6)
    w = layer.weight[:, 0]  # 4 x 4 x 4 grid; taps at 0, 1.5, 3
    mid = 0.5 * (w[:, 1] + w[:, 2])  # row 1.5
    rows = torch.stack((w[:, 0], mid, w[:, 3]), 1)  # C x 3 x 4
    k = torch.stack((rows[..., 0], 0.5 * (rows[..., 1] + rows[..., 2]), rows[..., 3]), -1)  # C x 3 x 3
    ref = F.conv2d(x, k.unsqueeze(1), layer.bias, padding=1, groups=4)
    torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-5)
    half = F.conv2d(x, 0.5 * k.unsqueeze(1), layer.bias, padding=1, groups=4)
    torch.testing.assert_close(mod(x), half, atol=1e-5, rtol=1e-5)


def test_deformable_kernel_conv_gradients_reach_weights_and_offsets():
    torch.manual_seed(0)
    for modulated in (False, True):
        layer = DeformableKernelConv2d(2, 3, modulated=modulated)
        layer(torch.randn(1, 2, 5, 5)).square().sum().backward()
        g = layer.conv_offset.weight.grad
        assert layer.weight.grad.abs().sum() > 0
        # from zero offsets (integer kernel positions included), gradients reach the dk, dp (and mask) generators
        assert g[:18].abs().sum() > 0 and g[18:36].abs().sum() > 0
        assert g.shape[0] == (45 if modulated else 36) and (not modulated or g[36:].abs().sum() > 0)


def test_deformable_kernel_conv_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2\\*9 channels"):
        deformable_kernel_conv2d(torch.rand(1, 2, 4, 4), torch.rand(2, 2, 4, 4), None, torch.rand(1, 9, 4, 4))
    with pytest.raises(ValueError, match="does not fit"):
        deformable_kernel_conv2d(torch.rand(1, 3, 4, 4), torch.rand(2, 2, 4, 4), None, torch.rand(1, 18, 4, 4))


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
