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
    return pathlib.Path(p)
