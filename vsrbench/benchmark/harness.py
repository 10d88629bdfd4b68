"""The evaluation harness: ``evaluate(model, suite)`` -> one result record, resumable.

Reads data only through :func:`vsrbench.datasets.open_store`; feeds the model by its declared
interface (:mod:`vsrbench.benchmark.feed`); scores per frame by the protocol (uint8 RGB -> BT.601 Y,
PSNR / SSIM with the suite's crop), aggregates per clip then over clips, and adds temporal
consistency (tOF, warping error, temporal-difference PSNR) and runtime. Every completed clip is
appended to a journal (``*.partial.jsonl``, flushed and fsynced), so an interrupted run resumes at
the clip it stopped in; the final record is written atomically.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import math
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vsrbench import __version__
from vsrbench.benchmark.distributed import executing, journal_path, journal_paths, resumed_entries, split_clips
from vsrbench.benchmark.feed import ModelRunner, super_resolve_stvsr, super_resolve_vsr
from vsrbench.benchmark.pipeline import (
    SCORE_WORKERS, Prefetch, Scorer, background_priority, finish_pending,
)
from vsrbench.benchmark.scoring import Protocol, score_frames
from vsrbench.benchmark.options import SETTING_FIELDS, EvaluateOptions
from vsrbench.benchmark.record import Record
from vsrbench.benchmark.suites import Suite, get_suite
from vsrbench.benchmark.results import (
    append_journal, identity, json_number, make_settings, open_journal, read_record,
    record_path, results_dir, rewrite_journal, suite_summary, warn, write_record,
)
from vsrbench.degradations.spec import modcrop
from vsrbench.errors import VsrbenchError
from vsrbench.devices import device_name
from vsrbench.hashing import sha256_file
from vsrbench.models.listing import no_weights_message
from vsrbench.outputs import HOME_FIX, RESULTS_FIX, cannot_write, check_dir_creatable, writing

__all__ = ["evaluate", "code_identity", "no_weights_message", "EvaluateOptions", "ScoringContext", "score_clip",
           "score_outputs", "Plan", "plan_evaluation", "look_up", "execute", "merge", "write"]

def code_identity(model_file: str | os.PathLike | None, *extra_files) -> dict:
    """vsrbench's version and a hash of the source that decides a record's numbers: the protocol
    modules (harness, pipeline, feeding, suites, records, metrics, degradations, stores, colour...), the
    model's own file and every vsrbench module they import (``codeversion.scoring_code_files``; file
    bytes, cached per process); ``extra_files``: e.g. the file of a ``package.module:factory`` model's factory."""
    from vsrbench.codeversion import PACKAGE_ROOT, scoring_code_files, source_hash

    files = scoring_code_files(model_file, *extra_files)
    names = []
    for f in files:
        try:
            names.append(Path(f).resolve().relative_to(PACKAGE_ROOT.parent).as_posix())
        except ValueError:
            names.append(Path(f).name)
    return {"vsrbench": __version__, "scoring_code": source_hash(*files), "scoring_files": names}


def _model_file(net) -> str | None:
    import inspect

    try:
        return inspect.getsourcefile(type(net))
    except (TypeError, OSError):
        return None


def _outputs_present(rec: dict, save_outputs) -> bool:
    """Whether ``save_outputs`` already holds every SR frame of a stored record."""
    from vsrbench.outputs import safe_child

    for clip, c in (rec.get("clips") or {}).items():
        for f in c.get("frames") or []:
            if not safe_child(save_outputs, clip, f"{int(f['gt_index']):08d}.png", what="clip").is_file():
                return False
    return True


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parents[2]
        r = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return r.stdout.strip() or None
    except Exception:
        return None


