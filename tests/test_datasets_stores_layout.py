"""The stores package and the datasets' shared pieces: backends behind one registry, one write loop,
no import cycles inside ``vsrbench.datasets``, one set of disk-full errnos, one file hash, the BT.601
weights once."""

from __future__ import annotations

import ast
import errno
import json
import pathlib

import numpy as np
import pytest

from vsrbench.errors import VsrbenchError

ROOT = pathlib.Path(__file__).resolve().parents[1] / "vsrbench"
STORES = ROOT / "datasets" / "stores"


def _modules(sub: str = "") -> dict[str, pathlib.Path]:
    out = {}
    for p in (ROOT / sub).rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _imports(path: pathlib.Path, known: dict) -> set[str]:
    """The vsrbench modules ``path`` imports, anywhere in it (function-level imports count)."""
    deps = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                deps.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            deps.update(a.name for a in node.names)
    return {d for d in deps if d in known}


def test_no_import_cycle_among_the_datasets_modules():
    """catalog <-> demo <-> splits and frames <-> video were cycles (through function-level imports)."""
    mods = _modules("datasets")
    graph = {m: _imports(p, mods) - {m} for m, p in mods.items()}
    cycles = []

    def visit(m, path):
        for d in graph[m]:
            if d in path:
                cycles.append(path[path.index(d):] + [d])
            elif d not in done:
                visit(d, path + [d])
        done.add(m)

    done: set[str] = set()
    for m in sorted(graph):
        if m not in done:
            visit(m, [m])
    assert not cycles, cycles[:3]


def test_backend_names_are_compared_only_in_the_stores_package():
    from vsrbench.datasets.stores import BACKENDS

    found = []
    for p in ROOT.rglob("*.py"):
        if STORES in p.parents:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Compare):
                consts = [c for c in [node.left, *node.comparators] for c in ast.walk(c) if isinstance(c, ast.Constant)]
                if any(c.value in BACKENDS for c in consts if isinstance(c.value, str)):
                    found.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_one_write_loop_feeds_the_writers():
    """prepare and add_variant each had their own loop of add_clip / should_flush / flush."""
    callers = set()
    for p in ROOT.rglob("*.py"):
        if STORES in p.parents:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "add_clip", "add_encoded", "should_flush"):
                callers.add(p.relative_to(ROOT).as_posix())
    assert callers == {"datasets/packing.py"}, callers


def test_the_registry_knows_each_backend_layout(tmp_path):
    from vsrbench.datasets.stores import BACKENDS, REGISTRY, get_backend, store_path, tree_backend
    from vsrbench.datasets.stores.registry import backend_at, backend_named

    assert BACKENDS == ("lmdb", "hdf5", "folders") and tree_backend().name == "folders"
    assert store_path("vid4", "bi:x4", "all", "lmdb", tmp_path) == tmp_path / "vid4/lmdb/all/BIx4.lmdb"
    assert store_path("vimeo90k", "GT", "test", "hdf5", tmp_path) == tmp_path / "vimeo90k/hdf5/test/GT.h5"
    assert store_path("vid4", "bd:x4", "test", "folders", tmp_path) == tmp_path / "vid4/BDx4"
    for name, b in REGISTRY.items():
        assert b.reader.layout is b.layout is b.writer.layout and b.name == name
    with pytest.raises(VsrbenchError, match=r"unknown backend 'zarr'; use one of lmdb, hdf5, folders"):
        get_backend("zarr")
    d = tmp_path / "GT.lmdb"
    d.mkdir()
    assert backend_at(d).name == "folders" and backend_named(d).name == "lmdb"  # no data.mdb: the suffix names it
    (d / "data.mdb").write_bytes(b"")
    assert backend_at(d).name == "lmdb" and backend_at(d, {"backend": "folders"}).name == "folders"


def _tiny_frames():
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, (16, 24, 3), dtype=np.uint8) for _ in range(2)]


