"""Folders of clips on disk: natural-sorted listing, checked reads, atomic writes.

A *clip folder* layout is ``ROOT/<clip>/<frame image>``; frame names are arbitrary and ordered by
natural sort (``Frame 9.png`` before ``Frame 10.png``). Frames are returned as uint8 RGB
``H x W x 3`` arrays. Every error names the file and what to do about it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vsrbench.errors import VsrbenchError

__all__ = [
    "IMAGE_EXTENSIONS",
    "natural_key",
    "list_clips",
    "list_frames",
    "read_frame",
    "read_frame_bgr",
    "write_frame",
    "encode_png",
    "atomic_output_dir",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: ``Frame 9`` < ``Frame 10`` < ``frame 11``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(name))]


def list_clips(root: str | os.PathLike) -> list[str]:
    """Natural-sorted names of the clip folders in ``root`` (hidden folders ignored)."""
    root = Path(root)
    if not root.is_dir():
        raise VsrbenchError(f"{root}: not a folder; expected one sub-folder of frames per clip")
    clips = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if not clips:
        # A single clip given directly (frames in root) is a common slip: say so.
        if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in root.iterdir()):
            raise VsrbenchError(
                f"{root}: holds frames but no clip folders; put the frames in a sub-folder "
                f"(e.g. {root}/clip1/) or pass the parent folder"
            )
        raise VsrbenchError(f"{root}: empty folder; expected one sub-folder of frames per clip")
    return sorted(clips, key=natural_key)


def list_frames(clip_dir: str | os.PathLike) -> list[Path]:
    """Natural-sorted image files of one clip folder."""
    clip_dir = Path(clip_dir)
    frames = [
        p
        for p in clip_dir.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    if not frames:
        raise VsrbenchError(f"{clip_dir}: no image frames (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return sorted(frames, key=lambda p: natural_key(p.name))


def read_frame_bgr(path: str | os.PathLike) -> np.ndarray:
    """Read an image as uint8 BGR ``H x W x 3`` as OpenCV decodes it (grey expanded, alpha dropped,
    16-bit refused), with errors naming the file."""
    path = Path(path)
    data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise VsrbenchError(f"{path}: no such file")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise VsrbenchError(
            f"{path}: unreadable or corrupt image ({data.size} bytes); re-extract or re-download it"
        )
    if img.dtype != np.uint8:
        raise VsrbenchError(f"{path}: {img.dtype} image; vsrbench scores 8-bit frames, convert it to 8-bit")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)


def read_frame(path: str | os.PathLike) -> np.ndarray:
    """Read an image as uint8 RGB ``H x W x 3`` (grey is expanded, alpha dropped, 16-bit refused)."""
    return np.ascontiguousarray(read_frame_bgr(path)[:, :, ::-1])


def encode_png(rgb: np.ndarray, compression: int = 1) -> bytes:
    """PNG bytes of an RGB (or grey) uint8 frame, at the given zlib compression level."""
    bgr = rgb[:, :, ::-1] if rgb.ndim == 3 else rgb
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise VsrbenchError(f"could not encode a frame of shape {rgb.shape} as PNG")
    return buf.tobytes()


def write_frame(path: str | os.PathLike, rgb: np.ndarray, compression: int = 1) -> None:
    """Write an RGB uint8 frame as PNG (the file appears complete or not at all)."""
    path = Path(path)
    data = encode_png(rgb, compression)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_output_dir(output: str | os.PathLike, overwrite: bool = False):
    """Yield a temporary folder beside ``output``; move it to ``output`` only on success.

    On any exception (including KeyboardInterrupt) the temporary folder is removed, so no partial
    output is ever left where a reader would take it for a complete one.
    """
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        if not overwrite:
            raise VsrbenchError(f"{output}: already exists and is not empty; pass --overwrite to replace it")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        os.replace(output, old)
        os.replace(tmp, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, output)
