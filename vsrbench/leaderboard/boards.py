"""Leaderboards as pandas DataFrames, built from result records (``load_results``) and, beside them,
rows reported by papers (``reported.csv``).

Three boards:

- **quality**: PSNR / SSIM, one column pair per suite, one row per (model, weights, settings);
- **temporal**: tOF, warping error, temporal-difference PSNR per suite (measured only; the papers'
  temporal numbers use other flows and definitions, so none are shown);
- **runtime**: ms/frame, fps, params, FLOPs, peak memory, device, dtype, LR size: one row per
  evaluation record, per ``vsrbench profile --format json`` row given, and per reported row that
  states a runtime or a parameter count.

Reported rows are separate rows with ``kind == "reported"`` and ``paper`` naming the source; a
reported number is never put into a measured row or ranked against measured ones (the "best" marks
are computed over rows of kind ``measured`` only). Measured rows with different settings (a crop, a
clip limit, a dtype, ...) are different rows, labelled by ``settings``. Smoke checks, records with
random weights or scored on a crop or a clip limit, have ``kind == "smoke"``: renderers put them in
their own "smoke checks" table, never ranked, never bolded, so a quick-check number never
masquerades as a full-suite one.

Reported rows are matched to vsrbench suites by protocol, never by name: (dataset and split,
degradation convention, scale, channel), see :attr:`vsrbench.benchmark.suites.Suite.protocol`. The
survey's "Bicubic BD" row is the DUF convention (suite ``vid4-bd-duf``), not ``vid4-bd``. Rows with
no suite of that protocol (``reds4``, ``brcn5``, ...) keep their own column.
"""

from __future__ import annotations

import math
import re
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vsrbench.benchmark.results import settings_label
from vsrbench.benchmark.suites import SUITES, degradation_convention, find_suite_by_protocol

__all__ = [
    "ROW_KEYS",
    "Board",
    "build_boards",
    "default_reported_path",
    "load_reported",
    "quality_board",
    "records_frame",
    "runtime_board",
    "is_smoke",
    "weights_label",
    "match_reported_suite",
    "packaged_reported_path",
    "suite_label",
    "temporal_board",
    "unlisted_suites",
]

ROW_KEYS = ["model", "kind", "paper", "weights", "settings"]
TEMPORAL_METRICS = [("tof", "tOF", "min"), ("warping_error", "warp", "min"), ("tpsnr", "tPSNR", "max")]
#: TecoGAN's protocol (``--metrics tecogan``): record key ``tecogan``; the header names the protocol.
TECOGAN_METRICS = [("tecogan_tof", "tOF[TecoGAN]", "min"), ("tecogan_lpips", "LPIPS[TecoGAN]", "min"),
                   ("tecogan_tlp", "tLP[TecoGAN]", "min")]


@dataclass
class Board:
    """One leaderboard: ``df`` (identity columns, then value columns), which value columns are
    ranked (``best``: column -> 'max' | 'min', over measured rows only), number formats and notes."""

    name: str
    title: str
    df: pd.DataFrame
    best: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    suite_columns: bool = False  # value columns are '<suite> <metric>' (quality, temporal boards)

    rank_within: list[str] = field(default_factory=list)  # rank only among rows equal in these columns

    def best_mask(self, rank: int = 1) -> pd.DataFrame:
        """Boolean frame, True where a cell holds the best (``rank`` 2: the second best) measured value
        of its column; with ``rank_within`` (runtime: device and LR size) only among rows that share
        those columns, and only where at least two such rows have a value (a lone row is not 'best')."""
        mask = pd.DataFrame(False, index=self.df.index, columns=self.df.columns)  # never smoke or reported rows
        if self.df.empty or "kind" not in self.df:
            return mask
        measured = self.df[self.df["kind"] == "measured"]
        if self.rank_within:
            groups = [g for _, g in measured.groupby([measured[c].astype(str) for c in self.rank_within], sort=False)]
        else:
            groups = [measured]
        for col, how in self.best.items():
            if col not in self.df:
                continue
            for g in groups:
                vals = pd.to_numeric(g[col], errors="coerce")
                vals = vals[vals.notna()]
                if vals.empty or (self.rank_within and len(vals) < 2):
                    continue
                distinct = sorted(set(vals), reverse=how == "max")
                if len(distinct) >= rank:
                    mask.loc[vals.index[vals == distinct[rank - 1]], col] = True
        return mask


