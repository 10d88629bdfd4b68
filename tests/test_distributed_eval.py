"""The pipelined harness and one suite across processes (torchrun): the balanced split, the pipeline's
order / error / memory bounds, the GPU metric path against the NumPy reference on real Vid4 frames,
and 2 ranks with gloo on 127.0.0.1 against 1 process (per-frame values equal), with a resume from
the journal of a killed rank."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vsrbench.benchmark import harness
from vsrbench.benchmark.distributed import (
    Run, TorchrunEnv, journal_path, journal_paths, journal_rank, split_clips, torchrun_env,
)
from vsrbench.benchmark.pipeline import Prefetch, Scorer, frame_scores
from vsrbench.errors import VsrbenchError

REPO = Path(__file__).resolve().parents[1]
VID4 = {"calendar": 41, "city": 34, "foliage": 49, "walk": 47}


# --------------------------------------------------------------------------------------------- the split
def test_split_is_balanced_by_frames_deterministic_and_in_suite_order():
    # by hand: foliage 49 -> r0, walk 47 -> r1, calendar 41 -> r1 (47 < 49), city 34 -> r0 (49 < 88)
    assert split_clips(VID4, 2) == [["city", "foliage"], ["calendar", "walk"]]
    assert split_clips(VID4, 1) == [list(VID4)]
    assert split_clips(list(VID4.items()), 4) == [["foliage"], ["walk"], ["calendar"], ["city"]]
    assert split_clips(VID4, 6)[4:] == [[], []]
    rng = np.random.default_rng(0)
    for _ in range(50):
        n, w = int(rng.integers(1, 40)), int(rng.integers(1, 6))
        frames = {f"c{i:02d}": int(rng.integers(1, 100)) for i in range(n)}
        parts = split_clips(frames, w)
        assert parts == split_clips(dict(frames), w)  # deterministic
        assert sorted(c for p in parts for c in p) == sorted(frames)  # every clip exactly once
        assert all(p == sorted(p) for p in parts)  # suite order within a rank
        loads = [sum(frames[c] for c in p) for p in parts]
        if n >= w:  # no rank carries more than a clip above the lightest
            assert max(loads) - min(loads) <= max(frames.values())
    with pytest.raises(ValueError, match="not a count"):
        split_clips({"a": -1}, 2)


def test_torchrun_environment():
    assert torchrun_env({}) is None
    assert torchrun_env({"RANK": "0", "WORLD_SIZE": "1"}) is None  # one process: the plain path
    e = torchrun_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "TORCHELASTIC_RESTART_COUNT": "3"})
    assert (e.rank, e.world_size, e.local_rank, e.restart) == (1, 2, 1, 3)
    with pytest.raises(VsrbenchError, match=r"RANK=2 is not in 0..WORLD_SIZE-1"):
        torchrun_env({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(VsrbenchError, match=r"WORLD_SIZE='two' is not an integer"):
        torchrun_env({"RANK": "0", "WORLD_SIZE": "two"})


def test_journal_names(tmp_path):
    final = tmp_path / "m$[x]-abc.json"
    assert journal_path(final).name == "m$[x]-abc.partial.jsonl"
    assert journal_path(final, 3).name == "m$[x]-abc.rank3.partial.jsonl"
    for p in (journal_path(final, 1), journal_path(final), journal_path(final, 0), tmp_path / "m$[x]-abc.rankX.partial.jsonl",
              tmp_path / "other-abc.rank0.partial.jsonl"):
        p.write_text("")
    assert journal_paths(final) == [journal_path(final), journal_path(final, 0), journal_path(final, 1)]
    assert journal_rank(journal_path(final, 1), final) == 1 and journal_rank(journal_path(final), final) is None


def _pair(store, timeout=30.0):
    env = dict(world_size=2, local_rank=0, run_id="t")
    return (Run(TorchrunEnv(rank=0, **env), timeout, store), Run(TorchrunEnv(rank=1, **env), timeout, store))


def test_ranks_meet_through_the_store_and_an_error_on_one_rank_ends_the_wait():
    from torch.distributed import HashStore

    r0, r1 = _pair(HashStore())
    r1.prefix = r0.prefix  # the same evaluation on both ranks
    got = {}
    t = threading.Thread(target=lambda: got.setdefault(1, r1.exchange("x", {"rank": 1})))
    t.start()
    assert r0.exchange("x", {"rank": 0}) == [{"rank": 0}, {"rank": 1}]
    t.join(10)
    assert got[1] == [{"rank": 0}, {"rank": 1}]
    # rank 1 fails while rank 0 waits: rank 0 stops waiting and says who failed and why
    t = threading.Thread(target=lambda: (time.sleep(0.2), r1.fail("store /x is damaged; rerun `vsrbench prepare demo`")))
    t.start()
    t0 = time.monotonic()
    with pytest.raises(VsrbenchError, match=r"rank 1 of 2 failed: store /x is damaged; rerun `vsrbench prepare demo` "
                                            r"\(the clips every rank finished are in its journal"):
        r0.exchange("y", None)
    assert time.monotonic() - t0 < 5
    t.join()
    # a rank that never arrives: a timeout naming it, not a hang
    a, _ = _pair(HashStore(), timeout=0.3)
    with pytest.raises(VsrbenchError, match=r"rank\(s\) 1 of 2 did not reach 'z' within 0 s \(VSRBENCH_DIST_TIMEOUT\)"):
        a.exchange("z", None)


# --------------------------------------------------------------------------------------------- the pipeline
class _Data:
    def __init__(self, fail_on=None, delay=0.0):
        self.started, self.taken, self.max_ahead = [], [], 0
        self.fail_on, self.delay = fail_on, delay
        self.lock = threading.Lock()

    def gt_frames(self, clip):
        with self.lock:
            self.started.append(clip)
            self.max_ahead = max(self.max_ahead, len(self.started) - len(self.taken))
        time.sleep(self.delay)
        if clip == self.fail_on:
            raise VsrbenchError(f"store /s is damaged: clip {clip!r} cannot be read; rerun `vsrbench prepare demo`")
        return [np.full((2, 2, 3), len(self.started), np.uint8)]

    def lr_frames(self, clip, gt):
        return [g[:1, :1] for g in gt]


@pytest.mark.parametrize("ahead", [1, 2])
def test_prefetch_stays_within_ahead_and_keeps_order(ahead):
    data = _Data(delay=0.01)
    clips = [f"c{i}" for i in range(8)]
    out = []
    with Prefetch(data, clips, ahead=ahead) as p, Scorer() as s:
        pending = []
        for c in clips:
            gt = p.gt_frames(c)
            lr = p.lr_frames(c, gt)
            data.taken.append(c)
            time.sleep(0.02)  # the "model": the reader runs ahead meanwhile, but only so far
            pending.append(s.submit(lambda c=c, v=int(gt[0][0, 0, 0]), lr=lr: (c, v, lr[0].shape)))
        out = [q.result() for q in pending]
    assert [o[0] for o in out] == clips and [o[1] for o in out] == list(range(1, 9))
    assert all(o[2] == (1, 1, 3) for o in out)
    # at most `ahead` clips read (or being read) before the model takes them, +1 for the clip just taken
    assert data.max_ahead <= ahead + 1


def test_reader_error_surfaces_in_the_caller_as_the_same_error():
    data = _Data(fail_on="c2")
    with Prefetch(data, ["c0", "c1", "c2", "c3"]) as p:
        assert p.gt_frames("c0") and p.gt_frames("c1")
        with pytest.raises(VsrbenchError, match=r"^store /s is damaged: clip 'c2' cannot be read; rerun") as e:
            p.gt_frames("c2")
    assert e.value.__class__ is VsrbenchError
    assert "c3" not in data.started  # the reader stopped at the error


def test_scorer_workers_overlap_but_results_come_in_submission_order():
    with Scorer(3) as s:
        t0 = time.monotonic()
        jobs = [s.submit(lambda i=i: (time.sleep(0.1 * (3 - i)), i)[1], clip=f"c{i}") for i in range(3)]
        assert [j.result() for j in jobs] == [0, 1, 2] and [j.meta["clip"] for j in jobs] == ["c0", "c1", "c2"]
        assert time.monotonic() - t0 < 0.5  # in parallel: 0.3 s, not 0.6 s in a row


def test_scorer_error_surfaces_at_its_clip():
    with Scorer() as s:
        a = s.submit(lambda: 1)
        b = s.submit(lambda: (_ for _ in ()).throw(VsrbenchError("clip b frame 3: output (4, 4, 3) vs GT (8, 8, 3)")))
        c = s.submit(lambda: 3)
        assert a.result() == 1
        with pytest.raises(VsrbenchError, match=r"clip b frame 3: output \(4, 4, 3\)"):
            b.result()
        assert c.result() == 3


@pytest.fixture
def demo_home(prepared_home):
    """The session's prepared home (the demo is in it); results go to each test's tmp_path."""
    return prepared_home


KW = dict(device="cpu", crop=(64, 64), progress=False)


def test_reading_error_mid_suite_journals_the_clips_before_it_in_order(demo_home, tmp_path, monkeypatch):
    monkeypatch.setenv("VSRBENCH_HOME", str(demo_home))
    real = harness._Data.lr_frames

    def lr_frames(self, clip, gt):
        if clip == "bunny":  # the third clip: read in the background while the model runs the second
            raise VsrbenchError(f"store {demo_home}/x is damaged: clip 'bunny' frame 0 cannot be read")
        return real(self, clip, gt)

    monkeypatch.setattr(harness._Data, "lr_frames", lr_frames)
    with pytest.raises(VsrbenchError, match=r"^store .*/x is damaged: clip 'bunny' frame 0 cannot be read$"):
        harness.evaluate("bicubic", "demo", results=tmp_path / "r", **KW)
    (journal,) = (tmp_path / "r" / "demo").glob("*.partial.jsonl")
    entries = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [e["clip"] for e in entries] == ["carphone", "bikes"]  # both scored before it, in clip order
    assert all(e["model_frames"] == e["n_frames"] > 0 and e["model_seconds"] > 0 for e in entries)
    monkeypatch.setattr(harness._Data, "lr_frames", real)
    rec = harness.evaluate("bicubic", "demo", results=tmp_path / "r", **KW)
    assert rec["resumed_clips"] == 2 and list(rec["clips"]) == ["carphone", "bikes", "bunny"]


# --------------------------------------------------------------------------------------------- metrics
@pytest.fixture(scope="module")
def vid4_pairs(shared_dir):
    """Bicubic SR (MATLAB imresize of the third-party BIx4 reference) and GT of two calendar frames."""
    return _vid4_pairs(shared_dir)


def _vid4_pairs(shared_dir, n=2):
    from vsrbench.datasets.frames import read_frame
    from vsrbench.degradations.imresize import imresize
    from vsrbench.metrics.quality import to_uint8

    gts, srs = [], []
    for i in (1, 41)[:n]:
        gts.append(read_frame(shared_dir / f"data/vid4/GT/calendar/Frame {i:03d}.png"))
        lr = read_frame(shared_dir / f"data/vid4/BIx4-reference/calendar/Frame {i:03d}.png")
        srs.append(to_uint8(imresize(lr.astype(np.float64), 4)))
    return srs, gts


@pytest.mark.parametrize("crop_border,channel", [(0, "y"), (8, "y"), (0, "rgb")])
def test_torch_float64_metrics_equal_the_numpy_reference_on_vid4(vid4_pairs, crop_border, channel):
    from vsrbench.benchmark.scoring import _frame_scores_torch
    from vsrbench.metrics import psnr_ssim

    srs, gts = vid4_pairs
    ref = [psnr_ssim(s, g, crop_border, channel) for s, g in zip(srs, gts)]
    assert 18 < ref[0][0] < 25 and 0.4 < ref[0][1] < 0.8  # bicubic calendar: a real, imperfect pair
    got = _frame_scores_torch(srs, gts, crop_border, channel, torch.device("cpu"))  # the CUDA code path, on the CPU
    for (p, q), (pr, qr) in zip(got, ref):
        assert abs(p - pr) <= 1e-6 and abs(q - qr) <= 1e-7
    assert frame_scores(srs, gts, crop_border, channel, torch.device("cpu")) == ref  # the CPU path is the reference


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_frame_metrics_equal_the_numpy_reference(vid4_pairs):
    from vsrbench.metrics import psnr_ssim

    srs, gts = vid4_pairs
    got = frame_scores(srs, gts, 0, "y", torch.device("cuda"))
    for (p, q), (pr, qr) in zip(got, [psnr_ssim(s, g) for s, g in zip(srs, gts)]):
        assert abs(p - pr) <= 1e-6 and abs(q - qr) <= 1e-7


# --------------------------------------------------------------------------------------------- torchrun
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(home: Path, results: Path, *extra: str):
    env = {**os.environ, "VSRBENCH_HOME": str(home), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), "-m", "vsrbench", "evaluate", "--model", "bicubic", "--suite", "demo",
           "--device", "cpu", "--crop", "64x64", "--results", str(results), "--format", "json", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=str(home))


def _same_numbers(a: dict, b: dict) -> None:
    assert a["id"] == b["id"] and list(a["clips"]) == list(b["clips"])
    for clip in a["clips"]:
        assert a["clips"][clip]["frames"] == b["clips"][clip]["frames"]  # every frame's PSNR / SSIM, exactly
        for k in ("psnr", "ssim", "tof", "warping_error", "tpsnr", "n_frames"):
            assert a["clips"][clip][k] == b["clips"][clip][k], (clip, k)
    for k in ("psnr", "ssim", "n_frames", "frame_mean"):
        assert a[k] == b[k]
    assert a["temporal"] == b["temporal"]


def test_two_ranks_with_gloo_equal_one_process_and_resume_a_killed_rank(demo_home, tmp_path, monkeypatch):
    monkeypatch.setenv("VSRBENCH_HOME", str(demo_home))
    one = harness.evaluate("bicubic", "demo", results=tmp_path / "one", **KW)
    assert one["provenance"]["world_size"] == 1

    # 2 processes on 127.0.0.1 with gloo: one record, the same numbers
    r = _torchrun(demo_home, tmp_path / "two")
    assert r.returncode == 0, r.stderr[-3000:]
    two = json.loads(r.stdout)  # rank 0 alone prints (rank 1's stdout would break the JSON)
    _same_numbers(two, one)
    final = tmp_path / "two" / "demo" / f"bicubic-{one['id']}.json"
    assert json.loads(final.read_text())["clips"] == two["clips"] and not journal_paths(final)
    prov = two["provenance"]
    assert prov["world_size"] == 2 and [x["rank"] for x in prov["ranks"]] == [0, 1]
    # split by frames: carphone (48) on rank 0, bikes + bunny (40 + 40) on rank 1
    assert [x["clips"] for x in prov["ranks"]] == [1, 2] and [x["frames_timed"] for x in prov["ranks"]] == [48, 80]
    assert two["runtime"]["frames_timed"] == 128
    assert two["runtime"]["ms_per_frame"] == pytest.approx(1000 * sum(x["model_seconds"] for x in prov["ranks"]) / 128)

    # rank 1 of an earlier job was killed after scoring 'bikes' (its journal ends in a line cut by the kill)
    res = tmp_path / "resume"
    final = res / "demo" / f"bicubic-{one['id']}.json"
    final.parent.mkdir(parents=True)
    entry = {"clip": "bikes", **{k: one["clips"]["bikes"][k] for k in ("frames", "n_frames", "tof", "warping_error",
                                                                           "tpsnr")},
             "model_seconds": 1000.0, "model_frames": 40, "lr_size": one["runtime"]["lr_size"]}
    journal_path(final, 1).write_text(json.dumps(entry) + "\n" + json.dumps(entry)[:50])
    r = _torchrun(demo_home, res)
    assert r.returncode == 0, r.stderr[-3000:]
    again = json.loads(r.stdout)
    _same_numbers(again, one)
    assert again["resumed_clips"] == 1
    # bikes was not scored again: its timing is the journal's; the two clips left went one to each rank
    assert [x["clips"] for x in again["provenance"]["ranks"]] == [1, 1]
    assert sum(x["frames_timed"] for x in again["provenance"]["ranks"]) == 88
    assert again["runtime"]["frames_timed"] == 128 and again["runtime"]["ms_per_frame"] > 1000 * 1000.0 / 128
    assert final.is_file() and not journal_paths(final)
    assert "damaged line" in r.stderr  # the cut line was reported, and dropped
