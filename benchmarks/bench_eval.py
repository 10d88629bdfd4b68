"""Evaluation harness benchmarks (run by hand, not part of the tests); one function per section,
``main()`` runs them all in one run and exits 1 when a target is missed.

    VSRBENCH_SHARED=../shared python benchmarks/bench_eval.py [--suite vid4|demo] [--sleep 0.2] [--repeat 1]

Vid4 is taken from ``$VSRBENCH_HOME`` (prepared there from ``$VSRBENCH_SHARED/data/vid4`` first if it
is not); results go to temporary folders. Each section prints its figures, the comparison and its
target in the same run.

Sections:
* ``temporal``: a warm-up evaluation (nearest, temporal metrics) fills the GT temporal cache
  (``benchmark.gt_cache``); then further models (``bicubic``, the model of the issue's 6.9x, and
  ``nearest``, almost free) are evaluated without and with the temporal metrics. Target (bicubic):
  with / without <= 1.5x (it was 6.9x with the GT flows computed twice per evaluation and again for
  every model).
* ``overhead_section``: harness overhead = wall time / model time of ``evaluate`` with a stand-in
  model of known cost (an ``nn.Module`` that sleeps ``--sleep`` s per call, then upsamples the frame
  by nearest neighbour) on Vid4 (the same home, so the GT temporal cache the ``temporal`` section
  filled is used; the demo in a temporary home without ``VSRBENCH_SHARED``) with the temporal
  metrics on. Reading the next clip and scoring the previous one run in background threads while the model sleeps (``vsrbench.benchmark.pipeline``), so the wall time
  approaches the model time. Target on the CPU: <= 1.15. It also prints the frame-metric rates
  behind the harness's choice (NumPy in the scoring thread; a NumPy thread pool; float64 torch on
  CUDA when there is one) and that choice.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

OVERHEAD_TARGET = 1.15


def _register_sleeper(name: str, seconds: float, scale: int = 4) -> str:
    import torch

    from vsrbench.models import ModelSpec, register_model

    class Sleeper(torch.nn.Module):
        """A model of known cost: sleeps ``seconds`` per call, then nearest-neighbour x``scale``."""

        def __init__(self, scale=scale):
            super().__init__()
            self.scale = scale

        def forward(self, x):  # B x 1 x C x H x W
            time.sleep(seconds)
            y = torch.nn.functional.interpolate(x[:, 0], scale_factor=self.scale, mode="nearest")
            return y[:, None]

    register_model(name, ModelSpec(task="vsr", frames_in=1, frames_out=1, colour="rgb", scales=(scale,)))(
        lambda scale=scale: Sleeper(scale))
    return name


def _home(suite: str) -> Path:
    from vsrbench.datasets import prepare

    home = Path(tempfile.mkdtemp(prefix="bench_eval_home_"))
    if suite.startswith("vid4"):
        shared = os.environ.get("VSRBENCH_SHARED")
        if not shared:
            raise SystemExit("set VSRBENCH_SHARED (the shared/ folder) for --suite vid4, or use --suite demo")
        prepare("vid4", source=Path(shared) / "data" / "vid4", variants="bi:x4", home=home, progress=False, quiet=True)
    else:
        prepare("demo", home=home, progress=False, quiet=True)
    return home


def _metric_rates(suite: str, home: Path) -> list[str]:
    """Frame pairs/s of Y PSNR + SSIM on the suite's first clip: NumPy serial, NumPy thread pool,
    float64 torch on CUDA (when present), with the max |difference| to NumPy."""
    import torch

    from vsrbench.benchmark.pipeline import GPU_METRICS_DECISION, frame_scores
    from vsrbench.benchmark.suites import get_suite
    from vsrbench.datasets import find_store, open_store
    from vsrbench.degradations import imresize
    from vsrbench.metrics import psnr_ssim
    from vsrbench.metrics.quality import to_uint8

    st = get_suite(suite)
    gt_store = open_store(find_store(st.dataset, "GT", st.set, home=home))
    lr_store = open_store(find_store(st.dataset, st.degradation, st.set, home=home))
    clip = gt_store.clips()[0]
    n = min(16, gt_store.num_frames(clip))
    gts = [gt_store.read(clip, i) for i in range(n)]
    srs = [to_uint8(imresize(lr_store.read(clip, i).astype(np.float64), st.scale)) for i in range(n)]
    gts = [g[: s.shape[0], : s.shape[1]] for g, s in zip(gts, srs)]
    ref = [psnr_ssim(s, g) for s, g in zip(srs, gts)]

    def rate(fn, repeats=2):
        best = 1e9
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return n / best

    serial = rate(lambda: [psnr_ssim(s, g) for s, g in zip(srs, gts)])
    workers = max(2, torch.get_num_threads())
    with ThreadPoolExecutor(workers) as ex:
        pooled = rate(lambda: list(ex.map(lambda sg: psnr_ssim(*sg), zip(srs, gts))))
    h, w = gts[0].shape[:2]
    lines = [f"frame metrics ({clip}, {w}x{h}, Y PSNR+SSIM): NumPy {serial:.1f} pairs/s; NumPy thread pool "
             f"({workers} threads) {pooled:.1f} pairs/s"]
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        frame_scores(srs[:2], gts[:2], 0, "y", dev)  # warm-up
        gpu = rate(lambda: (frame_scores(srs, gts, 0, "y", dev), torch.cuda.synchronize()))
        got = frame_scores(srs, gts, 0, "y", dev)
        dp = max(abs(a[0] - b[0]) for a, b in zip(got, ref))
        ds = max(abs(a[1] - b[1]) for a, b in zip(got, ref))
        ok = dp <= 1e-6 and ds <= 1e-7
        lines.append(f"GPU metrics: float64 torch on {torch.cuda.get_device_name(dev)} {gpu:.1f} pairs/s, max |dPSNR| "
                     f"{dp:.2e} dB, max |dSSIM| {ds:.2e} ({'within' if ok else 'OUTSIDE'} 1e-6 dB / 1e-7); "
                     f"{'faster' if gpu > pooled else 'slower'} than the CPU thread pool")
        lines.append("decision: " + (GPU_METRICS_DECISION if ok and gpu > pooled else
                                     "the harness's GPU choice is NOT supported by this measurement: revisit it"))
    else:
        lines.append("GPU metrics: no CUDA here; decision: " + GPU_METRICS_DECISION)
    gt_store.close()
    lr_store.close()
    return lines


def overhead_section(suite: str | None = None, sleep: float = 0.2, limit_clips: int | None = None,
                     home: Path | None = None) -> dict:
    """Wall time / model time of ``evaluate`` with a model of known cost; prints the numbers and PASS/FAIL."""
    from vsrbench.benchmark.harness import evaluate

    suite = suite or ("vid4" if os.environ.get("VSRBENCH_SHARED") else "demo")
    name = _register_sleeper(f"bench-sleep-{sleep:g}", sleep)
    home = home or _home(suite)
    os.environ["VSRBENCH_HOME"] = str(home)
    results = Path(tempfile.mkdtemp(prefix="bench_eval_results_"))
    # warm-up: a tiny evaluate in this process first, so that one-time module imports (torchvision,
    # the model registry, OpenCV) are not counted as per-run harness overhead
    evaluate(name, suite, device="cpu", results=home / "warmup", progress=False, crop=(32, 32), limit_clips=1)
    from vsrbench.benchmark.feed import ModelRunner

    stamps: list[float] = []
    inner = ModelRunner.run_batch

    def timed(self, windows):  # when each model call starts and ends (for the breakdown below)
        stamps.append(time.perf_counter())
        try:
            return inner(self, windows)
        finally:
            stamps.append(time.perf_counter())

    ModelRunner.run_batch = timed
    try:
        t0 = time.perf_counter()
        rec = evaluate(name, suite, device="cpu", results=results, progress=False, temporal=True,
                       limit_clips=limit_clips)
        wall = time.perf_counter() - t0
    finally:
        ModelRunner.run_batch = inner
    gaps = sum(stamps[i + 1] - stamps[i] for i in range(1, len(stamps) - 1, 2))
    rt = rec["runtime"]
    model = rt["ms_per_frame"] * rt["frames_timed"] / 1000.0
    calls = rt["frames_timed"]  # one output frame per call
    over = wall / model
    verdict = "PASS" if over <= OVERHEAD_TARGET else "FAIL"
    print(f"== harness overhead: stand-in model sleeping {sleep:g} s per call, {suite}, temporal metrics on ==")
    print(f"clips {rec['n_clips']}, frames {rec['n_frames']}, model calls {calls}; PSNR {rec['psnr']:.4f}, "
          f"tOF {rec['temporal'].get('tof', float('nan')):.3f}")
    print(f"wall time {wall:.2f} s (evaluate() after a warm-up call, from the call to the record on disk), "
          f"model time {model:.2f} s "
          f"({calls} x {sleep:g} s = {calls * sleep:.2f} s asked)")
    print(f"  before the first model call {stamps[0] - t0:.2f} s (set-up, first clip read), between calls {gaps:.2f} s "
          f"in all, after the last call {t0 + wall - stamps[-1]:.2f} s (the last clips' scoring, the record)")
    print(f"overhead = wall / model = {over:.3f}; target <= {OVERHEAD_TARGET}: {verdict}")
    for line in _metric_rates(suite, home):
        print(line)
    return {"suite": suite, "wall_s": wall, "model_s": model, "overhead": over, "pass": over <= OVERHEAD_TARGET}


def vid4_home() -> Path:
    """``$VSRBENCH_HOME`` with Vid4 prepared (prepared from ``$VSRBENCH_SHARED`` when missing)."""
    from vsrbench.datasets import find_store, prepare
    from vsrbench.datasets.catalog import vsrbench_home
    from vsrbench.errors import VsrbenchError

    home = vsrbench_home()
    try:
        find_store("vid4", "GT", "all", home=home)
        find_store("vid4", "bi:x4", "all", home=home)
    except VsrbenchError:
        shared = Path(os.environ.get("VSRBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
        if not (shared / "data" / "vid4").is_dir():
            sys.exit("set VSRBENCH_SHARED to the shared/ folder (Vid4 is not prepared in $VSRBENCH_HOME)")
        print(f"preparing vid4 in {home} from {shared / 'data' / 'vid4'} ...", flush=True)
        prepare("vid4", source=shared / "data" / "vid4", home=home, progress=False, quiet=True)
    return home


def _timed_evaluate(model: str, temporal: bool, home: Path) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds (all threads of this process) and the record of one evaluation."""
    from vsrbench.benchmark.harness import evaluate

    with tempfile.TemporaryDirectory(prefix="bench_eval_") as results:
        t0, c0 = time.perf_counter(), time.process_time()
        rec = evaluate(model, "vid4", device="cpu", temporal=temporal, results=results, home=home, progress=False)
        return time.perf_counter() - t0, time.process_time() - c0, rec


