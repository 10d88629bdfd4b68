"""Safe extraction of zip and tar archives.

Every entry is checked before it is written: names with a ``..`` component, absolute names (``/x``,
``C:\\x``, ``\\\\server``), links whose target leaves the extraction folder (absolute or through
``..``), and device / FIFO entries are refused with an error naming the entry. Extraction goes into a
temporary folder beside the destination, which is moved into place only when the whole archive was
extracted (and CRC-checked, for zip); any failure removes the temporary folder, so nothing partial is
left and nothing is ever written outside the destination.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from vsrbench.errors import VsrbenchError

__all__ = ["safe_extract", "is_archive", "check_member_name"]


def is_archive(path: str | os.PathLike) -> bool:
    path = Path(path)
    if not path.is_file():
        return False
    return zipfile.is_zipfile(path) or _is_tar(path)


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError):
        return False


def _unsafe(archive: Path, name: str, why: str) -> VsrbenchError:
    return VsrbenchError(
        f"{archive}: refusing unsafe archive entry {name!r} ({why}); nothing was extracted. "
        "The archive is damaged or malicious: re-download it from the source `vsrbench datasets` lists"
    )


def check_member_name(archive: Path, name: str) -> PurePosixPath:
    """The entry's relative path, or :class:`VsrbenchError` for absolute names and ``..``."""
    n = name.replace("\\", "/")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":") or n.startswith("//"):
        raise _unsafe(archive, name, "absolute path")
    parts = [p for p in n.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _unsafe(archive, name, "'..' path component")
    if not parts:
        raise _unsafe(archive, name, "empty name")
    return PurePosixPath(*parts)


def _check_link(archive: Path, name: str, rel: PurePosixPath, target: str, *, relative_to_member: bool) -> None:
    t = target.replace("\\", "/")
    if t.startswith("/") or (len(t) > 1 and t[1] == ":"):
        raise _unsafe(archive, name, f"link to the absolute path {target!r}")
    base = list(rel.parent.parts) if relative_to_member else []
    for part in t.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not base:
                raise _unsafe(archive, name, f"link {target!r} points outside the extraction folder")
            base.pop()
        else:
            base.append(part)


def _extract_zip(archive: Path, tmp: Path, progress: bool) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise VsrbenchError(
            f"{archive}: not a readable zip archive ({e}); it is probably truncated or corrupt: "
            "delete it and download it again"
        ) from None
    with zf:
        infos = zf.infolist()
        for info in infos:  # check everything before writing anything
            rel = check_member_name(archive, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                _check_link(archive, info.filename, rel, zf.read(info).decode("utf-8", "replace"), relative_to_member=True)
            elif mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
                raise _unsafe(archive, info.filename, "device, FIFO or socket entry")
        for info in tqdm(infos, desc=f"extract {archive.name}", unit="file", disable=not progress, file=sys.stderr, leave=False):
            rel = check_member_name(archive, info.filename)
            out = tmp.joinpath(*rel.parts)
            mode = info.external_attr >> 16
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                os.symlink(zf.read(info).decode("utf-8"), out)
                continue
            try:
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                raise VsrbenchError(
                    f"{archive}: entry {info.filename!r} is corrupt ({e}); the archive is truncated or damaged: "
                    "delete it and download it again"
                ) from None


def _extract_tar(archive: Path, tmp: Path, progress: bool) -> None:
    try:
        tf = tarfile.open(archive)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise VsrbenchError(f"{archive}: not a readable tar archive ({e}); delete it and download it again") from None
    with tf:
        try:
            for m in tqdm(tf, desc=f"extract {archive.name}", unit="file", disable=not progress, file=sys.stderr, leave=False):
                rel = check_member_name(archive, m.name)
                if m.issym():
                    _check_link(archive, m.name, rel, m.linkname, relative_to_member=True)
                elif m.islnk():
                    check_member_name(archive, m.linkname)
                    _check_link(archive, m.name, rel, m.linkname, relative_to_member=False)
                elif m.isdev() or m.isfifo() or not (m.isfile() or m.isdir()):
                    raise _unsafe(archive, m.name, "device, FIFO or special entry")
                m.name = str(rel)
                if hasattr(tarfile, "data_filter"):
                    tf.extract(m, tmp, filter="data")
                else:  # pragma: no cover - Python < 3.11.4; our own checks above already ran
                    tf.extract(m, tmp)
        except VsrbenchError:
            raise
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise VsrbenchError(
                f"{archive}: the tar archive is truncated or corrupt ({type(e).__name__}: {e}); "
                "delete it and download it again"
            ) from None


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike, *, progress: bool = True) -> Path:
    """Extract a zip or tar(.gz/.bz2/.xz) ``archive`` into ``dest`` (created; must not exist yet)."""
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise VsrbenchError(f"{archive}: no such file")
    if dest.exists():
        raise VsrbenchError(f"{dest}: already exists; remove it to extract {archive.name} again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp, progress)
        elif _is_tar(archive):
            _extract_tar(archive, tmp, progress)
        else:
            raise VsrbenchError(
                f"{archive}: neither a zip nor a tar archive (or truncated: a zip whose end is missing "
                "cannot be read); delete it and download it again"
            )
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
