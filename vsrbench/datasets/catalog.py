"""The dataset catalog: what each dataset is, where it comes from, and what a correct copy holds.

Every entry records the clips, frames per clip and frame size that ``prepare`` validates against,
the sources (mirrors tried in order; sources that need a browser say exactly what to download and
where to put it, then ``vsrbench prepare NAME --source PATH`` takes it from there), a licence note,
and the LR variants the literature evaluates on (``default_variants``).

Data root: ``$VSRBENCH_HOME`` (default ``~/.cache/vsrbench``). See :mod:`vsrbench.datasets.stores`
for the layout under it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from vsrbench.errors import VsrbenchError

__all__ = [
    "Source",
    "DatasetEntry",
    "CATALOG",
    "get_entry",
    "vsrbench_home",
    "variant_dirname",
]


def vsrbench_home() -> Path:
    """``$VSRBENCH_HOME`` or ``~/.cache/vsrbench``."""
    p = os.environ.get("VSRBENCH_HOME")
    return Path(p).expanduser() if p else Path.home() / ".cache" / "vsrbench"


def variant_dirname(variant: str) -> str:
    """File-system name of a variant: ``GT``, ``bi:x4`` -> ``BIx4``, ``bd:x4`` -> ``BDx4``,
    ``bd-duf:x4`` -> ``BDDUFx4``; other specs -> their canonical spec made path-safe
    (``gauss:sigma=1,size=3:x3`` -> ``gauss_sigma1_size3_x3``)."""
    if variant == "GT":
        return "GT"
    from vsrbench.degradations import parse_spec

    spec = parse_spec(variant).spec
    m = re.fullmatch(r"(bi|bd|bd-duf):x(\d+)", spec)
    if m:
        return m.group(1).replace("-", "").upper() + "x" + m.group(2)
    name = spec.replace("+", "__").replace(":", "_").replace(",", "_").replace("=", "").replace(".", "p")
    return re.sub(r"[^A-Za-z0-9_\-]", "", name)


@dataclass(frozen=True)
class Source:
    """One place a dataset can be obtained from."""

    url: str
    filename: str = ""
    size: int | None = None  # bytes, when known
    sha256: str | None = None  # when known
    browser: bool = False  # needs a browser (Google Drive, competition page): not downloaded
    note: str = ""  # for browser sources: exactly what to download and where to put it


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    title: str
    clips: tuple[str, ...] | int  # clip names when fixed, else their number
    frames: dict[str, int] | int | tuple[int, ...]  # per clip, or for every clip, or allowed counts
    frame_size: dict[str, tuple[int, int]] | tuple[int, int] | None  # (H, W); None: any, constant per clip
    sources: tuple[Source, ...]
    licence: str
    default_variants: tuple[str, ...]
    sets: tuple[str, ...] = ("all",)
    description: str = ""
    allowed_clip_counts: tuple[int, ...] = ()  # alternative valid clip counts (SPMCS 30 or 31)
    gt_dirs: tuple[str, ...] = ("GT", "HR", "truth", "gt", "hr")  # where the GT clips may sit in a source
    #: how the source holds the frames: "clips" (a folder per clip), "septuplets" (Vimeo-90K's
    #: sequences/<5-digit>/<4-digit>/im1..7.png with sep_*list.txt; LMDB keys end in im<N>), or
    #: "rendered" (no source: the frames are made by vsrbench.datasets.demo)
    layout: str = "clips"
    extra: dict = field(default_factory=dict)

    @property
    def num_clips(self) -> int:
        return len(self.clips) if isinstance(self.clips, tuple) else int(self.clips)

    def expected_frames(self, clip: str) -> tuple[int, ...] | None:
        """Allowed frame counts of ``clip`` (None: not recorded)."""
        f = self.frames
        if isinstance(f, dict):
            return (f[clip],) if clip in f else None
        if isinstance(f, tuple):
            return f
        return (int(f),)

    def expected_size(self, clip: str) -> tuple[int, int] | None:
        s = self.frame_size
        if isinstance(s, dict):
            return s.get(clip)
        return s

    def frames_summary(self) -> str:
        f = self.frames
        if isinstance(f, dict):
            return "/".join(str(v) for v in f.values())
        if isinstance(f, tuple):
            return " or ".join(str(v) for v in f)
        return str(f)

    def size_summary(self) -> str:
        s = self.frame_size
        if s is None:
            return "varies (constant within a clip)"
        if isinstance(s, dict):
            return ", ".join(f"{w}x{h}" for h, w in dict.fromkeys(s.values()))
        return f"{s[1]}x{s[0]}"


_GDRIVE_NOTE = (
    "download it in a browser from the page above, then run `vsrbench prepare {name} --source "
    "PATH` with PATH the downloaded archive (zip/tar) or the folder it extracts to"
)

#: RBPN-PyTorch (Haris et al., CVPR 2019) on GitHub: the commit whose tree holds Vid4/<clip>/NNN.png
#: and SPMCS/<clip>/truth/NNNN.png (+ input2..4), and the commit with the original motion-split lists
RBPN_REPO = "https://github.com/alterzero/RBPN-PyTorch"
RBPN_DATA_COMMIT = "2dec9d9bd418808f943b207e816a536c965e7ef2"
RBPN_SPLITS_COMMIT = "5a138522836df6281889ac74671c7fab3485361d"
_RBPN_ARCHIVE = Source(
    f"{RBPN_REPO}/archive/{RBPN_DATA_COMMIT}.zip",
    filename=f"RBPN-PyTorch-{RBPN_DATA_COMMIT[:7]}.zip",
    note=(f"GitHub's zip of RBPN-PyTorch at commit {RBPN_DATA_COMMIT[:7]} (direct download, no browser): "
          "RBPN-PyTorch-<commit>/Vid4/<clip>/NNN.png (GT) and SPMCS/<clip>/truth/NNNN.png (GT; input2..4 "
          "are RBPN's LR frames and are not used); prepare finds either inside. GitHub builds the zip on "
          "request, so its bytes (and sha256) are not pinned; the frames are validated instead"),
)


def split_sources() -> dict[str, Source]:
    """The original (RBPN) Vimeo-90K motion-split lists: split -> raw GitHub URL at
    :data:`RBPN_SPLITS_COMMIT`, pinned by the sha256 :mod:`vsrbench.datasets.splits` holds."""
    from vsrbench.datasets.splits import MOTION_SPLITS, PINNED_SHA256

    raw = f"https://raw.githubusercontent.com/alterzero/RBPN-PyTorch/{RBPN_SPLITS_COMMIT}/vimeo90k"
    return {s: Source(f"{raw}/{s}_testset.txt", filename=f"{s}_testset.txt", sha256=PINNED_SHA256[("original", s)],
                      note=f"RBPN's original {s} split of sep_testlist.txt")
            for s in MOTION_SPLITS}


CATALOG: dict[str, DatasetEntry] = {
    "vimeo90k": DatasetEntry(
        name="vimeo90k",
        title="Vimeo-90K septuplets (Xue et al., TOFlow, IJCV 2019)",
        clips=91701,
        frames=7,
        frame_size=(256, 448),
        sources=(
            Source(
                "http://data.csail.mit.edu/tofu/dataset/vimeo_septuplet.zip",
                filename="vimeo_septuplet.zip",
                size=82_000_000_000,  # ~82 GB, as the project page states (exact byte count not pinned)
            ),
        ),
        licence="Research use; frames from Vimeo videos (see http://toflow.csail.mit.edu/). Not for redistribution.",
        default_variants=("bi:x4", "bd:x4"),
        sets=("train", "test"),
        description=(
            "vimeo_septuplet/sequences/<5-digit>/<4-digit>/im1..im7.png; train 64,612 / test 7,824 clips "
            "from sep_trainlist.txt / sep_testlist.txt at the archive root (clips in neither list are skipped)"
        ),
        extra={"train_count": 64612, "test_count": 7824},
        layout="septuplets",
    ),
    "vid4": DatasetEntry(
        name="vid4",
        title="Vid4 (Liu & Sun, TPAMI 2014)",
        clips=("calendar", "city", "foliage", "walk"),
        frames={"calendar": 41, "city": 34, "foliage": 49, "walk": 47},
        frame_size={"calendar": (576, 720), "city": (576, 704), "foliage": (480, 720), "walk": (480, 720)},
        sources=(
            Source(
                "https://drive.google.com/drive/folders/1ZuvNNLgR85TV_whJoHM7uVb-XW1y70DW",
                browser=True,
                note="BasicSR's dataset folder (see BasicSR docs/DatasetPreparation.md, 'Vid4'): download "
                "Vid4.zip (GT/ and BIx4/ inside); " + _GDRIVE_NOTE.format(name="vid4"),
            ),
            _RBPN_ARCHIVE,
        ),
        licence="Research use (Liu & Sun 2014); redistributed by the BasicSR authors.",
        default_variants=("bi:x4", "bd:x4"),
        description="4 clips, 171 frames; frame files 'Frame 001.png' / 'Frame 01.png' (natural-sorted)",
    ),
    "spmcs": DatasetEntry(
        name="spmcs",
        title="SPMCS (Tao et al., SPMC, ICCV 2017)",
        clips=31,
        frames=(31, 35),
        frame_size=None,
        sources=(
            Source(
                "https://github.com/jiangsutx/SPMC_VideoSR",
                browser=True,
                note="the SPMCS test set linked from the SPMC_VideoSR README (Google Drive / Baidu); "
                "unpack it so each clip has its GT frames (in a 'truth' or 'GT' sub-folder); "
                + _GDRIVE_NOTE.format(name="spmcs"),
            ),
            _RBPN_ARCHIVE,
        ),
        licence="Research use (Tao et al. 2017).",
        default_variants=("bi:x4", "bd:x4", "gauss:sigma=1,size=3:x3", "gauss:sigma=1,size=3:x4"),
        description="the 30-clip and the 31-clip test sets; 31 frames per clip except one clip of 35",
        allowed_clip_counts=(30, 31),
        extra={"max_35": 1},
    ),
    "udm10": DatasetEntry(
        name="udm10",
        title="UDM10 (Yi et al., PFNL, ICCV 2019)",
        clips=10,
        frames=32,
        frame_size=None,
        sources=(
            Source(
                "https://github.com/psychopa4/PFNL",
                browser=True,
                note="the UDM10 test set linked from the PFNL README (Google Drive), also in BasicSR's "
                "dataset folder as UDM10.zip; " + _GDRIVE_NOTE.format(name="udm10"),
            ),
        ),
        licence="Research use (Yi et al. 2019).",
        default_variants=("bd:x4", "bi:x4"),
        description="10 clips x 32 frames",
    ),
    "vid3oc": DatasetEntry(
        name="vid3oc",
        title="Vid3oC, AIM 2020 Video Extreme SR validation (Kim et al. / Fuoli et al.)",
        clips=16,
        frames=120,
        frame_size=None,
        sources=(
            Source(
                "https://competitions.codalab.org/competitions/24337",
                browser=True,
                note="AIM 2020 Video Extreme Super-Resolution challenge page (needs a CodaLab login): "
                "download the validation HR archive (16 clips x 120 frames); "
                + _GDRIVE_NOTE.format(name="vid3oc"),
            ),
        ),
        licence="Research use; AIM 2020 challenge terms.",
        default_variants=("bi:x16",),
        description="AIM 2020 validation, 16 clips x 120 frames",
    ),
    "intvid": DatasetEntry(
        name="intvid",
        title="IntVID clips 050-059 (AIM 2020 Video Extreme SR)",
        clips=tuple(f"{i:03d}" for i in range(50, 60)),
        frames=14,
        frame_size=None,
        sources=(
            Source(
                "https://competitions.codalab.org/competitions/24337",
                browser=True,
                note="AIM 2020 Video Extreme SR challenge page: download the IntVID HR clips 050..059; "
                + _GDRIVE_NOTE.format(name="intvid"),
            ),
        ),
        licence="Research use; AIM 2020 challenge terms.",
        default_variants=("bi:x16",),
        description="clips 050-059, 14 frames each",
    ),
    "demo": DatasetEntry(
        name="demo",
        title="Embedded demo clips (synthetic camera motion over scikit-image photographs)",
        clips=0,  # filled from vsrbench.datasets.demo at use
        frames=0,
        frame_size=None,
        sources=(),
        licence="scikit-image sample images (public domain / CC0 / permissive, see skimage.data).",
        default_variants=("bi:x4",),
        description="no download; rendered locally",
        layout="rendered",
    ),
}


def get_entry(name: str) -> DatasetEntry:
    key = name.lower().replace("-", "").replace("_", "")
    aliases = {"vimeo": "vimeo90k", "vimeo90kt": "vimeo90k", "udm": "udm10"}
    key = aliases.get(key, key)
    if key not in CATALOG:
        raise VsrbenchError(f"unknown dataset {name!r}; known: {', '.join(CATALOG)} (see `vsrbench datasets`)")
    entry = CATALOG[key]
    if key == "demo":
        from vsrbench.datasets.demo import DEMO_CLIPS, DEMO_SIZE

        entry = DatasetEntry(
            **{
                **entry.__dict__,
                "clips": tuple(DEMO_CLIPS),
                "frames": {k: v.frames for k, v in DEMO_CLIPS.items()},
                "frame_size": tuple(DEMO_SIZE),
            }
        )
    return entry
