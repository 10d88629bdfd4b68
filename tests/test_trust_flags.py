"""Issue 19 items 10 and 15, issue 20 defect 3: every number a user passes is checked once, at parse time
for flags and on entry for the Python API (one line, status 2, nothing written); worker counts are capped
at the usable cores with one warning; ``VSRBENCH_HOME`` is resolved in one place (``~`` expanded, an
unknown ``~user`` one line)."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from vsrbench import numeric
from vsrbench.cli import build_parser, main
from vsrbench.datasets.frames import natural_key, read_frame
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError
from vsrbench.sizes import hw_label

BIG = "1180591620717411303424"  # 2**70


def _snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def clips(tmp_path, shared_dir, monkeypatch):
    """Two real Vid4 frames as one clip folder (the only thing under tmp_path); VSRBENCH_HOME unmade."""
    src = sorted((shared_dir / "data/vid4/GT/calendar").iterdir())[:2]
    d = tmp_path / "in" / "calendar"
    d.mkdir(parents=True)
    for f in src:
        shutil.copy(f, d / f.name)
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "in"


def _cli(capsys, argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


IN, OUT = "{in}", "{out}"
EVAL = ["evaluate", "--model", "bicubic", "--suite", "vid4"]
SWEEP = ["sweep", "--models", "bicubic", "--suites", "vid4", "--results", OUT]
TRAIN = ["train", "--model", "fstrn", "--recipe", "quick", "--out", OUT]

#: (argv, what the one error line must name)
BAD = [
    (["degrade", "--input", IN, "--output", OUT, "--spec", "bi:x²"], "'²' (U+00B2) is not allowed"),
    (["degrade", "--input", IN, "--output", OUT, "--spec", "bi:x①"], "'①' (U+2460) is not allowed"),
    (["degrade", "--input", IN, "--output", OUT, "--spec", "bi:x4+jpeg:q=²⁰"], "'²' (U+00B2) is not allowed"),
    (["degrade", "--input", IN, "--output", OUT, "--spec", "bi:x4", "--workers", "0"], "--workers must be >= 1, got 0"),
    (["degrade", "--input", IN, "--output", OUT, "--spec", "bi:x4", "--workers", "²"], "--workers must be an integer"),
    (["upscale", "--input", IN, "--output", OUT, "--scale", "0"], "--scale must be >= 1, got 0"),
    (["score", "--pred", IN, "--gt", IN, "--crop-border", "-1"], "--crop-border must be >= 0, got -1"),
    (["score", "--pred", IN, "--gt", IN, "--modcrop", "-4"], "--modcrop must be >= 0, got -4"),
    (["score", "--pred", IN, "--gt", IN, "--workers", "-2", "--output", OUT], "--workers must be >= 1, got -2"),
    (["prepare", "demo", "--commit-every", "-1"], "--commit-every must be >= 1, got -1"),
    (["prepare", "demo", "--workers", "1e3"], "--workers must be an integer >= 1, got '1e3'"),
    ([*EVAL, "--seed", BIG, "--results", OUT], f"--seed must be in 0..4294967295, got {BIG}"),
    ([*EVAL, "--seed", "-1", "--results", OUT], "--seed must be in 0..4294967295, got -1"),
    ([*EVAL, "--crop", "0x0", "--results", OUT], "--crop must be HEIGHTxWIDTH with sizes in 1..16384"),
    ([*EVAL, "--crop=-8x-8", "--results", OUT], "got '-8x-8'"),
    ([*EVAL, "--crop", "64x", "--results", OUT], "got '64x'"),
    ([*EVAL, "--crop", "²x64", "--results", OUT], "got '²x64'"),
    ([*EVAL, "--limit-clips", "-1", "--results", OUT], "--limit-clips must be >= 1, got -1"),
    ([*EVAL, "--limit-clips", "0", "--results", OUT], "--limit-clips must be >= 1, got 0"),
    ([*EVAL, "--tile", "-8", "--results", OUT], "--tile must be >= 0, got -8"),
    ([*EVAL, "--batch", "0", "--results", OUT], "--batch must be >= 1, got 0"),
    ([*SWEEP, "--limit-clips", "0"], "--limit-clips must be >= 1, got 0"),
    ([*SWEEP, "--seed", BIG], "--seed must be in 0..4294967295"),
    ([*SWEEP, "--crop", "0x64"], "--crop must be HEIGHTxWIDTH"),
    ([*SWEEP, "--retries", "-1"], "--retries must be >= 0, got -1"),
    (["profile", "--model", "bicubic", "--lr-size", "0x320"], "--lr-size must be HEIGHTxWIDTH"),
    (["profile", "--model", "bicubic", "--repeats", "0"], "--repeats must be >= 1, got 0"),
    (["profile", "--model", "bicubic", "--batch", "-1"], "--batch must be >= 1, got -1"),
    (["profile", "--model", "bicubic", "--scale", "-4"], "--scale must be >= 1, got -4"),
    (["regress", "--baseline", OUT, "--tolerance-db", "-0.1"], "--tolerance-db must be >= 0, got -0.1"),
    (["regress", "--baseline", OUT, "--tolerance-ssim", "nan"], "--tolerance-ssim must be a number >= 0, got 'nan'"),
    (["regress", "--baseline", OUT, "--tolerance-db", "inf"], "--tolerance-db must be a number >= 0, got 'inf'"),
    ([*TRAIN, "--workers", "-1"], "--workers must be >= 0, got -1"),
    ([*TRAIN, "--seed", BIG], "--seed must be in 0..4294967295"),
    ([*TRAIN, "--iters", "0"], "--iters must be >= 1, got 0"),
    ([*TRAIN, "--batch", "-2"], "--batch must be >= 1, got -2"),
    ([*TRAIN, "--patch", "0"], "--patch must be >= 1, got 0"),
    ([*TRAIN, "--checkpoint-every", "0"], "--checkpoint-every must be >= 1, got 0"),
]


@pytest.mark.parametrize("argv,msg", BAD, ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD])
def test_bad_numbers_are_one_line_and_write_nothing(clips, tmp_path, capsys, argv, msg):
    before = _snapshot(tmp_path)
    out = tmp_path / "out"
    rc, stdout, err = _cli(capsys, [str(clips) if a == IN else str(out) if a == OUT else a for a in argv])
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and stdout == "", err
    assert err.startswith(f"vsrbench {argv[0]}: error: ") and msg in err, err
    assert _snapshot(tmp_path) == before  # no run.json, no output folder, no home, no results store


def test_full_width_digits_still_work_and_give_the_ascii_bytes(clips, tmp_path, capsys):
    """Full-width digits (CJK keyboards) worked before and still do: the same spec, byte for byte."""
    assert parse_spec("ｂｉ:ｘ４+jpeg:q=２０").spec == "bi:x4+jpeg:q=20"
    for name, spec in (("ascii", "bi:x4"), ("wide", "bi:x４")):
        rc, out, _ = _cli(capsys, ["degrade", "--input", clips, "--output", tmp_path / name, "--spec", spec])
        assert rc == 0 and "(bi:x4)" in out
    frames = sorted((tmp_path / "ascii" / "calendar").iterdir())
    assert len(frames) == 2
    for f in frames:
        a, b = read_frame(f), read_frame(tmp_path / "wide" / "calendar" / f.name)
        assert a.shape == (144, 180, 3) and np.array_equal(a, b)


def test_digit_lookalikes_never_reach_int():
    """str.isdigit accepts '²' and '①', int() does not: every parser reads ASCII digits only."""
    assert natural_key("f1²") == ["f", 1, "²"] and natural_key("f１０") == ["f", 10, ""]
    assert hw_label("²x3") == "²x3" and hw_label("144x180") == "180x144 (WxH)"
    for bad in ("bi:x²", "bi:x①", "bi:x١", "jpeg:q=①"):
        with pytest.raises(VsrbenchError, match="is not allowed: a spec is ASCII"):
            parse_spec(bad)
    assert numeric.check_int("４２", "n") == 42 and numeric.check_seed(np.int64(7), "seed") == 7
    for bad in ("4²", "①", "٣", "4.0", True, 4.0, None, "9" * 5000):
        with pytest.raises(VsrbenchError, match="^n must be an integer"):
            numeric.check_int(bad, "n")


def test_the_api_checks_the_same_numbers(tmp_path, monkeypatch):
    """evaluate, sweep, score, degrade, prepare and train refuse what the flags refuse, before writing."""
    from vsrbench.benchmark.folders import score_folders
    from vsrbench.benchmark.harness import evaluate
    from vsrbench.benchmark.sweep import sweep
    from vsrbench.datasets.lr import degrade_folder
    from vsrbench.datasets.prepare import prepare
    from vsrbench.training import train

    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    res = tmp_path / "results"
    cases = [
        (lambda: evaluate("bicubic", "vid4", limit_clips=0, results=res), "limit_clips must be >= 1, got 0"),
        (lambda: evaluate("bicubic", "vid4", limit_clips=-1, results=res), "limit_clips must be >= 1, got -1"),
        (lambda: evaluate("bicubic", "vid4", crop=(0, 0), results=res), "crop must be HEIGHTxWIDTH"),
        (lambda: evaluate("bicubic", "vid4", seed=2**70, results=res), "seed must be in 0..4294967295"),
        (lambda: evaluate("bicubic", "vid4", tile=-1, results=res), "tile must be >= 0"),
        (lambda: sweep(["bicubic"], ["vid4"], results=res, limit_clips=0), "limit_clips must be >= 1"),
        (lambda: sweep(["bicubic"], ["vid4"], results=res, crop=(-8, -8)), "crop must be HEIGHTxWIDTH"),
        (lambda: score_folders(tmp_path, tmp_path, crop_border=-1), "crop_border must be >= 0, got -1"),
        (lambda: degrade_folder(tmp_path, tmp_path / "o", "bi:x4", workers=0), "workers must be >= 1, got 0"),
        (lambda: prepare("demo", workers=-1, home=tmp_path / "home"), "workers must be >= 1, got -1"),
        (lambda: prepare("demo", commit_every=0, home=tmp_path / "home"), "commit_every must be >= 1, got 0"),
        (lambda: train("fstrn", recipe="quick", out=tmp_path / "R", workers=-1), "workers must be >= 0, got -1"),
        (lambda: train("fstrn", recipe="quick", out=tmp_path / "R", seed=-1), "seed must be in 0..4294967295"),
        (lambda: train("fstrn", recipe="quick", out=tmp_path / "R", patch=(32, 0)), "patch must be >= 1, got 0"),
    ]
    for call, msg in cases:
        with pytest.raises(VsrbenchError) as e:
            call()
        assert str(e.value).startswith(msg), (msg, str(e.value))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ workers


def test_workers_are_capped_at_the_usable_cores_with_one_warning(clips, tmp_path, capsys, monkeypatch):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert numeric.usable_cores() == cores
    monkeypatch.setattr(numeric, "usable_cores", lambda: 2)
    for argv, dest in (
        (["degrade", "--input", "i", "--output", "o", "--spec", "bi:x4", "--workers", "24"], 2),
        (["score", "--pred", "p", "--gt", "g", "--workers", "3"], 2),
        (["prepare", "demo", "--workers", "99"], 2),
        (["train", "--model", "fstrn", "--out", "R", "--workers", "24"], 2),
        (["train", "--model", "fstrn", "--out", "R", "--workers", "0"], 0),
        (["degrade", "--input", "i", "--output", "o", "--spec", "bi:x4", "--workers", "2"], 2),
    ):
        capsys.readouterr()
        assert build_parser().parse_args(argv).workers == dest
        err = capsys.readouterr().err
        if int(argv[-1]) > 2:
            assert err == f"vsrbench: warning: --workers {argv[-1]} is more than the 2 usable CPU core(s); using 2\n"
        else:
            assert err == ""
    # the API caps too: degrade_folder(workers=24) hands joblib 2 processes, and the frames are right
    import joblib

    seen = []
    real = joblib.Parallel

    def spy(*a, **kw):
        seen.append(kw.get("n_jobs"))
        return real(*a, **kw)

    monkeypatch.setattr(joblib, "Parallel", spy)
    from vsrbench.datasets.lr import degrade_folder

    capsys.readouterr()
    s = degrade_folder(clips, tmp_path / "lr", "bi:x4", workers=24, progress=False)
    assert seen == [2] and s["frames"] == 2
    assert capsys.readouterr().err.count("workers 24 is more than the 2 usable CPU core(s); using 2") == 1
    assert read_frame(sorted((tmp_path / "lr" / "calendar").iterdir())[0]).shape == (144, 180, 3)
    # --scheduler local:N is the same kind of count
    from vsrbench.cluster import parse_scheduler

    assert parse_scheduler("local:3") == ("local", 3)
    with pytest.raises(VsrbenchError, match="local:N must be >= 1, got 0"):
        parse_scheduler("local:0")


# --------------------------------------------------------------------------------------------- home


def test_vsrbench_home_is_resolved_in_one_place(tmp_path, monkeypatch, capsys):
    from vsrbench.benchmark.lpips_weights import weights_dir
    from vsrbench.benchmark.results import results_dir
    from vsrbench.benchmark.tecogan_run import cache_dir
    from vsrbench.datasets.catalog import vsrbench_home
    from vsrbench.datasets.stores import store_path

    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.setenv("VSRBENCH_HOME", "~/vsr")
    home = tmp_path / "me" / "vsr"
    assert vsrbench_home() == home
    assert results_dir() == home / "results"
    assert weights_dir() == home / "weights"
    assert cache_dir("vid4") == home / "cache" / "tecogan" / "vid4"
    assert str(store_path("vid4", "GT", "test", "lmdb")).startswith(str(home) + os.sep)
    monkeypatch.delenv("VSRBENCH_HOME")
    assert vsrbench_home() == tmp_path / "me" / ".cache" / "vsrbench" and results_dir().parent == vsrbench_home()
    # an unknown user: one line naming the variable and the fix, from every command that reads it
    monkeypatch.setenv("VSRBENCH_HOME", "~nouser-vsrbench-test/x")
    for argv in (["datasets"], ["leaderboard", "--no-reported"], ["prepare", "demo"]):
        rc, out, err = _cli(capsys, argv)
        assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert err == (f"vsrbench {argv[0]}: error: VSRBENCH_HOME='~nouser-vsrbench-test/x': cannot expand "
                       "'~nouser-vsrbench-test': no user 'nouser-vsrbench-test' on this machine; set VSRBENCH_HOME "
                       "to an absolute path (e.g. /data/vsrbench)\n")
    with pytest.raises(VsrbenchError, match="^VSRBENCH_HOME="):
        results_dir()
    assert not (tmp_path / "me").exists()
