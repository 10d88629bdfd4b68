"""`prepare demo` (no network), the catalog, variant parsing and open_store corner cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vsrbench.datasets import (
    CATALOG,
    find_store,
    get_entry,
    open_store,
    prepare,
    resolve_variants,
    store_path,
    variant_dirname,
)
from vsrbench.datasets.demo import DEMO_CLIPS, render_demo_clip
from vsrbench.datasets.prepare import _split_specs
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("vh-demo")
    for backend in ("lmdb", "hdf5", "folders"):
        prepare("demo", backend=backend, home=home, workers=2, progress=False, quiet=True)
    return home


def test_demo_all_backends_identical(demo_home):
    clips = list(DEMO_CLIPS)
    deg = parse_spec("bi:x4")
    for variant in ("GT", "bi:x4"):
        stores = [open_store(find_store("demo", variant, backend=b, home=demo_home)) for b in ("lmdb", "hdf5", "folders")]
        for s in stores:
            assert s.clips() == clips
            assert [s.num_frames(c) for c in clips] == [DEMO_CLIPS[c].frames for c in clips]
        for c in clips[:3]:
            ref = render_demo_clip(c)
            for i in range(stores[0].num_frames(c)):
                want = ref[i] if variant == "GT" else deg.apply_frame(ref[i], dataset="demo", clip=c, index=i)
                for s in stores:
                    np.testing.assert_array_equal(s.read(c, i), want, err_msg=f"{variant} {c} {i} {s.backend}")


def test_demo_store_metadata_and_pickle(demo_home):
    import pickle

    s = open_store(find_store("demo", "bi:x4", home=demo_home))
    assert (s.dataset, s.variant, s.set, s.scale, s.backend) == ("demo", "bi:x4", "all", 4, "lmdb")
    c = s.clips()[0]
    a = s.read(c, 0)
    s2 = pickle.loads(pickle.dumps(s))  # handles are not pickled; reopened lazily
    np.testing.assert_array_equal(s2.read(c, 0), a)
    assert s.frame_shape(c) == (36, 44, 3)  # carphone: 144x176 GT, x4
    with pytest.raises(VsrbenchError, match="no clip"):
        s.read("nope", 0)
    with pytest.raises(VsrbenchError, match="no frame 999"):
        s.read(c, 999)


def test_open_store_refuses_incomplete(demo_home, tmp_path):
    import shutil

    p = tmp_path / "GT.lmdb"
    shutil.copytree(find_store("demo", "GT", backend="lmdb", home=demo_home), p)
    (p / "vsrbench.json").unlink()
    with pytest.raises(VsrbenchError, match="not a complete vsrbench store"):
        open_store(p)
    q = tmp_path / "X.lmdb.partial"
    q.mkdir()
    with pytest.raises(VsrbenchError, match="interrupted"):
        open_store(tmp_path / "X.lmdb")
    # a plain folder of clips (e.g. model outputs) with require_marker=False
    gt = find_store("demo", "GT", backend="folders", home=demo_home)
    plain = tmp_path / "plain"
    shutil.copytree(gt, plain)
    (plain / "vsrbench.json").unlink()
    with pytest.raises(VsrbenchError):
        open_store(plain)
    ps = open_store(plain, require_marker=False)
    c = ps.clips()[0]
    np.testing.assert_array_equal(ps.read(c, 2), open_store(gt).read(c, 2))


def test_find_store_explains(tmp_path):
    with pytest.raises(VsrbenchError, match=r"vsrbench prepare vid4 --variants bd:x4"):
        find_store("vid4", "bd:x4", home=tmp_path)


def test_catalog_entries():
    assert set(CATALOG) == {"vimeo90k", "vid4", "spmcs", "udm10", "vid3oc", "intvid", "realclips", "demo", "reds"}
    v = get_entry("vimeo90k")
    assert v.sources[0].url == "http://data.csail.mit.edu/tofu/dataset/vimeo_septuplet.zip"
    assert v.extra == {"train_count": 64612, "test_count": 7824} and v.sets == ("train", "test")
    assert get_entry("vid4").frames == {"calendar": 41, "city": 34, "foliage": 49, "walk": 47}
    assert get_entry("intvid").clips == tuple(f"{i:03d}" for i in range(50, 60))
    assert get_entry("udm10").num_clips == 10 and get_entry("vid3oc").frames == 120
    assert get_entry("spmcs").expected_frames("x") == (31, 35)
    for e in CATALOG.values():
        for s in e.sources:
            assert not s.browser or "--source" in s.note
    assert resolve_variants(get_entry("spmcs"), None) == ["bi:x4", "bd:x4", "gauss:x3", "gauss:x4"]
    assert get_entry("demo").num_clips == len(DEMO_CLIPS)


def test_variant_names_and_parsing():
    assert variant_dirname("GT") == "GT"
    assert variant_dirname("bi:x4") == "BIx4" and variant_dirname("bd:x4") == "BDx4"
    assert variant_dirname("bd-duf:x4") == "BDDUFx4"
    assert variant_dirname("gauss:sigma=1,size=3:x3") != variant_dirname("gauss:sigma=1,size=3:x4")
    assert _split_specs("bi:x4,bd:x4,gauss:sigma=1,size=3:x3,jpeg:q=20") == [
        "bi:x4", "bd:x4", "gauss:sigma=1,size=3:x3", "jpeg:q=20"]
    assert resolve_variants(get_entry("vid4"), "GT,bi:x4,bi:x4") == ["bi:x4"]
    assert store_path("vimeo90k", "bi:x4", "test", "lmdb", "/h").as_posix() == "/h/vimeo90k/lmdb/test/BIx4.lmdb"


def test_random_variant_is_worker_independent(tmp_path):
    """noise + jpeg (RGB-only ops) give the same bytes with 1 and 2 workers and equal apply_frame."""
    r = {}
    for w in (1, 2):
        prepare("demo", variants="bi:x4+noise", home=tmp_path / str(w), workers=w, progress=False, quiet=True)
        r[w] = open_store(find_store("demo", "bi:x4+noise", home=tmp_path / str(w)))
    c = r[1].clips()[-1]
    ref = render_demo_clip(c)
    deg = parse_spec("bi:x4+noise")
    for i in (0, 5):
        want = deg.apply_frame(ref[i], dataset="demo", clip=c, index=i)
        np.testing.assert_array_equal(r[1].read(c, i), want)
        np.testing.assert_array_equal(r[2].read(c, i), want)
    meta = json.loads((r[1].path / "vsrbench.json").read_text())
    assert meta["variant"] == "bi:x4+noise"


def test_cli_prepare_and_datasets(demo_home, monkeypatch, capsys):
    from vsrbench.cli import main

    monkeypatch.setenv("VSRBENCH_HOME", str(demo_home))
    assert main(["prepare", "demo", "--no-progress"]) == 0
    assert "already prepared; nothing to do" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "vimeo_septuplet.zip (82 GB)" in out and "lmdb/all/BIx4.lmdb" in out
    assert main(["prepare", "udm10"]) == 2
    assert "--source" in capsys.readouterr().err
    assert main(["prepare", "demo", "--variants", "bi:x7"]) == 2


def test_second_prepare_is_refused_while_one_runs(tmp_path):
    import fcntl

    (tmp_path / "demo").mkdir()
    with open(tmp_path / "demo" / ".prepare.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(VsrbenchError, match="another `vsrbench prepare` is running"):
            prepare("demo", home=tmp_path, progress=False, quiet=True)
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [".prepare.lock"]
