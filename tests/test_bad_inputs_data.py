"""Issue 10, section 2, data side: every bad input gives one clear line (naming the file or value and
the fix), a non-zero exit, no traceback and nothing half-written.

Stores are made by the real ``prepare`` (the embedded demo, or small generated clips packed as the
udm10 layout); the SIGBUS case runs ``evaluate`` in a subprocess, since a regression would kill the
test process itself.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import vsrbench
from vsrbench.cli import main
from vsrbench.datasets import open_store
from vsrbench.datasets import stores as stores_mod
from vsrbench.datasets.catalog import variant_dirname
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError

REPO = Path(vsrbench.__file__).resolve().parents[1]


def cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse errors
        rc = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out, err
    return rc, out, err


def leftovers(root: Path) -> list[str]:
    """Anything half-written: partial stores, journals, temp files."""
    if not root.exists():
        return []
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if ".partial" in p.name or p.name.endswith((".journal", ".tmp")) or ".tmp" in p.name
    )


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """The embedded demo prepared once (GT + BIx4 LMDB, GT folder tree), copied per test."""
    h = tmp_path_factory.mktemp("demo_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(h))
        assert main(["prepare", "demo", "--no-progress"]) == 0
    return h


@pytest.fixture
def home_copy(demo_home, tmp_path, monkeypatch):
    h = tmp_path / "home"
    shutil.copytree(demo_home, h)
    monkeypatch.setenv("VSRBENCH_HOME", str(h))
    return h


def written(home: Path) -> list[str]:
    """Files a failed prepare left (its lock file aside)."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and p.name != ".prepare.lock")


def make_clips(root: Path, names, size=(16, 16), frames=32, seed=0) -> Path:
    """Clip folders of random frames (udm10 takes any 10 clip names of 32 frames, any frame size)."""
    rng = np.random.default_rng(seed)
    for n in names:
        d = root / n
        d.mkdir(parents=True)
        for k in range(frames):
            assert cv2.imwrite(str(d / f"{k:03d}.png"), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return root


UDM = [f"clip{i}" for i in range(10)]


# ---------------------------------------------------------------------------------------------
# damaged stores


def _evaluate_subprocess(home: Path):
    env = {**os.environ, "VSRBENCH_HOME": str(home), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "vsrbench.cli", "evaluate", "--model", "bicubic", "--suite", "demo",
         "--device", "cpu", "--no-temporal"],
        env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("variant", ["GT", "BIx4"])
def test_truncated_lmdb_is_refused_before_mapping(home_copy, demo_home, capsys, variant):
    store = home_copy / "demo" / "lmdb" / "all" / f"{variant}.lmdb"
    data = store / "data.mdb"
    size = data.stat().st_size
    os.truncate(data, size // 3)

    r = _evaluate_subprocess(home_copy)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])  # not 135 / -7 (SIGBUS)
    assert "Traceback" not in r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line == (f"vsrbench evaluate: error: store {store} is damaged: data.mdb is {size // 3} bytes, its pages "
                    f"need {size}: truncated; rerun `vsrbench prepare demo"
                    + ("`" if variant == "GT" else " --variants bi:x4`")), line
    assert not (home_copy / "results").exists()  # no journal (.partial.jsonl) or record was started
    # the fix the message names works: prepare rewrites the damaged store, frame for frame
    rc, out, err = cli(capsys, "prepare", "demo", "--no-progress")
    assert rc == 0 and "nothing to do" not in out
    assert data.stat().st_size == size and leftovers(home_copy) == []
    good = open_store(demo_home / "demo" / "lmdb" / "all" / f"{variant}.lmdb")
    fixed = open_store(store)
    for clip in ("carphone", "bunny"):
        assert np.array_equal(fixed.read(clip, 5), good.read(clip, 5))
    fixed.close()
    good.close()


