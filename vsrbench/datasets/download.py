"""HTTP(S) download with Range resume, retries with backoff, mirrors, size and sha256 checks.

The file is written to ``DEST.part`` and renamed to ``DEST`` only when complete and verified, so a
killed download leaves only a ``.part`` that the next call resumes with a ``Range: bytes=N-``
request (a server that ignores Range and answers 200 restarts the file from the beginning).
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from vsrbench.datasets.diskspace import check_free_space
from vsrbench.errors import VsrbenchError
from vsrbench.hashing import sha256_file  # noqa: F401  (re-exported: vsrbench.datasets.sha256_file)

__all__ = ["download", "sha256_file"]

_CHUNK = 1 << 20


def _fetch_once(url: str, part: Path, size: int | None, timeout: float, progress: bool) -> None:
    """One request; appends to ``part`` from its current length. Raises on any transfer error."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return
    req = urllib.request.Request(url, headers={"User-Agent": "vsrbench"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        status = getattr(resp, "status", 200)
        if have and status != 206:
            have = 0  # server ignored Range: start again
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else size
        if total:
            check_free_space(part.parent, total - have, f"downloading {part.name[:-5]}")
        mode = "ab" if have else "wb"
        with open(part, mode) as f, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, desc=part.name[:-5],
            disable=not progress, file=sys.stderr, leave=False,
        ) as bar:
            got = 0
            while True:
                block = resp.read(_CHUNK)
                if not block:
                    break
                f.write(block)
                got += len(block)
                bar.update(len(block))
        if length is not None and got < int(length):
            raise http.client.IncompleteRead(b"", int(length) - got)


def _unreachable(e: BaseException) -> bool:
    """A failure no retry can fix soon: the name does not resolve, the connection is refused or
    the network is unreachable (offline)."""
    import errno

    reason = e.reason if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError) else e
    if isinstance(reason, (socket.gaierror, ConnectionRefusedError)):
        return True
    return isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED)


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def download(
    urls: str | list[str],
    dest: str | os.PathLike,
    *,
    size: int | None = None,
    sha256: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
    manual: str = "--source FILE",
) -> Path:
    """Download the first working mirror of ``urls`` to ``dest``; resume a ``dest.part`` left behind.

    Each mirror is tried ``retries`` times with exponential backoff (``backoff * 2**k`` s), resuming
    from the bytes already on disk; a host that does not resolve or refuses the connection is not
    retried (no network: retrying only delays the message; the message says to pass the file by hand
    with ``manual``, the command's flag). ``size`` and ``sha256`` are checked when given; a mismatch removes
    the file and raises :class:`VsrbenchError`. Returns ``dest``. An existing ``dest`` of the right size
    (and sha256) is reused without any request.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and (size is None or dest.stat().st_size == size):
        if sha256 is None or sha256_file(dest) == sha256:
            return dest
    part = dest.with_name(dest.name + ".part")
    errors = {}  # url -> its last error, each said once
    unreachable = set()
    for url in urls:
        ok = False
        for attempt in range(retries):
            try:
                _fetch_once(url, part, size, timeout, progress)
                ok = True
                break
            except urllib.error.HTTPError as e:
                if e.code == 416 and part.exists():  # range beyond the end: the file is complete
                    ok = True
                    break
                errors[url] = f"{url}: HTTP {e.code} {e.reason}"
                if e.code in (403, 404, 410):
                    break
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, OSError) as e:
                if _unreachable(e):
                    unreachable.add(url)
                    errors[url] = f"cannot reach {_host(url)} (no network?)"
                    break
                errors[url] = f"{url}: {type(e).__name__}: {e}"
            if attempt + 1 < retries:
                time.sleep(backoff * (2**attempt))
        if not ok or not part.exists():
            continue
        got = part.stat().st_size
        if size is not None and got != size:
            errors[url] = f"{url}: got {got} bytes, expected {size}"
            part.unlink()
            continue
        if sha256 is not None:
            digest = sha256_file(part)
            if digest != sha256.lower():
                part.unlink()
                raise VsrbenchError(
                    f"{dest}: sha256 {digest} does not match the catalog's {sha256} (downloaded from {url}); "
                    "the file was removed, retry later or use another mirror"
                )
        os.replace(part, dest)
        return dest
    kept = f" (partial data kept in {part}; rerun to resume)" if part.exists() else ""
    by_hand = urls[0] if len(urls) == 1 else " or ".join(urls)
    if urls and unreachable == set(urls):
        hosts = ", ".join(dict.fromkeys(_host(u) for u in urls))
        raise VsrbenchError(f"cannot reach {hosts} (no network?); download {by_hand} by hand and pass {manual}{kept}")
    detail = "; ".join(errors.values()) or "no mirror answered"
    raise VsrbenchError(f"could not download {dest.name} ({detail}); download {by_hand} by hand and pass {manual}{kept}")
