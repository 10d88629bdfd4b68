"""--weights NAME end to end on loopback: download, resume, hash check, cache reuse, offline message."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vsrbench.cli import main
from vsrbench.errors import VsrbenchError
from vsrbench.benchmark import weights_fetch as F
from vsrbench.models import weights as W

from loopback import RangeServer


@pytest.fixture
def fstrn_file(tmp_path):
    """A real fstrn checkpoint in BasicSR's released layout ({'params': state_dict}), seeded weights."""
    from vsrbench.models import create_model

    torch.manual_seed(3)
    net = create_model("fstrn", scale=4)
    path = tmp_path / "src.pth"
    torch.save({"params": net.state_dict()}, path)
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def _entry(monkeypatch, url, filename, sha256=None):
    w = W.Weights("fstrn", "test", filename, url, "loopback", "basicsr", "nothing (test)", sha256)
    monkeypatch.setitem(W.WEIGHTS, "fstrn", {"test": w})
    return w


def test_download_resume_verify_and_cache(tmp_path, monkeypatch, fstrn_file):
    data, sha = fstrn_file
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    name = f"fstrn_test-{sha[:8]}.pth"
    assert W.hash_prefix(name) == sha[:8]
    srv = RangeServer(data, name, drop_first=True)
    try:
        _entry(monkeypatch, srv.url, name)
        got = F.fetch_weights("fstrn", "test", progress=False, backoff=0.01)
        assert got == tmp_path / "home" / "weights" / name
        assert hashlib.sha256(got.read_bytes()).hexdigest() == sha
        assert srv.requests == [None, f"bytes={len(data) // 2}-"]  # resumed where the broken transfer stopped
        assert not (got.parent / ".incoming" / name).exists()
        # cached: the second call makes no request
        assert F.fetch_weights("fstrn", "test", progress=False) == got
        assert len(srv.requests) == 2

        # the flag end to end: upscale loads the fetched file strictly (still no request)
        lr = tmp_path / "lr" / "clip"
        lr.mkdir(parents=True)
        rng = np.random.default_rng(0)
        for i in range(5):
            cv2.imwrite(str(lr / f"{i:03d}.png"), rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
        assert main(["upscale", "--model", "fstrn", "--weights", "test", "--input", str(lr.parent),
                     "--output", str(tmp_path / "sr")]) == 0
        assert len(list((tmp_path / "sr" / "clip").glob("*.png"))) == 5
        assert len(srv.requests) == 2
        # both flags at once are refused
        assert main(["upscale", "--model", "fstrn", "--weights", "test", "--checkpoint", str(got), "--input",
                     str(lr.parent), "--output", str(tmp_path / "sr2")]) == 2

        # the record's label: the released file is known by its hash, another file is not
        assert W.official_label("fstrn", sha) == "official:fstrn/test"
        assert W.official_label("fstrn", "0" * 64) is None
        from vsrbench.leaderboard.boards import weights_label

        assert weights_label({"weights": f"sha256:{sha}", "official_weights": "official:fstrn/test"}) == \
            f"official:fstrn/test (sha256:{sha[:8]})"
        assert weights_label({"weights": f"sha256:{sha}", "official_weights": "../../etc"}) == f"sha256:{sha}"

        # a damaged cached copy is replaced by a fresh download
        got.write_bytes(b"x" + data[1:])
        F.fetch_weights("fstrn", "test", progress=False)
        assert hashlib.sha256(got.read_bytes()).hexdigest() == sha and len(srv.requests) == 3
    finally:
        srv.close()


def test_wrong_hash_refused_and_removed(tmp_path, monkeypatch, fstrn_file):
    data, sha = fstrn_file
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    wrong = "deadbeef" if not sha.startswith("deadbeef") else "0badf00d"
    srv = RangeServer(data, f"fstrn_test-{wrong}.pth", drop_first=False)
    try:
        _entry(monkeypatch, srv.url, f"fstrn_test-{wrong}.pth")
        with pytest.raises(VsrbenchError, match=f"does not start with {wrong}"):
            F.fetch_weights("fstrn", "test", progress=False)
        # a full published sha256 that does not match is refused by the downloader the same way
        _entry(monkeypatch, srv.url, "fstrn_test.pth", sha256="1" * 64)
        with pytest.raises(VsrbenchError, match="does not match"):
            F.fetch_weights("fstrn", "test", progress=False)
    finally:
        srv.close()
    wdir = tmp_path / "home" / "weights"
    assert [p for p in wdir.rglob("*") if p.is_file()] == []  # nothing kept: not the file, not a .part


def test_offline_one_line_with_url_and_checkpoint_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VSRBENCH_HOME", str(tmp_path / "home"))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens: connection refused
    url = f"http://127.0.0.1:{port}/fstrn_test-0123abcd.pth"
    _entry(monkeypatch, url, "fstrn_test-0123abcd.pth")
    rc = main(["evaluate", "--model", "fstrn", "--suite", "vid4", "--weights", "test"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert url in err and "--checkpoint FILE" in err and "Traceback" not in err
    # unknown names list what the model has
    assert main(["evaluate", "--model", "fstrn", "--suite", "vid4", "--weights", "nope"]) == 2
    assert "fstrn has test" in capsys.readouterr().err


def test_catalog_entries_are_well_formed():
    for model, ws in W.WEIGHTS.items():
        for name, w in ws.items():
            assert (w.model, w.name) == (model, name)
            assert w.layout in ("basicsr", "mmagic")
            assert len(w.expected_hash) >= 8 and all(c in "0123456789abcdef" for c in w.expected_hash)
            assert w.url is None or w.url.startswith("https://")
    assert set(W.weights_of("basicvsr")) == {"reds4", "vimeo90k-bi", "vimeo90k-bd"}
    assert W.get_weights("basicvsrpp", "reds4").layout == "mmagic"
    assert W.hash_prefix("basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth") == "db622b2f"
    with pytest.raises(ValueError):
        W.hash_prefix("xiang2020zooming.pth")