def test_lmdb_with_wrong_entry_count_or_bad_marker(home_copy, capsys):
    store = home_copy / "demo" / "lmdb" / "all" / "BIx4.lmdb"
    marker = json.loads((store / "vsrbench.json").read_text())
    marker["clips"] = marker["clips"][:-1]  # the marker lists fewer frames than data.mdb holds
    (store / "vsrbench.json").write_text(json.dumps(marker))
    with pytest.raises(VsrbenchError, match=r"is damaged: it holds 128 frames, its vsrbench.json lists 88"):
        open_store(store)
    from vsrbench.datasets import local_status

    assert "lmdb/all/BIx4.lmdb DAMAGED (rerun prepare to rewrite it)" in local_status("demo")
    (store / "vsrbench.json").write_text('{"format": "vsrbench-st')  # cut marker
    rc, _, err = cli(capsys, "evaluate", "--model", "bicubic", "--suite", "demo", "--device", "cpu")
    assert rc == 2
    assert f"store {store} is damaged: its vsrbench.json is unreadable" in err
    assert "rerun `vsrbench prepare demo --variants bi:x4`" in err
    assert not (home_copy / "results").exists()


def test_damaged_hdf5_store(tmp_path, monkeypatch, capsys):
    home = tmp_path / "h"
    monkeypatch.setenv("VSRBENCH_HOME", str(home))
    rc, _, _ = cli(capsys, "prepare", "demo", "--hdf5", "--no-progress")
    assert rc == 0
    h5 = home / "demo" / "hdf5" / "all" / "BIx4.h5"
    size = h5.stat().st_size
    os.truncate(h5, size // 2)
    rc, _, err = cli(capsys, "evaluate", "--model", "bicubic", "--suite", "demo", "--device", "cpu", "--no-temporal")
    assert rc == 2
    assert f"store {h5} is damaged: not a readable HDF5 file (" in err
    assert "rerun `vsrbench prepare demo --hdf5 --variants bi:x4`" in err
    assert not (home / "results").exists()
    with pytest.raises(VsrbenchError, match="is damaged"):
        open_store(h5)
    rc, out, _ = cli(capsys, "prepare", "demo", "--hdf5", "--no-progress")
    assert rc == 0 and "made from the prepared GT stores" in out
    lr, gt = open_store(h5), open_store(home / "demo" / "hdf5" / "all" / "GT.h5")
    assert np.array_equal(lr.read("bikes", 3), parse_spec("bi:x4").apply_frame(gt.read("bikes", 3)))
    lr.close()
    gt.close()


# ---------------------------------------------------------------------------------------------
# frames too small


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("spec", ["bi:x4", "bd:x4", "bd-duf:x4", "bi:x4+jpeg:q=20"])
def test_frames_too_small_for_the_scale(tmp_path, capsys, n, spec):
    src = make_clips(tmp_path / "in", ["c"], size=(n, n), frames=2)
    rc, _, err = cli(capsys, "degrade", "--input", src, "--output", tmp_path / "out", "--spec", spec)
    assert rc == 2
    assert f"{src / 'c' / '000.png'}: frame is {n}x{n} (width x height), too small for {spec}: the minimum is 4x4" in err
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_frames_at_the_minimum_degrade(tmp_path, capsys):
    src = make_clips(tmp_path / "in", ["c"], size=(4, 4), frames=2)
    rc, _, _ = cli(capsys, "degrade", "--input", src, "--output", tmp_path / "out", "--spec", "bd:x4")
    assert rc == 0
    assert cv2.imread(str(tmp_path / "out" / "c" / "000.png")).shape == (1, 1, 3)


def test_small_frames_in_prepare_and_score(tmp_path, monkeypatch, capsys):
    home = tmp_path / "h"
    monkeypatch.setenv("VSRBENCH_HOME", str(home))
    src = make_clips(tmp_path / "src", UDM, size=(3, 3))
    rc, _, err = cli(capsys, "prepare", "udm10", "--source", src, "--variants", "bi:x4", "--no-progress")
    assert rc == 2
    assert "udm10 clip clip0, frame 0 (" in err and "000.png): frame is 3x3 (width x height), too small for bi:x4" in err
    assert leftovers(home) == [] and written(home) == []
    rc, _, err = cli(capsys, "score", "--pred", src, "--gt", src)
    assert rc == 2
    assert f"{src / 'clip0' / '000.png'}: frame is 3x3 (width x height), too small to score" in err
    assert "the minimum is 11x11" in err


# ---------------------------------------------------------------------------------------------
# degradation specs


BAD_SPECS = {
    "gauss:sigma=0:x4": "gauss sigma=0: sigma must be a number in 0.1..20",
    "gauss:sigma=nan:x4": "gauss sigma=nan: sigma must be a number in 0.1..20",
    "gauss:sigma=inf:x4": "gauss sigma=inf: sigma must be a number in 0.1..20",
    "gauss:sigma=-1:x4": "gauss sigma=-1: sigma must be a number in 0.1..20",
    "gauss:sigma=1e308:x4": "gauss sigma=1e308: sigma must be a number in 0.1..20",
    "bd:sigma=0:x4": "bd sigma=0: sigma must be a number in 0.1..20",
    "bi:x4:x4": "'bi' has two scales in 'bi:x4:x4'",
    "bd:x4:x2": "'bd' has two scales",
    "gauss:size=100001:x4": "gauss size=100001: size must be an integer in 1..99",
    "gauss:size=0:x4": "gauss size=0: size must be an integer in 1..99",
    "gauss:size=2.5:x4": "gauss size=2.5: size must be an integer in 1..99",
    "blur-bicubic:size=1e9:x4": "blur-bicubic size=1e9: size must be an integer in 1..99",
    "bd-duf:size=12:x4": "bd-duf size=12: size must be odd",
    "jpeg:q=0": "jpeg q=0: q must be an integer in 1..100",
    "jpeg:q=101": "jpeg q=101: q must be an integer in 1..100",
    "jpeg:q=-20": "jpeg q=-20: q must be an integer in 1..100",
    "bi:x4+jpeg:q=1e308": "jpeg q=1e308: q must be an integer in 1..100",
    "bi:x4+noise:sigma=-5": "noise sigma=-5: sigma must be a number in 0..255",
    "bi:x4+noise:p=1.5": "noise p=1.5: p must be a number in 0..1",
    "bi:x4+noise:sigma=nan": "noise sigma=nan: sigma must be a number in 0..255",
    "gauss:sigma=1,sigma=2:x4": "'gauss' parameter 'sigma' is given twice",
    "gauss:colour=1:x4": "'gauss' has no parameter 'colour' (it takes: sigma, size)",
    "bi:x4:sigma=1": "'bi' has no parameter 'sigma' (it takes: none)",
    "bi:x5": "scale x5 is not supported",
    "bi:x4+" + "+".join(["noise"] * 8): "9 operations; a spec chains at most 8",
}


@pytest.mark.parametrize("spec", list(BAD_SPECS))
def test_degenerate_specs_are_refused(tmp_path, capsys, spec):
    src = make_clips(tmp_path / "in", ["c"], size=(16, 16), frames=1)
    rc, _, err = cli(capsys, "degrade", "--input", src, "--output", tmp_path / "out", "--spec", spec)
    assert rc == 2
    assert f"invalid degradation spec {spec!r}: {BAD_SPECS[spec]}" in err
    assert "Valid specs: bi:x4" in err  # the fix: what is accepted
    assert not (tmp_path / "out").exists()


def test_spec_range_edges_still_degrade(shared_dir):
    gt = cv2.imread(str(shared_dir / "data/vid4/GT/calendar/Frame 001.png"))[:64, :64, ::-1].copy()
    # the smallest sigma is (numerically) a pure subsampling, not a black frame
    lr = parse_spec("gauss:sigma=0.1,size=3:x4").apply_frame(gt)
    assert np.array_equal(lr, gt[::4, ::4])
    # the largest blur and kernel: a flat, finite, non-black frame
    def roughness(a):
        a = a.astype(int)
        return np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean()

    lr = parse_spec("gauss:sigma=20,size=99:x4").apply_frame(gt)
    assert lr.shape == (16, 16, 3) and 20 < lr.mean() < 235
    assert roughness(lr) < roughness(gt[::4, ::4]) / 3  # strongly blurred (11.3 vs 51.1 here)
    for q in (1, 100):
        assert parse_spec(f"jpeg:q={q}").apply_frame(gt).shape == gt.shape
    assert parse_spec("bd-duf:size=99:x4").spec == "bd-duf:size=99:x4"


def test_long_specs_give_short_file_names(tmp_path, monkeypatch, capsys):
    long = "+".join(["bi:x4"] + ["noise:sigma=12.3456789012345,p=0.0123456789012345"] * 3 + ["jpeg:q=20"])
    assert len(long) < 200
    name = variant_dirname(long)
    assert len(name) <= 100 and name != variant_dirname(long.replace("jpeg:q=20", "jpeg:q=21"))
    home = tmp_path / "h"
    monkeypatch.setenv("VSRBENCH_HOME", str(home))
    src = make_clips(tmp_path / "src", UDM, size=(8, 8))
    rc, out, _ = cli(capsys, "prepare", "udm10", "--source", src, "--variants", long, "--no-progress")
    assert rc == 0
    lr = open_store(home / "udm10" / "lmdb" / "all" / f"{name}.lmdb")
    assert lr.read("clip3", 31).shape == (2, 2, 3)
    lr.close()
    too_long = "+".join(["bi:x4"] + ["noise:sigma=1.0000000000000000000000000000001"] * 5)
    rc, _, err = cli(capsys, "prepare", "udm10", "--variants", too_long, "--no-progress")
    assert rc == 2 and "characters; a spec has at most 200" in err


# ---------------------------------------------------------------------------------------------
# clip names


def test_non_ascii_clip_names_pack_into_lmdb(tmp_path, monkeypatch, capsys):
    import lmdb

    home = tmp_path / "h"
    monkeypatch.setenv("VSRBENCH_HOME", str(home))
    names = ["café-ü", "日本語 clip"] + UDM[:8]
    src = make_clips(tmp_path / "src", names, size=(16, 16))
    rc, _, _ = cli(capsys, "prepare", "udm10", "--source", src, "--variants", "bi:x4", "--no-progress")
    assert rc == 0 and leftovers(home) == []
    gt_dir = home / "udm10" / "lmdb" / "all" / "GT.lmdb"
    gt = open_store(gt_dir)
    assert set(gt.clips()) == set(names)
    for clip in names[:2]:
        want = cv2.imread(str(src / clip / "007.png"))[:, :, ::-1]
        assert np.array_equal(gt.read(clip, 7), want)
    gt.close()
    # BasicSR's reading: UTF-8 keys, meta_info.txt in UTF-8
    meta = (gt_dir / "meta_info.txt").read_bytes().decode("utf-8").splitlines()
    assert "café-ü/00000000.png (16,16,3) 1" in meta and len(meta) == 320
    env = lmdb.open(str(gt_dir), readonly=True, lock=False)
    with env.begin() as txn:
        buf = txn.get("日本語 clip/00000031".encode("utf-8"))
    env.close()
    assert np.array_equal(cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR),
                          cv2.imread(str(src / "日本語 clip" / "031.png")))


