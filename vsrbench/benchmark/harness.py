"""The evaluation harness: ``evaluate(model, suite)`` -> one result record, resumable.

Reads data only through :func:`vsrbench.datasets.open_store`; feeds the model by its declared
interface (:mod:`vsrbench.benchmark.feed`); scores per frame by the protocol (uint8 RGB -> BT.601 Y,
PSNR / SSIM with the suite's crop), aggregates per clip then over clips, and adds temporal
consistency (tOF, warping error, temporal-difference PSNR) and runtime. Every completed clip is
appended to a journal (``*.partial.jsonl``, flushed and fsynced), so an interrupted run resumes at
the clip it stopped in; the final record is written atomically.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from vsrbench import __version__
from vsrbench.benchmark.distributed import current_run, journal_path, journal_paths, resumed_entries, split_clips, torchrun_aware
from vsrbench.benchmark.feed import ModelRunner, super_resolve_stvsr, super_resolve_vsr
from vsrbench.benchmark.pipeline import (
    SCORE_WORKERS, Prefetch, Scorer, background_priority, finish_pending,
)
from vsrbench.benchmark.scoring import Protocol, score_frames
from vsrbench.benchmark.suites import Suite, get_suite
from vsrbench.benchmark.results import (
    SCHEMA, append_journal, identity, json_number, make_settings, open_journal, read_record,
    record_path, results_dir, rewrite_journal, suite_summary, warn, write_record,
)
from vsrbench.degradations.spec import modcrop
from vsrbench.errors import VsrbenchError
from vsrbench.devices import device_name, resolve_device
from vsrbench.hashing import sha256_file
from vsrbench.outputs import HOME_FIX, cannot_write, check_dir_creatable, writing

__all__ = ["evaluate", "code_identity", "no_weights_message"]

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


def no_weights_message(model: str) -> str:
    from vsrbench.models.listing import weights_hint

    hint = weights_hint(model)
    return (f"model {model} has no weights: pass --checkpoint FILE" + (f" ({hint})" if hint else "")
            + ", or --random-weights for a smoke run")


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


def _gt_work(clip, data: _Data, gts: list[np.ndarray], wanted: list[int], scale: int, home, gt_cache) -> object:
    """The clip's GT temporal work, cached beside the GT store (``benchmark.gt_cache``)."""
    from vsrbench.benchmark.gt_cache import cached_gt_work

    work, _ = cached_gt_work(gts, store=data.gt, clip=clip, indices=wanted, scale=scale, crop=data.crop, home=home,
                             use_cache=gt_cache)
    return work


class _TemporalJob:
    """A clip's temporal metrics, started while the model still runs the clip: as each SR frame comes
    out (:meth:`frame_ready`, the runner's ``on_frame``) the SR flow of the pair it completes is
    computed on a background thread, and the GT work (read from ``benchmark.gt_cache``, or computed)
    with the first frame; :meth:`start` (the model done with the clip) then finishes tOF, warping
    error and tPSNR on another thread, overlapping the per-frame scoring. The values are those of
    :func:`_temporal` on the whole clip (the same flows of the same frames). ``result()`` gives its
    dict (or raises its error)."""

    def __init__(self, clip, data: _Data, gt: list[np.ndarray], wanted: list[int], scale: int, home, gt_cache):
        self.args = (clip, data, gt, wanted, scale, home, gt_cache)
        self.gts = [modcrop(gt[i], scale) for i in wanted]
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
            clip, data, _, wanted, scale, home, gt_cache = self.args
            self._gt_work = self._pool.submit(_gt_work, clip, data, self.gts, wanted, scale, home, gt_cache)
        self._frames[k] = frame
        for j in (k - 1, k):
            if j >= 0 and j + 1 < len(self.gts) and j not in self._flows and j in self._frames and j + 1 in self._frames:
                self._flows[j] = self._pool.submit(farneback_flow, self._frames[j], self._frames[j + 1])

    def start(self, sr) -> None:
        from concurrent.futures import ThreadPoolExecutor

        clip, data, gt, wanted, scale, home, gt_cache = self.args
        srs = [sr[i] for i in wanted]
        early, flows, self._frames = self._gt_work, dict(self._flows), {}

        def run():
            try:
                work = early.result() if early is not None else _gt_work(clip, data, self.gts, wanted, scale, home,
                                                                        gt_cache)
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


