"""Results as text: the evaluate / score tables, the TecoGAN lines, the sweep's progress and summary,
and the one-line summaries of upscale, degrade and train. Pure functions of the returned data."""

from __future__ import annotations

import math

from vsrbench.sizes import hw_label
from vsrbench.text import plural

__all__ = ["fmt", "format_score_table", "format_score_csv", "format_tecogan_table", "result_header",
           "format_result_table", "degraded_line", "upscaled_line", "sweep_task_line", "sweep_summary",
           "trained_line"]


def fmt(v, digits=4) -> str:
    """A metric value: ``inf`` for None (PSNR of identical frames), ``-`` for NaN (not computed)."""
    if v is None:
        return "inf"
    if isinstance(v, float) and math.isnan(v):
        return "-"
    return f"{v:.{digits}f}"


def format_score_table(r: dict) -> str:
    from vsrbench.tables import text_table

    rows = []
    any_inf = any(c["n_inf"] for c in r["clips"].values())  # the note column only when a clip needs it
    for name, c in r["clips"].items():
        inf = f"({c['n_inf']} identical frame(s), PSNR inf, excluded)" if c["n_inf"] else ""
        rows.append([name, c["n_frames"], fmt(c["psnr"]), fmt(c["ssim"])] + ([inf] if any_inf else []))
    rows.append(None)
    rows.append(["mean over clips", r["n_frames"], fmt(r["psnr"]), fmt(r["ssim"])] + ([""] if any_inf else []))
    rows.append(["(mean over frames)", "", fmt(r["frame_mean"]["psnr"]), fmt(r["frame_mean"]["ssim"])]
                + ([""] if any_inf else []))
    lines = [text_table(["clip", "frames", "PSNR", "SSIM"] + (["note"] if any_inf else []), rows, right={1, 2, 3})]
    lines.append(f"channel {r['channel']}, crop_border {r['crop_border']}; {r['aggregation']}")
    if r["n_inf"]:
        lines.append(f"note: {r['n_inf']} frame(s) identical to GT (PSNR = inf) are left out of the means")
    return "\n".join(lines)


def format_score_csv(r: dict) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["clip", "gt_index", "pred", "gt", "psnr", "ssim"])
    for name, c in r["clips"].items():
        for f in c["frames"]:
            w.writerow([name, f["gt_index"], f["pred"], f["gt"], "inf" if f["psnr"] is None else repr(f["psnr"]), repr(f["ssim"])])
    return buf.getvalue().rstrip("\n")


def format_tecogan_table(r: dict) -> str:
    """The TecoGAN-protocol lines of an evaluate/score result ('' when it has none)."""
    t = r.get("tecogan")
    if not t:
        return ""
    from vsrbench.tables import text_table

    rows = []
    for name, c in r["clips"].items():
        ct = c.get("tecogan") or {}
        rows.append([name, len(ct.get("frames", [])), fmt(ct.get("tof", math.nan)), fmt(ct.get("lpips", math.nan)),
                     fmt(ct.get("tlp", math.nan)), fmt(ct.get("psnr", math.nan), 2)])
    rows.append(None)
    rows.append(["mean over clips", t.get("n_frames", 0), fmt(t.get("tof", math.nan)), fmt(t.get("lpips", math.nan)),
                 fmt(t.get("tlp", math.nan)), fmt(t.get("psnr", math.nan), 2)])
    lines = ["", "TecoGAN protocol (metrics.py: frames 2..n-3, crop_8x8; tLP x100)",
             text_table(["clip", "frames", "tOF", "LPIPS", "tLP", "PSNR*"], rows, right={1, 2, 3, 4, 5})]
    w = t.get("lpips_weights") or {}
    if w:
        lines.append(f"LPIPS weights: {w.get('source')} (tensors sha256 {w.get('fingerprint', '')[:16]})")
    for k, d in (t.get("definitions") or {}).items():
        lines.append(f"  {k} (TecoGAN): {d}")
    lines.append("  PSNR*: TecoGAN's printed PSNR, not the protocol PSNR above")
    return "\n".join(lines)


