"""Leaderboards, plots and `vsrbench regress` on a small real results store: bicubic on the whole
demo (a full run), and bicubic and the four models (seeded random weights: smoke checks) on Vid4 and
the demo, on small crops so that it stays fast."""

from __future__ import annotations

import json
import math
import re
import shutil

import pandas as pd
import pytest

from vsrbench.benchmark.harness import evaluate
from vsrbench.benchmark.results import load_results
from vsrbench.cli import main
from vsrbench.benchmark.results import settings_label
from vsrbench.leaderboard.boards import build_boards, load_reported
from vsrbench.leaderboard.regress import (
    MEAN,
    compare,
    metric_table,
    read_baseline,
    write_baseline,
)

def squeeze(text: str) -> str:
    """A Markdown table without its column padding: ``| a   | b |`` -> ``| a | b |``."""
    return re.sub(r" {2,}", " ", text)


RUNS = [
    ("bicubic", "demo", None),  # the one full run: every clip, no crop
    ("bicubic", "vid4", (32, 32)),
    ("lcvsr", "vid4", (16, 16)),
    ("fstrn", "vid4", (16, 16)),
    ("zsm", "vid4", (16, 16)),
    ("bicubic", "demo", (32, 32)),
    ("lcvsr", "demo", (16, 16)),
    ("fstrn", "demo", (16, 16)),
    ("zsm", "demo", (16, 16)),
    ("dksan", "demo-x16", (64, 64)),
]


