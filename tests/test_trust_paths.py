"""Issue 19, items 1, 2, 8, 9, 16: names and numbers read from input never become unchecked paths
or allocations, and each refusal says what is really wrong in one line.

The crafted inputs are built here the way vsrbench writes the real ones (stores through the store
writers, records through ``evaluate``, PNG headers byte by byte)."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from vsrbench.cli import main
from vsrbench.datasets.frames import encode_png, write_frame
from vsrbench.errors import VsrbenchError


def _error_line(capsys, command: str) -> str:
    """The single line the CLI printed on stderr (no traceback, no second line)."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"vsrbench {command}: error: "), err
    return lines[0]


@pytest.fixture
def demo_home(tmp_path, monkeypatch):
    """A fresh VSRBENCH_HOME with the demo prepared (LMDB GT + BIx4; under a second)."""
    h = tmp_path / "home"
    monkeypatch.setenv("VSRBENCH_HOME", str(h))
    assert main(["prepare", "demo", "--no-progress"]) == 0
    return h


def _rewrite_store(src: Path, dst: Path, backend: str, rename: dict[str, str]) -> Path:
    """Write the store at ``src`` again at ``dst`` through vsrbench's own writer, clips renamed."""
    from vsrbench.datasets.stores import make_writer, open_store

    st = open_store(src)
    meta = {k: v for k, v in st.meta.items() if k not in ("clips", "format", "backend")}
    w = make_writer(backend, dst, meta)
    order = []
    for clip in st.clips():
        frames = st.read_clip(clip)
        payload = frames if backend == "hdf5" else [encode_png(f) for f in frames]
        order.append(rename.get(clip, clip))
        w.add_clip(order[-1], st.gt_indices(clip), st.frame_shape(clip), payload)
    st.close()  # py-lmdb keeps one environment per path and process: let the path be renamed
    return w.finalize(order)


# --------------------------------------------------------------------------------------------- item 1


def test_a_store_naming_a_clip_as_a_path_is_refused_and_outputs_stay_in_their_root(demo_home, tmp_path, capsys):
    """A crafted LMDB (marker and keys name the clip ``../pwn``) made ``evaluate --save-outputs sr``
    write ``sr/../pwn``: every backend's store is refused when opened, naming the clip, and
    ``safe_child`` refuses names and links that leave the root."""
    from vsrbench.datasets.stores import StoreDamagedError, open_store
    from vsrbench.outputs import safe_child

    lmdb_dir = demo_home / "demo" / "lmdb" / "all"
    evil = "../pwn"
    for v in ("GT", "BIx4"):
        store = lmdb_dir / f"{v}.lmdb"
        crafted = _rewrite_store(store, tmp_path / f"{v}.lmdb", "lmdb", {"carphone": evil})
        store.rename(tmp_path / f"{v}.orig.lmdb")
        crafted.rename(store)
    sr = tmp_path / "out" / "sr"
    assert main(["evaluate", "--model", "bicubic", "--suite", "demo", "--crop", "32x32", "--limit-clips", "1",
                 "--device", "cpu", "--results", str(tmp_path / "res"), "--save-outputs", str(sr)]) == 2
    line = _error_line(capsys, "evaluate")
    assert "is damaged: clip name '../pwn' is not a safe name (it has a '..' path part)" in line, line
    assert not (tmp_path / "out" / "pwn").exists() and not sr.exists()

    # HDF5 and folder stores: the same rules when opened
    good = tmp_path / "GT.orig.lmdb"
    for backend, name in (("hdf5", "GT.h5"), ("folders", "GTfolders")):
        with pytest.raises(StoreDamagedError, match=r"clip name 'a/\.\./\.\./b' is not a safe name"):
            if backend == "folders":  # the folder writer itself refuses the name: craft the marker by hand
                d = tmp_path / name
                d.mkdir()
                meta = json.loads((good / "vsrbench.json").read_text())
                meta["clips"][0][0], meta["backend"] = "a/../../b", "folders"
                (d / "vsrbench.json").write_text(json.dumps(meta))
                open_store(d)
            else:
                open_store(_rewrite_store(good, tmp_path / name, backend, {"carphone": "a/../../b"}))
    with pytest.raises(VsrbenchError, match="cannot be a path"):
        _rewrite_store(good, tmp_path / "F", "folders", {"carphone": "x/../../y"})

    # the helper: names that leave, and a link inside the root that leads out
    root = tmp_path / "root"
    root.mkdir()
    assert safe_child(root, "00001/0001", "im1.png") == root / "00001" / "0001" / "im1.png"
    for bad in ("..", "a/../../b", "/etc/x", "a\\b", "a\nb", "", "a//b"):
        with pytest.raises(VsrbenchError, match="cannot be a path"):
            safe_child(root, bad)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(VsrbenchError, match="leads outside"):
        safe_child(root, "link", "x.png")


# --------------------------------------------------------------------------------------------- item 2


def test_plot_refuses_a_record_suite_that_leaves_out_dir(demo_home, tmp_path, capsys):
    res = tmp_path / "res"
    assert main(["evaluate", "--model", "bicubic", "--suite", "demo", "--crop", "32x32", "--limit-clips", "1",
                 "--device", "cpu", "--results", str(res), "--no-temporal"]) == 0
    (rec_file,) = (res / "demo").glob("bicubic-*.json")
    rec = json.loads(rec_file.read_text())
    rec["suite"] = "x/../../../sentinel/evil"
    rec_file.write_text(json.dumps(rec))
    out = tmp_path / "a" / "b" / "plots"
    capsys.readouterr()
    assert main(["plot", "--results", str(res), "--out-dir", str(out), "--kind", "clips",
                 "--image-format", "png"]) == 2
    line = _error_line(capsys, "plot")
    assert f"refusing to write under {out}: plot (from a record's suite) 'per_clip_psnr_x/../../../sentinel/evil'" in line
    assert not list(tmp_path.rglob("evil*")) and not (tmp_path / "a" / "sentinel").exists()
