"""Folder trees of PNG frames: ``<dataset>/<VARIANT>/<clip>/<00000000>.png`` with the marker beside the
clip folders (one tree holds every set); and plain folders of clip folders without a marker (model
outputs), read in natural order."""

from __future__ import annotations

from pathlib import Path

from vsrbench.datasets.frames import list_clips, list_frames, read_frame
from vsrbench.datasets.stores.base import Layout
from vsrbench.datasets.stores.reader import Store
from vsrbench.datasets.stores.writer import Writer
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import atomic_write_bytes, safe_child

__all__ = ["FOLDERS", "FolderWriter", "FolderStore", "PlainFolderStore"]

FOLDERS = Layout("folders", suffix="", per_set=False,
                 help="PNG folder trees only: NAME/GT/<clip>/<00000000>.png and NAME/<VARIANT>/...")


class FolderWriter(Writer):
    layout = FOLDERS

    def _commit(self, items) -> None:
        for clip, indices, _, payload in items:
            d = safe_child(self.partial, clip, what="clip")
            d.mkdir(parents=True, exist_ok=True)
            for i, value in zip(indices, payload):
                atomic_write_bytes(d / f"{i:08d}.png", value)

    def _close(self, marker) -> None:
        if marker is not None:
            self._write_marker(marker)


class FolderStore(Store):
    layout = FOLDERS

    def _read(self, clip, gt_index, pos):
        return read_frame(self.path.joinpath(*clip.split("/"), f"{gt_index:08d}.png"))


class PlainFolderStore(Store):
    """A folder of clip folders without a marker (e.g. model outputs): natural-sorted frames."""

    layout = FOLDERS

    def __init__(self, path: Path):
        path = Path(path)
        self._files = {c: list_frames(path / c) for c in list_clips(path)}
        clips = []
        for c, files in self._files.items():
            clips.append([c, list(range(len(files))), list(read_frame(files[0]).shape)])
        super().__init__(path, {"format": "plain-folder", "clips": clips})

    _expected_from = "the clip's first frame is"

    def _read(self, clip, gt_index, pos):
        return read_frame(self._files[clip][pos])

    def _damaged(self, why: str) -> VsrbenchError:
        return VsrbenchError(f"{self.path}: {why}; every frame of a clip must be the same size")