def _provenance(device, dtype: str) -> dict:
    import torch

    name = device_name(device, threads=False)
    return {
        "vsrbench": __version__,
        "git_commit": _git_commit(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": str(device),
        "device_name": name,
        "dtype": dtype,
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


class _Data:
    """GT and LR of a suite, through ``open_store``.

    A missing LR variant is made from the GT store once and cached as a store beside it
    (``datasets.add_variant``, the store ``vsrbench prepare --variants`` would write); with a crop,
    a clip limit or ``cache_lr=False`` it is made on the fly for the frames scored, and not kept.
    """

    def __init__(self, suite: Suite, home=None, crop: tuple[int, int] | None = None, cache_lr: bool = True,
                 progress: bool = True):
        from vsrbench.datasets import add_variant, find_store, open_store
        from vsrbench.datasets.stores import StoreDamagedError
        from vsrbench.degradations import parse_spec

        self.deg = parse_spec(suite.degradation)
        self.crop = crop
        self.gt = open_store(find_store(suite.dataset, "GT", suite.set, home=home))
        self.lr = None
        self.dataset = suite.dataset
        if crop:  # the LR of a crop is the crop's own degradation
            self.lr_note = f"made from the cropped GT on the fly ({self.deg.spec})"
            return
        from vsrbench.datasets.lr import lr_store_staleness, remove_store

        stale = None
        try:
            lr_path = find_store(suite.dataset, self.deg.spec, suite.set, home=home)
            self.lr = open_store(lr_path)
            self.lr_note = "prepared store"
            stale = lr_store_staleness(self.lr.meta)
            if stale:  # made by other degradation code: never scored against; rebuilt when it is ours to cache
                self.lr.close()
                self.lr = None
                if cache_lr and self.gt.set == suite.set:
                    remove_store(lr_path)
                raise VsrbenchError(f"LR store {lr_path} is stale ({stale})")
        except StoreDamagedError:
            raise  # a damaged store is reported, never silently replaced
        except VsrbenchError:
            # the GT store must hold exactly the suite's set (a folder tree of all of Vimeo-90K does not)
            if cache_lr and self.gt.set == suite.set:
                try:
                    path = add_variant(suite.dataset, self.deg.spec, set=suite.set, backend=self.gt.backend,
                                       home=home, progress=progress, quiet=not progress)
                except OSError as e:
                    raise cannot_write(
                        Path(self.gt.path).parent, e,
                        f"pass --no-cache-lr to make {self.deg.spec} on the fly, or {HOME_FIX}") from None
                self.lr = open_store(path)
                self.lr_note = (f"{'rebuilt (the old store was ' + stale + ') ' if stale else 'made '}"
                                f"from the GT store and cached as {path}")
            else:
                self.lr_note = (f"made from GT on the fly ({self.deg.spec}); "
                                f"`vsrbench prepare {suite.dataset} --variants {self.deg.spec}` stores it")

    def gt_frames(self, clip: str) -> list[np.ndarray]:
        frames = self.gt.read_clip(clip)
        if self.crop:
            ch, cw = self.crop
            h, w = frames[0].shape[:2]
            if ch > h or cw > w:
                raise VsrbenchError(f"--crop {ch}x{cw} is larger than the frames of clip {clip} ({h}x{w})")
            y0, x0 = (h - ch) // 2, (w - cw) // 2
            frames = [np.ascontiguousarray(f[y0 : y0 + ch, x0 : x0 + cw]) for f in frames]
        return frames

    def lr_frames(self, clip: str, gt: list[np.ndarray]) -> list[np.ndarray]:
        if self.lr is not None and clip in self.lr and self.lr.num_frames(clip) == len(gt):
            return self.lr.read_clip(clip)
        return [self.deg.apply_frame(f, dataset=self.dataset, clip=clip, index=i) for i, f in enumerate(gt)]


def _select_clips(suite: Suite, store, limit: int | None) -> tuple[list[str], list[str]]:
    clips = store.clips()
    missing: list[str] = []
    if suite.split:
        from vsrbench.datasets import check_split, load_split

        ids = load_split(suite.split, suite.split_form)
        chk = check_split(ids, clips, suite.split)
        clips, missing = list(chk.present), list(chk.missing)
        if not clips:
            raise VsrbenchError(
                f"the {suite.dataset} store {store.path} holds none of the {len(ids)} clips of split {suite.split!r}; "
                f"prepare the full dataset with `vsrbench prepare {suite.dataset}`"
            )
    if limit:
        clips = clips[: int(limit)]
    return clips, missing


def _scored_indices(suite: Suite, n: int) -> list[int]:
    return [n // 2] if suite.frames == "centre" else list(range(n))


def _temporal(sr: list[np.ndarray], gt: list[np.ndarray], gt_work=None, sr_flows=None) -> dict:
    """tOF, warping error, tPSNR of a clip; ``gt_work``: the GT's flows and masks, precomputed
    (``benchmark.gt_cache``), else computed here; ``sr_flows``: the SR's forward flows, computed
    while the model ran (:class:`_TemporalJob`), else computed here."""
    from vsrbench.metrics import temporal

    if len(sr) < 2:
        return {}
    m = temporal.temporal_metrics(sr, gt, gt_work=gt_work, sr_flows=sr_flows)
    return {
        "tof": float(m["tof"]),
        "warping_error": float(m["warping_error"]),
        "tpsnr": json_number(float(m["tpsnr"])),
    }


@dataclass(frozen=True)
class ScoringContext:
    """What scoring a clip needs besides the clip: the suite, the model's runner, the data (a
    :class:`_Data`, or a :class:`~vsrbench.benchmark.pipeline.Prefetch` of it), the options that
    change what is scored or written, and ``scorer`` (the background scoring thread, or None: score
    in the calling thread)."""

    suite: Suite
    runner: ModelRunner
    data: object
    padding: str = "reflection_circle"
    save_outputs: object = None
    temporal: bool = True
    metrics: tuple = ("default",)
    home: object = None
    gt_cache: bool | None = None
    scorer: Scorer | None = None

    @property
    def scale(self) -> int:
        return self.data.deg.scale

    @property
    def wants_temporal(self) -> bool:
        return self.temporal and "default" in self.metrics


def _gt_work(ctx: ScoringContext, clip, gts: list[np.ndarray], wanted: list[int]) -> object:
    """The clip's GT temporal work, cached beside the GT store (``benchmark.gt_cache``)."""
    from vsrbench.benchmark.gt_cache import cached_gt_work

    work, _ = cached_gt_work(gts, store=ctx.data.gt, clip=clip, indices=wanted, scale=ctx.scale, crop=ctx.data.crop,
                             home=ctx.home, use_cache=ctx.gt_cache)
    return work


class _TemporalJob:
    """A clip's temporal metrics, started while the model still runs the clip: as each SR frame comes
    out (:meth:`frame_ready`, the runner's ``on_frame``) the SR flow of the pair it completes is
    computed on a background thread, and the GT work (read from ``benchmark.gt_cache``, or computed)
    with the first frame; :meth:`start` (the model done with the clip) then finishes tOF, warping
    error and tPSNR on another thread, overlapping the per-frame scoring. The values are those of
    :func:`_temporal` on the whole clip (the same flows of the same frames). ``result()`` gives its
    dict (or raises its error)."""

    def __init__(self, ctx: ScoringContext, clip, gt: list[np.ndarray], wanted: list[int]):
        self.ctx, self.clip, self.wanted = ctx, clip, wanted
        self.gts = [modcrop(gt[i], ctx.scale) for i in wanted]
        self.metrics = None
        self._pos = {i: k for k, i in enumerate(wanted)}
        self._frames: dict[int, np.ndarray] = {}
        self._flows: dict[int, object] = {}  # pair k (frames k, k + 1 of the scored ones) -> future
        self._gt_work = None
        self._pool = None

    def frame_ready(self, i: int, frame: np.ndarray) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from vsrbench.metrics.temporal import farneback_flow

        k = self._pos.get(i)
        if k is None or frame.shape != self.gts[k].shape:  # a wrong shape is reported by the scoring
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, min(4, (os.cpu_count() or 2) - 1)),
                                            thread_name_prefix="vsrbench-srflow", initializer=background_priority)
            self._gt_work = self._pool.submit(_gt_work, self.ctx, self.clip, self.gts, self.wanted)
        self._frames[k] = frame
        for j in (k - 1, k):
            if j >= 0 and j + 1 < len(self.gts) and j not in self._flows and j in self._frames and j + 1 in self._frames:
                self._flows[j] = self._pool.submit(farneback_flow, self._frames[j], self._frames[j + 1])

    def start(self, sr) -> None:
        from concurrent.futures import ThreadPoolExecutor

        srs = [sr[i] for i in self.wanted]
        early, flows, self._frames = self._gt_work, dict(self._flows), {}

        def run():
            try:
                work = early.result() if early is not None else _gt_work(self.ctx, self.clip, self.gts, self.wanted)
                pairs = [flows[j].result() if j in flows else None for j in range(len(srs) - 1)]
                return _temporal(srs, self.gts, work, pairs)
            finally:
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=True)

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vsrbench-temporal", initializer=background_priority)
        self.metrics = pool.submit(run)
        pool.shutdown(wait=False)

    def result(self) -> dict:
        return self.metrics.result()


