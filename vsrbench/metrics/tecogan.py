"""The TecoGAN evaluation protocol (Chu et al. 2020, ``metrics.py`` of github.com/thunil/TecoGAN), exactly.

Per clip of ``n`` frames (uint8 RGB, SR and GT of equal shapes):

* frames ``cutfr .. n - 1 - cutfr`` are scored (``cutfr = 2``);
* **tOF** for each consecutive pair ``(t-1, t)`` of the scored frames: Farneback flow
  ``cv2.calcOpticalFlowFarneback(prev, next, None, 0.5, 3, 15, 3, 5, 1.2, 0)`` on
  ``cv2.COLOR_RGB2GRAY`` of the **full** frames, for GT and SR; both flows then cut by
  :func:`crop_8x8`; ``mean over pixels of sqrt(sum((flow_GT - flow_SR)^2))`` in float32;
* **LPIPS** (AlexNet, v0.1) of each scored frame, GT vs SR, both cut by :func:`crop_8x8`, images
  mapped to [-1, 1] (``x / 127.5 - 1``);
* **tLP** for each pair: ``|LPIPS(GT_t-1, GT_t) - LPIPS(SR_t-1, SR_t)| x 100`` (float32);
* **PSNR (TecoGAN's)**: on ``crop_8x8`` frames, Y of TecoGAN's ``_rgb2ycbcr`` (DUF's matrix, float64),
  ``20 log10(255 / rmse)``; not vsrbench's protocol PSNR (that one scores full frames).

Per-frame (per-pair) values are what ``metrics.py`` prints; the clip's value is their mean, and the
suite's the mean over clips (``metrics.py``'s "folder avg").

The ground-truth side (GT flows, GT features, GT-to-GT distances) depends only on the data, so
:func:`gt_side` computes it once and :func:`score_clip` takes it; the benchmark stage caches it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from vsrbench.colour import BT601_Y_DUF
from vsrbench.metrics.lpips import LPIPS, image_to_tensor

__all__ = [
    "CUTFR",
    "FARNEBACK_ARGS",
    "TECOGAN_DEFINITIONS",
    "TECOGAN_SETTINGS",
    "crop_8x8",
    "crop_8x8_box",
    "gt_side",
    "psnr_tecogan",
    "score_clip",
    "scored_frames",
]

CUTFR = 2
#: ``cv2.calcOpticalFlowFarneback`` arguments after ``(prev, next, None)``.
FARNEBACK_ARGS = (0.5, 3, 15, 3, 5, 1.2, 0)

TECOGAN_SETTINGS = {
    "cutfr": CUTFR,
    "crop": "crop_8x8: largest multiple of 32 leaving >= 16 px, centred",
    "farneback": list(FARNEBACK_ARGS),
    "grey": "cv2.COLOR_RGB2GRAY",
    "lpips": "alex v0.1",
}

TECOGAN_DEFINITIONS = {
    "tof": (
        "tOF (TecoGAN metrics.py): frames 2..n-3; per consecutive pair, Farneback (0.5,3,15,3,5,1.2,0) on "
        "COLOR_RGB2GRAY of the full GT and SR frames, both flows cut by crop_8x8, mean over pixels of "
        "||flow_GT - flow_SR||_2; mean over pairs, then over clips; lower is better"
    ),
    "lpips": (
        "LPIPS (TecoGAN metrics.py): LPIPS-alex v0.1 of GT vs SR, crop_8x8 frames in [-1,1], frames 2..n-3; "
        "mean over frames, then over clips; lower is better"
    ),
    "tlp": (
        "tLP (TecoGAN metrics.py): |LPIPS(GT_t-1,GT_t) - LPIPS(SR_t-1,SR_t)| x 100 on crop_8x8 frames, "
        "consecutive pairs of frames 2..n-3; mean over pairs, then over clips; lower is better"
    ),
    "psnr": (
        "PSNR as TecoGAN's metrics.py prints it: crop_8x8 frames, Y of DUF's rgb2ycbcr (float64), "
        "20 log10(255/rmse), frames 2..n-3 (not the suite's protocol PSNR)"
    ),
}


def crop_8x8_box(h: int, w: int) -> tuple[int, int, int, int]:
    """``(y, x, ch, cw)`` of TecoGAN's ``crop_8x8``: the largest multiple of 32 in each dimension that
    leaves at least 16 pixels (576 -> 544, 480 -> 448, 720 -> 704), centred (offset ``(h - ch) // 2``)."""
    h, w = int(h), int(w)
    ch, cw = (h // 32) * 32, (w // 32) * 32
    while ch > h - 16:
        ch -= 32
    while cw > w - 16:
        cw -= 32
    if ch <= 0 or cw <= 0:
        raise ValueError(f"frames of {h}x{w} are too small for TecoGAN's crop_8x8 (need at least 48x48)")
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def crop_8x8(img: np.ndarray) -> np.ndarray:
    """``img[y:y+ch, x:x+cw]`` with :func:`crop_8x8_box` of its first two dimensions (frames or flows)."""
    y, x, ch, cw = crop_8x8_box(img.shape[0], img.shape[1])
    return img[y : y + ch, x : x + cw]


def scored_frames(n: int, cutfr: int = CUTFR) -> list[int]:
    """Indices TecoGAN scores in a clip of ``n`` frames: ``cutfr .. n - 1 - cutfr``."""
    return list(range(cutfr, n - cutfr))


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _flow(prev_grey: np.ndarray, next_grey: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(prev_grey, next_grey, None, *FARNEBACK_ARGS)


def psnr_tecogan(sr: np.ndarray, gt: np.ndarray) -> float:
    """TecoGAN's printed PSNR of one frame pair (already cut by :func:`crop_8x8`)."""
    t = np.array(BT601_Y_DUF)
    yt = gt.reshape(-1, 3).astype(np.float32).astype(np.float64) @ t + 16.0
    yp = sr.reshape(-1, 3).astype(np.float32).astype(np.float64) @ t + 16.0
    rmse = np.sqrt(np.mean((yt - yp) ** 2))
    return math.inf if rmse == 0 else float(20 * np.log10(255.0 / rmse))


def _check(frames, name: str) -> list[np.ndarray]:
    out = [np.asarray(f) for f in frames]
    for f in out:
        if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            raise ValueError(f"{name}: expected H x W x 3 uint8 RGB frames, got {f.dtype} {f.shape}")
    if len({f.shape for f in out}) > 1:
        raise ValueError(f"{name}: frames of different shapes")
    return out


@torch.no_grad()
def _features(model: LPIPS, frame: np.ndarray, device) -> list[torch.Tensor]:
    return model.features(image_to_tensor(crop_8x8(frame), device))


def gt_side(gt, model: LPIPS | None, cutfr: int = CUTFR, device=None, want_features: bool = True) -> dict:
    """What the GT contributes, independent of any model: ``flows`` (cropped GT flow of each scored
    pair, float32), ``gt_dist`` (LPIPS(GT_t-1, GT_t) per pair, float32) and, with ``want_features``,
    ``features`` (LPIPS taps of each scored GT frame; held in memory only)."""
    gt = _check(gt, "gt")
    idx = scored_frames(len(gt), cutfr)
    if len(idx) < 1:
        raise ValueError(f"a clip of {len(gt)} frames has no frame left after cutting {cutfr} at each end")
    greys = [_grey(gt[i]) for i in idx]
    flows = [crop_8x8(_flow(greys[k - 1], greys[k])) for k in range(1, len(idx))]
    out = {"indices": idx, "flows": flows, "shape": gt[0].shape}
    if model is not None:
        feats = [_features(model, gt[i], device) for i in idx]
        with torch.no_grad():
            out["gt_dist"] = [np.float32(model.distance(feats[k - 1], feats[k])[0].item()) for k in range(1, len(idx))]
        if want_features:
            out["features"] = feats
    return out


def score_clip(sr, gt, model: LPIPS | None, side: dict | None = None, cutfr: int = CUTFR, device=None) -> dict:
    """TecoGAN's metrics of one clip. Returns ``{"frames": [{gt_index, psnr, lpips}], "pairs":
    [{gt_index, tof, tlp}], "tof", "lpips", "tlp", "psnr"}`` (clip means; ``lpips``/``tlp`` only with
    a model). ``side`` is :func:`gt_side` of ``gt`` (computed here when None; its ``features`` are
    recomputed when absent)."""
    sr, gt = _check(sr, "sr"), _check(gt, "gt")
    if len(sr) != len(gt):
        raise ValueError(f"{len(sr)} SR frames vs {len(gt)} GT frames")
    if sr[0].shape != gt[0].shape:
        raise ValueError(f"shape mismatch: sr {sr[0].shape} vs gt {gt[0].shape}")
    if side is None:
        side = gt_side(gt, model, cutfr, device)
    idx = side["indices"]
    if idx != scored_frames(len(gt), cutfr) or tuple(side["shape"]) != gt[0].shape:
        raise ValueError("the GT side was computed for other frames")
    frames, pairs = [], []
    prev_grey = prev_feat = None
    gt_feats = side.get("features")
    for k, i in enumerate(idx):
        grey = _grey(sr[i])
        rec = {"gt_index": i, "psnr": psnr_tecogan(crop_8x8(sr[i]), crop_8x8(gt[i]))}
        if model is not None:
            f_sr = _features(model, sr[i], device)
            f_gt = gt_feats[k] if gt_feats is not None else _features(model, gt[i], device)
            with torch.no_grad():
                rec["lpips"] = float(np.float32(model.distance(f_gt, f_sr)[0].item()))
        if k > 0:
            d = side["flows"][k - 1] - crop_8x8(_flow(prev_grey, grey))
            pair = {"gt_index": i, "tof": float(np.sqrt(np.sum(d * d, axis=-1)).mean())}
            if model is not None:
                with torch.no_grad():
                    d_sr = np.float32(model.distance(prev_feat, f_sr)[0].item())
                pair["tlp"] = float(np.absolute(side["gt_dist"][k - 1] - d_sr) * np.float32(100.0))
            pairs.append(pair)
        prev_grey = grey
        if model is not None:
            prev_feat = f_sr
        frames.append(rec)
    out = {"frames": frames, "pairs": pairs}
    finite = [f["psnr"] for f in frames if math.isfinite(f["psnr"])]
    out["psnr"] = float(np.mean(finite)) if finite else math.inf
    if pairs:
        out["tof"] = float(np.mean([p["tof"] for p in pairs]))
    if model is not None:
        out["lpips"] = float(np.mean([f["lpips"] for f in frames]))
        if pairs:
            out["tlp"] = float(np.mean([p["tlp"] for p in pairs]))
    return out
