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
    from vsrbench.text import strip_controls

    return strip_controls(s).replace("$", r"\$")


def _label(r) -> str:
    s = r["model"]
    if r.get("settings") and r["settings"] != "full":
        s += f" [{r['settings']}]"
    return _text(s)


def _device_short(name: str, kind: str = "") -> str:
    """A device name short enough for a point label: ``NVIDIA H200`` -> ``H200``, a CPU (the record's
    provenance says ``cpu``, or the name is a CPU model's) -> ``CPU``."""
    n = str(name or "")
    if not n:
        return "device not stated"
    low = n.lower()
    if kind == "cpu" or (not kind and any(k in low for k in ("xeon", "intel", "amd", "ryzen", "epyc", "cpu"))):
        return "CPU"
    return n.replace("NVIDIA ", "").replace("GeForce ", "")


def _device_type(r: dict) -> str:
    return str((r.get("provenance") or {}).get("device") or "").split(":")[0]


def psnr_vs_runtime(records: list[dict], suite: str, reported: pd.DataFrame | None = None):
    """Scatter of PSNR against ms/frame (log x) for the suite's full-run measured records; reported rows
    of the same suite that state a runtime are hollow markers labelled '(reported)'. Every point names
    its device (a CPU time beside a GPU time is never silent). Smoke checks (random weights, a crop or a
    clip limit) are left off these axes; the figure says how many. Labels are kept inside the axes."""
    df = records_frame(records)
    df = df[(df["suite"] == suite) & df["ms_per_frame"].notna() & np.isfinite(df["psnr"])]
    n_smoke = int((df["kind"] == "smoke").sum())
    df = df[df["kind"] == "measured"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if n_smoke:
        fig.text(0.01, 0.01, f"{n_smoke} smoke check(s) (random weights / crop / clip limit) left out", fontsize=7,
                 color="grey")
    points = []
    for _, r in df.iterrows():
        ax.scatter(r["ms_per_frame"], r["psnr"], s=40, zorder=3)
        dev = _text(_device_short(r["device"], r["device_type"]))
        points.append((r["ms_per_frame"], r["psnr"], f"{_label(r)} ({dev})", "black"))
    if reported is not None and not reported.empty:
        rep = reported[(reported["suite"] == suite) & reported["ms_per_frame"].notna() & reported["psnr"].notna()]
        for _, r in rep.iterrows():
            ax.scatter(r["ms_per_frame"], r["psnr"], s=40, facecolors="none", edgecolors="grey", zorder=2)
            dev = _device_short(r.get("device", "")) if r.get("device") else "paper's GPU"
            points.append((r["ms_per_frame"], r["psnr"], _text(f"{r['model']} (reported, {dev})"), "grey"))
    ax.set_xscale("log")
    if points:  # room around the points for their labels
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        lo, hi = min(xs), max(xs)
        ax.set_xlim(lo / 1.6, hi * 1.6)
        span = max(max(ys) - min(ys), 0.5)
        ax.set_ylim(min(ys) - 0.15 * span, max(ys) + 0.15 * span)
    readable_log_ticks(ax.xaxis)
    ax.set_xlabel("runtime (ms / frame, log scale; device in brackets)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(_text(f"PSNR vs runtime: {suite}"))
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    for x, y, text, colour in points:
        _label_inside(ax, x, y, text, colour)
    return fig


def _label_positions():
    """Offsets (points) and alignments tried for a point's label, nearest first: right / left of the
    point, above then below, stepping further away so that labels of close points do not overlap."""
    for step in (4, 12, 20, 28, 36):
        for dx, ha in ((5, "left"), (-5, "right")):
            yield dx, step, ha, "bottom"
            yield dx, -step, ha, "top"


def _label_inside(ax, x, y, text: str, colour: str) -> None:
    """Annotate (x, y) with ``text`` beside the point, inside the axes and clear of the labels already
    drawn (:func:`_label_positions`, nearest first); a label too long for either side is shrunk."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    placed = ax.__dict__.setdefault("_vsrbench_label_boxes", [])
    for dx, dy, ha, va in _label_positions():
        a = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, va=va, fontsize=7,
                        color=colour, annotation_clip=True)
        ext = a.get_window_extent(renderer)
        inside = ext.x0 >= box.x0 and ext.x1 <= box.x1 and ext.y0 >= box.y0 and ext.y1 <= box.y1
        if inside and not any(ext.overlaps(p) for p in placed):
            placed.append(ext)
            return
        a.remove()
    # longer than either side: shrink the font until it fits on the roomier side
    right = box.x1 - ax.transData.transform((x, y))[0] > ax.transData.transform((x, y))[0] - box.x0
    size = 7.0
    while True:
        size -= 0.5
        a = ax.annotate(text, (x, y), textcoords="offset points", xytext=(5 if right else -5, 4),
                        ha="left" if right else "right", va="bottom", fontsize=size, color=colour, annotation_clip=True)
        ext = a.get_window_extent(renderer)
        if (ext.x0 >= box.x0 and ext.x1 <= box.x1 and ext.y1 <= box.y1) or size <= 3:
            return
        a.remove()


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
    """Grouped bars: one group per clip, one bar per full-run measured record of the suite (smoke checks
    are left out and counted in a footnote). The value axis starts at a floor just under the lowest
    bar (not at 0), so a 0.3 dB gap is visible; the floor is written on the axis."""
    from vsrbench.leaderboard.boards import is_smoke
    from vsrbench.benchmark.results import settings_label

    recs = [r for r in records if r["suite"] == suite]
    n_smoke = sum(1 for r in recs if is_smoke(r.get("weights"), r.get("settings")))
    recs = [r for r in recs if not is_smoke(r.get("weights"), r.get("settings"))]
    clips = list(dict.fromkeys(c for r in recs for c in (r.get("clips") or {})))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(clips) * max(1, len(recs)) / 2), 4), dpi=100)
    width = 0.8 / max(1, len(recs))
    x = np.arange(len(clips))
    allv = []
    for k, r in enumerate(recs):
        vals = []
        for c in clips:
            v = (r.get("clips") or {}).get(c, {}).get(metric)
            vals.append(math.nan if v is None else float(v))
        allv += [v for v in vals if np.isfinite(v)]
        lab = r["model"] + ("" if settings_label(r.get("settings")) == "full" else f" [{settings_label(r.get('settings'))}]")
        if len({(x.get("runtime") or {}).get("device") for x in recs}) > 1:  # the same model on two devices
            lab += f" ({_device_short((r.get('runtime') or {}).get('device'), _device_type(r))})"
        ax.bar(x + (k - (len(recs) - 1) / 2) * width, vals, width, label=_text(lab))
    if allv:
        lo, hi = min(allv), max(allv)
        pad = max(hi - lo, 0.5 if metric == "psnr" else 0.01)
        floor = math.floor((lo - 0.3 * pad) * 2) / 2 if metric == "psnr" else max(0.0, lo - 0.3 * pad)
        ax.set_ylim(floor, hi + 0.25 * pad)
        ax.text(0.0, 1.01, f"axis starts at {floor:g}", transform=ax.transAxes, fontsize=7, color="grey")
    if n_smoke:
        fig.text(0.01, 0.01, f"{n_smoke} smoke check(s) (random weights / crop / clip limit) left out", fontsize=7,
                 color="grey")
    ax.set_xticks(x)
    ax.set_xticklabels([_text(c) for c in clips], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel({"psnr": "PSNR (dB)", "ssim": "SSIM"}.get(metric, metric))
    ax.set_title(_text(f"per-clip {metric.upper()}: {suite}"))
    if recs:
        ax.legend(fontsize=7, loc="best")
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
