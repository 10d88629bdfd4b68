"""A failed store write in words: a full disk, a quota, a read-only folder or an I/O error becomes one
:class:`~vsrbench.errors.VsrbenchError` naming the store, the free space and the fix. A backend adds
what its library raises through ``translate`` (see :class:`WriteGuard`)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from vsrbench.datasets.diskspace import is_disk_full
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import WRITABLE_FIX

__all__ = ["free_note", "no_space", "write_failure", "WriteGuard"]


def free_note(path: Path) -> str:
    """``; N GB free at D`` for the closest existing folder ``D`` above ``path`` (empty when unknown)."""
    for d in (path.parent, *path.parents):
        if d.exists():
            try:
                return f"; {shutil.disk_usage(d).free / 1e9:.2f} GB free at {d}"
            except OSError:
                return ""
    return ""


def no_space(path: Path, free: str, detail: str = "") -> VsrbenchError:
    """The disk-full message; ``detail`` names what the library said (and that it may be an I/O error)."""
    if detail:
        return VsrbenchError(
            f"no space left on device while writing {path} (or a disk I/O error; {detail}){free}; "
            "free some space (or check the disk) and rerun the same command"
        )
    return VsrbenchError(f"no space left on device while writing {path}{free}; free some space and rerun the same command")


def write_failure(exc: BaseException, path: Path, translate=None) -> VsrbenchError | None:
    """A clear error for a failed store write (disk full, quota, I/O error), or None to re-raise.
    ``translate(exc, path, free)``: the backend's own errors (a VsrbenchError, or None)."""
    free = free_note(path)
    msg = str(exc)
    if isinstance(exc, OSError) and (is_disk_full(exc) or "No space left" in msg or "errno = 28" in msg):
        return no_space(path, free)
    err = translate(exc, path, free) if translate is not None else None
    if err is not None:
        return err
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return VsrbenchError(
            f"cannot write {path}: {exc.strerror or msg}; {WRITABLE_FIX}"
        )
    if isinstance(exc, OSError) and exc.errno == errno.EIO:
        return VsrbenchError(f"input/output error while writing {path} ({msg}){free}; check the disk and rerun")
    return None


class WriteGuard:
    """Turn disk-full / I/O failures inside a store write into one clear :class:`VsrbenchError`."""

    def __init__(self, path: Path, translate=None):
        self.path = path
        self.translate = translate

    def __enter__(self):
        return self

    def __exit__(self, et, exc, tb):
        if exc is None or isinstance(exc, VsrbenchError) or not isinstance(exc, Exception):
            return False
        err = write_failure(exc, self.path, self.translate)
        if err is None:
            return False
        raise err from None
