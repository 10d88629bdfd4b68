"""CI regression guard: real data against the committed baseline ``baselines/ci_regression.csv``.

Evaluates, into a fresh results store, bicubic (no weights: nothing random) through the real
degradations and metrics:
- on vid4 (with the temporal metrics: tOF, warping error, tPSNR) and vid4-bd, all 171 frames (the
  session's shared records, `vid4_bicubic_results` in conftest.py);
- from the Vimeo-90K samples in ../shared (prepared GT-only into a separate home): both clips of the
  cleaned 'slow' split that the samples hold (7 frames each, LR made from GT), with temporal metrics;
then compares the metric table (mean and per clip: PSNR, SSIM, tOF, warping error, tPSNR) with the
baseline through the `regress` API at 1e-6 dB PSNR, 1e-6 SSIM and 1e-6 relative on the temporal
metrics. Any change to metrics, degradations or data handling that moves a number, or adds / removes
a row, fails with a table naming it.

The learned architectures are guarded by their golden outputs with fixed weights
(tests/test_models_golden.py), not here: random-weight PSNRs depend on torch's init order and pass a
wrong but deterministic network.

Regenerate the baseline (after an intended change) with
``VSRBENCH_UPDATE_BASELINE=1 python -m pytest tests/test_regression_guard.py``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from vsrbench.benchmark.harness import evaluate
from conftest import VID4_BICUBIC_RUNS
from vsrbench.leaderboard.regress import (
    compare,
    metric_table,
    read_baseline,
    write_baseline,
)

BASELINE = Path(__file__).resolve().parents[1] / "baselines" / "ci_regression.csv"
TOLERANCE = dict(tolerance_db=1e-6, tolerance_ssim=1e-6, tolerance_temporal=1e-6)

VID4_RUNS = [("bicubic", suite, temporal) for suite, temporal in VID4_BICUBIC_RUNS]
VIMEO_RUNS = [("bicubic", "vimeo-slow", True)]


def _run(runs, results, home=None) -> list[dict]:
    return [evaluate(model, suite, device="cpu", temporal=temporal, results=results, progress=False, home=home)
            for model, suite, temporal in runs]


@pytest.fixture(scope="module")
def current(prepared_home, shared_dir, vid4_bicubic_results, tmp_path_factory):
    from vsrbench.datasets import prepare

    res = tmp_path_factory.mktemp("guard_results")
    vhome = tmp_path_factory.mktemp("guard_vimeo_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(prepared_home))
        recs = _run(VID4_RUNS, vid4_bicubic_results)
        mp.setenv("VSRBENCH_HOME", str(vhome))  # the motion-split lists are found under the home
        prepare("vimeo90k", variants="", source=shared_dir / "data" / "vimeo90k", home=vhome, progress=False,
                quiet=True)
        recs += _run(VIMEO_RUNS, res, home=vhome)
    return metric_table(recs)


def test_store_is_what_the_guard_expects(current):
    means = current[current["clip"] == "(mean)"]
    assert len(means) == len(VID4_RUNS) + len(VIMEO_RUNS)
    assert set(current["weights"]) == {"none"}  # nothing random is pinned
    bic = means[(means["model"] == "bicubic") & (means["suite"] == "vid4")].iloc[0]
    assert bic["psnr"] == pytest.approx(23.7836, abs=1e-3) and bic["ssim"] == pytest.approx(0.6347, abs=1e-4)
    bd = means[means["suite"] == "vid4-bd"].iloc[0]
    assert bd["psnr"] == pytest.approx(23.44, abs=5e-3) and bd["ssim"] == pytest.approx(0.6171, abs=5e-4)
    assert len(current[(current["model"] == "bicubic") & (current["suite"] == "vimeo-slow")]) == 3  # 2 clips
    # temporal metrics on every row of the runs that compute them: finite, and in their ranges
    timed = current[current["suite"] != "vid4-bd"]
    assert len(timed) == 5 + 3 and current[current["suite"] == "vid4-bd"]["tof"].isna().all()
    for m in ("tof", "warping_error", "tpsnr"):
        assert timed[m].map(math.isfinite).all(), m
    assert (timed["tof"] > 0).all() and (timed["warping_error"] > 0).all() and (timed["tpsnr"] > 10).all()


def test_metrics_match_the_committed_baseline(current):
    if os.environ.get("VSRBENCH_UPDATE_BASELINE"):
        write_baseline(current, BASELINE)
        pytest.skip(f"baseline rewritten: {BASELINE} ({len(current)} rows)")
    assert BASELINE.is_file(), f"{BASELINE} is missing; create it with VSRBENCH_UPDATE_BASELINE=1"
    base = read_baseline(BASELINE)
    assert set(base["weights"]) == {"none"}, "the baseline must not pin random-weight rows"
    report = compare(current, base, **TOLERANCE)
    assert report.ok, "\n" + report.format()


def test_guard_tolerance_sees_a_microdecibel(current):
    """1e-6 dB is what the guard allows: a 1e-5 dB change in one clip is caught."""
    moved = current.copy()
    moved.loc[moved.index[1], "psnr"] += 1e-5
    moved.loc[moved.index[2], "tof"] *= 1 + 1e-5
    r = compare(moved, current, **TOLERANCE)
    assert len(r.moved) == 2 and set(r.moved["metric"]) == {"psnr", "tof"}