def _tecogan(ctx: ScoringContext, clip, srs, gts, n: int) -> dict:
    """TecoGAN's protocol on the scored frames (all frames of the clip; see benchmark.tecogan_run)."""
    from vsrbench.benchmark.tecogan_run import tecogan_clip

    if len(srs) != n:
        raise VsrbenchError(f"--metrics tecogan needs every frame of a clip scored; suite {ctx.suite.name!r} scores "
                            f"{len(srs)} of {n} (use a suite that scores whole clips, e.g. vid4)")
    gts = [modcrop(g, ctx.scale) for g in gts]
    data = ctx.data
    dataset = data.dataset if not data.crop else f"{data.dataset}-crop{data.crop[0]}x{data.crop[1]}"
    return tecogan_clip(srs, gts, dataset=dataset, clip=clip, home=ctx.home, device=ctx.runner.device)


def score_clip(ctx: ScoringContext, clip: str):
    """Read, run the model, score one clip: its journal entry, or with ``ctx.scorer`` a
    :class:`~vsrbench.benchmark.pipeline.Pending` of it (the scoring, :func:`score_outputs`, runs in
    the scorer's background thread). The clip's temporal metrics (:class:`_TemporalJob`, GT work
    from ``benchmark.gt_cache``) start on background threads as the model's SR frames come out.
    The clip loop calls it through this module (the seam tests patch)."""
    gt = ctx.data.gt_frames(clip)
    lr = ctx.data.lr_frames(clip, gt)
    wanted = _scored_indices(ctx.suite, len(gt))
    tjob = _TemporalJob(ctx, clip, gt, wanted) if ctx.wants_temporal and len(wanted) >= 2 else None
    on_frame = tjob.frame_ready if tjob is not None else None
    if ctx.runner.spec.task == "stvsr":
        sr = super_resolve_stvsr(ctx.runner, lr, wanted, on_frame=on_frame)
    else:
        sr = super_resolve_vsr(ctx.runner, lr, wanted, ctx.padding, on_frame=on_frame)
    if tjob is not None:
        tjob.start(sr)
    score = functools.partial(score_outputs, ctx, clip, gt, lr, sr, wanted, tjob)
    return ctx.scorer.submit(score, clip=clip) if ctx.scorer is not None else score()