def _tecogan(clip, suite: Suite, data: _Data, srs, gts, n: int, scale: int, runner: ModelRunner, home) -> dict:
    """TecoGAN's protocol on the scored frames (all frames of the clip; see benchmark.tecogan_run)."""
    from vsrbench.benchmark.tecogan_run import tecogan_clip

    if len(srs) != n:
        raise VsrbenchError(f"--metrics tecogan needs every frame of a clip scored; suite {suite.name!r} scores "
                            f"{len(srs)} of {n} (use a suite that scores whole clips, e.g. vid4)")
    gts = [modcrop(g, scale) for g in gts]
    dataset = data.dataset if not data.crop else f"{data.dataset}-crop{data.crop[0]}x{data.crop[1]}"
    return tecogan_clip(srs, gts, dataset=dataset, clip=clip, home=home, device=runner.device)


def _score_clip(clip, suite: Suite, runner: ModelRunner, data: _Data, padding: str, save_outputs, temporal: bool,
                metrics: tuple = ("default",), home=None, scorer: Scorer | None = None, gt_cache: bool | None = None):
    """Read (``data`` may be a :class:`~vsrbench.benchmark.pipeline.Prefetch`), run the model, score.
    With ``scorer`` the scoring (:func:`_score_outputs`) runs in its background thread and a
    :class:`~vsrbench.benchmark.pipeline.Pending` is returned; without, the clip's entry. The clip's
    temporal metrics (:class:`_TemporalJob`, GT work from ``benchmark.gt_cache``) start on background
    threads as the model's SR frames come out."""
    gt = data.gt_frames(clip)
    lr = data.lr_frames(clip, gt)
    wanted = _scored_indices(suite, len(gt))
    scale = data.deg.scale
    tjob = (_TemporalJob(clip, data, gt, wanted, scale, home, gt_cache)
            if temporal and len(wanted) >= 2 and "default" in metrics else None)
    on_frame = tjob.frame_ready if tjob is not None else None
    if runner.spec.task == "stvsr":
        sr = super_resolve_stvsr(runner, lr, wanted, on_frame=on_frame)
    else:
        sr = super_resolve_vsr(runner, lr, wanted, padding, on_frame=on_frame)
    if tjob is not None:
        tjob.start(sr)
    score = functools.partial(_score_outputs, clip, suite, runner, data, gt, lr, sr, wanted, save_outputs, temporal,
                              metrics, home, tjob)
    return scorer.submit(score, clip=clip) if scorer is not None else score()


