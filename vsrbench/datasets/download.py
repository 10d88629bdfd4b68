"""HTTP(S) download with Range resume, retries with backoff, mirrors, size caps and sha256 checks.

The file is written to ``DEST.part`` and renamed to ``DEST`` only when complete and verified, so a
killed download leaves only a ``.part`` that the next call resumes with a ``Range: bytes=N-``
request (a server that ignores Range and answers 200 restarts the file from the beginning).

Every download is capped: at ``max_bytes`` (callers pass the catalog's size with margin), at ``size``
when the exact size is known, at the server's Content-Length when it sends one, and otherwise at
:data:`DEFAULT_MAX_BYTES`; while a file of unknown size streams in, the free space is checked as well.
A transfer that passes its cap stops there with one line and its ``.part`` file is removed (a
``file:///dev/zero`` or an endless server never fills the disk).
"""

from __future__ import annotations

import errno
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

from vsrbench.datasets.diskspace import RESERVE_BYTES, check_free_space, free_bytes, gb, is_disk_full
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import DISK_FIX
from vsrbench.hashing import sha256_file  # noqa: F401  (re-exported: vsrbench.datasets.sha256_file)

__all__ = ["download", "sha256_file", "DEFAULT_MAX_BYTES"]

_CHUNK = 1 << 20

#: the cap of a download nobody gave a size for (no catalog size, no ``size``, no Content-Length):
#: generous (the largest catalog archive, Vimeo-90K, is about 82 GB) but finite; the free-space check
#: during such a transfer stops it earlier when the disk would fill
DEFAULT_MAX_BYTES = 200 * 10**9

#: how often (bytes) a download of unknown length checks the free space
_FREE_CHECK_EVERY = 64 << 20


def _declared_length(resp) -> int | None:
    """The response's Content-Length as a non-negative int, or None when absent or not a number."""
    length = resp.headers.get("Content-Length")
    try:
        n = int(str(length).strip()) if length is not None else None
    except ValueError:
        return None
    return n if n is not None and n >= 0 else None


def _stop(part: Path, msg: str) -> VsrbenchError:
    """Remove the partial file and return the one-line error that says why the transfer stopped."""
    part.unlink(missing_ok=True)
    return VsrbenchError(f"{msg}; the partial file {part} was removed")


def _stream(resp, f, bar, limit: int, watch: Path | None) -> int:
    """Copy ``resp`` into ``f``; returns the bytes copied, or ``limit + 1`` as soon as the body passes
    ``limit`` (nothing past the limit is written). ``watch``: a folder whose free space is checked
    every :data:`_FREE_CHECK_EVERY` bytes (raises OSError ENOSPC when the disk would fill)."""
    got, checked = 0, 0
    while True:
        block = resp.read(min(_CHUNK, limit - got + 1))
        if not block:
            return got
        if got + len(block) > limit:
            return limit + 1
        f.write(block)
        got += len(block)
        bar.update(len(block))
        if watch is not None and got - checked >= _FREE_CHECK_EVERY:
            checked = got
            f.flush()
            if free_bytes(watch) < RESERVE_BYTES + _FREE_CHECK_EVERY:
                raise OSError(errno.ENOSPC, "the disk would fill", str(watch))


