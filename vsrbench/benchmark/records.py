"""Schema checks of what the results store holds: result records (``<suite>/<model>-<id>.json``)
and journal lines (``*.partial.jsonl``).

Pure functions: each returns ``None`` for a sound object, else one short reason in words. The
readers (:func:`vsrbench.benchmark.harness.load_results`, ``evaluate``) skip or re-score what fails,
and say so naming the file; a damaged file never takes the whole board down.
"""

from __future__ import annotations

import math
import sys

__all__ = ["record_problem", "journal_entry_problem", "warn"]


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _num_or_null(v) -> bool:
    return v is None or _is_num(v)


def _float_or_null(v) -> bool:
    """Temporal metrics and timings: any float (NaN where undefined) or null."""
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _metric_problem(where: str, d: dict, keys=("psnr", "ssim")) -> str | None:
    for k in keys:
        if k not in d:
            return f"{where} has no {k!r}"
        ok = _num_or_null(d[k]) if k in ("psnr", "tpsnr") else _is_num(d[k])
        if not ok:
            return f"{where} {k!r} is {d[k]!r}, not a finite number" + (" or null" if k in ("psnr", "tpsnr") else "")
    for k in ("tof", "warping_error", "tpsnr"):
        if k in d and k not in keys and not _float_or_null(d[k]):
            return f"{where} {k!r} is {d[k]!r}, not a number"
    return None


def record_problem(rec) -> str | None:
    """Why ``rec`` (a parsed result file) is not a complete, well-formed result record, or None."""
    if not isinstance(rec, dict):
        return f"holds a JSON {type(rec).__name__}, not a result record (an object)"
    if rec.get("complete") is not True:
        return "not a complete vsrbench result record (no \"complete\": true)"
    for k in ("model", "suite", "weights"):
        if not isinstance(rec.get(k), str) or not rec.get(k):
            return f"{k!r} is {rec.get(k)!r}, not a non-empty string"
    p = _metric_problem("the record", rec)
    if p:
        return p
    for k in ("n_clips", "n_frames"):
        if k in rec and not _is_int(rec[k]):
            return f"{k!r} is {rec[k]!r}, not a count"
    for k in ("settings", "suite_settings", "temporal", "runtime", "provenance"):
        if rec.get(k) is not None and not isinstance(rec[k], dict):
            return f"{k!r} is a {type(rec[k]).__name__}, not an object"
    s = rec.get("settings") or {}
    crop = s.get("crop")
    if crop is not None and not (isinstance(crop, list) and len(crop) == 2 and all(_is_int(v) for v in crop)):
        return f"settings 'crop' is {crop!r}, not [height, width]"
    if s.get("limit_clips") is not None and not _is_int(s["limit_clips"]):
        return f"settings 'limit_clips' is {s['limit_clips']!r}, not a count"
    for k, v in (rec.get("temporal") or {}).items():
        if k != "definitions" and not _float_or_null(v):
            return f"temporal {k!r} is {v!r}, not a number"
    rt = rec.get("runtime") or {}
    for k in ("ms_per_frame", "fps"):
        if not _float_or_null(rt.get(k)):
            return f"runtime {k!r} is {rt.get(k)!r}, not a number"
    if rt.get("params") is not None and not _is_int(rt["params"]):
        return f"runtime 'params' is {rt['params']!r}, not a count"
    clips = rec.get("clips")
    if not isinstance(clips, dict):
        return f"'clips' is {type(clips).__name__}, not an object of per-clip results"
    for name, c in clips.items():
        if not isinstance(c, dict):
            return f"clip {name!r} is a {type(c).__name__}, not an object"
        p = _metric_problem(f"clip {name!r}", c)
        if p:
            return p
    return None


def journal_entry_problem(entry) -> str | None:
    """Why a parsed ``*.partial.jsonl`` line is not one scored clip, or None."""
    if not isinstance(entry, dict):
        return f"a JSON {type(entry).__name__}, not a scored clip"
    if not isinstance(entry.get("clip"), str):
        return "no clip name"
    frames = entry.get("frames")
    if not isinstance(frames, list) or not frames:
        return "no per-frame results"
    for f in frames:
        if not isinstance(f, dict) or not _num_or_null(f.get("psnr")) or not _is_num(f.get("ssim")):
            return "a frame without a numeric psnr / ssim"
    if not _is_int(entry.get("n_frames")) or not _is_int(entry.get("model_frames")):
        return "no frame counts"
    if not _is_num(entry.get("model_seconds")) or entry["model_seconds"] < 0:
        return "no model time"
    if not isinstance(entry.get("lr_size"), str):
        return "no LR size"
    for k in ("tof", "warping_error", "tpsnr"):
        if k in entry and not _float_or_null(entry[k]):
            return f"{k!r} is not a number"
    return None


def warn(message: str) -> None:
    """One warning line on stderr (the results store's readers go on after it)."""
    print(f"vsrbench: warning: {message}", file=sys.stderr, flush=True)
