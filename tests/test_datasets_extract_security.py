"""Crafted archives through `vsrbench prepare` (--source, --url file://, --url http://127.0.0.1): nothing is
written outside the target (a sentinel folder stays as it was), the exit code is non-zero, the one-line
message names the archive, the entry and the fix, and no partial extraction is left behind."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import tarfile
import warnings
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from vsrbench.cli import main
from vsrbench.datasets import diskspace, safe_extract
from vsrbench.datasets.extract import _Beneath, extraction_limit
from vsrbench.errors import VsrbenchError

from loopback import FolderServer

DEPTH = 12  # the chain's folder depth; the second link climbs DEPTH + 1 levels from the target


# ------------------------------------------------------------------------------------ archive builders


def _zip(path: Path, entries) -> Path:
    """entries: (name, bytes, kind) with kind "file" | "dir" | "symlink" (bytes: the link target)."""
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # "Duplicate name"
        for name, data, kind in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = {"file": 0o100644, "dir": 0o040755, "symlink": 0o120777}[kind] << 16
            if kind == "dir":
                info.filename = name.rstrip("/") + "/"
            zf.writestr(info, data)
    return path


def _tar(path: Path, entries, mode: str = "w") -> Path:
    """entries: (name, bytes | linkname, kind) with kind "file" | "dir" | "symlink" | "hardlink" | "chardev"."""
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as tf:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "chardev": tarfile.CHRTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = data
            tf.addfile(info)
    return path


def chain_entries(sentinel: Path) -> list:
    """The issue's chain: d0/../d11/l -> twelve '..' (the target itself), r -> d0/../d11/l/ + thirteen
    '..' (far above the target, i.e. /), then a file r/<sentinel>/keep.txt: each link looks inside the
    target when judged on its own text; together they reach any absolute path."""
    deep = "/".join(f"d{i}" for i in range(DEPTH))
    return [
        (f"{deep}/l", "../" * DEPTH, "symlink"),
        ("r", f"{deep}/l/" + "../" * (DEPTH + 1), "symlink"),
        ("r" + str(sentinel / "keep.txt"), b"pwned", "file"),
        ("r" + str(sentinel / "new.txt"), b"pwned", "file"),
    ]


def _bytes_entries(entries):
    return [(n, d.encode() if isinstance(d, str) else d, k) for n, d, k in entries]


def zip_chain(d: Path, sentinel: Path) -> Path:
    return _zip(d / "evil.zip", _bytes_entries(chain_entries(sentinel)))


def tar_chain(d: Path, sentinel: Path) -> Path:
    return _tar(d / "evil.tar", chain_entries(sentinel))


def _bomb_zip(path: Path, n: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("vid4/GT/calendar/zeros.png", "w") as f:
            block = bytes(1 << 20)
            for _ in range(n >> 20):
                f.write(block)
    return path


def _lie_in_central_directory(path: Path, name: bytes, *, file_size: int, compress_size: int | None = None) -> None:
    """Rewrite the sizes the central directory declares for ``name`` (what a crafted zip does)."""
    buf = bytearray(path.read_bytes())
    i = buf.rindex(b"PK\x01\x02")  # the last central directory header (archives here hold one file)
    assert bytes(buf[i + 46: i + 46 + len(name)]) == name
    if compress_size is not None:
        buf[i + 20: i + 24] = compress_size.to_bytes(4, "little")
    buf[i + 24: i + 28] = file_size.to_bytes(4, "little")
    path.write_bytes(bytes(buf))


# ----------------------------------------------------------------------------------------- helpers


@pytest.fixture
def sentinel(tmp_path):
    s = tmp_path / "sentinel"
    s.mkdir()
    (s / "keep.txt").write_text("original")
    return s


def assert_untouched(sentinel: Path) -> None:
    assert sorted(p.name for p in sentinel.iterdir()) == ["keep.txt"]
    assert (sentinel / "keep.txt").read_text() == "original"


def assert_nothing_partial(home: Path) -> None:
    ds = home / "vid4"
    if ds.exists():
        left = [p for p in ds.rglob("*") if "partial" in p.name or p.name in ("source", "GT") or p.is_symlink()]
        assert left == [], left


def prepare_cli(monkeypatch, capsys, home: Path, *args) -> tuple[int, str]:
    monkeypatch.setenv("VSRBENCH_HOME", str(home))
    capsys.readouterr()
    rc = main(["prepare", "vid4", *args, "--no-progress"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("vsrbench prepare: error:")]
    assert len(lines) == 1, err
    return rc, lines[0]


# ------------------------------------------------------------------------------- the chain: 3 entry paths


@pytest.mark.parametrize("via", ["source", "file-url", "http-url"])
@pytest.mark.parametrize("build", [zip_chain, tar_chain], ids=["zip", "tar"])
def test_symlink_chain_writes_nothing_outside(tmp_path, sentinel, monkeypatch, capsys, build, via):
    (tmp_path / "a").mkdir()
    archive = build(tmp_path / "a", sentinel)
    home = tmp_path / "home"
    server = None
    if via == "source":
        args = ["--source", str(archive)]
    elif via == "file-url":
        args = ["--url", archive.resolve().as_uri()]
    else:
        server = FolderServer(archive.parent)
        args = ["--url", f"{server.base}/{archive.name}"]
    try:
        rc, msg = prepare_cli(monkeypatch, capsys, home, *args)
    finally:
        if server:
            server.close()
    assert rc == 2
    deep = "/".join(f"d{i}" for i in range(DEPTH))
    assert f"refusing unsafe archive entry 'r': symbolic link to '{deep}/l/../" in msg
    assert f"points outside the extraction folder (through the link '{deep}/l')" in msg
    assert archive.name in msg and "nothing was extracted" in msg and "re-download it" in msg
    assert_untouched(sentinel)
    assert_nothing_partial(home)
    if via != "source":  # a refused download is not kept for the next run to reuse
        assert not (home / "vid4" / "downloads" / archive.name).exists()
        assert "the downloaded copy" in msg


def test_chain_as_a_real_process(tmp_path, sentinel):
    """The console entry point: exit status 2, one line on stderr, no traceback."""
    archive = zip_chain(tmp_path, sentinel)
    env = {**os.environ, "VSRBENCH_HOME": str(tmp_path / "home"), "PYTHONPATH": str(Path(__file__).parents[1])}
    p = subprocess.run([sys.executable, "-m", "vsrbench.cli", "prepare", "vid4", "--source", str(archive),
                        "--no-progress"], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith(f"vsrbench prepare: error: {archive}: refusing unsafe archive entry 'r'")
    assert_untouched(sentinel)
    assert_nothing_partial(tmp_path / "home")


# --------------------------------------------------------------------------------- every other class


def _cases(sentinel: Path):
    outside = str(sentinel / "keep.txt")
    bad_utf8_zip_name = "vid4/GT/cal\u00e9ndar.png"
    return {
        # id: (builder, expected fragment of the message)
        "zip-abs-link": (lambda d: _zip(d / "x.zip", [("a/l", outside.encode(), "symlink"), ("a/l2", b"x", "file")]),
                         f"entry 'a/l': symbolic link to the absolute path '{outside}'"),
        "zip-dotdot-link": (lambda d: _zip(d / "x.zip", [("a/l", b"../../x", "symlink")]),
                            "entry 'a/l': symbolic link to '../../x' points outside the extraction folder"),
        "zip-dangling-link": (lambda d: _zip(d / "x.zip", [("GT/a.png", b"png", "file"), ("GT/b.png", b"c.png", "symlink")]),
                              "entry 'GT/b.png': symbolic link to 'c.png' is dangling"),
        "zip-inside-link": (lambda d: _zip(d / "x.zip", [("GT/a.png", b"png", "file"), ("GT/b.png", b"a.png", "symlink")]),
                            "entry 'GT/b.png': symbolic link to 'a.png'; vsrbench extracts no links"),
        "zip-link-loop": (lambda d: _zip(d / "x.zip", [("a", b"b", "symlink"), ("b", b"a", "symlink")]),
                          "loops through other links"),
        "zip-non-utf8-link-target": (lambda d: _zip(d / "x.zip", [("GT/l", b"a\xff\xfeb", "symlink")]),
                                     r"entry 'GT/l': symbolic link whose target b'a\xff\xfeb' is not valid UTF-8"),
        "zip-non-utf8-name": (lambda d: _patch(_zip(d / "x.zip", [(bad_utf8_zip_name, b"png", "file")]),
                                               "\u00e9".encode(), b"\xff\xfe"),
                              r"entry b'vid4/GT/cal\xff\xfendar.png': the name is marked UTF-8 but is not valid UTF-8"),
        "zip-duplicate": (lambda d: _zip(d / "x.zip", [("GT/a.png", b"1", "file"), ("GT/a.png", b"2", "file")]),
                          "entry 'GT/a.png': duplicate entry"),
        "zip-file-then-folder": (lambda d: _zip(d / "x.zip", [("GT/a", b"1", "file"), ("GT/a/b.png", b"2", "file")]),
                                 "entry 'GT/a': it is a file and also a folder (entry 'GT/a/b.png' is inside it)"),
        "zip-folder-then-file": (lambda d: _zip(d / "x.zip", [("GT/a/b.png", b"2", "file"), ("GT/a", b"1", "file")]),
                                 "entry 'GT/a': it is a file and also a folder (entry 'GT/a/b.png' is inside it)"),
        "zip-absolute": (lambda d: _zip(d / "x.zip", [(outside, b"pwned", "file")]),
                         f"entry '{outside}': absolute path"),
        "zip-dotdot": (lambda d: _zip(d / "x.zip", [("GT/../../../x", b"pwned", "file")]),
                       "entry 'GT/../../../x': '..' path component"),
        "zip-chardev": (lambda d: _zip_mode(d / "x.zip", "dev", 0o020644),
                        "entry 'dev': device, FIFO or socket entry"),
        "zip-bzip2": (lambda d: _zip_bzip2(d / "x.zip"),
                      "entry 'GT/a.png': compression method bzip2 (vsrbench extracts stored and deflate entries only"),
        "tar-hardlink-inside": (lambda d: _tar(d / "x.tar", [("GT/a.png", b"1", "file"), ("GT/b.png", "GT/a.png", "hardlink")]),
                                "entry 'GT/b.png': hard link to 'GT/a.png'; vsrbench extracts no links"),
        "tar-hardlink-outside": (lambda d: _tar(d / "x.tar", [("GT/h", "../../" + "x", "hardlink")]),
                                 "entry 'GT/h': hard link to '../../x' points outside the extraction folder"),
        "tar-hardlink-absolute": (lambda d: _tar(d / "x.tar", [("GT/h", outside, "hardlink")]),
                                  f"entry 'GT/h': hard link to the absolute path '{outside}'"),
        "tar-dangling-link": (lambda d: _tar(d / "x.tar", [("GT/l", "nothing", "symlink")]),
                              "entry 'GT/l': symbolic link to 'nothing' is dangling"),
        "tar-non-utf8-link-target": (lambda d: _tar(d / "x.tar", [("GT/l", "a\udcffb", "symlink")]),
                                     r"entry 'GT/l': symbolic link whose target b'a\xffb' is not valid UTF-8"),
        "tar-non-utf8-name": (lambda d: _tar(d / "x.tar", [("GT/a\udcff.png", b"png", "file")]),
                              r"entry b'GT/a\xff.png': the name is not valid UTF-8"),
        "tar-duplicate": (lambda d: _tar(d / "x.tar", [("GT/a.png", b"1", "file"), ("GT/a.png", b"2", "file")]),
                          "entry 'GT/a.png': duplicate entry"),
        "tar-file-then-folder": (lambda d: _tar(d / "x.tar", [("GT/a", b"1", "file"), ("GT/a", b"", "dir")]),
                                 "entry 'GT/a': it is a file and also a folder (a folder entry of the same name)"),
        "tar-chardev": (lambda d: _tar(d / "x.tar", [("GT/null", b"", "chardev")]),
                        "entry 'GT/null': device, FIFO or other special entry"),
        "tar-absolute": (lambda d: _tar(d / "x.tar", [(outside, b"pwned", "file")]),
                         f"entry '{outside}': absolute path"),
        "zip-name-too-long": (lambda d: _zip(d / "x.zip", [("GT/" + "a" * 300 + ".png", b"1", "file")]),
                              f"entry 'GT/{'a' * 300}.png': the name is too long for this file system"),
        "tar-control-char": (lambda d: _tar(d / "x.tar", [("GT/a\nb.png", b"1", "file")]),
                             r"entry 'GT/a\nb.png': control character in the name"),
    }


def _patch(path: Path, old: bytes, new: bytes) -> Path:
    data = path.read_bytes()
    assert data.count(old) == 2  # local header and central directory
    path.write_bytes(data.replace(old, new))
    return path


def _zip_bzip2(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as zf:
        zf.writestr("GT/a.png", b"png" * 100)
    return path


def _zip_mode(path: Path, name: str, mode: int) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        zf.writestr(info, b"")
    return path


CASE_IDS = list(_cases(Path("/s")))


@pytest.mark.parametrize("case", CASE_IDS)
def test_bad_archive_clear_error(tmp_path, sentinel, monkeypatch, capsys, case):
    build, fragment = _cases(sentinel)[case]
    (tmp_path / "a").mkdir()
    archive = build(tmp_path / "a")
    rc, msg = prepare_cli(monkeypatch, capsys, tmp_path / "home", "--source", str(archive))
    assert rc == 2
    assert msg.startswith(f"vsrbench prepare: error: {archive}: refusing unsafe archive entry ")
    assert fragment in msg, msg
    assert "nothing was extracted" in msg and ("re-download" in msg or "--source" in msg)
    assert_untouched(sentinel)
    assert_nothing_partial(tmp_path / "home")


# ------------------------------------------------------------------------------------------- bombs


def test_zip_bomb_ratio(tmp_path, monkeypatch, capsys):
    z = _bomb_zip(tmp_path / "bomb.zip", 16 << 20)
    packed = zipfile.ZipFile(z).getinfo("vid4/GT/calendar/zeros.png").compress_size
    rc, msg = prepare_cli(monkeypatch, capsys, tmp_path / "home", "--source", str(z))
    assert rc == 2
    assert (f"entry 'vid4/GT/calendar/zeros.png': it expands {packed} compressed bytes to {16 << 20} "
            f"({(16 << 20) / packed:.0f}:1, above the 500:1") in msg
    assert "decompression bomb" in msg and "re-download" in msg
    assert_nothing_partial(tmp_path / "home")


def test_tar_gz_bomb_ratio(tmp_path, monkeypatch, capsys):
    t = tmp_path / "bomb.tar.gz"
    with tarfile.open(t, "w:gz", compresslevel=9) as tf:
        info = tarfile.TarInfo("GT/zeros.raw")
        info.size = 16 << 20
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    rc, msg = prepare_cli(monkeypatch, capsys, tmp_path / "home", "--source", str(t))
    assert rc == 2
    size = t.stat().st_size
    assert f"{t}: {size} bytes declare 0.02 GB of files ({(16 << 20) / size:.0f}:1, above the 500:1" in msg
    assert "largest entry 'GT/zeros.raw'" in msg and "decompression bomb" in msg
    assert_nothing_partial(tmp_path / "home")


def test_declared_total_beyond_catalog(tmp_path, monkeypatch, capsys):
    """A zip declaring 3 GB (compressed 2.9 GB, so no ratio alarm) is refused from the listing for vid4,
    whose catalog extracted size (0.2 GB) allows 0.8 GB."""
    z = _zip(tmp_path / "big.zip", [("GT/a.png", b"x" * 1000, "file")])
    _lie_in_central_directory(z, b"GT/a.png", file_size=3_000_000_000, compress_size=2_900_000_000)
    assert extraction_limit(200_000_000) == 800_000_000
    rc, msg = prepare_cli(monkeypatch, capsys, tmp_path / "home", "--source", str(z))
    assert rc == 2
    assert msg == (
        f"vsrbench prepare: error: {z}: declares 3.00 GB of files (largest entry 'GT/a.png', 3.00 GB), more than "
        "the 0.80 GB allowed for vid4 (the catalog's extracted size with margin); nothing was extracted. It is not "
        "the vid4 archive or it is a decompression bomb: re-download it from the source `vsrbench datasets` lists; "
        "if it is genuine, extract it yourself and pass the extracted folder with --source"
    )
    assert_nothing_partial(tmp_path / "home")


def test_sizes_that_lie_low(tmp_path):
    """Declared smaller than the data: never more than the declared bytes are written, and the CRC
    mismatch names the entry; the API's own limit counts too."""
    z = _zip(tmp_path / "lie.zip", [("GT/a.png", os.urandom(5000), "file")])
    _lie_in_central_directory(z, b"GT/a.png", file_size=10)
    with pytest.raises(VsrbenchError, match=r"entry 'GT/a.png' is corrupt \(BadZipFile: Bad CRC-32"):
        safe_extract(z, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and list(tmp_path.glob(".out.partial-*")) == []
    ok = _zip(tmp_path / "ok.zip", [("GT/a.png", os.urandom(5000), "file")])
    with pytest.raises(VsrbenchError, match=r"declares 0.00 GB of files .* more than the 0.00 GB allowed for toy"):
        safe_extract(ok, tmp_path / "out", progress=False, max_bytes=4999, what="toy")
    assert safe_extract(ok, tmp_path / "out", progress=False, max_bytes=5000).joinpath("GT/a.png").stat().st_size == 5000


# -------------------------------------------------------------------------------------- disk space


def test_free_space_checked_before_extracting(tmp_path, monkeypatch):
    z = _zip(tmp_path / "ok.zip", [("GT/a.png", os.urandom(200_000), "file")])
    monkeypatch.setattr(diskspace, "free_bytes", lambda p: 1_000_000)
    with pytest.raises(VsrbenchError) as e:
        safe_extract(z, tmp_path / "out", progress=False)
    assert str(e.value) == (
        f"extracting ok.zip needs 0.07 GB, 0.00 GB free at {tmp_path}; free some space or set VSRBENCH_HOME to a "
        "folder on a larger disk"
    )
    assert not (tmp_path / "out").exists() and list(tmp_path.glob(".out.partial-*")) == []


def test_free_space_checked_before_packing(shared_dir, tmp_path, monkeypatch, capsys):
    """vid4's GT PNGs (119 MB) for the GT tree + GT, BIx4, BDx4 LMDBs need 119 * (2 + 2/16) MB + the
    64 MB reserve; nothing is written when that does not fit."""
    gt = sum(f.stat().st_size for f in (shared_dir / "data/vid4/GT").rglob("*.png"))
    monkeypatch.setattr(diskspace, "free_bytes", lambda p: 50_000_000)
    rc, msg = prepare_cli(monkeypatch, capsys, tmp_path / "home", "--source", str(shared_dir / "data/vid4"))
    assert rc == 2
    need = diskspace.gb(int(gt * (2 + 2 / 16)) + diskspace.RESERVE_BYTES)
    assert msg == (
        f"vsrbench prepare: error: packing vid4 (4 stores) needs {need} GB, 0.05 GB free at {tmp_path / 'home' / 'vid4'}; "
        "free some space or set VSRBENCH_HOME to a folder on a larger disk"
    )
    assert not list((tmp_path / "home").rglob("*.lmdb")) and not list((tmp_path / "home").rglob("*.partial*"))


# ------------------------------------------------------------------------------- the root fix itself


def test_writer_never_follows_a_link(tmp_path, sentinel):
    """Even with a link already on disk (put there by anything), the writer neither writes through a
    linked folder nor over a linked or existing file."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "dirlink").symlink_to(sentinel)
    (root / "filelink").symlink_to(sentinel / "keep.txt")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to("..")
    w = _Beneath(tmp_path / "x.zip", root)
    try:
        for rel in ("dirlink/new.txt", "dirlink/keep.txt", "filelink", "sub/up/dirlink/keep.txt"):
            with pytest.raises(VsrbenchError, match=rf"entry '{rel}': writing it would go through a link or over an existing"):
                w.create(PurePosixPath(rel), rel)
        with w.create(PurePosixPath("sub/ok.txt"), "sub/ok.txt") as f:
            f.write(b"fine")
    finally:
        w.close()
    assert (root / "sub" / "ok.txt").read_bytes() == b"fine"
    assert_untouched(sentinel)


# ----------------------------------------------------------------------------- good archives still work


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_good_tar_extracts_bit_exact(shared_dir, tmp_path, mode):
    """Also with the "./" folder entry `tar -C folder -cf x.tar .` writes first."""
    seq = shared_dir / "data/vimeo90k/vimeo_septuplet/sequences/00001/0001"
    t = tmp_path / ("ok.tar" + (".gz" if mode == "w:gz" else ""))
    with tarfile.open(t, mode) as tf:
        tf.add(seq.parent.parent.parent, arcname=".", recursive=False)
        tf.add(seq, arcname="./vimeo_septuplet/sequences/00001/0001")
    assert tarfile.open(t).getnames()[0] == "."
    out = safe_extract(t, tmp_path / "out", progress=False)
    got = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert got == [f"vimeo_septuplet/sequences/00001/0001/im{k}.png" for k in range(1, 8)]
    for k in range(1, 8):
        assert (out / f"vimeo_septuplet/sequences/00001/0001/im{k}.png").read_bytes() == (seq / f"im{k}.png").read_bytes()
    assert not any(p.is_symlink() for p in out.rglob("*"))


@pytest.mark.parametrize("err,expect", [
    (errno.ENOSPC, "no space left on device while extracting ok.zip into {d} (the archive holds 0.00 GB); nothing was "
                   "kept: free some space or set VSRBENCH_HOME to a folder on a larger disk"),
    (errno.EACCES, "cannot write into {d} while extracting ok.zip (Permission denied); make the folder writable or "
                   "set VSRBENCH_HOME to a writable folder"),
])
def test_write_failure_mid_extraction(tmp_path, monkeypatch, err, expect):
    """A disk that fills (or a folder that turns read-only) after the check: the message blames the
    disk, not the archive, and the half-written folder is removed."""
    from vsrbench.datasets import extract

    z = _zip(tmp_path / "ok.zip", [("GT/a.png", os.urandom(3000), "file"), ("GT/b.png", os.urandom(3000), "file")])
    real = extract._copy
    calls = []

    def copy_then_fail(src, dst, *a):
        if calls:
            raise OSError(err, os.strerror(err))
        calls.append(1)
        return real(src, dst, *a)

    monkeypatch.setattr(extract, "_copy", copy_then_fail)
    with pytest.raises(VsrbenchError) as e:
        safe_extract(z, tmp_path / "out", progress=False)
    assert str(e.value) == expect.format(d=tmp_path)
    assert not isinstance(e.value, extract.BadArchiveError)  # a download would be kept
    assert not (tmp_path / "out").exists() and list(tmp_path.glob(".out.partial-*")) == []


def test_free_space_checked_before_downloading(tmp_path, monkeypatch, capsys):
    (tmp_path / "srv").mkdir()
    z = _zip(tmp_path / "srv" / "vid4.zip", [("GT/a.png", os.urandom(100_000), "file")])
    monkeypatch.setattr(diskspace, "free_bytes", lambda p: 2_000_000)
    server = FolderServer(z.parent)
    try:
        rc, msg = prepare_cli(monkeypatch, capsys, tmp_path / "home", "--url", f"{server.base}/vid4.zip")
    finally:
        server.close()
    assert rc == 2
    need = diskspace.gb(z.stat().st_size + diskspace.RESERVE_BYTES)
    assert msg == (
        f"vsrbench prepare: error: downloading vid4.zip needs {need} GB, 0.00 GB free at "
        f"{tmp_path / 'home' / 'vid4' / 'downloads'}; free some space or set VSRBENCH_HOME to a folder on a larger disk"
    )
    assert not (tmp_path / "home" / "vid4" / "downloads" / "vid4.zip").exists()
