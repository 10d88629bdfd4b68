"""The GPU checks in one call (issue 12 §6): a Markdown report on stdout and in ``$OUT/gpu_check.md``.

Run on a machine with CUDA (about 2-4 minutes on one H200):

    VSRBENCH_SHARED=../shared python benchmarks/gpu_check.py

1. ``profile``: lcvsr, fstrn, zsm at LR 180x320 (x4) and dksan at its x16 with the protocol's x16 LR
   45x80, each in fp32 / fp16 / bf16 (``vsrbench.benchmark.runtime.profile_model``, what
   ``vsrbench profile`` runs): ms/frame, fps, parameters, FLOPs and MACs per frame, peak memory;
2. harness overhead: ZSM (random weights, paper configuration) through ``evaluate`` on all of Vid4
   (prepared from ``$VSRBENCH_SHARED/data/vid4`` into a temporary ``VSRBENCH_HOME``), the wall time
   of the second (warm) run against the model's own synchronised time;
3. GPU metrics against CPU: ``psnr_torch`` / ``ssim_torch`` on CUDA vs ``psnr_ssim`` (NumPy) on the
   MATLAB-bicubic x4 round trip of every Vid4 frame: max |difference| and frames/s of each;
4. ``torchrun`` with the GPUs present: ``python -m torch.distributed.run --nproc-per-node N -m
   vsrbench evaluate ...``, its exit status and time (reported, never fatal: the command may not
   support distributed runs).

Without CUDA it prints "no CUDA device: GPU checks not run" and runs the same code path on the CPU
with tiny sizes (reduced models, LR 16x16, one clip cropped to 32x32, bicubic under torchrun),
exiting 0 when every section ran; ``--cpu-smoke`` forces that path. Raw rows also go to
``$OUT/gpu_check.json``. Options: ``--home DIR`` (a VSRBENCH_HOME where vid4 is already prepared),
``--skip-torchrun``, ``--repeats N``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

NO_CUDA = "no CUDA device: GPU checks not run"

#: (model, scale, LR H x W): the field's 180x320 at x4; x16 papers use 45x80 (protocol.md, Runtime)
PROFILE_MODELS = (("lcvsr", 4, (180, 320)), ("fstrn", 4, (180, 320)), ("dksan", 16, (45, 80)), ("zsm", 4, (180, 320)))
DTYPES = ("fp32", "fp16", "bf16")
#: reduced widths for the CPU smoke run (the code path, not the numbers)
SMOKE_KWARGS = {
    "lcvsr": dict(lfgn_stem=8, lfgn_widths=(8, 8, 16, 16), grn_widths=(4, 8, 8)),
    "fstrn": dict(nf=8, n_frb=2),
    "dksan": dict(nf=16, n_rcabs=(1, 1, 1, 1), n_resblocks=1, n_align_dk=1, dksa_layers=1, dksa_light_layers=1),
    "zsm": dict(nf=8, front_RBs=1, back_RBs=1),
}


def _err(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {' '.join(str(e).split())[:300]}{where}"


def _f(v, spec=".2f", scale=1.0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v / scale, spec)


# ------------------------------------------------------------------------------------------------ 1. profile
def check_profile(dev, smoke: bool, repeats: int) -> list[dict]:
    import torch

    from vsrbench.benchmark.runtime import profile_model
    from vsrbench.models import create_model

    rows = []
    for name, scale, lr in PROFILE_MODELS:
        if smoke:
            lr = (16, 16)
        try:
            torch.manual_seed(0)
            net = create_model(name, scale=scale, **(SMOKE_KWARGS[name] if smoke else {}))
        except Exception as e:  # noqa: BLE001
            rows.append({"model": name, "dtype": "-", "error": _err(e)})
            continue
        flops = None
        for dt in DTYPES:
            if dev.type != "cuda" and dt == "fp16":
                rows.append({"model": name, "dtype": dt, "skipped": "fp16 autocast needs CUDA"})
                continue
            try:
                r = profile_model(net, lr, device=dev, dtype=dt, repeats=repeats, warmup=1 if smoke else 3,
                                  count_flops=flops is None)
                if flops is None:
                    flops = (r["flops_per_frame"], r["macs_per_frame"])
                r["flops_per_frame"], r["macs_per_frame"] = flops
                rows.append(r)
            except Exception as e:  # noqa: BLE001 - e.g. an op without a half kernel, or out of memory
                rows.append({"model": name, "dtype": dt, "error": _err(e)})
            finally:
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
        del net
    return rows


def profile_markdown(rows: list[dict]) -> str:
    out = ["| model | dtype | LR (WxH) | scale | ms/frame | fps | params (M) | GFLOPs/frame | GMACs/frame | peak MiB |",
           "|---|---|---|---|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        if "error" in r or "skipped" in r:
            out.append(f"| {r['model']} | {r['dtype']} | {r.get('error') or r.get('skipped')} | | | | | | | |")
            continue
        h, w = r["lr_size"].split("x")
        out.append(f"| {r['model']} | {r['dtype']} | {w}x{h} | x{r['scale']} | {_f(r['ms_per_frame'])} | "
                   f"{_f(r['fps'])} | {_f(r['params'], '.3f', 1e6)} | {_f(r['flops_per_frame'], '.1f', 1e9)} | "
                   f"{_f(r['macs_per_frame'], '.1f', 1e9)} | {_f(r['peak_memory_mb'], '.0f')} |")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ 2. harness
def prepare_vid4(shared: Path) -> None:
    """``vsrbench prepare vid4`` from the shared folder (a no-op when it is prepared); its chatter to stderr."""
    from vsrbench.cli import main

    with contextlib.redirect_stdout(sys.stderr):
        rc = main(["prepare", "vid4", "--source", str(shared / "data" / "vid4"), "--workers",
                   str(min(8, os.cpu_count() or 1)), "--no-progress"])
    if rc != 0:
        raise RuntimeError(f"vsrbench prepare vid4 exited {rc}")


def check_harness(dev, smoke: bool, results: Path) -> dict:
    """ZSM (random weights) on Vid4 twice; the second, warm run's wall time vs its model time."""
    from vsrbench.benchmark.harness import evaluate

    kw = dict(random_weights=True, device=str(dev), results=results, progress=False, temporal=False, force=True)
    if smoke:
        kw.update(crop=(32, 32), limit_clips=1, model_kwargs=SMOKE_KWARGS["zsm"])
    evaluate("zsm", "vid4", **kw)  # warm-up: cuDNN autotuning, LR store made and cached, page cache
    t0 = time.perf_counter()
    rec = evaluate("zsm", "vid4", **kw)
    wall = time.perf_counter() - t0
    rt = rec["runtime"]
    model_s = rt["ms_per_frame"] * rt["frames_timed"] / 1000
    n = rec["n_frames"]
    return {"frames_scored": n, "frames_timed": rt["frames_timed"], "wall_s": wall, "model_s": model_s,
            "overhead_s": wall - model_s, "overhead_ms_per_frame": 1000 * (wall - model_s) / max(n, 1),
            "model_ms_per_frame": rt["ms_per_frame"], "lr_size": rt["lr_size"], "psnr": rec["psnr"],
            "settings": "crop 32x32, 1 clip, reduced ZSM" if smoke else "full Vid4, paper ZSM, temporal metrics off"}


