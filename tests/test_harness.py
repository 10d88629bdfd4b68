"""Evaluation harness 'Done when': published Vid4 numbers through prepare + evaluate, the STVSR
protocol, every model on a suite it fits, resume after a kill, errors that name the cause."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from vsrbench.benchmark.harness import evaluate
from vsrbench.benchmark.results import load_results
from vsrbench.cli import main
from vsrbench.datasets import is_complete, store_path
from vsrbench.errors import VsrbenchError
from vsrbench.models import ModelSpec, register_model

PER_CLIP_BI = {
    "calendar": (20.3945, 0.5720),
    "city": (25.1648, 0.6028),
    "foliage": (23.4713, 0.5666),
    "walk": (26.1037, 0.7974),
}


def test_evaluate_bicubic_vid4_matches_published(home, vid4_bicubic_results, capsys):
    # the session's full Vid4 pass (conftest.vid4_bicubic_results), read back through the CLI
    args = ["evaluate", "--model", "bicubic", "--suite", "vid4", "--device", "cpu", "--format", "json",
            "--results", str(vid4_bicubic_results)]
    assert main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r.get("skipped")  # the CLI's defaults are the API's: the same record, not a second pass
    assert r["n_frames"] == 171 and r["n_clips"] == 4
    assert abs(r["psnr"] - 23.78) <= 0.005 and abs(r["ssim"] - 0.6347) <= 0.0005
    for clip, (p, s) in PER_CLIP_BI.items():
        assert abs(r["clips"][clip]["psnr"] - p) < 1e-4 and abs(r["clips"][clip]["ssim"] - s) < 1e-4
    rt = r["runtime"]
    assert rt["dtype"] == "fp32" and rt["batch"] == 1 and rt["lr_size"] == "144x180, 144x176, 120x180" and rt["device"]
    assert rt["ms_per_frame"] > 0 and rt["params"] == 0
    assert r["provenance"]["torch"] == torch.__version__
    assert r["settings"]["temporal"] is True and r["temporal"]["tof"] > 0
    # a rerun skips the scored suite
    again = evaluate("bicubic", "vid4", device="cpu", progress=False, results=vid4_bicubic_results)
    assert again.get("skipped") and again["psnr"] == r["psnr"]
    assert any(x["suite"] == "vid4" and x["model"] == "bicubic" and x["id"] == r["id"]
               for x in load_results(vid4_bicubic_results))


@pytest.mark.parametrize("suite,psnr,ssim,tol", [("vid4-bd", 23.44, 0.6171, 0.005), ("vid4-bd-duf", 21.80, 0.5428, 0.01)])
def test_evaluate_bicubic_bd_suites(home, vid4_bicubic_results, suite, psnr, ssim, tol):
    if suite == "vid4-bd":  # the session's shared pass (conftest.vid4_bicubic_results)
        r = evaluate("bicubic", suite, device="cpu", temporal=False, progress=False, results=vid4_bicubic_results)
        assert r.get("skipped")
    else:
        r = evaluate("bicubic", suite, device="cpu", temporal=False, progress=False)
    assert abs(r["psnr"] - psnr) <= tol and abs(r["ssim"] - ssim) <= 0.0005
    if suite == "vid4-bd":  # a prepared LMDB variant
        assert r["lr_source"] == "prepared store"
    else:  # not prepared: made from the GT store once and kept beside it (not on the fly)
        path = store_path("vid4", "bd-duf:x4", "all", "lmdb", home)
        assert is_complete(path) and str(path) in r["lr_source"], r["lr_source"]


def test_zsm_stvsr_protocol_scores_every_frame_once(home):
    r = evaluate("zsm", "vid4", device="cpu", limit_clips=1, crop=(16, 16), temporal=False, progress=False,
                 random_weights=True)
    frames = r["clips"]["calendar"]["frames"]
    assert [f["gt_index"] for f in frames] == list(range(41))
    assert r["weights"] == "random(seed=0)" and r["settings"]["crop"] == [16, 16]
    assert 0 < r["psnr"] < 20  # random weights: far from the GT, but finite and scored
    assert r["runtime"]["lr_size"] == "4x4"
    assert "on the fly" in r["lr_source"]  # the LR of a crop: never cached


@pytest.mark.parametrize(
    "model,suite,crop",
    [("lcvsr", "vid4", (24, 24)), ("fstrn", "vid4", (32, 32)), ("dksan", "demo-x16", (64, 64)), ("bicubic", "demo", None)],
)
def test_each_model_runs_on_a_suite_its_interface_fits(home, model, suite, crop):
    r = evaluate(model, suite, device="cpu", limit_clips=1, crop=crop, temporal=False, progress=False,
                 random_weights=True)
    clip = next(iter(r["clips"].values()))
    assert r["n_frames"] == clip["n_frames"] > 10 and r["psnr"] is not None
    assert r["runtime"]["ms_per_frame"] > 0


def test_interface_the_suite_cannot_feed(home):
    with pytest.raises(VsrbenchError, match="x16.*'vid4' is x4"):
        evaluate("dksan", "vid4", device="cpu")


def test_dataset_not_prepared_names_the_prepare_command(home):
    with pytest.raises(VsrbenchError, match="vsrbench prepare udm10"):
        evaluate("bicubic", "udm10", device="cpu")


def test_checkpoint_for_another_architecture(home, tmp_path):
    from vsrbench.models import create_model

    ck = tmp_path / "fstrn.pth"
    torch.save(create_model("fstrn").state_dict(), ck)
    with pytest.raises(VsrbenchError, match="does not fit model 'lcvsr'"):
        evaluate("lcvsr", "vid4", checkpoint=str(ck), device="cpu", limit_clips=1, crop=(32, 32))


class _Broken(torch.nn.Module):
    def __init__(self, scale=4, mode="nan"):
        super().__init__()
        self.scale, self.mode = scale, mode

    def forward(self, x):
        y = torch.nn.functional.interpolate(x[:, 0], scale_factor=self.scale)[:, None]
        if self.mode == "nan":
            y[0, 0, 0, 0, 0] = float("nan")
        else:
            y = y * 255.0
        return y


_SPEC = ModelSpec(task="vsr", frames_in=1, frames_out=1, colour="rgb", scales=(4,))
register_model("test-nan", _SPEC)(lambda scale=4: _Broken(scale, "nan"))
register_model("test-range", _SPEC)(lambda scale=4: _Broken(scale, "range"))


def test_nan_and_range_errors_name_the_cause(home):
    with pytest.raises(VsrbenchError, match=r"NaN/inf in output frame\(s\) \[0\]"):
        evaluate("test-nan", "demo", device="cpu", limit_clips=1)
    with pytest.raises(VsrbenchError, match="declares values in"):
        evaluate("test-range", "demo", device="cpu", limit_clips=1)


def test_killed_evaluation_resumes_at_the_clip_it_stopped_in(home, tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "vsrbench.cli", "evaluate", "--model", "bicubic", "--suite", "vid4",
           "--device", "cpu", "--no-temporal", "--results", str(results)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.time() + 300
    journal = None
    while time.time() < deadline:
        found = list(results.glob("vid4/*.partial.jsonl"))
        if found and found[0].read_text().count("\n") >= 1:
            journal = found[0]
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert journal is not None, "the evaluation finished or failed before it could be killed"
    done_before = journal.read_text().count("\n")
    assert 1 <= done_before < 4
    assert not list(results.glob("vid4/*.json"))  # no final record from a killed run
    r = evaluate("bicubic", "vid4", device="cpu", temporal=False, results=results, progress=False)
    assert r["resumed_clips"] == done_before  # only the remaining clips were scored
    assert abs(r["psnr"] - 23.7836) < 1e-4 and abs(r["ssim"] - 0.6347) < 1e-4
    for clip, (p, s) in PER_CLIP_BI.items():
        assert abs(r["clips"][clip]["psnr"] - p) < 1e-4
    assert not list(results.glob("vid4/*.partial.jsonl"))


def test_save_outputs_writes_frames_and_temporal_profiles(home, tmp_path):
    out = tmp_path / "sr"
    r = evaluate("bicubic", "demo", device="cpu", limit_clips=1, save_outputs=str(out), progress=False,
                 results=tmp_path / "res")
    clip = next(iter(r["clips"]))
    # temporal consistency is part of the record, with its definitions
    for key in ("tof", "warping_error", "tpsnr"):
        assert r["temporal"][key] > 0 and key in r["temporal"]["definitions"]
        assert r["clips"][clip][key] == pytest.approx(r["temporal"][key])
    assert len(list((out / clip).glob("*.png"))) == r["n_frames"]
    prof = out / f"{clip}_temporal_profile.png"
    from vsrbench.datasets.frames import read_frame

    img = read_frame(prof)
    assert img.shape[0] == r["n_frames"] and np.all(img[:, img.shape[1] // 2 - 1] == 255)


def test_batched_windows_give_the_same_frames(home, tmp_path):
    one = evaluate("fstrn", "vid4", device="cpu", limit_clips=1, crop=(32, 32), temporal=False, progress=False,
                   results=tmp_path / "b1", random_weights=True)
    four = evaluate("fstrn", "vid4", device="cpu", limit_clips=1, crop=(32, 32), temporal=False, progress=False,
                    results=tmp_path / "b4", batch=4, random_weights=True)
    assert four["runtime"]["batch"] == 4 and one["runtime"]["batch"] == 1
    f1 = [f["psnr"] for f in one["clips"]["calendar"]["frames"]]
    f4 = [f["psnr"] for f in four["clips"]["calendar"]["frames"]]
    assert len(f1) == 41 and np.allclose(f1, f4, atol=1e-6)
