"""Folders of clips on disk: natural-sorted listing, checked reads, atomic writes.

A *clip folder* layout is ``ROOT/<clip>/<frame image>``; frame names are arbitrary and ordered by
natural sort (``Frame 9.png`` before ``Frame 10.png``). A clip may also be a video file
``ROOT/<clip>.mp4`` (``.mkv``, ``.avi``, ``.y4m``; decoded frame-exact by
:mod:`vsrbench.datasets.video`): :func:`list_clip_sources` lists both. Frames are returned as uint8
RGB ``H x W x 3`` arrays. Every error names the file and what to do about it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vsrbench.datasets.framerules import (DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, check_frame_pixels, max_pixels,  # noqa: F401
                                          natural_key, parse_pixels)
from vsrbench.datasets.video import (VIDEO_EXTENSIONS, count_video_frames, declared_video_frames, is_video, iter_video,
                                     list_videos)
from vsrbench.errors import VsrbenchError
from vsrbench.outputs import atomic_write_bytes

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
    "list_clip_sources",
    "clip_frame_labels",
    "expected_clip_frames",
    "iter_clip_frames",
    "DEFAULT_MAX_PIXELS",
    "max_pixels",
    "check_frame_pixels",
    "check_frame_header",
    "image_header_size",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

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
    """Natural-sorted image files of one clip folder. An entry named like a frame that is not a
    regular file once links are followed (a fifo, a device such as ``/dev/zero``, a folder named
    ``0001.png``, a broken link) is an error naming it, never silently left out (a missing frame)."""
    clip_dir = Path(clip_dir)
    frames = [p for p in clip_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    for p in frames:
        _check_regular_frame(p)
    if not frames:
        raise VsrbenchError(f"{clip_dir}: no image frames (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return sorted(frames, key=lambda p: natural_key(p.name))


def _check_regular_frame(p: Path) -> None:
    """``p`` (a frame of a clip folder) is a regular file, links followed; else one line naming it."""
    import stat

    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise VsrbenchError(f"{p}: a broken link where a frame should be; restore the frame or remove the link") from None
    except OSError as e:
        raise VsrbenchError(f"{p}: cannot read this frame ({e.strerror or e}); fix its permissions or restore it") from None
    if stat.S_ISREG(mode):
        return
    kind = ("a folder" if stat.S_ISDIR(mode) else "a fifo" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    via = f" (a link to {os.path.realpath(p)})" if p.is_symlink() else ""
    raise VsrbenchError(f"{p}: {kind}{via}, not an image file; a frame must be a regular file: restore the frame")


def image_header_size(data) -> tuple[int, int] | None:
    """``(width, height)`` an image file declares in its header (PNG, JPEG, BMP, PNM, WebP, TIFF),
    read without decoding; None when the header is not one of these or cannot be read."""
    b = bytes(memoryview(data)[:65536]) if not isinstance(data, bytes) else data[:65536]
    try:
        if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR":
            return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
        if b[:2] == b"\xff\xd8":
            return _jpeg_size(data)
        if b[:2] == b"BM" and len(b) >= 26:
            if int.from_bytes(b[14:18], "little") == 12:  # BITMAPCOREHEADER: 16-bit sizes
                return int.from_bytes(b[18:20], "little"), int.from_bytes(b[20:22], "little")
            return (abs(int.from_bytes(b[18:22], "little", signed=True)),
                    abs(int.from_bytes(b[22:26], "little", signed=True)))
        if b[:1] == b"P" and b[1:2] in b"123456" and len(b) > 2:
            return _pnm_size(b)
        if b[:4] == b"RIFF" and b[8:12] == b"WEBP":
            return _webp_size(b)
        if b[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(data)
    except (IndexError, ValueError):
        return None
    return None


def _jpeg_size(data) -> tuple[int, int] | None:
    b = memoryview(data)
    i, n = 2, len(b)
    while i + 4 <= n:
        if b[i] != 0xFF:
            return None
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            i += 2
            continue
        length = int.from_bytes(b[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                return None
            return int.from_bytes(b[i + 7:i + 9], "big"), int.from_bytes(b[i + 5:i + 7], "big")
        if marker == 0xDA or length < 2:
            return None
        i += 2 + length
    return None


def _pnm_size(b: bytes) -> tuple[int, int] | None:
    tokens, i = [], 2
    while len(tokens) < 2 and i < len(b):
        c = b[i:i + 1]
        if c == b"#":
            j = b.find(b"\n", i)
            i = len(b) if j < 0 else j + 1
        elif c.isspace():
            i += 1
        else:
            j = i
            while j < len(b) and b[j:j + 1].isdigit():
                j += 1
            if j == i:
                return None
            tokens.append(int(b[i:j]))
            i = j
    return (tokens[0], tokens[1]) if len(tokens) == 2 else None


def _webp_size(b: bytes) -> tuple[int, int] | None:
    kind = b[12:16]
    if kind == b"VP8X":
        return 1 + int.from_bytes(b[24:27], "little"), 1 + int.from_bytes(b[27:30], "little")
    if kind == b"VP8L" and len(b) >= 25:
        bits = int.from_bytes(b[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 " and len(b) >= 30:
        return int.from_bytes(b[26:28], "little") & 0x3FFF, int.from_bytes(b[28:30], "little") & 0x3FFF
    return None


def _tiff_size(data) -> tuple[int, int] | None:
    b = memoryview(data)
    order = "little" if bytes(b[:2]) == b"II" else "big"
    ifd = int.from_bytes(b[4:8], order)
    count = int.from_bytes(b[ifd:ifd + 2], order)
    found = {}
    for k in range(min(count, 4096)):
        e = ifd + 2 + 12 * k
        tag, typ = int.from_bytes(b[e:e + 2], order), int.from_bytes(b[e + 2:e + 4], order)
        if tag in (256, 257):
            found[tag] = int.from_bytes(b[e + 8:e + 10], order) if typ == 3 else int.from_bytes(b[e + 8:e + 12], order)
    return (found[256], found[257]) if len(found) == 2 else None


def check_frame_header(path: str | os.PathLike) -> None:
    """Check the size an image file declares (its first 64 KB) against :func:`max_pixels`, without
    decoding it: lets a command refuse a whole input before it writes anything."""
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError:
        return  # the read that follows names the problem
    size = image_header_size(head)
    if size is not None:
        check_frame_pixels(size[0], size[1], path)


def decode_image(data: np.ndarray, where) -> np.ndarray | None:
    """``cv2.imdecode`` of an encoded image (uint8 array), its declared size checked against
    :func:`max_pixels` first (no decompression bomb is decoded); None when OpenCV cannot decode it."""
    size = image_header_size(data)
    if size is not None:
        check_frame_pixels(size[0], size[1], where)
    try:
        return cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as e:  # OpenCV's own limits (a header we could not read)
        raise VsrbenchError(f"{where}: OpenCV refuses to decode this image ({str(e).strip().splitlines()[-1][:160]}); "
                            "check the file") from None


def read_frame_bgr(path: str | os.PathLike) -> np.ndarray:
    """Read an image as uint8 BGR ``H x W x 3`` as OpenCV decodes it (grey expanded, alpha dropped,
    16-bit refused), with errors naming the file."""
    path = Path(path)
    if not path.is_file() and (path.exists() or path.is_symlink()):
        _check_regular_frame(path)  # a folder, device, fifo or broken link: say which
    data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise VsrbenchError(f"{path}: no such file")
    img = decode_image(data, path)
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
    atomic_write_bytes(path, encode_png(rgb, compression))


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


# ---------------------------------------------------------------------------------------------
# clips that are frame folders or video files


def list_clip_sources(root: str | os.PathLike, single_ok: bool = False) -> dict[str, Path]:
    """``{clip: frame folder or video file}`` of ``root``, natural-sorted.

    ``root`` is a folder of clip folders and/or video files (one clip per file, named by its stem),
    or one video file (one clip, named by its stem). With ``single_ok``, a folder holding frames
    directly is one clip too (named by the folder)."""
    root = Path(root)
    if root.is_file():
        if is_video(root):
            return {root.stem: root}
        raise VsrbenchError(
            f"{root}: not a folder of clips nor a video file ({', '.join(VIDEO_EXTENSIONS)}); pass a folder "
            "with one sub-folder of frames (or one video file) per clip"
        )
    if not root.is_dir():
        raise VsrbenchError(f"{root}: no such file or folder")
    dirs = {p.name: p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    videos = list_videos(root)
    both = sorted(set(dirs) & set(videos))
    if both:
        raise VsrbenchError(
            f"{root}: clip {both[0]!r} is both a folder and the video {videos[both[0]].name}; keep one of them"
        )
    if not dirs and not videos:
        if single_ok and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in root.iterdir()):
            return {root.name: root}
        list_clips(root)  # raises its clear error (frames without a clip folder, or an empty folder)
    return {k: v for k, v in sorted({**dirs, **videos}.items(), key=lambda kv: natural_key(kv[0]))}


def clip_frame_labels(src: str | os.PathLike) -> list[str]:
    """Names of a clip's frames in order: the frame files of a folder, ``<video>#<index>`` of a video
    (a video is decoded and checked to count them)."""
    src = Path(src)
    if src.is_dir():
        return [p.name for p in list_frames(src)]
    return [f"{src.name}#{i}" for i in range(count_video_frames(src))]


def expected_clip_frames(src: str | os.PathLike) -> int:
    """A clip's frame count for a progress bar, known before decoding: the frame files of a folder,
    the count a video's container declares (0 when it declares none)."""
    src = Path(src)
    return len(list_frames(src)) if src.is_dir() else declared_video_frames(src)


def iter_clip_frames(src: str | os.PathLike):
    """The RGB frames of a clip folder or video file, in order, one at a time."""
    src = Path(src)
    if src.is_dir():
        return (read_frame(p) for p in list_frames(src))
    return iter_video(src)
