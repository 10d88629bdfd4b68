"""Folder-level upscaling and scoring: ``vsrbench upscale`` and ``vsrbench score`` as Python API.

* :func:`upscale_folder` runs a registered model over ``LR/<clip>/<frames>``, writing
  ``SR/<clip>/<frames>`` (atomically). Window handling is the simple form: sliding windows with
  ``reflection_circle`` padding for window models, the whole clip for recurrent ones, and for STVSR
  models consecutive windows sharing their end frames (the full protocol is in the harness).
* :func:`score_folders` scores ``pred/<clip>`` against ``gt/<clip>`` by the protocol: frames pair
  by natural-sorted order within a clip, clips pair by folder name; per-frame PSNR and SSIM, the
  mean over each clip's frames, then the mean over clips. Infinite PSNR (identical frames) is
  reported per frame and counted, never averaged.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from vsrbench.benchmark.windows import window_indices
from vsrbench.colour import rgb_to_ycbcr, ycbcr_to_rgb
from vsrbench.datasets.frames import atomic_output_dir, list_clips, list_frames, read_frame, write_frame
from vsrbench.degradations.imresize import imresize
from vsrbench.errors import VsrbenchError
from vsrbench.metrics import aggregate, psnr, ssim, to_uint8

__all__ = ["upscale_folder", "score_folders", "run_model_on_clip", "resolve_device"]


# ---------------------------------------------------------------------------------------------
# upscaling


def resolve_device(device: str | None = "auto"):
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VsrbenchError("--device cuda was asked for but torch sees no CUDA device; use --device cpu")
    return dev


def _to_model_input(frames: list[np.ndarray], spec, device, dtype):
    """uint8 RGB frames -> ``1 x T x C x H x W`` tensor in the model's range (float64 for 0..255 models)."""
    import torch

    arr = np.stack(frames).astype(np.float64)  # T x H x W x 3
    if spec.colour == "y":
        arr = rgb_to_ycbcr(arr)[..., :1]
    lo, hi = spec.input_range
    if hi <= 1.0:
        arr = arr / 255.0
    t = torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))[None]
    t = t.to(device=device, dtype=torch.float64 if hi > 1.0 else dtype)
    return t


def _pad_to_multiple(t, multiple: int):
    import torch.nn.functional as F

    h, w = t.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        b, n, c = t.shape[:3]
        t = F.pad(t.reshape(b * n, c, h, w), (0, pw, 0, ph), mode="replicate").reshape(b, n, c, h + ph, w + pw)
    return t


def _from_model_output(out, spec, lr_frames_for_chroma: list[np.ndarray], scale: int, h: int, w: int) -> list[np.ndarray]:
    """``1 x T x C x sH' x sW'`` output -> uint8 RGB frames (cropped back, Y merged with bicubic CbCr)."""
    import torch

    if not torch.isfinite(out).all():
        bad = (~torch.isfinite(out)).flatten(2).any(dim=2).any(dim=0).nonzero().flatten().tolist()
        raise VsrbenchError(f"the model produced NaN/inf values in output frame(s) {bad}")
    arr = out[0, :, :, : h * scale, : w * scale].detach().to("cpu", torch.float64).numpy()
    arr = arr.transpose(0, 2, 3, 1)
    if spec.input_range[1] <= 1.0:
        arr = arr * 255.0
    if spec.colour == "y":
        res = []
        for y, lr in zip(arr, lr_frames_for_chroma):
            ycc = imresize(rgb_to_ycbcr(lr), scale)
            ycc[..., 0] = y[..., 0]
            res.append(to_uint8(ycbcr_to_rgb(ycc)))
        return res
    return [to_uint8(a) for a in arr]


