"""The training loop: ``train(...)`` writes ``RUN/{latest.pth, model.pth, run.json, metrics.csv}``.

* ``latest.pth``: model, optimizer, scheduler, RNG states and the data position, written atomically
  (temp file + ``os.replace``) every ``checkpoint_every`` iterations and at the end. ``resume=True``
  continues from it (a run killed before its first checkpoint, with ``run.json`` only, starts again
  from its seed: the same as a fresh run); on CPU the resumed run ends with exactly the weights of an uninterrupted one
  (the data order is a pure function of (seed, sample counter), the DataLoader has its own generator,
  and the global torch RNG, which dropout draws from, is restored).
* ``model.pth``: the bare ``state_dict`` (what ``load_checkpoint`` / ``evaluate --checkpoint`` loads
  strictly into ``create_model(model)``).
* ``run.json``: the recipe, the data (store paths and their markers' SHA-256), the iterations done,
  the vsrbench version, and ``model_sha256`` (of ``model.pth``: ``evaluate --checkpoint RUN/model.pth``
  records the run's provenance only when it matches, see ``models.read_run_provenance``). ``metrics.csv``: iteration, loss, lr, seconds.

Under ``torchrun --nproc-per-node N -m vsrbench train`` the model is wrapped in
DistributedDataParallel and each rank reads its share of the global batch (:mod:`.ddp`); rank 0
alone writes files, validates and logs. TensorBoard scalars (``RUN/tensorboard``: train/loss,
train/lr, val/psnr, val/ssim) are written when the ``tensorboard`` package is installed.

A non-finite loss stops the run with a :class:`VsrbenchError` naming the iteration; nothing is written
after the last good checkpoint.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from vsrbench import __version__
from vsrbench.errors import VsrbenchError
from vsrbench.models import create_model
from vsrbench.numeric import check_seed, check_workers, positive_int
from vsrbench.outputs import atomic_write_bytes
from vsrbench.training import ddp
from vsrbench.training.data import TrainDataset, resolve_data
from vsrbench.training.recipes import Recipe, get_recipe

__all__ = ["train", "TrainResult", "charbonnier_loss", "l2_loss", "LOSSES", "make_scheduler", "resolve_device"]

_FORMAT = "vsrbench-train/1"
#: recipe fields that may change between a run and its --resume (they do not change the weights; notes)
_RESUME_FREE = ("checkpoint_every", "log_every", "val_suite", "val_crop", "source", "chosen")
_RECIPE = "recipe"


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of ``sqrt((pred - target)^2 + eps^2)`` (the Charbonnier / L1-Charbonnier penalty)."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def l2_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    return F.mse_loss(pred, target)


LOSSES = {"charbonnier": charbonnier_loss, "l2": l2_loss}


def make_scheduler(recipe: Recipe, optimizer: torch.optim.Optimizer):
    """The recipe's scheduler (``None`` for a constant lr); stepped once per iteration (plateau: per window)."""
    s = recipe.scheduler
    if s == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, recipe.iters), eta_min=recipe.eta_min)
    if s == "step":
        milestone = max(1, int(round(recipe.step_at * recipe.iters)))
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[milestone], gamma=recipe.gamma)
    if s == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=recipe.gamma,
                                                          patience=recipe.plateau_patience)
    if s == "none":
        return None
    raise VsrbenchError(f"unknown scheduler {s!r} in recipe {recipe.name}; use cosine, step, plateau or none")


def resolve_device(device: str | None) -> torch.device:
    """``'auto'`` / None: CUDA when available, else CPU; otherwise what torch.device accepts."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise VsrbenchError(f"--device {device!r}: {e}; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VsrbenchError(f"--device {device}: CUDA is not available here; use --device cpu")
    return dev


def xavier_init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@dataclass
class TrainResult:
    out: Path
    iterations: int
    loss: float
    seconds: float
    rank: int = 0  # this process's rank under torchrun (0: the one that wrote the files)


# ----------------------------------------------------------------------------------------------- files


def _atomic_torch_save(obj, path: Path) -> str:
    """Write ``obj`` with ``torch.save`` atomically; returns the SHA-256 of the bytes written."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue(), fsync=True)
    return hashlib.sha256(buf.getvalue()).hexdigest()


def _write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode(), fsync=True)


