"""Runtime / parameter / FLOP profiling (CPU; tiny inputs)."""

import torch
import torch.nn.functional as F
import pytest
from torch import nn
from torchvision.ops import deform_conv2d

from vsrbench.benchmark import runtime as rt
from vsrbench.models import ModelSpec, create_model, list_models


class _Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 8, 3, padding=1)
        self.weight = nn.Parameter(torch.randn(8, 8, 3, 3) * 0.1)

    def forward(self, x):
        return F.conv2d(self.head(x), self.weight, padding=1)


class _Deform(_Plain):
    """Same as _Plain, but the second conv is a modulated deformable conv (offsets from a conv)."""

    def __init__(self):
        super().__init__()
        self.offset_mask = nn.Conv2d(8, 27, 3, padding=1)

    def forward(self, x):
        f = self.head(x)
        om = self.offset_mask(f)
        offset, mask = om[:, :18], torch.sigmoid(om[:, 18:])
        return deform_conv2d(f, offset, self.weight, mask=mask, padding=1)


def test_count_parameters():
    m = _Deform()
    assert rt.count_parameters(m) == sum(p.numel() for p in m.parameters())
    assert rt.count_parameters(nn.Conv2d(3, 8, 3)) == 8 * 3 * 9 + 8


def test_conv_flops_exact():
    r = rt.flops_per_call(nn.Conv2d(3, 8, 3, padding=1), torch.rand(1, 3, 16, 16))
    assert r["flops"] == 2 * 8 * 16 * 16 * 3 * 9
    assert r["macs"] == r["flops"] / 2
    assert sum(r["by_op"].values()) == r["flops"]


def test_deform_conv_counted():
    x = torch.rand(1, 3, 16, 16)
    plain = rt.flops_per_call(_Plain(), x)
    deform = rt.flops_per_call(_Deform(), x)
    assert deform["flops"] > plain["flops"]
    conv = 2 * 8 * 16 * 16 * 8 * 9
    sampling = 2 * 8 * 9 * 16 * 16 * 4
    assert deform["by_op"]["torchvision.deform_conv2d"] == conv + sampling
    offset_conv = 2 * 27 * 16 * 16 * 8 * 9
    assert deform["flops"] == plain["flops"] + sampling + offset_conv


def test_grid_sample_and_unfold_counted():
    x = torch.rand(2, 4, 8, 8)
    grid = torch.rand(2, 6, 5, 2) * 2 - 1
    r = rt.flops_per_call(lambda t: F.grid_sample(t, grid, mode="bilinear", align_corners=True), x)
    assert r["by_op"]["aten.grid_sampler_2d"] == 2 * 4 * 2 * 4 * 6 * 5
    filt = torch.rand(2, 3, 36, 64)
    r = rt.flops_per_call(lambda t: torch.einsum("blkp,bkp->blp", filt, F.unfold(t, 3, padding=1)), x)
    assert r["by_op"].get("aten.im2col", 0) == 0  # a copy
    assert r["flops"] == 2 * 2 * 3 * 36 * 64  # the einsum, counted as bmm


_KEYS = ("model", "device", "dtype", "batch", "lr_size", "scale", "ms_per_frame", "fps", "ms_per_call", "params",
         "flops_per_frame", "macs_per_frame", "peak_memory_mb", "torch", "repeats")


def _tiny_y_model():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(5, 16, 3, padding=1)

        def forward(self, x):  # B x 5 x 1 x H x W -> B x 1 x 1 x 4H x 4W
            return F.pixel_shuffle(self.conv(x[:, :, 0]), 4).unsqueeze(1)

    m = Tiny()
    m.spec = ModelSpec(task="vsr", frames_in=5, frames_out=1, colour="y", scales=(4,), spatial_multiple=4)
    return m


@pytest.fixture(scope="module")
def rows():
    out = [rt.profile_model(create_model("bicubic", scale=4), (16, 16), warmup=1, repeats=2)]
    if "fstrn" in list_models():
        out.append(rt.profile_model(create_model("fstrn", scale=4), (16, 16), warmup=1, repeats=2))
    out.append(rt.profile_model(_tiny_y_model(), (10, 14), warmup=1, repeats=2, batch=2))
    return out


def test_profile_rows(rows):
    for r in rows:
        assert set(_KEYS) <= set(r)
        assert r["device"] and r["dtype"] == "fp32" and r["scale"] == 4
        assert r["ms_per_frame"] > 0 and r["fps"] == pytest.approx(1000 / r["ms_per_frame"])
        assert r["peak_memory_mb"] is None and "peak_memory_note" in r  # CPU
        assert r["repeats"] == 2
    bic = rows[0]
    assert bic["model"] == "bicubic" and bic["lr_size"] == "16x16" and bic["batch"] == 1 and bic["params"] == 0
    tiny = rows[-1]
    assert tiny["lr_size"] == "12x16"  # rounded up to spatial_multiple 4
    assert tiny["batch"] == 2 and tiny["frames_per_call"] == 2
    assert tiny["ms_per_frame"] == pytest.approx(tiny["ms_per_call"] / 2)
    assert tiny["flops_per_frame"] == 2 * 16 * 12 * 16 * 5 * 9  # per output frame (2 per call)
    assert tiny["macs_per_frame"] == tiny["flops_per_frame"] / 2
    if len(rows) == 3:
        assert rows[1]["model"] == "fstrn" and rows[1]["params"] > 0 and rows[1]["flops_per_frame"] > 0


def test_format_runtime_table(rows):
    table = rt.format_runtime_table(rows)
    for h in ("model", "device", "dtype", "batch", "LR size", "ms/frame", "fps", "params (M)", "GFLOPs/frame",
              "GMACs/frame", "peak MB"):
        assert h in table
    for r in rows:
        h, w = r["lr_size"].split("x")
        assert r["model"] in table and r["device"] in table and f"{w}x{h}" in table  # printed W x H
        assert f"{r['ms_per_frame']:.2f}" in table
    assert "2 x MACs" in table


def test_dtype_checks():
    m = _tiny_y_model()
    with pytest.raises(ValueError, match="fp16"):
        rt.profile_model(m, (8, 8), dtype="fp16", device="cpu")
    with pytest.raises(ValueError, match="dtype"):
        rt.profile_model(m, (8, 8), dtype="int8")
    r = rt.profile_model(m, (8, 8), dtype="bf16", warmup=0, repeats=1)
    assert r["dtype"] == "bf16" and r["ms_per_frame"] > 0
    with pytest.raises(ValueError, match="spec"):
        rt.profile_model(nn.Conv2d(1, 1, 1), (8, 8))
