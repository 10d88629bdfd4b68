"""The regression guard: the results' metric table against a committed baseline CSV.

The metric table has one row per (model, weights, suite, settings, clip): ``clip == "(mean)"`` is
the record's mean over clips, the other rows are its clips, so a change that moves one clip names
it. Values are PSNR (dB; ``inf`` for identical frames), SSIM and, where the record has them, the
temporal metrics (tOF, warping error, tPSNR; empty otherwise). :func:`compare` reports every cell
that moved beyond the tolerances and every row that appeared or disappeared.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vsrbench.benchmark.results import settings_key
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import replacing

__all__ = ["KEYS", "MEAN", "RegressReport", "compare", "metric_table", "read_baseline", "write_baseline"]

KEYS = ["model", "weights", "suite", "settings", "clip"]
METRICS = ["psnr", "ssim", "tof", "warping_error", "tpsnr"]
TEMPORAL = ["tof", "warping_error", "tpsnr"]  # optional columns (a baseline without them is read as empty)
MEAN = "(mean)"


def _psnr(v) -> float:
    return math.inf if v is None else float(v)


def _opt(v) -> float:
    try:
        return math.nan if v is None else float(v)
    except (TypeError, ValueError):
        return math.nan


def metric_table(records: list[dict], suites: list[str] | None = None) -> pd.DataFrame:
    """Records -> the metric table (columns KEYS + psnr, ssim), sorted by key."""
    rows = []
    for r in records:
        if suites and r["suite"] not in suites:
            continue
        base = {"model": r["model"], "weights": r.get("weights", "none"), "suite": r["suite"],
                "settings": settings_key(r.get("settings"))}
        t = r.get("temporal") or {}
        rows.append({**base, "clip": MEAN, "psnr": _psnr(r.get("psnr")), "ssim": float(r["ssim"]),
                     **{m: _opt(t.get(m)) for m in TEMPORAL}})
        for clip, c in (r.get("clips") or {}).items():
            rows.append({**base, "clip": clip, "psnr": _psnr(c.get("psnr")), "ssim": float(c["ssim"]),
                         **{m: _opt(c.get(m)) for m in TEMPORAL}})
    df = pd.DataFrame(rows, columns=KEYS + METRICS)
    dup = df.duplicated(KEYS, keep="last")
    if dup.any():
        df = df[~dup]
    return df.sort_values(KEYS, kind="stable").reset_index(drop=True)


def write_baseline(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the table as CSV (10 significant digits: finer than the tightest tolerance, 1e-6 dB on
    PSNR and relative on the small temporal values), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.10g", lineterminator="\n")
    return path


def read_baseline(path: str | os.PathLike) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise VsrbenchError(f"{path}: no baseline file (create it with `vsrbench regress --baseline {path} --update`)")
    df = pd.read_csv(path, dtype={k: str for k in KEYS}, keep_default_na=False)
    for m in TEMPORAL:
        if m not in df.columns:
            df[m] = ""
    missing = [c for c in KEYS + METRICS if c not in df.columns]
    if missing:
        raise VsrbenchError(f"{path}: not a metric-table baseline (missing columns {', '.join(missing)})")
    for m in METRICS:
        df[m] = pd.to_numeric(df[m].replace({"inf": "inf", "": "nan"}), errors="coerce")
    return df[KEYS + METRICS]


@dataclass
class RegressReport:
    moved: pd.DataFrame  # KEYS + metric, baseline, current, delta
    appeared: pd.DataFrame  # KEYS rows in current only
    disappeared: pd.DataFrame  # KEYS rows in baseline only
    tolerance_db: float
    tolerance_ssim: float
    n_compared: int
    tolerance_temporal: float = 1e-4

    @property
    def ok(self) -> bool:
        return self.moved.empty and self.appeared.empty and self.disappeared.empty

    def format(self) -> str:
        lines = []
        if self.ok:
            return (f"regress: OK, {self.n_compared} rows within tolerance "
                    f"({self.tolerance_db} dB PSNR, {self.tolerance_ssim} SSIM, "
                    f"{self.tolerance_temporal} relative on temporal metrics)")
        if not self.moved.empty:
            lines.append(f"{len(self.moved)} cell(s) moved beyond tolerance ({self.tolerance_db} dB PSNR, "
                         f"{self.tolerance_ssim} SSIM):")
            lines.append(_table(self.moved, {"baseline": "{:.6f}", "current": "{:.6f}", "delta": "{:+.6f}"}))
        if not self.appeared.empty:
            lines.append(f"{len(self.appeared)} row(s) appeared (not in the baseline):")
            lines.append(_table(self.appeared[KEYS + ["psnr", "ssim"]], {"psnr": "{:.6f}", "ssim": "{:.6f}"}))
        if not self.disappeared.empty:
            lines.append(f"{len(self.disappeared)} row(s) disappeared (in the baseline, not in the results):")
            lines.append(_table(self.disappeared[KEYS + ["psnr", "ssim"]], {"psnr": "{:.6f}", "ssim": "{:.6f}"}))
        lines.append("regress: FAILED (rerun with --update to accept the new numbers)")
        return "\n".join(lines)


def _table(df: pd.DataFrame, fmts: dict[str, str]) -> str:
    """``df`` as an indented text table (pandas' ``to_markdown``, tabulate's ``simple`` format), the
    finite floats of the columns in ``fmts`` formatted by it."""
    cells = df.copy().astype(object)
    for c in df.columns:
        cells[c] = [fmts[c].format(v) if c in fmts and isinstance(v, float) and math.isfinite(v) else str(v)
                    for v in df[c]]
    text = cells.to_markdown(index=False, tablefmt="simple", disable_numparse=True,
                             colalign=["left"] * len(df.columns))
    return "\n".join(("  " + line).rstrip() for line in text.splitlines())


def _moved(b: float, c: float, tol: float) -> bool:
    if math.isnan(b) and math.isnan(c):
        return False
    if math.isinf(b) or math.isinf(c) or math.isnan(b) or math.isnan(c):
        return b != c
    return abs(c - b) > tol + 1e-12


def compare(current: pd.DataFrame, baseline: pd.DataFrame, tolerance_db: float = 0.01,
            tolerance_ssim: float = 0.0005, tolerance_temporal: float = 1e-4) -> RegressReport:
    """Every cell of ``current`` that differs from ``baseline`` by more than the tolerance (PSNR in
    dB, SSIM absolute, temporal metrics relative to the baseline value), every row only in one of them.
    A metric present on one side and empty on the other has moved."""
    cur = current.set_index(KEYS)
    base = baseline.set_index(KEYS)
    both = cur.index.intersection(base.index)
    moved = []
    tol = {"psnr": tolerance_db, "ssim": tolerance_ssim}
    metrics = [m for m in METRICS if m in cur.columns and m in base.columns]
    for key in both:
        for m in metrics:
            b, c = float(base.at[key, m]), float(cur.at[key, m])
            t = tol.get(m, tolerance_temporal * abs(b) if math.isfinite(b) else 0.0)
            if _moved(b, c, t):
                moved.append({**dict(zip(KEYS, key)), "metric": m, "baseline": b, "current": c,
                              "delta": c - b if math.isfinite(c - b) else math.nan})
    appeared = cur.loc[cur.index.difference(base.index)].reset_index()
    disappeared = base.loc[base.index.difference(cur.index)].reset_index()
    return RegressReport(pd.DataFrame(moved, columns=KEYS + ["metric", "baseline", "current", "delta"]),
                         appeared, disappeared, tolerance_db, tolerance_ssim, len(both), tolerance_temporal)