def harness_markdown(h: dict) -> str:
    return "\n".join([
        "| frames scored | model calls' frames | wall s (warm run) | model s | overhead s | overhead ms/frame | "
        "model ms/frame | LR (HxW) | settings |",
        "|--:|--:|--:|--:|--:|--:|--:|---|---|",
        f"| {h['frames_scored']} | {h['frames_timed']} | {_f(h['wall_s'])} | {_f(h['model_s'])} | "
        f"{_f(h['overhead_s'])} | {_f(h['overhead_ms_per_frame'])} | {_f(h['model_ms_per_frame'])} | "
        f"{h['lr_size']} | {h['settings']} |"])


# ------------------------------------------------------------------------------------------------ 3. metrics
def check_metrics(dev, shared: Path, smoke: bool) -> dict:
    """Torch Y-PSNR/SSIM on ``dev`` vs NumPy ``psnr_ssim`` on the CPU, Vid4 BIx4 round trips."""
    import numpy as np
    import torch

    from vsrbench.datasets.frames import list_frames, read_frame
    from vsrbench.degradations import imresize
    from vsrbench.metrics import psnr_ssim
    from vsrbench.metrics.torch_quality import psnr_torch, ssim_torch

    root = shared / "data" / "vid4" / "GT"
    clips = sorted(p for p in root.iterdir() if p.is_dir())
    if smoke:
        clips = clips[:1]
    dp = ds = 0.0
    n = 0
    t_cpu = t_dev = 0.0
    for clip in clips:
        paths = list_frames(clip)[: 3 if smoke else None]
        gts = []
        for p in paths:
            g = read_frame(p)
            g = g[: g.shape[0] // 4 * 4, : g.shape[1] // 4 * 4]
            gts.append(g[:64, :64] if smoke else g)
        srs = [np.clip(np.floor(imresize(imresize(g, 0.25), 4) + 0.5), 0, 255).astype(np.uint8) for g in gts]
        t0 = time.perf_counter()
        cpu = [psnr_ssim(s, g, 0, "y") for s, g in zip(srs, gts)]
        t_cpu += time.perf_counter() - t0
        a = torch.from_numpy(np.stack(srs)).permute(0, 3, 1, 2).to(dev)
        b = torch.from_numpy(np.stack(gts)).permute(0, 3, 1, 2).to(dev)
        _sync(dev)
        t0 = time.perf_counter()
        p_t, s_t = psnr_torch(a, b, 0, "y"), ssim_torch(a, b, 0, "y")
        _sync(dev)
        t_dev += time.perf_counter() - t0
        for (pc, sc), pg, sg in zip(cpu, p_t.cpu().tolist(), s_t.cpu().tolist()):
            dp, ds = max(dp, abs(pc - pg)), max(ds, abs(sc - sg))
        n += len(srs)
    return {"frames": n, "clips": len(clips), "max_abs_psnr_db": dp, "max_abs_ssim": ds,
            "cpu_fps": n / t_cpu if t_cpu else None, "device_fps": n / t_dev if t_dev else None}


def _sync(dev) -> None:
    from vsrbench.devices import synchronize

    synchronize(dev)


def metrics_markdown(m: dict) -> str:
    return "\n".join([
        "| frames (clips) | max abs diff PSNR (dB) | max abs diff SSIM | CPU frames/s (NumPy) | device frames/s (torch) |",
        "|--:|--:|--:|--:|--:|",
        f"| {m['frames']} ({m['clips']}) | {m['max_abs_psnr_db']:.3g} | {m['max_abs_ssim']:.3g} | "
        f"{_f(m['cpu_fps'], '.1f')} | {_f(m['device_fps'], '.1f')} |"])


# ------------------------------------------------------------------------------------------------ 4. torchrun
def check_torchrun(dev, smoke: bool, results: Path, timeout: int) -> dict:
    import torch

    n = torch.cuda.device_count() if dev.type == "cuda" else 1
    model = ["--model", "bicubic"] if smoke else ["--model", "zsm", "--random-weights"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n), "-m", "vsrbench",
           "evaluate", *model, "--suite", "vid4", "--device", "cuda" if dev.type == "cuda" else "cpu",
           "--no-temporal", "--results", str(results), "--force", "--format", "json"]
    if smoke:
        cmd += ["--crop", "32x32", "--limit-clips", "1"]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ})
        rc, err = r.returncode, r.stderr.strip().splitlines()
        out = r.stdout
    except subprocess.TimeoutExpired:
        rc, err, out = None, [f"timed out after {timeout} s"], ""
    except Exception as e:  # noqa: BLE001
        rc, err, out = None, [_err(e)], ""
    wall = time.perf_counter() - t0
    psnr = None
    try:
        dec = json.JSONDecoder()
        text = out.lstrip()
        rec, _ = dec.raw_decode(text)  # the first rank's record
        psnr = rec.get("psnr")
    except Exception:  # noqa: BLE001 - nothing parsable: reported as such
        pass
    tail = next((ln for ln in reversed(err) if ln.strip() and "%|" not in ln), "")
    return {"nproc": n, "rc": rc, "wall_s": wall, "psnr": psnr, "stderr_tail": tail[:300],
            "command": " ".join(cmd[1:]).replace(str(results), "RESULTS")}


