"""Issue 19 (trust, third round): downloads capped, cache entries bound to their key, store frames of
another dtype refused, integer checkpoints refused, colour matrices supported exactly or refused by
name, stale cache temp files removed, and runs killed before their first checkpoint resumed."""

from __future__ import annotations

import dataclasses
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from vsrbench.errors import VsrbenchError


# ----------------------------------------------------------------------- 3. downloads are capped


class _Endless(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a body longer than anything expected; ``declare``: a Content-Length to send."""

    declare: int | None = None
    sent = 0

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        if self.declare is not None:
            self.send_header("Content-Length", str(self.declare))
        self.end_headers()
        block = b"\0" * (1 << 16)
        try:
            for _ in range(800):  # 50 MB at most, so a broken cap fails the test instead of hanging it
                self.wfile.write(block)
                type(self).sent += len(block)
        except OSError:
            pass

    def log_message(self, *a, **k):
        pass


def _serve_endless(declare=None):
    handler = type("H", (_Endless,), {"declare": declare, "sent": 0})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # HTTP/1.0: the body ends at close
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}/data.zip", srv, handler


def test_download_stops_at_its_cap_and_removes_the_part_file(tmp_path):
    from vsrbench.datasets.download import download

    url, srv, handler = _serve_endless()
    try:
        dest = tmp_path / "data.zip"
        with pytest.raises(VsrbenchError) as e:
            download(url, dest, max_bytes=3 << 20, retries=1, progress=False)
        msg = str(e.value)
        assert "\n" not in msg and f"more than the {3 << 20} bytes expected for data.zip" in msg
        assert not dest.exists() and not (tmp_path / "data.zip.part").exists()
    finally:
        srv.shutdown()


def test_download_refuses_a_declared_length_above_its_cap_before_writing(tmp_path):
    from vsrbench.datasets.download import download

    url, srv, handler = _serve_endless(declare=40 << 20)
    try:
        with pytest.raises(VsrbenchError, match=f"declares {40 << 20} bytes .*more than the {1 << 20} bytes"):
            download(url, tmp_path / "data.zip", max_bytes=1 << 20, retries=1, progress=False)
        assert list(tmp_path.iterdir()) == []
    finally:
        srv.shutdown()


def test_file_urls_are_capped_too(tmp_path):
    from vsrbench.datasets.download import download

    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (2 << 20))
    out = tmp_path / "out"
    with pytest.raises(VsrbenchError, match="more than the 1048576 bytes expected"):
        download(big.as_uri(), out / "big.bin", max_bytes=1 << 20, retries=1, progress=False)
    # /dev/zero declares 0 bytes and never ends: stopped at the first block past it
    with pytest.raises(VsrbenchError, match="sent more than the 0 bytes it declared"):
        download("file:///dev/zero", out / "zero", retries=1, progress=False)
    assert list(out.iterdir()) == []
    # within its cap a file:// download still works
    assert download(big.as_uri(), out / "ok.bin", max_bytes=2 << 20, retries=1, progress=False).stat().st_size == 2 << 20


def test_prepare_url_downloads_are_capped_at_the_catalogs_size(tmp_path, monkeypatch):
    from vsrbench.datasets import catalog, extract, sources

    assert sources.download_limit(catalog.CATALOG["vimeo90k"]) == int(1.5 * 82e9 + 0.5e9)
    entry = dataclasses.replace(catalog.CATALOG["vid4"], extracted_size=2 << 20)
    monkeypatch.setattr(extract, "extraction_limit", lambda n: n)  # no margin: a 2 MB cap for the test
    url, srv, handler = _serve_endless()
    try:
        with pytest.raises(VsrbenchError, match=f"more than the {2 << 20} bytes expected for data.zip"):
            sources.obtain_source(entry, urls=[url], home=tmp_path, progress=False, quiet=True)
        assert not any(p.is_file() for p in tmp_path.rglob("*"))
        assert handler.sent < 40 << 20
    finally:
        srv.shutdown()
