"""Issue 11, section 2: what a newcomer trips on (each test fails on 2b15a90's behaviour)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vsrbench.errors import VsrbenchError

from loopback import FolderServer

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------- models


def test_models_listing_needs_no_torch_and_matches_the_registry():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import sys; from vsrbench.cli import main; rc = main(['models']); "
            "print('TORCH', 'torch' in sys.modules); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "TORCH False" in out.stdout
    assert re.search(r"^zsm\s+stvsr\s+4\s+7\s+rgb\s+x4\s+11,102,771\s+xiang2020zooming.pth "
                     r"\(https://github.com/Mukosame/Zooming-Slow-Mo-CVPR-2020\)$", out.stdout, re.M)
    assert re.search(r"^fstrn\s.*none published: `vsrbench train`$", out.stdout, re.M)  # where weights come from

    # listing.json is current: generated from the model files' own registrations (regenerate with
    # `python -m vsrbench.models.listing --write`), and every row equals the live registry's
    from vsrbench.models import list_models
    from vsrbench.models import listing

    stored = listing._stored()
    assert stored == json.loads(json.dumps(listing.generate()["models"])), "run: python -m vsrbench.models.listing --write"
    assert [r["name"] for r in listing.model_listing()] == sorted(list_models())
    live = {n: listing._live(n).row(n) for n in stored}  # the built-in models (tests register others)
    assert {r["name"]: r for r in listing.model_listing() if r["name"] in stored} == live


def test_a_stale_models_listing_falls_back_to_the_registry(tmp_path, monkeypatch):
    """A model file edited after listing.json was written is listed from its live registration."""
    from vsrbench.models import listing

    data = json.loads(listing.LISTING_FILE.read_text())
    data["models"]["zsm"]["digest"] = "0" * 64
    data["models"]["zsm"]["params"] = 1
    data["models"]["fstrn"]["params"] = 2  # fresh digest: read from the file as written
    monkeypatch.setattr(listing, "LISTING_FILE", tmp_path / "listing.json")
    (tmp_path / "listing.json").write_text(json.dumps(data))
    got = listing.builtin_listing()
    assert got["zsm"].params == 11_102_771 and got["fstrn"].params == 2
    (tmp_path / "listing.json").write_text("{damaged")
    assert listing.builtin_listing()["fstrn"].params == 426_561


def test_models_import_is_lazy():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import sys, vsrbench.models as m, vsrbench.cli; print('TORCH', 'torch' in sys.modules); "
            "m.get_model_info('zsm'); print('AFTER', 'torch' in sys.modules); "
            "from vsrbench.models import load_checkpoint; print(callable(load_checkpoint))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.split() == ["TORCH", "False", "AFTER", "True", "True"], out.stderr


# ----------------------------------------------------------------------------------------- help


def test_every_subcommand_has_a_description_and_examples():
    from vsrbench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert len(sub.choices) >= 13
    for name, p in sub.choices.items():
        text = p.format_help()
        assert p.description and len(p.description) > 40, name
        assert "examples:" in text, name
        examples = [ln.strip() for ln in text.split("examples:", 1)[1].splitlines() if ln.strip()]
        assert examples and all(e.startswith(f"vsrbench {name}") or
                                (e.startswith("torchrun ") and f" -m vsrbench {name} " in e) for e in examples), (name, examples)
    prof = sub.choices["profile"].format_help()
    assert "Time MODEL's forward pass" in prof and "HEIGHTxWIDTH" in prof


# -------------------------------------------------------------------------------- headers, sizes


def test_sizes_are_width_by_height_and_labelled():
    from vsrbench.sizes import hw_label, wh

    assert wh(576, 720) == "720x576 (WxH)"
    assert hw_label("144x180") == "180x144 (WxH)"  # stored records keep H x W
    assert hw_label("") == "-" and hw_label("varies") == "varies"
    from vsrbench.benchmark.runtime import format_runtime_table
    from vsrbench.sizes import hw_to_wh

    assert hw_to_wh("144x180") == "180x144"
    table = format_runtime_table([{"model": "m", "device": "cpu", "dtype": "fp32", "batch": 1, "lr_size": "180x320",
                                   "scale": 4, "ms_per_frame": 1.0}])
    assert "LR size (WxH)" in table and "320x180 x4" in table and "180x320" not in table


def test_evaluate_header_says_crop_and_weights():
    from vsrbench.benchmark.suites import get_suite
    from vsrbench.cli import format_result_table, result_header

    suite = get_suite("vid4").as_dict()
    rec = {"model": "bicubic", "suite": "vid4", "weights": "none", "suite_settings": suite,
           "settings": {"crop": [128, 256], "limit_clips": 1}}
    head = result_header(rec)
    assert "no weights needed (parameter-free)" in head and "(none)" not in head
    assert "centre crop 256x128 (WxH)" in head and f"border crop {suite['crop_border']} px" in head
    assert "first 1 clip" in head and not re.search(r"crop 0(?! px)", head)
    rec.update(weights="random(seed=3)", settings={}, clips={}, n_frames=0, psnr=None, ssim=None,
               runtime={"ms_per_frame": 2.0, "fps": 500.0, "params": 10, "device": "cpu", "dtype": "fp32",
                        "batch": 1, "lr_size": "144x180"})
    table = format_result_table(rec)
    assert "random weights (seed=3)" in table and "LR 180x144 (WxH)" in table and "centre crop" not in table


def test_demo_rerun_says_what_is_prepared(tmp_path, monkeypatch):
    from vsrbench.cli import prepared_line
    from vsrbench.datasets import prepare
    from vsrbench.datasets.demo import DEMO_CLIPS

    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path))
    first = prepare("demo", progress=False, quiet=True)
    again = prepare("demo", progress=False, quiet=True)
    assert first.did_work and not again.did_work and again.clips == 0  # the result alone says 0
    n_frames = sum(c.frames for c in DEMO_CLIPS.values())
    assert prepared_line(again) == f"demo dataset already prepared: {len(DEMO_CLIPS)} clips, {n_frames} frames at {tmp_path / 'demo'}"
    assert prepared_line(first).startswith(f"demo dataset prepared now: {len(DEMO_CLIPS)} clips, {n_frames} frames")


# ------------------------------------------------------------------------------------- download


def test_refused_connection_is_not_retried_and_said_once(tmp_path):
    from vsrbench.datasets.download import download

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    url = f"http://127.0.0.1:{port}/vimeo_septuplet.zip"
    t0 = time.monotonic()
    with pytest.raises(VsrbenchError) as e:
        download(url, tmp_path / "v.zip", retries=5, backoff=1.0, progress=False)
    assert time.monotonic() - t0 < 1.0  # 5 tries with backoff would wait 1 + 2 + 4 + 8 s
    msg = str(e.value)
    assert msg == f"cannot reach 127.0.0.1 (no network?); download {url} by hand and pass --source FILE"
    assert msg.count(url) == 1


def test_unresolvable_name_counts_as_unreachable():
    import urllib.error

    from vsrbench.datasets.download import _unreachable

    assert _unreachable(urllib.error.URLError(socket.gaierror(-2, "Name or service not known")))
    assert _unreachable(urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")))
    assert not _unreachable(urllib.error.URLError(TimeoutError("timed out")))
    assert not _unreachable(ConnectionResetError(104, "reset"))


def test_http_errors_still_name_each_mirror_once(tmp_path):
    from vsrbench.datasets.download import download

    srv = FolderServer(tmp_path)
    base = srv.base
    try:
        with pytest.raises(VsrbenchError) as e:
            download([f"{base}/a.zip", f"{base}/b.zip"], tmp_path / "out" / "x.zip", retries=3, backoff=0.01, progress=False)
    finally:
        srv.close()
    msg = str(e.value)
    assert msg.count(f"{base}/a.zip: HTTP 404") == 1 and msg.count(f"{base}/b.zip: HTTP 404") == 1


# ----------------------------------------------------------------------------------------- plots


def _records(ms):
    return [{"model": f"m{i}", "suite": "vid4", "psnr": 25.0 + i / 2, "ssim": 0.8, "settings": {},
             "runtime": {"ms_per_frame": v}, "provenance": {"date": f"2026-01-0{i + 1}"}} for i, v in enumerate(ms)]


@pytest.mark.parametrize("ms", [(18, 27, 41, 58), (0.18, 27, 410, 17400), (3.1, 3.4)])
def test_runtime_axis_ticks_are_plain_and_do_not_overlap(ms, tmp_path):
    from vsrbench.leaderboard import plots

    fig = plots.psnr_vs_runtime(_records(ms), "vid4")
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
    lo, hi = ax.get_xlim()
    labels = [t for t in labels if lo <= t.get_position()[0] <= hi]
    assert not [t for t in ax.get_xticklabels(minor=True) if t.get_text()]
    assert len(labels) >= 1
    for t in labels:
        assert re.fullmatch(r"[0-9][0-9,]*(\.[0-9]+)?", t.get_text()), t.get_text()  # no 2×10¹ mathtext
        assert float(t.get_text().replace(",", "")) == pytest.approx(t.get_position()[0])
    boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.x0)
    for a, b in zip(boxes, boxes[1:]):
        assert a.x1 < b.x0, "tick labels overlap"
    assert plots.save(fig, tmp_path / "p", ["png"])[0].read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------------- progress, estimate


def test_call_plan_matches_the_feeding():
    from vsrbench.benchmark.progress import calls_for_clip
    from vsrbench.benchmark.windows import stvsr_windows
    from vsrbench.models import ModelSpec

    st = ModelSpec(task="stvsr", frames_in=4, frames_out=7, colour="rgb", scales=(4,))
    for n in (3, 7, 34, 41):
        assert calls_for_clip(st, n, list(range(n)))[0] == len(stvsr_windows(n, 7))
    vsr = ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="y", scales=(4,))
    assert calls_for_clip(vsr, 41, list(range(41)), batch=4) == (11, 28)
    assert calls_for_clip(vsr, 41, [20]) == (1, 7)
    rec = ModelSpec(task="vsr", frames_in="recurrent", frames_out=1, colour="y", scales=(4,))
    assert calls_for_clip(rec, 41, list(range(41))) == (1, 41)


def test_progress_counts_model_calls(shared_dir, fast_cpu_for_tiny_tensors):
    import torch

    from vsrbench.benchmark.feed import ModelRunner, super_resolve_vsr
    from vsrbench.benchmark.progress import CallProgress, plan_calls
    from vsrbench.datasets.frames import read_frame
    from vsrbench.models import create_model

    files = sorted((shared_dir / "data/vid4/BIx4-reference/calendar").glob("*.png"))[:6]
    lr = [np.ascontiguousarray(read_frame(f)[:24, :32]) for f in files]
    runner = ModelRunner(create_model("bicubic", scale=4).eval(), 4, torch.device("cpu"), batch=4)
    plan = plan_calls(runner.spec, {"calendar": len(lr)}, lambda n: list(range(n)), batch=4)
    bar = CallProgress(runner, plan, "t")
    bar.clip_start("calendar")
    out = super_resolve_vsr(runner, lr)
    assert bar.bar.n == bar.calls == runner.calls == plan["calendar"] == 2 and len(out) == 6
    assert bar.bar.total == 2 and bar.bar.unit == "window"
    bar.clip_done("calendar")
    assert bar.bar.n == 2
    bar.close()


def test_cpu_estimate_from_flops_scales_with_pixels_and_warns(fast_cpu_for_tiny_tensors):
    import torch

    from vsrbench.benchmark.progress import cpu_warning, estimate_seconds, flops_per_lr_pixel
    from vsrbench.benchmark.runtime import _input_shape, flops_per_call
    from vsrbench.models import create_model

    torch.manual_seed(0)
    net = create_model("fstrn", scale=4).eval()
    fpp = flops_per_lr_pixel(net)
    shape = _input_shape(net.spec, (24, 40), 1)
    direct = flops_per_call(net, torch.rand(shape))["flops"]
    assert fpp * shape[1] * 24 * 40 == pytest.approx(direct, rel=0.02)  # the 16x16 probe extrapolates
    # Vid4 at x4 (LR 180x144 etc.), every frame scored, one 5-frame window per frame
    clips = [(41, 5, 144, 180), (34, 5, 144, 176), (49, 5, 120, 180), (47, 5, 120, 180)]
    secs, total = estimate_seconds(fpp, clips, gflops=10.0)
    assert total == pytest.approx(fpp * 5 * (41 * 144 * 180 + 34 * 144 * 176 + 96 * 120 * 180))
    assert secs == pytest.approx(total / 1e10)
    msg = cpu_warning("fstrn", "vid4", secs, total, 171, 10.0)
    assert msg.startswith("warning: fstrn on vid4 on the CPU will take about ") and "171 model calls" in msg
    assert "assumed 10 GFLOP/s" in msg and "--crop 128x128 --limit-clips 1" in msg
    assert cpu_warning("fstrn", "vid4", 30.0, 1e11, 4, 10.0) is None
    from vsrbench.benchmark.progress import _FLOPS_PER_PARAM_BOUND

    assert fpp <= _FLOPS_PER_PARAM_BOUND * sum(p.numel() for p in net.parameters())


class _Store:  # the two things warn_if_slow asks a store: frames per clip and frame size
    def __init__(self, clips):
        self._c = clips

    def num_frames(self, clip):
        return self._c[clip][0]

    def frame_shape(self, clip):
        return (*self._c[clip][1:], 3)


def test_warning_before_a_long_cpu_run_only(fast_cpu_for_tiny_tensors, capsys):
    import torch

    from vsrbench.benchmark.progress import warn_if_slow
    from vsrbench.benchmark.suites import get_suite
    from vsrbench.models import create_model

    suite = get_suite("vid4")
    vid4 = _Store({"calendar": (41, 576, 720), "city": (34, 576, 704), "foliage": (49, 480, 720), "walk": (47, 480, 720)})
    every = lambda n: list(range(n))  # noqa: E731
    fstrn = create_model("fstrn", scale=4).eval()
    msg = warn_if_slow(fstrn, "fstrn", suite, vid4, ["calendar", "city", "foliage", "walk"], every, 1)
    assert msg and msg in capsys.readouterr().err and "171 model calls" in msg
    # a 32x32 crop of one clip, and a parameter-free model: nothing to warn about
    assert warn_if_slow(fstrn, "fstrn", suite, vid4, ["calendar"], every, 1, crop=(32, 32)) is None
    bic = create_model("bicubic", scale=4)
    assert warn_if_slow(bic, "bicubic", suite, vid4, list(vid4._c), every, 1) is None
    assert capsys.readouterr().err == ""
    assert torch.get_num_threads() == 1


# --------------------------------------------------------------------------------- catalog, SPMCS


def test_catalog_names_rbpn_sources_pinned_by_the_split_hashes(shared_dir):
    from vsrbench.datasets.catalog import RBPN_DATA_COMMIT, get_entry, split_sources
    from vsrbench.datasets.download import sha256_file

    for name in ("vid4", "spmcs"):
        direct = [s for s in get_entry(name).sources if not s.browser]
        assert [s.url for s in direct] == [f"https://github.com/alterzero/RBPN-PyTorch/archive/{RBPN_DATA_COMMIT}.zip"]
        assert any(s.browser for s in get_entry(name).sources)  # the browser pages stay beside it
    srcs = split_sources()
    for split, src in srcs.items():
        assert src.url.endswith(f"/alterzero/RBPN-PyTorch/5a138522836df6281889ac74671c7fab3485361d/vimeo90k/{split}_testset.txt")
        real = shared_dir / "data/vimeo90k/motion-splits/rbpn-original" / f"{split}_testset.txt"
        assert src.sha256 == sha256_file(real)


def test_fetch_motion_splits_from_a_local_server(shared_dir, tmp_path):
    from vsrbench.datasets.splits import fetch_motion_splits, load_split

    real = shared_dir / "data/vimeo90k/motion-splits/rbpn-original"
    srv = FolderServer(real)
    base = srv.base
    try:
        urls = {s: f"{base}/{s}_testset.txt" for s in ("fast", "medium", "slow")}
        paths = fetch_motion_splits(home=tmp_path / "home", urls=urls)
        assert [p.read_bytes() for p in paths] == [(real / p.name).read_bytes() for p in paths]
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
            assert len(load_split("medium", form="original")) == 4983
        bad = {**urls, "slow": f"{base}/fast_testset.txt"}  # the wrong file: sha256 check
        with pytest.raises(VsrbenchError, match="sha256"):
            fetch_motion_splits(home=tmp_path / "home2", urls=bad)
    finally:
        srv.close()


def _rbpn_archive(path: Path, n_clips: int = 30) -> dict:
    """A zip in the layout of GitHub's archive of RBPN-PyTorch at 2dec9d9: SPMCS/<clip>/truth/NNNN.png
    with input4/ beside it and <clip>.txt lists; returns clip -> list of truth frames."""
    import cv2

    rng = np.random.default_rng(11)
    top = "RBPN-PyTorch-2dec9d9bd418808f943b207e816a536c965e7ef2"
    truth = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{top}/README.md", "RBPN\n")
        for k in range(n_clips):
            clip = f"clip{k:02d}_{'hdclub' if k == 0 else 'veni' if k == 1 else 'v'}"
            first = 32 if k == 0 else 1  # hdclub_001_002 numbers its frames 0032..0062
            sub = "" if k == 1 else "truth/"  # veni5_015 keeps its frames in the clip folder itself
            frames = []
            for i in range(31):
                f = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
                frames.append(f)
                name = f"{first + i:04d}.png"
                z.writestr(f"{top}/SPMCS/{clip}/{sub}{name}", cv2.imencode(".png", f[..., ::-1])[1].tobytes())
                if sub:
                    z.writestr(f"{top}/SPMCS/{clip}/input4/{name}",
                               cv2.imencode(".png", np.zeros((2, 3, 3), np.uint8))[1].tobytes())
            z.writestr(f"{top}/SPMCS/{clip}.txt", "".join(f"{clip}/{sub}{first + i:04d}.png\n" for i in range(31)))
            truth[clip] = frames
        for k in range(2):  # Vid4 beside it, frames straight in the clip folders
            z.writestr(f"{top}/Vid4/c{k}/001.png", cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes())
    return truth


def test_prepare_spmcs_from_the_rbpn_archive_layout(tmp_path):
    from vsrbench.datasets import find_store, open_store, prepare

    archive = tmp_path / "RBPN-PyTorch-2dec9d9.zip"
    truth = _rbpn_archive(archive)
    r = prepare("spmcs", source=archive, variants="", backend="folders", home=tmp_path / "home",
                progress=False, quiet=True)
    assert r.did_work and r.clips == 30 and r.frames == 930
    st = open_store(find_store("spmcs", "GT", home=tmp_path / "home"))
    try:
        assert st.clips() == sorted(truth)
        assert st.num_frames("clip00_hdclub") == 31
        assert np.array_equal(st.read("clip00_hdclub", 0), truth["clip00_hdclub"][0])  # truth/, not input4/
        assert np.array_equal(st.read("clip17_v", 30), truth["clip17_v"][30])
        assert np.array_equal(st.read("clip01_veni", 5), truth["clip01_veni"][5])
    finally:
        st.close()


def test_vid4_is_found_in_the_rbpn_tree(shared_dir, tmp_path):
    """RBPN-PyTorch's tree at 2dec9d9 holds Vid4/<clip>/NNN.png beside Vid4/<clip>.txt and SPMCS/."""
    from vsrbench.datasets.catalog import get_entry
    from vsrbench.datasets.frames import list_frames
    from vsrbench.datasets.discover import discover_clips

    top = tmp_path / "RBPN-PyTorch-2dec9d9bd418808f943b207e816a536c965e7ef2"
    (top / "SPMCS" / "a" / "truth").mkdir(parents=True)
    real = {}
    for clip in ("calendar", "city", "foliage", "walk"):
        src = list_frames(shared_dir / "data/vid4/GT" / clip)  # 'Frame 001.png' / 'Frame 01.png'
        (top / "Vid4" / clip).mkdir(parents=True)
        for i, f in enumerate(src, 1):
            (top / "Vid4" / clip / f"{i:03d}.png").symlink_to(f)
        (top / "Vid4" / f"{clip}.txt").write_text("".join(f"{clip}/{i:03d}.png\n" for i in range(1, len(src) + 1)))
        real[clip] = src
    clips, missing = discover_clips(get_entry("vid4"), tmp_path, quiet=True)
    assert missing == {} and [c.clip for c in clips] == ["calendar", "city", "foliage", "walk"]
    for c in clips:
        assert [Path(p).resolve() for p in c.frames] == [p.resolve() for p in real[c.clip]]
