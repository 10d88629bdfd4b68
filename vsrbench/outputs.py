"""Output locations: check or create a folder or file vsrbench is about to write, and turn the
operating system's errors into one :class:`~vsrbench.errors.VsrbenchError` naming the path, the
reason and the fix (``cannot write PATH: permission denied; choose another --out``).

Used at every edge that writes (``degrade`` / ``upscale --output``, ``score --output``,
``leaderboard --out``, ``plot --out-dir``, ``evaluate --save-outputs``, the results store, the LR
cache, ``prepare``'s data root). Imports nothing from the pipeline stages.

**Names read from input become paths only through** :func:`safe_child`: a clip name from a store,
a suite or model name from a record, a frame name from an input folder. :func:`name_problem` holds
the rules (the same at ``prepare`` and when a store is opened): a name is one or more ``/``-separated
parts, none empty, ``.`` or ``..``, no backslash, no control character, not absolute.
"""

from __future__ import annotations

import errno
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

from vsrbench.errors import VsrbenchError

__all__ = ["os_reason", "describe_os_error", "cannot_write", "ensure_dir", "ensure_parent", "check_output_file",
           "replacing", "remove_stale_temps", "atomic_write_bytes", "atomic_write_text", "writing", "check_dir_creatable",
           "name_problem", "safe_child"]

HOME_FIX = "set VSRBENCH_HOME to a writable folder"
# The fixes the library's messages name, worded once (an error is "<what happened>; <fix>"):
#: a folder vsrbench may not write into
WRITABLE_FIX = "make the folder writable or " + HOME_FIX
#: a disk too small (or full) for what vsrbench must write
DISK_FIX = "free some space or set VSRBENCH_HOME to a folder on a larger disk"
#: the results store cannot be written
RESULTS_FIX = "pass --results DIR or " + HOME_FIX

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "file name too long",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.ELOOP: "too many levels of symbolic links",
}


