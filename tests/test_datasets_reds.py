"""REDS: `prepare reds` on the official layout (two archives, downloaded from 127.0.0.1), the official
LR kept as the bi:x4 store, the REDS4 / train split, and the reds4 suite scored on RGB."""

from __future__ import annotations

import dataclasses
import zipfile

import cv2
import numpy as np
import pytest

from vsrbench.datasets import catalog
from vsrbench.datasets.stores import find_store, open_store
from vsrbench.degradations.imresize import imresize
from vsrbench.errors import VsrbenchError

from loopback import FolderServer

CLIPS = ("000", "001", "011", "015", "020")  # 001 is a training clip, the others REDS4
H, W, N = 32, 48, 3


def _frames(seed: int):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3)).astype(np.float32), (0, 0), 2)  # smooth, real-ish content
    gts = [np.clip(base + 12 * i + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8) for i in range(N)]
    # LR as the archive ships it: NOT what vsrbench would compute from GT (so the test sees which one is used)
    lrs = [np.clip(imresize(g, 1 / 4).astype(int) + rng.integers(-9, 10, (H // 4, W // 4, 3)), 0, 255).astype(np.uint8)
           for g in gts]
    return gts, lrs


def _png(rgb) -> bytes:
    return cv2.imencode(".png", rgb[:, :, ::-1])[1].tobytes()


@pytest.fixture
def reds(tmp_path, monkeypatch):
    """The official two-archive layout served over HTTP; the catalog entry sized for the tiny tree."""
    served = tmp_path / "served"
    served.mkdir()
    truth = {}
    with zipfile.ZipFile(served / "train_sharp.zip", "w") as gz, zipfile.ZipFile(served / "train_sharp_bicubic.zip", "w") as lz:
        for k, c in enumerate(CLIPS):
            gts, lrs = _frames(k)
            truth[c] = (gts, lrs)
            for i in range(N):
                gz.writestr(f"train/train_sharp/{c}/{i:08d}.png", _png(gts[i]))
                lz.writestr(f"train/train_sharp_bicubic/X4/{c}/{i:08d}.png", _png(lrs[i]))
    srv = FolderServer(served)
    base = srv.base
    real = catalog.CATALOG["reds"]
    sources = tuple(dataclasses.replace(s, url=f"{base}/{s.filename}") if s.filename else s for s in real.sources)
    monkeypatch.setitem(catalog.CATALOG, "reds", dataclasses.replace(real, clips=CLIPS, frames=N, frame_size=(H, W),
                                                                      sources=sources))
    yield {"home": tmp_path / "home", "truth": truth, "served": served}
    srv.close()


def test_prepare_reds_official_lr_and_reds4_rgb_psnr(reds):
    from vsrbench.benchmark.harness import evaluate
    from vsrbench.datasets import prepare

    home, truth = reds["home"], reds["truth"]
    prepare("reds", home=home, progress=False, quiet=True)
    gt4 = open_store(find_store("reds", "GT", "reds4", home=home))
    lr4 = open_store(find_store("reds", "bi:x4", "reds4", home=home))
    train = open_store(find_store("reds", "GT", "train", home=home))
    assert list(gt4.clips()) == ["000", "011", "015", "020"] and list(train.clips()) == ["001"]
    assert lr4.meta["lr_origin"].startswith("official REDS train_sharp_bicubic/X4")
    for c in ("000", "020"):
        for i in range(N):
            assert np.array_equal(gt4.read(c, i), truth[c][0][i])
            assert np.array_equal(lr4.read(c, i), truth[c][1][i])  # the archive's LR, not recomputed
    assert not np.array_equal(lr4.read("000", 0), imresize(truth["000"][0][0], 1 / 4))

    r = evaluate("bicubic", "reds4", home=home, results=home / "results", device="cpu", temporal=False,
                 progress=False)
    assert r["suite_settings"]["channel"] == "rgb" and r["n_clips"] == 4 and r["n_frames"] == 4 * N
    # direct: MATLAB-bicubic x4 of the official LR, rounded to 8 bits, PSNR over all RGB values, crop 0;
    # mean over the frames of a clip, then over clips (BasicSR's calculate_psnr, test_y_channel=False)
    per_clip = []
    for c in ("000", "011", "015", "020"):
        vals = []
        for gt, lr in zip(*truth[c]):
            sr = imresize(lr, 4)
            mse = np.mean((sr.astype(np.float64) - gt.astype(np.float64)) ** 2)
            vals.append(10 * np.log10(255.0**2 / mse))
        per_clip.append(np.mean(vals))
    assert r["psnr"] == pytest.approx(float(np.mean(per_clip)), abs=1e-6)


def test_prepare_reds_refuses_a_missing_lr_archive(reds, tmp_path):
    from vsrbench.datasets import prepare

    only_gt = tmp_path / "only_gt"
    only_gt.mkdir()
    with zipfile.ZipFile(reds["served"] / "train_sharp.zip") as z:
        z.extractall(only_gt)
    with pytest.raises(VsrbenchError, match="train_sharp_bicubic/X4"):
        prepare("reds", home=tmp_path / "h2", source=only_gt, progress=False, quiet=True)
    with pytest.raises(VsrbenchError, match="holds train_sharp.zip and train_sharp_bicubic.zip"):
        prepare("reds", home=tmp_path / "h2", source=reds["served"] / "train_sharp.zip", progress=False, quiet=True)


def test_reference_reported_rows_match_suites_by_protocol():
    from pathlib import Path

    import pandas as pd

    from vsrbench.leaderboard.boards import load_reported, packaged_reported_paths

    f = Path(__file__).resolve().parents[1] / "vsrbench" / "leaderboard" / "data" / "reported_reference_models.csv"
    assert f in packaged_reported_paths()  # shipped: on every board without --reported
    df, _ = load_reported()
    got = {(r.model, r.suite): (r.psnr, r.ssim) for r in df.itertuples()}
    assert got[("BasicVSR", "reds4")] == (31.42, 0.8909)  # RGB row lands on the RGB suite
    assert got[("IconVSR", "vimeo90k-t-bd")] == (37.84, 0.9524)
    assert got[("BasicVSR++", "reds4")] == (32.39, 0.9069)
    ours = df[df["paper"].str.startswith(("BasicVSR (Chan et al. CVPR 2021) Table 1",
                                          "BasicVSR++ (Chan et al. CVPR 2022) Table 1"))]
    assert len(ours) == len(pd.read_csv(f))  # every row of the file, each citing its table
