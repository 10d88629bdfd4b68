"""Safe extraction of zip and tar archives.

Nothing is ever written through a link, and nothing outside the destination:

* The whole archive is checked before anything is written. Refused, each with an error naming the
  archive, the entry and the fix: absolute names (``/x``, ``C:\\x``, ``\\\\server``), ``..``
  components, names that are not valid UTF-8 or hold control characters, **every link** (symbolic or
  hard; the dataset archives hold none; the message says whether it escapes the folder, also through a
  chain of links, dangles or loops), device / FIFO / socket entries, duplicate files, a name that is
  both a file and a folder, zip entries compressed with anything but deflate (or stored), and
  decompression bombs: a declared total beyond what the catalog expects for the dataset (with margin),
  or an entry (or a whole compressed tar) above 500:1. tarfile's ``data`` filter is applied to every
  tar entry as a second opinion, and what it refuses is reported as such.
* Free space is checked against the declared total before writing ("needs N GB, M GB free at PATH").
* Files are written by :class:`_Beneath`: every folder is opened relative to its parent with
  ``O_NOFOLLOW | O_DIRECTORY`` and every file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, so even
  a link that appeared on disk by other means is never followed and no file is overwritten. The bytes
  actually written are counted against each entry's declared size (declared sizes can lie).
* Extraction goes into a fresh temporary folder beside the destination, which is checked once more
  (no link, only files and folders) and moved into place only when the whole archive was extracted
  (and CRC-checked, for zip); any failure removes the temporary folder, so nothing partial is left.
"""

from __future__ import annotations

import errno
import lzma
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from vsrbench.datasets.diskspace import check_free_space, gb, is_disk_full
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import DISK_FIX, WRITABLE_FIX

__all__ = [
    "safe_extract", "is_archive", "check_member_name", "extraction_limit", "BadArchiveError", "RATIO_LIMIT",
    "RATIO_MIN_BYTES",
]

#: an entry (or a whole compressed tar) expanding more than this is refused as a decompression bomb;
#: PNG frames barely compress (~1:1) and frame lists ~4:1, while deflate's ceiling is ~1030:1
RATIO_LIMIT = 500
#: ... when it expands to more than this (tiny files may compress well)
RATIO_MIN_BYTES = 8 << 20
#: links followed at most when judging a link (as the kernel's MAXSYMLINKS)
_MAX_HOPS = 40

_DAMAGED = "The archive is damaged or malicious: re-download it from the source `vsrbench datasets` lists"
_BY_HAND = "extract it yourself and pass the extracted folder with --source"


class BadArchiveError(VsrbenchError):
    """The archive itself is unsafe, a bomb, truncated or corrupt (not: a full disk, an unwritable folder);
    a downloaded copy is worth deleting."""


def extraction_limit(expected_bytes: int | None) -> int | None:
    """Most bytes an archive of a dataset whose extracted size is about ``expected_bytes`` may declare:
    1.5x plus 0.5 GB of margin (other packings of the same frames, extra LR folders, readme files)."""
    if not expected_bytes:
        return None
    return int(1.5 * expected_bytes + 0.5e9)


def is_archive(path: str | os.PathLike) -> bool:
    path = Path(path)
    if not path.is_file():
        return False
    return zipfile.is_zipfile(path) or _is_tar(path)


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
        return False


def _show(name: str) -> str:
    """An entry name for messages: quoted, control characters escaped, undecodable bytes as \\xNN."""
    try:
        name.encode("utf-8")
        return repr(name)
    except UnicodeEncodeError:
        return repr(name.encode("utf-8", "surrogateescape"))


def _unsafe(archive: Path, name: str, why: str, fix: str = _DAMAGED) -> VsrbenchError:
    return BadArchiveError(f"{archive}: refusing unsafe archive entry {_show(name)}: {why}; nothing was extracted. {fix}")


def _is_root(name: str) -> bool:
    """``./``, ``.``: the extraction folder itself (folder entries only)."""
    return name.replace("\\", "/").strip("/") in ("", ".") and not name.startswith(("/", "\\"))