@pytest.mark.parametrize("bad", ["tab\tname", b"latin1-\xe9"])
def test_unstorable_clip_names_are_refused_before_writing(tmp_path, monkeypatch, capsys, bad):
    home = tmp_path / "h"
    monkeypatch.setenv("VSRBENCH_HOME", str(home))
    src = make_clips(tmp_path / "src", UDM[:9])
    d = os.path.join(os.fsencode(src), bad) if isinstance(bad, bytes) else os.path.join(src, bad)
    os.mkdir(d)
    for k in range(32):
        shutil.copyfile(src / "clip0" / f"{k:03d}.png", os.path.join(d, os.fsencode(f"{k:03d}.png") if isinstance(bad, bytes) else f"{k:03d}.png"))
    rc, _, err = cli(capsys, "prepare", "udm10", "--source", src, "--no-progress")
    assert rc == 2
    why = "has a control character in its name; rename it" if isinstance(bad, str) else "is not valid UTF-8; rename it"
    assert f"{src}: clip folder " in err and why in err
    assert leftovers(home) == [] and written(home) == []


# ---------------------------------------------------------------------------------------------
# disk full while packing (simulated: a real full disk is not available in CI)


def _fail_on_second(cls, name, exc):
    real = getattr(cls, name)
    calls = {"n": 0}

    def fake(self, *a, **k):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise exc
        return real(self, *a, **k)

    return fake


