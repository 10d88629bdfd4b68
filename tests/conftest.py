import os
import pathlib

import pytest


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    p = os.environ.get("VSRBENCH_SHARED")
    if not p:
        if os.environ.get("CI"):
            pytest.fail("VSRBENCH_SHARED is not set in CI (.ci/run sets it to ../shared)")
        pytest.skip("VSRBENCH_SHARED is not set; point it at the shared/ folder to run real-data tests")
    # The README's command passes a relative path (../shared): resolve it once, so that links made
    # into tmp folders and subprocesses started elsewhere still find the data.
    path = pathlib.Path(p).expanduser().resolve()
    if not (path / "data").is_dir():
        pytest.fail(f"VSRBENCH_SHARED={p} (resolved to {path}) has no data/ folder; point it at the shared/ folder")
    return path


@pytest.fixture(scope="session")
def prepared_home(shared_dir, tmp_path_factory):
    """A VSRBENCH_HOME with Vid4 (from ../shared, GT + BIx4 + BDx4 LMDBs) and the demo prepared,
    as a user would with `vsrbench prepare`. Shared by the test modules that evaluate."""
    from vsrbench.cli import main

    h = tmp_path_factory.mktemp("vsrbench_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(h))
        assert main(["prepare", "vid4", "--source", str(shared_dir / "data/vid4"), "--workers", "2", "--no-progress"]) == 0
        assert main(["prepare", "demo", "--no-progress"]) == 0
    return h


#: Bicubic on all of Vid4: BI with the temporal metrics, BD without (suite, temporal).
VID4_BICUBIC_RUNS = (("vid4", True), ("vid4-bd", False))


@pytest.fixture(scope="session")
def vid4_bicubic_results(prepared_home, tmp_path_factory):
    """The full Vid4 bicubic passes, scored once per session into a results store of their own: the
    harness's published-number tests and the CI regression guard read the same records (a rerun of
    the same settings is a skip, so each test still goes through `evaluate`)."""
    from vsrbench.benchmark.harness import evaluate

    res = tmp_path_factory.mktemp("vid4_bicubic_results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(prepared_home))
        for suite, temporal in VID4_BICUBIC_RUNS:
            evaluate("bicubic", suite, device="cpu", temporal=temporal, results=res, progress=False)
    return res


@pytest.fixture
def home(prepared_home, monkeypatch):
    """VSRBENCH_HOME set to the prepared home for one test."""
    monkeypatch.setenv("VSRBENCH_HOME", str(prepared_home))
    return prepared_home


@pytest.fixture(scope="session")
def vimeo_home(shared_dir, tmp_path_factory):
    """A VSRBENCH_HOME with the Vimeo-90K samples prepared as a user would: GT + BIx4 LMDBs (train =
    the 8 clips 00001/*). Shared by the training tests."""
    from vsrbench.datasets import prepare

    h = tmp_path_factory.mktemp("vimeo_train_home")
    prepare("vimeo90k", backend="lmdb", variants="bi:x4", source=shared_dir / "data/vimeo90k", home=h,
            progress=False, quiet=True)
    return h


@pytest.fixture
def train_home(vimeo_home, monkeypatch, fast_cpu_for_tiny_tensors):
    """VSRBENCH_HOME set to the Vimeo home, one intra-op thread, for one training test."""
    monkeypatch.setenv("VSRBENCH_HOME", str(vimeo_home))
    return vimeo_home


@pytest.fixture
def fast_cpu_for_tiny_tensors():
    """Tiny tensors: one intra-op thread and the native (non-oneDNN) convolutions are several times
    faster than the defaults (no thread sync, no oneDNN primitive set-up per call)."""
    import torch

    n, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    yield
    torch.set_num_threads(n)
    torch.backends.mkldnn.enabled = mkldnn


@pytest.fixture(scope="session")
def official_code_cache(request, tmp_path_factory) -> pathlib.Path:
    """Where tests/official_code.py keeps the pinned official archives (BasicSR, MMagic) between
    runs: pytest's cache folder ($VSRBENCH_OFFICIAL_CODE, when set, is looked in first)."""
    cache = getattr(request.config, "cache", None)
    return pathlib.Path(cache.mkdir("vsrbench-official-code")) if cache else tmp_path_factory.mktemp("official-code")


@pytest.fixture(scope="session")
def basicsr_archs(official_code_cache) -> dict:
    """BasicSR 1.4.2's ``archs/<name>_arch.py`` modules the reference-model tests compare with,
    loaded once per session (tests/official_code.py)."""
    from official_code import basicsr_archs

    return basicsr_archs(official_code_cache, "basicvsr", "basicvsrpp", "edvr", "tof", "duf")
