"""Progress and a time estimate for an evaluation: how many model calls each clip needs, a progress
bar that advances per call (window), and a one-line warning before a run that will take long on the
CPU, estimated from the model's FLOPs and the suite's frame count and size.

Pure planning (:func:`plan_calls`, :func:`estimate_seconds`) is separate from the one torch-using
step (:func:`flops_per_lr_pixel`, a forward pass at a small probe size under torch's FLOP counter).
"""

from __future__ import annotations

import math
import sys

from vsrbench.benchmark.windows import stvsr_windows

__all__ = ["ASSUMED_GFLOPS_PER_THREAD", "assumed_cpu_gflops", "WARN_SECONDS", "plan_calls", "flops_per_lr_pixel", "estimate_seconds",
           "cpu_warning", "CallProgress"]

#: sustained fp32 GFLOP/s assumed per CPU thread torch uses (a 2-core VM measured 4-10; a big
#: server with many threads is faster). Only used for the warning, which states it.
ASSUMED_GFLOPS_PER_THREAD = 10.0
#: warn before a CPU run estimated to take longer than this
WARN_SECONDS = 120.0
#: FLOPs per LR pixel per input frame are at most this many times the parameter count for the
#: built-in models (measured 0.5 to 3.6); a run under WARN_SECONDS even at this bound skips the probe
_FLOPS_PER_PARAM_BOUND = 20
_PROBE = 16  # LR probe size for FLOP counting: the FLOPs per pixel of these models are the same at 16 and 180


def assumed_cpu_gflops() -> float:
    """The CPU throughput the estimate assumes: :data:`ASSUMED_GFLOPS_PER_THREAD` x torch's threads."""
    import torch

    return ASSUMED_GFLOPS_PER_THREAD * max(1, torch.get_num_threads())


def _fmt_duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def calls_for_clip(spec, n_frames: int, scored: list[int], batch: int = 1) -> tuple[int, int]:
    """(model calls, LR frames per call) the harness makes for one clip of ``n_frames``, scoring ``scored``."""
    if spec.task == "stvsr":
        window = 2 * int(spec.frames_in) - 1
        want = set(scored)
        calls = sum(1 for _, _, fr in stvsr_windows(n_frames, window) if any(i in want for i in fr))
        return calls, int(spec.frames_in)
    if spec.frames_in == "recurrent":
        return 1, n_frames
    return math.ceil(len(scored) / max(1, int(batch))), int(spec.frames_in) * max(1, int(batch))


def plan_calls(spec, clips: dict[str, int], scored_of, batch: int = 1) -> dict[str, int]:
    """clip -> model calls, for clips given as ``{clip: n_frames}``; ``scored_of(n)`` -> scored indices."""
    return {c: calls_for_clip(spec, n, scored_of(n), batch)[0] for c, n in clips.items()}


def flops_per_lr_pixel(net) -> float:
    """FLOPs of ``net`` per input LR frame per LR pixel, from one forward pass at a small probe size
    (counted by :func:`vsrbench.benchmark.runtime.flops_per_call`)."""
    import torch

    from vsrbench.benchmark.runtime import _input_shape, flops_per_call

    shape = _input_shape(net.spec, (_PROBE, _PROBE), 1)
    lo, hi = net.spec.input_range
    p = next(iter(net.parameters()), None)
    gen = torch.Generator().manual_seed(0)  # leaves the global RNG (seeded weights) untouched
    x = (torch.rand(shape, generator=gen) * (hi - lo) + lo).to(p.device if p is not None else "cpu")
    flops = flops_per_call(net, x)["flops"]
    return flops / (shape[1] * shape[3] * shape[4])


def estimate_seconds(flops_per_pixel: float, clips: list[tuple[int, int, int, int]], gflops: float):
    """Seconds and total FLOPs for ``clips`` given as (calls, LR frames per call, LR height, LR width)."""
    total = sum(calls * frames * h * w * flops_per_pixel for calls, frames, h, w in clips)
    return total / (gflops * 1e9), total


def cpu_warning(model: str, suite: str, seconds: float, total_flops: float, windows: int,
                gflops: float) -> str | None:
    """The one-line warning, or None below :data:`WARN_SECONDS`."""
    if seconds < WARN_SECONDS:
        return None
    return (f"warning: {model} on {suite} on the CPU will take about {_fmt_duration(seconds)} "
            f"(estimate: {total_flops / 1e12:.1f} TFLOP over {windows} model calls at an assumed "
            f"{gflops:.0f} GFLOP/s); for a quick check use --crop 128x128 --limit-clips 1, or a GPU (--device cuda)")


def warn_if_slow(net, model: str, suite, store, clips: list[str], scored_of, batch: int, crop=None,
                 file=None) -> str | None:
    """Estimate the CPU time of evaluating ``clips`` and print the warning when it is long."""
    if not clips or not any(True for _ in net.parameters()):
        return None  # parameter-free interpolation: seconds at most
    rows = []
    for c in clips:
        n = store.num_frames(c)
        h, w = (crop if crop else store.frame_shape(c)[:2])
        calls, per_call = calls_for_clip(net.spec, n, scored_of(n), batch)
        rows.append((calls, per_call, h // suite.scale, w // suite.scale))
    gflops = assumed_cpu_gflops()
    n_params = sum(p.numel() for p in net.parameters())
    pixels = sum(calls * per_call * h * w for calls, per_call, h, w in rows)
    if _FLOPS_PER_PARAM_BOUND * n_params * pixels / (gflops * 1e9) < WARN_SECONDS:
        return None  # small enough whatever the architecture: no FLOP-counting pass
    try:
        fpp = flops_per_lr_pixel(net)
    except Exception:  # an op the counter cannot run at the probe size: no estimate, no warning
        return None
    seconds, total = estimate_seconds(fpp, rows, gflops)
    msg = cpu_warning(model, suite.name, seconds, total, sum(r[0] for r in rows), gflops)
    if msg:
        print(msg, file=file or sys.stderr, flush=True)
    return msg


class CallProgress:
    """A tqdm bar over the model calls (windows) of an evaluation, with the rate and time left.

    Wraps ``runner.run_batch`` (every model call goes through it) to advance the bar by one per
    call; :meth:`clip_done` re-aligns it with the plan after each clip.
    """

    def __init__(self, runner, plan: dict[str, int], desc: str, disable: bool = False):
        from tqdm import tqdm

        self.plan = plan
        self.bar = tqdm(total=sum(plan.values()), desc=desc, unit="window", disable=disable, file=sys.stderr,
                        dynamic_ncols=True)
        self._target = 0
        inner = runner.run_batch

        def run_batch(windows):
            out = inner(windows)
            self.calls += 1
            if self.bar.n < self._target + self._clip_calls:
                self.bar.update(1)
            return out

        self._clip_calls = 0
        self.calls = 0
        runner.run_batch = run_batch

    def clip_start(self, clip: str) -> None:
        self._clip_calls = self.plan.get(clip, 0)
        self.bar.set_postfix_str(clip, refresh=False)

    def clip_done(self, clip: str) -> None:
        self._target += self.plan.get(clip, 0)
        self.bar.update(self._target - self.bar.n)

    def close(self) -> None:
        self.bar.close()
