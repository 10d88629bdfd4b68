"""Issue 19 (trust, third round): downloads capped, cache entries bound to their key, store frames of
another dtype refused, integer checkpoints refused, colour matrices supported exactly or refused by
name, stale cache temp files removed, and runs killed before their first checkpoint resumed."""

from __future__ import annotations

import dataclasses
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from vsrbench.errors import VsrbenchError


# ----------------------------------------------------------------------- 3. downloads are capped


class _Endless(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a body longer than anything expected; ``declare``: a Content-Length to send."""

    declare: int | None = None
    sent = 0

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        if self.declare is not None:
            self.send_header("Content-Length", str(self.declare))
        self.end_headers()
        block = b"\0" * (1 << 16)
        try:
            for _ in range(800):  # 50 MB at most, so a broken cap fails the test instead of hanging it
                self.wfile.write(block)
                type(self).sent += len(block)
        except OSError:
            pass

    def log_message(self, *a, **k):
        pass


def _serve_endless(declare=None):
    handler = type("H", (_Endless,), {"declare": declare, "sent": 0})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # HTTP/1.0: the body ends at close
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}/data.zip", srv, handler


def test_download_stops_at_its_cap_and_removes_the_part_file(tmp_path):
    from vsrbench.datasets.download import download

    url, srv, handler = _serve_endless()
    try:
        dest = tmp_path / "data.zip"
        with pytest.raises(VsrbenchError) as e:
            download(url, dest, max_bytes=3 << 20, retries=1, progress=False)
        msg = str(e.value)
        assert "\n" not in msg and f"more than the {3 << 20} bytes expected for data.zip" in msg
        assert not dest.exists() and not (tmp_path / "data.zip.part").exists()
    finally:
        srv.shutdown()


def test_download_refuses_a_declared_length_above_its_cap_before_writing(tmp_path):
    from vsrbench.datasets.download import download

    url, srv, handler = _serve_endless(declare=40 << 20)
    try:
        with pytest.raises(VsrbenchError, match=f"declares {40 << 20} bytes .*more than the {1 << 20} bytes"):
            download(url, tmp_path / "data.zip", max_bytes=1 << 20, retries=1, progress=False)
        assert list(tmp_path.iterdir()) == []
    finally:
        srv.shutdown()


def test_file_urls_are_capped_too(tmp_path):
    from vsrbench.datasets.download import download

    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (2 << 20))
    out = tmp_path / "out"
    with pytest.raises(VsrbenchError, match="more than the 1048576 bytes expected"):
        download(big.as_uri(), out / "big.bin", max_bytes=1 << 20, retries=1, progress=False)
    # /dev/zero declares 0 bytes and never ends: stopped at the first block past it
    with pytest.raises(VsrbenchError, match="sent more than the 0 bytes it declared"):
        download("file:///dev/zero", out / "zero", retries=1, progress=False)
    assert list(out.iterdir()) == []
    # within its cap a file:// download still works
    assert download(big.as_uri(), out / "ok.bin", max_bytes=2 << 20, retries=1, progress=False).stat().st_size == 2 << 20


def test_prepare_url_downloads_are_capped_at_the_catalogs_size(tmp_path, monkeypatch):
    from vsrbench.datasets import catalog, extract, sources

    assert sources.download_limit(catalog.CATALOG["vimeo90k"]) == int(1.5 * 82e9 + 0.5e9)
    entry = dataclasses.replace(catalog.CATALOG["vid4"], extracted_size=2 << 20)
    monkeypatch.setattr(extract, "extraction_limit", lambda n: n)  # no margin: a 2 MB cap for the test
    url, srv, handler = _serve_endless()
    try:
        with pytest.raises(VsrbenchError, match=f"more than the {2 << 20} bytes expected for data.zip"):
            sources.obtain_source(entry, urls=[url], home=tmp_path, progress=False, quiet=True)
        assert not any(p.is_file() for p in tmp_path.rglob("*"))
        assert handler.sent < 40 << 20
    finally:
        srv.shutdown()


# ------------------------------------------------- 4 and 12. the temporal GT cache: bound, swept


@pytest.fixture(scope="module")
def city(shared_dir):
    """5 frames of Vid4 city, a 64 x 96 crop; SR = bicubic x4 down and up."""
    from vsrbench.datasets.frames import list_frames, read_frame
    from vsrbench.degradations import imresize

    gt = [np.ascontiguousarray(read_frame(p)[200:264, 300:396]) for p in list_frames(shared_dir / "data/vid4/GT/city")[:5]]
    return [imresize(imresize(g, 1 / 4), 4) for g in gt], gt


class _Store:
    def __init__(self, root: Path):
        self.path = root / "vid4" / "lmdb" / "all" / "GT.lmdb"
        self.path.mkdir(parents=True, exist_ok=True)
        self.meta = {"dataset": "vid4", "set": "all", "variant": "GT", "clips": [["city", [0, 4], [64, 96, 3]]]}
        self.dataset, self.set = "vid4", "all"


def test_a_tampered_cache_entry_is_recomputed_with_one_warning(city, tmp_path, capsys, monkeypatch):
    import io

    from vsrbench.benchmark import gt_cache as gc
    from vsrbench.metrics import temporal as tm

    monkeypatch.setattr(gc, "_warned", set())
    sr, gt = city
    kw = dict(store=_Store(tmp_path), clip="city", indices=range(5), scale=4, home=tmp_path / "home", use_cache=True)
    expect = tm.temporal_metrics(sr, gt, gt_work=None)  # uncached
    good, state = gc.cached_gt_work(gt, **kw)
    assert state == "stored"
    secret = tmp_path / "home" / "cache" / gc.SECRET_NAME
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_bytes()) == 64
    path = next((tmp_path / "vid4" / "lmdb" / "all" / "cache").rglob("city-*.npz"))
    z = dict(np.load(io.BytesIO(path.read_bytes())))
    for tamper in ("flows+1", "mask zeroed"):
        t = dict(z)  # same key, same stored MAC, other arrays: a valid npz
        if tamper == "flows+1":
            t["forward"], t["backward"] = z["forward"] + 1, z["backward"] + 1
        else:
            t["valid_bits"] = np.zeros_like(z["valid_bits"])
        with open(path, "wb") as f:
            np.savez(f, **t)
        valid = np.unpackbits(t["valid_bits"], count=4 * 64 * 96).astype(bool).reshape(4, 64, 96)
        fooled = tm.temporal_metrics(sr, gt, gt_work=tm.GtTemporalWork(t["forward"], t["backward"], valid))
        assert any(fooled[k] != pytest.approx(expect[k], rel=1e-6, abs=1e-12) for k in expect), tamper  # it matters
        monkeypatch.setattr(gc, "_warned", set())  # a fresh process
        work, state = gc.cached_gt_work(gt, **kw)
        assert state == "stored", tamper
        got = tm.temporal_metrics(sr, gt, gt_work=work)
        assert all(got[k] == pytest.approx(expect[k], abs=1e-9) for k in expect), tamper
        err = capsys.readouterr().err
        assert err.count("warning") == 1 and str(path) in err and "do not match its key's HMAC" in err, tamper
        assert gc.cached_gt_work(gt, **kw)[1] == "hit"
    # an entry made under another home's secret is not trusted either
    monkeypatch.setattr(gc, "_warned", set())
    work, state = gc.cached_gt_work(gt, **{**kw, "home": tmp_path / "other-home"})
    assert state == "stored" and "another VSRBENCH_HOME" in capsys.readouterr().err


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temp_files_of_killed_writers_are_removed_on_the_next_open(city, tmp_path, monkeypatch):
    import os
    import time

    from vsrbench import outputs
    from vsrbench.benchmark import gt_cache as gc

    with outputs.replacing(tmp_path / "x.npz") as tmp:  # the name carries the writer's pid and host
        assert tmp.name.startswith(f".x.npz.tmp{os.getpid()}@{outputs._host_tag()}-")
        tmp.write_bytes(b"x")
    sr, gt = city
    kw = dict(store=_Store(tmp_path), clip="city", indices=range(5), scale=4, home=tmp_path / "home", use_cache=True)
    gc.cached_gt_work(gt, **kw)
    folder = next((tmp_path / "vid4" / "lmdb" / "all" / "cache").rglob("city-*.npz")).parent
    host = outputs._host_tag()
    dead = folder / f".walk-{'0' * 24}.npz.tmp{_dead_pid()}@{host}-0123abcd"
    live = folder / f".calendar-{'0' * 24}.npz.tmp{os.getppid()}@{host}-0123abcd"  # our parent runs
    elsewhere = folder / f".foliage-{'0' * 24}.npz.tmp{_dead_pid()}@otherhost-0123abcd"  # cannot tell: kept a day
    old = folder / f".city-{'0' * 24}.npz.tmp12345-89abcdef"  # an older name without a host, 2 days old
    for p in (dead, live, elsewhere, old):
        p.write_bytes(b"\0" * 4096)
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    monkeypatch.setattr(gc, "_swept", set())
    assert gc.cached_gt_work(gt, **kw)[1] == "hit"
    assert not dead.exists() and not old.exists() and live.exists() and elsewhere.exists()
    os.utime(elsewhere, (time.time() - 25 * 3600,) * 2)
    assert outputs.remove_stale_temps(folder) == [elsewhere] and live.exists()


# ------------------------------------------------- 5. store frames of another dtype or shape are refused


@pytest.fixture(scope="module")
def frames3(shared_dir):
    from vsrbench.datasets.frames import list_frames, read_frame

    return [np.ascontiguousarray(read_frame(p)[100:148, 200:264]) for p in list_frames(shared_dir / "data/vid4/GT/walk")[:3]]


def _write_store(backend: str, root: Path, frames) -> Path:
    from vsrbench.datasets.frames import encode_png
    from vsrbench.datasets.stores import make_writer

    final = root / {"hdf5": "GT.h5", "lmdb": "GT.lmdb", "folders": "GT"}[backend]
    w = make_writer(backend, final, {"dataset": "vid4", "set": "all", "variant": "GT", "scale": 1,
                                     "key_style": "basicsr", "vimeo_names": False})
    w.add_clip("walk", [0, 1, 2], frames[0].shape, list(frames) if backend == "hdf5" else [encode_png(f) for f in frames])
    return w.finalize(["walk"])


def test_hdf5_datasets_of_another_dtype_or_length_are_damaged(frames3, tmp_path):
    import h5py

    from vsrbench.datasets.stores import StoreDamagedError, open_store

    h5 = _write_store("hdf5", tmp_path, frames3)
    s = open_store(h5)
    assert all(np.array_equal(s.read("walk", i), frames3[i]) for i in range(3))
    s.close()
    gt = np.stack(frames3)
    bad = {"float32/255": gt.astype(np.float32) / 255, "uint16x257": gt.astype(np.uint16) * 257,
           "int8": gt.view(np.int8), "2 of 3 frames": gt[:2], "4 frames": np.concatenate([gt, gt[:1]]),
           "another size": gt[:, :40], "strings": np.array([b"frame0", b"frame1", b"frame2"])}
    for what, arr in bad.items():
        with h5py.File(h5, "a") as f:
            del f["walk"]
            f.create_dataset("walk", data=arr)
        s = open_store(h5)
        for pos in (0, 2):
            with pytest.raises(StoreDamagedError) as e:
                s.read("walk", pos)
            msg = str(e.value)
            assert msg.startswith(f"store {h5} is damaged: clip 'walk' is ") and "uint8 (3, 48, 64, 3)" in msg, what
            assert "\n" not in msg and "rerun `vsrbench prepare vid4" in msg, what
        s.close()


def test_lmdb_and_folder_frames_of_another_dtype_or_shape_are_damaged(frames3, tmp_path):
    import cv2
    import lmdb

    from vsrbench.datasets.frames import encode_png
    from vsrbench.datasets.stores import StoreDamagedError, frame_key, open_store

    db = _write_store("lmdb", tmp_path, frames3)
    key = frame_key("walk", 1).encode()
    wide = encode_png(np.concatenate([frames3[1], frames3[1]], axis=1))
    deep = cv2.imencode(".png", frames3[1][:, :, ::-1].astype(np.uint16) * 257)[1].tobytes()
    for what, value in (("another size", wide), ("16-bit", deep)):
        with lmdb.open(str(db)) as env, env.begin(write=True) as txn:
            txn.put(key, value)
        s = open_store(db)
        assert np.array_equal(s.read("walk", 0), frames3[0])
        with pytest.raises(StoreDamagedError, match=r"is damaged: clip 'walk' frame 1 is uint(8 \(48, 128, 3\)|16 \(48, 64, 3\)), "
                                                    r"its marker says uint8 \(48, 64, 3\)"):
            s.read("walk", 1)
        s.close()
    folder = _write_store("folders", tmp_path, frames3)
    (folder / "walk" / "00000002.png").write_bytes(encode_png(frames3[2][:32]))
    with pytest.raises(StoreDamagedError, match=r"clip 'walk' frame 2 is uint8 \(32, 64, 3\), its marker says"):
        open_store(folder).read("walk", 2)
    # a plain folder of outputs: every frame the size of the clip's first
    plain = tmp_path / "plain" / "walk"
    plain.mkdir(parents=True)
    for i, f in enumerate(frames3):
        (plain / f"{i:03d}.png").write_bytes(encode_png(f if i != 1 else f[:, :60]))
    with pytest.raises(VsrbenchError, match=r"clip 'walk' frame 1 is uint8 \(48, 60, 3\), the clip's first frame is uint8"):
        open_store(tmp_path / "plain", require_marker=False).read("walk", 1)


# ------------------------------------------------- 6. checkpoints of another dtype are refused


def test_integer_checkpoints_are_refused_naming_the_first_tensor(frames3, tmp_path, capsys):
    import torch
    from torch import nn

    from vsrbench.cli import main
    from vsrbench.datasets.frames import write_frame
    from vsrbench.models import create_model, load_checkpoint

    net = create_model("fstrn", scale=4)
    sd = net.state_dict()
    first = next(iter(sd))
    ints = tmp_path / "int64.pth"
    torch.save({k: (v * 1000).to(torch.int64) for k, v in sd.items()}, ints)
    with pytest.raises(VsrbenchError, match=f"checkpoint {str(ints)!r}: tensor {first!r} is int64, the model's is floating point"):
        load_checkpoint(net, ints)
    # through the CLI: one line, rc 2, nothing written
    (tmp_path / "lr" / "walk").mkdir(parents=True)
    for i in range(2):
        write_frame(tmp_path / "lr" / "walk" / f"{i:03d}.png", frames3[i][:16, :16])
    rc = main(["upscale", "--model", "fstrn", "--input", str(tmp_path / "lr"), "--output", str(tmp_path / "sr"),
               "--checkpoint", str(ints), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and f"tensor {first!r} is int64" in err[0] and not (tmp_path / "sr").exists()
    # one bad tensor among float ones is found too; half precision is fine (load_state_dict converts)
    last = list(sd)[-1]
    torch.save({**{k: v.half() for k, v in sd.items()}, last: sd[last].to(torch.bool)}, tmp_path / "one.pth")
    with pytest.raises(VsrbenchError, match=f"tensor {last!r} is bool"):
        load_checkpoint(net, tmp_path / "one.pth")
    torch.save({k: v.half() for k, v in sd.items()}, tmp_path / "half.pth")
    load_checkpoint(net, tmp_path / "half.pth")
    # an integer buffer of the model's own dtype loads (BatchNorm's num_batches_tracked); another dtype does not
    bn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    torch.save(bn.state_dict(), tmp_path / "bn.pth")
    load_checkpoint(bn, tmp_path / "bn.pth")
    torch.save({**bn.state_dict(), "1.num_batches_tracked": torch.tensor(3.0)}, tmp_path / "bnf.pth")
    with pytest.raises(VsrbenchError, match="tensor '1.num_batches_tracked' is float32, the model's is int64"):
        load_checkpoint(bn, tmp_path / "bnf.pth")


# ------------------------------------------------- 7. colour matrices: decoded exactly or refused by name

_KRKB = {1: (0.2126, 0.0722), 2: (0.299, 0.114), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593)}


def _to_planes(rgb, kr, kb, full):
    """RGB -> 8-bit Y, U, V planes by the H.273 formulas (floating point, rounded)."""
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    y = kr * r + (1 - kr - kb) * g + kb * b
    u, v = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    if not full:
        y, u, v = 16 + y * 219 / 255, u * 224 / 255, v * 224 / 255
    return np.clip(np.rint(np.stack([y, u + 128, v + 128])), 0, 255).astype(np.uint8)


def _from_planes(pl, kr, kb, full):
    """8-bit planes -> RGB in floating point (the reference the integer decode must meet)."""
    y, u, v = (pl[k].astype(np.float64) for k in range(3))
    u, v = u - 128, v - 128
    if not full:
        y, u, v = (y - 16) * 255 / 219, u * 255 / 224, v * 255 / 224
    kg = 1 - kr - kb
    return np.clip(np.stack([y + 2 * (1 - kr) * v, y - 2 * (1 - kb) * kb / kg * u - 2 * (1 - kr) * kr / kg * v,
                             y + 2 * (1 - kb) * u], axis=-1), 0, 255)


def _ffv1(path, arrays, pix, matrix, crange):
    """Lossless video of ``arrays`` (planes, or RGB frames for ``pix='rgb24'``: stored as gbrp with
    FFmpeg's lossless ffvhuff, as FFV1 has no 8-bit gbrp), tagged with ``matrix`` and ``crange``."""
    import av

    h, w = arrays[0].shape[-2:] if pix != "rgb24" else arrays[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffvhuff" if pix == "rgb24" else "ffv1", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "gbrp" if pix == "rgb24" else pix
        s.codec_context.colorspace, s.codec_context.color_range = matrix, crange
        for a in arrays:
            f = av.VideoFrame.from_ndarray(a, format=pix)
            if pix == "rgb24":
                f = f.reformat(format="gbrp")
            f.colorspace, f.color_range = matrix, crange
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_supported_colour_matrices_decode_exactly(frames3, tmp_path):
    import av

    from vsrbench.datasets.video import read_video

    src = [f[:32, :48] for f in frames3]
    for matrix, kr_kb in _KRKB.items():
        for crange, full in ((1, False), (2, True)) + (((0, False),) if matrix == 2 else ()):
            planes = [_to_planes(f, *kr_kb, full) for f in src]
            got = read_video(_ffv1(tmp_path / f"m{matrix}r{crange}.mkv", planes, "yuv444p", matrix, crange))
            for g, pl, f in zip(got, planes, src):
                err = np.abs(g.astype(np.float64) - _from_planes(pl, *kr_kb, full))
                assert err.max() <= 0.51, (matrix, crange)  # the formula, rounded
                assert np.abs(g.astype(int) - f.astype(int)).mean() < 0.7, (matrix, crange)  # the source back
    # GBR: matrix 0 in YUV planes (G, B, R; untagged or full range) and the gbrp pixel format: a copy
    for crange in (0, 2):
        gbr = [np.stack([f[..., 1], f[..., 2], f[..., 0]]) for f in src]
        got = read_video(_ffv1(tmp_path / f"gbr{crange}.mkv", gbr, "yuv444p", 0, crange))
        assert all(np.array_equal(g, f) for g, f in zip(got, src))
    p = _ffv1(tmp_path / "gbrp.avi", src, "rgb24", 0, 2)
    with av.open(str(p)) as c:
        assert next(c.decode(video=0)).format.name == "gbrp"
    got = read_video(p)
    assert all(np.array_equal(g, f) for g, f in zip(got, src))


def test_other_colour_matrices_and_ranges_are_refused_by_name(frames3, tmp_path):
    import av

    from vsrbench.datasets.video import _frame_rgb, read_video

    planes = [_to_planes(f[:32, :48], 0.299, 0.114, False) for f in frames3]
    for matrix, name in ((8, "YCgCo"), (10, "BT.2020 constant luminance"), (14, "ICtCp")):
        p = _ffv1(tmp_path / f"m{matrix}.mkv", planes, "yuv444p", matrix, 1)
        with pytest.raises(VsrbenchError) as e:
            read_video(p)
        msg = str(e.value)
        assert msg.startswith(f"{p}: frame 0: colour matrix {name} ({matrix}) is not supported; ") and "zscale" in msg
    p = _ffv1(tmp_path / "gbr-tv.mkv", planes, "yuv444p", 0, 1)
    with pytest.raises(VsrbenchError, match=r"GBR \(matrix 0\) tagged limited range is not supported"):
        read_video(p)
    f = av.VideoFrame.from_ndarray(planes[0], format="yuv444p")
    f.color_range = 3  # no such range
    with pytest.raises(VsrbenchError, match="colour range tag 3, not tv/limited"):
        _frame_rgb(f, tmp_path / "x.mkv", 0)


# ------------------------------------------------- 17. a run killed before its first checkpoint resumes


def test_a_run_killed_before_its_first_checkpoint_resumes_from_its_seed(train_home, tmp_path, monkeypatch):
    import json

    import torch

    from vsrbench.training import get_recipe, train
    from vsrbench.training import loop as loop_mod

    args = dict(recipe="quick", iters=2, batch=2, patch=4, checkpoint_every=2, device="cpu", seed=1, progress=False,
                val_suite=None)
    run = tmp_path / "killed"
    loss_name = get_recipe("quick", "fstrn").loss
    real, calls = loop_mod.LOSSES[loss_name], []

    def killed_in_iteration_2(*a, **k):  # as a kill -9 during the second step, before any checkpoint
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    with monkeypatch.context() as m:
        m.setitem(loop_mod.LOSSES, loss_name, killed_in_iteration_2)
        with pytest.raises(KeyboardInterrupt):
            train("fstrn", out=run, **args)
    assert json.loads((run / "run.json").read_text())["iterations"] == 0 and not (run / "latest.pth").exists()
    res = train("fstrn", out=run, resume=True, **args)
    fresh = train("fstrn", out=tmp_path / "fresh", **args)
    assert res.iterations == fresh.iterations == 2
    a, b = (torch.load(p / "model.pth", weights_only=True) for p in (tmp_path / "fresh", run))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    info = json.loads((run / "run.json").read_text())
    assert info["iterations"] == 2 and info["status"] == "done"
    import csv

    rows = [[(r["iteration"], r["loss"], r["lr"]) for r in csv.DictReader(open(p / "metrics.csv"))]
            for p in (tmp_path / "fresh", run)]
    assert rows[0] == rows[1] and len(rows[0]) >= 1  # the same log, nothing left of the killed attempt
    # nothing there, or not a run: one line each
    with pytest.raises(VsrbenchError, match="holds no run to resume .no run.json: no run was started there"):
        train("fstrn", out=tmp_path / "empty", resume=True, **args)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.json").write_text("{torn")
    with pytest.raises(VsrbenchError, match="run.json is unreadable"):
        train("fstrn", out=tmp_path / "bad", resume=True, **args)
