"""Plots (matplotlib, Agg backend): PSNR vs runtime per suite (as in the LCVSR paper's figure),
per-clip PSNR bars, and temporal-profile comparisons. Each returns a Figure; :func:`save` writes it
as PNG and/or SVG; :func:`png_bytes` gives PNG bytes for the HTML page."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vsrbench.leaderboard.boards import records_frame
from vsrbench.outputs import ensure_dir, replacing, safe_child, writing

__all__ = ["make_plots", "per_clip_bars", "png_bytes", "psnr_vs_runtime", "save", "temporal_profiles"]


def _text(s) -> str:
    """``s`` as literal text for matplotlib: a ``$`` would start mathtext (a model or clip named
    ``a$b$`` is drawn wrong, ``$\\x$`` crashes the plot); ``\\$`` is drawn as ``$``."""
    return str(s).replace("$", r"\$")


def _label(r) -> str:
    s = r["model"]
    if r.get("settings") and r["settings"] != "full":
        s += f" [{r['settings']}]"
    return _text(s)


def psnr_vs_runtime(records: list[dict], suite: str, reported: pd.DataFrame | None = None):
    """Scatter of PSNR against ms/frame (log x) for the suite's full-run measured records; reported rows
    of the same suite that state a runtime are hollow markers labelled '(reported)'. Smoke checks
    (random weights, a crop or a clip limit) are left off these axes; the figure says how many."""
    df = records_frame(records)
    df = df[(df["suite"] == suite) & df["ms_per_frame"].notna() & np.isfinite(df["psnr"])]
    n_smoke = int((df["kind"] == "smoke").sum())
    df = df[df["kind"] == "measured"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if n_smoke:
        fig.text(0.01, 0.01, f"{n_smoke} smoke check(s) (random weights / crop / clip limit) left out", fontsize=7,
                 color="grey")
    for _, r in df.iterrows():
        ax.scatter(r["ms_per_frame"], r["psnr"], s=40, zorder=3)
        ax.annotate(_label(r), (r["ms_per_frame"], r["psnr"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if reported is not None and not reported.empty:
        rep = reported[(reported["suite"] == suite) & reported["ms_per_frame"].notna() & reported["psnr"].notna()]
        for _, r in rep.iterrows():
            ax.scatter(r["ms_per_frame"], r["psnr"], s=40, facecolors="none", edgecolors="grey", zorder=2)
            ax.annotate(_text(f"{r['model']} (reported)"), (r["ms_per_frame"], r["psnr"]), textcoords="offset points",
                        xytext=(4, -10), fontsize=7, color="grey")
    ax.set_xscale("log")
    readable_log_ticks(ax.xaxis)
    ax.set_xlabel("runtime (ms / frame, log scale)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(_text(f"PSNR vs runtime: {suite}"))
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def _plain(v: float, _pos=None) -> str:
    v = round(float(v), 9)
    return f"{int(v):,}" if v.is_integer() else f"{v:,.6g}"


def readable_log_ticks(axis, max_ticks: int = 7) -> None:
    """Plain-number ticks for a log axis ('20', '50', '100' instead of '2x10^1 3x10^1 4x10^1' minor
    labels that overlap): 1-2-5 (or 1-2-3-5-7 over a short range, or powers of ten over a long one)
    mantissas inside the axis limits, no minor tick labels. Recomputed whenever the limits change."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    def update(*_):
        lo, hi = sorted(axis.axes.get_xlim() if axis.axis_name == "x" else axis.axes.get_ylim())
        if not (lo > 0 and np.isfinite(hi)):
            return
        decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
        chosen = None
        for mantissas in ((1, 2, 3, 5, 7), (1, 2, 5), (1, 3), (1,)):
            ticks = [m * 10.0**d for d in decades for m in mantissas if lo <= m * 10.0**d <= hi]
            if chosen is None or len(ticks) <= max_ticks:
                chosen = ticks
            if len(ticks) <= max_ticks:
                break
        if len(chosen) > max_ticks:  # more decades than max_ticks: every k-th power of ten
            chosen = chosen[:: math.ceil(len(chosen) / max_ticks)]
        if len(chosen) < 2:  # a narrow range (3.1 to 3.4 ms): round linear steps instead
            from matplotlib.ticker import MaxNLocator

            chosen = [v for v in MaxNLocator(4).tick_values(lo, hi) if lo <= v <= hi]
        axis.set_major_locator(FixedLocator(chosen))

    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_formatter(NullFormatter())
    update()
    axis.axes.callbacks.connect(f"{axis.axis_name}lim_changed", update)