def _save_frame(ctx: ScoringContext, clip: str, name: str, frame, sub: bool = True) -> None:
    from vsrbench.datasets.frames import write_frame
    from vsrbench.outputs import safe_child

    if sub:
        d = safe_child(ctx.save_outputs, clip, what="clip")
        d.mkdir(parents=True, exist_ok=True)
        write_frame(safe_child(d, name), frame)
    else:
        write_frame(safe_child(ctx.save_outputs, name, what="clip"), frame)


def score_outputs(ctx: ScoringContext, clip: str, gt, lr, sr, wanted, tjob: _TemporalJob | None = None) -> dict:
    """A clip's journal entry from its SR frames: PSNR/SSIM per frame (:func:`scoring.score_frames`:
    float64 torch on CUDA, the NumPy reference elsewhere), TecoGAN / temporal metrics (``tjob``'s),
    saved outputs."""
    scale = ctx.scale
    frames = score_frames([sr[i] for i in wanted], [gt[i] for i in wanted], Protocol.of_suite(ctx.suite, scale),
                          indices=wanted, device=ctx.runner.device,
                          labels=lambda i: (f"clip {clip} frame {i} (output)", f"clip {clip} frame {i}"))
    if ctx.save_outputs:
        for i in wanted:
            _save_frame(ctx, clip, f"{i:08d}.png", sr[i])
    rec = {"clip": clip, "frames": frames, "n_frames": len(frames)}
    if "tecogan" in ctx.metrics:
        rec["tecogan"] = _tecogan(ctx, clip, [sr[i] for i in wanted], [gt[i] for i in wanted], len(gt))
    if ctx.wants_temporal and len(wanted) >= 2:
        gts = tjob.gts if tjob is not None else [modcrop(gt[i], scale) for i in wanted]
        srs = [sr[i] for i in wanted]
        rec.update(tjob.result() if tjob is not None else _temporal(srs, gts))
        if ctx.save_outputs:
            from vsrbench.metrics import temporal as tm

            _save_frame(ctx, clip, f"{clip.replace('/', '_')}_temporal_profile.png", tm.temporal_profile_pair(srs, gts),
                        sub=False)
    for f in frames:
        f["psnr"] = json_number(f["psnr"])
    rec["lr_size"] = f"{lr[0].shape[0]}x{lr[0].shape[1]}"
    return rec