_CSV_FIELDS = ("iteration", "loss", "lr", "seconds", "val_psnr", "val_ssim")


def _write_metrics(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=_CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode(), fsync=True)


def _read_metrics(path: Path, upto: int) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["iteration"]) <= upto]


def _comparable(recipe: dict) -> dict:
    return {k: v for k, v in recipe.items() if k not in _RESUME_FREE}


def _check_resume(run: dict, recipe: Recipe, data: dict, seed: int, model: str, out: Path) -> None:
    problems = []
    if run.get("model") != model:
        problems.append(f"model {run.get('model')!r} -> {model!r}")
    old, new = _comparable(run.get("recipe", {})), _comparable(json.loads(json.dumps(recipe.as_dict())))
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            problems.append(f"recipe {k}: {old.get(k)!r} -> {new.get(k)!r}")
    if run.get("seed") != seed:
        problems.append(f"seed {run.get('seed')} -> {seed}")
    od = run.get("data", {})
    for k in sorted(set(od) | set(data)):
        if od.get(k) != data.get(k):
            problems.append(f"data {k}: {od.get(k)!r} -> {data.get(k)!r}")
    if problems:
        raise VsrbenchError(
            f"--resume: {out} was trained with other settings or data ({'; '.join(problems[:6])}); resume with "
            "the run's own options (see its run.json) or start a new run with another --out")


def _read_run(run_json: Path, latest: Path, out: Path) -> dict:
    """The run ``--resume`` continues, from ``run.json`` (written before the first iteration)."""
    if not run_json.is_file():
        what = "latest.pth without its run.json" if latest.is_file() else "no run.json: no run was started there"
        raise VsrbenchError(f"--resume: {out} holds no run to resume ({what}); drop --resume or choose another --out")
    try:
        run = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise VsrbenchError(f"--resume: {run_json} is unreadable ({e}); start a new run with another --out") from None
    if not isinstance(run, dict) or run.get("format") != _FORMAT:
        raise VsrbenchError(f"--resume: {run_json} is not a vsrbench training run ({_FORMAT}); choose another --out")
    return run


def _check_validation(rec: Recipe, home) -> None:
    """Fail before training when the validation suite cannot run (unknown, other scale, not prepared)."""
    from vsrbench.benchmark.suites import get_suite
    from vsrbench.datasets import find_store

    st = get_suite(rec.val_suite)
    if st.scale != rec.scale:
        raise VsrbenchError(f"validation suite {st.name} is x{st.scale}, the run trains x{rec.scale}; pass "
                            f"--val-suite with an x{rec.scale} suite (vsrbench suites) or --val-suite none")
    if rec.val_crop and (rec.val_crop[0] % st.scale or rec.val_crop[1] % st.scale):
        raise VsrbenchError(f"validation crop {rec.val_crop[0]}x{rec.val_crop[1]} is not a multiple of x{st.scale}")
    try:
        find_store(st.dataset, "GT", st.set, None, home)
    except VsrbenchError as e:
        raise VsrbenchError(f"validation suite {st.name} needs {st.dataset}: {e}; or pass --val-suite none") from None


def _validate(model: str, rec: Recipe, weights: Path, dev: torch.device, out: Path, home) -> tuple[float, float]:
    """Score ``weights`` on the recipe's suite through the harness (records under RUN/validation).

    The harness seeds the global RNG: it runs inside ``fork_rng`` so that the training RNG stream (and
    with it --resume's exactness) does not depend on whether or when validation ran. Under torchrun
    only rank 0 validates, alone (``executor="local"``), while the other ranks wait at a barrier.
    """
    from vsrbench.benchmark.harness import evaluate

    devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        r = evaluate(model, rec.val_suite, checkpoint=str(weights), device=str(dev), crop=rec.val_crop,
                     results=out / "validation", force=True, temporal=False, progress=False, home=home,
                     executor="local")
    return float(r["psnr"]), float(r["ssim"])


# ------------------------------------------------------------------------------------------------ train


