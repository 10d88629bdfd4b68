"""Free-space checks before large writes: "needs N GB, M GB free at PATH" instead of a full disk."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from vsrbench.errors import VsrbenchError
from vsrbench.outputs import DISK_FIX

__all__ = ["check_free_space", "estimate_pack_bytes", "free_bytes", "gb", "is_disk_full", "DISK_FULL_ERRNOS",
           "RESERVE_BYTES"]

#: kept free on top of what a write needs (file-system metadata, lock files, the results written later)
RESERVE_BYTES = 64 << 20

#: the errnos of a write that found the disk full: no space, quota exceeded, file too large for the file system
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG})


def gb(n: float) -> str:
    """Bytes as GB for messages: 2 decimals below 10 GB, 1 above."""
    v = n / 1e9
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _existing(path: Path) -> Path:
    """``path`` or its closest existing parent (the folder that will hold it)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p.parent != p:
        p = p.parent
    return p


def free_bytes(path: str | os.PathLike) -> int:
    """Bytes free for an unprivileged user on the file system that holds (or will hold) ``path``."""
    return int(shutil.disk_usage(_existing(Path(path))).free)


def check_free_space(path: str | os.PathLike, needed: int, doing: str) -> None:
    """Raise :class:`VsrbenchError` when ``needed`` bytes (+ a small reserve) do not fit at ``path``.

    ``doing`` starts the message: ``"extracting vid4.zip"`` -> "extracting vid4.zip needs 1.20 GB,
    0.50 GB free at /data/vsrbench/vid4; ...".
    """
    if needed <= 0:
        return
    where = _existing(Path(path))
    try:
        free = free_bytes(where)
    except OSError:  # cannot tell (e.g. a FUSE mount without statvfs): let the write itself decide
        return
    if needed + RESERVE_BYTES > free:
        raise VsrbenchError(
            f"{doing} needs {gb(needed + RESERVE_BYTES)} GB, {gb(free)} GB free at {where}; {DISK_FIX}"
        )


def is_disk_full(e: BaseException) -> bool:
    """True for the OSErrors a full disk or quota gives (:data:`DISK_FULL_ERRNOS`)."""
    return isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS


def estimate_pack_bytes(clips, stores) -> int:
    """About how many bytes packing ``clips`` into ``stores`` writes: each store holds the source frame
    files of its set (``"*"``: all sets) shrunk by its scale squared (GT: scale 1). ``clips``: items with
    ``.set`` and ``.frames`` (file paths; None for rendered clips, not counted); ``stores``: ``(set, scale)``
    pairs. A lower bound: PNG-encoded stores (level 1) come out at least as large as PNG sources, HDF5's raw
    arrays larger; the pre-check refuses only what surely cannot fit."""
    per_set: dict[str, int] = {}
    for c in clips:
        n = 0
        for f in c.frames or ():
            try:
                n += os.path.getsize(f)
            except OSError:
                pass
        per_set[c.set] = per_set.get(c.set, 0) + n
    total = 0.0
    for s, scale in stores:
        b = sum(per_set.values()) if s == "*" else per_set.get(s, 0)
        total += b / max(int(scale), 1) ** 2
    return int(total)
