"""HDF5 stores: one file, one ``T x H x W x 3`` uint8 dataset per clip (chunked per frame); the marker is
the root attribute ``vsrbench``, and the journal sits beside the ``.partial`` file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vsrbench.datasets.stores.base import Layout
from vsrbench.datasets.stores.reader import Store, array_problem
from vsrbench.datasets.stores.writer import Writer

__all__ = ["HDF5", "Hdf5Writer", "Hdf5Store", "load_marker"]

HDF5 = Layout("hdf5", suffix=".h5", per_set=True, is_file=True, payload="array",
              help="pack into HDF5: NAME/hdf5/<set>/<VARIANT>.h5, one T x H x W x 3 uint8 dataset per clip")

#: the root attribute that holds the marker
ATTR = "vsrbench"


def load_marker(path: Path) -> str | None:
    """The raw marker of the HDF5 file ``path`` (None: no marker); OSError when it is not readable HDF5."""
    import h5py

    with h5py.File(path, "r") as f:
        return f.attrs.get(ATTR)


class Hdf5Writer(Writer):
    layout = HDF5

    def __init__(self, final, meta, commit_every=1000, map_size=None):
        self._f = None
        super().__init__(final, meta, commit_every)

    @property
    def journal(self) -> Path:
        return self.final.with_name(self.final.name + ".journal")

    def _wipe(self) -> None:
        super()._wipe()
        self.journal.unlink(missing_ok=True)

    def _create(self) -> None:
        pass  # the file is made on the first commit

    def _open_partial(self) -> None:
        super()._open_partial()
        if self.done:  # verify what the journal claims survived the crash; else start over
            try:
                f = self._file()
                ok = all(c in f and f[c].shape[0] == len(r["indices"]) for c, r in self.done.items())
            except Exception:
                ok = False
            if not ok:
                self._close(None)
                self._wipe()
                self._new_journal()
                self.done = {}

    def _file(self):
        import h5py

        if self._f is None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._f = h5py.File(self.partial, "a")
        return self._f

    def _commit(self, items) -> None:
        f = self._file()
        for clip, indices, shape, payload in items:
            if clip in f:
                del f[clip]
            ds = f.create_dataset(clip, shape=(len(indices), *shape), dtype=np.uint8, chunks=(1, *shape))
            for k, arr in enumerate(payload):
                ds[k] = arr
        f.flush()

    def _close(self, marker) -> None:
        if marker is not None:
            f = self._file()
            f.attrs[ATTR] = json.dumps(marker)
        if self._f is not None:
            self._f.close()
            self._f = None
        if marker is not None:
            self.journal.unlink(missing_ok=True)


class Hdf5Store(Store):
    layout = HDF5
    load_marker = staticmethod(load_marker)

    @classmethod
    def damage(cls, path: Path, meta: dict | None = None) -> str | None:
        """The file opens as HDF5 and its marker (if any) is JSON."""
        try:
            raw = load_marker(path)
            if raw is not None:
                json.loads(raw)
        except OSError as e:
            return f"not a readable HDF5 file ({str(e).splitlines()[0]})"
        except ValueError as e:
            return f"its vsrbench marker is unreadable ({e})"
        return None

    def _open(self):
        import h5py

        return h5py.File(self.path, "r")

    def _read(self, clip, gt_index, pos):
        want = (self.num_frames(clip), *self.frame_shape(clip))
        try:
            ds = self._handle[clip]
            got = array_problem(ds, want)  # before reading: no float/int16/string frames, no short clip
            if got is not None:
                got = got if hasattr(ds, "dtype") else f"a {got}, not a dataset"
                raise self._damaged(f"clip {clip!r} is {got}, its marker says uint8 {want}")
            return np.asarray(ds[pos])
        except (OSError, KeyError, ValueError, TypeError, IndexError) as e:
            raise self._damaged(f"clip {clip!r} frame {pos} cannot be read ({(str(e).splitlines() or [''])[0]})") from None
