"""LMDB stores, BasicSR's ``create_lmdb.py`` layout: key = ``<clip>/<frame>`` (Vimeo: ``00001/0001/im4``,
other datasets ``<clip>/<00000000>``; ``key_style='mmagic'``: ``00001_0001_4``), value = PNG of the BGR
frame at compression level 1, ``meta_info.txt`` beside ``data.mdb`` with one line per key
(``00001/0001/im4.png (256,448,3) 1``). The map is grown on demand (``MapFullError`` -> double, retry)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vsrbench.datasets.frames import decode_image
from vsrbench.datasets.stores.base import MARKER, Layout
from vsrbench.datasets.stores.reader import Store
from vsrbench.datasets.stores.write_errors import no_space
from vsrbench.datasets.stores.writer import Writer
from vsrbench.errors import VsrbenchError

__all__ = ["LMDB", "LMDB_MAX_KEY_BYTES", "frame_key", "LmdbWriter", "LmdbStore"]

#: LMDB's own key limit (MDB_MAXKEYSIZE of the default build)
LMDB_MAX_KEY_BYTES = 511

LMDB = Layout("lmdb", suffix=".lmdb", per_set=True, signature="data.mdb", max_key_bytes=LMDB_MAX_KEY_BYTES, default=True,
              help="pack into LMDB, BasicSR layout (default): NAME/lmdb/<set>/<VARIANT>.lmdb with meta_info.txt")


def frame_key(clip: str, gt_index: int, key_style: str = "basicsr", vimeo: bool = False) -> str:
    """LMDB key of frame ``gt_index`` (0-based) of ``clip``."""
    if key_style == "basicsr":
        return f"{clip}/im{gt_index + 1}" if vimeo else f"{clip}/{gt_index:08d}"
    if key_style == "mmagic":
        base = clip.replace("/", "_")
        return f"{base}_{gt_index + 1}" if vimeo else f"{base}_{gt_index:08d}"
    raise VsrbenchError(f"unknown LMDB key style {key_style!r}; use 'basicsr' or 'mmagic'")


def _lmdb_key(key: str, where) -> bytes:
    """LMDB keys are UTF-8 (BasicSR decodes them so); refuse what LMDB cannot hold."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        raise VsrbenchError(f"{where}: key {key!r} is not valid UTF-8; rename the clip folder") from None
    if len(raw) > LMDB_MAX_KEY_BYTES:
        raise VsrbenchError(
            f"{where}: key {key[:40]!r}... is {len(raw)} bytes, LMDB allows {LMDB_MAX_KEY_BYTES}; "
            "rename the clip folder or use --hdf5 / --folders"
        )
    return raw


# --------------------------------------------------------------------------------------------- writer


class LmdbWriter(Writer):
    layout = LMDB

    def __init__(self, final, meta, commit_every=1000, map_size: int | None = 1 << 28):
        self._env = None
        self._map_size = int(map_size if map_size is not None else 1 << 28)
        super().__init__(final, meta, commit_every)

    @staticmethod
    def translate_error(exc, path, free):
        """LMDB's disk and map errors (and its I/O / quota messages) as one clear error."""
        import lmdb

        msg = str(exc)
        if isinstance(exc, (lmdb.DiskError, lmdb.MapFullError)) or (
            isinstance(exc, lmdb.Error) and ("Input/output error" in msg or "No space left" in msg or "Disk quota" in msg)
        ):
            return no_space(path, free, f"LMDB says: {msg}")
        if isinstance(exc, lmdb.Error):
            return VsrbenchError(f"could not write {path}: LMDB says: {msg}; check that the folder is writable and the disk "
                                 "is healthy, then rerun the same command")
        return None

    def _env_open(self):
        import lmdb

        if self._env is None:
            self.partial.mkdir(parents=True, exist_ok=True)
            self._env = lmdb.open(str(self.partial), map_size=self._map_size, meminit=False, map_async=False)
            self._map_size = max(self._map_size, self._env.info()["map_size"])
        return self._env

    def _commit(self, items) -> None:
        import lmdb

        env = self._env_open()
        style, vimeo = self.meta["key_style"], self.meta["vimeo_names"]
        while True:
            try:
                with env.begin(write=True) as txn:
                    for clip, indices, _, payload in items:
                        for i, value in zip(indices, payload):
                            txn.put(_lmdb_key(frame_key(clip, i, style, vimeo), self.final), value)
                break
            except lmdb.MapFullError:
                self._map_size *= 2
                env.set_mapsize(self._map_size)
        env.sync(True)

    def _close(self, marker) -> None:
        if marker is not None:
            self._env_open()
            style, vimeo = self.meta["key_style"], self.meta["vimeo_names"]
            with open(self.partial / "meta_info.txt", "w", encoding="utf-8") as f:
                for clip, indices, shape in marker["clips"]:
                    sh = ",".join(str(int(v)) for v in shape)
                    for i in indices:
                        f.write(f"{frame_key(clip, i, style, vimeo)}.png ({sh}) 1\n")
        if self._env is not None:
            self._env.close()
            self._env = None
        if marker is not None:
            self._write_marker(marker)