def train(
    model: str,
    data: str = "vimeo90k",
    *,
    out: str | os.PathLike,
    recipe: str | Recipe = "paper",
    set: str = "train",
    variant: str = "bi:x4",
    iters: int | None = None,
    batch: int | None = None,
    patch: int | tuple[int, int] | None = None,
    device: str | None = "auto",
    seed: int = 0,
    resume: bool = False,
    workers: int = 0,
    checkpoint_every: int | None = None,
    backend: str | None = None,
    home=None,
    progress: bool = True,
    amp: bool = True,
    stop_after: int | None = None,
    val_suite: str | None = _RECIPE,
) -> TrainResult:
    """Train ``model`` on the prepared ``data`` stores with ``recipe`` (``'paper'``, ``'quick'`` or a Recipe).

    ``iters`` / ``batch`` / ``patch`` (LR pixels; int = square) override the recipe. ``stop_after``
    stops (as if killed, after writing a checkpoint) once that many iterations are done in total;
    ``resume=True`` continues the run in ``out``. ``val_suite``: the suite scored at every checkpoint
    (default the recipe's; ``None`` or ``'none'``: no validation).
    """
    t_start = time.time()
    rec = recipe if isinstance(recipe, Recipe) else get_recipe(recipe, model)
    if rec.model != model:
        raise VsrbenchError(f"recipe is for model {rec.model!r}, not {model!r}")
    seed, workers = check_seed(seed, "seed"), check_workers(workers, "workers", 0)  # before anything is written
    over = {}
    if iters is not None:
        over["iters"] = positive_int(iters, "iters")
    if batch is not None:
        over["batch"] = positive_int(batch, "batch")
    if patch is not None:
        ph, pw = (patch, patch) if not isinstance(patch, (tuple, list)) else patch
        over["patch_h"], over["patch_w"] = positive_int(ph, "patch"), positive_int(pw, "patch")
    if checkpoint_every is not None:
        over["checkpoint_every"] = positive_int(checkpoint_every, "checkpoint_every")
    if val_suite != _RECIPE:
        over["val_suite"] = None if val_suite in (None, "", "none") else val_suite
    rec = rec.replace(**over)
    for k in ("iters", "batch", "patch_h", "patch_w", "checkpoint_every"):
        if getattr(rec, k) < 1:
            raise VsrbenchError(f"{k} must be >= 1, got {getattr(rec, k)}")
    if rec.loss not in LOSSES:
        raise VsrbenchError(f"unknown loss {rec.loss!r}; use one of {', '.join(LOSSES)}")
    dist, dev = ddp.setup(resolve_device(device))  # under torchrun: join the group, cuda:LOCAL_RANK
    try:
        return _train(model, data, rec, dev, dist, t_start, out=Path(out), set=set, variant=variant, seed=seed,
                      resume=resume, workers=workers, backend=backend, home=home, progress=progress, amp=amp,
                      stop_after=stop_after)
    finally:
        ddp.teardown(dist)


def startup_summary(model: str, rec: Recipe, data: dict, dev, world: int, out: Path, resume: bool) -> list[str]:
    """What ``train`` is about to do, in a few lines: data, clips, batch, patch, iterations, device, the
    recipe and what it chose where the paper is silent, and the validation (or that there is none)."""
    lr = (f"LR from {data['lr']['path']}" if "lr" in data else f"LR made on the fly ({data.get('lr_on_the_fly')})")
    lines = [
        f"train {model}: recipe {rec.name} ({rec.source or 'vsrbench'}); {'resuming in' if resume else 'writing to'} {out}",
        f"  data: {data['dataset']} ({data['set']}), {data['clips']} clip{'s' if data['clips'] != 1 else ''}; "
        f"GT {data['gt']['path']}; {lr}",
        f"  {rec.iters} iterations, batch {rec.batch}" + (f" (over {world} processes)" if world > 1 else "")
        + f", patch {rec.patch_w}x{rec.patch_h} LR px (WxH), {rec.frames} frames, x{rec.scale}, {rec.colour}; "
        f"loss {rec.loss}, Adam lr {rec.lr:g}, scheduler {rec.scheduler}; device {dev}; "
        f"checkpoint every {rec.checkpoint_every}",
    ]
    if rec.chosen:
        first = rec.chosen[0] if len(rec.chosen[0]) <= 90 else rec.chosen[0][:89] + "…"
        lines.append(f"  {len(rec.chosen)} choice(s) where the paper is silent (run.json 'chosen'), first: {first}")
    if rec.val_suite:
        crop = f"{rec.val_crop[1]}x{rec.val_crop[0]} centre crops" if rec.val_crop else "whole frames"
        lines.append(f"  validation: {rec.val_suite} ({crop}) at every checkpoint, into metrics.csv")
    else:
        lines.append("  no validation (pass --val-suite vid4 to score checkpoints)")
    return lines


