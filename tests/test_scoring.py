"""One scoring engine: `score` and `evaluate` give the same per-frame rows on real Vid4 frames."""

import csv

import numpy as np
import pytest

from vsrbench.benchmark.folders import score_folders
from vsrbench.benchmark.harness import evaluate
from vsrbench.benchmark.scoring import Protocol, score_frames
from vsrbench.cli import main
from vsrbench.errors import VsrbenchError
from vsrbench.metrics import psnr_ssim


def test_score_and_evaluate_score_vid4_calendar_frame_for_frame(home, shared_dir, tmp_path, capsys):
    sr = tmp_path / "sr"
    r = evaluate("bicubic", "vid4", device="cpu", limit_clips=1, temporal=False, save_outputs=str(sr),
                 progress=False, results=str(tmp_path / "res"))
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "calendar").symlink_to(shared_dir / "data/vid4/GT/calendar")
    s = score_folders(sr, gt, modcrop=4)  # the suite's protocol: Y, crop 0, GT modcropped to x4
    ev = r["clips"]["calendar"]["frames"]
    sc = s["clips"]["calendar"]["frames"]
    assert len(ev) == len(sc) == 41
    assert [(f["gt_index"], f["psnr"], f["ssim"]) for f in sc] == [(f["gt_index"], f["psnr"], f["ssim"]) for f in ev]
    assert sc[0]["pred"] == "00000000.png" and sc[0]["gt"] == "Frame 001.png"
    # the values of the two engines before they were one (per frame, and the published clip mean)
    assert abs(ev[0]["psnr"] - 20.25632758895317) < 1e-9 and abs(ev[0]["ssim"] - 0.5608132132259612) < 1e-9
    assert abs(ev[40]["psnr"] - 20.581604360868436) < 1e-9 and abs(ev[40]["ssim"] - 0.5859174192367773) < 1e-9
    assert abs(s["psnr"] - 20.3945) < 1e-4 and s["psnr"] == r["clips"]["calendar"]["psnr"]
    # the CSV: evaluate's row naming
    assert main(["score", "--pred", str(sr), "--gt", str(gt), "--modcrop", "4", "--format", "csv"]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows[0] == ["clip", "gt_index", "pred", "gt", "psnr", "ssim"] and len(rows) == 42
    assert rows[41][:4] == ["calendar", "40", "00000040.png", "Frame 041.png"]
    assert float(rows[41][4]) == ev[40]["psnr"] and float(rows[41][5]) == ev[40]["ssim"]


def test_score_frames_modcrops_checks_and_names_the_frames(shared_dir):
    import cv2

    g = cv2.cvtColor(cv2.imread(str(shared_dir / "data/vid4/GT/calendar/Frame 001.png")), cv2.COLOR_BGR2RGB)
    g = np.ascontiguousarray(g[:-3, :-5])  # 715x573: modcrop x8 is 712x568, x4 is 712x572
    h, w = g.shape[:2]
    sr = np.ascontiguousarray(np.roll(g, 1, axis=1)[: h - h % 8, : w - w % 8])
    rows = score_frames([sr], [g], Protocol(crop_border=4, channel="rgb", modcrop=8), indices=[7])
    assert rows == [{"gt_index": 7, "psnr": pytest.approx(psnr_ssim(sr, g[: sr.shape[0], : sr.shape[1]], 4, "rgb")[0],
                                                          abs=0), "ssim": rows[0]["ssim"]}]
    assert rows[0]["ssim"] == psnr_ssim(sr, g[: sr.shape[0], : sr.shape[1]], 4, "rgb")[1]
    with pytest.raises(VsrbenchError, match=r"^out 3: shape .* does not match ground truth gt 3 .*\(after modcrop x4\)$"):
        score_frames([sr], [g], Protocol(modcrop=4), indices=[3], labels=lambda i: (f"out {i}", f"gt {i}"))
    with pytest.raises(VsrbenchError, match=r"^gt 0: frame is 12x12 .* too small to score"):
        score_frames([g[:12, :12]], [g[:12, :12]], Protocol(crop_border=1), labels=lambda i: ("out", f"gt {i}"))