# --------------------------------------------------------------------------------------------- reader

_LMDB_ENVS: dict = {}


def _lmdb_env(path: Path):
    """One read-only environment per (process, path): py-lmdb refuses to open a path twice."""
    import lmdb

    key = (os.getpid(), str(path))
    env = _LMDB_ENVS.get(key)
    if env is None:
        for k in [k for k in _LMDB_ENVS if k[1] == key[1]]:  # inherited through fork (DataLoader workers):
            _LMDB_ENVS.pop(k).close()  # py-lmdb refuses to reopen a path the parent held; drop the copy
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
        _LMDB_ENVS[key] = env
    return env


class _LmdbHandle:
    def __init__(self, path: Path):
        self.path = path
        _lmdb_env(path)

    def close(self):
        env = _LMDB_ENVS.pop((os.getpid(), str(self.path)), None)
        if env is not None:
            env.close()


def _decode(buf, where: str) -> np.ndarray:
    img = decode_image(np.frombuffer(buf, np.uint8), where) if buf else None
    if img is None:
        raise VsrbenchError(f"{where}: corrupt frame in the store; delete the store and run prepare again")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, 2::-1])


class LmdbStore(Store):
    layout = LMDB

    @classmethod
    def damage(cls, path: Path, meta: dict | None) -> str | None:
        """LMDB's meta pages (the first two pages, read with ``pread`` when the environment opens) record
        the last page in use: a ``data.mdb`` shorter than that is cut, and mapping it would end in SIGBUS
        on the first read past the end. The entry count must match the frames the marker lists. (The
        file size is not recorded in the marker: it depends on ``--commit-every``, and identical stores
        must have identical markers.)"""
        try:
            size = (path / "data.mdb").stat().st_size
        except OSError:
            return "data.mdb is missing"
        got = _meta_pages(path)
        if isinstance(got, str):
            return got
        info, stat = got
        need = (int(info["last_pgno"]) + 1) * int(stat["psize"])
        if size < need:
            return f"data.mdb is {size} bytes, its pages need {need}: truncated"
        frames = sum(len(idx) for _, idx, _ in (meta or {}).get("clips", []))
        if int(stat["entries"]) != frames:
            return f"it holds {stat['entries']} frames, its {MARKER} lists {frames}"
        return None

    def _open(self):
        return _LmdbHandle(self.path)

    def _read(self, clip, gt_index, pos):
        import lmdb

        key = frame_key(clip, gt_index, self.meta.get("key_style", "basicsr"), self.meta.get("vimeo_names", False))
        try:
            with _lmdb_env(self.path).begin(write=False) as txn:
                buf = txn.get(key.encode("utf-8"))
        except lmdb.Error as e:
            raise self._damaged(f"LMDB cannot read key {key!r} ({e})") from None
        if buf is None:
            raise VsrbenchError(f"{self.path}: key {key!r} missing; delete the store and run prepare again")
        return _decode(buf, f"{self.path} key {key}")


def _meta_pages(path: Path):
    """``(info, stat)`` of the environment at ``path`` (both read from LMDB's meta pages, with pread:
    safe on a cut file), or why LMDB cannot open it."""
    import lmdb

    env = _LMDB_ENVS.get((os.getpid(), str(path)))
    opened = env is None
    try:
        if opened:
            env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=1)
        return env.info(), env.stat()
    except lmdb.Error as e:
        return f"LMDB cannot open it ({e})"
    finally:
        if opened and env is not None:
            env.close()