@pytest.mark.parametrize("backend,cls,exc", [
    ("lmdb", "LmdbWriter", OSError(errno.ENOSPC, "No space left on device")),
    ("lmdb", "LmdbWriter", "lmdb-eio"),
    ("lmdb", "LmdbWriter", "lmdb-disk"),
    ("lmdb", "LmdbWriter", "lmdb-mapfull"),
    ("folders", "FolderWriter", OSError(errno.ENOSPC, "No space left on device")),
    ("hdf5", "Hdf5Writer", OSError("Can't write data (file write failed: time = ..., filename = 'x.h5', "
                                   "errno = 28, error message = 'No space left on device')")),
])
def test_disk_full_while_packing(tmp_path, monkeypatch, capsys, backend, cls, exc):
    import lmdb

    if exc == "lmdb-eio":
        exc = lmdb.Error("mdb_txn_commit: Input/output error")
    elif exc == "lmdb-disk":
        exc = lmdb.DiskError("mdb_env_sync: No space left on device")
    elif exc == "lmdb-mapfull":
        exc = lmdb.MapFullError("mdb_put: MDB_MAP_FULL: Environment mapsize limit reached")
    home = tmp_path / "h"
    monkeypatch.setenv("VSRBENCH_HOME", str(home))
    monkeypatch.setattr(getattr(stores_mod, cls), "_commit", _fail_on_second(getattr(stores_mod, cls), "_commit", exc))
    rc, _, err = cli(capsys, "prepare", "demo", f"--{backend}", "--commit-every", "20", "--no-progress")
    assert rc == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"vsrbench prepare: error: no space left on device while writing {home / 'demo'}"), line
    assert "free some space" in line and "GB free at" in line
    assert leftovers(home) == []
    assert not any(p.suffix in (".lmdb", ".h5") for p in home.rglob("*"))


