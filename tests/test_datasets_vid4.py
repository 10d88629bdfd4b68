"""Vid4 from shared/ via --source: canonical tree, bi:x4 == the degradations, backends agree."""

from __future__ import annotations

import numpy as np
import pytest

from vsrbench.datasets import find_store, open_store, prepare, store_path
from vsrbench.datasets.frames import list_frames, read_frame
from vsrbench.degradations import parse_spec

COUNTS = {"calendar": 41, "city": 34, "foliage": 49, "walk": 47}
SIZES = {"calendar": (576, 720), "city": (576, 704), "foliage": (480, 720), "walk": (480, 720)}


@pytest.fixture(scope="module")
def vid4_home(shared_dir, tmp_path_factory):
    """Prepared as lmdb (which also writes the canonical GT tree = the folders backend for GT) and as
    hdf5, both with bi:x4 (a folders bi:x4 run would only repeat the degradation: CI time; the demo
    test covers folders for LR variants)."""
    home = tmp_path_factory.mktemp("vh-vid4")
    src = shared_dir / "data" / "vid4"
    results = {}
    for backend in ("lmdb", "hdf5"):
        results[backend] = prepare("vid4", backend=backend, variants="bi:x4", source=src, workers=2,
                                   home=home, progress=False, quiet=True)
    return home, results


def test_canonical_tree_counts_and_order(vid4_home, shared_dir):
    home, _ = vid4_home
    gt = open_store(home / "vid4" / "GT")
    assert gt.clips() == ["calendar", "city", "foliage", "walk"]
    for clip, n in COUNTS.items():
        assert gt.num_frames(clip) == n
        files = sorted((home / "vid4" / "GT" / clip).glob("*.png"))
        assert [f.name for f in files] == [f"{i:08d}.png" for i in range(n)]
        src = list_frames(shared_dir / "data" / "vid4" / "GT" / clip)
        assert len(src) == n
        # natural order: spot-check frames across the 9 -> 10 boundary and the ends
        for i in sorted({0, 8, 9, 10, n - 1}):
            np.testing.assert_array_equal(gt.read(clip, i), read_frame(src[i]), err_msg=f"{clip} frame {i}")
        assert gt.frame_shape(clip) == (*SIZES[clip], 3)


def test_bix4_equals_degradations(vid4_home, shared_dir):
    home, _ = vid4_home
    lr = open_store(find_store("vid4", "bi:x4", backend="lmdb", home=home))
    deg = parse_spec("bi:x4")
    for clip, n in COUNTS.items():
        assert lr.num_frames(clip) == n
        h, w = SIZES[clip]
        assert lr.frame_shape(clip) == (h // 4, w // 4, 3)
        src = list_frames(shared_dir / "data" / "vid4" / "GT" / clip)
        for i in (0, n - 1):
            want = deg.apply_frame(read_frame(src[i]), dataset="vid4", clip=clip, index=i)
            np.testing.assert_array_equal(lr.read(clip, i), want, err_msg=f"{clip} frame {i}")


def test_backends_read_back_identical(vid4_home):
    home, results = vid4_home
    for variant, backends in (("GT", ("lmdb", "hdf5", "folders")), ("bi:x4", ("lmdb", "hdf5"))):
        stores = [open_store(find_store("vid4", variant, backend=b, home=home)) for b in backends]
        assert [s.backend for s in stores] == list(backends)
        for s in stores:
            assert s.clips() == list(COUNTS)
            assert [s.num_frames(c) for c in COUNTS] == list(COUNTS.values())
        for clip in ("city", "walk"):  # pixel identity on a subset (CI time)
            for i in range(stores[0].num_frames(clip)):
                a = stores[0].read(clip, i)
                assert a.dtype == np.uint8 and a.shape[2] == 3
                for s in stores[1:]:
                    np.testing.assert_array_equal(s.read(clip, i), a, err_msg=f"{variant} {clip} {i} {s.backend}")


def test_lmdb_meta_info_convention(vid4_home):
    home, _ = vid4_home
    p = store_path("vid4", "GT", "all", "lmdb", home)
    lines = (p / "meta_info.txt").read_text().splitlines()
    assert len(lines) == 171
    assert lines[0] == "calendar/00000000.png (576,720,3) 1"
    assert lines[-1] == "walk/00000046.png (480,720,3) 1"


def test_rerun_does_no_work(vid4_home, shared_dir, capsys):
    home, _ = vid4_home
    r = prepare("vid4", backend="lmdb", variants="bi:x4", source=shared_dir / "data" / "vid4", home=home, progress=False)
    assert r.did_work is False
    assert "nothing to do" in capsys.readouterr().err


def _lmdb_items(path, tmp_path):
    """Every (key, value) of an LMDB (read from a copy: py-lmdb opens a path once per process, and
    the store readers of other tests may hold it)."""
    import shutil

    import lmdb

    copy = tmp_path / f"copy-{len(list(tmp_path.glob('copy-*')))}"
    shutil.copytree(path, copy)
    env = lmdb.open(str(copy), readonly=True, lock=False)
    with env.begin() as txn:
        items = dict(txn.cursor())
    env.close()
    return items


def test_add_variant_from_gt_store_equals_prepare(vid4_home, tmp_path):
    """An LR variant made later from the GT store alone (no source) is the store prepare writes."""
    import json
    import shutil

    import h5py

    from vsrbench.datasets import add_variant, is_complete

    home, _ = vid4_home
    new = tmp_path / "home"
    for b in ("lmdb", "hdf5"):
        src = store_path("vid4", "GT", "all", b, home)
        dst = store_path("vid4", "GT", "all", b, new)
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dst)

    made = add_variant("vid4", "bi:x4", backend="lmdb", home=new, workers=2, commit_every=50, progress=False, quiet=True)
    want = store_path("vid4", "bi:x4", "all", "lmdb", home)
    assert made == store_path("vid4", "bi:x4", "all", "lmdb", new) and is_complete(made)
    a, b = _lmdb_items(made, tmp_path), _lmdb_items(want, tmp_path)
    assert len(a) == 171 and a == b  # every key, every PNG byte
    assert (made / "meta_info.txt").read_text() == (want / "meta_info.txt").read_text()
    assert json.loads((made / "vsrbench.json").read_text()) == json.loads((want / "vsrbench.json").read_text())
    assert not made.with_name(made.name + ".partial").exists()

    made_h5 = add_variant("vid4", "bi:x4", home=new, backend="hdf5", progress=False, quiet=True)
    with h5py.File(made_h5, "r") as f, h5py.File(store_path("vid4", "bi:x4", "all", "hdf5", home), "r") as g:
        assert json.loads(f.attrs["vsrbench"]) == json.loads(g.attrs["vsrbench"])
        for clip in COUNTS:
            np.testing.assert_array_equal(f[clip][()], g[clip][()], err_msg=clip)
    # a complete store: returned at once, nothing rewritten
    mtime = (made / "data.mdb").stat().st_mtime_ns
    assert add_variant("vid4", "bi:x4", backend="lmdb", home=new, progress=False, quiet=True) == made
    assert (made / "data.mdb").stat().st_mtime_ns == mtime


