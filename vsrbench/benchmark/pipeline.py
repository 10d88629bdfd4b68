"""The evaluation pipeline: reading the next clip and scoring the previous one overlap the model's calls.

Three stages per clip, in three threads:

* **read** (:class:`Prefetch`, a background thread): GT and LR frames of the next clip (decoded from
  the store, or degraded on the fly), at most ``ahead`` clips before the one the model runs (memory
  stays bounded: a clip or two ahead);
* **model** (the calling thread): the model's calls, timed by the runner as before (the progress bar
  counts them, so it stays right);
* **score** (:class:`Scorer`, ``workers`` background threads, :data:`SCORE_WORKERS` by default):
  PSNR/SSIM, temporal metrics and saved outputs of clip *k* (and *k - 1*) while the model runs clip
  *k + 1*. The caller takes the results in clip order (:meth:`Pending.result`), so the journal is
  appended in clip order; at most ``workers`` clips are being scored at a time.

An exception in a background thread is raised again, the same object with its original message, in
the calling thread at the clip it belongs to (a damaged store still ends the CLI with one line, rc 2).
The threads are daemons: Ctrl-C or a kill stops the run at once; every clip journaled before is whole
(one fsynced line each), and the clip whose scoring was under way when an error came is still
finished and journaled (:func:`finish_pending`).

Frame metrics (:func:`frame_scores`), the measured decision: on CUDA, PSNR/SSIM are computed on the
device with :mod:`vsrbench.metrics.torch_quality` in float64, whose code equals the NumPy reference
to ~4e-15 dB / 7e-15 on the CPU (test: ``tests/test_distributed_eval.py``, real Vid4 frames; the
required bound is 1e-6 dB / 1e-7; a CUDA-only test checks the bound on the GPU) and moves the per-frame PSNR/SSIM work off the CPU cores that feed the GPU and
run the temporal metrics. On the CPU the NumPy reference runs in the scoring threads (2-4 clips at a
time: the CPU "thread pool", per clip rather than per frame, which keeps the per-clip code as it is);
``benchmarks/bench_eval.py`` (``overhead_section``) prints the measured rates behind this decision.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Callable

import numpy as np

__all__ = ["Prefetch", "Scorer", "Pending", "finish_pending", "frame_scores", "GPU_METRICS_DECISION", "METRIC_CHUNK",
           "SCORE_WORKERS", "background_priority"]

#: clips scored at the same time (and so, at most, held in memory behind the model): the temporal
#: metrics (a Farneback flow per SR frame pair, and the GT's two when not cached) cost more per frame than many models'
#: calls; 2 on a small machine, up to 4 with 16+ cores
SCORE_WORKERS = max(2, min(4, (os.cpu_count() or 2) // 4))

#: frames per batched torch PSNR/SSIM call on CUDA (float64 SSIM maps of a 720x576 frame are ~3 MB each)
METRIC_CHUNK = 8

GPU_METRICS_DECISION = (
    "PSNR/SSIM on CUDA: vsrbench.metrics.torch_quality in float64 on the device (equal to the NumPy "
    "reference to ~1e-14 on the CPU, bound 1e-6 dB / 1e-7), batched, leaving the CPU to the temporal metrics; "
    "on the CPU: the NumPy reference in the scoring threads (SCORE_WORKERS clips at a time), beside the model's calls"
)


def background_priority() -> None:
    """Lower the calling thread's CPU priority (Linux: per-thread nice +10, inherited by the threads
    it starts), so that reading and scoring yield the cores to the model's thread, the run's critical
    path; elsewhere, or when refused, nothing changes. Values are unaffected."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10))
    except (AttributeError, OSError):
        pass