def check_member_name(archive: Path, name: str) -> PurePosixPath:
    """The entry's relative path, or :class:`VsrbenchError` for absolute names, ``..``, names that are
    not valid UTF-8 and names holding control characters."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise _unsafe(archive, name, "the name is not valid UTF-8") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise _unsafe(archive, name, "control character in the name")
    n = name.replace("\\", "/")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":") or n.startswith("//"):
        raise _unsafe(archive, name, "absolute path")
    parts = [p for p in n.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _unsafe(archive, name, "'..' path component")
    if not parts:
        raise _unsafe(archive, name, "empty name")
    return PurePosixPath(*parts)


# ------------------------------------------------------------------------------------- the listing


@dataclass
class _Entry:
    name: str  # as the archive spells it (for messages)
    rel: PurePosixPath
    kind: str  # "file" | "dir" | "symlink" | "hardlink"
    size: int = 0  # declared uncompressed bytes
    packed: int | None = None  # compressed bytes (zip)
    target: str = ""  # link target
    ref: object = None  # ZipInfo / TarInfo


class _Escape(Exception):
    pass


class _Loop(Exception):
    pass


def _vresolve(links: dict, start: tuple, target: str, via: list) -> tuple:
    """Where ``target`` (relative to folder ``start``) leads inside the archive's own tree, following the
    archive's links as the file system would once they were extracted; raises :class:`_Escape` when
    the path leaves the extraction folder (absolute, or ``..`` above it, also through other links)."""
    cur = list(start)
    pending = target.replace("\\", "/").split("/")
    if target.startswith(("/", "\\")) or (len(target) > 1 and target[1] == ":"):
        raise _Escape("absolute")
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not cur:
                raise _Escape("..")
            cur.pop()
            continue
        cand = tuple(cur + [part])
        if cand in links:
            hops += 1
            if hops > _MAX_HOPS:
                raise _Loop()
            t = links[cand].target
            via.append(links[cand].name)
            if t.startswith(("/", "\\")) or (len(t) > 1 and t[1] == ":"):
                raise _Escape("absolute")
            pending = t.replace("\\", "/").split("/") + pending
            if links[cand].kind == "hardlink":  # relative to the archive root
                cur = []
            continue
        cur.append(part)
    return tuple(cur)


def _link_error(archive: Path, entries: list[_Entry], present: set) -> VsrbenchError | None:
    """The error for the archive's links: none are extracted; the most serious one is reported."""
    links = {e.rel.parts: e for e in entries if e.kind in ("symlink", "hardlink")}
    if not links:
        return None
    worst = None
    for e in links.values():
        what = "symbolic link" if e.kind == "symlink" else "hard link"
        try:
            tgt = e.target
            tgt.encode("utf-8")
        except UnicodeEncodeError:
            return _unsafe(archive, e.name, f"{what} whose target {_show(e.target)} is not valid UTF-8")
        via: list = []
        start = e.rel.parent.parts if e.kind == "symlink" else ()
        try:
            dest = _vresolve(links, start, tgt, via)
        except _Escape as x:
            if str(x) == "absolute" and not via:
                why = f"{what} to the absolute path {tgt!r}"
            else:
                why = f"{what} to {tgt!r} points outside the extraction folder" + (
                    f" (through the link {via[0]!r})" if via else "")
            return _unsafe(archive, e.name, why)
        except _Loop:
            if worst is None or worst[0] > 1:
                worst = (1, e, f"{what} to {tgt!r} loops through other links")
            continue
        if dest not in present:
            if worst is None or worst[0] > 2:
                worst = (2, e, f"{what} to {tgt!r} is dangling (the archive holds nothing of that name)")
            continue
        if worst is None:
            worst = (3, e, f"{what} to {tgt!r}")
    _, e, why = worst
    return _unsafe(archive, e.name, why + "; vsrbench extracts no links (the dataset archives hold none)",
                   fix=f"{_DAMAGED}, or {_BY_HAND}")


