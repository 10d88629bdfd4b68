"""Honest records: random weights only on request, a record names the code that made it, cached LR
stores are rebuilt when the degradation code changes, and settings that change what a run does
(temporal metrics, saved outputs) are honoured on an already scored record."""

from __future__ import annotations

import json

import pytest

import vsrbench
from vsrbench.benchmark import harness
from vsrbench.benchmark.harness import evaluate
from vsrbench.cli import main
from vsrbench.codeversion import degradation_code_version, scoring_code_files, source_hash
from vsrbench.errors import VsrbenchError

NO_WEIGHTS = ("model fstrn has no weights: pass --checkpoint FILE (no published weights exist; train them with "
              "`vsrbench train --model fstrn`), or --random-weights for a smoke run")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """A home with only the demo prepared (GT + bi:x4 LMDB), private to this module (stores are changed)."""
    from vsrbench.datasets import prepare

    h = tmp_path_factory.mktemp("records_home")
    prepare("demo", home=h, progress=False, quiet=True)
    return h


def test_parameterised_model_without_weights_is_refused(demo_home, tmp_path, capsys):
    with pytest.raises(VsrbenchError) as e:
        evaluate("fstrn", "demo", device="cpu", limit_clips=1, crop=(16, 16), home=demo_home, results=tmp_path,
                 progress=False)
    assert str(e.value) == NO_WEIGHTS
    assert not list(tmp_path.rglob("*"))  # nothing written
    # the CLI: one line, exit 2, no traceback
    rc = main(["evaluate", "--model", "fstrn", "--suite", "demo", "--device", "cpu", "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip() == f"vsrbench evaluate: error: {NO_WEIGHTS}"
    # upscale refuses likewise; with --random-weights it runs
    lr = tmp_path / "lr" / "clip"
    lr.mkdir(parents=True)
    from vsrbench.datasets.frames import write_frame

    import numpy as np

    for i in range(5):
        write_frame(lr / f"{i:03d}.png", np.full((8, 8, 3), 40 * i, np.uint8))
    rc = main(["upscale", "--model", "fstrn", "--input", str(lr.parent), "--output", str(tmp_path / "sr"),
               "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip() == f"vsrbench upscale: error: {NO_WEIGHTS}" and not (tmp_path / "sr").exists()
    assert main(["upscale", "--model", "fstrn", "--input", str(lr.parent), "--output", str(tmp_path / "sr"),
                 "--device", "cpu", "--random-weights"]) == 0
    assert len(list((tmp_path / "sr" / "clip").glob("*.png"))) == 5
    # opt-in through the API: scored, and the record says random weights
    r = evaluate("fstrn", "demo", device="cpu", limit_clips=1, crop=(16, 16), home=demo_home, results=tmp_path,
                 progress=False, temporal=False, random_weights=True, seed=3)
    assert r["weights"] == "random(seed=3)" and r["n_frames"] > 10 and r["psnr"] > 0


def test_record_names_the_code_that_made_it(demo_home, tmp_path, monkeypatch):
    kw = dict(device="cpu", limit_clips=1, crop=(32, 32), home=demo_home, results=tmp_path, progress=False,
              temporal=False)
    r = evaluate("bicubic", "demo", **kw)
    code = r["code"]
    assert code["vsrbench"] == vsrbench.__version__
    import vsrbench.models.interpolation as interp

    assert code["scoring_code"] == source_hash(*scoring_code_files(interp.__file__))
    assert "vsrbench/models/interpolation.py" in code["scoring_files"]
    assert "vsrbench/metrics/quality.py" in code["scoring_files"] and "vsrbench/benchmark/feed.py" in code["scoring_files"]
    assert r["id"] in json.dumps(sorted(p.name for p in tmp_path.rglob("*.json")))
    # the same code: skipped; another version or another scoring-code hash: a new record
    assert evaluate("bicubic", "demo", **kw).get("skipped")
    monkeypatch.setattr(harness, "__version__", "0.0.0-other")
    r2 = evaluate("bicubic", "demo", **kw)
    assert not r2.get("skipped") and r2["id"] != r["id"] and r2["code"]["vsrbench"] == "0.0.0-other"
    monkeypatch.undo()
    real = harness.code_identity
    monkeypatch.setattr(harness, "code_identity", lambda f: {**real(f), "scoring_code": "0" * 16})
    r3 = evaluate("bicubic", "demo", **kw)
    assert not r3.get("skipped") and r3["id"] not in (r["id"], r2["id"])
    assert r3["psnr"] == r["psnr"]
    assert len(list(tmp_path.glob("demo/*.json"))) == 3


def test_record_identity_follows_every_module_the_scoring_imports(demo_home, tmp_path, monkeypatch,
                                                                 fast_cpu_for_tiny_tensors):
    """Issue 20: the identity hashed a hand-kept list (models/layers.py, colour.py, pipeline.py, the
    harness and results.suite_summary were left out: an edit there left a stale record "already
    scored"). Now: the protocol modules, the model's file and every vsrbench module they import."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import vsrbench.codeversion as cv
    import vsrbench.models.fstrn as fstrn
    import vsrbench.models.lcvsr as lcvsr

    def rel(model_file):
        return {f.relative_to(cv.PACKAGE_ROOT).as_posix() for f in scoring_code_files(model_file)}

    mine = rel(lcvsr.__file__)
    assert {"models/lcvsr.py", "models/layers.py", "colour.py", "benchmark/pipeline.py", "benchmark/harness.py",
            "benchmark/results.py", "benchmark/feed.py", "datasets/stores/__init__.py", "datasets/stores/lmdb_backend.py", "models/checkpoint.py",
            "metrics/quality.py", "degradations/imresize.py"} <= mine
    assert not mine & {"cli.py", "models/zsm.py", "models/fstrn.py", "training/loop.py", "leaderboard/boards.py"}
    assert "models/layers.py" not in rel(fstrn.__file__)  # FSTRN builds its own layers

    kw = dict(device="cpu", limit_clips=1, crop=(16, 16), home=demo_home, results=tmp_path, progress=False,
              temporal=False, random_weights=True)
    lc, fs, bic = (evaluate(m, "demo", **kw) for m in ("lcvsr", "fstrn", "bicubic"))
    real_read = cv._read_source

    def edit(name):  # the hash reads the file as if it had been edited
        target = (cv.PACKAGE_ROOT / name).resolve()
        monkeypatch.setattr(cv, "_read_source", lambda p: real_read(p) + (b"\n# edited\n" if p == target else b""))
        cv._hash_paths.cache_clear()

    try:
        edit("models/layers.py")
        lc2 = evaluate("lcvsr", "demo", **kw)
        assert not lc2.get("skipped") and lc2["id"] != lc["id"] and lc2["psnr"] == lc["psnr"]
        assert evaluate("fstrn", "demo", **kw)["id"] == fs["id"]  # no layers.py in FSTRN: still scored
        edit("colour.py")
        bic2 = evaluate("bicubic", "demo", **kw)
        assert not bic2.get("skipped") and bic2["id"] != bic["id"] and bic2["psnr"] == bic["psnr"]
    finally:
        monkeypatch.undo()
        cv._hash_paths.cache_clear()
    # unchanged code: the same identity in another process
    repo = str(Path(vsrbench.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", "import json, vsrbench.models.lcvsr as m; from vsrbench.benchmark."
                          "harness import code_identity; print(json.dumps(code_identity(m.__file__)))"],
                         env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    assert json.loads(out) == lc["code"] == harness.code_identity(lcvsr.__file__)
    assert evaluate("lcvsr", "demo", **kw)["skipped"]


def test_source_hash_follows_file_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, text in ((a, "x = 1\n"), (b, "x = 2\n")):
        d.mkdir()
        (d / "m.py").write_text(text)
    assert source_hash(a) != source_hash(b)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "m.py").write_text("x = 1\n")
    assert source_hash(tmp_path / "c") == source_hash(a)  # bytes and relative names, not the folder's path
    assert len(degradation_code_version()) == 16


def test_temporal_and_save_outputs_are_settings(demo_home, tmp_path):
    kw = dict(device="cpu", limit_clips=1, crop=(32, 32), home=demo_home, results=tmp_path / "res", progress=False)
    plain = evaluate("bicubic", "demo", temporal=False, **kw)
    assert plain["settings"]["temporal"] is False and plain["settings"]["save_outputs"] is None
    with_t = evaluate("bicubic", "demo", temporal=True, **kw)
    assert not with_t.get("skipped") and with_t["id"] != plain["id"] and with_t["temporal"]["tof"] >= 0
    # --save-outputs on an already scored record writes the outputs (and keeps the record's identity)
    out = tmp_path / "sr"
    again = evaluate("bicubic", "demo", temporal=False, save_outputs=str(out), **kw)
    assert not again.get("skipped") and again["id"] == plain["id"]
    clip = next(iter(again["clips"]))
    assert len(list((out / clip).glob("*.png"))) == again["n_frames"] > 10
    assert again["settings"]["save_outputs"] == str(out)
    # outputs on disk: a rerun skips
    assert evaluate("bicubic", "demo", temporal=False, save_outputs=str(out), **kw).get("skipped")


def test_cached_lr_store_is_rebuilt_when_the_degradation_code_changes(demo_home, tmp_path):
    from vsrbench.datasets import open_store, store_path
    from vsrbench.datasets.stores import MARKER

    lr = store_path("demo", "bi:x4", "all", "lmdb", demo_home)
    marker = json.loads((lr / MARKER).read_text())
    assert marker["degradation_code"] == degradation_code_version()
    kw = dict(device="cpu", limit_clips=None, home=demo_home, progress=False, temporal=False)
    first = evaluate("bicubic", "demo", results=tmp_path / "r1", **kw)
    assert first["lr_source"] == "prepared store"
    marker["degradation_code"] = "0123456789abcdef"  # as if made by older degradation code
    (lr / MARKER).write_text(json.dumps(marker))
    again = evaluate("bicubic", "demo", results=tmp_path / "r2", **kw)
    assert again["lr_source"].startswith("rebuilt"), again["lr_source"]
    assert "0123456789abcdef" in again["lr_source"] and str(lr) in again["lr_source"]
    assert open_store(lr).meta["degradation_code"] == degradation_code_version()
    assert again["psnr"] == first["psnr"] and again["ssim"] == first["ssim"]  # same code: same LR, same numbers
    assert not list(lr.parent.glob("*.stale-*"))
    third = evaluate("bicubic", "demo", results=tmp_path / "r3", **kw)
    assert third["lr_source"] == "prepared store"
