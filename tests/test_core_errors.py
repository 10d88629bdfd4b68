"""Foundation 'Done when' 6: bad inputs give a clear error, a non-zero exit and no partial output."""

import subprocess
import sys

import numpy as np
import pytest

from vsrbench.cli import main
from vsrbench.datasets.frames import write_frame


def _clip(root, name="clip", n=4, size=(32, 48), start=1, fmt="f{:03d}.png"):
    d = root / name
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(start, start + n):
        write_frame(d / fmt.format(i), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return d


def _run(args):
    """The installed entry point, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "vsrbench.cli", *args], capture_output=True, text=True)


def test_corrupt_png_in_degrade(tmp_path):
    gt = tmp_path / "gt"
    d = _clip(gt)
    (d / "f003.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    out = tmp_path / "lr"
    r = _run(["degrade", "--input", str(gt), "--output", str(out), "--spec", "bi:x4", "--workers", "2"])
    assert r.returncode == 2
    assert "f003.png" in r.stderr and "corrupt" in r.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["gt"]  # no temporary folder left either


def test_missing_frame_in_degrade_and_in_score(tmp_path, capsys):
    gt = tmp_path / "gt"
    d = _clip(gt, n=5)
    (d / "f003.png").unlink()
    out = tmp_path / "lr"
    assert main(["degrade", "--input", str(gt), "--output", str(out), "--spec", "bi:x2"]) == 2
    err = capsys.readouterr().err
    assert "missing frame number(s) 3" in err and "--allow-gaps" in err
    assert not out.exists()
    # scoring 3 predictions against 4 GT frames names both counts
    gt2 = tmp_path / "gt2"
    _clip(gt2, n=4)
    pred = tmp_path / "pred"
    _clip(pred, n=3)
    assert main(["score", "--pred", str(pred), "--gt", str(gt2)]) == 2
    err = capsys.readouterr().err
    assert "3 frames" in err and "has 4" in err and "missing" in err


def test_shape_mismatch_in_score_and_in_degrade(tmp_path, capsys):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    _clip(gt, size=(32, 48))
    _clip(pred, size=(32, 44))
    assert main(["score", "--pred", str(pred), "--gt", str(gt)]) == 2
    err = capsys.readouterr().err
    assert "44x32" in err and "48x32" in err
    # a frame of another size inside a clip
    mixed = tmp_path / "mixed"
    d = _clip(mixed, size=(32, 48))
    write_frame(d / "f002.png", np.zeros((16, 48, 3), np.uint8))
    out = tmp_path / "lr"
    assert main(["degrade", "--input", str(mixed), "--output", str(out), "--spec", "bi:x4"]) == 2
    assert "f002.png" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_spec_lists_valid_ones(tmp_path):
    gt = tmp_path / "gt"
    _clip(gt)
    out = tmp_path / "lr"
    r = _run(["degrade", "--input", str(gt), "--output", str(out), "--spec", "bicubic:x4"])
    assert r.returncode == 2
    assert "unknown operation 'bicubic'" in r.stderr
    for valid in ("bi:x4", "bd:x4", "bd-duf:x4", "gauss:sigma=1,size=3:x4", "noise", "jpeg:q=20", "frames:odd"):
        assert valid in r.stderr
    assert not out.exists()


def test_clip_on_one_side_only_and_empty_folder(tmp_path, capsys):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    _clip(gt, "a")
    _clip(gt, "b")
    _clip(pred, "a")
    assert main(["score", "--pred", str(pred), "--gt", str(gt)]) == 2
    assert "only: b" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["score", "--pred", str(empty), "--gt", str(gt)]) == 2
    assert "empty folder" in capsys.readouterr().err


def test_identical_frames_report_inf_and_keep_it_out_of_means(tmp_path, capsys):
    gt = tmp_path / "gt"
    _clip(gt, "a")
    _clip(gt, "b", size=(32, 48))
    pred = tmp_path / "pred"
    _clip(pred, "a")
    d = _clip(pred, "b")
    write_frame(d / "f001.png", np.full((32, 48, 3), 9, np.uint8))  # one frame differs
    assert main(["score", "--pred", str(pred), "--gt", str(gt), "--format", "json"]) == 0
    import json

    r = json.loads(capsys.readouterr().out)
    assert r["n_inf"] == 7
    assert r["clips"]["a"]["psnr"] is None and r["clips"]["a"]["n_inf"] == 4
    assert r["clips"]["b"]["frames"][1]["psnr"] is None
    assert r["psnr"] == pytest.approx(r["clips"]["b"]["frames"][0]["psnr"])  # only finite value
    assert main(["score", "--pred", str(pred), "--gt", str(gt)]) == 0
    assert "PSNR = inf" in capsys.readouterr().out


def test_existing_output_is_not_overwritten_without_flag(tmp_path, capsys):
    gt = tmp_path / "gt"
    _clip(gt)
    out = tmp_path / "lr"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    assert main(["degrade", "--input", str(gt), "--output", str(out), "--spec", "bi:x2"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "user data"
    assert main(["degrade", "--input", str(gt), "--output", str(out), "--spec", "bi:x2", "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "clip").iterdir()) == ["f001.png", "f002.png", "f003.png", "f004.png"]
