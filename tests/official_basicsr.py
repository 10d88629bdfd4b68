"""The official code the reference models are checked against, obtained by the tests themselves.

``official_source("basicsr")`` returns the extracted source tree of BasicSR 1.4.2 (the code its
released checkpoints run on), from its PyPI sdist:

1. ``$VSRBENCH_OFFICIAL_CODE`` (a folder) or, unset, ``<tmp>/vsrbench-official-code`` is the cache;
   a ``basicsr-1.4.2.tar.gz`` already there is used;
2. otherwise ``python -m pip download --no-deps --no-binary :all: --no-build-isolation basicsr==1.4.2``
   puts it there;
3. the file's sha256 is checked against the pinned one (a different file is an error, never used);
4. it is extracted (tarfile's ``data`` filter: no links out, no absolute paths) to a temporary folder
   that is renamed into place, so an interrupted run leaves nothing half-extracted.

When the download fails the test is skipped, unless ``CI`` is set: then it fails.

``basicsr_stubs(src)`` imports ``basicsr.archs.<name>_arch`` modules **without running the package
``__init__``** (which imports compiled extensions and most of BasicSR): ``basicsr``,
``basicsr.archs`` and ``basicsr.ops`` become bare packages pointing at the source folders, and
``basicsr.utils`` / ``basicsr.utils.registry`` / ``basicsr.ops.dcn`` small stand-ins. The stand-in
``ModulatedDeformConvPack`` has BasicSR's attributes and parameters (``weight``, ``bias``,
``conv_offset``, zero-initialised) and ``modulated_deform_conv`` is DCNv2 with a mask through
``torchvision.ops.deform_conv2d``, the call BasicSR's own ``DCNv2Pack`` makes with torchvision >= 0.9.
Everything put in ``sys.modules`` is removed again on exit.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import math
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import types

import pytest

#: name -> (version, sha256 of the sdist on PyPI)
PINNED = {
    "basicsr": ("1.4.2", "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87"),
}
ENV = "VSRBENCH_OFFICIAL_CODE"


def cache_dir() -> pathlib.Path:
    p = os.environ.get(ENV)
    return pathlib.Path(p).expanduser() if p else pathlib.Path(tempfile.gettempdir()) / "vsrbench-official-code"


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"official code unavailable in CI: {why}")
    pytest.skip(f"official code unavailable (no network to PyPI?): {why}")


def _download(name: str, version: str, dest: pathlib.Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
           f"{name}=={version}", "-d", str(dest)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        _unavailable(f"{' '.join(cmd)}: {e}")
    if out.returncode != 0:
        _unavailable(f"{' '.join(cmd)} failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")


def official_source(name: str = "basicsr") -> pathlib.Path:
    """The extracted sdist of the pinned ``name`` (the folder holding its package), fetched if needed."""
    version, sha = PINNED[name]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    tree = root / f"{name}-{version}"
    if (tree / ".verified").is_file():
        return tree
    sdist = root / f"{name}-{version}.tar.gz"
    if not sdist.is_file():
        _download(name, version, root)
    if not sdist.is_file():
        _unavailable(f"pip did not produce {sdist}")
    got = _sha256(sdist)
    if got != sha:
        pytest.fail(f"{sdist} has sha256 {got}, expected {sha} (the {name} {version} sdist on PyPI); delete it")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp, filter="data")
    (tmp / f"{name}-{version}" / ".verified").write_text(sha + "\n")
    try:
        os.replace(tmp / f"{name}-{version}", tree)
    except OSError:  # another process got there first
        pass
    return tree


# ------------------------------------------------------------------------------------- BasicSR stubs
def _package(name: str, path: pathlib.Path | None) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__path__ = [str(path)] if path is not None else []
    return mod


def _registry_module() -> types.ModuleType:
    class Registry:
        def __init__(self, name):
            self.name, self.items = name, {}

        def register(self, obj=None):
            def add(o):
                self.items[o.__name__] = o
                return o

            return add if obj is None else add(obj)

    mod = types.ModuleType("basicsr.utils.registry")
    for reg in ("ARCH_REGISTRY", "DATASET_REGISTRY", "MODEL_REGISTRY", "LOSS_REGISTRY", "METRIC_REGISTRY"):
        setattr(mod, reg, Registry(reg))
    return mod


def _dcn_module() -> types.ModuleType:
    import torch
    from torch import nn
    from torchvision.ops import deform_conv2d

    def modulated_deform_conv(x, offset, mask, weight, bias, stride=1, padding=0, dilation=1, groups=1,
                              deformable_groups=1):
        # DCNv2 with a mask; torchvision infers the deformable groups from the offset's channels
        return deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask)

    class ModulatedDeformConvPack(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                     deformable_groups=1, bias=True):
            super().__init__()
            k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
            self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
            self.stride, self.padding, self.dilation = stride, padding, dilation
            self.groups, self.deformable_groups = groups, deformable_groups
            self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *k))
            self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
            bound = 1.0 / math.sqrt(in_channels * k[0] * k[1])
            nn.init.uniform_(self.weight, -bound, bound)
            self.conv_offset = nn.Conv2d(in_channels, deformable_groups * 3 * k[0] * k[1], k, stride, padding,
                                         dilation, bias=True)
            nn.init.zeros_(self.conv_offset.weight)
            nn.init.zeros_(self.conv_offset.bias)

        def forward(self, x):
            o1, o2, mask = torch.chunk(self.conv_offset(x), 3, dim=1)
            return modulated_deform_conv(x, torch.cat((o1, o2), 1), torch.sigmoid(mask), self.weight, self.bias,
                                         self.stride, self.padding, self.dilation, self.groups, self.deformable_groups)

    mod = types.ModuleType("basicsr.ops.dcn")
    mod.ModulatedDeformConvPack = ModulatedDeformConvPack
    mod.modulated_deform_conv = modulated_deform_conv
    return mod


def _utils_module() -> types.ModuleType:
    import logging

    mod = _package("basicsr.utils", None)
    mod.get_root_logger = lambda *a, **k: logging.getLogger("basicsr")
    return mod


@contextlib.contextmanager
def basicsr_stubs(src: pathlib.Path):
    """``basicsr.archs.*`` importable from ``src`` (an extracted sdist) without BasicSR's ``__init__``."""
    pkg = pathlib.Path(src) / "basicsr"
    stubs = {
        "basicsr": _package("basicsr", pkg),
        "basicsr.archs": _package("basicsr.archs", pkg / "archs"),
        "basicsr.ops": _package("basicsr.ops", pkg / "ops"),
        "basicsr.ops.dcn": _dcn_module(),
        "basicsr.utils": _utils_module(),
        "basicsr.utils.registry": _registry_module(),
    }
    stubs["basicsr.utils"].registry = stubs["basicsr.utils.registry"]
    saved = {k: v for k, v in sys.modules.items() if k == "basicsr" or k.startswith("basicsr.")}
    for k in saved:
        del sys.modules[k]
    sys.modules.update(stubs)
    try:
        yield lambda arch: importlib.import_module(f"basicsr.archs.{arch}_arch")
    finally:
        for k in [k for k in sys.modules if k == "basicsr" or k.startswith("basicsr.")]:
            del sys.modules[k]
        sys.modules.update(saved)
