"""The crash-safe writer every backend extends: a store is built under ``<name>.partial`` with a journal
of the clips already committed; a rerun continues after the last committed clip (writes are
idempotent); only when every clip is in, the marker is written and the store renamed into place."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from vsrbench.datasets.stores.base import FORMAT, JOURNAL, MARKER, Layout, write_json_atomic
from vsrbench.datasets.stores.write_errors import WriteGuard
from vsrbench.errors import VsrbenchError

__all__ = ["Writer"]


class Writer:
    """Base: journal of committed clips under a ``.partial`` name; finalize renames into place.

    A backend sets :attr:`layout` and implements ``_commit`` (and ``_create`` / ``_close``);
    ``translate_error`` turns what its library raises into a clear error (see ``write_errors``)."""

    layout: Layout

    def __init__(self, final: Path, meta: dict, commit_every: int = 1000, map_size: int | None = None):
        self.final = Path(final)
        self.partial = self.final.with_name(self.final.name + ".partial")
        self.meta = dict(meta)
        self.commit_every = max(1, int(commit_every))
        self.pending: list[tuple[str, list[int], tuple, list]] = []  # (clip, gt indices, shape, payload)
        self.pending_frames = 0
        self.done: dict[str, dict] = {}
        self._config = json.dumps({k: v for k, v in sorted(self.meta.items())}, sort_keys=True)
        try:
            with self._guard():
                self._open_partial()
        except VsrbenchError:
            self.abort()
            raise

    @property
    def backend(self) -> str:
        return self.layout.name

    def _guard(self) -> WriteGuard:
        return WriteGuard(self.final, self.translate_error)

    @staticmethod
    def translate_error(exc: BaseException, path: Path, free: str) -> VsrbenchError | None:
        return None

    # journal -----------------------------------------------------------------
    @property
    def journal(self) -> Path:
        return self.partial / JOURNAL

    def _read_journal(self) -> dict | None:
        try:
            lines = self.journal.read_text().splitlines()
        except FileNotFoundError:
            return None
        if not lines or lines[0] != self._config:
            return None
        done = {}
        for line in lines[1:]:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                break  # a torn last line: that clip is redone
            done[rec["clip"]] = rec
        return done

    def _open_partial(self) -> None:
        done = self._read_journal() if self.partial.exists() else None
        if done is None:
            self._wipe()
            self._create()
            self._new_journal()
            done = {}
        self.done = done

    def _new_journal(self) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "w") as f:
            f.write(self._config + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _wipe(self) -> None:
        if self.partial.is_dir():
            shutil.rmtree(self.partial)
        elif self.partial.exists():
            self.partial.unlink()

    def _append_journal(self, recs: list[dict]) -> None:
        with open(self.journal, "a") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")
            f.flush()
            os.fsync(f.fileno())
        for r in recs:
            self.done[r["clip"]] = r

    # API ---------------------------------------------------------------------
    def add_clip(self, clip: str, indices: list[int], shape: tuple, payload: list) -> None:
        """Queue one clip: ``payload[k]`` is frame ``indices[k]`` (PNG bytes, or an array for HDF5)."""
        self.pending.append((clip, list(indices), tuple(shape), payload))
        self.pending_frames += len(indices)

    def add_encoded(self, clip: str, ev) -> None:
        """Queue one clip encoded by the per-clip worker (``indices``, ``shape``, ``payload(kind)``), and
        commit when :attr:`commit_every` frames are pending."""
        self.add_clip(clip, ev.indices, ev.shape, ev.payload(self.layout.payload))
        if self.should_flush():
            self.flush()

    def should_flush(self) -> bool:
        return self.pending_frames >= self.commit_every

    def flush(self) -> None:
        if not self.pending:
            return
        with self._guard():
            self._commit(self.pending)
            self._append_journal([{"clip": c, "indices": i, "shape": list(s)} for c, i, s, _ in self.pending])
        self.pending, self.pending_frames = [], 0

    def finalize(self, clip_order: list[str]) -> Path:
        """Write the marker and rename into place; every clip of ``clip_order`` must be committed."""
        self.flush()
        missing = [c for c in clip_order if c not in self.done]
        if missing:
            raise RuntimeError(f"{self.partial}: clips not written: {missing[:5]}")
        clips = [[c, self.done[c]["indices"], self.done[c]["shape"]] for c in clip_order]
        marker = {"format": FORMAT, **self.meta, "clips": clips}
        with self._guard():
            self._close(marker)
            if self.final.is_dir():
                shutil.rmtree(self.final)
            elif self.final.exists():
                self.final.unlink()
            os.replace(self.partial, self.final)
        return self.final

    def abort(self) -> None:
        """Remove the partial store (bad input: nothing is kept)."""
        try:
            self._close(None)
        except Exception:
            pass
        self._wipe()

    # backend hooks -----------------------------------------------------------
    def _create(self) -> None:
        """Make the empty partial store (a folder, for the folder-shaped backends)."""
        self.partial.mkdir(parents=True, exist_ok=True)

    def _commit(self, items) -> None:
        raise NotImplementedError

    def _close(self, marker: dict | None) -> None:
        pass

    def _write_marker(self, marker: dict) -> None:
        """The marker file of a folder-shaped store, written last (the journal goes first)."""
        self.journal.unlink(missing_ok=True)
        write_json_atomic(self.partial / MARKER, marker)
