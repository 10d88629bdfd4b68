"""Foundation units: sampling positions, torch == numpy, spec parsing, determinism, windows, layering."""

import ast
import math
import pathlib

import numpy as np
import pytest
import torch

from vsrbench.benchmark.windows import stvsr_windows, window_indices
from vsrbench.cli import main
from vsrbench.colour import rgb_to_ycbcr, ycbcr_to_rgb
from vsrbench.datasets.frames import list_frames, natural_key, read_frame, write_frame
from vsrbench.degradations import (
    bd_downsample,
    bd_downsample_torch,
    duf_downsample,
    duf_downsample_torch,
    imresize,
    imresize_torch,
    parse_spec,
)
from vsrbench.degradations.noise import gaussian_impulse_noise
from vsrbench.degradations.spec import frame_rng
from vsrbench.errors import VsrbenchError
from vsrbench.metrics import aggregate, psnr, psnr_torch, rgb_to_y, ssim, ssim_torch


def _ramp(width=128, height=64):
    """A horizontal linear ramp, value 2x at column x (uint8, all channels)."""
    row = (2 * np.arange(width)).astype(np.uint8)
    return np.repeat(np.tile(row, (height, 1))[:, :, None], 3, axis=2)


def test_bd_centres_lr_pixel_at_4j_plus_1_5_and_duf_at_4j():
    img = _ramp()
    # float (unrounded): a linear ramp through a symmetric kernel returns the value at its centre
    bd = bd_downsample(img[:, :, 0].astype(np.float64), 4)
    duf = duf_downsample(img[:, :, 0].astype(np.float64), 4)
    j = np.arange(4, 28)  # interior columns, away from the borders
    np.testing.assert_allclose(bd[10, j], 2 * (4 * j + 1.5), atol=1e-9)
    np.testing.assert_allclose(duf[10, j], 2 * (4 * j), atol=1e-9)
    # through the uint8 spec path too: 2 * (4j + 1.5) = 8j + 3 is an integer
    lr_bd = parse_spec("bd:x4").apply_frame(img)
    lr_duf = parse_spec("bd-duf:x4").apply_frame(img)
    assert lr_bd.shape == lr_duf.shape == (16, 32, 3)
    np.testing.assert_array_equal(lr_bd[8, j, 1], 8 * j + 3)
    np.testing.assert_array_equal(lr_duf[8, j, 1], 8 * j)
    # bicubic (BI) centres LR pixel j at 4j + 1.5 too
    lr_bi = parse_spec("bi:x4").apply_frame(img)
    np.testing.assert_array_equal(lr_bi[8, j, 0], 8 * j + 3)


def test_bd_kernel_is_the_12_tap_matlab_one():
    from vsrbench.degradations.blur import bd_kernel_1d, bd_kernel_size

    assert bd_kernel_size(1.6) == 12
    k = bd_kernel_1d(1.6)
    assert k.shape == (12,) and abs(k.sum() - 1) < 1e-15 and np.allclose(k, k[::-1])


def test_torch_metrics_equal_numpy(shared_dir):
    frames = list_frames(shared_dir / "data/vid4/GT/calendar")[:3]
    gts = [read_frame(p) for p in frames]
    preds = [imresize(imresize(g, 1 / 4), 4) for g in gts]
    t_pred = torch.from_numpy(np.stack(preds)).permute(0, 3, 1, 2)
    t_gt = torch.from_numpy(np.stack(gts)).permute(0, 3, 1, 2)
    for crop in (0, 8):
        for ch in ("y", "rgb"):
            tp = psnr_torch(t_pred, t_gt, crop, ch).numpy()
            ts = ssim_torch(t_pred, t_gt, crop, ch).numpy()
            for i in range(3):
                assert abs(tp[i] - psnr(preds[i], gts[i], crop, ch)) < 1e-6
                assert abs(ts[i] - ssim(preds[i], gts[i], crop, ch)) < 1e-6
    # identical frames: +inf from both
    assert math.isinf(psnr(gts[0], gts[0])) and torch.isinf(psnr_torch(t_gt[:1], t_gt[:1])).all()
    assert abs(ssim(gts[0], gts[0]) - 1.0) < 1e-12


