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