def test_disk_full_while_finishing(tmp_path, monkeypatch, capsys):
    home = tmp_path / "h"
    monkeypatch.setenv("VSRBENCH_HOME", str(home))

    def full(path, obj):
        Path(str(path) + ".tmp").write_text("{")  # a torn temp file, as a full disk leaves it
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(stores_mod.writer, "write_json_atomic", full)
    rc, _, err = cli(capsys, "prepare", "demo", "--variants", "", "--no-progress")
    assert rc == 2 and "no space left on device while writing" in err
    assert leftovers(home) == [] and not list(home.rglob("vsrbench.json"))


# ---------------------------------------------------------------------------------------------
# numeric flags


@pytest.mark.parametrize("argv,msg", [
    (["prepare", "demo", "--commit-every", "0"], "argument --commit-every: --commit-every must be >= 1, got 0"),
    (["prepare", "demo", "--workers", "0"], "argument --workers: --workers must be >= 1, got 0"),
    (["prepare", "demo", "--workers", "two"], "argument --workers: --workers must be an integer >= 1, got 'two'"),
    (["evaluate", "--model", "bicubic", "--suite", "demo", "--tile", "-3"], "argument --tile: --tile must be >= 0, got -3"),
    (["evaluate", "--model", "bicubic", "--suite", "demo", "--batch", "0"], "argument --batch: --batch must be >= 1, got 0"),
])
def test_numeric_flags_name_themselves(tmp_path, monkeypatch, capsys, argv, msg):
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path))
    rc, _, err = cli(capsys, *argv)
    assert rc == 2 and msg in err
    flag = msg.split()[1].rstrip(":")
    assert not [f for f in ("--workers", "--commit-every", "--tile", "--batch") if f != flag and f in err.splitlines()[-1]]
    assert list(tmp_path.iterdir()) == []
