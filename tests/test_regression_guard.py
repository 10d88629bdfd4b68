"""CI regression guard: real data against the committed baseline ``baselines/ci_regression.csv``.

Evaluates, into a fresh results store:
- bicubic on vid4 and vid4-bd, all 171 frames (temporal metrics off: not part of the table);
- lcvsr, fstrn and zsm with seeded random weights (seed 0) on a 16x16 centre crop of Vid4's first clip;
- dksan (x16 only) with seeded random weights on a 64x64 crop of the first demo clip (demo-x16);
- from the Vimeo-90K samples in ../shared (prepared GT-only into a separate home): bicubic on
  both clips of the cleaned 'slow' split that the samples hold, and lcvsr, fstrn, zsm on a 16x16
  crop of its first clip (7 frames each);
then compares the metric table (mean and per clip, PSNR and SSIM) with the baseline through the
`regress` API. Any change to metrics, degradations, data handling or architectures that moves a
number beyond 0.01 dB / 0.0005 SSIM, or adds / removes a row, fails with a table naming it.

Regenerate the baseline (after an intended change) with
``VSRBENCH_UPDATE_BASELINE=1 python -m pytest tests/test_regression_guard.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vsrbench.benchmark.harness import evaluate, load_results
from vsrbench.leaderboard.regress import (
    compare,
    metric_table,
    read_baseline,
    write_baseline,
)

BASELINE = Path(__file__).resolve().parents[1] / "baselines" / "ci_regression.csv"

VID4_RUNS = [
    ("bicubic", "vid4", {}),
    ("bicubic", "vid4-bd", {}),
    ("lcvsr", "vid4", {"limit_clips": 1, "crop": (16, 16)}),
    ("fstrn", "vid4", {"limit_clips": 1, "crop": (16, 16)}),
    ("zsm", "vid4", {"limit_clips": 1, "crop": (16, 16)}),
    ("dksan", "demo-x16", {"limit_clips": 1, "crop": (64, 64)}),
]
VIMEO_RUNS = [
    ("bicubic", "vimeo-slow", {}),
    ("lcvsr", "vimeo-slow", {"limit_clips": 1, "crop": (16, 16)}),
    ("fstrn", "vimeo-slow", {"limit_clips": 1, "crop": (16, 16)}),
    ("zsm", "vimeo-slow", {"limit_clips": 1, "crop": (16, 16)}),
]


def _run(runs, results, home=None):
    for model, suite, kw in runs:
        evaluate(model, suite, device="cpu", seed=0, temporal=False, results=results, progress=False,
                 home=home, **kw)


@pytest.fixture(scope="module")
def current(prepared_home, shared_dir, tmp_path_factory):
    from vsrbench.datasets import prepare

    res = tmp_path_factory.mktemp("guard_results")
    vhome = tmp_path_factory.mktemp("guard_vimeo_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(prepared_home))
        _run(VID4_RUNS, res)
        mp.setenv("VSRBENCH_HOME", str(vhome))  # the motion-split lists are found under the home
        prepare("vimeo90k", variants="", source=shared_dir / "data" / "vimeo90k", home=vhome, progress=False,
                quiet=True)
        _run(VIMEO_RUNS, res, home=vhome)
    return metric_table(load_results(res))


def test_store_is_what_the_guard_expects(current):
    means = current[current["clip"] == "(mean)"]
    assert len(means) == len(VID4_RUNS) + len(VIMEO_RUNS)
    bic = means[(means["model"] == "bicubic") & (means["suite"] == "vid4")].iloc[0]
    assert bic["psnr"] == pytest.approx(23.7836, abs=1e-3) and bic["ssim"] == pytest.approx(0.6347, abs=1e-4)
    assert len(current[(current["model"] == "bicubic") & (current["suite"] == "vimeo-slow")]) == 3  # 2 clips


def test_metrics_match_the_committed_baseline(current):
    if os.environ.get("VSRBENCH_UPDATE_BASELINE"):
        write_baseline(current, BASELINE)
        pytest.skip(f"baseline rewritten: {BASELINE} ({len(current)} rows)")
    assert BASELINE.is_file(), f"{BASELINE} is missing; create it with VSRBENCH_UPDATE_BASELINE=1"
    report = compare(current, read_baseline(BASELINE), tolerance_db=0.01, tolerance_ssim=0.0005)
    assert report.ok, "\n" + report.format()
