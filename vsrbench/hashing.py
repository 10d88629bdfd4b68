"""The one file hash (sha256 of a file's bytes, read in 1 MiB blocks), and the HMAC that binds a
cache entry's arrays to its key under a secret of the home (:func:`cache_secret`, :func:`arrays_mac`)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

__all__ = ["sha256_file", "cache_secret", "arrays_mac", "SECRET_NAME"]

#: the secret's file name, in the cache folder of a home
SECRET_NAME = ".cache-key"

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _read_secret(p: Path) -> bytes:
    """The secret in ``p`` (64 hex digits); ValueError when it is not one, OSError when unreadable."""
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        if os.fstat(f.fileno()).st_mode & 0o077:
            os.fchmod(f.fileno(), 0o600)
        text = f.read(256).strip()
    if not re.fullmatch(rb"[0-9a-f]{64}", text):
        raise ValueError("not 64 hex digits")
    return bytes.fromhex(text.decode())


def cache_secret(folder: str | os.PathLike) -> bytes | str:
    """The secret in ``folder/.cache-key`` that cache entries' HMACs are keyed with, made on first use
    (32 random bytes as hex, mode 0600, written whole: a temporary file linked into place, so
    concurrent first uses agree), or the reason it can be neither read nor made (a string)."""
    p = Path(folder) / SECRET_NAME
    try:
        return _read_secret(p)
    except (FileNotFoundError, ValueError):
        pass
    except OSError as e:
        return f"{p}: {e.strerror or e}"
    tmp = p.with_name(f"{p.name}.tmp{os.getpid()}-{secrets.token_hex(4)}")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(secrets.token_hex(32).encode())
        try:
            os.link(tmp, p)  # fails when another process made it first: theirs is used
        except FileExistsError:
            if not p.is_file() or p.is_symlink():
                raise
            try:
                _read_secret(p)
            except ValueError:  # a malformed one: replaced (the entries it keyed are recomputed)
                os.replace(tmp, p)
        except OSError:  # no hard links on this file system
            os.replace(tmp, p)
        return _read_secret(p)
    except (OSError, ValueError) as e:
        return f"{p}: {(e.strerror or e) if isinstance(e, OSError) else e}"
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def arrays_mac(secret: bytes, key: str, arrays: dict) -> str:
    """HMAC-SHA256 under ``secret`` of ``key`` and every array of ``arrays`` (name, dtype, shape, bytes)."""
    import numpy as np

    m = hmac.new(secret, key.encode(), hashlib.sha256)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        m.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode())
        m.update(a.reshape(-1).view(np.uint8))
    return m.hexdigest()