def test_torch_imresize_and_bd_round_to_numpy_frames(shared_dir):
    seq = shared_dir / "data/vimeo90k/vimeo_septuplet/sequences/00001/0001"
    imgs = [read_frame(seq / f"im{i}.png") for i in (1, 4, 7)]
    batch = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    down = imresize_torch(batch, 1 / 4)
    assert down.dtype == torch.uint8
    for i, img in enumerate(imgs):
        ref = imresize(img, 1 / 4)
        assert np.array_equal(down[i].permute(1, 2, 0).numpy(), ref)
        up = imresize_torch(down[i : i + 1], 4)[0].permute(1, 2, 0).numpy()
        assert np.array_equal(up, imresize(ref, 4))
        bd_t = bd_downsample_torch(batch[i : i + 1].double(), 4)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(bd_t, bd_downsample(img, 4), atol=1e-9)
        duf_t = duf_downsample_torch(batch[i : i + 1].double(), 4)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(duf_t, duf_downsample(img, 4), atol=1e-9)


def test_imresize_kernels_and_shapes():
    img = _ramp(64, 48)
    assert imresize(img, 1 / 3).shape == (16, 22, 3)  # ceil(64/3) = 22, as MATLAB
    assert imresize(img, output_shape=(10, 20)).shape == (10, 20, 3)
    # nearest upscaling repeats pixels; bilinear of a constant is the constant
    small = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(imresize(small, 2, kernel="nearest"), np.kron(small, np.ones((2, 2), np.uint8)))
    const = np.full((8, 8, 3), 77, np.uint8)
    for k in ("bicubic", "bilinear", "lanczos2", "lanczos3"):
        assert np.array_equal(imresize(const, 1 / 2, kernel=k), np.full((4, 4, 3), 77, np.uint8))
    with pytest.raises(ValueError, match="valid kernels"):
        imresize(img, 2, kernel="spline")


def test_rgb_to_y_is_matlab_bt601_unrounded():
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], np.uint8)
    y = rgb_to_y(px)[0]
    np.testing.assert_allclose(y, [16 + 65.481, 16 + 128.553, 16 + 24.966, 235.0, 16.0], atol=1e-12)
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-9)


def test_aggregate_is_mean_of_clip_means_and_excludes_inf():
    r = aggregate({"a": [10.0, 20.0], "b": [40.0], "c": [math.inf, 30.0]})
    assert r["clips"] == {"a": 15.0, "b": 40.0, "c": 30.0}
    assert r["mean"] == pytest.approx((15 + 40 + 30) / 3)
    assert r["frame_mean"] == pytest.approx((10 + 20 + 40 + 30) / 4)
    assert r["n_inf"] == 1 and r["n_frames"] == 5
    assert aggregate({"x": [math.inf]})["clips"]["x"] == math.inf


def test_spec_parsing_canonical_and_errors():
    assert parse_spec("bi:x4").spec == "bi:x4"
    assert parse_spec("gauss:sigma=1,size=3:x4").spec == "gauss:x4"
    assert parse_spec("gauss:sigma=1.5:x3").spec == "gauss:sigma=1.5:x3"
    assert parse_spec("bd-duf:x4").spec == "bd-duf:x4"
    d = parse_spec("frames:odd+bi:x4+jpeg:q=20")
    assert d.scale == 4 and d.select_frames(7) == [0, 2, 4, 6]
    assert parse_spec("bi:x4+noise").is_random and not parse_spec("bi:x4").is_random
    for bad in ("bicubic:x4", "bi", "bi:x5", "jpeg", "jpeg:q=0", "jpeg:q=101", "gauss:foo=1:x4", "bi:x4+bd:x4", ""):
        with pytest.raises(VsrbenchError) as e:
            parse_spec(bad)
        assert "Valid specs: bi:x4, bd:x4, bd-duf:x4" in str(e.value)


