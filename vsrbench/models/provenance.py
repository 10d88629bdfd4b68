"""Where a checkpoint came from: the ``run.json`` that ``vsrbench train`` writes beside ``model.pth``.

``read_run_provenance(path)`` reads ``run.json`` next to the checkpoint file and returns the run's
provenance (recipe, iterations, data, the SHA-256 of ``run.json`` itself) **only** when that run
recorded exactly this file (its ``model_sha256`` equals the checkpoint's SHA-256). Anything else (no
``run.json``, another checkpoint's, an older or damaged one, a different model) gives ``None``: the
weights are then an ordinary checkpoint, never mislabelled as trained by vsrbench.

:func:`trained_label` is the text boards show for such weights:
``"trained by vsrbench (quick, 300 iterations)"``.

Reads one small JSON file; no code is executed and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from vsrbench.hashing import sha256_file

__all__ = ["read_run_provenance", "trained_label", "RUN_JSON", "MAX_RUN_JSON_BYTES"]

RUN_JSON = "run.json"
#: a run.json is a few KiB; a larger file is not one vsrbench wrote (and is not read into memory)
MAX_RUN_JSON_BYTES = 1 << 20
_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,40}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


def _count(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**12 else None


def read_run_provenance(checkpoint: str | os.PathLike, checkpoint_sha256: str | None = None,
                        model: str | None = None) -> dict | None:
    """The provenance of a checkpoint trained by ``vsrbench train``, or None.

    Args:
        checkpoint: the weights file (e.g. ``RUN/model.pth``); ``run.json`` is looked for beside it.
        checkpoint_sha256: its SHA-256 when the caller has it (else computed here).
        model: the registered model being scored; a run of another model gives None.

    Returns:
        ``{"trained_by": "vsrbench", "model", "recipe", "iterations", "target_iterations", "status",
        "seed", "processes", "data", "vsrbench_version", "run_json", "run_json_sha256"}`` when
        ``run.json``'s ``model_sha256`` is the checkpoint's, else None.
    """
    ck = Path(checkpoint)
    run = ck.parent / RUN_JSON
    try:
        if not run.is_file() or run.stat().st_size > MAX_RUN_JSON_BYTES:
            return None
        raw = run.read_bytes()[:MAX_RUN_JSON_BYTES + 1]
        info = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if len(raw) > MAX_RUN_JSON_BYTES or not isinstance(info, dict):
        return None
    recorded = info.get("model_sha256")
    if not isinstance(recorded, str) or not _SHA.match(recorded):
        return None
    try:
        sha = checkpoint_sha256 or sha256_file(ck)
    except OSError:
        return None
    if recorded != sha:
        return None
    recipe = info.get("recipe")
    recipe_name = recipe.get("name") if isinstance(recipe, dict) else None
    run_model = info.get("model")
    iterations = _count(info.get("iterations"))
    fmt = info.get("format")
    if not (isinstance(fmt, str) and fmt.startswith("vsrbench-train/") and isinstance(recipe_name, str)
            and _NAME.match(recipe_name) and isinstance(run_model, str) and _NAME.match(run_model)
            and iterations is not None):
        return None
    if model is not None and run_model != model:
        return None
    data = info.get("data") if isinstance(info.get("data"), dict) else None
    status = info.get("status")
    version = info.get("vsrbench_version")
    return {
        "trained_by": "vsrbench",
        "model": run_model,
        "recipe": recipe_name,
        "iterations": iterations,
        "target_iterations": _count(info.get("target_iterations")),
        "status": status if isinstance(status, str) and _NAME.match(status) else None,
        "seed": _count(info.get("seed")),
        "processes": _count(info.get("processes")) or 1,
        "data": data,
        "vsrbench_version": version if isinstance(version, str) and len(version) <= 40 else None,
        "run_json": str(run),
        "run_json_sha256": hashlib.sha256(raw).hexdigest(),
    }


def trained_label(training: dict | None) -> str | None:
    """``"trained by vsrbench (RECIPE, N iterations)"`` for a record's ``training`` block, else None."""
    if not isinstance(training, dict) or training.get("trained_by") != "vsrbench":
        return None
    recipe, n = training.get("recipe"), _count(training.get("iterations"))
    if not isinstance(recipe, str) or not _NAME.match(recipe) or n is None:
        return None
    return f"trained by vsrbench ({recipe}, {n} iteration{'s' if n != 1 else ''})"
