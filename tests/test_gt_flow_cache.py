"""The GT temporal work (Farneback flows both ways + occlusion masks) computed once and cached
beside the GT store: same values as computing it each time, on real Vid4 frames."""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from vsrbench.benchmark import gt_cache as gc
from vsrbench.datasets.frames import list_frames, read_frame
from vsrbench.degradations import imresize
from vsrbench.metrics import temporal as tm

ARGS = (0.5, 3, 15, 3, 5, 1.2, 0)  # the protocol's Farneback arguments, written out independently


@pytest.fixture(scope="module")
def clip(shared_dir):
    """6 frames of Vid4 city, a 96 x 128 crop around the buildings; SR = bicubic x4 down and up."""
    paths = list_frames(shared_dir / "data/vid4/GT/city")[:6]
    gt = [np.ascontiguousarray(read_frame(p)[200:296, 300:428]) for p in paths]
    sr = [imresize(imresize(g, 1 / 4), 4) for g in gt]
    assert gt[0].shape == (96, 128, 3) and sr[0].shape == gt[0].shape
    return sr, gt


class FakeStore:
    """What the cache reads of a GT store: its path and marker."""

    def __init__(self, root: Path, meta: dict | None = None):
        self.path = root / "vid4" / "lmdb" / "all" / "GT.lmdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self.meta = meta or {"dataset": "vid4", "set": "all", "variant": "GT", "clips": [["city", [0, 1], [96, 128, 3]]]}
        self.dataset, self.set = self.meta["dataset"], self.meta["set"]


def _flow(a, b):
    g = [cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b)]
    return cv2.calcOpticalFlowFarneback(g[0], g[1], None, *ARGS)