def _summary_writer_class():
    """``torch.utils.tensorboard.SummaryWriter`` when the ``tensorboard`` package is installed, else None
    (then the scalars go to ``metrics.csv`` only). vsrbench does not depend on tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter


def _cyclic_parts(net: nn.Module, rec: Recipe, dev: torch.device):
    """ZSM's training-only LR synthesis module with the network (``None`` unless ``rec.cyclic``)."""
    if not rec.cyclic:
        return None
    from vsrbench.models.zsm import ZoomingSlowMo
    from vsrbench.training.zsm_cyclic import ZSMCyclic

    if not isinstance(net, ZoomingSlowMo) or rec.input_frames != "odd":
        raise VsrbenchError(f"recipe {rec.name}: the cyclic losses are Zooming Slow-Mo's (odd input frames); "
                            f"set cyclic=False for model {rec.model!r}")
    return ZSMCyclic(net, rec.cyclic_blocks).to(dev)


def _batch_loss(out, gt_b: torch.Tensor, rec: Recipe, loss_fn) -> torch.Tensor:
    """The recipe's loss; with ``cyclic``: eq. 10, ``l1 lrec + l2 li1 + l3 li2`` (eqs. 7-9)."""
    eps = rec.charbonnier_eps
    if not rec.cyclic:
        return loss_fn(out.float(), gt_b, eps)
    pred, first, tgt1, second, tgt2 = out
    w1, w2, w3 = rec.cyclic_weights
    loss = w1 * loss_fn(pred.float(), gt_b, eps) + w2 * loss_fn(first.float(), tgt1, eps)
    if second is not None:
        loss = loss + w3 * loss_fn(second.float(), tgt2, eps)
    return loss


@dataclass
class _Run:
    """One training run's state, shared by its stages: where it writes, the network and optimiser,
    the metrics rows and ``run.json``'s content. Rank 0 (``writes``) writes; every rank trains."""

    model: str
    rec: Recipe
    dev: torch.device
    dist: ddp.Dist
    t_start: float
    out: Path
    home: object
    net: nn.Module
    cyc: object
    opt: torch.optim.Optimizer
    sched: object
    start: int = 0
    plateau_acc: list = field(default_factory=lambda: [0.0, 0])
    rows: list = field(default_factory=list)
    run_info: dict = field(default_factory=dict)
    tb: object = None

    @property
    def writes(self) -> bool:
        return self.dist.main

    @property
    def latest(self) -> Path:
        return self.out / "latest.pth"

    @property
    def model_pth(self) -> Path:
        return self.out / "model.pth"

    @property
    def run_json(self) -> Path:
        return self.out / "run.json"

    @property
    def metrics_csv(self) -> Path:
        return self.out / "metrics.csv"


def _check_out(out: Path, resume: bool, rec: Recipe, data_desc: dict, seed: int, model: str):
    """``(run.json of the run resumed or None, restarted, resume)`` after checking ``out`` for the run asked for."""
    latest = out / "latest.pth"
    if resume:
        run = _read_run(out / "run.json", latest, out)
        _check_resume(run, rec, data_desc, seed, model, out)
        # killed before its first checkpoint: nothing to load, the run starts again from its seed
        return run, not latest.is_file(), latest.is_file()
    if latest.is_file() or (out / "model.pth").is_file():
        raise VsrbenchError(f"{out} already holds a run (latest.pth); pass --resume to continue it or choose a new --out")
    return None, False, False


def _build_network(model: str, rec: Recipe, dev: torch.device, dist: ddp.Dist, seed: int):
    """``(net, cyclic parts, optimiser, scheduler)``: the same initial weights on every rank."""
    torch.manual_seed(seed)  # the same initial weights on every rank
    net = create_model(model, scale=rec.scale)
    if rec.init == "xavier":
        xavier_init(net)
    if not any(p.requires_grad for p in net.parameters()):
        raise VsrbenchError(f"model {model!r} has no trainable weights; train one of: zsm, fstrn, lcvsr, dksan")
    net.to(dev)
    cyc = _cyclic_parts(net, rec, dev)
    if dist.enabled:  # each rank draws its own dropout masks
        torch.manual_seed(ddp.rank_seed(seed, dist.rank))
    params = list(net.parameters()) + ([] if cyc is None else list(cyc.rho.parameters()))
    opt = torch.optim.Adam(params, lr=rec.lr, betas=tuple(rec.betas), weight_decay=rec.weight_decay)
    return net, cyc, opt, make_scheduler(rec, opt)


