"""The official checkpoints of the reference models: ``--weights NAME`` (model -> name -> file).

Data in one place: each entry pins the released file's name, where it is published, its hash and
its layout, and what it was trained on. The hash is the sha256 prefix the released file name carries
(torch.hub's convention: the hex digits after the last ``-`` of the stem), or a full sha256 where the
publisher gives one. Pure data: :func:`vsrbench.benchmark.weights_fetch.fetch_weights` downloads a
file once into ``$VSRBENCH_HOME/weights`` (resumable, verified, renamed into place only when its hash
matches; a wrong file is removed) and reuses the cached copy afterwards without any request.

Where the files are: BasicSR's official and reproduced video models are published on the Google
Drive folders its ``docs/ModelZoo.md`` links, with the file ids of BasicSR's
``scripts/download_pretrained_models.py``; the URLs below are Drive's direct-download form of those
ids. BasicVSR++ is published by MMagic (MMEditing) on download.openmmlab.com (its
``configs/basicvsr_pp/README.md``). TOFlow's converted file and ZSM's official file are only in Drive
folders without a file id in the official code: they are listed with ``url=None`` (the message says
where to download them by hand and to pass ``--checkpoint FILE``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vsrbench.errors import VsrbenchError

__all__ = ["Weights", "WEIGHTS", "hash_prefix", "weights_of", "get_weights", "official_label"]

_BASICSR_ZOO = "https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md"
_MMAGIC_ZOO = "https://github.com/open-mmlab/mmagic/blob/main/configs/basicvsr_pp/README.md"
_OPENMMLAB = "https://download.openmmlab.com/mmediting/restorers/basicvsr_plusplus/"


def _drive(file_id: str) -> str:
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


@dataclass(frozen=True)
class Weights:
    """One released checkpoint of a registered model."""

    model: str
    name: str  # what --weights takes
    filename: str  # the released file name (its hash suffix is the sha256 prefix)
    url: str | None  # direct download; None: only by hand from ``page``
    page: str  # where the publisher lists it
    layout: str  # "basicsr" ({'params': ...}) or "mmagic" ({'state_dict': {'generator.<name>': ...}})
    trained_on: str  # training data and degradation it matches
    sha256: str | None = None  # full sha256 where published; else the file name's prefix is checked

    @property
    def expected_hash(self) -> str:
        return (self.sha256 or hash_prefix(self.filename)).lower()

    @property
    def label(self) -> str:
        return f"official:{self.model}/{self.name}"


def hash_prefix(filename: str) -> str:
    """torch.hub's convention: ``NAME-<hex>.pth`` -> ``<hex>`` (8 or more hex digits), the start of the
    file's sha256. Raises ValueError when the name carries none."""
    m = re.search(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$", filename)
    if not m:
        raise ValueError(f"{filename}: no sha256 prefix after the last '-'")
    return m.group(1)


def _w(model, name, filename, url, page, layout, trained_on, sha256=None) -> Weights:
    return Weights(model, name, filename, url, page, layout, trained_on, sha256)


_REDS = "REDS training set (train_sharp + val_sharp less REDS4), BIx4 (MATLAB bicubic)"
_VIMEO_BI = "Vimeo-90K training septuplets, BIx4 (MATLAB bicubic)"
_VIMEO_BD = "Vimeo-90K training septuplets, BDx4 (Gaussian sigma 1.6, MATLAB BD_degradation.m)"

_ALL = [
    _w("basicvsr", "reds4", "BasicVSR_REDS4-543c8261.pth", _drive("1wLWdz18lWf9Z7lomHPkdySZ-_GV2920p"), _BASICSR_ZOO,
       "basicsr", _REDS),
    _w("basicvsr", "vimeo90k-bi", "BasicVSR_Vimeo90K_BIx4-2a29695a.pth", _drive("1ykIu1jv5wo95Kca2TjlieJFxeV4VVfHP"),
       _BASICSR_ZOO, "basicsr", _VIMEO_BI),
    _w("basicvsr", "vimeo90k-bd", "BasicVSR_Vimeo90K_BDx4-e9bf46eb.pth", _drive("1baaf4RSpzs_zcDAF_s2CyArrGvLgmXxW"),
       _BASICSR_ZOO, "basicsr", _VIMEO_BD),
    _w("iconvsr", "reds4", "IconVSR_REDS-aaa5367f.pth", _drive("1b8ir754uIAFUSJ8YW_cmPzqer19AR7Hz"), _BASICSR_ZOO,
       "basicsr", _REDS),
    _w("iconvsr", "vimeo90k-bi", "IconVSR_Vimeo90K_BIx4-35fec07c.pth", _drive("1lWUB36ERjFbAspr-8UsopJ6xwOuWjh2g"),
       _BASICSR_ZOO, "basicsr", _VIMEO_BI),
    _w("iconvsr", "vimeo90k-bd", "IconVSR_Vimeo90K_BDx4-cfcb7e00.pth", _drive("13lp55s-YTd-fApx8tTy24bbHsNIGXdAH"),
       _BASICSR_ZOO, "basicsr", _VIMEO_BD),
    _w("basicvsrpp", "reds4", "basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth",
       _OPENMMLAB + "basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth", _MMAGIC_ZOO, "mmagic", _REDS),
    _w("basicvsrpp", "vimeo90k-bi", "basicvsr_plusplus_c64n7_8x1_300k_vimeo90k_bi_20210305-4ef437e2.pth",
       _OPENMMLAB + "basicvsr_plusplus_c64n7_8x1_300k_vimeo90k_bi_20210305-4ef437e2.pth", _MMAGIC_ZOO, "mmagic",
       _VIMEO_BI),
    _w("basicvsrpp", "vimeo90k-bd", "basicvsr_plusplus_c64n7_8x1_300k_vimeo90k_bd_20210305-ab315ab1.pth",
       _OPENMMLAB + "basicvsr_plusplus_c64n7_8x1_300k_vimeo90k_bd_20210305-ab315ab1.pth", _MMAGIC_ZOO, "mmagic",
       _VIMEO_BD),
    _w("edvr-m", "reds", "EDVR_M_x4_SR_REDS_official-32075921.pth", _drive("1dd6aFj-5w2v08VJTq5mS9OFsD-wALYD6"),
       _BASICSR_ZOO, "basicsr", "REDS training set, BIx4 (NTIRE 2019 SR track)"),
    _w("edvr-l", "reds", "EDVR_L_x4_SR_REDS_official-9f5f5039.pth", _drive("127KXEjlCwfoPC1aXyDkluNwr9elwyHNb"),
       _BASICSR_ZOO, "basicsr", "REDS training set, BIx4 (NTIRE 2019 SR track)"),
    # 7-frame EDVR-L: TSA's fusion width is part of the weights, so it is its own registered model
    _w("edvr-l-vimeo90k", "vimeo90k", "EDVR_L_x4_SR_Vimeo90K_official-162b54e4.pth",
       _drive("1aVR3lkX6ItCphNLcT7F5bbbC484h4Qqy"), _BASICSR_ZOO, "basicsr", _VIMEO_BI),
    _w("tof", "vimeo90k", "tof_x4_vimeo90k_official-32c9e01f.pth", None,
       "https://drive.google.com/open?id=18kJcxPLeNK8e0kYEiwmsnu9wVmhdMFFG (BasicSR ModelZoo, TOF)", "basicsr",
       "Vimeo-90K training septuplets, BIx4 (converted from the official TOFlow release)"),
    _w("duf-16l", "official", "DUF_x4_16L_official-bf8f0cfa.pth", _drive("1V_h9U1CZgLSHTv1ky2M3lvuH-hK5hw_J"),
       _BASICSR_ZOO, "basicsr", "DUF's 351 training videos, BDx4 DUF convention (Gaussian sigma 1.6; converted)"),
    _w("duf-28l", "official", "DUF_x4_28L_official-cbada450.pth", _drive("1M8w0AMBJW65MYYD-_8_be0cSH_SHhDQ4"),
       _BASICSR_ZOO, "basicsr", "DUF's 351 training videos, BDx4 DUF convention (Gaussian sigma 1.6; converted)"),
    _w("duf-52l", "official", "DUF_x4_52L_official-483d2c78.pth", _drive("1GcmEWNr7mjTygi-QCOVgQWOo5OCNbh_T"),
       _BASICSR_ZOO, "basicsr", "DUF's 351 training videos, BDx4 DUF convention (Gaussian sigma 1.6; converted)"),
]

#: model -> weights name -> :class:`Weights`
WEIGHTS: dict[str, dict[str, Weights]] = {}
for _x in _ALL:
    WEIGHTS.setdefault(_x.model, {})[_x.name] = _x


def weights_of(model: str) -> dict[str, Weights]:
    """The official checkpoints of ``model`` (name -> entry); {} when it has none."""
    return dict(WEIGHTS.get(model, {}))


def get_weights(model: str, name: str) -> Weights:
    have = WEIGHTS.get(model, {})
    if name not in have:
        if not have:
            known = ", ".join(sorted(WEIGHTS))
            raise VsrbenchError(f"--weights {name}: model {model!r} has no official checkpoints in vsrbench's catalog "
                                f"(models with some: {known}); pass your own file with --checkpoint FILE")
        raise VsrbenchError(f"--weights {name}: {model} has {', '.join(have)} (see `vsrbench models`)")
    return have[name]


def official_label(model: str, sha256: str | None) -> str | None:
    """``official:<model>/<name>`` when a checkpoint with this sha256 is one of ``model``'s released
    files, else None (what the boards show beside the hash)."""
    if not sha256:
        return None
    for w in WEIGHTS.get(model, {}).values():
        if sha256.lower().startswith(w.expected_hash):
            return w.label
    return None