def _reference(sr, gt):
    """tOF and warping error straight from the definitions, one pair at a time."""
    h, w = gt[0].shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tofs, wes = [], []
    for t in range(1, len(gt)):
        d = _flow(gt[t - 1], gt[t]).astype(np.float64) - _flow(sr[t - 1], sr[t]).astype(np.float64)
        tofs.append(np.mean(np.sqrt((d * d).sum(-1))))
        f, b = _flow(gt[t], gt[t - 1]), _flow(gt[t - 1], gt[t])
        mx, my = gx + f[..., 0], gy + f[..., 1]
        bw = cv2.remap(b, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float64)
        f64 = f.astype(np.float64)
        ok = ((f64 + bw) ** 2).sum(-1) <= 0.01 * ((f64**2).sum(-1) + (bw**2).sum(-1)) + 0.5
        ok &= (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        warped = cv2.remap(sr[t - 1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        e = (warped / 255.0 - sr[t] / 255.0) ** 2
        wes.append(e[ok].sum() / (3 * ok.sum()))
    return float(np.mean(tofs)), float(np.mean(wes))


def _metrics(sr, gt, work):
    return tm.temporal_metrics(sr, gt, gt_work=work)


def test_gt_work_gives_the_values_of_the_definitions(clip):
    sr, gt = clip
    work = tm.gt_temporal_work(gt, workers=2)
    assert work.forward.shape == (5, 96, 128, 2) and work.valid.shape == (5, 96, 128) and work.valid.dtype == bool
    np.testing.assert_array_equal(work.forward[2], _flow(gt[2], gt[3]))
    np.testing.assert_array_equal(work.backward[2], _flow(gt[3], gt[2]))
    assert 0.5 < work.valid.mean() < 1.0  # some pixels masked (frame edges, occlusions), most kept
    ref_tof, ref_we = _reference(sr, gt)
    assert ref_tof > 0.05 and ref_we > 1e-4
    for w in (None, work):
        assert tm.tof(sr, gt, gt_work=w) == pytest.approx(ref_tof, abs=1e-9)
        assert tm.warping_error(sr, gt, gt_work=w) == pytest.approx(ref_we, abs=1e-9)
        m = _metrics(sr, gt, w)
        assert m["tof"] == pytest.approx(ref_tof, abs=1e-9) and m["warping_error"] == pytest.approx(ref_we, abs=1e-9)
        assert m["tpsnr"] == tm.temporal_psnr(sr, gt)
    # skip_ends slices the precomputed flows; crop_multiple would need other flows: refused
    assert tm.tof(sr, gt, skip_ends=1, gt_work=work) == tm.tof(sr, gt, skip_ends=1)
    with pytest.raises(ValueError, match="crop_multiple"):
        tm.tof(sr, gt, crop_multiple=32, gt_work=work)
    with pytest.raises(ValueError, match="gt_work.forward"):
        tm.warping_error(sr[:4], gt[:4], gt_work=work)  # the work of another clip length


def test_cold_and_warm_runs_equal(clip, tmp_path):
    sr, gt = clip
    store = FakeStore(tmp_path)
    kw = dict(store=store, clip="city", indices=range(6), scale=4, home=tmp_path / "home", use_cache=True)
    cold, state = gc.cached_gt_work(gt, **kw)
    assert state == "stored"
    files = list((store.path.parent / "cache" / "temporal" / "GT.lmdb" / "x4").glob("city-*.npz"))
    assert len(files) == 1  # beside the GT store
    warm, state = gc.cached_gt_work(gt, **kw)
    assert state == "hit"
    for name in ("forward", "backward", "valid"):
        np.testing.assert_array_equal(getattr(warm, name), getattr(cold, name))
    a, b = _metrics(sr, gt, cold), _metrics(sr, gt, warm)
    ref_tof, ref_we = _reference(sr, gt)
    for k in a:
        assert abs(a[k] - b[k]) <= 1e-9
    assert abs(b["tof"] - ref_tof) <= 1e-9 and abs(b["warping_error"] - ref_we) <= 1e-9


def test_cache_invalidated_by_store_content_and_parameters(clip, tmp_path, monkeypatch):
    sr, gt = clip
    store = FakeStore(tmp_path)
    kw = dict(clip="city", indices=range(6), scale=4, home=tmp_path / "home", use_cache=True)
    assert gc.cached_gt_work(gt, store=store, **kw)[1] == "stored"
    folder = store.path.parent / "cache" / "temporal" / "GT.lmdb" / "x4"
    first = {p.name for p in folder.iterdir()}
    # a re-prepared store (another marker) misses; the older entry of the clip is replaced
    remade = FakeStore(tmp_path, {**store.meta, "key_style": "mmagic"})
    assert gc.cached_gt_work(gt, store=remade, **kw)[1] == "stored"
    second = {p.name for p in folder.iterdir()}
    assert len(second) == 1 and second != first
    # other GT frames (one pixel), another crop: misses
    other = [g.copy() for g in gt]
    other[3][50, 60, 1] ^= 0x10
    assert gc.cached_gt_work(other, store=remade, **kw)[1] == "stored"
    assert gc.cached_gt_work(gt, store=remade, **{**kw, "crop": (96, 128)})[1] == "stored"
    assert (folder.parent / "x4-crop96x128").is_dir()
    # other Farneback parameters or occlusion constants: other values, never the cached ones
    assert gc.cached_gt_work(gt, store=remade, **kw)[1] == "stored"  # back to the original frames
    assert gc.cached_gt_work(gt, store=remade, **kw)[1] == "hit"
    monkeypatch.setitem(tm.FARNEBACK_PARAMS, "winsize", 9)
    work, state = gc.cached_gt_work(gt, store=remade, **kw)
    assert state == "stored"
    np.testing.assert_array_equal(work.forward[0], cv2.calcOpticalFlowFarneback(
        cv2.cvtColor(gt[0], cv2.COLOR_RGB2GRAY), cv2.cvtColor(gt[1], cv2.COLOR_RGB2GRAY), None, 0.5, 3, 9, 3, 5, 1.2, 0))
    monkeypatch.undo()
    kept = gc.cached_gt_work(gt, store=remade, **kw)[0].valid.sum()
    monkeypatch.setattr(tm, "OCCLUSION_BETA", 0.05)
    work, state = gc.cached_gt_work(gt, store=remade, **kw)
    assert state == "stored" and work.valid.sum() < kept  # a stricter check masks more pixels
    np.testing.assert_array_equal(work.valid, tm.gt_temporal_work(gt).valid)


def test_damaged_entry_recomputed_with_a_warning(clip, tmp_path, capsys):
    sr, gt = clip
    store = FakeStore(tmp_path)
    kw = dict(store=store, clip="city", indices=range(6), scale=4, home=tmp_path / "home", use_cache=True)
    good, _ = gc.cached_gt_work(gt, **kw)
    expect = _metrics(sr, gt, good)
    path = next((store.path.parent / "cache").rglob("*.npz"))
    data = bytearray(path.read_bytes())
    for damage in ("flip", "truncate", "wrong-shape", "bomb"):
        if damage == "flip":
            bad = bytearray(data)
            bad[len(bad) // 2] ^= 0xFF  # inside the flows: the zip's CRC-32 catches it
            path.write_bytes(bytes(bad))
        elif damage == "truncate":
            path.write_bytes(bytes(data[: len(data) // 3]))
        else:  # a readable file of the right name and key but wrong arrays / a compressed giant member
            key, mac = (np.load(io_bytes(data))[k] for k in ("key", "mac"))
            with open(path, "wb") as f:
                if damage == "wrong-shape":
                    np.savez(f, key=key, mac=mac, forward=good.forward[:2], backward=good.backward[:2],
                             valid_bits=np.packbits(good.valid[:2].reshape(-1)))
                else:  # 6 MB of zeros in a few kB: refused before anything is decompressed
                    np.savez_compressed(f, key=key, mac=mac, forward=np.zeros((60, 96, 128, 2), np.float32),
                                        backward=good.backward, valid_bits=np.packbits(good.valid.reshape(-1)))
                    assert path.stat().st_size < 2 << 20
        work, state = gc.cached_gt_work(gt, **kw)
        assert state == "stored", damage
        err = capsys.readouterr().err
        assert "damaged" in err and str(path) in err, damage
        if damage == "bomb":
            assert "larger than this clip's work or compressed" in err
        got = _metrics(sr, gt, work)
        assert all(abs(got[k] - expect[k]) <= 1e-9 for k in expect)
        assert gc.cached_gt_work(gt, **kw)[1] == "hit"


def io_bytes(data):
    import io

    return io.BytesIO(bytes(data))


def test_unwritable_cache_computes_and_goes_on(clip, tmp_path, capsys, monkeypatch):
    sr, gt = clip
    monkeypatch.setattr(gc, "_warned", set())
    store = FakeStore(tmp_path)
    (store.path.parent / "cache").write_text("a file where the cache folder would go")
    home = tmp_path / "home"
    home.mkdir()
    # beside the store is blocked: the entry goes under $VSRBENCH_HOME/cache
    work, state = gc.cached_gt_work(gt, store=store, clip="city", indices=range(6), scale=4, home=home, use_cache=True)
    assert state == "stored" and len(list((home / "cache" / "temporal").rglob("city-*.npz"))) == 1
    assert gc.cached_gt_work(gt, store=store, clip="city", indices=range(6), scale=4, home=home,
                             use_cache=True)[1] == "hit"
    # both blocked: computed each time, one warning naming both places
    (tmp_path / "home2").mkdir()
    (tmp_path / "home2" / "cache").write_text("")
    for _ in range(2):
        w2, state = gc.cached_gt_work(gt, store=store, clip="city", indices=range(6), scale=4, home=tmp_path / "home2",
                                      use_cache=True)
        assert state == "unwritable"
        np.testing.assert_array_equal(w2.forward, work.forward)
    err = capsys.readouterr().err
    assert err.count("cannot write the temporal GT cache") == 1 and "home2" in err and "VSRBENCH_HOME" in err
    # a disk nearly full: the cache does not take the space the stores need (computed, not kept)
    import vsrbench.datasets.diskspace as ds

    monkeypatch.setattr(gc, "_warned", set())
    monkeypatch.setattr(ds, "free_bytes", lambda p: gc.KEEP_FREE_BYTES + 1000)
    w3, state = gc.cached_gt_work(gt, store=FakeStore(tmp_path / "s3"), clip="city", indices=range(6), scale=4,
                                  home=tmp_path / "home3", use_cache=True)
    assert state == "unwritable" and not list(tmp_path.glob("s3/**/*.npz")) + list(tmp_path.glob("home3/**/*.npz"))
    np.testing.assert_array_equal(w3.forward, work.forward)
    err = capsys.readouterr().err
    assert "GB free, the cache keeps 2.15 GB free" in err and "VSRBENCH_TEMPORAL_CACHE=off" in err
    # cache off: nothing computed ahead, the metrics do it (same values)
    assert gc.cached_gt_work(gt, store=store, clip="city", indices=range(6), scale=4, use_cache=False) == (None, "off")
    a, b = _metrics(sr, gt, None), _metrics(sr, gt, work)
    assert all(abs(a[k] - b[k]) <= 1e-9 for k in a) and math.isfinite(a["tpsnr"])


def test_evaluate_reuses_the_gt_work(home, tmp_path):
    from vsrbench.benchmark.harness import evaluate

    kw = dict(device="cpu", limit_clips=1, crop=(64, 96), temporal=True, progress=False)
    folder = home / "vid4" / "lmdb" / "all" / "cache" / "temporal" / "GT.lmdb" / "x4-crop64x96"
    for p in folder.glob("*.npz"):
        p.unlink()
    cold = evaluate("bicubic", "vid4", results=tmp_path / "r1", **kw)
    entries = list(folder.glob("calendar-*.npz"))
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    warm = evaluate("nearest", "vid4", results=tmp_path / "r2", **kw)
    again = evaluate("bicubic", "vid4", results=tmp_path / "r3", **kw)
    assert entries[0].stat().st_mtime_ns == stamp  # read, not rewritten
    for k in ("tof", "warping_error", "tpsnr"):
        assert abs(cold["temporal"][k] - again["temporal"][k]) <= 1e-9
        assert cold["temporal"][k] != warm["temporal"][k]  # another model, other values
    assert warm["temporal"]["tof"] > cold["temporal"]["tof"] > 0  # nearest flickers more than bicubic


def test_sr_flows_computed_while_the_model_runs_give_the_same_values(clip):
    """The harness computes each SR pair's flow as soon as its two frames are out (``sr_flows=``):
    the same values as computed in one go; a flow of the wrong size is refused."""
    sr, gt = clip
    whole = tm.temporal_metrics(sr, gt)
    flows = [tm.farneback_flow(sr[i], sr[i + 1]) for i in range(len(sr) - 1)]
    flows[1] = None  # a pair not computed early is computed here
    early = tm.temporal_metrics(sr, gt, gt_work=tm.gt_temporal_work(gt), sr_flows=flows)
    assert early == whole and whole["tof"] > 0 and whole["warping_error"] > 0
    with pytest.raises(ValueError, match="sr_flows"):
        tm.temporal_metrics(sr, gt, sr_flows=flows[:-1])
    with pytest.raises(ValueError, match="sr_flows"):
        tm.temporal_metrics(sr, gt, sr_flows=[f[:-1] if f is not None else None for f in flows])