def test_an_hdf5_store_with_an_unreadable_marker_is_not_complete(tmp_path):
    """It counted as complete (so prepare skipped it) while find_store refused it as damaged: prepare
    could never repair it."""
    import h5py

    from vsrbench.datasets import local_status
    from vsrbench.datasets.stores import StoreDamagedError, find_store, is_complete, make_writer, store_path

    final = store_path("vid4", "GT", "all", "hdf5", tmp_path)
    w = make_writer("hdf5", final, {"dataset": "vid4", "set": "all", "variant": "GT", "scale": 1,
                                    "key_style": "files", "vimeo_names": False})
    frames = _tiny_frames()
    w.add_clip("walk", [0, 1], frames[0].shape, frames)
    w.finalize(["walk"])
    assert is_complete(final) and find_store("vid4", backend="hdf5", home=tmp_path) == final
    with h5py.File(final, "a") as f:
        f.attrs["vsrbench"] = "{"
    assert not is_complete(final)
    assert local_status("vid4", tmp_path) == ["hdf5/all/GT.h5 DAMAGED (rerun prepare to rewrite it)"]
    with pytest.raises(StoreDamagedError, match=r"its vsrbench marker is unreadable .*rerun `vsrbench prepare vid4 --hdf5`"):
        find_store("vid4", backend="hdf5", home=tmp_path)


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT", "EFBIG"])
def test_every_disk_full_errno_is_a_full_disk_everywhere(tmp_path, monkeypatch, code):
    """Three sets differed: stores (ENOSPC, EDQUOT), diskspace (ENOSPC, EDQUOT, EFBIG), download (ENOSPC)."""
    import importlib

    from vsrbench.datasets.diskspace import DISK_FULL_ERRNOS, is_disk_full
    from vsrbench.datasets.stores.write_errors import write_failure

    exc = OSError(getattr(errno, code), "disk full")
    assert exc.errno in DISK_FULL_ERRNOS and is_disk_full(exc)
    err = write_failure(exc, tmp_path / "x" / "GT.lmdb")
    assert err is not None and str(err).startswith(f"no space left on device while writing {tmp_path / 'x' / 'GT.lmdb'}")

    def full(*a, **k):
        raise OSError(getattr(errno, code), "disk full")

    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100)
    download_mod = importlib.import_module("vsrbench.datasets.download")  # the package's name is the function
    monkeypatch.setattr(download_mod, "_stream", full)
    with pytest.raises(VsrbenchError, match="the disk at .* would fill"):
        download_mod.download(src.as_uri(), tmp_path / "out" / "src.bin", retries=1, progress=False)
    assert not list((tmp_path / "out").glob("*.part"))


def _literal_sites(values) -> list[str]:
    out = []
    for p in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, float) and node.value in values:
                out.append(p.relative_to(ROOT).as_posix())
    return sorted(set(out))


def test_the_bt601_weights_are_defined_once():
    from vsrbench.colour import BT601_Y, rgb_to_ycbcr
    from vsrbench.metrics.quality import rgb_to_y

    assert _literal_sites({65.481, 128.553, 24.966, 0.256788235294118}) == ["colour.py"]
    img = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    want = 16.0 + img.astype(np.float64) @ (np.array(BT601_Y) / 255.0)
    assert np.allclose(rgb_to_y(img), want, atol=1e-12) and np.allclose(rgb_to_ycbcr(img)[..., 0], want, atol=1e-12)


def test_files_are_hashed_by_one_helper(tmp_path):
    from vsrbench.hashing import sha256_file
    from vsrbench.models.provenance import read_run_provenance  # noqa: F401  (it uses the helper)

    defs = []
    for p in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef) and "sha256_file" in node.name:
                defs.append(p.relative_to(ROOT).as_posix())
    assert defs == ["hashing.py"], defs
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc")
    assert sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_store_marker_is_read_through_its_backend(tmp_path):
    from vsrbench.datasets.frames import encode_png
    from vsrbench.datasets.stores import make_writer, store_marker
    from vsrbench.training.data import marker_hash

    frames = _tiny_frames()
    meta = {"dataset": "vid4", "set": "all", "variant": "GT", "scale": 1, "key_style": "basicsr", "vimeo_names": False}
    for backend, name in (("lmdb", "GT.lmdb"), ("hdf5", "GT.h5"), ("folders", "GT")):
        w = make_writer(backend, tmp_path / backend / name, meta)
        w.add_clip("walk", [0, 1], frames[0].shape, frames if backend == "hdf5" else [encode_png(f) for f in frames])
        path = w.finalize(["walk"])
        raw = store_marker(path)
        assert json.loads(raw)["backend"] == backend and json.loads(raw)["clips"] == [["walk", [0, 1], [16, 24, 3]]]
        import hashlib

        assert marker_hash(path) == hashlib.sha256(raw.encode()).hexdigest()
