"""Training data: a torch ``Dataset`` over the stores ``prepare`` writes (LMDB, HDF5, folders).

Determinism: sample ``k`` (a global counter, ``iteration * batch + slot``) is clip
``perm(seed, epoch)[k % N]`` of epoch ``k // N``; its window, crop, flip and rotation come from a
generator seeded by ``(seed, epoch, k % N)``. Nothing depends on the worker count, the order workers
run in, or what was read before, so a resumed run reads exactly the samples an uninterrupted one does.

Stores are opened lazily: ``__init__`` reads only the completion markers; the LMDB environment / HDF5
handle is opened on the first read in each process (DataLoader worker). ``__getitem__`` mutates no
dataset state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from vsrbench.colour import rgb_to_ycbcr
from vsrbench.datasets import find_store, get_entry, open_store, read_id_list, vsrbench_home
from vsrbench.datasets.stores import store_marker
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError

__all__ = ["TrainData", "resolve_data", "marker_hash", "TrainDataset", "SequentialSampler"]


@dataclass(frozen=True)
class TrainData:
    """Where the training frames come from: the GT store, the LR store (or a spec made on the fly), the clips."""

    dataset: str
    set: str
    gt: Path
    lr: Path | None
    lr_spec: str | None
    clips: tuple[str, ...]

    def describe(self) -> dict:
        d = {"dataset": self.dataset, "set": self.set, "clips": len(self.clips),
             "gt": {"path": str(self.gt), "marker_sha256": marker_hash(self.gt)}}
        if self.lr is not None:
            d["lr"] = {"path": str(self.lr), "marker_sha256": marker_hash(self.lr)}
        else:
            d["lr_on_the_fly"] = self.lr_spec
        return d


def marker_hash(path: str | Path) -> str:
    """SHA-256 of a store's completion marker (``vsrbench.json``, or the HDF5 root attribute)."""
    raw = store_marker(path) or ""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    return hashlib.sha256(data).hexdigest()


def resolve_data(dataset: str, set: str, variant: str, lr_spec: str | None, home=None,
                 backend: str | None = None) -> TrainData:
    """Find the prepared GT (and LR) stores of ``dataset``'s ``set``; errors say the prepare command."""
    entry = get_entry(dataset)
    home = Path(home) if home is not None else vsrbench_home()
    if set not in entry.sets:
        raise VsrbenchError(
            f"{entry.name} has no {set!r} set (its sets: {', '.join(entry.sets)}); train on a dataset with a "
            f"training split, e.g. `vsrbench prepare vimeo90k --source PATH/vimeo_septuplet` then "
            f"`vsrbench train --data vimeo90k --set train ...`")
    gt = find_store(entry.name, "GT", set, backend, home)
    lr = None
    if lr_spec is None:
        variant = parse_spec(variant).spec
        try:
            lr = find_store(entry.name, variant, set, backend, home)
        except VsrbenchError as e:
            raise VsrbenchError(
                f"{e} (the {set} set's LR variant {variant} is needed; or `vsrbench prepare "
                f"{entry.name} --variants {variant}` adds it from the GT store)") from None
    gstore = open_store(gt)  # reads the marker only; no LMDB environment is opened here
    clips = gstore.clips()
    if gstore.set != set:  # a folder tree holds every set: keep the clips of this set's list
        lst = home / entry.name / f"sep_{set}list.txt"
        if not lst.is_file():
            raise VsrbenchError(
                f"{gt} holds every set and {lst} (the {set} list) is missing; rerun `vsrbench prepare "
                f"{entry.name} --source ...` so the lists are copied beside the stores")
        keep = {c for c in read_id_list(lst)}
        clips = [c for c in clips if c in keep]
    if not clips:
        raise VsrbenchError(f"{gt}: no clips of the {set} set; run `vsrbench prepare {entry.name}` with the "
                            f"{set} list's clips in the source")
    return TrainData(entry.name, set, Path(gt), Path(lr) if lr else None, lr_spec, tuple(clips))


@lru_cache(maxsize=4)
def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch, n, 0x7E51]))).permutation(n)


def _sample_rng(seed: int, epoch: int, pos: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch, pos, 0x5A3F])))


class SequentialSampler(Sampler):
    """Global sample counters ``start, start + 1, ..., start + count - 1`` (no RNG: the data position)."""

    def __init__(self, start: int, count: int):
        self.start, self.count = int(start), int(count)

    def __iter__(self):
        return iter(range(self.start, self.start + self.count))

    def __len__(self):
        return self.count


