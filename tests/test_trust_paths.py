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


# --------------------------------------------------------------------------------------------- item 8


def _frames(d: Path, numbers, fmt="{:04d}.png", size=(16, 16)) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(list(numbers)))
    for n in numbers:
        write_frame(d / fmt.format(n), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return d


def test_a_frame_that_is_not_a_regular_file_or_a_missing_first_frame_is_an_error(tmp_path, capsys):
    """``clip/0001.png`` linked to /dev/zero was skipped, and the gap check started at the first
    frame found (``wrote 3 frames``): every non-regular frame entry is named, and numbering is
    checked from 0 or 1 (the folder's convention), so a clip starting at 2 is reported."""
    from vsrbench.datasets.frames import list_frames

    src = tmp_path / "in"
    clip = _frames(src / "clip", range(2, 5))
    _frames(src / "other", range(1, 5))
    out = tmp_path / "out"
    bad = clip / "0001.png"
    makers = {"a device (a link to /dev/zero)": lambda: bad.symlink_to("/dev/zero"),
              "a fifo": lambda: os.mkfifo(bad),
              "a folder": lambda: bad.mkdir(),
              "a broken link": lambda: bad.symlink_to(tmp_path / "gone.png")}
    for kind, make in makers.items():
        make()
        with pytest.raises(VsrbenchError, match="^" + str(bad).replace(".", r"\.") + ": " + kind.replace("(", r"\(")
                           .replace(")", r"\)")):
            list_frames(clip)
        capsys.readouterr()
        assert main(["degrade", "--input", str(src), "--output", str(out), "--spec", "bi:x2"]) == 2
        assert str(bad) in _error_line(capsys, "degrade") and not out.exists()
        bad.rmdir() if bad.is_dir() and not bad.is_symlink() else bad.unlink()

    # the first frame missing: clip starts at 2, its sibling at 1
    assert main(["degrade", "--input", str(src), "--output", str(out), "--spec", "bi:x2"]) == 2
    line = _error_line(capsys, "degrade")
    assert f"{clip}: frame numbering has a gap (missing frame number(s) 1; the frames of this folder's clips start at 1)" in line
    assert not out.exists()
    # a 0-based folder: a clip starting at 1 has lost frame 0; alone, a clip may start at 0 or 1
    zero = tmp_path / "zero"
    _frames(zero / "a", range(0, 3), "{:08d}.png")
    _frames(zero / "b", range(1, 3), "{:08d}.png")
    assert main(["degrade", "--input", str(zero), "--output", str(out), "--spec", "bi:x2"]) == 2
    assert "missing frame number(s) 0" in _error_line(capsys, "degrade")
    assert main(["degrade", "--input", str(src), "--output", str(out), "--spec", "bi:x2", "--allow-gaps"]) == 0
    assert sorted(p.name for p in (out / "clip").iterdir()) == ["0002.png", "0003.png", "0004.png"]


# --------------------------------------------------------------------------------------------- item 9


def _png_bomb(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose IHDR declares ``width x height`` RGB."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 200000, 9))
            + chunk(b"IEND", b""))


def test_frames_above_the_pixel_limit_are_refused_from_their_header(tmp_path, capsys, monkeypatch):
    """A tiny PNG declaring 60000x60000 crashed degrade/score/upscale with a cv2.error traceback:
    every reader checks the declared size against the documented limit first, in one line naming
    the file; --max-pixels raises the limit; headers of every accepted format are read right."""
    import cv2

    from vsrbench.datasets.frames import DEFAULT_MAX_PIXELS, image_header_size

    monkeypatch.delenv("VSRBENCH_MAX_PIXELS", raising=False)
    assert DEFAULT_MAX_PIXELS == 8192 * 8192
    frame = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".ppm", ".webp", ".tiff"):
        assert image_header_size(cv2.imencode(ext, frame)[1].tobytes()) == (53, 37), ext

    src = _frames(tmp_path / "in" / "clip", range(1, 3), size=(24, 24)).parent
    bomb = src / "clip" / "0003.png"
    bomb.write_bytes(_png_bomb(60000, 60000))
    assert bomb.stat().st_size < 2000
    out = tmp_path / "out"
    commands = {"degrade": ["--input", str(src), "--output", str(out), "--spec", "bi:x2"],
                "upscale": ["--input", str(src), "--output", str(out), "--model", "bicubic", "--scale", "2",
                            "--device", "cpu"],
                "score": ["--pred", str(src), "--gt", str(src)]}
    for cmd, args in commands.items():
        capsys.readouterr()
        assert main([cmd, *args]) == 2
        line = _error_line(capsys, cmd)
        assert line.endswith(f"{bomb}: declares a 60000x60000 frame (3600.0 M pixels), above the limit of 67108864 "
                             "pixels; if the frame is genuine pass --max-pixels N (or set VSRBENCH_MAX_PIXELS)"), line
        assert not out.exists()
    # a lower limit refuses the genuine 24x24 frames; a raised one lets a larger declaration through to
    # OpenCV's decoding (this one has no such pixels: corrupt, still one message naming the file)
    assert main(["degrade", *commands["degrade"], "--max-pixels", "20x20"]) == 2
    assert "declares a 24x24 frame (0.0 M pixels), above the limit of 400 pixels" in _error_line(capsys, "degrade")
    bomb.write_bytes(_png_bomb(3000, 3000))
    assert main(["degrade", *commands["degrade"], "--max-pixels", "2000x2000"]) == 2
    assert "declares a 3000x3000 frame (9.0 M pixels), above the limit of 4000000 pixels" in _error_line(capsys, "degrade")
    assert main(["degrade", *commands["degrade"], "--max-pixels", "10000000"]) == 2
    assert f"{bomb}: unreadable or corrupt image" in capsys.readouterr().err and not out.exists()

    # a Y4M video declaring the same frame size, and one whose header line is too long (item 16)
    vid = tmp_path / "vid"
    vid.mkdir()
    (vid / "c.y4m").write_bytes(b"YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(64))
    assert main(["degrade", "--input", str(vid), "--output", str(out), "--spec", "bi:x2"]) == 2
    assert f"{vid / 'c.y4m'}: declares a 60000x60000 frame" in _error_line(capsys, "degrade")
    (vid / "c.y4m").write_bytes(b"YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg X" + b"a" * 200 + b"\nFRAME\n" + bytes(384))
    assert main(["degrade", "--input", str(vid), "--output", str(out), "--spec", "bi:x2"]) == 2
    assert "its YUV4MPEG2 header line is 242 bytes, longer than the 127 bytes" in _error_line(capsys, "degrade")


# --------------------------------------------------------------------------------------------- item 16


def test_messages_say_what_is_really_wrong(tmp_path):
    """A checkpoint linked to /dev/zero said "does not exist", a huge declared tensor "contains
    code", a deep archive path was reported as the deleted temporary folder's path (the oversized
    Y4M header is in the pixel-limit test above)."""
    import zipfile

    import torch

    from vsrbench.datasets.extract import BadArchiveError, safe_extract
    from vsrbench.models.checkpoint import load_checkpoint

    net = torch.nn.Linear(2, 2)
    zero = tmp_path / "zero.pth"
    zero.symlink_to("/dev/zero")
    with pytest.raises(VsrbenchError, match=r"zero\.pth' is not a regular file \(a link to /dev/zero\)"):
        load_checkpoint(net, zero)
    with pytest.raises(VsrbenchError, match=r"is a broken link"):
        (tmp_path / "gone.pth").symlink_to(tmp_path / "nothing")
        load_checkpoint(net, tmp_path / "gone.pth")
    with pytest.raises(VsrbenchError, match=r"nothing\.pth' does not exist"):
        load_checkpoint(net, tmp_path / "nothing.pth")

    # a real state_dict whose pickle declares a 2**31-1 element storage for 4 floats
    good = tmp_path / "good.pth"
    torch.save(net.state_dict(), good)
    zin = zipfile.ZipFile(good)
    (pkl,) = [n for n in zin.namelist() if n.endswith("data.pkl")]
    raw = zin.read(pkl)
    i = raw.index(b"cpu") + 3 + 2  # BINUNICODE 'cpu', BINPUT n, then the storage's element count (BININT1 4)
    assert raw[i:i + 2] == b"K\x04", raw[i - 8:i + 4]
    huge = tmp_path / "huge.pth"
    with zipfile.ZipFile(huge, "w") as zout:
        for n in zin.namelist():
            zout.writestr(zin.getinfo(n), raw[:i] + b"J" + (2**31 - 1).to_bytes(4, "little") + raw[i + 2:]
                          if n == pkl else zin.read(n))
    with pytest.raises(VsrbenchError) as e:
        load_checkpoint(net, huge)
    assert "is damaged (a tensor declares 8,589,934,588 bytes, the file holds 16 for it)" in str(e.value)
    assert "code" not in str(e.value)

    # an archive entry deeper than the system's path limit: named, the temporary folder not
    deep = "/".join(["d" * 60] * 80) + "/f.png"
    zpath = tmp_path / "deep.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr(deep, b"x")
    with pytest.raises(BadArchiveError) as e:
        safe_extract(zpath, tmp_path / "src", progress=False)
    msg = str(e.value)
    assert msg.startswith(f"{zpath}: refusing unsafe archive entry '{deep[:80]}...{deep[-60:]}': its path is 4885 "
                          f"bytes long: extracted under {tmp_path} it would be "), msg
    assert ".partial-" not in msg and len(msg) < 600
    assert sorted(p.name for p in tmp_path.iterdir() if "src" in p.name) == []