def _tecogan_block(per_clip: list[dict]) -> dict | None:
    """The suite-level TecoGAN means when the clips carry them, else None."""
    if not any("tecogan" in r for r in per_clip):
        return None
    from vsrbench.benchmark.tecogan_run import tecogan_summary

    return tecogan_summary({r["clip"]: r["tecogan"] for r in per_clip if "tecogan" in r})


# --------------------------------------------------------------------------------------------- the stages
@dataclass
class Plan:
    """Everything decided before any model work (:func:`plan_evaluation`): the checked options, the
    suite and model, the weights and the record's identity and path. ``net`` is built (on the CPU,
    seeded) but not loaded nor moved."""

    model: str
    suite: Suite
    opts: EvaluateOptions
    info: object
    metrics: list
    settings: dict
    weights: str
    ck_sha: str | None
    training: dict | None
    net: object
    n_params: int
    code: dict
    ident: str
    final: Path
    store_fix: str = RESULTS_FIX


def _check_request(model: str, st: Suite, opts: EvaluateOptions, info, metrics: list) -> None:
    """The checks of a request that need neither the model nor the device (one line each)."""
    if st.scale not in info.spec.scales:
        raise VsrbenchError(
            f"model {model!r} supports {', '.join('x%d' % s for s in info.spec.scales)}; suite {st.name!r} is x{st.scale}")
    if opts.checkpoint and not Path(opts.checkpoint).is_file():
        raise VsrbenchError(f"{opts.checkpoint}: no such checkpoint file")
    crop = opts.crop
    if crop and (crop[0] % st.scale or crop[1] % st.scale):
        raise VsrbenchError(f"--crop {crop[0]}x{crop[1]} must be a multiple of the suite's scale x{st.scale}")
    if "tecogan" in metrics and st.frames == "centre":
        raise VsrbenchError(f"--metrics tecogan needs whole clips scored; suite {st.name!r} scores the centre frame only")
    if opts.save_outputs:
        check_dir_creatable(opts.save_outputs, "choose another --save-outputs folder")


def _official_checkpoint(model: str, opts: EvaluateOptions) -> EvaluateOptions:
    """``opts`` with ``checkpoint`` = the cached, verified file of ``--weights NAME``; not both."""
    from vsrbench.benchmark.weights_fetch import fetch_weights

    if opts.checkpoint:
        raise VsrbenchError("--weights and --checkpoint name the weights twice; pass one of them")
    path = fetch_weights(model, opts.weights, home=opts.home, progress=opts.progress)
    return dataclasses.replace(opts, checkpoint=str(path))


def plan_evaluation(model: str, suite: str, opts: EvaluateOptions, dev) -> Plan:
    """Every check of an evaluation, before any model work: the options' numbers, suite and scale,
    checkpoint file, crop, metrics, output folder, weights (a model with parameters needs a
    checkpoint or ``random_weights``), LPIPS weights for ``tecogan``; then the record's identity."""
    import torch

    from vsrbench.benchmark.tecogan_run import parse_metrics
    from vsrbench.models import create_model, get_model_info
    from vsrbench.models.provenance import read_run_provenance  # a `vsrbench train` run's run.json, if it is this file's

    st = get_suite(suite)
    if opts.weights:  # an official checkpoint by name: fetched (or found in the cache) and verified
        opts = _official_checkpoint(model, opts)
    info = get_model_info(model, opts.model_spec, scale=st.scale)  # a factory taking scale: the suite's
    metrics = parse_metrics(opts.metrics)
    _check_request(model, st, opts, info, metrics)
    ck_sha = sha256_file(opts.checkpoint) if opts.checkpoint else None
    torch.manual_seed(opts.seed)
    net = create_model(info, scale=st.scale, **(opts.model_kwargs or {}))
    n_params = sum(p.numel() for p in net.parameters())
    if ck_sha:
        weights = f"sha256:{ck_sha}"
    elif n_params and not opts.random_weights:
        raise VsrbenchError(no_weights_message(model))
    else:
        weights = f"random(seed={opts.seed})" if n_params else "none"
    if "tecogan" in metrics:  # fail before any model work when no LPIPS weights can be had
        from vsrbench.benchmark.lpips_weights import load_lpips

        load_lpips(home=opts.home, device=dev, progress=opts.progress)
    settings = make_settings(**{k: getattr(opts, k) for k in SETTING_FIELDS})
    code = code_identity(_model_file(net), *getattr(net, "source_files", ()))
    ident = identity(model, weights, st, settings, code, spec=info.spec.as_dict() if ":" in model else None)
    training = read_run_provenance(opts.checkpoint, ck_sha, model) if opts.checkpoint else None
    return Plan(model, st, opts, info, metrics, settings, weights, ck_sha, training, net, n_params, code, ident,
                record_path(results_dir(opts.results), suite, model, ident))


