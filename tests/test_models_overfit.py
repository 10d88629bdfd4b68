"""Each architecture overfits one tiny real clip (Vimeo-90K septuplet 00001/0001): 200 Adam steps
must drop the training loss at least 10x, each in well under a minute on CPU (reduced widths)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from vsrbench.degradations.imresize import imresize
from vsrbench.models import create_model

CLIP = "data/vimeo90k/vimeo_septuplet/sequences/00001/0001"
STEPS = 200


pytestmark = pytest.mark.usefixtures("fast_cpu_for_tiny_tensors")


def _frames(shared_dir, size: int) -> np.ndarray:
    """The 7 frames, a ``size x size`` crop (centre of the 448x256 frames), uint8 RGB ``7 x H x W x 3``."""
    from PIL import Image

    d = shared_dir / CLIP
    if not (d / "im1.png").is_file():
        pytest.fail(f"missing the Vimeo sample clip {d}")
    ims = [np.asarray(Image.open(d / f"im{i}.png").convert("RGB")) for i in range(1, 8)]
    h, w = ims[0].shape[:2]
    assert (h, w) == (256, 448)
    top, left = (h - size) // 2, (w - size) // 2
    return np.stack([im[top : top + size, left : left + size] for im in ims])


def _lr(hr: np.ndarray, scale: int) -> np.ndarray:
    return np.stack([imresize(f, 1 / scale) for f in hr])


def _y(rgb_uint8: np.ndarray) -> np.ndarray:
    """BT.601 Y in [0, 1] (the field's convention: 16..235 range)."""
    x = rgb_uint8.astype(np.float64) / 255.0
    return (16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0


def _t(a: np.ndarray) -> torch.Tensor:
    """``T x H x W`` (Y) or ``T x H x W x 3`` -> ``1 x T x C x H x W`` float32."""
    t = torch.from_numpy(np.ascontiguousarray(a)).float()
    t = t.unsqueeze(-1) if t.dim() == 3 else t
    return t.permute(0, 3, 1, 2).unsqueeze(0)


def _overfit(model, x, target, lr=1e-3, loss="l2"):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    t0 = time.process_time()  # CPU time of this process: robust to other load on a shared machine
    for _ in range(STEPS):
        opt.zero_grad()
        out = model(x)
        assert out.shape == target.shape
        d = out - target
        loss_v = (d * d).mean() if loss == "l2" else torch.sqrt(d * d + 1e-6).mean()
        loss_v.backward()
        opt.step()
        losses.append(loss_v.item())
    elapsed = time.process_time() - t0
    first = np.mean(losses[:3])
    last = np.mean(losses[-5:])
    return first, last, elapsed


def _check(first, last, elapsed, name):
    print(f"{name}: loss {first:.3e} -> {last:.3e} ({first / last:.1f}x) in {elapsed:.1f}s CPU")
    assert np.isfinite(last)
    assert last <= first / 10, f"{name}: loss fell only {first / last:.1f}x ({first:.3e} -> {last:.3e})"
    assert elapsed < 60, f"{name}: {STEPS} steps took {elapsed:.1f}s of CPU time"


@pytest.mark.slow
def test_lcvsr_overfits(shared_dir):
    torch.manual_seed(0)
    hr = _frames(shared_dir, 32)
    x = _t(_y(_lr(hr, 4)))  # 1 x 7 x 1 x 8 x 8
    target = _t(_y(hr[3:4]))  # 1 x 1 x 1 x 32 x 32
    model = create_model("lcvsr", scale=4, lfgn_stem=16, lfgn_widths=(16, 16, 32, 32), grn_widths=(8, 16, 16))
    _check(*_overfit(model, x, target, lr=1e-3), "lcvsr")


@pytest.mark.slow
def test_fstrn_overfits(shared_dir):
    torch.manual_seed(0)
    hr = _frames(shared_dir, 32)[1:6]
    x = _t(_y(_lr(hr, 4)))  # 1 x 5 x 1 x 8 x 8
    target = _t(_y(hr[2:3]))
    model = create_model("fstrn", scale=4, nf=32, dropout=0.0)
    _check(*_overfit(model, x, target, lr=1e-3, loss="charbonnier"), "fstrn")


@pytest.mark.slow
def test_dksan_overfits(shared_dir):
    torch.manual_seed(0)
    hr = _frames(shared_dir, 64)
    x = _t(_lr(hr, 16) / 255.0)  # 1 x 7 x 3 x 4 x 4
    target = _t(hr[3:4] / 255.0)  # 1 x 1 x 3 x 64 x 64
    model = create_model("dksan", nf=16, n_rcabs=(1, 1, 1, 1), n_resblocks=1, n_align_dk=2, dksa_layers=2,
                         dksa_light_layers=1)
    _check(*_overfit(model, x, target, lr=1e-3), "dksan")


@pytest.mark.slow
def test_zsm_overfits(shared_dir):
    # Two input frames (im1, im3 at LR) -> three outputs (im1, im2, im3 at HR): the sequence length
    # changes no weight, and the shorter recurrence keeps the 200 CPU steps under a minute
    # (~50 deformable convs and ~250 convs per step, overhead-bound on CPU: 4 inputs cost ~2.5x more;
    # a 16x16 HR crop, 4x4 LR, is the smallest the 3-level pyramid allows).
    torch.manual_seed(0)
    hr = _frames(shared_dir, 16)[:3]
    x = _t(_lr(hr[0::2], 4) / 255.0)  # 1 x 2 x 3 x 4 x 4
    target = _t(hr / 255.0)  # 1 x 3 x 3 x 16 x 16
    model = create_model("zsm", nf=8, groups=8, front_RBs=1, back_RBs=1)
    _check(*_overfit(model, x, target, lr=2e-3), "zsm")
