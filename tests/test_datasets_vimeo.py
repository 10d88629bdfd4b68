"""Vimeo-90K: download (HTTP, Range resume) -> BasicSR LMDBs; motion splits."""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest

from vsrbench.datasets import check_split, find_store, load_split, open_store, prepare, read_id_list
from vsrbench.datasets.frames import read_frame
from vsrbench.degradations import parse_spec

from loopback import RangeServer


def build_archive(shared_dir: Path, dest: Path) -> tuple[Path, dict]:
    """The real layout; lists trimmed to the clips present (train: 00001/*, test: the 3 real test clips)."""
    v = shared_dir / "data" / "vimeo90k"
    seq = v / "vimeo_septuplet" / "sequences"
    present = sorted(f"{a.name}/{b.name}" for a in seq.iterdir() for b in a.iterdir())
    lists = {s: [i for i in read_id_list(v / f"sep_{s}list.txt") if i in present] for s in ("train", "test")}
    assert len(lists["train"]) == 8 and lists["test"] == ["00002/0004", "00002/0007", "00002/0008"]
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zf:
        for s, ids in lists.items():
            zf.writestr(f"vimeo_septuplet/sep_{s}list.txt", "\n".join(ids) + "\n")
        for c in present:
            for k in range(1, 8):
                zf.write(seq / c / f"im{k}.png", f"vimeo_septuplet/sequences/{c}/im{k}.png")
    return dest, lists


@pytest.fixture(scope="module")
def vimeo(shared_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vimeo")
    archive, lists = build_archive(shared_dir, tmp / "vimeo_septuplet.zip")
    home = tmp / "home"
    with RangeServer(archive.read_bytes(), archive.name, drop_first=True) as srv:
        result = prepare("vimeo90k", backend="lmdb", variants="bi:x4", urls=[srv.url], home=home,
                         workers=2, progress=False, quiet=True)
    return {"home": home, "lists": lists, "requests": srv.requests, "size": len(srv.data), "result": result}


def test_download_resumed_with_range(vimeo):
    reqs = vimeo["requests"]
    assert len(reqs) == 2
    assert reqs[0] is None
    assert reqs[1] == f"bytes={vimeo['size'] // 2}-"
    dl = vimeo["home"] / "vimeo90k" / "downloads" / "vimeo_septuplet.zip"
    assert dl.stat().st_size == vimeo["size"]


def basicsr_read_all(lmdb_path: Path) -> dict[str, np.ndarray]:
    """BasicSR's paths_from_lmdb + LMDB backend, re-stated: meta_info -> keys -> txn.get -> imdecode."""
    with open(lmdb_path / "meta_info.txt") as fin:
        paths = [line.split(".")[0] for line in fin]
    env = lmdb.open(str(lmdb_path), readonly=True, lock=False, readahead=False, meminit=False)
    out = {}
    with env.begin(write=False) as txn:
        for key in paths:
            buf = txn.get(key.encode("ascii"))
            assert buf is not None, key
            out[key] = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)  # BGR
    env.close()
    return out


@pytest.mark.parametrize("set_", ["train", "test"])
def test_basicsr_reads_every_frame(vimeo, shared_dir, set_):
    seq = shared_dir / "data" / "vimeo90k" / "vimeo_septuplet" / "sequences"
    ids = vimeo["lists"][set_]
    gt_path = vimeo["home"] / "vimeo90k" / "lmdb" / set_ / "GT.lmdb"
    lines = (gt_path / "meta_info.txt").read_text().splitlines()
    assert lines[0] == f"{ids[0]}/im1.png (256,448,3) 1"
    assert len(lines) == 7 * len(ids)
    frames = basicsr_read_all(gt_path)
    assert sorted(frames) == sorted(f"{c}/im{k}" for c in ids for k in range(1, 8))
    for key, bgr in frames.items():
        np.testing.assert_array_equal(bgr, cv2.imread(str(seq / f"{key}.png")), err_msg=key)
    lr_path = vimeo["home"] / "vimeo90k" / "lmdb" / set_ / "BIx4.lmdb"
    assert (lr_path / "meta_info.txt").read_text().splitlines()[0] == f"{ids[0]}/im1.png (64,112,3) 1"
    lr = basicsr_read_all(lr_path)
    assert sorted(lr) == sorted(frames)
    deg = parse_spec("bi:x4")
    c = ids[-1]
    for k in (1, 4, 7):
        want = deg.apply_frame(read_frame(seq / c / f"im{k}.png"), dataset="vimeo90k", clip=c, index=k - 1)
        np.testing.assert_array_equal(lr[f"{c}/im{k}"][:, :, ::-1], want)
    # and through open_store
    s = open_store(find_store("vimeo90k", "GT", set_, home=vimeo["home"]))
    assert s.clips() == ids and all(s.num_frames(c) == 7 for c in ids)
    np.testing.assert_array_equal(s.read(ids[0], 3), read_frame(seq / ids[0] / "im4.png"))


def test_canonical_tree_two_level_ids(vimeo):
    gt = open_store(vimeo["home"] / "vimeo90k" / "GT")
    assert gt.clips() == sorted(vimeo["lists"]["train"] + vimeo["lists"]["test"])
    assert (vimeo["home"] / "vimeo90k" / "GT" / "00001" / "0001" / "00000006.png").is_file()


