"""DKSAN against its paper: Table 3's parameter ladder, DKC Align by eqs. 10-11 and DKSA against
loop references, the reference frame passing unaligned into the fusion."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from test_models_layers import _bilinear_zero, dk_layer_reference
from vsrbench.models import create_model
from vsrbench.models.dksan import DKSA, DKCAlign, _Level

pytestmark = pytest.mark.usefixtures("fast_cpu_for_tiny_tensors")


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _build(**kw):
    with torch.device("meta"):  # shapes only: the full 29.5 M model in milliseconds, no memory
        return create_model("dksan", **kw)


def test_parameter_counts_follow_table3():
    """Table 3 (IntVID x16 ablation): backbone 26.1 M -> + channel attention 26.3 M -> + DKC Align 27.0 M
    -> + DKSA 29.5 M, built with the modules switched off one by one at the paper's defaults."""
    backbone = _count(_build(channel_attention=False, align=False, dksa=False))
    attention = _count(_build(align=False, dksa=False))
    align = _count(_build(dksa=False))
    full_model = _build()
    full = _count(full_model)
    print(f"backbone {backbone:,}  +CA {attention:,} (+{attention - backbone:,})  +Align {align:,} "
          f"(+{align - attention:,})  +DKSA {full:,} (+{full - align:,})")
    # each rung rounds to the table's value (0.1 M)
    assert [round(n / 1e5) / 10 for n in (backbone, attention, align, full)] == [26.1, 26.3, 27.0, 29.5]
    # the increments within the table's rounding
    assert 0.65e6 <= align - attention <= 0.75e6
    assert 2.45e6 <= full - align <= 2.55e6
    assert 29.45e6 <= full <= 29.55e6
    # the same increments summed over the named submodules of the full model
    levels = full_model.levels
    assert _count(levels[0].align) == align - attention
    assert sum(_count(lv.dksa) for lv in levels) == full - align
    assert sum(_count(r.ca) for lv in levels for r in lv.rcabs) == attention - backbone
    assert full_model.levels[1].align is None and all(lv.dksa is not None for lv in levels)


def test_default_widths_and_light_dksa():
    """Section 4.2: 128 filters in all deformable-kernel and deformable-conv layers; eq. 11: no mask."""
    m = _build()
    lv = m.levels
    align = lv[0].align
    assert align.conv_fuse.out_channels == 128 and len(align.dk_convs) == 1
    assert align.weight.shape == (128, 128, 3, 3)  # the modulated deformable conv: 128 filters
    assert align.dk_convs[-1].out_channels == 3 * 8 * 9  # offsets (2 x 8 x 9) and masks (8 x 9) of the DConv
    assert [len(v.dksa.dk_convs) for v in lv] == [1, 4, 4, 4]  # the light DKSA in level 1
    assert all(v.dksa.conv.out_channels == 128 and v.dksa.dk_convs[-1].out_channels == 1 for v in lv)
    dks = [mod for mod in m.modules() if type(mod).__name__ == "DeformableKernelConv2d"]
    assert len(dks) == 14
    # every DK layer reads 128 channels; every hidden one writes 128 (heads: 216 offsets/masks, 1 map)
    assert all(dk.in_channels == 128 and dk.out_channels in (128, 216, 1) and dk.groups == 1 for dk in dks)
    assert sum(dk.out_channels == 128 for dk in dks) == 9
    # eq. 11 has no modulation mask: the generators predict dk and dp only (4 x 9 channels)
    assert all(not dk.modulated and dk.conv_offset.out_channels == 36 for dk in dks)
    assert all(dk.weight_grid == 3 for dk in dks)
    # widths configurable
    m2 = _build(align_width=32, dksa_width=48, n_align_dk=3)
    assert m2.levels[0].align.conv_fuse.out_channels == 32 and m2.levels[2].dksa.conv.out_channels == 48
    assert all(dk.groups == 32 for dk in m2.levels[0].align.dk_convs[:-1])  # the extra ones: depthwise
    assert _count(m2) < _count(m)
    with pytest.raises(ValueError, match="n_dk must be >= 1"):
        DKSA(8, 4, 0)
    with pytest.raises(ValueError, match="n_dk must be >= 1"):
        DKCAlign(8, 4, 2, 0)


def _randomise(module, std=0.3):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.5)
            else:
                p.normal_(0, std)
    return module


def _dcn_reference(x, offset, mask, weight, bias, groups):
    """Modulated deformable 3x3 conv pixel by pixel: offset channel 2 (g K + t) = dy, + 1 = dx, mask g K + t."""
    b, cin, h, w = x.shape
    cout = weight.shape[0]
    cg = cin // groups
    out = torch.zeros(b, cout, h, w, dtype=torch.float64)
    for bb in range(b):
        for i in range(h):
            for j in range(w):
                samples = torch.zeros(cin, 9, dtype=torch.float64)
                for ci in range(cin):
                    g = ci // cg
                    for t in range(9):
                        u, v = divmod(t, 3)
                        dy = float(offset[bb, 2 * (g * 9 + t), i, j])
                        dx = float(offset[bb, 2 * (g * 9 + t) + 1, i, j])
                        m = float(mask[bb, g * 9 + t, i, j])
                        samples[ci, t] = m * _bilinear_zero(x[bb, ci], i + u - 1 + dy, j + v - 1 + dx)
                out[bb, :, i, j] = weight.reshape(cout, cin * 9).double() @ samples.reshape(-1) + bias.double()
    return out


