"""Temporal-consistency metrics for video SR outputs (NumPy + OpenCV, pure functions, no file I/O).

Definitions follow ``shared/reference/protocol.md`` ("Temporal consistency"); print
:data:`TEMPORAL_DEFINITIONS` beside every result, because each of these names has several meanings
in public code.

Inputs: a sequence of ``T`` uint8 RGB frames (a list of ``H x W x 3`` arrays or one
``T x H x W x 3`` array) for the SR output and for the ground truth (GT), of equal shapes.

All optical flow here is **Farneback** (classical, OpenCV) with :data:`FARNEBACK_PARAMS`, on grey
uint8 frames (``cv2.COLOR_RGB2GRAY``). Flow convention: ``flow = farneback_flow(a, b)`` gives, for
each pixel ``(y, x)`` of ``a``, the displacement to where it is in ``b``:
``a[y, x] ~ b[y + flow[y, x, 1], x + flow[y, x, 0]]``.

What depends on the GT only (its forward and backward flows and the occlusion masks derived from
them) is :func:`gt_temporal_work`; :func:`tof`, :func:`warping_error` (and their per-pair forms) and
:func:`temporal_metrics` accept it precomputed (``gt_work=``) and give bit-identical values, so a
caller may compute it once per clip and reuse it for every model (``vsrbench.benchmark.gt_cache``).
Flows are computed in a thread pool (OpenCV releases the GIL); results keep the pair order.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from vsrbench.metrics.quality import rgb_to_y

__all__ = [
    "FARNEBACK_PARAMS",
    "TEMPORAL_DEFINITIONS",
    "farneback_flow",
    "GtTemporalWork",
    "gt_temporal_work",
    "temporal_metrics",
    "tof",
    "tof_per_pair",
    "warping_error",
    "warping_error_per_pair",
    "temporal_psnr",
    "temporal_psnr_per_pair",
    "temporal_profile",
    "temporal_profile_pair",
]

#: ``cv2.calcOpticalFlowFarneback`` arguments after ``(prev, next, None)``, as in TecoGAN's tOF:
#: pyr_scale 0.5, levels 3, winsize 15, iterations 3, poly_n 5, poly_sigma 1.2, flags 0.
FARNEBACK_PARAMS: dict[str, float | int] = {
    "pyr_scale": 0.5,
    "levels": 3,
    "winsize": 15,
    "iterations": 3,
    "poly_n": 5,
    "poly_sigma": 1.2,
    "flags": 0,
}

#: Occlusion threshold of the forward-backward check (Lai et al. 2018 / Sundaram et al. 2010).
OCCLUSION_ALPHA = 0.01
OCCLUSION_BETA = 0.5

TEMPORAL_DEFINITIONS: dict[str, str] = {
    "tof": (
        "tOF (TecoGAN): mean over consecutive frame pairs and pixels of ||flow_GT - flow_SR||_2, "
        "Farneback flow (OpenCV; pyr 0.5, levels 3, win 15, iters 3, poly_n 5, sigma 1.2) on grey uint8; "
        "lower is better"
    ),
    "warping_error": (
        "warping error (Lai et al. 2018): MSE on RGB in [0,1] between SR_t and SR_t-1 warped to t "
        "(bilinear) by the GT's backward flow, over pixels passing the forward-backward occlusion check "
        "and sampling inside the frame, mean over t>=1; flow is Farneback (classical), NOT FlowNet2, "
        "so not comparable to published numbers; lower is better"
    ),
    "tpsnr": (
        "temporal-difference PSNR: PSNR (peak 255, BT.601 Y, float64) of (SR_t - SR_t-1) against "
        "(GT_t - GT_t-1), mean over t>=1 of per-pair PSNR, identical pairs (inf) excluded; higher is better"
    ),
}


# --------------------------------------------------------------------------------------------- helpers
def _as_frames(frames, name: str) -> np.ndarray:
    arr = np.asarray(frames) if not isinstance(frames, np.ndarray) else frames
    if arr.dtype == object:
        raise ValueError(f"{name}: frames of different shapes")
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{name}: expected T x H x W x 3 RGB frames, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(
            f"{name}: expected uint8 frames, got {arr.dtype}; round and clip first "
            "(vsrbench.metrics.quality.to_uint8)"
        )
    return arr


def _pair(sr, gt, min_frames: int = 2) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_frames(sr, "sr"), _as_frames(gt, "gt")
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: sr {a.shape} vs gt {b.shape}")
    if a.shape[0] < min_frames:
        raise ValueError(f"need at least {min_frames} frames, got {a.shape[0]}")
    return a, b


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _centre_crop(frames: np.ndarray, multiple: int) -> np.ndarray:
    m = int(multiple)
    if m < 1:
        raise ValueError(f"crop_multiple must be >= 1, got {multiple}")
    h, w = frames.shape[1:3]
    nh, nw = (h // m) * m, (w // m) * m
    if nh == 0 or nw == 0:
        raise ValueError(f"frames of {h}x{w} are smaller than crop_multiple {m}")
    y0, x0 = (h - nh) // 2, (w - nw) // 2
    return frames[:, y0 : y0 + nh, x0 : x0 + nw]


def farneback_flow(prev_rgb: np.ndarray, next_rgb: np.ndarray) -> np.ndarray:
    """Dense optical flow ``H x W x 2`` float32 (``[..., 0]`` = dx, ``[..., 1]`` = dy) from
    ``prev_rgb`` to ``next_rgb`` (uint8 RGB).

    Grey uint8 via ``cv2.cvtColor(..., cv2.COLOR_RGB2GRAY)``, then exactly
    ``cv2.calcOpticalFlowFarneback(prev, next, None, 0.5, 3, 15, 3, 5, 1.2, 0)``
    (pyr_scale 0.5, levels 3, winsize 15, iterations 3, poly_n 5, poly_sigma 1.2, flags 0;
    :data:`FARNEBACK_PARAMS`), TecoGAN's setting. ``prev[y, x] ~ next[y + dy, x + dx]``.
    """
    if prev_rgb.shape != next_rgb.shape:
        raise ValueError(f"shape mismatch: {prev_rgb.shape} vs {next_rgb.shape}")
    p = FARNEBACK_PARAMS
    flow = cv2.calcOpticalFlowFarneback(
        _grey(prev_rgb), _grey(next_rgb), None,
        p["pyr_scale"], p["levels"], p["winsize"], p["iterations"], p["poly_n"], p["poly_sigma"], p["flags"],
    )
    return flow.astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------- GT work
class GtTemporalWork(NamedTuple):
    """What the temporal metrics need from the GT alone, for the ``T - 1`` consecutive pairs.

    ``forward[i]``: flow GT_i -> GT_i+1 (``farneback_flow(gt[i], gt[i+1])``, tOF's GT flow);
    ``backward[i]``: flow GT_i+1 -> GT_i (the warping error's flow); both ``H x W x 2`` float32.
    ``valid[i]``: ``H x W`` bool, the pixels of frame ``i+1`` passing the forward-backward occlusion
    check whose sample position is inside the frame.
    """

    forward: np.ndarray
    backward: np.ndarray
    valid: np.ndarray


def _workers(workers: int | None, tasks: int) -> int:
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            workers = os.cpu_count() or 1
    return max(1, min(int(workers), tasks))


def _map(fn, items: list, workers: int | None) -> list:
    """``[fn(x) for x in items]``, in a thread pool when it has more than one worker; the order of
    the results is the order of ``items`` whatever the scheduling, so the values are deterministic."""
    w = _workers(workers, len(items))
    if w <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=w, thread_name_prefix="vsrbench-flow") as ex:
        return list(ex.map(fn, items))


def _flow_of(pair) -> np.ndarray:
    return farneback_flow(*pair)


def gt_temporal_work(gt, workers: int | None = None) -> GtTemporalWork:
    """The GT-only part of :func:`tof` and :func:`warping_error` (pure: frames in, arrays out).

    ``2 (T - 1)`` Farneback flows (:data:`FARNEBACK_PARAMS`) and ``T - 1`` occlusion masks
    (:data:`OCCLUSION_ALPHA`, :data:`OCCLUSION_BETA`), computed on ``workers`` threads (default: the
    CPUs this process may use). Passing the result as ``gt_work=`` gives bit-identical metrics.
    """
    b = _as_frames(gt, "gt")
    if b.shape[0] < 2:
        raise ValueError(f"need at least 2 frames, got {b.shape[0]}")
    n = b.shape[0] - 1
    pairs = [(b[t - 1], b[t]) for t in range(1, n + 1)] + [(b[t], b[t - 1]) for t in range(1, n + 1)]
    flows = _map(_flow_of, pairs, workers)
    fwd, bwd = np.stack(flows[:n]), np.stack(flows[n:])
    valid = np.stack(_map(lambda i: _non_occluded(bwd[i], fwd[i]), list(range(n)), workers))
    return GtTemporalWork(fwd, bwd, valid)


def _check_work(work: GtTemporalWork, gt: np.ndarray) -> GtTemporalWork:
    t, h, w = gt.shape[:3]
    want = {"forward": ((t - 1, h, w, 2), np.float32), "backward": ((t - 1, h, w, 2), np.float32),
            "valid": ((t - 1, h, w), np.bool_)}
    for name, (shape, dtype) in want.items():
        arr = getattr(work, name, None)
        if not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != dtype:
            got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
            raise ValueError(f"gt_work.{name} is {got}, expected {np.dtype(dtype)} {shape} for gt of shape "
                             f"{gt.shape}; compute it with gt_temporal_work(gt)")
    return work


# --------------------------------------------------------------------------------------------- tOF
def _tof_value(f_gt: np.ndarray, f_sr: np.ndarray) -> float:
    d = f_gt.astype(np.float64) - f_sr.astype(np.float64)
    dx, dy = d[..., 0], d[..., 1]
    return float(np.mean(np.sqrt(dx * dx + dy * dy)))  # = sum over the last axis, without its reduction


def tof_per_pair(sr, gt, skip_ends: int = 0, crop_multiple: int | None = None,
                 gt_work: GtTemporalWork | None = None, workers: int | None = None) -> list[float]:
    """Per-pair tOF values (see :func:`tof`), one per consecutive pair of the kept frames."""
    a, b = _pair(sr, gt)
    fwd = None
    if gt_work is not None:
        if crop_multiple:
            raise ValueError("gt_work holds the flows of the uncropped frames; with crop_multiple pass no gt_work")
        fwd = _check_work(gt_work, b).forward
    s = int(skip_ends)
    if s < 0:
        raise ValueError(f"skip_ends must be >= 0, got {skip_ends}")
    if s:
        a, b = a[s : a.shape[0] - s], b[s : b.shape[0] - s]
        if a.shape[0] < 2:
            raise ValueError(f"skip_ends={s} leaves {a.shape[0]} frame(s); need at least 2")
        if fwd is not None:
            fwd = fwd[s : s + a.shape[0] - 1]
    if crop_multiple:
        a, b = _centre_crop(a, crop_multiple), _centre_crop(b, crop_multiple)
    n = a.shape[0] - 1
    sr_pairs = [(a[t - 1], a[t]) for t in range(1, n + 1)]
    if fwd is None:
        flows = _map(_flow_of, sr_pairs + [(b[t - 1], b[t]) for t in range(1, n + 1)], workers)
        f_sr, f_gt = flows[:n], flows[n:]
    else:
        f_sr, f_gt = _map(_flow_of, sr_pairs, workers), fwd
    return [_tof_value(f_gt[i], f_sr[i]) for i in range(n)]


def tof(sr, gt, skip_ends: int = 0, crop_multiple: int | None = None, gt_work: GtTemporalWork | None = None,
        workers: int | None = None) -> float:
    """TecoGAN's tOF (lower is better).

    For each consecutive pair ``(t-1, t)``: Farneback flow (:func:`farneback_flow`) of the SR pair
    and of the GT pair; per pixel the L2 norm of ``flow_GT - flow_SR``; mean over pixels; then mean
    over pairs (all pairs have the same pixel count, so this is the mean over pixels and pairs).

    Options (state which were used): ``skip_ends`` drops the first and last ``skip_ends`` frames
    before forming pairs (TecoGAN uses 2); ``crop_multiple`` centre-crops every frame to the largest
    multiple of it in H and W before the flow (TecoGAN uses 32). Default: no skip, no crop.
    ``gt_work`` (:func:`gt_temporal_work` of ``gt``, not with ``crop_multiple``) skips the GT flows.
    """
    return float(np.mean(tof_per_pair(sr, gt, skip_ends=skip_ends, crop_multiple=crop_multiple, gt_work=gt_work,
                                      workers=workers)))


# --------------------------------------------------------------------------------------------- warping error
@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = False
    gy.flags.writeable = False
    return gx, gy


def _warp(img: np.ndarray, flow: np.ndarray, want_inside: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Bilinear backward warp: ``out[y, x] = img[y + flow[y,x,1], x + flow[y,x,0]]``; also the mask of
    sample positions inside the frame (None unless ``want_inside``)."""
    h, w = flow.shape[:2]
    gx, gy = _grid(h, w)
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    out = cv2.remap(img, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = ((mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)) if want_inside else None
    return out, inside


def _non_occluded(f: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Forward-backward check: ``f`` = flow t -> t-1 (on frame t's grid), ``b`` = flow t-1 -> t.
    Occluded where ``|f + b(warped by f)|^2 > 0.01 (|f|^2 + |b_w|^2) + 0.5``."""
    bw, inside = _warp(b, f)
    f64, bw64 = f.astype(np.float64), bw.astype(np.float64)
    lhs = np.sum((f64 + bw64) ** 2, axis=-1)
    rhs = OCCLUSION_ALPHA * (np.sum(f64**2, axis=-1) + np.sum(bw64**2, axis=-1)) + OCCLUSION_BETA
    return (lhs <= rhs) & inside


def _we_value(prev_sr: np.ndarray, cur_sr: np.ndarray, f: np.ndarray, mask: np.ndarray) -> float:
    """MSE on RGB in [0, 1] over the ``mask`` pixels between ``cur_sr`` and ``prev_sr`` warped by ``f``.

    Summed exactly in integers (squared uint8 differences), then divided by ``255^2 * 3n``: the
    float64 sum of ``(a/255 - b/255)^2`` up to its rounding (~1e-16 relative), several times faster."""
    n = int(mask.sum())
    if n == 0:
        return 0.0  # everything occluded: nothing to compare
    warped, _ = _warp(prev_sr, f, want_inside=False)
    d = warped.astype(np.int32) - cur_sr.astype(np.int32)
    d *= d
    per_pixel = d[..., 0] + d[..., 1] + d[..., 2]  # <= 3 * 255^2 per pixel
    total = int(np.sum(per_pixel, where=mask, dtype=np.int64))
    return float(total / (255.0 * 255.0 * 3 * n))


def warping_error_per_pair(sr, gt, gt_work: GtTemporalWork | None = None, workers: int | None = None) -> list[float]:
    """Per-``t`` warping errors (``t = 1 .. T-1``), see :func:`warping_error`."""
    a, b = _pair(sr, gt)
    work = gt_temporal_work(b, workers) if gt_work is None else _check_work(gt_work, b)
    return _map(lambda i: _we_value(a[i], a[i + 1], work.backward[i], work.valid[i]), list(range(a.shape[0] - 1)),
                workers)


def warping_error(sr, gt, gt_work: GtTemporalWork | None = None, workers: int | None = None) -> float:
    """Warping error of Lai et al. (ECCV 2018), lower is better.

    For ``t >= 1``: ``f`` = GT backward flow from ``t`` to ``t-1`` (for each pixel of GT_t, where it
    is in GT_t-1); SR_t-1 is warped to ``t`` with ``cv2.remap`` (bilinear). Occlusions are masked by
    the forward-backward check ``|f + b_w|^2 > 0.01 (|f|^2 + |b_w|^2) + 0.5`` where ``b`` is the GT
    flow ``t-1 -> t`` and ``b_w`` is ``b`` warped by ``f``; pixels whose sample position falls outside
    the frame are masked too. The error is the mean squared error over the non-occluded pixels (and
    the three channels) on RGB in [0, 1]; then the mean over ``t``.

    The flow is **Farneback** (classical, :data:`FARNEBACK_PARAMS`), not FlowNet2 as in Lai et al.,
    so the numbers are NOT comparable to papers using FlowNet2. ``gt_work``
    (:func:`gt_temporal_work` of ``gt``) skips the GT flows and masks.
    """
    return float(np.mean(warping_error_per_pair(sr, gt, gt_work=gt_work, workers=workers)))


# --------------------------------------------------------------------------------------------- tPSNR
def temporal_psnr_per_pair(sr, gt) -> list[float]:
    """Per-``t`` temporal-difference PSNR (``t = 1 .. T-1``; ``inf`` where identical)."""
    a, b = _pair(sr, gt)
    ya = [rgb_to_y(f) for f in a]
    yb = [rgb_to_y(f) for f in b]
    out = []
    for t in range(1, a.shape[0]):
        mse = float(np.mean(((ya[t] - ya[t - 1]) - (yb[t] - yb[t - 1])) ** 2))
        out.append(math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse))
    return out


def temporal_psnr(sr, gt) -> float:
    """Temporal-difference PSNR in dB (higher is better).

    "tPSNR" has several meanings in public code; here it is exactly: for ``t >= 1``, PSNR with peak
    255 of ``D_SR = Y(SR_t) - Y(SR_t-1)`` against ``D_GT = Y(GT_t) - Y(GT_t-1)``, i.e.
    ``10 log10(255^2 / mean((D_SR - D_GT)^2))``, where ``Y`` is the BT.601 luma of
    :func:`vsrbench.metrics.quality.rgb_to_y` (float64, unrounded). The result is the mean over ``t``
    of the per-pair PSNR; pairs with identical differences (``inf``) are left out of the mean, and
    ``inf`` is returned only if every pair is ``inf``.
    """
    vals = temporal_psnr_per_pair(sr, gt)
    finite = [v for v in vals if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.inf


# --------------------------------------------------------------------------------------------- all three
#: pairs per step of :func:`temporal_metrics` without ``gt_work`` (bounds memory on long clips)
CHUNK_PAIRS = 16


def temporal_metrics(sr, gt, gt_work: GtTemporalWork | None = None, workers: int | None = None,
                     sr_flows=None) -> dict[str, float]:
    """``{"tof", "warping_error", "tpsnr"}`` of a clip, equal to :func:`tof`, :func:`warping_error`
    and :func:`temporal_psnr` (no skip, no crop) but with the GT flows computed once for both
    (``2 (T-1)`` instead of ``3 (T-1)``) or not at all when ``gt_work`` is given. Each pair's SR flow,
    tOF and warping error is one task on ``workers`` threads (default: the CPUs this process may
    use) while tPSNR is computed. Without ``gt_work`` the clip is done :data:`CHUNK_PAIRS` pairs at a
    time, so memory does not grow with the clip's length.

    ``sr_flows``: the SR's forward flows already computed (``sr_flows[i] = farneback_flow(sr[i],
    sr[i+1])``, e.g. while the model was still producing the later frames; an entry may be ``None``),
    the same values as computed here."""
    a, b = _pair(sr, gt)
    n = a.shape[0] - 1
    if gt_work is not None:
        _check_work(gt_work, b)
    if sr_flows is not None:
        sr_flows = list(sr_flows)
        if len(sr_flows) != n or any(f is not None and f.shape != a.shape[1:3] + (2,) for f in sr_flows):
            raise ValueError(f"sr_flows: expected {n} flows of {a.shape[1]}x{a.shape[2]}x2 (or None)")
    w = _workers(workers, n)
    ex = ThreadPoolExecutor(max_workers=w, thread_name_prefix="vsrbench-flow") if w > 1 else None
    try:
        vals: list[tuple[float, float]] = []
        tps = None
        step = n if gt_work is not None else CHUNK_PAIRS
        for lo in range(0, n, step):
            hi = min(n, lo + step)  # pairs lo .. hi-1 join frames lo .. hi
            work, off = (gt_work, 0) if gt_work is not None else (gt_temporal_work(b[lo : hi + 1], w), lo)

            def one(i, work=work, off=off):
                f_sr = sr_flows[i] if sr_flows is not None and sr_flows[i] is not None else farneback_flow(a[i], a[i + 1])
                j = i - off
                return _tof_value(work.forward[j], f_sr), _we_value(a[i], a[i + 1], work.backward[j], work.valid[j])

            if ex is None:
                vals += [one(i) for i in range(lo, hi)]
            else:
                futs = [ex.submit(one, i) for i in range(lo, hi)]
                if tps is None:
                    tps = temporal_psnr(a, b)  # on this thread meanwhile
                vals += [f.result() for f in futs]
    finally:
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)
    if tps is None:
        tps = temporal_psnr(a, b)
    return {"tof": float(np.mean([v[0] for v in vals])), "warping_error": float(np.mean([v[1] for v in vals])),
            "tpsnr": tps}


# --------------------------------------------------------------------------------------------- profiles
def temporal_profile(frames, row: int | None = None, column: int | None = None) -> np.ndarray:
    """One row (default: the middle row ``H // 2``) of every frame stacked over time: ``T x W x 3``
    uint8; with ``column`` instead, that column of every frame: ``T x H x 3``."""
    arr = _as_frames(frames, "frames")
    h, w = arr.shape[1:3]
    if row is not None and column is not None:
        raise ValueError("give row or column, not both")
    if column is not None:
        if not -w <= column < w:
            raise ValueError(f"column {column} out of range for width {w}")
        return np.ascontiguousarray(arr[:, :, column])
    r = h // 2 if row is None else row
    if not -h <= r < h:
        raise ValueError(f"row {r} out of range for height {h}")
    return np.ascontiguousarray(arr[:, r])


def temporal_profile_pair(sr, gt, row: int | None = None, gap: int = 4) -> np.ndarray:
    """SR and GT temporal profiles (:func:`temporal_profile`, same row) side by side, separated by a
    ``gap``-pixel (default 4) white band: ``T x (2W + gap) x 3`` uint8, ready to save as PNG."""
    a, b = _pair(sr, gt, min_frames=1)
    pa, pb = temporal_profile(a, row=row), temporal_profile(b, row=row)
    white = np.full((pa.shape[0], int(gap), 3), 255, dtype=np.uint8)
    return np.concatenate([pa, white, pb], axis=1)
