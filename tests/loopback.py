"""Loopback HTTP servers for the download tests (127.0.0.1, a random port, a daemon thread).

- :class:`RangeServer`: one file's bytes at ``/NAME`` with Range support, every request's Range header
  recorded; ``drop_first`` sends half the body on the first GET and drops the connection (a broken
  transfer that a resumable download must continue).
- :class:`FolderServer`: a folder as http.server serves it, every GET's path recorded.

Both close on ``close()`` or as context managers.
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from pathlib import Path


class _Loopback:
    httpd: http.server.ThreadingHTTPServer

    def _start(self, handler) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *a) -> None:
        self.close()


class RangeServer(_Loopback):
    """Serves ``data`` at ``/name`` (``self.url``) with Range support; ``self.requests``: each GET's
    Range header (None without one), ``self.paths``: each GET's path."""

    def __init__(self, data: bytes, name: str, drop_first: bool = False):
        self.data, self.requests, self.paths = data, [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                outer.requests.append(rng)
                outer.paths.append(self.path)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(outer.data) - 1}/{len(outer.data)}")
                body = outer.data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if drop_first and len(outer.requests) == 1:  # drop half-way
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self._start(Handler)
        self.url = f"{self.base}/{name}"


class FolderServer(_Loopback):
    """Serves ``folder`` at ``self.base``; ``self.hits``: each GET's path."""

    def __init__(self, folder: Path):
        self.hits: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.hits.append(self.path)
                super().do_GET()

        self._start(functools.partial(Handler, directory=str(folder)))