def test_mmagic_keys(shared_dir, tmp_path):
    seq = shared_dir / "data" / "vimeo90k" / "vimeo_septuplet" / "sequences"
    src = tmp_path / "src" / "vimeo_septuplet"
    src.mkdir(parents=True)
    (src / "sequences").symlink_to(seq)
    (src / "sep_trainlist.txt").write_text("00001/0003\n")
    (src / "sep_testlist.txt").write_text("\n")
    prepare("vimeo90k", variants="", source=src, home=tmp_path / "h", progress=False, quiet=True,
            lmdb_keys="mmagic", map_size=1 << 16)  # tiny map: exercises growth on MapFullError
    p = tmp_path / "h" / "vimeo90k" / "lmdb" / "train" / "GT.lmdb"
    lines = (p / "meta_info.txt").read_text().splitlines()
    assert lines[0] == "00001_0003_1.png (256,448,3) 1" and len(lines) == 7
    frames = basicsr_read_all(p)
    assert sorted(frames) == [f"00001_0003_{k}" for k in range(1, 8)]
    s = open_store(p)
    np.testing.assert_array_equal(s.read("00001/0003", 6), read_frame(seq / "00001/0003/im7.png"))


# ------------------------------------------------------------------------------------------ splits


@pytest.mark.parametrize("form,counts", [("cleaned", (1225, 4977, 1613)), ("original", (1225, 4983, 1616))])
def test_motion_split_counts(shared_dir, form, counts):
    src = shared_dir / "data" / "vimeo90k" / "motion-splits"
    got = tuple(len(load_split(s, form, source=src)) for s in ("fast", "medium", "slow"))
    assert got == counts


def test_original_splits_partition_testlist(shared_dir):
    src = shared_dir / "data" / "vimeo90k" / "motion-splits"
    union = sum((load_split(s, "original", source=src) for s in ("fast", "medium", "slow")), [])
    assert sorted(union) == sorted(read_id_list(shared_dir / "data" / "vimeo90k" / "sep_testlist.txt"))
    assert len(load_split("test", source=shared_dir / "data" / "vimeo90k")) == 7824
    cleaned = set(sum((load_split(s, source=src) for s in ("fast", "medium", "slow")), []))
    assert sorted(set(union) - cleaned)[:2] == ["00014/0030", "00014/0043"]


def test_missing_split_ids_are_reported(vimeo, shared_dir):
    src = shared_dir / "data" / "vimeo90k" / "motion-splits"
    store = open_store(find_store("vimeo90k", "GT", "test", home=vimeo["home"]))
    fast = check_split(load_split("fast", source=src), store.clips(), "fast")
    assert fast.present == ["00002/0004"] and len(fast.missing) == 1224
    assert "1224 of 1225 clip ids are not in the store" in fast.report()
    slow = check_split(load_split("slow", source=src), store.clips(), "slow")
    assert slow.present == ["00002/0007", "00002/0008"]


def test_prepare_reports_ids_the_archive_lacks(shared_dir, tmp_path, capsys):
    v = shared_dir / "data" / "vimeo90k"
    src = tmp_path / "src" / "vimeo_septuplet"
    src.mkdir(parents=True)
    (src / "sequences").symlink_to(v / "vimeo_septuplet" / "sequences")
    for s in ("train", "test"):
        (src / f"sep_{s}list.txt").symlink_to(v / f"sep_{s}list.txt")  # the real, full lists
    r = prepare("vimeo90k", variants="", source=src, home=tmp_path / "h", progress=False)
    err = capsys.readouterr().err
    assert len(r.missing_ids["test"]) == 7821 and len(r.missing_ids["train"]) == 64604
    assert "7821 of the 7824 clip ids in sep_testlist.txt are not in the source" in err
    assert "5 clip folder(s) are in neither list" in err
    lines = (tmp_path / "h" / "vimeo90k" / "missing_ids.txt").read_text().splitlines()
    assert len(lines) == 7821 + 64604


def test_split_sha256_is_checked(shared_dir, tmp_path):
    from vsrbench.errors import VsrbenchError

    src = shared_dir / "data" / "vimeo90k" / "motion-splits" / "cleaned" / "fast_testset.txt"
    d = tmp_path / "cleaned"
    d.mkdir()
    (d / "fast_testset.txt").write_bytes(b"\r\n".join(src.read_bytes().split()))  # same ids, CRLF
    with pytest.raises(VsrbenchError, match="sha256"):
        load_split("fast", source=tmp_path)
    assert load_split("fast", source=tmp_path, verify=False) == load_split("fast", source=src.parent.parent)


def test_prepare_installs_splits_from_source(shared_dir, tmp_path, monkeypatch):
    """--source data/vimeo90k (archive layout + motion-splits/): the harness's load_split finds them."""
    v = shared_dir / "data" / "vimeo90k"
    src = tmp_path / "vimeo90k"
    (src / "vimeo_septuplet").mkdir(parents=True)
    (src / "vimeo_septuplet" / "sequences").symlink_to(v / "vimeo_septuplet" / "sequences")
    (src / "vimeo_septuplet" / "sep_trainlist.txt").write_text("\n")
    (src / "vimeo_septuplet" / "sep_testlist.txt").symlink_to(v / "sep_testlist.txt")
    (src / "motion-splits").symlink_to(v / "motion-splits")
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "h"))
    prepare("vimeo90k", variants="", source=src, progress=False, quiet=True)
    assert [len(load_split(s)) for s in ("fast", "medium", "slow")] == [1225, 4977, 1613]
    assert [len(load_split(s, "original")) for s in ("fast", "medium", "slow")] == [1225, 4983, 1616]
    assert len(load_split("test")) == 7824
    assert open_store(find_store("vimeo90k", "GT", "test")).clips() == ["00002/0004", "00002/0007", "00002/0008"]