def _score_outputs(clip, suite: Suite, runner: ModelRunner, data: _Data, gt, lr, sr, wanted, save_outputs,
                   temporal: bool, metrics: tuple = ("default",), home=None, tjob: _TemporalJob | None = None) -> dict:
    """A clip's journal entry from its SR frames: PSNR/SSIM per frame (:func:`scoring.score_frames`:
    float64 torch on CUDA, the NumPy reference elsewhere), TecoGAN / temporal metrics (``tjob``'s),
    saved outputs."""
    scale = data.deg.scale
    frames = score_frames([sr[i] for i in wanted], [gt[i] for i in wanted], Protocol.of_suite(suite, scale),
                          indices=wanted, device=runner.device,
                          labels=lambda i: (f"clip {clip} frame {i} (output)", f"clip {clip} frame {i}"))
    for i in wanted:
        out = sr[i]
        if save_outputs:
            from vsrbench.datasets.frames import write_frame

            from vsrbench.outputs import safe_child

            d = safe_child(save_outputs, clip, what="clip")
            d.mkdir(parents=True, exist_ok=True)
            write_frame(safe_child(d, f"{i:08d}.png"), out)
    rec = {"clip": clip, "frames": frames, "n_frames": len(frames)}
    if "tecogan" in metrics:
        rec["tecogan"] = _tecogan(clip, suite, data, [sr[i] for i in wanted], [gt[i] for i in wanted], len(gt), scale,
                                  runner, home)
    if temporal and len(wanted) >= 2 and "default" in metrics:
        gts = tjob.gts if tjob is not None else [modcrop(gt[i], scale) for i in wanted]
        srs = [sr[i] for i in wanted]
        rec.update(tjob.result() if tjob is not None else _temporal(srs, gts))
        if save_outputs:
            from vsrbench.datasets.frames import write_frame
            from vsrbench.metrics import temporal as tm

            from vsrbench.outputs import safe_child

            write_frame(safe_child(save_outputs, f"{clip.replace('/', '_')}_temporal_profile.png", what="clip"),
                        tm.temporal_profile_pair(srs, gts))
    for f in frames:
        f["psnr"] = json_number(f["psnr"])
    rec["lr_size"] = f"{lr[0].shape[0]}x{lr[0].shape[1]}"
    return rec


def _tecogan_block(per_clip: list[dict]) -> dict:
    """``{"tecogan": suite-level TecoGAN means}`` when the clips carry them, else nothing."""
    if not any("tecogan" in r for r in per_clip):
        return {}
    from vsrbench.benchmark.tecogan_run import tecogan_summary

    return {"tecogan": tecogan_summary({r["clip"]: r["tecogan"] for r in per_clip if "tecogan" in r})}