def _load_checkpoint(st: _Run, seed: int) -> None:
    """``--resume``: the weights, optimiser, scheduler, iteration and each rank's RNG state of ``latest.pth``."""
    ck = torch.load(st.latest, map_location="cpu", weights_only=True)
    st.net.load_state_dict(ck["model"])
    if st.cyc is not None:
        if not isinstance(ck.get("aux"), dict):
            raise VsrbenchError(f"--resume: {st.latest} holds no LR synthesis module (aux) for the cyclic losses; "
                                "start a new run with --out")
        st.cyc.rho.load_state_dict(ck["aux"])
    st.opt.load_state_dict(ck["optimizer"])
    if st.sched is not None:
        st.sched.load_state_dict(ck["scheduler"])
    st.start = int(ck["iteration"])
    dev, dist = st.dev, st.dist
    ranks = ck["rng"].get("ranks")
    if ranks is not None and len(ranks) == dist.world:  # the same number of processes: each its own state
        torch.set_rng_state(ranks[dist.rank]["torch"])
        if dev.type == "cuda" and ranks[dist.rank].get("cuda") is not None:
            torch.cuda.set_rng_state(ranks[dist.rank]["cuda"], dev)
    elif ranks is None and not dist.enabled:
        torch.set_rng_state(ck["rng"]["torch"])
        if dev.type == "cuda" and ck["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
    else:  # resumed with another number of processes: the data is the same, dropout masks are new
        torch.manual_seed(ddp.rank_seed(seed * 1_000_003 + st.start, dist.rank))
    st.plateau_acc = [float(ck["plateau_acc"][0]), int(ck["plateau_acc"][1])]


def _forward_module(st: _Run) -> nn.Module:
    """What the batches go through: the network (with ZSM's cyclic parts), wrapped in DDP under torchrun."""
    fwd = st.net if st.cyc is None else st.cyc
    if st.dist.enabled:  # a collective: every rank has passed the checks above before rank 0 writes anything
        from torch.nn.parallel import DistributedDataParallel

        fwd = DistributedDataParallel(fwd, device_ids=[st.dev.index] if st.dev.type == "cuda" else None)
    return fwd


def _open_out(st: _Run, restarted: bool, resume: bool, run: dict | None, data_desc: dict, seed: int) -> None:
    """Rank 0 makes ``out`` (dropping what a killed run left half-written), writes ``run.json``
    ("running") and opens TensorBoard; every rank holds ``run_info``."""
    if st.writes:
        st.out.mkdir(parents=True, exist_ok=True)
        for stale in st.out.glob(".*.tmp*"):  # temp files of a process killed while writing a checkpoint
            stale.unlink(missing_ok=True)
        if restarted:  # written by a first checkpoint that did not complete: they belong to no checkpoint
            st.model_pth.unlink(missing_ok=True)
            st.metrics_csv.unlink(missing_ok=True)
    st.run_info = {
        "format": _FORMAT, "model": st.model, "recipe": st.rec.as_dict(), "seed": seed, "data": data_desc,
        "device": str(st.dev), "iterations": st.start, "target_iterations": st.rec.iters,
        "vsrbench_version": __version__, "status": "running", "loss": None, "processes": st.dist.world,
    }
    if resume:
        st.run_info["model_sha256"] = run.get("model_sha256")
    if st.writes:
        _write_json(st.run_json, st.run_info)
    tb_cls = _summary_writer_class() if st.writes else None
    st.tb = tb_cls(log_dir=str(st.out / "tensorboard"), purge_step=st.start if resume or restarted else None) \
        if tb_cls else None


def _rng_states(st: _Run) -> dict:
    """The RNG state a checkpoint keeps; under torchrun (a collective) every rank's, so that
    ``--resume`` continues each stream."""
    dev = st.dev
    rng = {"torch": torch.get_rng_state()}
    if dev.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state_all()
    if st.dist.enabled:
        own = {"torch": torch.get_rng_state()}
        if dev.type == "cuda":
            own["cuda"] = torch.cuda.get_rng_state(dev)
        rng["ranks"] = ddp.gather_objects(own, st.dist)
    return rng


def _validate_at(st: _Run, it: int, loss: float | None) -> None:
    """Score ``model.pth`` on the recipe's validation suite; its PSNR/SSIM join the iteration's metrics row."""
    rec, rows = st.rec, st.rows
    vp, vs = _validate(st.model, rec, st.model_pth, st.dev, st.out, st.home)
    if not rows or int(rows[-1]["iteration"]) != it:
        rows.append({"iteration": it, "loss": f"{loss:.6g}", "lr": f"{st.opt.param_groups[0]['lr']:.6g}",
                     "seconds": f"{time.time() - st.t_start:.1f}"})
    rows[-1].update(val_psnr=f"{vp:.4f}", val_ssim=f"{vs:.4f}")
    st.run_info["validation"] = {"suite": rec.val_suite, "crop": rec.val_crop and list(rec.val_crop),
                                 "iteration": it, "psnr": vp, "ssim": vs}
    if st.tb is not None:
        st.tb.add_scalar("val/psnr", vp, it)
        st.tb.add_scalar("val/ssim", vs, it)


def _checkpoint(st: _Run, it: int, loss: float | None, status: str) -> None:
    """Every rank: the RNG states; rank 0: ``model.pth``, validation, ``metrics.csv``, ``latest.pth``,
    ``run.json`` (each atomically) while the others wait at the barrier."""
    rng = _rng_states(st)
    if not st.writes:
        ddp.barrier(st.dist)  # while rank 0 writes and validates (the group's timeout, VSRBENCH_DIST_TIMEOUT)
        return
    state = {"model": st.net.state_dict(), "optimizer": st.opt.state_dict(),
             "scheduler": st.sched.state_dict() if st.sched is not None else {}, "rng": rng, "iteration": it,
             "sample": it * st.rec.batch, "plateau_acc": list(st.plateau_acc), "format": _FORMAT}
    if st.cyc is not None:  # training-only: model.pth keeps the inference network's layout
        state["aux"] = st.cyc.rho.state_dict()
    st.run_info["model_sha256"] = _atomic_torch_save(
        {k: (v.detach().cpu() if torch.is_tensor(v) else v) for k, v in st.net.state_dict().items()}, st.model_pth)
    if st.rec.val_suite:
        _validate_at(st, it, loss)
    _write_metrics(st.metrics_csv, st.rows)
    _atomic_torch_save(state, st.latest)
    _write_json(st.run_json, {**st.run_info, "iterations": it, "status": status, "loss": loss})
    if st.tb is not None:
        st.tb.flush()
    ddp.barrier(st.dist)  # the other ranks wait here for this checkpoint (and its validation)


def _train(model: str, data: str, rec: Recipe, dev: torch.device, dist: ddp.Dist, t_start: float, *, out: Path,
           set: str, variant: str, seed: int, resume: bool, workers: int, backend, home, progress: bool, amp: bool,
           stop_after) -> TrainResult:
    """The run's stages: check the data and ``out``, build (or resume) the network, open ``out``, train."""
    slots = ddp.shard_slots(rec.batch, dist.world, dist.rank)  # the global batch must split evenly
    tdata = resolve_data(data, set, variant, rec.lr_spec, home=home, backend=backend)
    data_desc = tdata.describe()
    dataset = TrainDataset(tdata, rec, rec.patch_h, rec.patch_w, seed)
    run, restarted, resume = _check_out(out, resume, rec, data_desc, seed, model)
    if rec.val_suite:
        _check_validation(rec, home)
    if progress and dist.rank == 0:
        for line in startup_summary(model, rec, data_desc, dev, dist.world, out, resume):
            print(line, file=sys.stderr, flush=True)
    net, cyc, opt, sched = _build_network(model, rec, dev, dist, seed)
    st = _Run(model, rec, dev, dist, t_start, out, home, net, cyc, opt, sched)
    if resume:
        _load_checkpoint(st, seed)
        st.rows = _read_metrics(st.metrics_csv, st.start)
    fwd = _forward_module(st)
    _open_out(st, restarted, resume, run, data_desc, seed)
    end = rec.iters if stop_after is None else min(rec.iters, int(stop_after))
    if st.start >= end:
        if st.tb is not None:
            st.tb.close()
        return TrainResult(out, st.start, float("nan"), 0.0, dist.rank)
    loader = DataLoader(dataset, batch_size=len(slots),
                        sampler=ddp.ShardSampler(st.start, end - st.start, rec.batch, dist.world, dist.rank),
                        num_workers=int(workers), drop_last=True, generator=torch.Generator().manual_seed(seed),
                        persistent_workers=False)
    return _train_loop(st, fwd, loader, end, amp, progress)


def _non_finite_loss(st: _Run, loss_v: float, it: int) -> VsrbenchError:
    if st.latest.is_file():
        last = torch.load(st.latest, map_location="cpu", weights_only=True)["iteration"]
        kept = f"{st.latest} keeps the last good checkpoint (iteration {last}); lower the learning rate " \
               "or check the data, then --resume"
    else:
        kept = "no checkpoint was written yet; lower the learning rate or check the data"
    return VsrbenchError(f"loss is {loss_v} at iteration {it + 1}; training stopped. {kept}")


def _scheduler_step(st: _Run, loss_v: float) -> None:
    """One iteration's scheduler step; ``plateau``: on the mean loss of every ``plateau_window`` iterations."""
    rec, acc = st.rec, st.plateau_acc
    if rec.scheduler == "plateau":
        acc[0] += loss_v
        acc[1] += 1
        if acc[1] >= rec.plateau_window:
            st.sched.step(acc[0] / acc[1])
            acc[0], acc[1] = 0.0, 0
    elif st.sched is not None:
        st.sched.step()


def _log_iteration(st: _Run, it: int, end: int, loss_v: float, bar) -> None:
    lr_now = st.opt.param_groups[0]["lr"]
    if it % st.rec.log_every == 0 or it == end:
        st.rows.append({"iteration": it, "loss": f"{loss_v:.6g}", "lr": f"{lr_now:.6g}",
                        "seconds": f"{time.time() - st.t_start:.1f}"})
        if st.tb is not None:
            st.tb.add_scalar("train/loss", loss_v, it)
            st.tb.add_scalar("train/lr", lr_now, it)
    bar.set_postfix(loss=f"{loss_v:.4g}", lr=f"{lr_now:.3g}")
    bar.update(1)


def _train_loop(st: _Run, fwd: nn.Module, loader: DataLoader, end: int, amp: bool, progress: bool) -> TrainResult:
    """Iterations ``start + 1 .. end``: forward (AMP on CUDA), the global batch's loss, backward, step,
    log, and a checkpoint every ``checkpoint_every`` iterations and at the end."""
    rec, dev, dist = st.rec, st.dev, st.dist
    loss_fn = LOSSES[rec.loss]
    use_amp = amp and dev.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    st.net.train()
    it, loss_v = st.start, float("nan")
    bar = tqdm(total=end, initial=st.start, desc=f"train {st.model} ({rec.name})", unit="it",
               disable=not (progress and st.writes), file=sys.stderr, dynamic_ncols=True)
    try:
        for lr_b, gt_b in loader:
            lr_b, gt_b = lr_b.to(dev, non_blocking=True), gt_b.to(dev, non_blocking=True)
            with torch.autocast(device_type=dev.type, dtype=amp_dtype, enabled=use_amp):
                res = fwd(lr_b)
            loss = _batch_loss(res, gt_b, rec, loss_fn)
            loss_v = float(ddp.mean_over_ranks(loss.detach(), dist))  # the global batch's loss, on every rank
            if not math.isfinite(loss_v):
                raise _non_finite_loss(st, loss_v, it)
            st.opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if rec.grad_clip:
                scaler.unscale_(st.opt)
                nn.utils.clip_grad_norm_(st.net.parameters(), rec.grad_clip)
            scaler.step(st.opt)
            scaler.update()
            it += 1
            _scheduler_step(st, loss_v)
            _log_iteration(st, it, end, loss_v, bar)
            if it % rec.checkpoint_every == 0 or it == end:
                _checkpoint(st, it, loss_v, "done" if it == rec.iters else ("stopped" if it == end else "running"))
    finally:
        bar.close()
        if st.tb is not None:
            st.tb.close()
    return TrainResult(st.out, it, loss_v, time.time() - st.t_start, dist.rank)