def _sr_flow_seconds(home: Path, pairs: int = 6) -> float:
    """Seconds of one Farneback flow on a Vid4 frame pair (calendar 720 x 576), one call: the SR
    side's irreducible cost per pair (tOF is defined on the SR's own flow)."""
    from vsrbench.datasets import find_store, open_store
    from vsrbench.metrics.temporal import farneback_flow

    store = open_store(find_store("vid4", "GT", "all", home=home))
    frames = [store.read("calendar", i) for i in range(pairs + 1)]
    t0 = time.perf_counter()
    for i in range(pairs):
        farneback_flow(frames[i], frames[i + 1])
    return (time.perf_counter() - t0) / pairs


def temporal(home: Path, repeat: int = 1) -> bool:
    """Further models' evaluations with the temporal metrics against without, GT cache warm.

    The warm-up (``nearest``) fills the cache; then ``bicubic`` (the model of the issue's 6.9x:
    89.6 s against 13.0 s) and ``nearest`` (an almost free model: the SR flows' floor shows most) are
    each evaluated without and with the temporal metrics. The target is judged on bicubic."""
    from vsrbench.benchmark.gt_cache import cache_enabled

    print("\n== temporal: Vid4 (171 frames), evaluate on CPU with vs without tOF / warping error / tPSNR")
    print(f"   GT temporal cache {'on' if cache_enabled() else 'OFF (VSRBENCH_TEMPORAL_CACHE)'}; "
          f"{os.cpu_count()} CPUs")
    gt_dir = home / "vid4" / "lmdb" / "all" / "cache" / "temporal"
    t_warm, _, _ = _timed_evaluate("nearest", True, home)
    entries = sorted(gt_dir.rglob("*.npz")) if gt_dir.is_dir() else []
    size = sum(p.stat().st_size for p in entries) / 2**20
    print(f"   warm-up  nearest, temporal (fills the cache if empty){t_warm:7.1f} s   "
          f"cache: {len(entries)} entries, {size:.0f} MiB under {gt_dir}")
    stamps = {p: p.stat().st_mtime_ns for p in entries}
    ratios = {}
    for model in ("bicubic", "nearest"):
        without = with_t = (float("inf"), float("inf"))
        rec = None
        for _ in range(max(1, repeat)):  # interleaved, the best of each kept (the machine may be shared)
            w, c, _ = _timed_evaluate(model, False, home)
            without = min(without, (w, c))
            w, c, rec = _timed_evaluate(model, True, home)
            with_t = min(with_t, (w, c))
        ratios[model] = (with_t[0] / without[0], with_t[1] / without[1], without[0])
        tm = rec["temporal"]
        print(f"   {model:8s} without temporal                    {without[0]:7.1f} s   (CPU {without[1]:.1f} s)")
        print(f"   {model:8s} with temporal (GT work from cache)  {with_t[0]:7.1f} s   (CPU {with_t[1]:.1f} s)   "
              f"tOF {tm['tof']:.4f}  warping error {tm['warping_error']:.6f}  tPSNR {tm['tpsnr']:.3f}   "
              f"ratio {ratios[model][0]:.2f}x wall, {ratios[model][1]:.2f}x CPU")
    reused = bool(stamps) and all(p.stat().st_mtime_ns == s for p, s in stamps.items())
    print(f"   GT cache entries reused unchanged: {'yes' if reused else 'NO'}")
    flow = _sr_flow_seconds(home)
    per_frame = ratios["nearest"][2] / 171
    print(f"   SR Farneback flow {1000 * flow:.0f} ms per pair (one call; tOF is defined on the SR's own flow, so "
          f"every model pays it) vs {1000 * per_frame:.0f} ms per frame for nearest's whole evaluation without "
          f"temporal: its floor with N idle cores ~ 1 + {flow / per_frame:.2f}/N "
          f"({1 + flow / per_frame / (os.cpu_count() or 1):.2f}x here; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    ratio = ratios["bicubic"][0]
    ok = ratio <= 1.5
    print(f"   bicubic ratio with / without: {ratio:.2f}x wall   target <= 1.5x (wall): "
          f"{'PASS' if ok else 'FAIL'}   (before: 6.9x; nearest: {ratios['nearest'][0]:.2f}x)")
    return ok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", help="overhead section: vid4 (needs VSRBENCH_SHARED) or demo; default vid4 when "
                                   "VSRBENCH_SHARED is set (the temporal section runs on vid4 only)")
    p.add_argument("--sleep", type=float, default=0.2, help="seconds the stand-in model sleeps per call (default 0.2)")
    p.add_argument("--limit-clips", type=int, help="overhead section: score only the first N clips")
    p.add_argument("--repeat", type=int, default=1, help="temporal section: timed runs per configuration (best kept)")
    args = p.parse_args(argv)
    suite = args.suite or ("vid4" if os.environ.get("VSRBENCH_SHARED") else "demo")
    ok = []
    home = None
    if suite == "vid4":
        home = vid4_home()
        ok.append(temporal(home, args.repeat))
    r = overhead_section(suite, args.sleep, args.limit_clips, home=home)
    ok.append(r["pass"])
    print("\nall targets met" if all(ok) else "\nsome target missed (FAIL above)")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