def _check_listing(archive: Path, entries: list[_Entry], *, max_bytes: int | None, what: str | None) -> int:
    """Everything that needs the whole listing: duplicates, a file that is also a folder, links,
    declared sizes and ratios. Returns the declared total of the files."""
    files: dict[tuple, _Entry] = {}
    dirs: dict[tuple, str] = {}  # folder -> an entry that makes it a folder
    for e in entries:
        p = e.rel.parts
        for k in range(1, len(p)):
            dirs.setdefault(p[:k], e.name)
        if e.kind == "dir":
            dirs.setdefault(p, e.name)
        elif e.kind == "file":
            if p in files:
                raise _unsafe(archive, e.name, f"duplicate entry (a file of that name came earlier as {_show(files[p].name)})")
            files[p] = e
    for e in entries:
        if e.kind == "file" and e.rel.parts in dirs:
            other = dirs[e.rel.parts]
            why = ("a folder entry of the same name" if other.rstrip("/") == e.name.rstrip("/")
                   else f"entry {_show(other)} is inside it")
            raise _unsafe(archive, e.name, f"it is a file and also a folder ({why})")
    err = _link_error(archive, entries, set(files) | set(dirs) | {()})
    if err is not None:
        raise err
    total = 0
    for e in files.values():
        if e.size < 0:
            raise _unsafe(archive, e.name, f"negative size {e.size}")
        total += e.size
        if e.packed is not None and e.size > RATIO_MIN_BYTES and e.size > RATIO_LIMIT * max(e.packed, 1):
            raise _unsafe(
                archive, e.name,
                f"it expands {e.packed} compressed bytes to {e.size} ({e.size / max(e.packed, 1):.0f}:1, above "
                f"the {RATIO_LIMIT}:1 any dataset file reaches): a decompression bomb",
                fix=f"{_DAMAGED}; if it is genuine, {_BY_HAND}",
            )
    largest = max(files.values(), key=lambda e: e.size, default=None)
    if max_bytes is not None and total > max_bytes:
        raise BadArchiveError(
            f"{archive}: declares {gb(total)} GB of files (largest entry {_show(largest.name)}, {gb(largest.size)} GB), "
            f"more than the {gb(max_bytes)} GB allowed for {what or 'this dataset'} (the catalog's extracted size "
            f"with margin); nothing was extracted. It is not the {what or 'dataset'} archive or it is a decompression "
            f"bomb: re-download it from the source `vsrbench datasets` lists; if it is genuine, {_BY_HAND}"
        )
    size = archive.stat().st_size
    if largest is not None and total > RATIO_MIN_BYTES and total > RATIO_LIMIT * max(size, 1):
        raise BadArchiveError(
            f"{archive}: {size} bytes declare {gb(total)} GB of files ({total / max(size, 1):.0f}:1, above the "
            f"{RATIO_LIMIT}:1 any dataset reaches; largest entry {_show(largest.name)}): a decompression bomb; "
            f"nothing was extracted. {_DAMAGED}; if it is genuine, {_BY_HAND}"
        )
    return total


def _corrupt(archive: Path, e: BaseException, name: str | None = None) -> VsrbenchError:
    where = f"entry {_show(name)} is corrupt" if name else "the archive is corrupt"
    return BadArchiveError(
        f"{archive}: {where} ({type(e).__name__}: {e}); the archive is truncated or damaged: "
        "delete it and download it again"
    )


_METHODS = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma", 9: "deflate64", 93: "zstandard", 99: "AES"}


