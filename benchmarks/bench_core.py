"""Speed of the measuring core against the straightforward implementations, on the same frames.

Run by hand (not part of the tests):

    VSRBENCH_SHARED=../shared python benchmarks/bench_core.py

Prints, in one run:
1. frame pairs/s for Y PSNR + SSIM on Vid4 calendar (720 x 576): ours (``psnr_ssim``: one Y
   conversion, separable Gaussian, four filterings, cache-sized strips) vs the way the field's
   toolboxes compute it (BasicSR: ``calculate_psnr`` and ``calculate_ssim`` each convert to Y; one
   2-D 11 x 11 ``cv2.filter2D`` per statistic), with the ratio and the max |difference| of the values;
2. frames/s of ``bi:x4`` on the Vimeo samples (448 x 256): ours (banded weight-matrix blocks) vs a
   straightforward gather + einsum MATLAB imresize (BasicSR's NumPy port), with the ratio and the
   number of differing pixels. Targets: >= 3x on both at identical values.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vsrbench.datasets.frames import list_frames, read_frame
from vsrbench.degradations import imresize
from vsrbench.metrics import psnr_ssim


# ---- the straightforward references ---------------------------------------------------------


def ref_y(img):
    return 16.0 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255.0


def ref_psnr(a, b):
    """BasicSR ``calculate_psnr(test_y_channel=True)``: its own Y conversion, MSE PSNR."""
    y1, y2 = ref_y(a.astype(np.float64)), ref_y(b.astype(np.float64))
    mse = np.mean((y1 - y2) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ref_psnr_ssim(a, b):
    """BasicSR-style, as a toolbox scores a frame: ``calculate_psnr`` and ``calculate_ssim`` are
    separate functions, each converting to Y; SSIM with a 2-D 11x11 window through cv2.filter2D."""
    p = ref_psnr(a, b)
    y1, y2 = ref_y(a.astype(np.float64)), ref_y(b.astype(np.float64))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    k = cv2.getGaussianKernel(11, 1.5)
    w = np.outer(k, k.transpose())
    mu1 = cv2.filter2D(y1, -1, w)[5:-5, 5:-5]
    mu2 = cv2.filter2D(y2, -1, w)[5:-5, 5:-5]
    mu1_sq, mu2_sq, mu12 = mu1**2, mu2**2, mu1 * mu2
    s1 = cv2.filter2D(y1**2, -1, w)[5:-5, 5:-5] - mu1_sq
    s2 = cv2.filter2D(y2**2, -1, w)[5:-5, 5:-5] - mu2_sq
    s12 = cv2.filter2D(y1 * y2, -1, w)[5:-5, 5:-5] - mu12
    m = ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    return p, float(m.mean())


def _cubic(x):
    ax = np.abs(x)
    return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


def _contributions(in_len, out_len, scale):
    kw = 4.0
    if scale < 1:
        h, kw = (lambda x: scale * _cubic(scale * x)), kw / scale
    else:
        h = _cubic
    x = np.arange(1, out_len + 1)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kw / 2)
    p = int(math.ceil(kw)) + 2
    ind = left[:, None] + np.arange(p) - 1
    w = h(u[:, None] - ind - 1)
    w = w / w.sum(1, keepdims=True)
    aux = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    ind = aux[np.mod(ind.astype(int), 2 * in_len)]
    return w, ind


def ref_imresize(img, scale):
    """Gather + einsum MATLAB imresize (per axis, taps gathered per output pixel)."""
    x = img.astype(np.float64)
    h, w = x.shape[:2]
    oh, ow = math.ceil(h * scale), math.ceil(w * scale)
    wts, ind = _contributions(h, oh, scale)
    x = np.einsum("ok,okwc->owc", wts, x[ind])
    wts, ind = _contributions(w, ow, scale)
    x = np.einsum("ok,hokc->hoc", wts, x[:, ind])
    return np.floor(np.clip(x, 0, 255) + 0.5).astype(np.uint8)


# ---- timing -----------------------------------------------------------------------------------


def rate(fn, items, repeats=3):
    fn(items[0])  # warm-up
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for it in items:
            fn(it)
        best = min(best, time.perf_counter() - t0)
    return len(items) / best


def main() -> int:
    shared = Path(os.environ.get("VSRBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    if not (shared / "data").is_dir():
        print("set VSRBENCH_SHARED to the shared/ folder", file=sys.stderr)
        return 2
    print(f"threads: cv2 {cv2.getNumThreads()}, cores {os.cpu_count()}")

    gts = [read_frame(p) for p in list_frames(shared / "data/vid4/GT/calendar")[:12]]
    pairs = [(imresize(imresize(g, 1 / 4), 4), g) for g in gts]
    ours = rate(lambda ab: psnr_ssim(*ab), pairs)
    ref = rate(lambda ab: ref_psnr_ssim(*ab), pairs)
    diff = max(
        max(abs(x - y) for x, y in zip(psnr_ssim(a, b), ref_psnr_ssim(a, b))) for a, b in pairs
    )
    print(f"\nY PSNR+SSIM, Vid4 calendar 720x576, {len(pairs)} frame pairs")
    print(f"  ours (psnr_ssim, separable){ours:8.1f} pairs/s")
    print(f"  2-D cv2.filter2D (BasicSR){ref:8.1f} pairs/s")
    print(f"  ratio {ours / ref:.2f}x   max |difference| {diff:.2e}")

    seqs = sorted((shared / "data/vimeo90k/vimeo_septuplet/sequences").glob("*/*"))
    frames = [read_frame(s / f"im{i}.png") for s in seqs for i in range(1, 8)]
    ours = rate(lambda f: imresize(f, 1 / 4), frames)
    ref = rate(lambda f: ref_imresize(f, 1 / 4), frames)
    differing = sum(int(np.count_nonzero(imresize(f, 1 / 4) != ref_imresize(f, 1 / 4))) for f in frames)
    print(f"\nbi:x4, Vimeo-90K samples 448x256, {len(frames)} frames")
    print(f"  ours (banded GEMM blocks) {ours:8.1f} frames/s")
    print(f"  gather + einsum           {ref:8.1f} frames/s")
    print(f"  ratio {ours / ref:.2f}x   differing pixels {differing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
