"""The official code of the reference models, for the function-equality tests.

The tests compare vsrbench's reference models module against module with the code the released
checkpoints run on: BasicSR 1.4.2 (its sdist) and MMagic 1.2.0 (its wheel). Neither is installed:
the archives are fetched from PyPI with pip, verified against pinned sha256 sums, and single source
files are imported from them **without running any package ``__init__``** (those import compiled
extensions, mmcv, mmengine...). Every package directory of the archive becomes a bare package; the
names a file imports from elsewhere are given as ``stubs``.

Where the archives come from, in order: ``$VSRBENCH_OFFICIAL_CODE`` (a folder holding them), the
cache folder the caller passes (pytest's cache), else ``pip download`` into that cache. If the
download fails the test is skipped, or fails when ``CI`` is set.

    root = official_source("basicsr", cache_dir)
    arch = official_module(root, "basicsr/archs/basicvsr_arch.py", stubs={...})
    archs = basicsr_archs(cache_dir, "basicvsr", "edvr")  # BasicSR's archs/<name>_arch.py, stubs given

BasicSR's stubs (:func:`basicsr_stubs`) keep the real ``ops/dcn/deform_conv.py`` (its
``ModulatedDeformConvPack`` with BasicSR's parameters and initialisation; ``arch_util.DCNv2Pack``
runs DCNv2 through ``torchvision.ops.deform_conv2d`` with torchvision >= 0.9, the code path of
BasicSR 1.4.2 without compiled extensions) and replace only its logger and registries.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import types
import zipfile
from dataclasses import dataclass

import pytest

__all__ = ["PINNED", "official_archive", "official_source", "official_module", "stub_module", "Registry",
           "basicsr_stubs", "basicsr_archs"]


@dataclass(frozen=True)
class Pinned:
    package: str
    version: str
    filename: str
    sha256: str
    pip_args: tuple[str, ...]
    #: the archive's top folder holding the package (sdists have ``name-version/``)
    prefix: str


PINNED = {
    "basicsr": Pinned(
        "basicsr", "1.4.2", "basicsr-1.4.2.tar.gz",
        "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87",
        # the sdist only (BasicSR publishes no wheel); building metadata needs no isolation
        ("--no-binary", ":all:", "--no-build-isolation"), "basicsr-1.4.2/"),
    "mmagic": Pinned(
        "mmagic", "1.2.0", "mmagic-1.2.0-py2.py3-none-any.whl",
        "efa91041097c40e452dd2037b596a5633a6a512447c28a71c970c24aca04039c", (), ""),
}

_SOURCES: dict[str, pathlib.Path] = {}


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def _download(pin: Pinned, cache_dir: pathlib.Path) -> pathlib.Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *pin.pip_args,
               f"{pin.package}=={pin.version}", "-d", tmp, "-q"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            _unavailable(f"cannot download {pin.filename} from PyPI ({e}); put it in $VSRBENCH_OFFICIAL_CODE")
        got = pathlib.Path(tmp) / pin.filename
        if out.returncode != 0 or not got.is_file():
            last = (out.stderr.strip().splitlines() or ["no output"])[-1]
            _unavailable(f"cannot download {pin.filename} from PyPI ({last}); put it in $VSRBENCH_OFFICIAL_CODE")
        os.replace(got, cache_dir / pin.filename)  # atomic: never a half-written archive in the cache
    return cache_dir / pin.filename


def official_archive(package: str, cache_dir: pathlib.Path) -> pathlib.Path:
    """The verified archive of ``package`` (a key of :data:`PINNED`)."""
    pin = PINNED[package]
    env = os.environ.get("VSRBENCH_OFFICIAL_CODE")
    for folder in ([pathlib.Path(env)] if env else []) + [pathlib.Path(cache_dir)]:
        path = folder / pin.filename
        if path.is_file():
            break
    else:
        path = _download(pin, pathlib.Path(cache_dir))
    digest = _sha256(path)
    if digest != pin.sha256:
        pytest.fail(f"{path}: sha256 {digest} is not the pinned {pin.sha256} of {pin.package} {pin.version}; "
                    "delete the file to download it again")
    return path


def _members(path: pathlib.Path, prefix: str):
    """(name inside the package tree, bytes) of every .py file of the archive under ``prefix``."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.startswith(prefix) and name.endswith(".py"):
                    yield name[len(prefix):], z.read(name)
    else:
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.isfile() and m.name.startswith(prefix) and m.name.endswith(".py"):
                    yield m.name[len(prefix):], t.extractfile(m).read()