def _list_zip(archive: Path, zf: zipfile.ZipFile) -> list[_Entry]:
    out = []
    for info in zf.infolist():
        if info.is_dir() and _is_root(info.filename):
            continue
        rel = check_member_name(archive, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            if info.file_size > 4096:
                raise _unsafe(archive, info.filename, f"symbolic link with a {info.file_size}-byte target")
            try:
                with zf.open(info) as f:
                    raw = f.read(4097)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as e:
                raise _corrupt(archive, e, info.filename) from None
            target = raw.decode("utf-8", "surrogateescape")
            out.append(_Entry(info.filename, rel, "symlink", target=target, ref=info))
        elif mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            raise _unsafe(archive, info.filename, "device, FIFO or socket entry")
        elif info.is_dir() or stat.S_ISDIR(mode):
            out.append(_Entry(info.filename, rel, "dir", ref=info))
        else:
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _unsafe(
                    archive, info.filename,
                    f"compression method {_METHODS.get(info.compress_type, info.compress_type)} (vsrbench extracts "
                    "stored and deflate entries only, "
                    "as the dataset archives use)", fix=_BY_HAND[0].upper() + _BY_HAND[1:],
                )
            out.append(_Entry(info.filename, rel, "file", size=info.file_size, packed=info.compress_size, ref=info))
    return out


def _list_tar(archive: Path, tf: tarfile.TarFile, dest: Path, stop_after: float) -> list[_Entry]:
    """The tar's entries; stops early once the declared sizes pass ``stop_after`` bytes (a bomb:
    :func:`_check_listing` then refuses it without decompressing the rest)."""
    out = []
    total = 0
    for m in tf:
        if total > stop_after:
            break
        if m.isdir() and _is_root(m.name):  # "./" of `tar -C folder -cf x.tar .`
            continue
        rel = check_member_name(archive, m.name)
        if m.issym() or m.islnk():
            out.append(_Entry(m.name, rel, "symlink" if m.issym() else "hardlink", target=m.linkname, ref=m))
            continue
        if not (m.isfile() or m.isdir()):
            raise _unsafe(archive, m.name, "device, FIFO or other special entry")
        try:  # tarfile's own 'data' filter as a second opinion (Python >= 3.11.4)
            if hasattr(tarfile, "data_filter"):
                tarfile.data_filter(m, str(dest))
        except tarfile.FilterError as e:
            raise _unsafe(archive, m.name, f"refused by tarfile's 'data' filter: {e}") from None
        if m.isdir():
            out.append(_Entry(m.name, rel, "dir", ref=m))
        else:
            out.append(_Entry(m.name, rel, "file", size=m.size, ref=m))
            total += max(m.size, 0)
    return out


# ------------------------------------------------------------------------------------- the writer


class _Beneath:
    """Creates folders and files strictly beneath ``root``, never following a link: each folder is opened
    relative to its parent with O_NOFOLLOW (a link there fails with ELOOP/ENOTDIR), each file is created
    with O_CREAT|O_EXCL|O_NOFOLLOW (an existing file or link fails with EEXIST)."""

    _DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    _NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)

    def __init__(self, archive: Path, root: Path):
        self.archive = archive
        self.root_fd = os.open(root, self._DIR)
        self._parts: tuple | None = None
        self._fd: int | None = None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        os.close(self.root_fd)

    def _refuse(self, name: str, e: OSError) -> VsrbenchError:
        if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
            return _unsafe(self.archive, name, f"writing it would go through a link or over an existing entry ({e.strerror})")
        if e.errno == errno.ENAMETOOLONG:
            return _unsafe(self.archive, name, "the name is too long for this file system", fix=_BY_HAND[0].upper() + _BY_HAND[1:])
        raise e

    def folder(self, parts: tuple, name: str) -> int:
        """fd of the folder ``parts`` (created as needed); valid until the next call."""
        if parts == self._parts:
            return self._fd
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._parts = None, None
        fd = os.dup(self.root_fd)
        try:
            for p in parts:
                try:
                    os.mkdir(p, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                nfd = os.open(p, self._DIR, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except OSError as e:
            os.close(fd)
            raise self._refuse(name, e) from None
        self._fd, self._parts = fd, parts
        return fd

    def create(self, rel: PurePosixPath, name: str):
        """A new binary file at ``rel``, open for writing."""
        pfd = self.folder(rel.parent.parts, name)
        try:
            fd = os.open(rel.name, self._NEW, 0o644, dir_fd=pfd)
        except OSError as e:
            raise self._refuse(name, e) from None
        return os.fdopen(fd, "wb")


def _copy(src, dst, archive: Path, e: _Entry, written: list, total: int, read_errors: tuple) -> None:
    """Copy ``src`` into ``dst``, counting the bytes actually written against the entry's declared size
    (and the archive's declared total)."""
    n = 0
    while True:
        try:
            block = src.read(1 << 20)
        except read_errors as x:
            raise _corrupt(archive, x, e.name) from None
        if not block:
            break
        n += len(block)
        written[0] += len(block)
        if n > e.size or written[0] > total:
            raise _unsafe(
                archive, e.name,
                f"it holds more than the {e.size} bytes it declares: the archive lies about its sizes "
                "(a decompression bomb)",
            )
        dst.write(block)
    if n != e.size:
        raise _corrupt(archive, EOFError(f"{n} bytes of the {e.size} declared"), e.name)


def _verify_tree(archive: Path, root: Path) -> None:
    """After extraction: only files and folders under ``root``, no link anywhere (d_type, no stat)."""
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for d in it:
                if d.is_dir(follow_symlinks=False):
                    stack.append(Path(d.path))
                elif d.is_symlink() or not d.is_file(follow_symlinks=False):
                    raise _unsafe(archive, os.path.relpath(d.path, root), "a link or special file appeared in the extraction folder")


def _check_path_lengths(archive: Path, tmp: Path, entries: list[_Entry]) -> None:
    """Before anything is written: every entry's path once extracted (under the temporary folder,
    whose name is longer than the destination's) fits the system's path limit, else refuse naming
    the entry (not the temporary folder, which is gone by the time a user reads the message)."""
    try:
        limit = os.pathconf(tmp, "PC_PATH_MAX")
    except (OSError, ValueError):
        limit = 4096
    base = len(os.fsencode(os.path.abspath(tmp))) + 1
    for e in entries:
        n = base + len(os.fsencode(str(e.rel)))
        if n >= limit:
            shown = e.name if len(e.name) <= 160 else f"{e.name[:80]}...{e.name[-60:]}"
            raise _unsafe(archive, shown, f"its path is {n - base} bytes long: extracted under "
                          f"{os.path.abspath(tmp.parent)} it would "
                          f"be {n} bytes, above this system's limit of {limit}", fix=_BY_HAND[0].upper() + _BY_HAND[1:])


def _write_all(archive: Path, tmp: Path, entries: list[_Entry], total: int, opener, read_errors: tuple,
               progress: bool) -> None:
    _check_path_lengths(archive, tmp, entries)
    out = _Beneath(archive, tmp)
    written = [0]
    try:
        for e in tqdm(entries, desc=f"extract {archive.name}", unit="file", disable=not progress, file=sys.stderr,
                      leave=False):
            if e.kind == "dir":
                out.folder(e.rel.parts, e.name)
                continue
            try:
                src = opener(e)
            except read_errors as x:
                raise _corrupt(archive, x, e.name) from None
            except (RuntimeError, NotImplementedError) as x:  # encrypted entries, unknown compression
                raise VsrbenchError(f"{archive}: cannot extract entry {_show(e.name)} ({x}); {_BY_HAND}") from None
            with src, out.create(e.rel, e.name) as dst:
                _copy(src, dst, archive, e, written, total, read_errors)
    except OSError as x:  # read errors became VsrbenchError above: this is writing
        if is_disk_full(x):
            raise VsrbenchError(
                f"no space left on device while extracting {archive.name} into {tmp.parent} (the archive holds "
                f"{gb(total)} GB); nothing was kept: {DISK_FIX}"
            ) from None
        raise VsrbenchError(
            f"cannot write into {tmp.parent} while extracting {archive.name} ({x.strerror or x}); "
            + WRITABLE_FIX
        ) from None
    finally:
        out.close()


_ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
_TAR_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)


def _extract_zip(archive: Path, tmp: Path, progress: bool, max_bytes: int | None, what: str | None) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except UnicodeDecodeError as e:
        raw = e.object if isinstance(e.object, bytes) else b"?"
        raise _unsafe(archive, raw.decode("utf-8", "surrogateescape"),
                      "the name is marked UTF-8 but is not valid UTF-8") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise BadArchiveError(
            f"{archive}: not a readable zip archive ({e}); it is probably truncated or corrupt: "
            "delete it and download it again"
        ) from None
    with zf:
        entries = _list_zip(archive, zf)
        total = _check_listing(archive, entries, max_bytes=max_bytes, what=what)
        check_free_space(tmp.parent, total, f"extracting {archive.name}")
        _write_all(archive, tmp, entries, total, lambda e: zf.open(e.ref), _ZIP_READ_ERRORS, progress)


def _extract_tar(archive: Path, tmp: Path, progress: bool, max_bytes: int | None, what: str | None) -> None:
    try:
        tf = tarfile.open(archive)
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        raise BadArchiveError(f"{archive}: not a readable tar archive ({e}); delete it and download it again") from None
    with tf:
        stop = max(RATIO_MIN_BYTES, RATIO_LIMIT * archive.stat().st_size)
        if max_bytes is not None:
            stop = min(stop, max_bytes)
        try:
            entries = _list_tar(archive, tf, tmp, stop)
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as e:
            raise BadArchiveError(
                f"{archive}: the tar archive is truncated or corrupt ({type(e).__name__}: {e}); "
                "delete it and download it again"
            ) from None
        total = _check_listing(archive, entries, max_bytes=max_bytes, what=what)
        if total > stop:  # the listing stopped early; _check_listing refuses such totals, this is a safety net
            raise BadArchiveError(f"{archive}: declares more than {gb(stop)} GB of files; nothing was extracted. {_DAMAGED}")
        check_free_space(tmp.parent, total, f"extracting {archive.name}")
        _write_all(archive, tmp, entries, total, lambda e: tf.extractfile(e.ref), _TAR_READ_ERRORS, progress)


def safe_extract(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    progress: bool = True,
    max_bytes: int | None = None,
    what: str | None = None,
) -> Path:
    """Extract a zip or tar(.gz/.bz2/.xz) ``archive`` into ``dest`` (created; must not exist yet).

    ``max_bytes``: most uncompressed bytes the archive may declare (see :func:`extraction_limit`);
    ``what``: the dataset it should hold, for messages.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise VsrbenchError(f"{archive}: no such file")
    if dest.exists() or dest.is_symlink():
        raise VsrbenchError(f"{dest}: already exists; remove it to extract {archive.name} again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp, progress, max_bytes, what)
        elif _is_tar(archive):
            _extract_tar(archive, tmp, progress, max_bytes, what)
        else:
            raise BadArchiveError(
                f"{archive}: neither a zip nor a tar archive (or truncated: a zip whose end is missing "
                "cannot be read); delete it and download it again"
            )
        _verify_tree(archive, tmp)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