def per_clip_bars(records: list[dict], suite: str, metric: str = "psnr"):
    """Grouped bars: one group per clip, one bar per measured record of the suite."""
    recs = [r for r in records if r["suite"] == suite]
    clips = list(dict.fromkeys(c for r in recs for c in (r.get("clips") or {})))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(clips) * max(1, len(recs)) / 2), 4), dpi=100)
    width = 0.8 / max(1, len(recs))
    x = np.arange(len(clips))
    for k, r in enumerate(recs):
        vals = []
        for c in clips:
            v = (r.get("clips") or {}).get(c, {}).get(metric)
            vals.append(math.nan if v is None else float(v))
        from vsrbench.benchmark.results import settings_label

        lab = r["model"] + ("" if settings_label(r.get("settings")) == "full" else f" [{settings_label(r.get('settings'))}]")
        ax.bar(x + (k - (len(recs) - 1) / 2) * width, vals, width, label=_text(lab))
    ax.set_xticks(x)
    ax.set_xticklabels([_text(c) for c in clips], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel({"psnr": "PSNR (dB)", "ssim": "SSIM"}.get(metric, metric))
    ax.set_title(_text(f"per-clip {metric.upper()}: {suite}"))
    if recs:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def temporal_profiles(profiles: dict[str, np.ndarray]):
    """Temporal profiles (T x W images, e.g. the ``*_temporal_profile.png`` that
    ``evaluate(..., save_outputs=DIR)`` writes) side by side, one panel per label."""
    n = max(1, len(profiles))
    fig, axes = plt.subplots(1, n, figsize=(3 * n, 3), dpi=100, squeeze=False)
    for ax, (lab, img) in zip(axes[0], profiles.items()):
        ax.imshow(np.asarray(img), aspect="auto", interpolation="nearest")
        ax.set_title(_text(lab), fontsize=8)
        ax.set_xlabel("x")
        ax.set_ylabel("t")
    fig.tight_layout()
    return fig


def save(fig, stem: str | os.PathLike, formats=("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``<stem>.<format>`` for each format, each through a temporary file."""
    stem = Path(stem)
    fix = "choose another --out-dir"
    ensure_dir(stem.parent, fix)
    out = []
    try:
        for f in formats:
            p = safe_child(stem.parent, stem.name + f".{f}", what="plot")
            with writing(p, fix), replacing(p) as tmp:
                fig.savefig(tmp, format=f)
            out.append(p)
    finally:
        plt.close(fig)
    return out


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def make_plots(records: list[dict], suites: list[str] | None = None, reported: pd.DataFrame | None = None,
               kinds=("runtime", "clips")) -> dict[str, object]:
    """name -> Figure for every suite with records: 'psnr_vs_runtime_<suite>', 'per_clip_psnr_<suite>'."""
    have = list(dict.fromkeys(r["suite"] for r in records))
    suites = [s for s in (suites or have) if s in have]
    figs = {}
    for s in suites:
        if "runtime" in kinds:
            figs[f"psnr_vs_runtime_{s}"] = psnr_vs_runtime(records, s, reported)
        if "clips" in kinds:
            figs[f"per_clip_psnr_{s}"] = per_clip_bars(records, s)
    return figs