def look_up(plan: Plan, run) -> tuple[dict | None, bool]:
    """``(stored record or None, force)``: a sound stored record (with the outputs asked for on disk)
    is returned as is, marked ``skipped``; a damaged one is scored again. Rank 0 decides for all."""
    final, save, force, stored = plan.final, plan.opts.save_outputs, plan.opts.force, None
    if final.exists() and not force:
        rec, why = read_record(final)
        if why is None and (not save or _outputs_present(rec, save)):
            rec["skipped"] = True
            stored = rec
        elif why is not None and not run.rank:
            warn(f"the stored result {final} is damaged ({why}); scoring again")
        force = stored is None  # damaged, or scored but the outputs asked for are not on disk: score again
    stored, force = run.from_rank0("stored", [stored, force])
    return stored, force


def _open_data(plan: Plan, run) -> _Data:
    """The suite's data; under torchrun rank 0 first (it makes, and caches, an LR variant the data root lacks)."""
    o = plan.opts
    if run.rank:
        run.exchange("data")
    data = _Data(plan.suite, home=o.home, crop=tuple(o.crop) if o.crop else None,
                 cache_lr=o.cache_lr and not o.limit_clips, progress=o.progress)
    if not run.rank:
        run.exchange("data")
    return data


def _resume(plan: Plan, run, journal: Path, clips: list[str], force: bool):
    """The journal, opened for appending (a fresh one with ``force``), and ``{clip: entry}`` of the
    clips any journal of the record already holds."""
    with writing(journal, plan.store_fix):
        if force:
            for j in journal_paths(plan.final) + [journal]:
                j.unlink(missing_ok=True)
    own, done = resumed_entries(plan.final, journal, clips, run)  # every journal of the record, of any rank
    with writing(journal, plan.store_fix):
        plan.final.parent.mkdir(parents=True, exist_ok=True)
        if done or journal.exists():  # rewrite the journal without damaged lines
            rewrite_journal(journal, own if run.distributed else [done[c] for c in clips if c in done])
        return open_journal(journal), done


def execute(plan: Plan, run, dev, force: bool) -> tuple[_Data, list[str], list[str], dict, int, list[dict]]:
    """Load the weights, score this process's share of the clips left (all of them, locally),
    journaling each; returns ``(data, clips, missing, done, resumed, mine)``."""
    from vsrbench.benchmark.progress import CallProgress, plan_calls, warn_if_slow

    o, st = plan.opts, plan.suite
    check_dir_creatable(plan.final.parent, plan.store_fix)
    journal = journal_path(plan.final, run.rank if run.distributed else None)
    if o.checkpoint:
        from vsrbench.models import load_checkpoint

        load_checkpoint(plan.net, o.checkpoint)  # its error names the file and the model
    net = plan.net.to(dev).eval()
    runner = ModelRunner(net, st.scale, dev, o.dtype, tile=o.tile, batch=o.batch)
    data = _open_data(plan, run)
    clips, missing = _select_clips(st, data.gt, o.limit_clips)
    jf, done = _resume(plan, run, journal, clips, force)
    resumed = len(done)
    with jf:
        todo = [c for c in clips if c not in done]
        todo = split_clips({c: data.gt.num_frames(c) for c in todo}, run.world_size)[run.rank]  # balanced by frames
        scored_of = lambda n: _scored_indices(st, n)  # noqa: E731
        if o.progress and dev.type == "cpu":
            warn_if_slow(net, plan.model, st, data.gt, todo, scored_of, o.batch, o.crop)
        bar = CallProgress(runner, plan_calls(runner.spec, {c: data.gt.num_frames(c) for c in todo}, scored_of,
                                              o.batch), f"{plan.model} on {st.name}", disable=not o.progress)
        ctx = ScoringContext(st, runner, data, o.padding, o.save_outputs, o.temporal, tuple(plan.metrics), o.home)
        _score_clips(ctx, todo, bar, jf, done)
    return data, clips, missing, done, resumed, [done[c] for c in todo]


