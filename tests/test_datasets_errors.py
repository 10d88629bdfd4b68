"""Bad inputs: a clear VsrbenchError, no store, and nothing written outside the target."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from vsrbench.datasets import open_store, prepare, safe_extract
from vsrbench.errors import VsrbenchError

CLIPS = ["00001/0001", "00001/0002"]


def vimeo_zip(shared_dir: Path, dest: Path, *, drop=None, corrupt=None, extra=None) -> Path:
    """A small zip in the real archive's layout (2 clips, lists trimmed to them)."""
    seq = shared_dir / "data" / "vimeo90k" / "vimeo_septuplet" / "sequences"
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("vimeo_septuplet/sep_trainlist.txt", "\n".join(CLIPS) + "\n\n")
        zf.writestr("vimeo_septuplet/sep_testlist.txt", "\n")
        for c in CLIPS:
            for k in range(1, 8):
                name = f"vimeo_septuplet/sequences/{c}/im{k}.png"
                if name == drop:
                    continue
                data = (seq / c / f"im{k}.png").read_bytes()
                if name == corrupt:
                    data = data[: len(data) // 3]  # a truncated PNG
                zf.writestr(name, data)
        for name, data in (extra or {}).items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return dest


def assert_no_store(home: Path) -> None:
    ds = home / "vimeo90k"
    if not ds.exists():
        return
    stores = [p for p in ds.rglob("*") if p.name.endswith((".lmdb", ".h5", ".partial")) or p.name == "GT"]
    assert stores == [], stores
    with pytest.raises(VsrbenchError):
        open_store(ds / "lmdb" / "train" / "GT.lmdb")


def run(home, src):
    return prepare("vimeo90k", variants="bi:x4", source=src, home=home, progress=False, quiet=True)


def test_good_zip_works(shared_dir, tmp_path):
    z = vimeo_zip(shared_dir, tmp_path / "ok.zip")
    run(tmp_path / "home", z)
    s = open_store(tmp_path / "home" / "vimeo90k" / "lmdb" / "train" / "BIx4.lmdb")
    assert s.clips() == CLIPS and s.num_frames(CLIPS[0]) == 7


def test_truncated_archive(shared_dir, tmp_path):
    z = vimeo_zip(shared_dir, tmp_path / "ok.zip")
    bad = tmp_path / "truncated.zip"
    bad.write_bytes(z.read_bytes()[: z.stat().st_size // 2])
    with pytest.raises(VsrbenchError, match=r"truncated\.zip.*(truncated|corrupt)"):
        run(tmp_path / "home", bad)
    assert_no_store(tmp_path / "home")
    assert not (tmp_path / "home" / "vimeo90k" / "source").exists()


def test_truncated_tar(shared_dir, tmp_path):
    seq = shared_dir / "data" / "vimeo90k" / "vimeo_septuplet" / "sequences"
    t = tmp_path / "a.tar"
    with tarfile.open(t, "w") as tf:
        tf.add(seq / "00001" / "0001", arcname="vimeo_septuplet/sequences/00001/0001")
    bad = tmp_path / "truncated.tar"
    bad.write_bytes(t.read_bytes()[: t.stat().st_size // 2])
    with pytest.raises(VsrbenchError, match="truncated"):
        run(tmp_path / "home", bad)
    assert_no_store(tmp_path / "home")


def test_corrupt_png_in_archive(shared_dir, tmp_path):
    name = "vimeo_septuplet/sequences/00001/0002/im3.png"
    z = vimeo_zip(shared_dir, tmp_path / "c.zip", corrupt=name)
    with pytest.raises(VsrbenchError, match=r"00001/0002/im3\.png.*corrupt"):
        run(tmp_path / "home", z)
    assert_no_store(tmp_path / "home")


def test_clip_missing_a_frame(shared_dir, tmp_path):
    z = vimeo_zip(shared_dir, tmp_path / "m.zip", drop="vimeo_septuplet/sequences/00001/0002/im5.png")
    with pytest.raises(VsrbenchError, match=r"clip 00001/0002.*found 6 frames, expected 7.*im5\.png"):
        run(tmp_path / "home", z)
    assert_no_store(tmp_path / "home")


def test_vid4_clip_missing_a_frame(shared_dir, tmp_path):
    src = tmp_path / "vid4"
    for clip in ("calendar", "city", "foliage", "walk"):
        (src / clip).mkdir(parents=True)
        for f in (shared_dir / "data" / "vid4" / "GT" / clip).iterdir():
            if not (clip == "city" and f.name == "Frame 010.png"):
                (src / clip / f.name).symlink_to(f)
    with pytest.raises(VsrbenchError, match=r"clip city.*found 33 frames, expected 34"):
        prepare("vid4", source=src, home=tmp_path / "home", progress=False, quiet=True)
    assert not (tmp_path / "home" / "vid4" / "GT").exists()
    assert not list((tmp_path / "home").rglob("*.partial"))


def test_dotdot_entry(shared_dir, tmp_path):
    (tmp_path / "x").mkdir()
    z = vimeo_zip(shared_dir, tmp_path / "x" / "evil.zip", extra={"vimeo_septuplet/../../../escaped.txt": b"pwned"})
    with pytest.raises(VsrbenchError, match=r"unsafe archive entry .*\.\..*'\.\.' path component"):
        run(tmp_path / "home", z)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert_no_store(tmp_path / "home")


def test_absolute_path_entry(shared_dir, tmp_path):
    target = tmp_path / "abs-escaped.txt"
    z = vimeo_zip(shared_dir, tmp_path / "abs.zip", extra={str(target): b"pwned"})
    with pytest.raises(VsrbenchError, match="absolute path"):
        run(tmp_path / "home", z)
    assert not target.exists()
    # the same in a tar
    t = tmp_path / "abs.tar"
    with tarfile.open(t, "w") as tf:
        info = tarfile.TarInfo(str(target))
        info.size = 5
        tf.addfile(info, io.BytesIO(b"pwned"))
    with pytest.raises(VsrbenchError, match="absolute path"):
        safe_extract(t, tmp_path / "out")
    assert not target.exists() and not (tmp_path / "out").exists()
    assert_no_store(tmp_path / "home")


@pytest.mark.parametrize("link", ["../../outside", "/tmp"])
def test_symlink_pointing_outside(tmp_path, link):
    outside = tmp_path / "outside"
    outside.mkdir()
    t = tmp_path / "link.tar"
    with tarfile.open(t, "w") as tf:
        info = tarfile.TarInfo("data/link")
        info.type = tarfile.SYMTYPE
        info.linkname = link
        tf.addfile(info)
        f = tarfile.TarInfo("data/link/evil.txt")
        f.size = 5
        tf.addfile(f, io.BytesIO(b"pwned"))
    with pytest.raises(VsrbenchError, match="link"):
        prepare("vid4", source=t, home=tmp_path / "home", progress=False, quiet=True)
    assert list(outside.iterdir()) == []
    assert not (Path("/tmp") / "evil.txt").exists() or link != "/tmp"
    assert not (tmp_path / "home" / "vid4" / "source").exists()
    assert not list((tmp_path / "home").rglob("*.partial*"))


def test_zip_symlink_outside(tmp_path):
    z = tmp_path / "l.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("a/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "../../..")
    with pytest.raises(VsrbenchError, match="points outside"):
        safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_not_an_archive(tmp_path):
    p = tmp_path / "x.zip"
    p.write_bytes(b"hello world" * 10)
    with pytest.raises(VsrbenchError, match="neither a zip nor a tar"):
        prepare("vid4", source=p, home=tmp_path / "home", progress=False, quiet=True)


def test_browser_source_explains(tmp_path):
    with pytest.raises(VsrbenchError, match=r"--source"):
        prepare("udm10", home=tmp_path, progress=False, quiet=True)


def test_unknown_dataset_and_bad_variant(tmp_path):
    with pytest.raises(VsrbenchError, match="unknown dataset"):
        prepare("nope", home=tmp_path)
    with pytest.raises(VsrbenchError, match="invalid degradation spec"):
        prepare("demo", variants="bi:x5", home=tmp_path)