@pytest.fixture(scope="module")
def store(prepared_home, shared_dir, tmp_path_factory):
    res = tmp_path_factory.mktemp("lb_results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(prepared_home))
        for model, suite, crop in RUNS:
            evaluate(model, suite, device="cpu", limit_clips=1 if crop else None, crop=crop, results=res,
                     progress=False, seed=0, random_weights=model != "bicubic")
    return res


@pytest.fixture
def reported_csv(shared_dir):
    return shared_dir / "reference" / "reported.csv"


def test_store_holds_every_model(store):
    recs = load_results(store)
    assert {(r["model"], r["suite"]) for r in recs} == {(m, s) for m, s, _ in RUNS}


def test_quality_board_measured_and_reported_rows(store, reported_csv):
    boards, notes = build_boards(load_results(store), reported=reported_csv)
    q = {b.name: b for b in boards}["quality"]
    df = q.df
    assert {"vid4 PSNR", "vid4 SSIM", "demo PSNR", "demo-x16 PSNR", "vid4-bd PSNR", "reds4 PSNR"} <= set(df.columns)
    measured, smoke = df[df["kind"] == "measured"], df[df["kind"] == "smoke"]
    assert list(measured["model"]) == ["bicubic"] and list(measured["settings"]) == ["full"]
    assert set(smoke["model"]) == {"bicubic", "lcvsr", "fstrn", "zsm", "dksan"}
    assert set(smoke.loc[smoke["model"] != "bicubic", "weights"]) == {"random(seed=0)"}
    assert set(measured["paper"]) == set(smoke["paper"]) == {""}
    # measured values are the records', untouched
    rec = next(r for r in load_results(store) if r["model"] == "bicubic" and r["suite"] == "vid4")
    row = smoke[(smoke["model"] == "bicubic") & (smoke["settings"] == "crop 32x32, 1 clip")].iloc[0]
    assert row["vid4 PSNR"] == pytest.approx(rec["psnr"])
    # reported rows: their own rows, paper named, values from the CSV
    rep = df[df["kind"] == "reported"]
    bic = rep[(rep["model"] == "Bicubic") & (rep["paper"] == "survey (seed 002) Table 1")].iloc[0]
    assert bic["vid4 PSNR"] == pytest.approx(23.78) and bic["vid4 SSIM"] == pytest.approx(0.6347)
    assert bic["weights"] == "paper"
    zsm = rep[(rep["model"] == "ZSM") & (rep["paper"] == "ZSM (seed 004) Table 2")].iloc[0]
    assert zsm["vimeo-fast PSNR"] == pytest.approx(36.96)
    assert "vid4-lcvsr-x3 PSNR" in df.columns  # LCVSR's x3 rows map to the x3 suite (same protocol)
    # matched by protocol: the survey's Bicubic BD is DUF's convention, EDVR's is BasicVSR's
    bd = bic["vid4-bd-duf PSNR"], bic["vid4-bd PSNR"]
    assert bd[0] == pytest.approx(21.80) and math.isnan(bd[1])
    edvr = rep[(rep["model"] == "EDVR") & (rep["paper"] == "survey (seed 002) Table 1")].iloc[0]
    assert edvr["vid4-bd PSNR"] == pytest.approx(27.85) and math.isnan(edvr["vid4-bd-duf PSNR"])
    duf = rep[(rep["model"] == "DUF") & (rep["paper"] == "survey (seed 002) Table 1")].iloc[0]
    assert duf["vid4-bd-duf PSNR"] == pytest.approx(27.38)
    # best marks only among full measured rows: never reported rows, never smoke checks
    mask = q.best_mask()
    assert not mask[df["kind"] != "measured"].to_numpy().any()
    assert mask.loc[measured.index, "demo PSNR"].all()
    # no numbers copied into the notes: the reported rows are the one source
    assert not any(re.search(r"\d+\.\d\d", n) for n in q.notes)
    assert any("shipped with vsrbench" in n and str(reported_csv) in n for n in notes)


def test_other_boards(store, reported_csv):
    boards, _ = build_boards(load_results(store), reported=reported_csv)
    b = {x.name: x for x in boards}
    t = b["temporal"].df
    assert set(t["kind"]) == {"measured", "smoke"}
    assert {"vid4 tOF", "vid4 warp", "vid4 tPSNR"} <= set(t.columns)
    assert t["vid4 tOF"].notna().sum() == 4
    assert not b["temporal"].best_mask()[t["kind"] == "smoke"].to_numpy().any()
    r = b["runtime"].df
    m = r[r["kind"].isin(["measured", "smoke"])]
    n_bicubic = sum(1 for x in RUNS if x[0] == "bicubic")
    assert len(m) == len(RUNS) and m["ms/frame"].notna().all() and (m["params"] > 0).sum() == len(RUNS) - n_bicubic
    assert (r["kind"] == "measured").sum() == 1  # the full run; the crops are smoke checks
    rep = r[r["kind"] == "reported"]
    assert "LCVSR (seed 000) Table 1" in set(rep["paper"])
    assert (rep["ms/frame"].dropna() > 0).all()


def test_reported_rows_ship_with_vsrbench(store, monkeypatch):
    monkeypatch.delenv("VSRBENCH_SHARED", raising=False)
    rep, note = load_reported(None)
    # the seed papers' and survey's rows (41) and the reference models' papers' rows (26), each cited
    assert len(rep) == 41 + 26 and "shipped with vsrbench" in note and rep["citation"].str.len().gt(10).all()
    boards, _ = build_boards(load_results(store))
    assert set(boards[0].df["kind"]) == {"measured", "smoke", "reported"}
    boards, _ = build_boards(load_results(store), reported=False)
    assert set(boards[0].df["kind"]) == {"measured", "smoke"}


@pytest.mark.parametrize("fmt", ["md", "csv", "latex", "html"])
def test_cli_leaderboard_formats(store, reported_csv, tmp_path, fmt, capsys):
    out = tmp_path / f"board.{fmt}"
    assert main(["leaderboard", "--results", str(store), "--format", fmt, "--out", str(out),
                 "--reported", str(reported_csv), "--no-plots"]) == 0
    text = out.read_text()
    if fmt == "md":
        text = squeeze(text)
        assert "## Quality" in text and "## Temporal" in text and "## Runtime" in text
        assert "| bicubic | none |" in text  # full runs: no settings column
        assert text.count("### Smoke checks") == 3 and "| dksan | random(seed=0) | crop 64x64, 1 clip |" in text
        # reported rows: their own table, one line per suite, under the suite of their protocol
        assert "| Bicubic | survey (seed 002) Table 1 | vid4-bd-duf | 21.80 | 0.5246 |" in text
        assert "| Bicubic | survey (seed 002) Table 1 | vid4 | 23.78 | 0.6347 |" in text
        assert "**" in text  # best marked
        smoke_part = text.split("### Smoke checks", 1)[1].split("### Reported", 1)[0]
        assert "**" not in smoke_part  # smoke checks are never bolded
        assert max(len(line) for line in text.splitlines()) <= 120
    elif fmt == "csv":
        df = pd.read_csv(out, keep_default_na=False)
        assert list(df.columns[:7]) == ["board", "model", "kind", "paper", "weights", "settings", "column"]
        assert set(df["board"]) == {"quality", "temporal", "runtime"}
        r = df[(df["kind"] == "reported") & (df["model"] == "Bicubic") & (df["column"] == "vid4 PSNR")]
        assert len(r) == 1 and float(r["value"].iloc[0]) == pytest.approx(23.78)
        assert set(df.loc[df["kind"] == "reported", "best"]) == {0}
        assert set(df.loc[df["kind"] == "smoke", "best"]) == {0} and (df["kind"] == "smoke").sum() > 10
        assert df.loc[df["kind"] == "measured", "best"].sum() > 0
    elif fmt == "latex":
        assert text.count("\\begin{tabular}") == text.count("\\end{tabular}") > 6
        assert "\\textbf{" in text and "survey (seed 002) Table 1" in text and "\\toprule" in text
        assert "tab:vsrbench-quality-1" in text and "Smoke checks" in text
    else:
        assert text.startswith("<!DOCTYPE html>") and "id='board-quality'" in text and "id='board-quality-smoke'" in text
        smoke_table = text.split("id='board-quality-smoke'", 1)[1].split("</table>", 1)[0]
        assert "class='smoke'" in smoke_table and "best" not in smoke_table and "class='measured'" not in smoke_table
        assert "http://" not in text and "https://" not in text  # self-contained


def test_cli_leaderboard_suite_filter_and_stdout(store, reported_csv, capsys):
    assert main(["leaderboard", "--results", str(store), "--suite", "vid4", "--reported", str(reported_csv)]) == 0
    out = capsys.readouterr().out
    assert "vid4 PSNR" in out and "demo PSNR" not in out and "EDVR" in out and "reds4" not in out


def test_settings_label():
    assert settings_label({"dtype": "fp32", "tile": 0, "crop": None, "limit_clips": None}) == "full"
    assert settings_label({"crop": [16, 16], "limit_clips": 2, "dtype": "bf16"}) == "crop 16x16, 2 clips, bf16"


def test_plots_png_and_svg(store, reported_csv, tmp_path, capsys):
    import numpy as np

    from vsrbench.datasets.frames import write_frame
    from vsrbench.metrics.temporal import temporal_profile

    rng = np.random.default_rng(0)
    prof = temporal_profile([rng.integers(0, 255, (8, 12, 3), dtype=np.uint8) for _ in range(5)])
    write_frame(tmp_path / "p.png", prof)
    out = tmp_path / "plots"
    assert main(["plot", "--results", str(store), "--out-dir", str(out), "--suite", "vid4", "demo",
                 "--reported", str(reported_csv), "--temporal-profile", f"a={tmp_path / 'p.png'}",
                 f"b={tmp_path / 'p.png'}"]) == 0
    names = {p.name for p in out.iterdir()}
    for stem in ("psnr_vs_runtime_vid4", "per_clip_psnr_vid4", "psnr_vs_runtime_demo", "temporal_profiles"):
        assert f"{stem}.png" in names and f"{stem}.svg" in names
    assert (out / "psnr_vs_runtime_vid4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "per_clip_psnr_vid4.svg").read_bytes()[:1000]


def test_regress_detects_a_perturbed_cell(store, tmp_path, capsys):
    base = tmp_path / "baseline.csv"
    assert main(["regress", "--results", str(store), "--baseline", str(base), "--update"]) == 0
    table = read_baseline(base)
    recs = load_results(store)
    assert len(table) == sum(1 + len(r["clips"]) for r in recs) == 2 * (len(RUNS) - 1) + 1 + 3  # demo: 3 clips
    assert main(["regress", "--results", str(store), "--baseline", str(base)]) == 0
    assert "OK" in capsys.readouterr().out

    # perturb one stored result (the clip and the mean) by 0.02 dB
    moved = tmp_path / "moved"
    shutil.copytree(store, moved)
    path = next(p for p in moved.glob("vid4/fstrn-*.json"))
    rec = json.loads(path.read_text())
    clip = next(iter(rec["clips"]))
    rec["psnr"] += 0.02
    rec["clips"][clip]["psnr"] += 0.02
    path.write_text(json.dumps(rec))
    assert main(["regress", "--results", str(moved), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out
    assert "2 cell(s) moved" in out
    lines = [ln for ln in out.splitlines() if "fstrn" in ln and "psnr" in ln]
    assert len(lines) == 2 and any(MEAN in ln for ln in lines) and any(clip in ln for ln in lines)
    assert all("+0.020000" in ln and "vid4" in ln for ln in lines)
    # within tolerance: passes
    assert main(["regress", "--results", str(moved), "--baseline", str(base), "--tolerance-db", "0.03"]) == 0

    # a row that disappears and one that appears are named
    path.unlink()
    rec2 = dict(rec, model="fstrn2")
    (moved / "vid4" / "fstrn2-x.json").write_text(json.dumps(rec2))
    capsys.readouterr()
    assert main(["regress", "--results", str(moved), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out
    assert "2 row(s) appeared" in out and "fstrn2" in out
    assert "2 row(s) disappeared" in out


def test_regress_compare_api_inf_and_ssim():
    cur = pd.DataFrame([{"model": "m", "weights": "none", "suite": "s", "settings": "{}", "clip": MEAN,
                         "psnr": math.inf, "ssim": 1.0}])
    base = cur.copy()
    assert compare(cur, base).ok
    base.loc[0, "psnr"] = 40.0
    base.loc[0, "ssim"] = 0.999
    r = compare(cur, base)
    assert set(r.moved["metric"]) == {"psnr", "ssim"}
    assert compare(cur, base.assign(psnr=math.inf, ssim=0.9996)).ok  # 0.0004 SSIM: within tolerance


def test_regress_missing_baseline_is_a_user_error(store, tmp_path, capsys):
    assert main(["regress", "--results", str(store), "--baseline", str(tmp_path / "none.csv")]) == 2
    assert "--update" in capsys.readouterr().err


def test_metric_table_roundtrip(store, tmp_path):
    t = metric_table(load_results(store))
    p = write_baseline(t, tmp_path / "b.csv")
    assert compare(t, read_baseline(p)).ok


def test_runtime_board_takes_profile_rows(tmp_path, capsys):
    prof = [{"model": "fstrn", "device": "cpu", "dtype": "fp32", "batch": 1, "lr_size": "180x320", "ms_per_frame": 50.0,
             "fps": 20.0, "params": 426561, "flops_per_frame": 2.5e9, "peak_memory_mb": None}]
    boards, _ = build_boards([], reported=False, profiles=prof)
    rt = {b.name: b for b in boards}["runtime"].df
    assert len(rt) == 1 and rt["FLOPs/frame (G)"].iloc[0] == pytest.approx(2.5)
    assert rt["settings"].iloc[0] == "profile, batch 1"
    p = tmp_path / "prof.json"
    p.write_text(json.dumps(prof))
    assert main(["leaderboard", "--results", str(tmp_path / "empty"), "--no-reported", "--profile", str(p)]) == 0
    out = capsys.readouterr()
    assert "| fstrn | random | profile, batch 1 |" in squeeze(out.out) and "2.50" in out.out and "no complete results" in out.err


def test_markdown_board_fits_120_columns_however_many_suites(store, reported_csv):
    from vsrbench.benchmark.suites import SUITES
    from vsrbench.leaderboard.render import render_md

    recs = load_results(store)
    full = next(r for r in recs if r["model"] == "bicubic" and r["suite"] == "demo" and not r["settings"].get("crop"))
    # the full run copied under 14 more suites: 15 suites x (PSNR, SSIM) measured columns, plus the papers' rows
    wide = recs + [dict(full, suite=name, psnr=full["psnr"] + k) for k, name in enumerate(list(SUITES)[2:16])]
    boards, notes = build_boards(wide, reported=reported_csv)
    text = render_md(boards, notes)
    long = [line for line in text.splitlines() if len(line) > 120]
    assert not long, long[:3]
    for name in list(SUITES)[2:16]:
        assert f" {name} PSNR " in text  # every column is still there, in one of the split tables
    assert squeeze(text).count("| model | weights | settings |") > 3  # the measured quality table was split


def test_smoke_rows_are_never_ranked_even_when_better(store):
    from vsrbench.leaderboard.render import render_md

    recs = load_results(store)
    full = next(r for r in recs if r["model"] == "bicubic" and r["suite"] == "demo" and not r["settings"].get("crop"))
    lucky = dict(full, model="lucky", weights="random(seed=7)", psnr=full["psnr"] + 5, ssim=0.99)
    cropped = dict(full, model="cropped", settings={**full["settings"], "crop": [32, 32]}, psnr=full["psnr"] + 6)
    boards, _ = build_boards([full, lucky, cropped], reported=False)
    q = boards[0]
    kinds = dict(zip(q.df["model"], q.df["kind"]))
    assert kinds == {"bicubic": "measured", "lucky": "smoke", "cropped": "smoke"}
    mask = q.best_mask()
    best_rows = set(q.df.loc[mask["demo PSNR"], "model"])
    assert best_rows == {"bicubic"}  # ranked among full runs only, though the smoke rows score higher
    text = render_md(boards)
    main, smoke = text.split("### Smoke checks", 1)
    assert "lucky" not in main and "cropped" not in main and "lucky" in smoke.split("##", 1)[0]
    assert f"**{full['psnr']:.2f}**" in main


def test_reported_rows_are_matched_by_protocol():
    from vsrbench.leaderboard.boards import match_reported_suite as match

    assert match("vid4-bd", "BD", 4, "y", "Bicubic") == "vid4-bd-duf"  # the survey's 21.80: DUF's convention
    assert match("vid4-bd", "BD", 4, "y", "BasicVSR++") == "vid4-bd"
    assert match("vid4-bd", "BD", 4, "y", "Bicubic", convention="bd") == "vid4-bd"  # a CSV column overrides
    assert match("udm10", "BD", 4, "y", "BasicVSR++") == "udm10"
    assert match("udm10", "BD", 4, "y", "Bicubic") == "udm10 (bd-duf)"  # no suite of that protocol: said so
    assert match("vid4-lcvsr", "gauss sigma=1 size=3", 3, "y", "LCVSR") == "vid4-lcvsr-x3"
    assert match("vimeo-fast-noise", "BI stvsr + noise", 4, "y", "ZSM") == "vimeo-fast-noise"
    assert match("vid4-jpeg30", "BI stvsr + jpeg q30", 4, "y", "ZSM") == "vid4-jpeg30"
    assert match("vid3oc-x16", "BI", 16, "rgb", "DKSAN") == "vid3oc-x16"
    assert match("vid3oc-x16", "BI", 16, "y", "DKSAN") == "vid3oc-x16 (bi)"  # other channel: not that suite
    assert match("reds4", "BI", 4, "rgb", "EDVR") == "reds4"
    assert match("brcn5", "blur-bicubic sigma=2", 4, "y", "FSTRN") == "brcn5"


def test_psnr_vs_runtime_keeps_smoke_checks_off_the_axes(store):
    import matplotlib.pyplot as plt

    from vsrbench.leaderboard.plots import psnr_vs_runtime

    recs = load_results(store)
    fig = psnr_vs_runtime(recs, "demo")  # one full run, four smoke checks
    assert len(fig.axes[0].collections) == 1
    assert any("4 smoke check(s)" in t.get_text() for t in fig.texts)
    plt.close(fig)
    fig = psnr_vs_runtime(recs, "vid4")  # smoke checks only: empty axes, and it says why
    assert len(fig.axes[0].collections) == 0 and any("smoke" in t.get_text() for t in fig.texts)
    plt.close(fig)