def official_source(package: str, cache_dir: pathlib.Path) -> pathlib.Path:
    """A folder holding the ``.py`` files of the pinned ``package`` (extracted once per process)."""
    if package not in _SOURCES:
        archive = official_archive(package, cache_dir)
        root = pathlib.Path(tempfile.mkdtemp(prefix=f"official-{package}-"))
        for rel, data in _members(archive, PINNED[package].prefix):
            parts = pathlib.PurePosixPath(rel).parts
            if not parts or any(p in ("", ".", "..") for p in parts) or rel.startswith("/"):
                continue  # nothing is written outside root
            dest = root.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        _SOURCES[package] = root
    return _SOURCES[package]


def stub_module(name: str, **attrs) -> types.ModuleType:
    """A module named ``name`` holding ``attrs`` (for ``stubs``)."""
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    return mod


@contextlib.contextmanager
def _isolated_modules(top_levels: set[str]):
    """sys.modules as it was afterwards for every name under ``top_levels`` (the loaded modules keep
    working: their globals hold what they imported)."""
    def ours(k):
        return k.split(".", 1)[0] in top_levels

    saved = {k: v for k, v in sys.modules.items() if ours(k)}
    try:
        yield
    finally:
        for k in [k for k in sys.modules if ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


def official_module(root: pathlib.Path, relpath: str, stubs: dict | None = None) -> types.ModuleType:
    """Import ``root/relpath`` (e.g. ``basicsr/archs/basicvsr_arch.py``) as its dotted name.

    Every folder of ``root`` holding an ``__init__.py`` is a bare package (its ``__init__`` is not
    run; its submodules load from its folder). ``stubs`` maps module names to modules (or dicts of
    attributes) that replace them, e.g. ``{"basicsr.utils.registry": {"ARCH_REGISTRY": ...}}``.
    sys.modules is left as it was.
    """
    import importlib

    root = pathlib.Path(root)
    name = relpath[:-3].replace("/", ".")
    stubs = dict(stubs or {})
    tops = {name.split(".", 1)[0]} | {s.split(".", 1)[0] for s in stubs}
    with _isolated_modules(tops):
        for init in sorted(root.rglob("__init__.py")):
            pkg = ".".join(init.parent.relative_to(root).parts)
            mod = types.ModuleType(pkg)
            mod.__path__ = [str(init.parent)]
            mod.__package__ = pkg
            sys.modules[pkg] = mod
        for stub_name in list(stubs):  # the parents of a stub exist (empty) unless given or in the tree
            parts = stub_name.split(".")
            for i in range(1, len(parts)):
                stubs.setdefault(".".join(parts[:i]), sys.modules.get(".".join(parts[:i])) or {})
        for stub_name in sorted(stubs):
            value = stubs[stub_name]
            sys.modules[stub_name] = value if isinstance(value, types.ModuleType) else stub_module(stub_name, **value)
        for mod_name in list(sys.modules):  # a stub is also its parent's attribute (``from a import b``)
            if "." in mod_name and mod_name in stubs:
                parent, _, child = mod_name.rpartition(".")
                if parent in sys.modules:
                    setattr(sys.modules[parent], child, sys.modules[mod_name])
        return importlib.import_module(name)


class Registry:
    """A registry whose decorators return what they decorate (BasicSR's ``ARCH_REGISTRY.register()``,
    mmengine's ``register_module()``)."""

    def register(self, *args, **kwargs):
        return lambda obj: obj

    def register_module(self, *args, **kwargs):
        return lambda obj: obj


def basicsr_stubs(root: pathlib.Path) -> dict:
    """The stubs BasicSR 1.4.2's ``archs/*_arch.py`` need (see the module docstring)."""
    import logging

    stubs = {
        # its __init__ only re-exports deform_conv's names
        "basicsr.ops.dcn": official_module(root, "basicsr/ops/dcn/deform_conv.py"),
        "basicsr.utils": {"get_root_logger": lambda *a, **k: logging.getLogger("basicsr")},
        "basicsr.utils.registry": {"ARCH_REGISTRY": Registry()},
    }
    try:
        import distutils.version  # noqa: F401  (arch_util.py imports LooseVersion; gone from Python 3.12)
    except ImportError:
        from packaging.version import Version

        stubs["distutils.version"] = {"LooseVersion": lambda v: Version(v.split("+")[0])}
    return stubs


def basicsr_archs(cache_dir: pathlib.Path, *names: str) -> dict[str, types.ModuleType]:
    """``{name: basicsr.archs.<name>_arch}`` of the pinned BasicSR, its package ``__init__`` not run."""
    root = official_source("basicsr", cache_dir)
    stubs = basicsr_stubs(root)
    return {name: official_module(root, f"basicsr/archs/{name}_arch.py", stubs) for name in names}