def test_dkc_align_matches_eq10_loop_reference():
    """dP_n, dM_n = D(f([F_n, F_r])): f a conv + LeakyReLU, D deformable-kernel layers (eq. 11, loop
    reference) whose last output *is* the offsets and masks (o1, o2, sigmoid(m)); then the modulated
    deformable conv of the neighbour (loop reference)."""
    torch.manual_seed(0)
    nf, width, groups = 4, 4, 2
    align = _randomise(DKCAlign(nf, width, groups, n_dk=2).double())
    nbr = torch.randn(1, nf, 4, 4, dtype=torch.float64)
    ref = torch.randn(1, nf, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        f = F.leaky_relu(F.conv2d(torch.cat((nbr, ref), 1), align.conv_fuse.weight, align.conv_fuse.bias, padding=1),
                         0.1)
        d = F.leaky_relu(dk_layer_reference(align.dk_convs[0], f), 0.1)
        raw = dk_layer_reference(align.dk_convs[1], d)  # B x 3 * G * 9
        assert raw.shape[1] == 3 * groups * 9
        gk = groups * 9
        offset_ref = torch.cat((raw[:, :gk], raw[:, gk : 2 * gk]), 1)
        mask_ref = torch.sigmoid(raw[:, 2 * gk :])
        offset, mask = align.offsets_and_mask(nbr, ref)
        torch.testing.assert_close(offset, offset_ref, atol=1e-5, rtol=0)
        torch.testing.assert_close(mask, mask_ref, atol=1e-5, rtol=0)
        assert offset.abs().max() > 1.0 and offset.abs().min() < 0.5  # fractional, non-trivial offsets
        expected = _dcn_reference(nbr, offset_ref, mask_ref, align.weight, align.bias, groups)
        torch.testing.assert_close(align(nbr, ref), expected, atol=1e-5, rtol=0)
        # the alignment depends on the reference (through D), not only on the neighbour
        assert (align(nbr, ref + 1.0) - expected).abs().max() > 1e-3


def test_fresh_align_starts_as_half_strength_conv():
    """The last D layer starts at zero: offsets 0, masks 0.5 (BasicSR practice)."""
    torch.manual_seed(0)
    align = DKCAlign(8, 4, 2, n_dk=3)
    nbr, ref = torch.randn(1, 8, 5, 5), torch.randn(1, 8, 5, 5)
    expected = 0.5 * F.conv2d(nbr, align.weight, None, padding=1) + align.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(align(nbr, ref), expected, atol=1e-5, rtol=1e-5)


def test_reference_passes_unaligned_into_fusion():
    """Eq. 10 holds for n != r only: the fusion sees the aligned neighbours in frame order and the
    reference feature itself at the centre."""
    torch.manual_seed(0)
    level = _Level(nf=8, n_rcab=1, reduction=4, dksa_layers=1, first=True, nframes=5, groups=2, n_resblocks=1,
                   n_align_dk=2, align_width=4, dksa_width=4)
    _randomise(level.align, 0.2)
    x = torch.rand(2, 5, 3, 6, 6)
    seen = {}
    level.fusion.register_forward_hook(lambda mod, inp, out: seen.setdefault("x", inp[0]))
    with torch.no_grad():
        level.encode(x)
        feats = level.feature_extraction(F.leaky_relu(level.conv_first(x.reshape(10, 3, 6, 6)), 0.1))
        feats = feats.reshape(2, 5, 8, 6, 6)
        fused_in = seen["x"].reshape(2, 5, 8, 6, 6)
        ref = feats[:, 2]
        torch.testing.assert_close(fused_in[:, 2], ref)  # unaligned
        for n in (0, 1, 3, 4):
            torch.testing.assert_close(fused_in[:, n], level.align(feats[:, n], ref), atol=1e-5, rtol=1e-5)
            assert (fused_in[:, n] - feats[:, n]).abs().max() > 1e-3  # really aligned (the test can fail)


def test_dksa_matches_loop_reference():
    """DKSA = one conv + ReLU, deformable-kernel convs (+ ReLU), the last to one channel, sigmoid, times x."""
    torch.manual_seed(0)
    dksa = _randomise(DKSA(nf=3, width=2, n_dk=3).double(), 0.4)
    x = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    with torch.no_grad():
        a = F.relu(F.conv2d(x, dksa.conv.weight, dksa.conv.bias, padding=1))
        for dk in dksa.dk_convs[:-1]:
            a = F.relu(dk_layer_reference(dk, a))
        att = torch.sigmoid(dk_layer_reference(dksa.dk_convs[-1], a))
        assert att.shape == (1, 1, 4, 5) and float(att.std()) > 1e-3
        torch.testing.assert_close(dksa.attention(x), att, atol=1e-5, rtol=0)
        torch.testing.assert_close(dksa(x), x * att, atol=1e-5, rtol=0)


def test_module_switches_change_the_network():
    torch.manual_seed(0)
    kw = dict(nf=8, n_rcabs=(1, 1), scale=4, n_resblocks=1, n_align_dk=1, dksa_layers=2, dksa_light_layers=1,
              align_width=4, dksa_width=4, reduction=4)
    x = torch.rand(1, 7, 3, 5, 5)
    for flag in ("channel_attention", "align", "dksa"):
        m = create_model("dksan", **kw, **{flag: False}).eval()
        with torch.no_grad():
            y = m(x)
        assert y.shape == (1, 1, 3, 20, 20) and torch.isfinite(y).all()
    m = create_model("dksan", **kw, align=False)
    assert m.levels[0].align is None and m.levels[0].fusion.in_channels == 7 * 8
