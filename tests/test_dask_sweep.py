"""Sweeps and prepare on a Dask cluster: a LocalCluster shared by the module, and a scheduler plus a
worker started as separate processes (`dask scheduler`, `dask worker`) on 127.0.0.1. Real frames:
the demo clips (crops of real videos), cropped to 32x32 so each task takes a fraction of a second."""

import itertools
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import lmdb
import pytest
from distributed import Client, LocalCluster

from vsrbench.benchmark.harness import evaluate
from vsrbench.benchmark.sweep import sweep
from vsrbench.cli import main
from vsrbench.datasets import prepare
from vsrbench.errors import VsrbenchError

OPTS = {"device": "cpu", "crop": (32, 32), "limit_clips": 1}
CLI_OPTS = ["--device", "cpu", "--crop", "32x32", "--limit-clips", "1"]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    h = tmp_path_factory.mktemp("dask_home")
    prepare("demo", home=h, progress=False, quiet=True)
    return h


@pytest.fixture(scope="module")
def cluster(demo_home):
    """Two one-thread worker processes, started once for the module (Dask start-up is slow)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(demo_home))  # the workers' data root
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, silence_logs=logging.ERROR,
                          scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as c:
            yield c


@pytest.fixture
def home(demo_home, monkeypatch):
    monkeypatch.setenv("VSRBENCH_HOME", str(demo_home))
    return demo_home


def _records(root: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(root.glob("demo/*.json"))}


def test_local_cluster_sweep_scores_then_skips(cluster, home, tmp_path):
    res = tmp_path / "results"
    r = sweep(["bicubic", "bilinear"], ["demo"], scheduler=cluster.scheduler_address, results=res, **OPTS)
    assert r.failures == [] and (r.scored, r.skipped) == (2, 0) and r.shared is True and r.gpu is False
    recs = _records(res)
    assert sorted(n.split("-")[0] for n in recs) == ["bicubic", "bilinear"]
    # the numbers are those of an evaluate in this process (same record identity, same per-frame values)
    ref = evaluate("bicubic", "demo", results=tmp_path / "ref", progress=False, **OPTS)
    (bic,) = [v for n, v in recs.items() if n.startswith("bicubic-")]
    assert bic["id"] == ref["id"] and bic["clips"].keys() == ref["clips"].keys()
    assert bic["psnr"] == pytest.approx(ref["psnr"], rel=1e-9)
    for c in ref["clips"]:
        got, want = ([f["psnr"] for f in r["clips"][c]["frames"]] for r in (bic, ref))
        assert got == pytest.approx(want, rel=1e-9) and len(got) > 10
        assert bic["clips"][c]["tof"] == pytest.approx(ref["clips"][c]["tof"], rel=1e-6)
    assert 20 < bic["psnr"] < 40 and bic["settings"]["crop"] == [32, 32]
    before = {p: p.read_bytes() for p in res.glob("demo/*.json")}

    again = sweep(["bicubic", "bilinear"], ["demo"], scheduler=cluster.scheduler_address, results=res, **OPTS)
    assert (again.scored, again.skipped, again.failures) == (0, 2, [])
    assert {p: p.read_bytes() for p in res.glob("demo/*.json")} == before  # scored ones are not rewritten
    assert not list(res.glob(".sweep-probe-*"))  # the probe is removed

    # a store the workers are told they do not share: the records come back and this process writes them
    back = tmp_path / "returned"
    r = sweep(["bicubic", "bilinear"], ["demo"], scheduler=cluster.scheduler_address, results=back, shared=False,
              **OPTS)
    assert (r.scored, r.shared, r.failures) == (2, False, [])
    got = _records(back)
    assert sorted(got) == sorted(recs) and all(got[n]["clips"] == recs[n]["clips"] for n in got)
    assert not any(v.get("skipped") for v in got.values())
    r = sweep(["bicubic", "bilinear"], ["demo"], scheduler=cluster.scheduler_address, results=back, shared=False,
              **OPTS)
    assert (r.scored, r.skipped) == (0, 2)  # the client's records travel with the tasks: still skipped


def test_sweep_cli_prints_each_task_and_the_board(cluster, home, tmp_path, capsys):
    res = str(tmp_path / "results")
    argv = ["sweep", "--models", "bicubic,fstrn", "--suites", "demo,demo-x16", "--scheduler", cluster.scheduler_address,
            "--results", res, *CLI_OPTS]
    assert main(argv) == 2  # fstrn has parameters and no checkpoint
    out, err = capsys.readouterr()
    assert "vsrbench sweep: error: fstrn on demo: model fstrn has no weights: pass --checkpoint FILE" in err
    assert "fstrn on demo-x16: left out (fstrn supports x4; demo-x16 is x16)" in err
    assert "bicubic on demo: scored, PSNR 28." in out and "bicubic on demo-x16: scored" in out
    assert "2 scored, 0 already scored, 1 failed, 1 left out" in out
    assert "Traceback" not in err
    board = [line for line in out.splitlines() if line.startswith("| bicubic")]
    assert board and "crop 32x32, 1 clip" in board[0]

    assert main([*argv, "--random-weights"]) == 0
    out, err = capsys.readouterr()
    assert "bicubic on demo: already scored" in out and "fstrn on demo: scored" in out
    assert any(line.startswith("| fstrn") and "random(seed=0)" in line for line in out.splitlines())
    assert len(list(Path(res).glob("*/*.json"))) == 3


def _fail_once(marker: str, how: str) -> None:
    """Installed in each worker: the first evaluate (across workers: marker file) raises or kills the worker."""
    import vsrbench.benchmark.harness as h

    real = getattr(h, "_real_evaluate", h.evaluate)
    h._real_evaluate = real

    def flaky(*a, **k):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return real(*a, **k)
        if how == "die":
            os._exit(1)
        raise RuntimeError("flaky once")

    h.evaluate = flaky


def _restore() -> None:
    import vsrbench.benchmark.harness as h

    h.evaluate = getattr(h, "_real_evaluate", h.evaluate)


@pytest.fixture
def by_value():
    """Functions of this module travel to the workers by value (they cannot import a test module)."""
    mod = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(mod)
    yield
    cloudpickle.unregister_pickle_by_value(mod)


def test_failed_tasks_are_retried_and_a_dead_worker_too(cluster, home, tmp_path, by_value):
    res = tmp_path / "results"
    with Client(cluster, set_as_default=False) as client:
        try:
            client.run(_fail_once, str(tmp_path / "m1"), "raise")
            r = sweep(["nearest"], ["demo"], scheduler=cluster.scheduler_address, results=res, retries=0, **OPTS)
            assert r.scored == 0 and len(r.failures) == 1
            assert r.failures[0][1].startswith("nearest on demo: failed after 1 attempt(s): RuntimeError: flaky once; "
                                               "see the worker's log")
            client.run(_fail_once, str(tmp_path / "m2"), "raise")
            r = sweep(["nearest"], ["demo"], scheduler=cluster.scheduler_address, results=res, retries=1, **OPTS)
            assert (r.scored, r.failures) == (1, []) and (tmp_path / "m2").exists()

            client.run(_fail_once, str(tmp_path / "m3"), "die")
            r = sweep(["lanczos"], ["demo"], scheduler=cluster.scheduler_address, results=res, retries=0, **OPTS)
            assert (r.scored, r.failures) == (1, []) and (tmp_path / "m3").exists()  # the worker died; rescheduled
            assert sorted(n.split("-")[0] for n in _records(res)) == ["lanczos", "nearest"]
            client.wait_for_workers(2, timeout=60)  # the nanny restarted it
        finally:
            client.run(_restore)


def _log_calls(path: str) -> None:
    """Installed in the worker: each evaluate appends its start and end times to ``path``."""
    import time as _t

    import vsrbench.benchmark.harness as h

    real = h.evaluate

    def logged(*a, **k):
        t0 = _t.time()
        try:
            return real(*a, **k)
        finally:
            with open(path, "a") as f:
                f.write(f"{t0} {_t.time()}\n")

    h.evaluate = logged


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask_cli() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]


def test_sweep_on_dask_scheduler_and_worker_processes(home, tmp_path, by_value):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "VSRBENCH_HOME": str(home)}
    log = open(tmp_path / "dask.log", "w")
    procs = [subprocess.Popen([*_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=log, stderr=subprocess.STDOUT)]
    try:
        # two threads but one GPU: the GPU tasks must still run one at a time
        procs.append(subprocess.Popen([*_dask_cli(), "worker", address, "--nthreads", "2", "--resources", "GPU=1",
                                       "--host", "127.0.0.1", "--no-dashboard", "--no-nanny"], env=env, stdout=log,
                                      stderr=subprocess.STDOUT))
        calls = tmp_path / "calls.txt"
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=120)
            client.run(_log_calls, str(calls))
        res = tmp_path / "results"
        r = sweep(["bicubic", "nearest", "bilinear"], ["demo"], scheduler=address, results=res, wait_workers=60,
                  **OPTS)
        assert r.gpu is True and r.shared is True and (r.scored, r.failures) == (3, [])
        assert sorted(n.split("-")[0] for n in _records(res)) == ["bicubic", "bilinear", "nearest"]
        spans = sorted(tuple(map(float, line.split())) for line in calls.read_text().splitlines())
        assert len(spans) == 3 and all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # never two at once
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
    t0 = time.time()
    with pytest.raises(VsrbenchError, match=rf"cannot reach the Dask scheduler at {address} .*`dask scheduler`"):
        sweep(["bicubic"], ["demo"], scheduler=address, results=tmp_path / "r2", timeout=1, **OPTS)
    assert time.time() - t0 < 30


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in (".prepare.lock", "lock.mdb", "data.mdb")}


def _lmdb_items(path: Path, tmp: Path) -> list:
    copy = tmp / f"copy{len(list(tmp.glob('copy*')))}"
    shutil.copytree(path, copy)  # this process may hold the store open already (lmdb allows one handle)
    env = lmdb.open(str(copy), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return list(txn.cursor())
    finally:
        env.close()


def test_prepare_on_the_cluster_writes_the_same_stores(cluster, demo_home, tmp_path, monkeypatch, capsys):
    # folder stores (GT and a seeded random-noise LR variant): every file byte for byte
    a, b = tmp_path / "local", tmp_path / "dask"
    prepare("demo", backend="folders", variants="bi:x4+noise", home=a, progress=False, quiet=True)
    prepare("demo", backend="folders", variants="bi:x4+noise", home=b, scheduler=cluster.scheduler_address,
            progress=False, quiet=True)
    ta, tb = _tree(a), _tree(b)
    assert len(ta) > 250 and sorted(ta) == sorted(tb)
    assert [k for k in ta if ta[k] != tb[k]] == []

    # the CLI on its own local:1 cluster, LMDB: the same keys and values (and metadata files) as the
    # locally prepared demo (LMDB's data.mdb pages differ from run to run even locally)
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "cli"))
    assert main(["prepare", "demo", "--scheduler", "local:1", "--no-progress"]) == 0
    assert "Dask cluster local:1" in capsys.readouterr().err
    for store in ("GT.lmdb", "BIx4.lmdb"):
        mine, ref = tmp_path / "cli/demo/lmdb/all" / store, demo_home / "demo/lmdb/all" / store
        items = _lmdb_items(ref, tmp_path)
        assert _lmdb_items(mine, tmp_path) == items and len(items) == 128
        assert _tree(mine) == _tree(ref)
    assert main(["prepare", "demo", "--scheduler", "nowhere"]) == 2
    assert "--scheduler 'nowhere' is neither local:N nor a scheduler address" in capsys.readouterr().err
