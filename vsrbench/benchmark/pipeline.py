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

Frame metrics (:func:`frame_scores`, :data:`GPU_METRICS_DECISION`) are
:mod:`vsrbench.benchmark.scoring`'s, the one scoring engine of ``score`` and ``evaluate`` (re-exported
here): float64 torch on CUDA, the NumPy reference in the scoring threads on the CPU (2-4 clips at a
time: the CPU "thread pool", per clip rather than per frame).
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Callable

from vsrbench.benchmark.scoring import GPU_METRICS_DECISION, METRIC_CHUNK, frame_scores  # noqa: F401

__all__ = ["Prefetch", "Scorer", "Pending", "finish_pending", "frame_scores", "GPU_METRICS_DECISION", "METRIC_CHUNK",
           "SCORE_WORKERS", "background_priority"]

#: clips scored at the same time (and so, at most, held in memory behind the model): the temporal
#: metrics (a Farneback flow per SR frame pair, and the GT's two when not cached) cost more per frame than many models'
#: calls; 2 on a small machine, up to 4 with 16+ cores
SCORE_WORKERS = max(2, min(4, (os.cpu_count() or 2) // 4))

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
