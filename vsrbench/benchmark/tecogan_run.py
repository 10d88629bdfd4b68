"""The TecoGAN protocol (``--metrics tecogan``) for ``evaluate`` and ``score``, with the GT side cached.

:func:`vsrbench.metrics.tecogan.score_clip` does the arithmetic; this module adds the LPIPS weights
(:mod:`vsrbench.benchmark.lpips_weights`) and a cache of what depends only on the ground truth:
the cropped GT Farneback flows and the GT-to-GT LPIPS distances of every scored pair, one ``.npz``
per clip under ``$VSRBENCH_HOME/cache/tecogan/<dataset>/``, keyed by the GT frames' content (sha256),
the protocol's settings, the LPIPS weights' fingerprint, the OpenCV and torch versions and
:data:`CACHE_VERSION`. A second model on the same data skips the GT flows. (GT LPIPS features are
recomputed: at Vid4 size they are ~15 MB per frame in float32, larger than the dataset.)
Written to a temporary file and renamed, so a crash never leaves a half cache entry (the temporary
files of a killed writer are removed on the next use); an entry that does not read back, or whose
arrays do not match the HMAC it carries (:func:`vsrbench.hashing.arrays_mac` under the home's
secret: changed after it was written), is recomputed. ``VSRBENCH_TECOGAN_CACHE=off`` disables it (Vid4: ~440 MB).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from vsrbench import hashing
from vsrbench.benchmark.metric_sets import METRIC_SETS, parse_metrics  # noqa: F401 (re-exported)
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import remove_stale_temps, replacing, safe_child

__all__ = ["CACHE_VERSION", "METRIC_SETS", "parse_metrics", "tecogan_clip", "tecogan_summary", "cache_dir"]

CACHE_VERSION = 2  # 2: entries carry the HMAC of their arrays

def cache_dir(dataset: str, home=None) -> Path:
    from vsrbench.home import vsrbench_home

    h = home or vsrbench_home()
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", dataset) or "_"
    return safe_child(Path(h) / "cache" / "tecogan", safe, what="dataset")


def _gt_digest(gt: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for f in gt:
        h.update(repr(f.shape).encode())
        h.update(np.ascontiguousarray(f).tobytes())
    return h.hexdigest()


def _key(gt: list[np.ndarray], fingerprint: str) -> str:
    import cv2
    import torch

    from vsrbench.metrics.tecogan import TECOGAN_SETTINGS

    k = {"v": CACHE_VERSION, "gt": _gt_digest(gt), "settings": TECOGAN_SETTINGS, "lpips": fingerprint,
         "opencv": cv2.__version__, "torch": torch.__version__.split("+")[0]}
    return hashlib.sha256(json.dumps(k, sort_keys=True).encode()).hexdigest()


def _load_side(path: Path, idx: list[int], shape, secret: bytes) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            flows, dist, ind, mac = z["flows"], z["gt_dist"], z["indices"], str(z["mac"][()])
    except Exception:  # noqa: BLE001 - BadZipFile (CRC), OSError, ValueError, KeyError, EOFError ...
        return None
    if list(ind) != idx or flows.dtype != np.float32 or dist.dtype != np.float32 or len(flows) != max(len(idx) - 1, 0):
        return None
    if mac != hashing.arrays_mac(secret, path.name, {"flows": flows, "gt_dist": dist, "indices": ind}):
        from vsrbench.benchmark.results import warn

        warn(f"the TecoGAN GT cache entry {path} does not match its HMAC (changed after it was written); computing it again")
        return None
    return {"indices": idx, "flows": list(flows), "gt_dist": list(dist), "shape": tuple(shape)}


def _save_side(path: Path, side: dict, secret: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path.parent)
        arrays = {"flows": np.asarray(side["flows"], dtype=np.float32).reshape(len(side["flows"]), *side["flows"][0].shape)
                  if side["flows"] else np.zeros((0, 1, 1, 2), np.float32),
                  "gt_dist": np.asarray(side["gt_dist"], dtype=np.float32),
                  "indices": np.asarray(side["indices"], np.int64)}
        with replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, mac=np.array(hashing.arrays_mac(secret, path.name, arrays)), **arrays)
    except OSError:
        pass  # a cache that cannot be written is only slower


def tecogan_clip(sr: list[np.ndarray], gt: list[np.ndarray], *, dataset: str, clip: str, home=None, device=None,
                 use_cache: bool = True, progress: bool = False) -> dict:
    """TecoGAN's metrics of one clip (see :func:`vsrbench.metrics.tecogan.score_clip`), the GT side
    from the cache when present. Returns the clip's means, per-frame and per-pair values, and
    ``cache`` ('hit', 'stored' or 'off')."""
    from vsrbench.benchmark.lpips_weights import load_lpips
    from vsrbench.metrics import tecogan as tg

    if len(gt) - 2 * tg.CUTFR < 2:
        raise VsrbenchError(
            f"clip {clip}: {len(gt)} frames; TecoGAN's protocol drops {tg.CUTFR} at each end and needs 2 more "
            "(use suites that score whole clips)")
    model, info = load_lpips(home=home, device=device, progress=progress)
    idx = tg.scored_frames(len(gt))
    side, state = None, "off"
    path = None
    secret = None
    if use_cache and os.environ.get("VSRBENCH_TECOGAN_CACHE", "on").lower() not in ("off", "0", "no"):
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", clip)
        path = safe_child(cache_dir(dataset, home), f"{safe}-{_key(gt, info['fingerprint'])[:24]}.npz", what="clip")
        secret = hashing.cache_secret(path.parents[2])  # <home>/cache
        if isinstance(secret, str):  # no secret to bind entries with: computed, not kept
            path = None
        else:
            side = _load_side(path, idx, gt[0].shape, secret) if path.is_file() else None
            state = "hit" if side is not None else "stored"
    if side is None:
        side = tg.gt_side(gt, model, device=device)
        if path is not None:
            _save_side(path, side, secret)
    try:
        out = tg.score_clip(sr, gt, model, side=side, device=device)
    except ValueError as e:
        raise VsrbenchError(f"clip {clip}: {e}") from None
    out["psnr"] = None if not math.isfinite(out["psnr"]) else out["psnr"]
    for f in out["frames"]:
        f["psnr"] = None if not math.isfinite(f["psnr"]) else f["psnr"]
    out["cache"] = state
    out["lpips_weights"] = {"source": info["source"], "fingerprint": info["fingerprint"]}
    return out


def tecogan_summary(per_clip: dict[str, dict]) -> dict:
    """Mean over clips of each clip's TecoGAN means (``metrics.py``'s folder average), with the
    definitions, settings and weights."""
    from vsrbench.metrics.tecogan import TECOGAN_DEFINITIONS, TECOGAN_SETTINGS

    out: dict = {"protocol": "tecogan"}
    for k in ("tof", "lpips", "tlp", "psnr"):
        vals = [c[k] for c in per_clip.values() if c.get(k) is not None]
        if vals:
            out[k] = float(np.mean(vals))
    out["n_clips"] = len(per_clip)
    out["n_frames"] = sum(len(c.get("frames", [])) for c in per_clip.values())
    out["settings"] = TECOGAN_SETTINGS
    out["definitions"] = TECOGAN_DEFINITIONS
    weights = [c["lpips_weights"] for c in per_clip.values() if c.get("lpips_weights")]
    if weights:
        out["lpips_weights"] = weights[0]
    return out
