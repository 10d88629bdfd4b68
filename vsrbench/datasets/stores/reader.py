"""The read-only view every backend extends, and the one check of what a frame read from a store is."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vsrbench.datasets.stores.base import MARKER, Layout, check_clip_list, damaged
from vsrbench.errors import VsrbenchError

__all__ = ["Store", "array_problem"]


def array_problem(arr, shape) -> str | None:
    """None when ``arr`` is what a store promises (a uint8 array of ``shape``), else what it is instead
    (a frame of another dtype or size is never scored)."""
    dtype, got_shape = getattr(arr, "dtype", None), getattr(arr, "shape", None)
    if dtype == np.uint8 and got_shape is not None and tuple(got_shape) == tuple(shape):
        return None
    if dtype is None or got_shape is None:
        return type(arr).__name__
    return f"{dtype} {tuple(got_shape)}"


class Store:
    """Read-only view of a store: ``clips()``, ``num_frames(clip)``, ``read(clip, index)`` (uint8 RGB).

    ``index`` is the position in the store's clip (0 .. num_frames-1); ``gt_indices(clip)`` maps it to
    the GT frame index (they differ only for frame-selecting variants such as ``frames:odd``).
    Storage handles open lazily on the first read in each process (safe to pickle into workers).
    A backend sets :attr:`layout` and implements ``_read`` (and ``_open``; ``damage`` and
    ``load_marker`` say what its marker is and whether the store is sound, without a mapped read).
    """

    layout: Layout

    def __init__(self, path: Path, meta: dict):
        self.path = Path(path)
        self.meta = meta
        check_clip_list(self.path, meta, self.layout)
        self._clips = {c: (list(idx), tuple(shape)) for c, idx, shape in meta["clips"]}
        self._order = [c for c, _, _ in meta["clips"]]
        self._handle = None
        self._pid = None

    # the backend's facts -------------------------------------------------------
    @property
    def backend(self) -> str:
        return self.layout.name

    @classmethod
    def damage(cls, path: Path, meta: dict | None) -> str | None:
        """Why the store at ``path`` (its marker ``meta`` read) cannot be read safely, or None."""
        return None

    @staticmethod
    def load_marker(path: Path) -> str | None:
        """The raw marker of the store at ``path`` (None: it has none); OSError when it cannot be read."""
        marker = Path(path) / MARKER
        return marker.read_text(encoding="utf-8") if marker.is_file() else None

    # metadata
    @property
    def dataset(self) -> str:
        return self.meta.get("dataset", "")

    @property
    def variant(self) -> str:
        return self.meta.get("variant", "")

    @property
    def set(self) -> str:
        return self.meta.get("set", "")

    @property
    def scale(self) -> int:
        return int(self.meta.get("scale", 1))

    def clips(self) -> list[str]:
        return list(self._order)

    def _info(self, clip: str):
        try:
            return self._clips[clip]
        except KeyError:
            raise VsrbenchError(f"{self.path}: no clip {clip!r} in this store ({len(self._order)} clips)") from None

    def num_frames(self, clip: str) -> int:
        return len(self._info(clip)[0])

    def frame_shape(self, clip: str) -> tuple[int, int, int]:
        return self._info(clip)[1]

    def gt_indices(self, clip: str) -> list[int]:
        return list(self._info(clip)[0])

    def __len__(self) -> int:
        return sum(len(v[0]) for v in self._clips.values())

    def __contains__(self, clip: str) -> bool:
        return clip in self._clips

    def read(self, clip: str, index: int) -> np.ndarray:
        indices, shape = self._info(clip)
        if not 0 <= index < len(indices):
            raise VsrbenchError(f"{self.path}: clip {clip!r} has {len(indices)} frames, no frame {index}")
        if self._handle is None or self._pid != os.getpid():
            self._handle = self._open()
            self._pid = os.getpid()
        return self._checked(self._read(clip, indices[index], index), clip, index, shape)

    #: what a frame's dtype and shape are checked against, for messages
    _expected_from = "its marker says"

    def _checked(self, frame, clip: str, pos: int, shape) -> np.ndarray:
        """``frame`` when it is what the store promises (uint8 of the clip's shape), else the store is damaged."""
        got = array_problem(frame, shape)
        if got is None:
            return frame
        raise self._damaged(f"clip {clip!r} frame {pos} is {got}, {self._expected_from} uint8 {tuple(shape)}")

    def _damaged(self, why: str) -> VsrbenchError:
        return damaged(self.path, why, self.meta, self.layout)

    def read_clip(self, clip: str) -> list[np.ndarray]:
        return [self.read(clip, i) for i in range(self.num_frames(clip))]

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            try:
                self._handle.close()
            except Exception:
                pass
        self._handle = None

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_handle"] = None
        d["_pid"] = None
        return d

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path} {len(self._order)} clips, {len(self)} frames>"

    def _open(self):
        return None

    def _read(self, clip: str, gt_index: int, pos: int) -> np.ndarray:
        raise NotImplementedError