def test_add_variant_without_gt_store_says_what_to_run(tmp_path):
    from vsrbench.datasets import add_variant
    from vsrbench.errors import VsrbenchError

    with pytest.raises(VsrbenchError, match=r"vsrbench prepare vid4"):
        add_variant("vid4", "bd:x4", home=tmp_path, progress=False, quiet=True)
    assert not (tmp_path / "vid4" / "lmdb").exists()


def test_prepare_new_variant_from_gt_stores_needs_no_source(vid4_home, tmp_path, monkeypatch, capsys, shared_dir):
    """`vsrbench prepare vid4 --variants bd:x4` after GT is prepared: no --source, no download."""
    import shutil
    import sys

    from vsrbench.cli import main

    home, _ = vid4_home
    new = tmp_path / "home"
    dst = store_path("vid4", "GT", "all", "lmdb", new)
    dst.parent.mkdir(parents=True)
    shutil.copytree(store_path("vid4", "GT", "all", "lmdb", home), dst)
    (new / "vid4" / "GT").symlink_to(home / "vid4" / "GT")  # the canonical tree (folders GT store)
    monkeypatch.setenv("VSRBENCH_HOME", str(new))
    prepare_module = sys.modules["vsrbench.datasets.prepare"]  # (the package exports the function under that name)
    monkeypatch.setattr(prepare_module, "obtain_source",
                        lambda *a, **k: pytest.fail("prepare looked for the source although GT is prepared"))
    assert main(["prepare", "vid4", "--variants", "bd:x4", "--no-progress"]) == 0
    assert "made from the prepared GT stores" in capsys.readouterr().out
    lr = open_store(find_store("vid4", "bd:x4", backend="lmdb", home=new))
    assert [lr.num_frames(c) for c in COUNTS] == list(COUNTS.values())
    deg = parse_spec("bd:x4")
    for clip in ("calendar", "walk"):
        src = list_frames(shared_dir / "data" / "vid4" / "GT" / clip)
        i = len(src) - 1
        want = deg.apply_frame(read_frame(src[i]), dataset="vid4", clip=clip, index=i)
        np.testing.assert_array_equal(lr.read(clip, i), want, err_msg=f"{clip} frame {i}")
    # the rerun is a no-op
    assert main(["prepare", "vid4", "--variants", "bd:x4", "--no-progress"]) == 0
    assert "already prepared" in capsys.readouterr().out