def _blocking_file(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path`` itself) when it is not a folder."""
    for p in (path, *path.parents):
        try:
            if p.is_dir():
                return None
            if p.exists() or p.is_symlink():
                return p
        except OSError:
            return None
    return None


def _kind(p: Path) -> str:
    """What is in the way at ``p``: ``a file, not a folder`` or ``a broken link``."""
    return "a broken link" if p.is_symlink() and not p.exists() else "a file, not a folder"


def os_reason(e: OSError, path: str | os.PathLike | None = None) -> str:
    """A short reason for ``e`` in words (``permission denied``, ``F is a file, not a folder``, ...)."""
    target = Path(path if path is not None else (e.filename or "."))
    if e.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _blocking_file(target)
        if blocker is not None:
            return f"{'it' if blocker == target else blocker} is {_kind(blocker)}"
        if e.errno == errno.ENOTDIR:
            return "a part of the path is a file, not a folder"
        return "it already exists"
    return _REASONS.get(e.errno) or (e.strerror or type(e).__name__).lower()


def describe_os_error(e: OSError) -> str:
    """``PATH: reason`` for an OSError from anywhere (the CLI's last resort)."""
    name = e.filename if e.filename is not None else ""
    return f"{name}: {os_reason(e)}" if name else os_reason(e)


def cannot_write(path: str | os.PathLike, e: OSError, fix: str) -> VsrbenchError:
    return VsrbenchError(f"cannot write {path}: {os_reason(e, path)}; {fix}")


def ensure_dir(path: str | os.PathLike, fix: str, target: str | os.PathLike | None = None) -> Path:
    """Create folder ``path`` (and its parents) if needed and check that it is writable.

    Raises:
        VsrbenchError: ``cannot write PATH: REASON; FIX`` (a parent is a file, permission denied,
            read-only file system, ...); ``target`` (default ``path``) is the path named.
    """
    p = Path(path)
    t = Path(target) if target is not None else p
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        blocker = _blocking_file(p) if e.errno in (errno.EEXIST, errno.ENOTDIR) else None
        if blocker is not None:
            where = "it is" if blocker == t else f"{blocker} is"
            raise VsrbenchError(f"cannot write {t}: {where} {_kind(blocker)}; {fix}") from None
        raise cannot_write(t, e, fix) from None
    _require_writable_dir(p, t, fix)
    return p


def ensure_parent(path: str | os.PathLike, fix: str) -> Path:
    """:func:`ensure_dir` on the folder that will hold ``path`` (file or folder); returns ``path``."""
    p = Path(path)
    ensure_dir(p.parent, fix, target=p)
    return p


def check_output_file(path: str | os.PathLike, fix: str) -> Path:
    """Before any work: ``path`` can be written as a file (its folder exists or can be made, is
    writable, and ``path`` is not a folder)."""
    p = ensure_parent(path, fix)
    if p.is_dir():
        raise VsrbenchError(f"cannot write {p}: it is a folder, not a file; {fix}")
    return p


def _host_tag() -> str:
    """This machine's name as it goes into temporary file names: letters, digits, ``_`` and ``-``."""
    import re
    import socket

    return re.sub(r"[^A-Za-z0-9_-]", "", socket.gethostname())[:32] or "host"


#: a temporary file of :func:`replacing` older than this is a leftover whatever wrote it (another host's
#: writer, whose pid cannot be checked, or a pid that was reused)
STALE_TEMP_SECONDS = 24 * 3600


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # ours: another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def remove_stale_temps(folder: str | os.PathLike, max_age: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Remove the temporary files :func:`replacing` left in ``folder`` when their writer was killed:
    those named for a process of this host that is no longer running, and any older than ``max_age``
    seconds. A live writer's file is kept. Returns the files removed; errors are ignored."""
    import re
    import time

    pat = re.compile(r"\..+\.tmp(\d+)(?:@([A-Za-z0-9_-]*))?-[0-9a-f]{8}")
    host, now, removed = _host_tag(), time.time(), []
    try:
        names = [e for e in os.scandir(folder) if e.name.startswith(".")]
    except OSError:
        return removed
    for e in names:
        m = pat.fullmatch(e.name)
        if m is None:
            continue
        try:
            st = e.stat(follow_symlinks=False)
            dead = m.group(2) == host and not _pid_alive(int(m.group(1)))
            if dead or now - st.st_mtime > max_age:
                os.unlink(e.path)
                removed.append(Path(e.path))
        except (OSError, ValueError):
            pass
    return removed


@contextmanager
def replacing(path: str | os.PathLike):
    """The one atomic-write helper: yields a temporary file name beside ``path``; when the block
    ends normally the temporary file replaces ``path`` (``os.replace``), so a reader sees the old
    file or the complete new one, never a part; on any error the temporary file is removed."""
    p = Path(path)
    # unique per writer (process id alone repeats across hosts on a shared file system, and threads share
    # it); the pid and host let remove_stale_temps tell a dead writer's leftover from a live one's
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}@{_host_tag()}-{secrets.token_hex(4)}")
    try:
        yield tmp
        os.replace(tmp, p)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` through :func:`replacing` (OSErrors pass through unchanged)."""
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, fix: str | None = None, *, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`replacing`. With ``fix``, the output is
    checked first and an OSError becomes ``cannot write PATH: REASON; FIX``; without, it passes through."""
    if fix is None:
        return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)
    p = check_output_file(path, fix)
    try:
        return atomic_write_bytes(p, text.encode("utf-8"), fsync=fsync)
    except OSError as e:
        raise cannot_write(p, e, fix) from None


@contextmanager
def writing(path: str | os.PathLike, fix: str):
    """Turn an OSError raised inside the block into ``cannot write PATH: REASON; FIX``."""
    try:
        yield
    except VsrbenchError:
        raise
    except OSError as e:
        raise cannot_write(path, e, fix) from None


def check_dir_creatable(path: str | os.PathLike, fix: str) -> Path:
    """Before any work, without creating anything: folder ``path`` exists and is writable, or can
    be created (its nearest existing ancestor is a writable folder)."""
    p = Path(path)
    for q in (p, *p.parents):
        try:
            exists = q.exists() or q.is_symlink()
        except OSError as e:
            raise cannot_write(p, e, fix) from None
        if not exists:
            continue
        _require_writable_dir(q, p, fix)
        return p
    return p


def _require_writable_dir(d: Path, target: Path, fix: str) -> None:
    """``d`` (``target`` or a folder above it) must be a folder this process may write into."""
    if not d.is_dir():
        where = "it is" if d == target else f"{d} is"
        raise VsrbenchError(f"cannot write {target}: {where} {_kind(d)}; {fix}")
    if not os.access(d, os.W_OK | os.X_OK):
        raise VsrbenchError(f"cannot write {target}: permission denied; {fix}")


def name_problem(name) -> str | None:
    """Why ``name`` (read from a store, record or input folder) cannot name a path under an output
    root, or None. A name is one or more ``/``-separated parts (Vimeo clips are ``00001/0001``)."""
    import unicodedata

    if not isinstance(name, str):
        return f"it is {type(name).__name__}, not text"
    if not name:
        return "it is empty"
    if name.startswith("/"):
        return "it is an absolute path"
    if "\\" in name:
        return "it holds a backslash (a path separator)"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "it holds a control character"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return f"it has a {part!r} path part" if part else "it has an empty path part"
    return None


def safe_child(root: str | os.PathLike, *names: str, what: str = "name") -> Path:
    """``root/name1/name2/...``, refused unless every name passes :func:`name_problem` and the
    result, symbolic links resolved, stays inside ``root`` (also resolved). The one way vsrbench
    joins a name read from input onto an output root.

    Raises:
        VsrbenchError: ``refusing to write under ROOT: WHAT 'NAME' ...: REASON``.
    """
    root = Path(root)
    for name in names:
        why = name_problem(name)
        if why is not None:
            raise VsrbenchError(f"refusing to write under {root}: {what} {_show(name)} cannot be a path ({why}); "
                                "the input naming it is damaged or crafted")
    p = root.joinpath(*(part for name in names for part in name.split("/")))
    real_root = os.path.realpath(root)
    real = os.path.realpath(p)
    if os.path.commonpath([real_root, real]) != real_root:
        raise VsrbenchError(f"refusing to write {p}: it leads outside {root} (to {real}, through a symbolic link); "
                            "remove the link or choose another output folder")
    return p


def _show(name) -> str:
    s = repr(name)
    return s if len(s) <= 80 else s[:77] + "..."