def suite_label(name: str) -> str:
    """A suite column's name as the boards show it: a reported row's suite that ``vsrbench suites``
    does not list (``brcn5``, ``udm10 (bd-duf)``) is marked 'no suite here'."""
    return name if name in SUITES else f"{name} (no suite here)"


def unlisted_suites(names) -> list[str]:
    """The names among ``names`` that are not registered suites, in order, once each."""
    return [s for s in dict.fromkeys(names) if s not in SUITES]


# ---------------------------------------------------------------------------------------------
# measured records


def is_smoke(weights: str | None, settings: dict | None) -> bool:
    """A smoke check, not a result: random weights, or scored on a crop or a clip limit."""
    s = settings or {}
    return str(weights or "").startswith("random") or bool(s.get("crop")) or bool(s.get("limit_clips"))


def weights_label(r: dict) -> str:
    """The weights column: ``trained by vsrbench (RECIPE, N iterations; sha256:XXXXXXXX)`` for a checkpoint
    whose ``vsrbench train`` run.json vouched for it at evaluation (the record's ``training``), else the
    record's ``weights`` (``sha256:...`` for other checkpoints, ``random(seed=0)``, ``none``)."""
    from vsrbench.models.provenance import trained_label

    w = r.get("weights", "none")
    ow = r.get("official_weights")
    if isinstance(ow, str) and re.fullmatch(r"official:[\w.+-]{1,60}/[\w.+-]{1,60}", ow) and str(w).startswith("sha256:"):
        return f"{ow} ({w[:15]})"  # a released checkpoint, known by its hash
    label = trained_label(r.get("training"))
    if label and str(w).startswith("sha256:"):
        return f"{label[:-1]}; {w[:15]})"
    return w