def _weights_words(r: dict) -> str:
    w = r.get("weights") or "none"
    if w == "none":
        return "no weights needed (parameter-free)"
    if w.startswith("random("):
        from vsrbench.models.listing import weights_hint

        hint = weights_hint(r["model"]) or "pass --checkpoint FILE for trained weights"
        return f"untrained: {w.replace('random(', 'random weights (', 1)}; {hint}"
    if w.startswith("sha256:"):
        from vsrbench.models.provenance import trained_label

        w = f"checkpoint sha256 {w[7:19]}..."
        w += f", {trained_label(r.get('training'))}" if trained_label(r.get("training")) else ""
    return w


def result_header(r: dict) -> str:
    """First line of an evaluation table: model, weights in words, suite protocol, crop settings."""
    from vsrbench.sizes import wh

    ss = r["suite_settings"]
    line = (f"{r['model']} on {r['suite']}: {_weights_words(r)}; {ss['degradation']}, channel {ss['channel']}, "
            f"border crop {ss['crop_border']} px")
    crop = (r.get("settings") or {}).get("crop")
    if crop:
        line += f", centre crop {wh(crop[0], crop[1])} of GT"
    if (r.get("settings") or {}).get("limit_clips"):
        line += f", first {r['settings']['limit_clips']} clip(s)"
    return line


def format_result_table(r: dict) -> str:
    """An evaluation record for people: the header, one row per clip, the means, runtime and notes."""
    lines = [result_header(r)]
    from vsrbench.tables import text_table

    rows = []
    for name, c in r["clips"].items():
        rows.append([name, c["n_frames"], fmt(c["psnr"]), fmt(c["ssim"]), fmt(c.get("tof", math.nan), 3),
                     fmt(c.get("warping_error", math.nan), 6), fmt(c.get("tpsnr", math.nan), 2)])
    t = r.get("temporal") or {}
    rows.append(None)
    rows.append(["mean over clips", r["n_frames"], fmt(r["psnr"]), fmt(r["ssim"]), fmt(t.get("tof", math.nan), 3),
                 fmt(t.get("warping_error", math.nan), 6), fmt(t.get("tpsnr", math.nan), 2)])
    lines.append(text_table(["clip", "frames", "PSNR", "SSIM", "tOF", "warp", "tPSNR"], rows, right={1, 2, 3, 4, 5, 6}))
    rt = r["runtime"]
    if rt.get("ms_per_frame") is not None:
        lines.append(
            f"runtime: {rt['ms_per_frame']:.2f} ms/frame ({rt['fps']:.2f} fps), {rt['params']:,} params; "
            f"device {rt['device']}, dtype {rt['dtype']}, batch {rt['batch']}, LR {hw_label(rt['lr_size'])}"
        )
    for k, d in (t.get("definitions") or {}).items():
        lines.append(f"  {k}: {d}")
    if r.get("missing_clips"):
        lines.append(f"note: {len(r['missing_clips'])} clip(s) of the split are not in the store and were not scored")
    if r.get("n_inf"):
        lines.append(f"note: {r['n_inf']} frame(s) identical to GT (PSNR = inf) are left out of the means")
    if r.get("skipped"):
        lines.append("(already scored: shown from the results store; --force re-scores)")
    return "\n".join(lines)


def degraded_line(summary: dict) -> str:
    s = summary
    return f"wrote {s['frames']} frames of {plural(s['clips'], 'clip')} ({s['spec']}) to {s['output']}"


def upscaled_line(s: dict) -> str:
    return f"wrote {s['frames']} frames of {plural(s['clips'], 'clip')} ({s['model']} x{s['scale']} on {s['device']}) to {s['output']}"


def sweep_task_line(label: str, outcome: dict) -> str:
    """One finished sweep task: scored or already scored, with its PSNR and SSIM."""
    state = "already scored" if outcome.get("skipped") else "scored"
    return f"{label}: {state}, PSNR {fmt(outcome['psnr'])} SSIM {fmt(outcome['ssim'])}"


def sweep_summary(r) -> str:
    """The counts of a :class:`~vsrbench.benchmark.sweep.SweepResult` and where its records went."""
    where = {True: "; records written by the workers", False: "; records returned and written here"}.get(r.shared, "")
    return (f"sweep: {r.scored} scored, {r.skipped} already scored, {len(r.failures)} failed, {len(r.unsupported)} "
            f"left out{where}; {r.seconds:.1f} s\n")


def trained_line(r) -> str:
    return (f"{r.out}: {r.iterations} iterations, last loss {r.loss:.6g}, {r.seconds:.1f} s; weights in "
            f"{r.out / 'model.pth'}")
