"""Temporal-consistency metrics on a real Vimeo-90K septuplet (00001/0001, 7 frames, 448x256)."""

import math

import cv2
import numpy as np
import pytest

from vsrbench.datasets.frames import read_frame
from vsrbench.metrics import temporal as tm


@pytest.fixture(scope="module")
def gt(shared_dir):
    d = shared_dir / "data" / "vimeo90k" / "vimeo_septuplet" / "sequences" / "00001" / "0001"
    if not d.is_dir():
        pytest.skip(f"{d} not present")
    frames = np.stack([read_frame(d / f"im{i}.png") for i in range(1, 8)])
    assert frames.shape == (7, 256, 448, 3) and frames.dtype == np.uint8
    return frames


def _noisy(gt, sigma, seed):
    rng = np.random.default_rng(seed)
    return np.clip(gt.astype(np.float64) + rng.normal(0.0, sigma, gt.shape), 0, 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def noise_results(gt):
    out = {}
    for sigma in (2, 5, 10, 20):
        sr = _noisy(gt, sigma, seed=sigma)
        out[sigma] = (tm.tof(sr, gt), tm.warping_error(sr, gt), tm.temporal_psnr(sr, gt))
    return out


def test_farneback_params_and_flow(gt):
    assert tm.FARNEBACK_PARAMS == dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                                       poly_sigma=1.2, flags=0)
    f = tm.farneback_flow(gt[0], gt[1])
    assert f.shape == (256, 448, 2) and f.dtype == np.float32
    ref = cv2.calcOpticalFlowFarneback(cv2.cvtColor(gt[0], cv2.COLOR_RGB2GRAY),
                                       cv2.cvtColor(gt[1], cv2.COLOR_RGB2GRAY), None, 0.5, 3, 15, 3, 5, 1.2, 0)
    np.testing.assert_array_equal(f, ref)


def test_identity(gt):
    sr = gt.copy()
    assert tm.tof(gt, gt) == 0.0
    assert tm.tof(list(gt), list(gt), skip_ends=2, crop_multiple=32) == 0.0
    assert tm.tof_per_pair(gt, gt) == [0.0] * 6
    assert len(tm.tof_per_pair(gt, gt, skip_ends=2)) == 2  # frames 2, 3, 4 kept
    assert tm.temporal_psnr(gt, gt) == math.inf
    we = tm.warping_error(sr, gt)
    assert we == tm.warping_error(gt, gt)
    assert 0.0 <= we < 1e-2  # the GT's own warping error (flow + bilinear residual), small


def test_monotone_in_noise(noise_results):
    sig = sorted(noise_results)
    tofs = [noise_results[s][0] for s in sig]
    wes = [noise_results[s][1] for s in sig]
    tps = [noise_results[s][2] for s in sig]
    assert all(a < b for a, b in zip(tofs, tofs[1:])), tofs
    assert all(a < b for a, b in zip(wes, wes[1:])), wes
    assert all(a > b for a, b in zip(tps, tps[1:])), tps
    assert all(math.isfinite(v) for v in tps)


def test_temporal_psnr_definition(gt):
    sr = _noisy(gt, 5, seed=1)
    from vsrbench.metrics.quality import rgb_to_y

    vals = []
    for t in range(1, 7):
        d = (rgb_to_y(sr[t]) - rgb_to_y(sr[t - 1])) - (rgb_to_y(gt[t]) - rgb_to_y(gt[t - 1]))
        vals.append(10 * math.log10(255**2 / np.mean(d**2)))
    assert tm.temporal_psnr(sr, gt) == pytest.approx(np.mean(vals), abs=1e-9)
    # one identical pair is left out of the mean, not propagated as inf
    sr2 = gt.copy()
    sr2[3:] = sr[3:]
    per = tm.temporal_psnr_per_pair(sr2, gt)
    assert per[0] == per[1] == math.inf
    assert tm.temporal_psnr(sr2, gt) == pytest.approx(np.mean(per[2:]))


def test_tof_flags_frame_shift(gt, noise_results):
    shifted = np.stack([gt[0]] + list(gt[:-1]))
    t_shift = tm.tof(shifted, gt)
    assert t_shift > 4 * noise_results[2][0], (t_shift, noise_results[2][0])
    assert tm.temporal_psnr(shifted, gt) < noise_results[2][2]


def test_temporal_profile(gt):
    p = tm.temporal_profile(gt)
    assert p.shape == (7, 448, 3) and p.dtype == np.uint8
    for t in range(7):
        np.testing.assert_array_equal(p[t], gt[t, 128])
    p = tm.temporal_profile(list(gt), row=17)
    np.testing.assert_array_equal(p[5], gt[5, 17])
    c = tm.temporal_profile(gt, column=100)
    assert c.shape == (7, 256, 3)
    np.testing.assert_array_equal(c[2], gt[2, :, 100])
    sr = _noisy(gt, 5, seed=3)
    pair = tm.temporal_profile_pair(sr, gt, row=40)
    assert pair.shape == (7, 448 * 2 + 4, 3) and pair.dtype == np.uint8
    np.testing.assert_array_equal(pair[:, :448], tm.temporal_profile(sr, row=40))
    assert (pair[:, 448:452] == 255).all()
    np.testing.assert_array_equal(pair[:, 452:], tm.temporal_profile(gt, row=40))
    with pytest.raises(ValueError):
        tm.temporal_profile(gt, row=1, column=1)


def test_input_validation(gt):
    with pytest.raises(ValueError, match="shape mismatch"):
        tm.tof(gt[:, :128], gt)
    with pytest.raises(ValueError, match="uint8"):
        tm.warping_error(gt.astype(np.float32), gt.astype(np.float32))
    with pytest.raises(ValueError, match="at least"):
        tm.tof(gt, gt, skip_ends=3)


def test_definitions():
    assert set(tm.TEMPORAL_DEFINITIONS) == {"tof", "warping_error", "tpsnr"}
    assert "Farneback" in tm.TEMPORAL_DEFINITIONS["warping_error"]
    assert all("\n" not in v for v in tm.TEMPORAL_DEFINITIONS.values())
