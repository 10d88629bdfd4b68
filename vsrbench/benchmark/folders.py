"""Folder-level upscaling and scoring: ``vsrbench upscale`` and ``vsrbench score`` as Python API.

* :func:`upscale_folder` runs a registered model over ``LR/<clip>/<frames>``, writing
  ``SR/<clip>/<frames>`` (atomically), fed by :mod:`vsrbench.benchmark.feed`: sliding windows with
  ``reflection_circle`` padding for window models, the whole clip for recurrent ones, and for STVSR
  models ``2n - 1`` frames from ``n`` (the GT-based evaluation protocol is in the harness).
* :func:`score_folders` scores ``pred/<clip>`` against ``gt/<clip>`` by the protocol: frames pair
  by natural-sorted order within a clip, clips pair by folder name; per-frame PSNR and SSIM, the
  mean over each clip's frames, then the mean over clips. Infinite PSNR (identical frames) is
  reported per frame and counted, never averaged. Frames are scored by
  :func:`vsrbench.benchmark.scoring.score_frames`, the engine ``evaluate`` scores with; one row per
  frame, evaluate's schema plus the two file labels: ``gt_index``, ``pred``, ``gt``, ``psnr``, ``ssim``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


from vsrbench.benchmark.feed import ModelRunner, super_resolve_sequence
from vsrbench.datasets.frames import (
    atomic_output_dir,
    check_frame_header,
    clip_frame_labels,
    expected_clip_frames,
    iter_clip_frames,
    list_clip_sources,
    list_frames,
    read_frame,
    write_frame,
)
from vsrbench.errors import VsrbenchError
from vsrbench.numeric import check_workers, non_negative_int
from vsrbench.devices import resolve_device
from vsrbench.outputs import ensure_parent, safe_child
from vsrbench.benchmark.results import json_number, suite_summary
from vsrbench.benchmark.scoring import Protocol, score_frames

__all__ = ["upscale_folder", "score_folders"]


# ---------------------------------------------------------------------------------------------
# upscaling


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
    tile: int = 0,
    random_weights: bool = False,
    model_spec: dict | None = None,
) -> dict:
    """Upscale every clip of ``input_dir`` with a registered model into ``output_dir``.

    A model with parameters needs ``checkpoint`` (``random_weights=True``: a smoke run).
    ``model`` may be ``package.module:factory`` (``model_spec``: its interface, see ``vsrbench.models.custom``)."""
    from vsrbench.models import create_model, get_model_info

    info = get_model_info(model, model_spec, scale=scale)
    if scale not in info.spec.scales:
        raise VsrbenchError(
            f"model {model!r} supports scales {', '.join('x%d' % s for s in info.spec.scales)}, not x{scale}"
        )
    ensure_parent(output_dir, "choose another --output")
    net = create_model(info, scale=scale, **(model_kwargs or {}))
    if not checkpoint and not random_weights and any(True for _ in net.parameters()):
        from vsrbench.models.listing import no_weights_message

        raise VsrbenchError(no_weights_message(model))
    if checkpoint:
        from vsrbench.models import load_checkpoint  # added by the model zoo

        load_checkpoint(net, checkpoint)
    dev = resolve_device(device)
    net = net.to(dev).eval()
    runner = ModelRunner(net, scale, dev, dtype, tile=tile)
    input_dir = Path(input_dir)
    sources = list_clip_sources(input_dir)  # clip folders and/or video files
    clips = list(sources)
    _check_headers(sources.values())  # every frame's declared size, before any output exists
    total = sum(_frames_out(info.spec, expected_clip_frames(sources[c])) for c in clips)
    n_out = 0
    with atomic_output_dir(output_dir, overwrite=overwrite) as tmp, \
            _frame_bar(total, f"upscale {model} x{scale}", progress) as bar:
        for clip in clips:
            bar.set_postfix_str(clip, refresh=False)
            n_out += _upscale_clip(runner, sources[clip], safe_child(tmp, clip, what="clip"), bar)
    return {"model": model, "scale": scale, "clips": len(clips), "frames": n_out, "output": str(output_dir), "device": str(dev)}


def _frames_out(spec, n_in: int) -> int:
    """Frames a model writes for a clip of ``n_in`` LR frames: ``2n - 1`` for STVSR, else ``n``."""
    return 2 * n_in - 1 if spec.task == "stvsr" and n_in > 0 else n_in


def _frame_bar(total: int, desc: str, progress: bool):
    """A tqdm bar over frames on stderr, with the rate and time left (``total`` 0: unknown, no ETA)."""
    import sys

    from tqdm import tqdm

    return tqdm(total=total or None, desc=desc, unit="frame", disable=not progress, file=sys.stderr,
                dynamic_ncols=True)


def _upscale_clip(runner: ModelRunner, src: Path, out_dir: Path, bar) -> int:
    """Upscale one clip (a frame folder or video file) into the new folder ``out_dir``, advancing
    ``bar`` as the model finishes each frame; returns the frames written."""
    paths = list_frames(src) if src.is_dir() else []
    frames = [read_frame(p) for p in paths] if paths else list(iter_clip_frames(src))
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise VsrbenchError(f"{src}: frames of different sizes {sorted(shapes)}")
    sr = super_resolve_sequence(runner, frames, on_frame=lambda t, f: bar.update(1))
    out_dir.mkdir()
    names = [p.stem for p in paths] if paths and len(sr) == len(paths) else [f"{i:08d}" for i in range(len(sr))]
    for name, f in zip(names, sr):
        write_frame(safe_child(out_dir, f"{name}.png", what="frame"), f)
    return len(sr)


# ---------------------------------------------------------------------------------------------
# scoring


def _check_headers(sources) -> None:
    """The declared size of every frame file of these clip folders against the pixel limit (one line
    naming the first frame over it; video files are checked by their own reader)."""
    for src in sources:
        for p in list_frames(src) if Path(src).is_dir() else []:
            check_frame_header(p)


def _score_clip(pred_dir: Path, gt_dir: Path, protocol: Protocol, on_scored=None) -> list[dict]:
    """Per-frame rows of one clip (:func:`~vsrbench.benchmark.scoring.score_frames`'s, with the
    ``pred`` and ``gt`` frame labels); each side a folder of frames or a video file. ``on_scored(n)``:
    ``n`` more frames scored (a progress bar)."""
    preds, gts = clip_frame_labels(pred_dir), clip_frame_labels(gt_dir)
    if len(preds) != len(gts):
        raise VsrbenchError(
            f"{pred_dir}: {len(preds)} frames, but the ground truth {gt_dir} has {len(gts)}; "
            f"{'missing' if len(preds) < len(gts) else 'extra'} frame(s): outputs must have one frame per GT frame"
        )

    def labels(i: int) -> tuple[str, str]:
        return (str(pred_dir / preds[i]) if pred_dir.is_dir() else f"{pred_dir} frame {i}",
                str(gt_dir / gts[i]) if gt_dir.is_dir() else f"{gt_dir} frame {i}")

    rows = score_frames(iter_clip_frames(pred_dir), iter_clip_frames(gt_dir), protocol, labels=labels,
                        hint=" (pass --modcrop SCALE if the GT was modcropped before degrading)", on_scored=on_scored)
    return [{"gt_index": r["gt_index"], "pred": preds[r["gt_index"]], "gt": gts[r["gt_index"]],
             "psnr": r["psnr"], "ssim": r["ssim"]} for r in rows]


def _tecogan_folder(pred_dir: Path, gt_dir: Path, modcrop: int, clip: str) -> dict:
    from vsrbench.benchmark.tecogan_run import tecogan_clip

    sr = list(iter_clip_frames(pred_dir))
    gt = [Protocol(modcrop=modcrop).crop_gt(g) for g in iter_clip_frames(gt_dir)]
    return tecogan_clip(sr, gt, dataset="folders", clip=clip)


def _clip_pairs(pred: Path, gt: Path) -> tuple[dict, dict]:
    """``({clip: pred source}, {clip: gt source})``: clip folders and video files of two folders
    (paired by name below), or -- when either side is one video file -- one clip each side (a video
    or a folder of frames), named by the GT."""
    if not (pred.is_file() or gt.is_file()):
        return list_clip_sources(pred), list_clip_sources(gt)
    ps, gs = list_clip_sources(pred, single_ok=True), list_clip_sources(gt, single_ok=True)
    for side, d in (("--pred", ps), ("--gt", gs)):
        if len(d) != 1:
            raise VsrbenchError(
                f"{side} {pred if side == '--pred' else gt}: holds {len(d)} clips, but the other side is one video "
                "file; score one clip against one clip (a video file or a folder of frames) or two folders of clips"
            )
    name = next(iter(gs))
    return {name: next(iter(ps.values()))}, gs


def _score_clips(pred_src: dict, gt_src: dict, clips: list[str], protocol: Protocol, workers: int, bar) -> list:
    """Each clip's rows (:func:`_score_clip`), in order; ``bar`` advances per frame, or per clip
    from ``workers`` processes."""
    if workers <= 1:
        return [_score_clip(pred_src[c], gt_src[c], protocol, on_scored=bar.update) for c in clips]
    from joblib import Parallel, delayed

    per_clip = []
    for rows in Parallel(n_jobs=workers, return_as="generator")(
        delayed(_score_clip)(pred_src[c], gt_src[c], protocol) for c in clips
    ):
        per_clip.append(rows)
        bar.update(len(rows))
    return per_clip


def score_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    *,
    crop_border: int = 0,
    channel: str = "y",
    modcrop: int = 0,
    workers: int = 1,
    metrics="default",
    progress: bool = True,
) -> dict:
    """Score ``pred_dir`` against ``gt_dir``; returns a JSON-ready dict.

    Top level: ``psnr``, ``ssim`` (mean over clips of per-clip means), ``frame_mean`` (mean over all
    frames, what frame-averaging toolboxes report), counts, settings, and ``clips`` with each clip's
    means and per-frame values. Infinite PSNRs are ``null`` in the frames, counted in ``n_inf`` and
    left out of every mean. ``metrics`` containing ``tecogan`` adds TecoGAN's protocol (tOF, LPIPS,
    tLP; ``tecogan`` per clip and at the top level; see :mod:`vsrbench.benchmark.tecogan_run`).
    ``progress``: a bar over frames on stderr, advanced as each frame is scored (per clip with ``workers > 1``).
    """
    from vsrbench.benchmark.tecogan_run import parse_metrics

    metric_sets = parse_metrics(metrics)
    crop_border, modcrop = non_negative_int(crop_border, "crop_border"), non_negative_int(modcrop, "modcrop")
    workers = check_workers(workers, "workers")
    protocol = Protocol(crop_border=crop_border, channel=channel, modcrop=modcrop)
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    pred_src, gt_src = _clip_pairs(pred_dir, gt_dir)
    pc, gc = list(pred_src), list(gt_src)
    only_pred, only_gt = sorted(set(pc) - set(gc)), sorted(set(gc) - set(pc))
    if only_pred or only_gt:
        parts = []
        if only_gt:
            parts.append(f"in {gt_dir} only: {', '.join(only_gt)}")
        if only_pred:
            parts.append(f"in {pred_dir} only: {', '.join(only_pred)}")
        raise VsrbenchError("clips do not pair by name (" + "; ".join(parts) + "); score matching folders")
    _check_headers([*pred_src.values(), *gt_src.values()])  # a bomb is refused before the bar starts
    total = sum(expected_clip_frames(gt_src[c]) for c in gc)
    with _frame_bar(total, "score", progress) as bar:
        per_clip = _score_clips(pred_src, gt_src, gc, protocol, workers, bar)
    summary, ps, ss = suite_summary(
        {c: [r["psnr"] for r in rows] for c, rows in zip(gc, per_clip)},
        {c: [r["ssim"] for r in rows] for c, rows in zip(gc, per_clip)},
    )
    clips = {}
    for c, rows in zip(gc, per_clip):
        clips[c] = {
            "psnr": json_number(ps["clips"][c]),
            "ssim": ss["clips"][c],
            "n_frames": len(rows),
            "n_inf": sum(1 for r in rows if math.isinf(r["psnr"])),
            "frames": [{**r, "psnr": json_number(r["psnr"])} for r in rows],
        }
    extra = {}
    if "tecogan" in metric_sets:
        from vsrbench.benchmark.tecogan_run import tecogan_summary

        tg = {}
        with _frame_bar(total, "score tOF/LPIPS/tLP", progress) as bar:
            for c, rows in zip(gc, per_clip):
                tg[c] = _tecogan_folder(pred_src[c], gt_src[c], modcrop, clip=c)
                bar.update(len(rows))
        for c in gc:
            clips[c]["tecogan"] = tg[c]
        extra["tecogan"] = tecogan_summary(tg)
    return {
        **summary,
        **extra,
        "channel": channel,
        "crop_border": crop_border,
        "aggregation": "mean over clips of the mean over each clip's frames; infinite PSNR excluded",
        "pred": str(pred_dir),
        "gt": str(gt_dir),
        "clips": clips,
    }
