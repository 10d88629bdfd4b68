"""Fetching an official checkpoint of :mod:`vsrbench.models.weights`' catalog (``--weights NAME``):
downloaded once into ``$VSRBENCH_HOME/weights`` through the datasets' resumable downloader, verified
by the hash the released file name carries, reused afterwards without any request. (The catalog is
pure data in ``models``; the download is I/O at this stage, which may use ``datasets``.)"""

from __future__ import annotations

import os
from pathlib import Path

from vsrbench.datasets.download import download
from vsrbench.errors import VsrbenchError
from vsrbench.hashing import sha256_file
from vsrbench.home import vsrbench_home
from vsrbench.models.weights import Weights, get_weights

__all__ = ["weights_dir", "fetch_weights"]


def weights_dir(home=None) -> Path:
    return (Path(home) if home is not None else vsrbench_home()) / "weights"


def _matches(path: Path, w: Weights) -> bool:
    return sha256_file(path).startswith(w.expected_hash)


def fetch_weights(model: str, name: str, *, home=None, progress: bool = True, retries: int = 5,
                  backoff: float = 1.0, timeout: float = 60.0) -> Path:
    """The cached file of ``model``'s official checkpoint ``name``, downloaded first when missing.

    A cached file is checked against its hash before use (a damaged one is fetched again). A download
    goes to ``weights/.incoming/FILE`` (``.part`` while it runs, resumed with a Range request after a
    break) and is renamed to ``weights/FILE`` only when its sha256 matches; a mismatch removes it and
    raises. Offline: one line naming the URL and ``--checkpoint FILE``.
    """
    w = get_weights(model, name)
    dest = weights_dir(home) / w.filename
    if dest.is_file():
        if _matches(dest, w):
            return dest
        dest.unlink()
    if w.url is None:
        raise VsrbenchError(f"--weights {name}: {w.filename} is not directly downloadable; get it from {w.page} and "
                            f"pass --checkpoint FILE")
    incoming = dest.parent / ".incoming" / w.filename
    download(w.url, incoming, sha256=w.sha256, retries=retries, backoff=backoff, timeout=timeout, progress=progress,
             manual="--checkpoint FILE")
    if not _matches(incoming, w):
        got = sha256_file(incoming)
        incoming.unlink()
        raise VsrbenchError(f"{w.url}: sha256 {got[:16]}... does not start with {w.expected_hash} (the hash "
                            f"{w.filename} carries); the file was removed. Retry later or pass --checkpoint FILE")
    os.replace(incoming, dest)
    return dest