def run_model_on_clip(model, frames: list[np.ndarray], scale: int, device=None, dtype=None) -> list[np.ndarray]:
    """Run a registered model over one clip of uint8 RGB LR frames; returns uint8 RGB SR frames.

    VSR window models: one output per input frame (``reflection_circle`` padding at the ends);
    recurrent models: the whole clip at once; STVSR models: ``2n - 1`` output frames from ``n``
    inputs, windows of ``frames_in`` inputs sharing their end frames (the last one end-aligned).
    """
    import torch

    spec = model.spec
    device = device or torch.device("cpu")
    dtype = dtype or torch.float32
    n = len(frames)
    h, w = frames[0].shape[:2]
    autocast = torch.autocast(device.type, dtype=dtype) if dtype in (torch.float16, torch.bfloat16) else None
    float_dtype = torch.float32 if autocast else dtype

    def run(sel: list[np.ndarray]):
        x = _pad_to_multiple(_to_model_input(sel, spec, device, float_dtype), spec.spatial_multiple)
        with torch.no_grad():
            if autocast:
                with autocast:
                    return model(x).float()
            return model(x)

    outs: list[np.ndarray | None] = []
    if spec.task == "stvsr":
        k = int(spec.frames_in)
        results: dict[int, np.ndarray] = {}
        starts = list(range(0, max(n - k, 0) + 1, k - 1)) if n >= k else [0]
        if n >= k and starts[-1] + k < n:
            starts.append(n - k)
        for s in starts:
            sel = frames[s : s + k]
            y = run(sel)
            chroma = [sel[j // 2] if j % 2 == 0 else sel[j // 2] for j in range(y.shape[1])]
            for j, f in enumerate(_from_model_output(y, spec, chroma, scale, h, w)):
                results.setdefault(2 * s + j, f)
        return [results[i] for i in sorted(results)]
    if spec.frames_in == "recurrent":
        return _from_model_output(run(frames), spec, frames, scale, h, w)
    win = int(spec.frames_in)
    for t in range(n):
        idx = [t] if win == 1 else window_indices(t, n, win, "reflection_circle")
        y = run([frames[i] for i in idx])
        centre = y[:, y.shape[1] // 2 : y.shape[1] // 2 + 1]
        outs.extend(_from_model_output(centre, spec, [frames[t]], scale, h, w))
    return outs


def upscale_folder(
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    model: str = "bicubic",
    scale: int = 4,
    *,
    checkpoint: str | None = None,
    device: str | None = "auto",
    dtype: str = "fp32",
    overwrite: bool = False,
    progress: bool = True,
    model_kwargs: dict | None = None,
) -> dict:
    """Upscale every clip of ``input_dir`` with a registered model into ``output_dir``."""
    import torch
    from tqdm import tqdm

    from vsrbench.models import create_model, get_model_info

    info = get_model_info(model)
    if scale not in info.spec.scales:
        raise VsrbenchError(
            f"model {model!r} supports scales {', '.join('x%d' % s for s in info.spec.scales)}, not x{scale}"
        )
    net = create_model(model, scale=scale, **(model_kwargs or {}))
    if checkpoint:
        from vsrbench.models import load_checkpoint  # added by the model zoo

        load_checkpoint(net, checkpoint)
    dev = resolve_device(device)
    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    net = net.to(dev).eval()
    input_dir = Path(input_dir)
    clips = list_clips(input_dir)
    n_out = 0
    with atomic_output_dir(output_dir, overwrite=overwrite) as tmp:
        for clip in tqdm(clips, desc=f"upscale {model} x{scale}", unit="clip", disable=not progress):
            paths = list_frames(input_dir / clip)
            frames = [read_frame(p) for p in paths]
            shapes = {f.shape for f in frames}
            if len(shapes) > 1:
                raise VsrbenchError(f"{input_dir / clip}: frames of different sizes {sorted(shapes)}")
            sr = run_model_on_clip(net, frames, scale, dev, torch_dtype)
            (tmp / clip).mkdir()
            names = [p.stem for p in paths] if len(sr) == len(paths) else [f"{i:08d}" for i in range(len(sr))]
            for name, f in zip(names, sr):
                write_frame(tmp / clip / f"{name}.png", f)
            n_out += len(sr)
    return {"model": model, "scale": scale, "clips": len(clips), "frames": n_out, "output": str(output_dir), "device": str(dev)}


# ---------------------------------------------------------------------------------------------
# scoring


def _score_clip(pred_dir: Path, gt_dir: Path, crop_border: int, channel: str, modcrop: int) -> list[dict]:
    preds, gts = list_frames(pred_dir), list_frames(gt_dir)
    if len(preds) != len(gts):
        raise VsrbenchError(
            f"{pred_dir}: {len(preds)} frames, but the ground truth {gt_dir} has {len(gts)}; "
            f"{'missing' if len(preds) < len(gts) else 'extra'} frame(s): outputs must have one frame per GT frame"
        )
    rows = []
    for i, (p, g) in enumerate(zip(preds, gts)):
        a, b = read_frame(p), read_frame(g)
        if modcrop > 1:
            b = b[: b.shape[0] - b.shape[0] % modcrop, : b.shape[1] - b.shape[1] % modcrop]
        if a.shape != b.shape:
            hint = " (pass --modcrop SCALE if the GT was modcropped before degrading)" if modcrop <= 1 else ""
            raise VsrbenchError(
                f"{p}: shape {a.shape[1]}x{a.shape[0]} does not match ground truth {g} "
                f"{b.shape[1]}x{b.shape[0]}{hint}"
            )
        rows.append(
            {
                "index": i,
                "pred": p.name,
                "gt": g.name,
                "psnr": psnr(a, b, crop_border, channel),
                "ssim": ssim(a, b, crop_border, channel),
            }
        )
    return rows


def _json_number(v: float):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def score_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    *,
    crop_border: int = 0,
    channel: str = "y",
    modcrop: int = 0,
    workers: int = 1,
) -> dict:
    """Score ``pred_dir`` against ``gt_dir``; returns a JSON-ready dict.

    Top level: ``psnr``, ``ssim`` (mean over clips of per-clip means), ``frame_mean`` (mean over all
    frames, what frame-averaging toolboxes report), counts, settings, and ``clips`` with each clip's
    means and per-frame values. Infinite PSNRs are ``null`` in the frames, counted in ``n_inf`` and
    left out of every mean.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    pc, gc = list_clips(pred_dir), list_clips(gt_dir)
    only_pred, only_gt = sorted(set(pc) - set(gc)), sorted(set(gc) - set(pc))
    if only_pred or only_gt:
        parts = []
        if only_gt:
            parts.append(f"in {gt_dir} only: {', '.join(only_gt)}")
        if only_pred:
            parts.append(f"in {pred_dir} only: {', '.join(only_pred)}")
        raise VsrbenchError("clips do not pair by name (" + "; ".join(parts) + "); score matching folders")
    if workers > 1:
        from joblib import Parallel, delayed

        per_clip = Parallel(n_jobs=workers)(
            delayed(_score_clip)(pred_dir / c, gt_dir / c, crop_border, channel, modcrop) for c in gc
        )
    else:
        per_clip = [_score_clip(pred_dir / c, gt_dir / c, crop_border, channel, modcrop) for c in gc]
    ps = aggregate({c: [r["psnr"] for r in rows] for c, rows in zip(gc, per_clip)})
    ss = aggregate({c: [r["ssim"] for r in rows] for c, rows in zip(gc, per_clip)})
    clips = {}
    for c, rows in zip(gc, per_clip):
        clips[c] = {
            "psnr": _json_number(ps["clips"][c]),
            "ssim": ss["clips"][c],
            "n_frames": len(rows),
            "n_inf": sum(1 for r in rows if math.isinf(r["psnr"])),
            "frames": [{**r, "psnr": _json_number(r["psnr"])} for r in rows],
        }
    return {
        "psnr": _json_number(ps["mean"]),
        "ssim": ss["mean"],
        "frame_mean": {"psnr": _json_number(ps["frame_mean"]), "ssim": ss["frame_mean"]},
        "n_clips": len(gc),
        "n_frames": ps["n_frames"],
        "n_inf": ps["n_inf"],
        "channel": channel,
        "crop_border": crop_border,
        "aggregation": "mean over clips of the mean over each clip's frames; infinite PSNR excluded",
        "pred": str(pred_dir),
        "gt": str(gt_dir),
        "clips": clips,
    }