@torchrun_aware
def evaluate(
    model: str,
    suite: str,
    *,
    checkpoint: str | None = None,
    device: str | None = "auto",
    dtype: str = "fp32",
    tile: int = 0,
    batch: int = 1,
    padding: str = "reflection_circle",
    save_outputs: str | None = None,
    limit_clips: int | None = None,
    crop: tuple[int, int] | None = None,
    results: str | os.PathLike | None = None,
    force: bool = False,
    seed: int = 0,
    random_weights: bool = False,
    temporal: bool = True,
    model_kwargs: dict | None = None,
    home=None,
    cache_lr: bool = True,
    progress: bool = True,
    metrics="default",
    model_spec: dict | None = None,
    executor: str = "local",
) -> dict:
    """Evaluate registered ``model`` on ``suite``; returns the result record (also stored).

    Args:
        checkpoint: weights loaded strictly. A model with parameters and no checkpoint is refused
            unless ``random_weights=True`` (a smoke run: seeded random weights, ``seed``, which the
            record says; boards keep such rows apart as smoke checks).
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ...; dtype ``fp32|fp16|bf16``.
        tile: LR tile size for frames too large for memory (0: whole frames).
        padding: boundary padding for sliding-window models.
        limit_clips: score only the first N clips (recorded in the settings).
        crop: score a centre crop (H, W) of every GT frame, its LR made on the fly (for quick checks
            and CI regression guards; recorded in the settings, so never mixed with full results).
        results: results store (default ``$VSRBENCH_HOME/results``); ``force`` re-scores.
        cache_lr: an LR variant the data root lacks is made from the GT store once and kept as a
            store (``datasets.add_variant``); False, or with ``limit_clips`` / ``crop``, it is made
            on the fly and not kept. The record's ``lr_source`` says which.
        metrics: ``default`` (the suite's protocol: tOF, warping error, tPSNR), ``tecogan`` (TecoGAN's
            ``metrics.py``: tOF, LPIPS, tLP on frames 2..n-3, crop_8x8; needs LPIPS weights, see
            ``benchmark.lpips_weights``), or both (``default,tecogan``). PSNR/SSIM are always scored.
        model_spec: for ``model='package.module:factory'`` (a model of your own, see
            ``vsrbench.models.custom``): ModelSpec fields overriding the factory's ``vsrbench_spec``;
            the record keeps the name as given, the resolved ``model_spec`` and the factory's file hash.
        executor: ``local`` (this process scores every clip, also when it is one process of a torchrun
            job, e.g. a training rank that validates) or ``torchrun`` (this process is one rank of the
            torchrun job that started it: it scores its share of the clips and rank 0 writes the one
            record, see :mod:`vsrbench.benchmark.distributed`). Never inferred from the environment:
            ``vsrbench evaluate`` passes ``torchrun`` when torchrun started it.

    Reading the next clip and scoring the previous one overlap the model's calls
    (:mod:`vsrbench.benchmark.pipeline`).
    """
    import torch

    from vsrbench.benchmark.progress import CallProgress, plan_calls, warn_if_slow
    from vsrbench.models import create_model, get_model_info
    from vsrbench.numeric import check_evaluate_numbers

    nums = check_evaluate_numbers(tile=tile, batch=batch, seed=seed, limit_clips=limit_clips, crop=crop)
    tile, batch, seed, limit_clips, crop = (nums[k] for k in ("tile", "batch", "seed", "limit_clips", "crop"))
    st = get_suite(suite)
    info = get_model_info(model, model_spec, scale=st.scale)  # a factory taking scale: the suite's
    if st.scale not in info.spec.scales:
        raise VsrbenchError(
            f"model {model!r} supports {', '.join('x%d' % s for s in info.spec.scales)}; suite {suite!r} is x{st.scale}"
        )
    weights = "none"
    ck_sha = None
    if checkpoint:
        if not Path(checkpoint).is_file():
            raise VsrbenchError(f"{checkpoint}: no such checkpoint file")
        ck_sha = sha256_file(checkpoint)
        weights = f"sha256:{ck_sha}"
    from vsrbench.models.provenance import read_run_provenance  # a `vsrbench train` run's run.json, if it is this file's

    training = read_run_provenance(checkpoint, ck_sha, model) if checkpoint else None
    from vsrbench.benchmark.tecogan_run import parse_metrics

    metric_sets = parse_metrics(metrics)
    settings = make_settings(dtype=dtype, tile=tile, batch=batch, padding=padding, limit_clips=limit_clips, crop=crop,
                             model_kwargs=model_kwargs, temporal=temporal, save_outputs=save_outputs,
                             metrics=metric_sets)
    run = current_run()  # this process's torchrun job, or None
    dev = run.connect(device) if run else resolve_device(device)
    if run and run.rank:
        progress = False  # other ranks print nothing but errors
    torch.manual_seed(seed)
    net = create_model(info, scale=st.scale, **(model_kwargs or {}))
    n_params = sum(p.numel() for p in net.parameters())
    if not checkpoint:
        if n_params and not random_weights:
            raise VsrbenchError(no_weights_message(model))
        weights = f"random(seed={seed})" if n_params else "none"
    code = code_identity(_model_file(net), *getattr(net, "source_files", ()))
    ident = identity(model, weights, st, settings, code, spec=info.spec.as_dict() if ":" in model else None)
    root = results_dir(results)
    final = record_path(root, suite, model, ident)
    journal = journal_path(final, run.rank if run else None)
    if save_outputs:
        check_dir_creatable(save_outputs, "choose another --save-outputs folder")
    stored = None
    if final.exists() and not force:
        rec, why = read_record(final)
        if why is None and (not save_outputs or _outputs_present(rec, save_outputs)):
            rec["skipped"] = True
            stored = rec
        elif why is not None and not (run and run.rank):
            warn(f"the stored result {final} is damaged ({why}); scoring again")
        force = stored is None  # damaged, or scored but the outputs asked for are not on disk: score again
    if run:  # rank 0's view of the store decides for every rank
        stored, force = run.from_rank0("stored", [stored, force])
    if stored is not None:
        return stored
    store_fix = "pass --results DIR or " + HOME_FIX
    check_dir_creatable(final.parent, store_fix)
    if force:
        with writing(journal, store_fix):
            for j in journal_paths(final) + [journal]:
                j.unlink(missing_ok=True)
    if checkpoint:
        from vsrbench.models import load_checkpoint

        load_checkpoint(net, checkpoint)  # its error names the file and the model
    net = net.to(dev).eval()
    runner = ModelRunner(net, st.scale, dev, dtype, tile=tile, batch=batch)
    if "tecogan" in metric_sets:  # fail before any model work when no LPIPS weights can be had
        from vsrbench.benchmark.lpips_weights import load_lpips

        if st.frames == "centre":
            raise VsrbenchError(f"--metrics tecogan needs whole clips scored; suite {suite!r} scores the centre "
                                "frame only")

        load_lpips(home=home, device=dev, progress=progress)
    if crop and (crop[0] % st.scale or crop[1] % st.scale):
        raise VsrbenchError(f"--crop {crop[0]}x{crop[1]} must be a multiple of the suite's scale x{st.scale}")
    if run and run.rank:  # rank 0 first: it makes (and caches) an LR variant the data root lacks
        run.exchange("data")
    data = _Data(st, home=home, crop=tuple(crop) if crop else None, cache_lr=cache_lr and not limit_clips,
                 progress=progress)
    if run and not run.rank:
        run.exchange("data")
    clips, missing = _select_clips(st, data.gt, limit_clips)

    own, done = resumed_entries(final, journal, clips, run)  # every journal of the record, of any rank
    resumed = len(done)
    with writing(journal, store_fix):
        final.parent.mkdir(parents=True, exist_ok=True)
        if done or journal.exists():  # rewrite the journal without damaged lines
            rewrite_journal(journal, own if run else [done[c] for c in clips if c in done])
        jf = open_journal(journal)
    lr_size = None
    with jf:
        todo = [c for c in clips if c not in done]
        if run:  # this rank's share, balanced by frame count
            todo = split_clips({c: data.gt.num_frames(c) for c in todo}, run.world_size)[run.rank]
        scored_of = lambda n: _scored_indices(st, n)  # noqa: E731
        if progress and dev.type == "cpu":
            warn_if_slow(net, model, st, data.gt, todo, scored_of, batch, crop)
        bar = CallProgress(runner, plan_calls(runner.spec, {c: data.gt.num_frames(c) for c in todo}, scored_of, batch),
                           f"{model} on {suite}", disable=not progress)
        _score_clips(todo, st, runner, data, padding, save_outputs, temporal, tuple(metric_sets), home, bar, jf, done)
    mine = [done[c] for c in todo]
    if run:  # every rank's entries to every rank: each builds the same record, rank 0 writes it
        parts = run.exchange("scored", {"entries": mine, "device": str(dev), "device_name": device_name(dev, threads=False)})
        for part in parts:
            for e in part["entries"]:
                done.setdefault(e["clip"], e)
    per_clip = [done[c] for c in clips]
    lr_size = ", ".join(dict.fromkeys(r["lr_size"] for r in per_clip)) if per_clip else None  # Vid4: three sizes

    def fr(v):
        return math.inf if v is None else v

    summary, ps, ss = suite_summary(
        {r["clip"]: [fr(f["psnr"]) for f in r["frames"]] for r in per_clip},
        {r["clip"]: [f["ssim"] for f in r["frames"]] for r in per_clip},
    )
    temporal_means = {}
    for key in ("tof", "warping_error", "tpsnr"):
        vals = [r[key] for r in per_clip if r.get(key) is not None]
        if vals:
            temporal_means[key] = float(np.mean(vals))
    secs = sum(r["model_seconds"] for r in per_clip)
    nfr = sum(r["model_frames"] for r in per_clip)
    prov = _provenance(dev, dtype)
    prov["world_size"] = run.world_size if run else 1
    if run:  # the world size changes no number (not in the record's identity): how this record was made
        prov["ranks"] = [{"rank": r, "device": p["device"], "device_name": p["device_name"], "clips": len(p["entries"]),
                          "frames_timed": sum(e["model_frames"] for e in p["entries"]),
                          "model_seconds": sum(e["model_seconds"] for e in p["entries"])} for r, p in enumerate(parts)]
    runtime = {
        "ms_per_frame": 1000 * secs / nfr if nfr else None,
        "fps": nfr / secs if secs else None,
        "params": int(n_params),
        "device": prov["device_name"],
        "dtype": dtype,
        "batch": batch,
        "lr_size": lr_size,
        "frames_timed": nfr,
        "note": ("model calls only, synchronised, during this evaluation (reading and scoring ran beside them at a "
                 "lower CPU priority; see `vsrbench profile` for the model alone at the field's 180x320)"),
    }
    if run:
        runtime["note"] += f"; summed over the {run.world_size} ranks of a torchrun job (time per frame on one device)"
    definitions = {}
    if temporal_means:
        from vsrbench.metrics import temporal as tm

        definitions = dict(getattr(tm, "TEMPORAL_DEFINITIONS", {}))
    record = {
        "schema": SCHEMA,
        "id": ident,
        "complete": True,
        "model": model,
        "model_spec": info.spec.as_dict(),
        "weights": weights,
        "checkpoint": {"path": str(checkpoint), "sha256": ck_sha} if checkpoint else None,
        "official_weights": _official_label(model, ck_sha if checkpoint else None),
        "training": training,
        "suite": st.name,
        "suite_settings": st.as_dict(),
        "settings": settings,
        "code": code,
        "lr_source": data.lr_note,
        **summary,
        "missing_clips": missing,
        "temporal": {**temporal_means, "definitions": definitions} if temporal_means else {},
        **_tecogan_block(per_clip),
        "runtime": runtime,
        "provenance": prov,
        "resumed_clips": resumed,
        "clips": {
            r["clip"]: {
                "psnr": json_number(ps["clips"][r["clip"]]),
                "ssim": ss["clips"][r["clip"]],
                **{k: r[k] for k in ("tof", "warping_error", "tpsnr", "tecogan") if k in r},
                "n_frames": r["n_frames"],
                "frames": r["frames"],
            }
            for r in per_clip
        },
    }
    if run and run.rank:  # rank 0 writes the record; then each rank drops its journal
        run.exchange("written")
        journal.unlink(missing_ok=True)
        return record
    with writing(final, store_fix):
        write_record(final, record, journal)
        for j in journal_paths(final):  # journals of other ranks, or of the runs this one resumed
            j.unlink(missing_ok=True)
    if run:
        run.exchange("written")
    return record


def _score_clips(todo, st, runner, data, padding, save_outputs, temporal, metrics, home, bar, jf, done) -> None:
    """The clip loop, pipelined (:mod:`vsrbench.benchmark.pipeline`): the next clip is read and the
    previous one scored in background threads while the model runs; entries are journaled in clip
    order. An error (or Ctrl-C) still journals the clip whose scoring was under way."""

    def emit(pending, rec):
        rec["model_seconds"], rec["model_frames"] = pending.meta["model_seconds"], pending.meta["model_frames"]
        append_journal(jf, rec)
        done[rec["clip"]] = rec

    pending = []  # clips being scored, in clip order
    with Prefetch(data, todo) as pdata, Scorer(SCORE_WORKERS) as scorer:
        try:
            for clip in todo:
                bar.clip_start(clip)
                res = _score_clip(clip, st, runner, pdata, padding, save_outputs, temporal, metrics, home, scorer)
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
