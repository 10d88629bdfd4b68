"""A result record: :class:`Record`, the one type ``evaluate`` builds and the one place its schema is
checked (:func:`record_problem`, which reading a stored record, a record a sweep worker returns and
:meth:`Record.to_dict` all use).

Pure: imports nothing from vsrbench.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SCHEMA", "Record", "record_problem"]

SCHEMA = 1


@dataclass
class Record:
    """One evaluation's record (JSON-ready values); :meth:`to_dict` is the stored form, checked."""

    id: str
    model: str
    model_spec: dict
    weights: str
    checkpoint: dict | None
    training: dict | None
    suite: str
    suite_settings: dict
    settings: dict
    code: dict
    lr_source: str
    summary: dict  # psnr, ssim, frame_mean, n_clips, n_frames, n_inf (results.suite_summary)
    missing_clips: list
    temporal: dict
    tecogan: dict | None  # left out of the stored form when None
    runtime: dict
    provenance: dict
    resumed_clips: int
    clips: dict
    official_weights: str | None = None  # official:<model>/<name> when the checkpoint is a released file
    schema: int = SCHEMA
    complete: bool = True

    def to_dict(self) -> dict:
        """The record as stored (the key order of the files), checked by :func:`record_problem`: an
        unsound record is a bug here, raised before anything is written."""
        d = {"schema": self.schema, "id": self.id, "complete": self.complete, "model": self.model,
             "model_spec": self.model_spec, "weights": self.weights, "checkpoint": self.checkpoint,
             "official_weights": self.official_weights, "training": self.training, "suite": self.suite,
             "suite_settings": self.suite_settings,
             "settings": self.settings, "code": self.code, "lr_source": self.lr_source, **self.summary,
             "missing_clips": self.missing_clips, "temporal": self.temporal,
             **({"tecogan": self.tecogan} if self.tecogan is not None else {}),
             "runtime": self.runtime, "provenance": self.provenance, "resumed_clips": self.resumed_clips,
             "clips": self.clips}
        why = record_problem(d)
        if why:
            raise ValueError(f"internal: the record built is not sound ({why})")
        return d


# --------------------------------------------------------------------------------------------- validation
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
