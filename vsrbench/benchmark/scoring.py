"""The one frame-scoring engine of ``vsrbench score`` and ``vsrbench evaluate`` (BasicSR style).

:func:`score_frames` takes SR and GT frames (uint8 RGB, any iterables, read lazily) and a
:class:`Protocol` -- ``crop_border``, ``channel`` (``y``: BT.601 Y, or ``rgb``) and ``modcrop`` (the
GT is cropped bottom/right to a multiple of it first, as BasicSR's ``modcrop``; 0 or 1: as it is) --
checks every pair (same size after the modcrop; SSIM's window fits after the border crop) and
returns one row per frame, the schema both commands write::

    {"gt_index": i, "psnr": p, "ssim": s}

``gt_index`` is the frame's index in its GT clip (``score``: the frame's position in the natural-sorted
clip; ``evaluate``: the scored GT frame, e.g. the centre frame only). ``score`` adds the two file
labels, ``pred`` and ``gt``. PSNR may be ``inf`` (identical frames); callers write it as ``null``.

Frame metrics, the measured decision: on CUDA, PSNR/SSIM are computed on the device with
:mod:`vsrbench.metrics.torch_quality` in float64, batched (:data:`METRIC_CHUNK` frames a call), whose
code equals the NumPy reference to ~4e-15 dB / 7e-15 on the CPU (test: ``tests/test_distributed_eval.py``,
real Vid4 frames; the required bound is 1e-6 dB / 1e-7; a CUDA-only test checks the bound on the GPU);
anything else: the NumPy reference :func:`vsrbench.metrics.psnr_ssim`, frame by frame.
``benchmarks/bench_eval.py`` (``overhead_section``) prints the measured rates behind this decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from vsrbench.degradations.spec import modcrop as _modcrop
from vsrbench.errors import VsrbenchError

__all__ = ["Protocol", "score_frames", "frame_scores", "METRIC_CHUNK", "GPU_METRICS_DECISION"]

#: frames per batched torch PSNR/SSIM call on CUDA (float64 SSIM maps of a 720x576 frame are ~3 MB each)
METRIC_CHUNK = 8

GPU_METRICS_DECISION = (
    "PSNR/SSIM on CUDA: vsrbench.metrics.torch_quality in float64 on the device (equal to the NumPy "
    "reference to ~1e-14 on the CPU, bound 1e-6 dB / 1e-7), batched, leaving the CPU to the temporal metrics; "
    "on the CPU: the NumPy reference in the scoring threads (SCORE_WORKERS clips at a time), beside the model's calls"
)


@dataclass(frozen=True)
class Protocol:
    """How a frame pair is scored: border crop, colour channel, GT modcrop (0 or 1: none)."""

    crop_border: int = 0
    channel: str = "y"
    modcrop: int = 0

    @classmethod
    def of_suite(cls, suite, scale: int) -> "Protocol":
        """A suite's protocol at the degradation's ``scale`` (the GT is modcropped to it, as degraded)."""
        return cls(crop_border=suite.crop_border, channel=suite.channel, modcrop=scale)

    def crop_gt(self, gt: np.ndarray) -> np.ndarray:
        return _modcrop(gt, self.modcrop) if self.modcrop > 1 else gt


def _default_labels(i: int) -> tuple[str, str]:
    return f"output frame {i}", f"GT frame {i}"


def _check_pair(sr: np.ndarray, gt: np.ndarray, protocol: Protocol, labels: tuple[str, str], hint: str) -> None:
    """Same size after the modcrop, and SSIM's 11x11 window fits after the border crop: say so naming the frames."""
    from vsrbench.metrics.quality import SSIM_WINDOW

    p, g = labels
    if sr.shape != gt.shape:
        if protocol.modcrop > 1:
            hint = f" (after modcrop x{protocol.modcrop})"
        raise VsrbenchError(
            f"{p}: shape {sr.shape[1]}x{sr.shape[0]} does not match ground truth {g} "
            f"{gt.shape[1]}x{gt.shape[0]}{hint}"
        )
    crop = max(0, protocol.crop_border)
    need = SSIM_WINDOW + 2 * crop
    if gt.shape[0] < need or gt.shape[1] < need:
        raise VsrbenchError(
            f"{g}: frame is {gt.shape[1]}x{gt.shape[0]} (width x height), too small to score: SSIM needs "
            f"{SSIM_WINDOW}x{SSIM_WINDOW} pixels after --crop-border {protocol.crop_border}, so the minimum is "
            f"{need}x{need}"
        )