def test_noise_statistics_and_seeding():
    img = np.full((200, 300, 3), 128, np.uint8)
    out = gaussian_impulse_noise(img, frame_rng("d", "c", 0, "noise"))
    diff = out.astype(float) - 128
    impulse = np.abs(diff).max(axis=2) > 4 * 25.5  # clear impulses only
    # impulses are random-valued (not 0/255 salt and pepper) and share one mask across channels
    gauss_part = diff[np.abs(diff).max(axis=2) < 3 * 25.5]
    assert 24.0 < gauss_part.std() < 26.5
    assert 0.02 < impulse.mean() < 0.1
    assert len(np.unique(out)) > 200
    again = gaussian_impulse_noise(img, frame_rng("d", "c", 0, "noise"))
    other = gaussian_impulse_noise(img, frame_rng("d", "c", 1, "noise"))
    assert np.array_equal(out, again) and not np.array_equal(out, other)


def test_jpeg_quality_orders_error():
    img = _ramp(128, 64).copy()
    img[::7, ::5] = 255
    errs = [np.abs(parse_spec(f"jpeg:q={q}").apply_frame(img).astype(int) - img).mean() for q in (10, 20, 30, 40, 95)]
    assert errs == sorted(errs, reverse=True) and errs[0] > 2 * errs[-1]


@pytest.mark.parametrize("spec", ["bi:x4+noise", "bi:x4+jpeg:q=20"])
def test_random_and_jpeg_outputs_identical_for_1_and_2_workers(shared_dir, tmp_path, spec):
    src = shared_dir / "data/vimeo90k/vimeo_septuplet/sequences/00001"
    gt = tmp_path / "gt"
    gt.mkdir()
    for clip in ("0001", "0002", "0003"):
        (gt / clip).symlink_to(src / clip)
    a, b = tmp_path / "w1", tmp_path / "w2"
    assert main(["degrade", "--input", str(gt), "--output", str(a), "--spec", spec, "--workers", "1"]) == 0
    assert main(["degrade", "--input", str(gt), "--output", str(b), "--spec", spec, "--workers", "2"]) == 0
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert len(files) == 21
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.png"))
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    # and the random part really differs between frames and clips
    x = read_frame(a / "0001" / "im1.png")
    assert not np.array_equal(x, read_frame(a / "0001" / "im2.png"))


def test_natural_sort():
    names = ["Frame 10.png", "Frame 9.png", "frame 11.png", "Frame 100.png", "Frame 1.png"]
    assert sorted(names, key=natural_key) == ["Frame 1.png", "Frame 9.png", "Frame 10.png", "frame 11.png", "Frame 100.png"]


def test_window_indices_padding_modes():
    assert window_indices(0, 10, 7, "reflection_circle") == [6, 5, 4, 0, 1, 2, 3]  # new frames, not repeats
    assert window_indices(9, 10, 7, "reflection_circle") == [6, 7, 8, 9, 5, 4, 3]
    assert window_indices(0, 10, 5, "replicate") == [0, 0, 0, 1, 2]
    assert window_indices(0, 10, 5, "reflection") == [2, 1, 0, 1, 2]
    assert window_indices(9, 10, 5, "reflection") == [7, 8, 9, 8, 7]
    assert window_indices(1, 10, 5, "zeros") == [-1, 0, 1, 2, 3]
    assert window_indices(5, 10, 5, "reflection_circle") == [3, 4, 5, 6, 7]


def test_window_indices_reflection_circle_matches_basicsr():
    # BasicSR generate_frame_indices, padding='reflection_circle', re-stated
    def ref(crt, n, w):
        last, half, out = n - 1, w // 2, []
        for i in range(crt - half, crt + half + 1):
            if i < 0:
                out.append(crt + half - i)
            elif i > last:
                out.append((crt - half) - (i - last))
            else:
                out.append(i)
        return out

    for n in range(7, 20):
        for c in range(n):
            assert window_indices(c, n, 7) == ref(c, n, 7)


@pytest.mark.parametrize("n", range(4, 61))
def test_stvsr_windows_score_every_frame_once(n):
    plan = stvsr_windows(n, 7)
    scored = [i for _, _, frames in plan for i in frames]
    assert sorted(scored) == list(range(n)) and len(scored) == n
    for start, length, frames in plan:
        assert length % 2 == 1 and 0 <= start and start + length <= n
        assert all(start <= i < start + length for i in frames)
    if n >= 7:
        assert all(length == 7 for _, length, _ in plan)
        assert plan[0][0] == 0 and (len(plan) == 1 or plan[1][0] == min(6, n - 7))  # step 6 or end-aligned tail