def _num(v):
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record: identity, mean metrics, temporal means and runtime. A null PSNR (every
    frame identical to GT) is +inf, as the record says."""
    rows = []
    for r in records:
        t = r.get("temporal") or {}
        rt = r.get("runtime") or {}
        psnr = r.get("psnr")
        rows.append({
            "model": r["model"],
            "kind": "smoke" if is_smoke(r.get("weights"), r.get("settings")) else "measured",
            "paper": "",
            "weights": weights_label(r),
            "settings": settings_label(r.get("settings")),
            "suite": r["suite"],
            "psnr": math.inf if psnr is None else float(psnr),
            "ssim": _num(r.get("ssim")),
            "tof": _num(t.get("tof")),
            "warping_error": _num(t.get("warping_error")),
            "tpsnr": _num(t.get("tpsnr")),
            **{k: _num((r.get("tecogan") or {}).get(k.split("_", 1)[1])) for k, _, _ in TECOGAN_METRICS},
            "ms_per_frame": _num(rt.get("ms_per_frame")),
            "fps": _num(rt.get("fps")),
            "params": _num(rt.get("params")),
            "flops_per_frame": math.nan,
            "peak_memory_mb": math.nan,
            "device": rt.get("device") or "",
            "device_type": str((r.get("provenance") or {}).get("device") or "").split(":")[0],
            "dtype": rt.get("dtype") or (r.get("settings") or {}).get("dtype", ""),
            "lr_size": rt.get("lr_size") or "",
            "n_clips": r.get("n_clips"),
            "n_frames": r.get("n_frames"),
            "date": (r.get("provenance") or {}).get("date", ""),
        })
    cols = ROW_KEYS + ["suite", "psnr", "ssim", "tof", "warping_error", "tpsnr", *[k for k, _, _ in TECOGAN_METRICS],
                       "ms_per_frame", "fps", "params",
                       "flops_per_frame", "peak_memory_mb", "device", "device_type", "dtype", "lr_size", "n_clips", "n_frames", "date"]
    df = pd.DataFrame(rows, columns=cols)
    if not df.empty:  # the same (model, weights, settings, suite, device) twice: the newest value of each column
        # (a --metrics tecogan record and a default one of the same settings fill each other's columns); a
        # time on another device is another runtime row
        df = df.sort_values("date", kind="stable").groupby(ROW_KEYS + ["suite", "device"], sort=False, as_index=False,
                                                           dropna=False).last()
        df = df[cols]
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# reported rows

# Which BD convention a reported "BD" number used (protocol.md: two incompatible conventions). The
# survey's / BasicVSR's Bicubic BD rows reproduce with DUF's (21.80 on Vid4 is bd-duf's 21.79; the
# BasicVSR convention gives 23.44), as do DUF's and PFNL's own; the BasicVSR family, EDVR (as those
# tables report it), IconVSR, TDAN use MATLAB's BD_degradation.m (``bd``). A ``convention`` column in
# reported.csv overrides this.
BD_DUF_METHODS = {"bicubic", "duf", "duf-52l", "duf-28l", "duf-16l", "pfnl"}


def _reported_spec(degradation: str, scale: int, method: str) -> str | None:
    """reported.csv's degradation text (``BI``, ``BD``, ``BI stvsr + jpeg q10``, ``gauss sigma=1
    size=3``) as a vsrbench spec at ``scale``, or None when vsrbench has no such degradation."""
    import re

    from vsrbench.degradations import parse_spec

    parts = []
    for k, chunk in enumerate(t.strip() for t in degradation.split("+")):
        words = [w for w in chunk.split() if w.lower() != "stvsr"]
        if not words:
            return None
        op = words[0].lower()
        if op == "bd":
            op = "bd-duf" if method.strip().lower() in BD_DUF_METHODS else "bd"
        params = []
        for w in words[1:]:
            m = re.fullmatch(r"([a-z]+)(\d+(?:\.\d+)?)", w.lower())
            params.append(w if "=" in w else (f"{m.group(1)}={m.group(2)}" if m else w))
        part = op + (":" + ",".join(params) if params else "")
        parts.append(part + (f":x{scale}" if k == 0 and scale is not None else ""))
    try:
        return parse_spec("+".join(parts)).spec
    except Exception:
        return None


def _reported_dataset(test_set: str) -> tuple[str, str | None]:
    """(dataset, split) of a reported test-set name: that of the longest suite name it starts with
    (``vimeo-fast-noise`` -> vimeo90k, fast; ``spmcs-lcvsr`` -> spmcs); else the name itself."""
    best = None
    for s in SUITES.values():
        if test_set == s.name or test_set.startswith(s.name + "-"):
            if best is None or len(s.name) > len(best.name):
                best = s
    return (best.dataset, best.split) if best else (test_set, None)


def match_reported_suite(test_set: str, degradation: str, scale, channel: str = "y", method: str = "",
                         convention: str | None = None) -> str:
    """The vsrbench suite whose protocol (dataset, split, degradation convention, scale, channel) a
    reported.csv row shares, or, when there is none, a column label of its own (the reported name,
    with the scale when it is not x4)."""
    try:
        sc = int(scale)
    except (TypeError, ValueError):
        sc = None
    if sc is not None:
        dataset, split = _reported_dataset(test_set)
        spec = None
        if convention:  # a vsrbench convention (bd-duf, bi+noise, ...): the scale goes on the first op
            head, _, tail = convention.strip().partition("+")
            spec = _reported_spec(f"{head}:x{sc}" + (f"+{tail}" if tail else ""), None, method)
        elif degradation:
            spec = _reported_spec(degradation, sc, method)
        if spec:
            hit = find_suite_by_protocol(dataset, split, degradation_convention(spec), sc, (channel or "y").lower())
            if hit is not None:
                return hit.name
        if spec and test_set in SUITES:  # a vsrbench suite's name, another protocol: say which
            return f"{test_set} ({degradation_convention(spec)})"
    if sc is None or sc == 4 or f"x{sc}" in test_set:
        return test_set
    return f"{test_set}-x{sc}"


def packaged_reported_path() -> Path:
    """The published rows shipped with vsrbench (package data ``leaderboard/data/reported.csv``: one
    row per number, with the paper's table (``source``) and its ``citation``)."""
    from importlib.resources import files

    return Path(str(files("vsrbench.leaderboard").joinpath("data/reported.csv")))


def packaged_reported_paths() -> list[Path]:
    """Every shipped file of published rows (``leaderboard/data/*.csv``: the seed papers' and survey's
    rows, and the reference models' papers' rows), in name order."""
    return sorted(packaged_reported_path().parent.glob("*.csv"))


def default_reported_path() -> Path:
    """The packaged reported rows (kept for callers of the old name)."""
    return packaged_reported_path()


REPORTED_COLUMNS = ROW_KEYS + ["suite", "psnr", "ssim", "params", "ms_per_frame", "note", "citation", "device",
                               "lr_size"]
_REPORTED_TEXT_MAX = 300  # a reported.csv cell longer than this is cut (boards are not for essays)


def _read_reported(path: Path) -> list[dict]:
    """The rows of one reported.csv file (columns: source, method, suite, psnr at least)."""
    from vsrbench.errors import VsrbenchError

    if not path.is_file():
        raise VsrbenchError(f"{path}: no such reported-results file; pass an existing CSV to --reported")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise VsrbenchError(f"{path}: not a reported-results CSV ({type(e).__name__}); fix or remove --reported") from None
    need = {"source", "method", "suite", "psnr"}
    if not need <= set(raw.columns):
        raise VsrbenchError(f"{path}: needs the columns {', '.join(sorted(need))}; has {', '.join(raw.columns)}")
    raw = raw.map(lambda v: v if len(v) <= _REPORTED_TEXT_MAX else v[: _REPORTED_TEXT_MAX - 1] + "…")
    rows = []
    for _, r in raw.iterrows():
        params_m = _num(r.get("params_m") or None)
        sec = _num(r.get("runtime_s_per_frame") or None)
        scale = r.get("scale", "")
        deg = r.get("degradation", "")
        suite = match_reported_suite(r["suite"], deg, scale or None, r.get("channel", "") or "y", r["method"],
                                     r.get("convention") or None)
        rows.append({
            "model": r["method"],
            "kind": "reported",
            "paper": r["source"],
            "weights": "paper",
            "settings": "as published",
            "suite": suite,
            "psnr": _num(r["psnr"] or None),
            "ssim": _num(r.get("ssim") or None),
            "params": params_m * 1e6 if not math.isnan(params_m) else math.nan,
            "ms_per_frame": sec * 1e3 if not math.isnan(sec) else math.nan,
            "note": "; ".join(x for x in (f"{r['suite']}: {deg} x{scale}" if deg else "", r.get("runtime_note", ""))
                              if x),
            "citation": r.get("citation", ""),
            "device": r.get("device", ""),
            "lr_size": r.get("lr_size_wxh", ""),
        })
    return rows


def load_reported(path: str | os.PathLike | None = None) -> tuple[pd.DataFrame, str]:
    """Reported rows (columns :data:`REPORTED_COLUMNS`, kind 'reported') and a note saying where they
    came from: always the packaged rows (:func:`packaged_reported_path`), plus ``path``'s rows when
    given (``--reported FILE``; a row already packaged is not repeated)."""
    key = lambda r: (r["model"], r["paper"], r["suite"], r["psnr"], r["ssim"])  # noqa: E731
    rows: list[dict] = []
    have: set = set()

    def add(new: list[dict]) -> int:
        fresh = [r for r in new if key(r) not in have]
        have.update(key(r) for r in fresh)
        rows.extend(fresh)
        return len(fresh)

    for shipped in packaged_reported_paths():
        add(_read_reported(shipped))
    note = f"reported rows: {len(rows)} published numbers shipped with vsrbench (each with its citation)"
    if path is not None:
        note += f", {add(_read_reported(Path(path)))} more from {path}"
    return pd.DataFrame(rows, columns=REPORTED_COLUMNS), note


# ---------------------------------------------------------------------------------------------
# boards


def _suite_order(measured: pd.DataFrame, reported: pd.DataFrame, suites: list[str] | None) -> list[str]:
    if suites:
        return list(dict.fromkeys(suites))
    order = list(SUITES)
    ms = sorted(set(measured["suite"]), key=lambda s: (order.index(s) if s in order else len(order), s))
    rep = [s for s in dict.fromkeys(reported["suite"]) if s not in ms]
    rep_known = sorted((s for s in rep if s in SUITES), key=order.index)
    return ms + rep_known + [s for s in rep if s not in SUITES]


def _pivot(df: pd.DataFrame, suites: list[str], metrics: list[tuple[str, str]]) -> pd.DataFrame:
    """Rows by ROW_KEYS, columns '<suite> <label>' for each suite and (metric, label)."""
    cols = [f"{s} {lab}" for s in suites for _, lab in metrics]
    if df.empty:
        return pd.DataFrame(columns=ROW_KEYS + cols)
    df = df[df["suite"].isin(suites)]
    out = {}
    for key, g in df.groupby(ROW_KEYS, sort=False):
        row = out.setdefault(key, {})
        for _, r in g.iterrows():
            for m, lab in metrics:
                c = f"{r['suite']} {lab}"
                if c not in row or pd.isna(row[c]):
                    row[c] = r[m]
    rows = [{**dict(zip(ROW_KEYS, k)), **v} for k, v in out.items()]
    res = pd.DataFrame(rows, columns=ROW_KEYS + cols)
    vals = res[cols].apply(pd.to_numeric, errors="coerce")
    return res[vals.notna().any(axis=1)].reset_index(drop=True)


def _sort_rows(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    rank = {"measured": 0, "smoke": 1, "reported": 2}
    k = df.assign(_m=df["kind"].map(rank).fillna(3).astype(int), _l=df["model"].str.lower())
    return k.sort_values(["_m", "_l", "paper", "weights", "settings"], kind="stable").drop(columns=["_m", "_l"]).reset_index(drop=True)


def quality_board(measured: pd.DataFrame, reported: pd.DataFrame | None = None, suites: list[str] | None = None) -> Board:
    reported = reported if reported is not None else pd.DataFrame(columns=ROW_KEYS + ["suite", "psnr", "ssim"])
    order = _suite_order(measured, reported, suites)
    metrics = [("psnr", "PSNR"), ("ssim", "SSIM")]
    df = pd.concat([_pivot(measured, order, metrics), _pivot(reported, order, metrics)], ignore_index=True)
    df = _sort_rows(df)
    value_cols = [c for c in df.columns if c not in ROW_KEYS]
    # drop suites with nothing in them (after filtering)
    keep = [c for c in value_cols if df[c].notna().any()]
    df = df[ROW_KEYS + keep]
    return Board(
        "quality", "Quality: PSNR (dB) / SSIM", df, suite_columns=True,
        best={c: "max" for c in keep},
        formats={c: ("{:.4f}" if c.endswith("SSIM") else "{:.2f}") for c in keep},
        notes=[("Best measured value per column in bold, second in italics (LaTeX: underlined); reported rows (kind "
                "'reported', paper named) are copied from the papers and never ranked with or mixed into measured "
                "values. A table without a settings column holds full runs (the suite's protocol as is)."),
               ("Smoke checks (random weights, a crop or a clip limit) are listed apart and never ranked: they "
                "are not comparable with full-suite numbers."),
               ("Reported rows sit under the suite of the same protocol (dataset, degradation convention, scale, "
                "channel): a 'BD' row is placed by the convention its paper used (DUF's for the Bicubic and DUF "
                "rows, BasicVSR's otherwise). The protocol: Y of MATLAB's rgb2ycbcr, PSNR and SSIM per frame, "
                "mean per clip, mean over clips; `vsrbench suites` gives each suite's degradation, channel, "
                "crop border and frames (README, 'The protocol').")] + _unlisted_note(order, keep),
    )


def _unlisted_note(order: list[str], value_cols: list[str]) -> list[str]:
    shown = {c.rsplit(" ", 1)[0] for c in value_cols}
    names = [s for s in unlisted_suites(order) if s in shown]
    if not names:
        return []
    return [("Marked 'no suite here': " + ", ".join(names) + ". vsrbench has no suite of that protocol (`vsrbench "
             "suites` does not list it), so nothing can be measured there yet; the rows are as the papers "
             "published them.")]


def temporal_board(measured: pd.DataFrame, suites: list[str] | None = None) -> Board:
    all_metrics = TEMPORAL_METRICS + TECOGAN_METRICS
    keys = [k for k, _, _ in all_metrics]
    m = measured[measured[keys].notna().any(axis=1)] if not measured.empty else measured
    order = _suite_order(m, pd.DataFrame(columns=["suite"]), suites)
    metrics = [(k, lab) for k, lab, _ in all_metrics]
    df = _sort_rows(_pivot(m, order, metrics))
    value_cols = [c for c in df.columns if c not in ROW_KEYS]
    keep = [c for c in value_cols if df[c].notna().any()]
    df = df[ROW_KEYS + keep]
    how = {lab: h for _, lab, h in all_metrics}
    fmt = {"tOF": "{:.3f}", "warp": "{:.6f}", "tPSNR": "{:.2f}", "tOF[TecoGAN]": "{:.4f}", "LPIPS[TecoGAN]": "{:.4f}",
           "tLP[TecoGAN]": "{:.4f}"}
    return Board(
        "temporal", "Temporal consistency: tOF (lower better), warping error (lower better), tPSNR (higher better)",
        df, suite_columns=True,
        best={c: how[c.rsplit(" ", 1)[1]] for c in keep},
        formats={c: fmt[c.rsplit(" ", 1)[1]] for c in keep},
        notes=[("tOF: TecoGAN's definition, Farneback flow; warp: warping error (Lai et al. 2018) with Farneback "
                "flow and occlusion mask, RGB in [0, 1]; tPSNR: PSNR of the temporal differences "
                "(out_t - out_t-1 vs GT_t - GT_t-1). Not comparable with papers using FlowNet2 or other tPSNRs."),
               ("[TecoGAN]: TecoGAN's metrics.py protocol (`--metrics tecogan`): frames 2..n-3, crop_8x8, flows of "
                "the full frames; LPIPS-alex v0.1; tLP = |LPIPS(GT pair) - LPIPS(SR pair)| x 100.")],
    )


def runtime_board(measured: pd.DataFrame, reported: pd.DataFrame | None = None, profiles: list[dict] | None = None,
                  suites: list[str] | None = None) -> Board:
    from vsrbench.sizes import hw_to_wh

    cols = ["ms/frame", "fps", "params", "FLOPs/frame (G)", "peak memory (MiB)", "device", "dtype", "LR size (WxH)"]
    rows = []
    m = measured if not suites or measured.empty else measured[measured["suite"].isin(suites)]
    for _, r in m.iterrows():
        rows.append({"model": r["model"], "kind": r["kind"], "paper": "", "weights": r["weights"],
                     "settings": f"{r['suite']}, {r['settings']}", "ms/frame": r["ms_per_frame"], "fps": r["fps"],
                     "params": r["params"], "FLOPs/frame (G)": math.nan, "peak memory (MiB)": math.nan,
                     "device": r["device"], "dtype": r["dtype"], "LR size (WxH)": hw_to_wh(r["lr_size"])})
    for p in profiles or []:
        fl = p.get("flops_per_frame")
        rows.append({"model": p.get("model", "?"), "kind": "measured", "paper": "", "weights": p.get("weights", "random"),
                     "settings": f"profile, batch {p.get('batch', 1)}", "ms/frame": _num(p.get("ms_per_frame")),
                     "fps": _num(p.get("fps")), "params": _num(p.get("params")),
                     "FLOPs/frame (G)": _num(fl) / 1e9 if fl is not None else math.nan,
                     "peak memory (MiB)": _num(p.get("peak_memory_mb")), "device": p.get("device", ""),
                     "dtype": p.get("dtype", ""), "LR size (WxH)": hw_to_wh(p.get("lr_size", ""))})
    rows += _reported_runtime_rows(reported)
    df = _sort_rows(pd.DataFrame(rows, columns=ROW_KEYS + cols))
    return Board(
        "runtime", "Runtime", df,
        best={"ms/frame": "min", "fps": "max"}, rank_within=["device", "LR size (WxH)"],
        formats={"ms/frame": "{:.2f}", "fps": "{:.2f}", "params": "{:,.0f}", "FLOPs/frame (G)": "{:.2f}",
                 "peak memory (MiB)": "{:.1f}"},
        notes=[("Evaluation rows time the model calls during that evaluation, at its LR size (crops are small); "
                "'profile' rows come from `vsrbench profile --format json` at the field's LR size "
                "(FLOPs = 2 x MACs). Peak memory is measured on CUDA only."),
               ("Bold: the fastest measured row among rows of the same device and the same LR size (at least "
                "two of them); times on different devices or LR sizes are never ranked against each other. "
                "Reported runtimes are the papers' own, on their GPUs, never ranked."),
               ("'-' under device, dtype or LR size of a reported row: the paper does not state it (Vid4's "
                "frames have three sizes, so a whole-Vid4 time has no single LR size).")],
    )


def _reported_runtime_rows(reported: pd.DataFrame | None) -> list[dict]:
    """Reported rows that state a runtime or a parameter count, once per (model, paper, numbers)."""
    if reported is None or reported.empty:
        return []
    rep = reported[reported[["params", "ms_per_frame"]].notna().any(axis=1)]
    rows, seen = [], set()
    for _, r in rep.iterrows():
        key = (r["model"], r["paper"], r["params"], r["ms_per_frame"])
        if key in seen:
            continue
        seen.add(key)
        ms = r["ms_per_frame"]
        rows.append({"model": r["model"], "kind": "reported", "paper": r["paper"], "weights": "paper",
                     "settings": r.get("note") or "as published", "ms/frame": ms,
                     "fps": 1e3 / ms if ms and not math.isnan(ms) else math.nan, "params": r["params"],
                     "FLOPs/frame (G)": math.nan, "peak memory (MiB)": math.nan,
                     "device": r.get("device") or "", "dtype": "", "LR size (WxH)": r.get("lr_size") or ""})
    return rows


def build_boards(records: list[dict], *, reported: str | os.PathLike | None | bool = None, suites: list[str] | None = None,
                 profiles: list[dict] | None = None) -> tuple[list[Board], list[str]]:
    """The three boards from result records. ``reported``: None for the packaged published rows, a
    reported.csv path for those plus the file's, False for none. Returns (boards, notes)."""
    measured = records_frame(records)
    if suites:
        measured = measured[measured["suite"].isin(suites)].reset_index(drop=True)
    if reported is False:
        rep = pd.DataFrame(columns=REPORTED_COLUMNS)
        note = "reported rows left out"
    else:
        rep, note = load_reported(reported)
    if suites and not rep.empty:
        rep = rep[rep["suite"].isin(suites)].reset_index(drop=True)
    boards = [quality_board(measured, rep, suites), temporal_board(measured, suites),
              runtime_board(measured, rep, profiles, suites)]
    notes = [note, f"{len(records)} measured record(s)"]
    return boards, notes