def score_frames(
    sr: Iterable[np.ndarray],
    gt: Iterable[np.ndarray],
    protocol: Protocol,
    *,
    indices: Sequence[int] | None = None,
    device=None,
    labels: Callable[[int], tuple[str, str]] | None = None,
    hint: str = "",
    on_scored=None,
) -> list[dict]:
    """``[{"gt_index", "psnr", "ssim"}]`` of the SR/GT frame pairs (uint8 RGB), by ``protocol``.

    ``indices``: each pair's ``gt_index`` (default 0, 1, ...). ``device``: CUDA scores on the device
    in batches (see the module docstring), anything else with the NumPy reference. ``labels(gt_index)``
    names the two frames in an error (``hint`` ends a size mismatch's message when no modcrop is set).
    Frames are read one pair (CUDA: one batch) at a time, so iterators over a clip stay lazy.
    ``on_scored(n)``, when given, is called with the number of pairs each batch scored (a progress bar)."""
    labels = labels or _default_labels
    chunk = METRIC_CHUNK if _is_cuda(device) else 1
    rows: list[dict] = []
    batch: list[tuple[int, np.ndarray, np.ndarray]] = []
    for k, (a, b) in enumerate(zip(sr, gt)):
        i = k if indices is None else int(indices[k])
        b = protocol.crop_gt(b)
        _check_pair(a, b, protocol, labels(i), hint)
        batch.append((i, a, b))
        if len(batch) == chunk:
            rows.extend(_score_batch(batch, protocol, device))
            if on_scored is not None:
                on_scored(len(batch))
            batch = []
    if batch:
        rows.extend(_score_batch(batch, protocol, device))
        if on_scored is not None:
            on_scored(len(batch))
    return rows


def _score_batch(batch, protocol: Protocol, device) -> list[dict]:
    scores = frame_scores([a for _, a, _ in batch], [b for _, _, b in batch], protocol.crop_border, protocol.channel,
                          device)
    return [{"gt_index": i, "psnr": p, "ssim": s} for (i, _, _), (p, s) in zip(batch, scores)]


def _is_cuda(device) -> bool:
    return device is not None and getattr(device, "type", str(device)) == "cuda"


def frame_scores(outs: list[np.ndarray], gts: list[np.ndarray], crop_border: int, channel: str,
                 device=None) -> list[tuple[float, float]]:
    """``[(psnr, ssim)]`` of SR/GT frame pairs of equal size (uint8 RGB): the kernel under :func:`score_frames`.

    CUDA ``device``: batched :func:`~vsrbench.metrics.torch_quality.psnr_torch` /
    :func:`~vsrbench.metrics.torch_quality.ssim_torch` in float64 on the device (see the module
    docstring for why); anything else: the NumPy reference :func:`vsrbench.metrics.psnr_ssim`.
    """
    if not _is_cuda(device) or not outs:
        return _numpy_scores(outs, gts, crop_border, channel)
    return _frame_scores_torch(outs, gts, crop_border, channel, device)


def _frame_scores_torch(outs, gts, crop_border: int, channel: str, device) -> list[tuple[float, float]]:
    import torch

    from vsrbench.metrics.quality import SSIM_WINDOW
    from vsrbench.metrics.torch_quality import psnr_torch, ssim_torch

    h, w = outs[0].shape[:2]
    if h - 2 * crop_border < SSIM_WINDOW or w - 2 * crop_border < SSIM_WINDOW:  # the NumPy path's message
        return _numpy_scores(outs, gts, crop_border, channel)
    res: list[tuple[float, float]] = []
    for k in range(0, len(outs), METRIC_CHUNK):
        a = torch.from_numpy(np.stack(outs[k : k + METRIC_CHUNK])).to(device).permute(0, 3, 1, 2)
        b = torch.from_numpy(np.stack(gts[k : k + METRIC_CHUNK])).to(device).permute(0, 3, 1, 2)
        p = psnr_torch(a, b, crop_border, channel).cpu().tolist()
        s = ssim_torch(a, b, crop_border, channel).cpu().tolist()
        res.extend((float(x), float(y)) for x, y in zip(p, s))
    return res


def _numpy_scores(outs, gts, crop_border, channel):
    from vsrbench.metrics import psnr_ssim

    return [psnr_ssim(o, g, crop_border, channel) for o, g in zip(outs, gts)]