def merge(plan: Plan, run, dev, data: _Data, clips, missing, done: dict, resumed: int, mine: list) -> Record:
    """Every rank's entries to every rank (each builds the same record) and the record of the suite."""
    parts = run.exchange("scored", {"entries": mine, "device": str(dev),
                                    "device_name": device_name(dev, threads=False)})
    for part in parts:
        for e in part["entries"]:
            done.setdefault(e["clip"], e)
    per_clip = [done[c] for c in clips]
    summary, ps, ss = suite_summary(
        {r["clip"]: [math.inf if f["psnr"] is None else f["psnr"] for f in r["frames"]] for r in per_clip},
        {r["clip"]: [f["ssim"] for f in r["frames"]] for r in per_clip},
    )
    o = plan.opts
    return Record(
        id=plan.ident, model=plan.model, model_spec=plan.info.spec.as_dict(), weights=plan.weights,
        checkpoint={"path": str(o.checkpoint), "sha256": plan.ck_sha} if o.checkpoint else None,
        official_weights=_official_label(plan.model, plan.ck_sha),
        training=plan.training, suite=plan.suite.name, suite_settings=plan.suite.as_dict(), settings=plan.settings,
        code=plan.code, lr_source=data.lr_note, summary=summary, missing_clips=missing,
        temporal=_temporal_block(per_clip), tecogan=_tecogan_block(per_clip),
        runtime=_runtime(plan, run, dev, per_clip), provenance=_provenance_of(run, dev, o.dtype, parts),
        resumed_clips=resumed,
        clips={r["clip"]: {"psnr": json_number(ps["clips"][r["clip"]]), "ssim": ss["clips"][r["clip"]],
                           **{k: r[k] for k in ("tof", "warping_error", "tpsnr", "tecogan") if k in r},
                           "n_frames": r["n_frames"], "frames": r["frames"]} for r in per_clip},
    )


def _temporal_block(per_clip: list[dict]) -> dict:
    means = {}
    for key in ("tof", "warping_error", "tpsnr"):
        vals = [r[key] for r in per_clip if r.get(key) is not None]
        if vals:
            means[key] = float(np.mean(vals))
    if not means:
        return {}
    from vsrbench.metrics import temporal as tm

    return {**means, "definitions": dict(getattr(tm, "TEMPORAL_DEFINITIONS", {}))}


def _provenance_of(run, dev, dtype: str, parts: list[dict]) -> dict:
    prov = _provenance(dev, dtype)
    prov["world_size"] = run.world_size
    if run.distributed:  # the world size changes no number (not in the record's identity): how this record was made
        prov["ranks"] = [{"rank": r, "device": p["device"], "device_name": p["device_name"], "clips": len(p["entries"]),
                          "frames_timed": sum(e["model_frames"] for e in p["entries"]),
                          "model_seconds": sum(e["model_seconds"] for e in p["entries"])} for r, p in enumerate(parts)]
    return prov


def _runtime(plan: Plan, run, dev, per_clip: list[dict]) -> dict:
    secs = sum(r["model_seconds"] for r in per_clip)
    nfr = sum(r["model_frames"] for r in per_clip)
    note = ("model calls only, synchronised, during this evaluation (reading and scoring ran beside them at a "
            "lower CPU priority; see `vsrbench profile` for the model alone at the field's 180x320)")
    if run.distributed:
        note += f"; summed over the {run.world_size} ranks of a torchrun job (time per frame on one device)"
    return {"ms_per_frame": 1000 * secs / nfr if nfr else None, "fps": nfr / secs if secs else None,
            "params": int(plan.n_params), "device": device_name(dev, threads=False), "dtype": plan.opts.dtype,
            "batch": plan.opts.batch, "lr_size": ", ".join(dict.fromkeys(r["lr_size"] for r in per_clip)) if per_clip else None, "frames_timed": nfr,
            "note": note}


def write(plan: Plan, run, record: Record) -> dict:
    """Rank 0 writes the record (atomically) and drops every journal; other ranks drop their own."""
    rec = record.to_dict()  # checked: an unsound record is never written
    journal = journal_path(plan.final, run.rank if run.distributed else None)
    if run.rank:
        run.exchange("written")
        journal.unlink(missing_ok=True)
        return rec
    with writing(plan.final, plan.store_fix):
        write_record(plan.final, rec, journal)
        for j in journal_paths(plan.final):  # journals of other ranks, or of the runs this one resumed
            j.unlink(missing_ok=True)
    run.exchange("written")
    return rec