def _fetch_once(url: str, part: Path, size: int | None, cap: int, timeout: float, progress: bool) -> None:
    """One request; appends to ``part`` from its current length, never past ``cap`` bytes in all.
    Raises on any transfer error; :class:`VsrbenchError` (part file removed) when the body passes its
    cap or its declared Content-Length."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return
    if have > cap:
        raise _stop(part, f"{part} holds {have} bytes, more than the {cap} expected for {part.name[:-5]}")
    req = urllib.request.Request(url, headers={"User-Agent": "vsrbench"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        status = getattr(resp, "status", 200)
        if have and status != 206:
            have = 0  # server ignored Range: start again
        declared = _declared_length(resp)
        total = have + declared if declared is not None else size
        if total is not None and total > cap:
            raise _stop(part, f"{url} declares {total} bytes ({gb(total)} GB), more than the {cap} bytes "
                              f"expected for {part.name[:-5]}; check the URL")
        if total:
            check_free_space(part.parent, total - have, f"downloading {part.name[:-5]}")
        limit = cap - have if declared is None else min(cap - have, declared)
        mode = "ab" if have else "wb"
        try:
            with open(part, mode) as f, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=part.name[:-5],
                disable=not progress, file=sys.stderr, leave=False,
            ) as bar:
                got = _stream(resp, f, bar, limit, part.parent if total is None else None)
        except OSError as e:
            if is_disk_full(e):
                raise _stop(part, f"downloading {url}: the disk at {part.parent} would fill "
                                  f"({gb(free_bytes(part.parent))} GB free); {DISK_FIX}") from None
            raise
        if got > limit:
            what = f"the {declared} bytes it declared" if declared is not None and limit == declared else \
                f"the {cap} bytes expected for {part.name[:-5]}"
            raise _stop(part, f"{url} sent more than {what}; stopped there, check the URL")
        if declared is not None and got < declared:
            raise http.client.IncompleteRead(b"", declared - got)


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
    max_bytes: int | None = None,
    manual: str = "--source FILE",
) -> Path:
    """Download the first working mirror of ``urls`` to ``dest``; resume a ``dest.part`` left behind.

    Each mirror is tried ``retries`` times with exponential backoff (``backoff * 2**k`` s), resuming
    from the bytes already on disk; a host that does not resolve or refuses the connection is not
    retried (no network: retrying only delays the message; the message says to pass the file by hand
    with ``manual``, the command's flag). ``size`` and ``sha256`` are checked when given; a mismatch removes
    the file and raises :class:`VsrbenchError`. ``max_bytes`` caps the transfer (default ``size``
    when given, else :data:`DEFAULT_MAX_BYTES`): a body past it, or past the server's Content-Length,
    stops the download with :class:`VsrbenchError` and removes the part file. Returns ``dest``. An existing ``dest`` of the right size
    (and sha256) is reused without any request.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and (size is None or dest.stat().st_size == size):
        if sha256 is None or sha256_file(dest) == sha256:
            return dest
    part = dest.with_name(dest.name + ".part")
    cap = max_bytes if max_bytes is not None else DEFAULT_MAX_BYTES
    if size is not None:
        cap = min(cap, size)
    errors = {}  # url -> its last error, each said once
    unreachable = set()
    for url in urls:
        if not _fetch_with_retries(url, part, size, cap, timeout, progress, retries, backoff, errors, unreachable):
            continue
        if not part.exists():
            continue
        if _checked_part(url, part, dest, size, sha256, errors):
            os.replace(part, dest)
            return dest
    raise _no_mirror_error(urls, dest, part, errors, unreachable, manual)


def _fetch_with_retries(url, part, size, cap, timeout, progress, retries, backoff, errors, unreachable) -> bool:
    """One mirror, ``retries`` attempts with exponential backoff; True when its bytes are all in ``part``.
    Its last error goes into ``errors``; a host that cannot be reached into ``unreachable`` (no retry)."""
    for attempt in range(retries):
        try:
            _fetch_once(url, part, size, cap, timeout, progress)
            return True
        except urllib.error.HTTPError as e:
            if e.code == 416 and part.exists():  # range beyond the end: the file is complete
                return True
            errors[url] = f"{url}: HTTP {e.code} {e.reason}"
            if e.code in (403, 404, 410):
                return False
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, OSError) as e:
            if _unreachable(e):
                unreachable.add(url)
                errors[url] = f"cannot reach {_host(url)} (no network?)"
                return False
            errors[url] = f"{url}: {type(e).__name__}: {e}"
        if attempt + 1 < retries:
            time.sleep(backoff * (2**attempt))
    return False


def _checked_part(url, part: Path, dest: Path, size, sha256, errors) -> bool:
    """The downloaded ``part`` has the expected size (else it is removed: False, the next mirror) and
    sha256 (else it is removed and the download stops with the mismatch)."""
    got = part.stat().st_size
    if size is not None and got != size:
        errors[url] = f"{url}: got {got} bytes, expected {size}"
        part.unlink()
        return False
    if sha256 is not None:
        digest = sha256_file(part)
        if digest != sha256.lower():
            part.unlink()
            raise VsrbenchError(
                f"{dest}: sha256 {digest} does not match the catalog's {sha256} (downloaded from {url}); "
                "the file was removed, retry later or use another mirror"
            )
    return True


def _no_mirror_error(urls, dest: Path, part: Path, errors, unreachable, manual) -> VsrbenchError:
    """Every mirror failed: what each said, and how to pass the file by hand."""
    kept = f" (partial data kept in {part}; rerun to resume)" if part.exists() else ""
    by_hand = urls[0] if len(urls) == 1 else " or ".join(urls)
    if urls and unreachable == set(urls):
        hosts = ", ".join(dict.fromkeys(_host(u) for u in urls))
        return VsrbenchError(f"cannot reach {hosts} (no network?); download {by_hand} by hand and pass {manual}{kept}")
    detail = "; ".join(errors.values()) or "no mirror answered"
    return VsrbenchError(f"could not download {dest.name} ({detail}); download {by_hand} by hand and pass {manual}{kept}")