class TrainDataset(Dataset):
    """``ds[k]`` -> ``(lr, gt)`` float32 tensors: ``T_in x C x h x w`` and ``T_out x C x sh x sw`` in [0, 1]."""

    def __init__(self, data: TrainData, recipe, patch_h: int, patch_w: int, seed: int):
        self.data = data
        self.recipe = recipe
        self.scale = int(recipe.scale)
        self.frames = int(recipe.frames)
        self.patch_h, self.patch_w = int(patch_h), int(patch_w)
        self.seed = int(seed)
        self.clips = list(data.clips)
        self.degradation = parse_spec(data.lr_spec) if data.lr is None else None
        self._gt = open_store(data.gt)  # marker only; read() opens the handle in the reading process
        self._lr = open_store(data.lr) if data.lr is not None else None
        self._check()

    def _check(self) -> None:
        s = self.scale
        if self._lr is not None and self._lr.scale != s:
            raise VsrbenchError(f"{self.data.lr}: an x{self._lr.scale} store, the recipe trains x{s}; pass "
                                f"--variant with x{s} (e.g. bi:x{s})")
        for c in self.clips:
            n = self._gt.num_frames(c)
            if n < self.frames:
                raise VsrbenchError(f"{self.data.gt}: clip {c} has {n} frames; the recipe needs {self.frames}")
            gh, gw = self._gt.frame_shape(c)[:2]
            h, w = gh // s, gw // s
            if self.patch_h > h or self.patch_w > w:
                raise VsrbenchError(
                    f"patch {self.patch_h}x{self.patch_w} (LR pixels) is larger than the frames of clip {c} "
                    f"({h}x{w} at x{s}, GT {gh}x{gw}) in {self.data.gt}; pass --patch {min(h, w)} or smaller")

    def __len__(self) -> int:
        return len(self.clips)

    def sample_plan(self, k: int) -> dict:
        """Which clip, window, crop and augmentation global sample ``k`` uses (pure)."""
        n = len(self.clips)
        epoch, pos = divmod(int(k), n)
        clip = self.clips[int(_permutation(self.seed, epoch, n)[pos])]
        rng = _sample_rng(self.seed, epoch, pos)
        nf = self._gt.num_frames(clip)
        t0 = int(rng.integers(0, nf - self.frames + 1))
        gh, gw = self._gt.frame_shape(clip)[:2]
        h, w = gh // self.scale, gw // self.scale
        y = int(rng.integers(0, h - self.patch_h + 1))
        x = int(rng.integers(0, w - self.patch_w + 1))
        hflip = bool(rng.integers(0, 2)) if self.recipe.flips else False
        rot = int(rng.integers(0, 4)) if self.recipe.rotations else 0
        if self.patch_h != self.patch_w:
            rot = rot & 2  # 90/270 degrees would turn an h x w patch into w x h: only 0 and 180 stay batchable
        return {"clip": clip, "t0": t0, "y": y, "x": x, "hflip": hflip, "rot": rot}

    def _lr_frame(self, clip: str, i: int) -> np.ndarray:
        if self._lr is not None:
            return self._lr.read(clip, i)
        gi = self._gt.gt_indices(clip)[i]
        return self.degradation.apply_frame(self._gt.read(clip, i), dataset=self.data.dataset, clip=clip, index=gi)

    def _to_tensor(self, frames: list[np.ndarray], plan: dict) -> torch.Tensor:
        arr = np.stack(frames)  # T x H x W x 3 uint8
        if self.recipe.colour == "y":
            arr = rgb_to_ycbcr(arr)[..., :1] / 255.0
        else:
            arr = arr.astype(np.float64) / 255.0
        if plan["hflip"]:
            arr = arr[:, :, ::-1]
        if plan["rot"]:
            arr = np.rot90(arr, plan["rot"], axes=(1, 2))
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2), dtype=np.float32))

    def __getitem__(self, k: int):
        plan = self.sample_plan(k)
        clip, t0, s = plan["clip"], plan["t0"], self.scale
        idx = list(range(t0, t0 + self.frames))
        y, x, ph, pw = plan["y"], plan["x"], self.patch_h, self.patch_w
        gt_idx = [idx[len(idx) // 2]] if self.recipe.target == "centre" else idx  # decode only what supervises
        gt = [self._gt.read(clip, i)[y * s:(y + ph) * s, x * s:(x + pw) * s] for i in gt_idx]
        # ZSM's cyclic losses need every LR frame (the loop feeds the odd ones to the network)
        odd_only = self.recipe.input_frames == "odd" and not getattr(self.recipe, "cyclic", False)
        in_idx = idx[::2] if odd_only else idx
        lr = [self._lr_frame(clip, i)[y:y + ph, x:x + pw] for i in in_idx]
        return self._to_tensor(lr, plan), self._to_tensor(gt, plan)