def evaluate(model: str, suite: str, options: EvaluateOptions | None = None, **kwargs) -> dict:
    """Evaluate registered ``model`` (or ``package.module:factory``) on ``suite``; returns the result
    record (also stored). ``options``: an :class:`~vsrbench.benchmark.options.EvaluateOptions`;
    ``kwargs``: its fields, overriding it (see that class for each option and its flag):

    * ``checkpoint`` (weights loaded strictly; a model with parameters and none is refused unless
      ``random_weights=True``: seeded random weights, ``seed``, a smoke run boards keep apart),
      ``device`` (``auto``: CUDA when available), ``dtype`` (``fp32|fp16|bf16``), ``tile``, ``batch``,
      ``padding``, ``limit_clips``, ``crop`` (a centre crop (H, W) of every GT frame, LR made on the
      fly), ``temporal``, ``metrics`` (``default``, ``tecogan`` or both), ``model_kwargs``,
      ``model_spec`` (ModelSpec fields of a model of your own): these change numbers and are
      recorded in the settings or the identity;
    * ``save_outputs``, ``results`` (default ``$VSRBENCH_HOME/results``), ``force`` (re-score),
      ``cache_lr`` (an LR variant the data root lacks is made once and stored as
      ``datasets.add_variant`` would; never with ``limit_clips`` / ``crop``), ``home``, ``progress``;
    * ``executor`` (:class:`~vsrbench.benchmark.distributed.Executor`): ``local`` (this process scores
      every clip, also inside a torchrun job, e.g. a training rank that validates) or ``torchrun``
      (one rank of the job that started it: its share of the clips, rank 0 writes the one record).
      Never inferred from the environment: ``vsrbench evaluate`` passes ``torchrun`` when torchrun
      started it. A sweep runs ``local`` evaluations on Dask workers.

    Stages: :func:`plan_evaluation` (every check, before any model work) -> :func:`look_up` (the
    stored record) -> :func:`execute` (journaled, resumable; reading and scoring overlap the model's
    calls, :mod:`vsrbench.benchmark.pipeline`) -> :func:`merge` (the ranks' entries, the
    :class:`~vsrbench.benchmark.record.Record`) -> :func:`write`.
    """
    opts = dataclasses.replace(options or EvaluateOptions(), **kwargs).checked()
    with executing(opts.executor) as run:
        dev = run.connect(opts.device)
        if run.rank:
            opts = dataclasses.replace(opts, progress=False)  # other ranks print nothing but errors
        plan = plan_evaluation(model, suite, opts, dev)
        stored, force = look_up(plan, run)
        if stored is not None:
            return stored
        data, clips, missing, done, resumed, mine = execute(plan, run, dev, force)
        return write(plan, run, merge(plan, run, dev, data, clips, missing, done, resumed, mine))


def _score_clips(ctx: ScoringContext, todo: list[str], bar, jf, done: dict) -> None:
    """The clip loop, pipelined (:mod:`vsrbench.benchmark.pipeline`): the next clip is read and the
    previous one scored in background threads while the model runs (:func:`score_clip`, called
    through this module); entries are journaled in clip order. An error (or Ctrl-C) still journals
    the clip whose scoring was under way."""
    runner = ctx.runner

    def emit(pending, rec):
        rec["model_seconds"], rec["model_frames"] = pending.meta["model_seconds"], pending.meta["model_frames"]
        append_journal(jf, rec)
        done[rec["clip"]] = rec

    pending = []  # clips being scored, in clip order
    with Prefetch(ctx.data, todo) as pdata, Scorer(SCORE_WORKERS) as scorer:
        cctx = dataclasses.replace(ctx, data=pdata, scorer=scorer)
        try:
            for clip in todo:
                bar.clip_start(clip)
                res = score_clip(cctx, clip)
                bar.clip_done(clip)
                timing = {"model_seconds": runner.model_seconds, "model_frames": runner.model_frames}
                runner.model_seconds, runner.model_frames = 0.0, 0
                if not hasattr(res, "result"):  # scored in this thread (a plain entry)
                    res = scorer.submit(lambda r=res: r)
                res.meta.update(timing)
                pending.append(res)
                while len(pending) > scorer.workers:  # scored while the model ran the clips after it
                    prev = pending.pop(0)
                    emit(prev, prev.result())
            while pending:
                prev = pending.pop(0)
                emit(prev, prev.result())
        except BaseException:
            finish_pending(pending, emit)
            raise
        finally:  # an error mid-clip still ends the progress line before its message is printed
            bar.close()


def _official_label(model: str, sha256: str | None) -> str | None:
    """``official:<model>/<name>`` when the checkpoint is one of the model's released files (by hash)."""
    from vsrbench.models.weights import official_label

    return official_label(model, sha256)