def torchrun_markdown(t: dict) -> str:
    ok = "ok" if t["rc"] == 0 else f"failed (exit {t['rc']})"
    return "\n".join([
        "| processes | result | wall s | PSNR | last stderr line |", "|--:|---|--:|--:|---|",
        f"| {t['nproc']} | {ok} | {_f(t['wall_s'])} | {_f(t['psnr'], '.4f')} | "
        f"{t['stderr_tail'].replace('|', '/') or '-'} |", "", f"`python {t['command']}`"])


# ------------------------------------------------------------------------------------------------ main
def run(smoke: bool, shared: Path, home: Path | None, repeats: int, skip_torchrun: bool) -> tuple[str, dict, bool]:
    import torch

    from vsrbench.devices import device_name

    dev = torch.device("cpu") if smoke else torch.device("cuda", torch.cuda.current_device())
    tmp = Path(tempfile.mkdtemp(prefix="vsrbench-gpu-check-"))
    os.environ["VSRBENCH_HOME"] = str(home or tmp / "home")
    name = device_name(dev)
    head = [f"# vsrbench GPU check: {name}" if not smoke else f"# vsrbench GPU check, CPU smoke run: {name}",
            "", f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
                f"{torch.cuda.device_count() if torch.cuda.is_available() else 0} GPU(s); "
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}" + (
                "; tiny sizes (reduced models, LR 16x16, one clip cropped): the code path, not the numbers" if smoke else "")]
    raw: dict = {"device": name, "smoke": smoke}
    parts = ["\n".join(head)]
    ok = True

    def section(title, fn, fmt, key, fatal=True):
        nonlocal ok
        t0 = time.perf_counter()
        try:
            val = fn()
            raw[key] = val
            parts.append(f"## {title}\n\n{fmt(val)}\n\n({time.perf_counter() - t0:.0f} s)")
        except Exception as e:  # noqa: BLE001 - one failed section must not hide the others
            raw[key] = {"error": _err(e)}
            parts.append(f"## {title}\n\nFAILED: {_err(e)}")
            ok = ok and not fatal
        print(f"gpu_check: {title}: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    prepared = {"ok": False}

    def prep():
        prepare_vid4(shared)
        prepared["ok"] = True
        return "vid4 prepared in " + os.environ["VSRBENCH_HOME"]

    lr_note = "LR 16x16" if smoke else "LR 180x320 (320 wide, 180 high) at x4; dksan x16 at 45x80"
    section(f"1. profile: {lr_note}, batch 1, median of {repeats} synchronised runs", lambda: check_profile(
        dev, smoke, repeats), profile_markdown, "profile")
    prof = raw.get("profile")
    if isinstance(prof, list) and any("error" in r for r in prof):
        ok = False
    section("Vid4 for sections 2 and 4 (`vsrbench prepare vid4` from $VSRBENCH_SHARED)", prep, str, "prepare")
    if prepared["ok"]:
        section("2. harness overhead: zsm (random weights) through evaluate on Vid4", lambda: check_harness(
            dev, smoke, tmp / "results"), harness_markdown, "harness")
    section("3. GPU metrics vs CPU (Vid4, Y channel, MATLAB-bicubic x4 round trip)" if not smoke else
            "3. torch metrics vs NumPy on the CPU (smoke)", lambda: check_metrics(dev, shared, smoke),
            metrics_markdown, "metrics")
    if prepared["ok"] and not skip_torchrun:
        section("4. torchrun with the GPUs present", lambda: check_torchrun(
            dev, smoke, tmp / "results-torchrun", 120 if smoke else 150), torchrun_markdown, "torchrun", fatal=False)
    m = raw.get("metrics") or {}
    if "max_abs_psnr_db" in m and not (m["max_abs_psnr_db"] < 1e-6 and m["max_abs_ssim"] < 1e-6):
        parts.append("WARNING: torch and NumPy metrics differ by more than 1e-6")
        ok = False
    return "\n\n".join(parts) + "\n", raw, ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu-smoke", action="store_true", help="run the code path on the CPU with tiny sizes")
    ap.add_argument("--home", type=Path, help="a VSRBENCH_HOME to use (vid4 is prepared there when missing)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per profile row (default 10; smoke 1)")
    ap.add_argument("--skip-torchrun", action="store_true")
    args = ap.parse_args(argv)
    import torch

    shared = Path(os.environ.get("VSRBENCH_SHARED", "../shared")).expanduser().resolve()
    if not (shared / "data" / "vid4" / "GT").is_dir():
        print(f"gpu_check: VSRBENCH_SHARED={shared} has no data/vid4/GT; point it at the shared/ folder", file=sys.stderr)
        return 2
    smoke = args.cpu_smoke or not torch.cuda.is_available()
    if not torch.cuda.is_available():
        print(f"gpu_check: {NO_CUDA}", file=sys.stderr, flush=True)
        print("gpu_check: running the CPU self-check of this script instead (tiny sizes)", file=sys.stderr, flush=True)
    repeats = args.repeats or (1 if smoke else 10)
    text, raw, ok = run(smoke, shared, args.home, repeats, args.skip_torchrun)
    if not torch.cuda.is_available():
        text = f"{NO_CUDA}\n\n" + text
    sys.stdout.write(text)
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "gpu_check.md").write_text(text)
        (Path(out) / "gpu_check.json").write_text(json.dumps(raw, indent=1, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