LAYERS = {
    # a module of a stage may not import from these (report: the text for people, only the CLI's)
    "metrics": {"datasets", "models", "benchmark", "leaderboard", "report", "cli", "training"},
    "degradations": {"datasets", "models", "benchmark", "leaderboard", "report", "cli", "training"},
    "datasets": {"models", "benchmark", "leaderboard", "report", "cli", "training"},
    "models": {"datasets", "benchmark", "leaderboard", "report", "cli", "training"},
    "benchmark": {"leaderboard", "report", "cli", "training"},
    "leaderboard": {"report", "cli", "training"},
    "training": {"leaderboard", "report", "cli"},
    "report": {"cli", "training"},
}


def test_imports_flow_one_way():
    root = pathlib.Path(__file__).resolve().parents[1] / "vsrbench"
    problems = []
    for stage, forbidden in LAYERS.items():
        for f in (root / stage).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                mods = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    mods = [node.module]
                elif isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                for m in mods:
                    parts = m.split(".")
                    if parts[0] == "vsrbench" and len(parts) > 1 and parts[1] in forbidden:
                        problems.append(f"{f.relative_to(root)} imports {m}")
    assert not problems, problems


def test_write_frame_roundtrip(tmp_path):
    img = np.random.default_rng(1).integers(0, 256, (9, 13, 3), dtype=np.uint8)
    write_frame(tmp_path / "a.png", img)
    assert np.array_equal(read_frame(tmp_path / "a.png"), img)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_psnr_ssim_equals_the_separate_calls(shared_dir):
    from vsrbench.metrics import psnr_ssim

    gt = read_frame(shared_dir / "data/vimeo90k/vimeo_septuplet/sequences/00001/0002/im4.png")
    sr = imresize(imresize(gt, 1 / 4), 4)
    for crop, ch in ((0, "y"), (8, "y"), (0, "rgb")):
        p, s = psnr_ssim(sr, gt, crop, ch)
        assert p == psnr(sr, gt, crop, ch) and abs(s - ssim(sr, gt, crop, ch)) < 1e-15


def test_python_dash_m_vsrbench_runs_the_cli():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "vsrbench", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "0.1.0" in r.stdout + r.stderr


def test_channel_symmetric_ops_commute_with_bgr():
    from vsrbench.degradations.spec import CHANNEL_SYMMETRIC, parse_spec

    img = np.random.default_rng(3).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    for spec in ["bi:x4", "bd:x4", "bd-duf:x4", "gauss:x4", "blur-bicubic:x4", "noise", "jpeg:q=20"]:
        d = parse_spec(spec)
        assert d.channel_symmetric == (d.ops[0].name in CHANNEL_SYMMETRIC)
        if d.channel_symmetric:
            rgb = d.apply_frame(img, dataset="t", clip="c")
            bgr = d.apply_frame(np.ascontiguousarray(img[:, :, ::-1]), dataset="t", clip="c")
            assert np.array_equal(rgb, bgr[:, :, ::-1]), spec
    assert not parse_spec("bi:x4+noise").channel_symmetric


def test_replacing_keeps_the_old_file_and_no_temp_on_error(tmp_path):
    from vsrbench.outputs import atomic_write_text, replacing

    p = atomic_write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError):
        with replacing(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["a.txt"]
    atomic_write_text(p, "new", fsync=True)
    assert p.read_text() == "new" and [q.name for q in tmp_path.iterdir()] == ["a.txt"]


def test_one_device_module():
    from vsrbench.devices import device_name, resolve_device

    assert resolve_device("cpu").type == "cpu" and resolve_device(None).type in ("cpu", "cuda")
    assert "threads" in device_name("cpu") and "threads" not in device_name("cpu", threads=False)
    if not torch.cuda.is_available():
        with pytest.raises(VsrbenchError, match="no CUDA device"):
            resolve_device("cuda")
