"""The per-clip worker of ``prepare`` and ``add_variant`` (runs in a joblib process): read and
validate every frame of one clip, encode the GT frame (PNG, level 1) and every LR variant
(``parse_spec(v).apply_frame(rgb, dataset=, clip=, index=)``). Only one clip is in memory at a time;
the bytes do not depend on which process made them."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vsrbench.datasets.discover import ClipSource
from vsrbench.datasets.frames import read_frame_bgr
from vsrbench.degradations import parse_spec
from vsrbench.errors import VsrbenchError

__all__ = ["EncodedVariant", "ClipTask", "DeriveTask", "frames_arg", "process_clip", "derive_clip"]


@dataclass
class EncodedVariant:
    """One variant (GT or an LR spec) of one clip: the frame indices kept, the frame shape
    (H, W, C), and the frames as PNG bytes and / or RGB arrays (whichever the stores want)."""

    indices: list[int] = field(default_factory=list)
    shape: tuple | None = None
    pngs: list[bytes] = field(default_factory=list)
    arrays: list[np.ndarray] = field(default_factory=list)

    def payload(self, kind: str) -> list:
        """What a writer takes (its layout's ``payload``): ``array`` (RGB arrays, HDF5) or ``png`` (bytes)."""
        return {"array": self.arrays, "png": self.pngs}[kind]


@dataclass
class ClipTask:
    """One clip of a source to prepare. ``frames``: frame paths, None (rendered demo clip) or a
    video dict (see :func:`frames_arg`); ``expect_hw``: the catalog's frame size, if it has one."""

    dataset: str
    clip: str
    frames: list[str] | dict | None
    specs: list[str]
    expect_hw: tuple[int, int] | None
    want_png: bool
    want_arrays: bool
    lr_frames: dict | None = None  # variant -> the source's official LR frame paths (used, not recomputed)


@dataclass
class DeriveTask:
    """One clip of LR variants made from a prepared GT store (see ``add_variant``)."""

    gt_store: object
    dataset: str
    clip: str
    specs: list[str]
    want_png: bool
    want_arrays: bool


def frames_arg(c: ClipSource):
    """What :func:`process_clip` gets for a clip: frame paths, None (rendered) or a video dict."""
    if c.video is None:
        return c.frames
    return {"video": c.video, "n_frames": c.n_frames, "sha256": c.sha256}


def _encode_bgr(bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise VsrbenchError(f"could not encode a frame of shape {bgr.shape} as PNG")
    return buf.tobytes()


def process_clip(task: ClipTask) -> tuple[str, dict[str, EncodedVariant]]:
    """Read, validate and degrade one clip. Returns ``(clip, {variant: EncodedVariant})``.

    PNG values equal ``frames.encode_png(rgb, 1)`` and LR frames equal
    ``parse_spec(v).apply_frame(rgb, dataset=, clip=, index=)``; internally frames stay BGR where the
    op allows it.
    """
    dataset, clip, frames = task.dataset, task.clip, task.frames
    if frames is None:
        from vsrbench.datasets.demo import render_demo_clip

        rendered = render_demo_clip(clip)

        def demo_frames():
            for i in range(len(rendered)):
                bgr = np.ascontiguousarray(rendered[i][:, :, ::-1])
                rendered[i] = None  # one frame at a time in memory
                yield f"{dataset}:{clip}#{i}", bgr

        n, source = len(rendered), demo_frames()
    elif isinstance(frames, dict):  # a video file: decoded one frame at a time, pinned sha256 checked at the end
        from vsrbench.datasets.video import iter_video

        n = frames["n_frames"]
        source = (
            (f"{frames['video']} frame {i}", np.ascontiguousarray(rgb[:, :, ::-1]))
            for i, rgb in enumerate(iter_video(frames["video"], frames["sha256"]))
        )
    else:
        n, source = len(frames), ((p, read_frame_bgr(p)) for p in frames)
    return clip, _degrade_and_encode(dataset, clip, n, source, task.specs, task.expect_hw, task.want_png,
                                     task.want_arrays, True, task.lr_frames)


def derive_clip(task: DeriveTask) -> tuple[str, dict[str, EncodedVariant]]:
    """One clip of LR variants made from a prepared GT store (see ``add_variant``)."""
    gt_store, clip = task.gt_store, task.clip
    n = gt_store.num_frames(clip)
    frames = (
        (f"{gt_store.path} clip {clip} frame {i}", np.ascontiguousarray(gt_store.read(clip, i)[:, :, ::-1]))
        for i in range(n)
    )
    return clip, _degrade_and_encode(task.dataset, clip, n, frames, task.specs, None, task.want_png, task.want_arrays,
                                     False)


def _official_lr(path: str, hw: tuple, scale: int, where: str) -> np.ndarray:
    """An official LR frame the source ships, checked to be the GT frame's size / scale."""
    bgr = read_frame_bgr(path)
    want = (hw[0] // scale, hw[1] // scale)
    if tuple(bgr.shape[:2]) != want or hw[0] % scale or hw[1] % scale:
        raise VsrbenchError(f"{where}: official LR frame {path} is {bgr.shape[1]}x{bgr.shape[0]}, expected "
                            f"{want[1]}x{want[0]} (width x height; GT / {scale}); the LR archive does not match")
    return bgr


def _degrade_and_encode(dataset, clip, n, frames, specs, expect_hw, want_png, want_arrays,
                        with_gt: bool, lr_frames: dict | None = None) -> dict[str, EncodedVariant]:
    """``frames`` yields ``(where, bgr)`` for frames 0..n-1 -> ``{variant: EncodedVariant}``; a variant
    in ``lr_frames`` takes the source's official LR frames instead of degrading GT."""
    lr_frames = lr_frames or {}
    degs = dict((s, parse_spec(s)) for s in specs)
    keep = {s: set(d.select_frames(n)) for s, d in degs.items()}
    variants = ["GT", *specs] if with_gt else list(specs)
    out = {v: EncodedVariant() for v in variants}
    first_shape = None
    for i, (p, bgr) in enumerate(frames):
        hw = tuple(bgr.shape[:2])
        want = expect_hw or first_shape
        if want is not None and hw != tuple(want):
            raise VsrbenchError(
                f"{dataset} clip {clip}, frame {i} ({p}): found {hw[1]}x{hw[0]}, expected {want[1]}x{want[0]} "
                "(width x height); the source is damaged or not this dataset"
            )
        first_shape = first_shape or hw
        for d in degs.values():
            d.check_frame_size(hw[0], hw[1], f"{dataset} clip {clip}, frame {i} ({p})")
        rgb = None
        for v in variants:
            if v == "GT":
                img_bgr = bgr
            elif i not in keep[v]:
                continue
            elif v in lr_frames:
                img_bgr = _official_lr(lr_frames[v][i], hw, degs[v].scale, f"{dataset} clip {clip}, frame {i}")
            else:
                d = degs[v]
                if d.channel_symmetric:  # BGR in, BGR out: saves two channel flips per frame
                    img_bgr = d.apply_frame(bgr, dataset=dataset, clip=clip, index=i)
                else:
                    if rgb is None:
                        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
                    img_bgr = np.ascontiguousarray(d.apply_frame(rgb, dataset=dataset, clip=clip, index=i)[:, :, ::-1])
            ev = out[v]
            ev.indices.append(i)
            if want_png:
                ev.pngs.append(_encode_bgr(img_bgr))
            if want_arrays:
                ev.arrays.append(np.ascontiguousarray(img_bgr[:, :, ::-1]))
            ev.shape = ev.shape or tuple(img_bgr.shape)
    return out
