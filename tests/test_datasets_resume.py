"""kill -9 in the middle of packing, rerun: the same stores as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import numpy as np
import pytest

from vsrbench.datasets import open_store, prepare
from vsrbench.errors import VsrbenchError

SCRIPT = """
import sys
from vsrbench.datasets import prepare
prepare("vimeo90k", backend=sys.argv[3], variants="bi:x4", source=sys.argv[1], home=sys.argv[2],
        workers=1, commit_every=7, progress=False, quiet=True)
"""


def make_source(shared_dir: Path, tmp: Path) -> Path:
    seq = shared_dir / "data" / "vimeo90k" / "vimeo_septuplet" / "sequences"
    src = tmp / "src" / "vimeo_septuplet"
    src.mkdir(parents=True)
    (src / "sequences").symlink_to(seq)
    clips = sorted(f"{a.name}/{b.name}" for a in seq.iterdir() for b in a.iterdir())
    (src / "sep_trainlist.txt").write_text("\n".join(c for c in clips if c.startswith("00001")) + "\n")
    (src / "sep_testlist.txt").write_text("\n".join(c for c in clips if c.startswith("00002")) + "\n")
    return src


def lmdb_items(path: Path) -> dict:
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        items = dict(txn.cursor())
    env.close()
    return items


def kill_midway(src: Path, home: Path, backend: str) -> None:
    journal = (
        home / "vimeo90k" / "lmdb" / "train" / "GT.lmdb.partial" / ".vsrbench-journal.txt"
        if backend == "lmdb" else home / "vimeo90k" / "hdf5" / "train" / "GT.h5.journal"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(src), str(home), backend], env=env)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if journal.exists() and len(journal.read_text().splitlines()) >= 4:  # config + 3 clips
                break
            assert proc.poll() is None, "prepare finished before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("prepare made no progress")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("backend", ["lmdb", "hdf5"])
def test_kill9_then_rerun_matches_uninterrupted(shared_dir, tmp_path, backend, capsys):
    src = make_source(shared_dir, tmp_path)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    kill_midway(src, killed, backend)
    ext = "lmdb" if backend == "lmdb" else "h5"
    # nothing a reader would accept
    for s in ("train", "test"):
        with pytest.raises(VsrbenchError, match="interrupted|no such store|not complete"):
            open_store(killed / "vimeo90k" / backend / s / f"GT.{ext}")
    with pytest.raises(VsrbenchError):
        open_store(killed / "vimeo90k" / "GT")

    r = prepare("vimeo90k", backend=backend, variants="bi:x4", source=src, home=killed, workers=1,
                commit_every=7, progress=False)
    assert "resuming; " in capsys.readouterr().err
    assert r.frames < 16 * 7  # it continued, it did not start over
    prepare("vimeo90k", backend=backend, variants="bi:x4", source=src, home=clean, workers=2,
            progress=False, quiet=True)
    for s in ("train", "test"):
        for v in ("GT", "BIx4"):
            a = open_store(killed / "vimeo90k" / backend / s / f"{v}.{ext}")
            b = open_store(clean / "vimeo90k" / backend / s / f"{v}.{ext}")
            assert a.clips() == b.clips() and len(a) == len(b) > 0
            for c in a.clips():
                for i in range(a.num_frames(c)):
                    np.testing.assert_array_equal(a.read(c, i), b.read(c, i))
            a.close()
            b.close()
            if backend == "lmdb":
                assert lmdb_items(a.path) == lmdb_items(b.path)
                assert (a.path / "meta_info.txt").read_bytes() == (b.path / "meta_info.txt").read_bytes()
    ga, gb = open_store(killed / "vimeo90k" / "GT"), open_store(clean / "vimeo90k" / "GT")
    assert ga.clips() == gb.clips()
    for f in sorted((clean / "vimeo90k" / "GT").rglob("*.png")):
        assert (killed / f.relative_to(clean)).read_bytes() == f.read_bytes()
    assert not list(killed.rglob("*.partial")) and not list(killed.rglob("*.journal"))