class _Failed:
    """A stage's exception, carried to the thread that takes the item."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException):
        self.exc = exc


class Prefetch:
    """GT and LR of ``clips`` read in a background thread, at most ``ahead`` clips ahead.

    A drop-in for the harness's ``_Data`` (other attributes are the wrapped object's):
    ``gt_frames(clip)`` returns the prefetched GT of the next clip (raising the reader's exception,
    if reading it failed) and ``lr_frames(clip, gt)`` its LR. Clips asked for out of order are read
    in the calling thread. ``read(clip) -> (gt, lr)`` may be given instead of the ``_Data`` default.
    """

    def __init__(self, data, clips: list[str], ahead: int = 1, read: Callable | None = None):
        if ahead < 1:
            raise ValueError(f"ahead must be >= 1, got {ahead}")
        self._data = data
        self._read = read or (lambda c: self._read_data(c))
        self._clips = list(clips)
        self._slots = threading.Semaphore(int(ahead))  # clips read (or being read) but not yet taken
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._next = 0  # index in clips of the next clip the caller takes
        self._lr: dict[int, object] = {}
        self.ahead = int(ahead)
        self._thread = threading.Thread(target=self._run, name="vsrbench-read", daemon=True)
        self._thread.start()

    def _read_data(self, clip):
        gt = self._data.gt_frames(clip)
        return gt, self._data.lr_frames(clip, gt)

    def _run(self) -> None:
        background_priority()
        for clip in self._clips:
            self._slots.acquire()
            if self._stop.is_set():
                return
            try:
                item = self._read(clip)
            except BaseException as e:  # carried to the caller with its message
                self._queue.put((clip, _Failed(e)))
                return
            self._queue.put((clip, item))

    def __getattr__(self, name):
        return getattr(self._data, name)

    def take(self, clip: str):
        """``(gt, lr)`` of ``clip``: the next prefetched clip, else read now."""
        if self._next >= len(self._clips) or self._clips[self._next] != clip:
            return self._read(clip)
        self._next += 1
        got, item = self._queue.get()
        self._slots.release()
        assert got == clip, (got, clip)
        if isinstance(item, _Failed):
            self._next = len(self._clips)  # the reader has stopped: later clips are read in the caller
            raise item.exc
        return item

    def gt_frames(self, clip: str):
        gt, lr = self.take(clip)
        self._lr[id(gt)] = lr
        return gt

    def lr_frames(self, clip: str, gt):
        lr = self._lr.pop(id(gt), None)
        return lr if lr is not None else self._data.lr_frames(clip, gt)

    def close(self) -> None:
        """Stop the reader (it ends after the clip it is reading; a daemon, it never holds up an exit)."""
        self._stop.set()
        self._slots.release()
        self._lr.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Pending:
    """The result of a job given to a :class:`Scorer` (``meta``: what the caller attached to it)."""

    def __init__(self, fn: Callable, meta: dict | None = None):
        self._fn = fn
        self._done = threading.Event()
        self._value = None
        self._exc: BaseException | None = None
        self.meta = dict(meta or {})

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as e:
            self._exc = e
        finally:
            self._fn = None  # drop the frames as soon as they are scored
            self._done.set()

    def result(self):
        """Wait for the job; its value, or its exception raised here (the same object)."""
        self._done.wait()
        if self._exc is not None:
            raise self._exc
        return self._value


class Scorer:
    """``workers`` background threads taking jobs first in, first out; the caller takes the
    results in the order it submitted them (:meth:`Pending.result`)."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self._jobs: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._run, name=f"vsrbench-score-{i}", daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        background_priority()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job._run()

    def submit(self, fn: Callable, **meta) -> Pending:
        p = Pending(fn, meta)
        self._jobs.put(p)
        return p

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def finish_pending(pending, emit: Callable) -> None:
    """After an error elsewhere: finish the clips whose scoring was under way (a :class:`Pending`
    or a sequence of them, in clip order) and ``emit`` each (their model work is not lost), up to
    the first that fails; its error is dropped, the first error is the one raised."""
    for p in [pending] if isinstance(pending, Pending) else list(pending or []):
        try:
            value = p.result()
        except Exception:
            return
        emit(p, value)


def frame_scores(outs: list[np.ndarray], gts: list[np.ndarray], crop_border: int, channel: str,
                 device=None) -> list[tuple[float, float]]:
    """``[(psnr, ssim)]`` of SR/GT frame pairs (uint8 RGB), by the protocol.

    CUDA ``device``: batched :func:`~vsrbench.metrics.torch_quality.psnr_torch` /
    :func:`~vsrbench.metrics.torch_quality.ssim_torch` in float64 on the device (see the module
    docstring for why); anything else: the NumPy reference :func:`vsrbench.metrics.psnr_ssim`.
    """
    from vsrbench.metrics import psnr_ssim

    if device is None or getattr(device, "type", str(device)) != "cuda" or not outs:
        return [psnr_ssim(o, g, crop_border, channel) for o, g in zip(outs, gts)]
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
