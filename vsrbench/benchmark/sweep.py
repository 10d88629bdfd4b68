"""Sweeps: every (model, weights, suite) of a grid evaluated as one task on a Dask cluster.

:func:`sweep` plans the tasks (:func:`plan_tasks`: names and checkpoints checked on the client before
anything is submitted), connects to ``scheduler`` (``local:N`` or an address, see
:mod:`vsrbench.cluster`) and runs :func:`~vsrbench.benchmark.harness.evaluate` once per task on the
workers:

* GPU: when any worker declares a ``GPU`` resource (``dask worker --resources GPU=1``), every task
  asks for ``{"GPU": 1}``, so such a worker runs one evaluation at a time (and CPU-only workers of
  that scheduler get none); otherwise tasks go to any worker thread.
* Where records land: the client writes a probe file with a random token into the results store;
  a worker that reads the same token at the same path shares the store and ``evaluate`` writes
  the record there itself (under the store's per-record lock, so concurrent writers never tear or
  lose a record). A worker that does not see it (the path is not shared) evaluates into a temporary
  store seeded with the client's records of that model and suite (so a scored one is still a
  skip) and returns the record; the client checks it and writes it into the store.
* Scored tasks are skipped: ``evaluate`` finds its record (same identity: model, weights, suite,
  settings, code) and returns it at once, marked ``skipped``.
* Failures: a user error (``VsrbenchError``: no weights, missing data, ...) is reported once and
  not retried; any other exception is retried ``retries`` times, and a task whose worker died is
  rescheduled by the scheduler (``distributed.scheduler.allowed-failures``, default 3). Each
  failed task is one line naming it and the fix; the others still run.

Data and checkpoints must be reachable by the workers at the same paths (a shared file system, or
prepared on each worker machine under its ``VSRBENCH_HOME``).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from vsrbench.benchmark.options import PASS_THROUGH as _OPTIONS_PASSED
from vsrbench.errors import VsrbenchError

__all__ = ["SweepTask", "SweepResult", "plan_tasks", "sweep", "run_task"]

#: evaluate() options a sweep passes through (the rest are the sweep's own or per task): EvaluateOptions'
#: fields marked ``sweep="pass"``
PASS_THROUGH = _OPTIONS_PASSED
_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class SweepTask:
    model: str
    suite: str
    checkpoint: str | None = None

    @property
    def label(self) -> str:
        w = f" ({Path(self.checkpoint).name})" if self.checkpoint else ""
        return f"{self.model}{w} on {self.suite}"


@dataclass
class SweepResult:
    records: list[dict] = field(default_factory=list)  # one per task that ran or was skipped
    failures: list[tuple[SweepTask, str]] = field(default_factory=list)  # (task, one-line reason and fix)
    unsupported: list[tuple[SweepTask, str]] = field(default_factory=list)  # pairs left out (scale)
    scored: int = 0
    skipped: int = 0
    shared: bool | None = None  # whether the workers wrote into the store themselves
    gpu: bool = False  # whether tasks asked for a GPU resource
    seconds: float = 0.0


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]
    return [str(x).strip() for x in v if str(x).strip()]


def plan_tasks(models, suites, checkpoints=None,
               model_spec: dict | None = None) -> tuple[list[SweepTask], list[tuple[SweepTask, str]]]:
    """The tasks of a grid and the pairs left out (a model that does not support a suite's scale).

    ``models`` / ``suites``: names (lists or comma-separated). ``checkpoints``: ``{model: path or
    [paths]}`` (each path one task per suite); a model not named there runs without a checkpoint.
    ``model_spec``: interface overrides for the models of your own (``package.module:factory``)
    among ``models``; an error when every model is registered.
    Unknown names and missing checkpoint files raise here, before any task runs."""
    from vsrbench.benchmark.suites import get_suite
    from vsrbench.models import get_model_info
    from vsrbench.models.custom import is_custom_name, refuse_overrides

    models, suites = list(dict.fromkeys(_as_list(models))), list(dict.fromkeys(_as_list(suites)))
    if not models:
        raise VsrbenchError("no models to sweep: pass --models a,b (names from `vsrbench models`)")
    if not suites:
        raise VsrbenchError("no suites to sweep: pass --suites x,y (names from `vsrbench suites`)")
    if model_spec and not any(is_custom_name(m) for m in models):
        refuse_overrides(models[0], model_spec)
    sts = {s: get_suite(s) for s in suites}
    # per suite: a model of your own whose factory takes scale is built at each suite's
    infos = {(m, s): get_model_info(m, model_spec if is_custom_name(m) else None, scale=sts[s].scale)
             for m in models for s in suites}
    ck = {}
    for m, paths in (checkpoints or {}).items():
        if m not in models:
            raise VsrbenchError(f"--checkpoints names model {m!r}, which is not in --models ({', '.join(models)}); "
                                f"add it to --models or drop its checkpoint")
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        for p in paths:
            if not Path(p).is_file():
                raise VsrbenchError(f"--checkpoints {m}={p}: no such checkpoint file")
        ck[m] = list(dict.fromkeys(str(Path(p).resolve()) for p in paths))
    tasks, left_out = [], []
    for m in models:
        for w in ck.get(m) or [None]:
            for s in suites:
                t = SweepTask(m, s, w)
                scales = infos[m, s].spec.scales
                if sts[s].scale not in scales:
                    left_out.append((t, f"{m} supports {', '.join(f'x{x}' for x in scales)}; {s} is x{sts[s].scale}"))
                else:
                    tasks.append(t)
    return tasks, left_out


def _seed_store(tmp: Path, suite: str, seeds: dict[str, str]) -> None:
    from vsrbench.outputs import safe_child

    d = safe_child(tmp, suite, what="suite")
    d.mkdir(parents=True, exist_ok=True)
    for name, text in seeds.items():
        safe_child(d, Path(name).name, what="record").write_text(text, encoding="utf-8")


def run_task(task: SweepTask, results: str, probe, seeds: dict[str, str], options: dict) -> dict:
    """One sweep task, on a worker: ``{"record": rec, "shared": bool}`` or ``{"error": message}``
    (a ``VsrbenchError``: a user error, not retried). Other exceptions propagate (Dask retries).

    ``probe``: True (``results`` is shared: write there), False (not shared: evaluate into a
    temporary store seeded with ``seeds`` and return the record), or ``(file name, token)``: shared
    when ``results/<file name>`` holds ``token`` here too."""
    import tempfile

    from vsrbench.benchmark.harness import evaluate
    from vsrbench.models.custom import is_custom_name

    if not is_custom_name(task.model):  # interface flags describe the models of your own only
        options = {k: v for k, v in options.items() if k != "model_spec"}
    if isinstance(probe, tuple):
        try:
            shared = (Path(results) / probe[0]).read_text() == probe[1]
        except (OSError, UnicodeDecodeError):
            shared = False
    else:
        shared = bool(probe)
    try:
        if shared:
            rec = evaluate(task.model, task.suite, checkpoint=task.checkpoint, results=results, progress=False,
                           **options)
        else:
            with tempfile.TemporaryDirectory(prefix="vsrbench-sweep-") as tmp:
                _seed_store(Path(tmp), task.suite, seeds)
                rec = evaluate(task.model, task.suite, checkpoint=task.checkpoint, results=tmp, progress=False,
                               **options)
    except VsrbenchError as e:
        return {"error": str(e)}
    return {"record": rec, "shared": shared}


def _client_records(root: Path, task: SweepTask) -> dict[str, str]:
    """The sound records of ``task``'s model and suite in the client's store (file name -> text)."""
    from vsrbench.benchmark.results import read_record

    out = {}
    from vsrbench.benchmark.results import record_path

    pattern = record_path(root, task.suite, task.model, "*")
    for p in sorted(pattern.parent.glob(pattern.name)):
        rec, why = read_record(p)
        if why is None and rec.get("model") == task.model:
            out[p.name] = p.read_text(encoding="utf-8")
    return out


def _store_returned(root: Path, task: SweepTask, rec: dict) -> None:
    """Write a record a worker returned (not in a shared store) into the client's store."""
    from vsrbench.benchmark.results import record_path, record_problem, write_record
    from vsrbench.outputs import RESULTS_FIX, ensure_dir, writing

    why = record_problem(rec)
    if why is None and (rec.get("model") != task.model or rec.get("suite") != task.suite):
        why = f"it is {rec.get('model')!r} on {rec.get('suite')!r}"
    if why is None and not (isinstance(rec.get("id"), str) and _ID.fullmatch(rec["id"])):
        why = f"its id {rec.get('id')!r} is not a record id"
    if why:
        raise VsrbenchError(f"{task.label}: the worker returned a record that is not sound ({why}); check that the "
                            "workers run the same vsrbench version as this client")
    final = record_path(root, task.suite, task.model, rec["id"])
    fix = RESULTS_FIX
    ensure_dir(final.parent, fix)
    with writing(final, fix):
        write_record(final, {k: v for k, v in rec.items() if k != "skipped"}, replace=False)


def _failure_line(task: SweepTask, exc: BaseException, attempts: int) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return (f"{task.label}: its worker died on each try (out of memory? see the worker's log); free memory or use "
                f"a larger machine, then rerun the sweep (scored tasks are skipped)")
    msg = (str(exc).splitlines() or [""])[0][:300]
    return (f"{task.label}: failed after {attempts} attempt(s): {name}: {msg}; see the worker's log, fix it and rerun "
            f"the sweep (scored tasks are skipped)")


def sweep(models, suites, checkpoints=None, scheduler: str = "local:1", *, results=None, retries: int = 2,
          shared: bool | None = None, report=None, timeout: float = 10.0, wait_workers: float = 120.0,
          **evaluate_kwargs) -> SweepResult:
    """Evaluate every (model, weights, suite) of the grid as one Dask task; returns a :class:`SweepResult`.

    Args:
        models, suites: names (lists or comma-separated strings).
        checkpoints: ``{model: path or [paths]}``; each checkpoint is its own task per suite.
        scheduler: ``local:N`` (a LocalCluster of N one-thread worker processes) or a scheduler
            address ``tcp://HOST:PORT`` (see :mod:`vsrbench.cluster`).
        results: the results store (default ``$VSRBENCH_HOME/results`` of this process).
        retries: extra attempts for a task that raised an unexpected exception.
        shared: whether the workers see ``results`` (None: detected per task with a probe file;
            False: records always come back to this process, which writes them).
        report: called as ``report(task, outcome)`` when a task ends; outcome is the record, or an
            error line (str).
        evaluate_kwargs: passed to ``evaluate`` (device, dtype, crop, limit_clips, random_weights,
            temporal, force, ...). ``save_outputs`` is refused (tasks would share one folder).
    """
    from vsrbench.benchmark.results import results_dir
    from vsrbench.cluster import connect, has_gpu_workers
    from vsrbench.outputs import RESULTS_FIX, atomic_write_text, ensure_dir

    unknown = sorted(set(evaluate_kwargs) - set(PASS_THROUGH))
    if unknown:
        raise VsrbenchError(f"sweep does not pass {', '.join(unknown)} to evaluate (it takes {', '.join(PASS_THROUGH)})")
    from vsrbench.benchmark.options import EvaluateOptions
    from vsrbench.numeric import non_negative_int

    retries = non_negative_int(retries, "retries")
    options = {k: v for k, v in evaluate_kwargs.items() if v is not None}
    checked = EvaluateOptions(**options).checked()  # evaluate's own checks, before any task is sent
    options = {k: getattr(checked, k) for k in options}
    t0 = time.time()
    tasks, left_out = plan_tasks(models, suites, checkpoints, options.get("model_spec"))
    root = results_dir(results).expanduser().resolve()
    ensure_dir(root, RESULTS_FIX)
    out = SweepResult(unsupported=left_out)
    if not tasks:
        out.seconds = time.time() - t0
        return out
    probe, probe_file = bool(shared), None
    if shared is None:
        token = secrets.token_hex(16)
        probe_file = root / f".sweep-probe-{token[:12]}"
        atomic_write_text(probe_file, token, RESULTS_FIX)
        probe = (probe_file.name, token)
    try:
        with connect(scheduler, timeout=timeout, wait_workers=wait_workers) as client:
            out.gpu = has_gpu_workers(client)
            resources = {"GPU": 1} if out.gpu else None
            futures = {}
            for t in tasks:
                seeds = {} if shared else _client_records(root, t)
                fut = client.submit(run_task, t, str(root), probe, seeds, options, retries=retries,
                                    resources=resources, pure=False, key=_key(t))
                futures[fut] = t
            _collect(futures, root, retries, out, report)
    finally:
        if probe_file is not None:
            probe_file.unlink(missing_ok=True)
    out.seconds = time.time() - t0
    return out


def _key(t: SweepTask) -> str:
    return f"vsrbench-sweep-{t.model}-{t.suite}-{secrets.token_hex(4)}"


def _collect(futures: dict, root: Path, retries: int, out: SweepResult, report) -> None:
    from distributed import as_completed

    for fut in as_completed(list(futures)):
        t = futures[fut]
        try:
            res = fut.result()
        except Exception as e:  # noqa: BLE001 - after the retries, or the worker died too often: one line
            line = _failure_line(t, e, retries + 1)
            out.failures.append((t, line))
            if report:
                report(t, line)
            continue
        if "error" in res:
            line = f"{t.label}: {res['error']}"
            out.failures.append((t, line))
            if report:
                report(t, line)
            continue
        rec = res["record"]
        out.shared = bool(out.shared) or res["shared"]
        if rec.get("skipped"):
            out.skipped += 1
        else:
            if not res["shared"]:
                try:
                    _store_returned(root, t, rec)
                except VsrbenchError as e:
                    out.failures.append((t, str(e)))
                    if report:
                        report(t, str(e))
                    continue
            out.scored += 1
        out.records.append(rec)
        if report:
            report(t, rec)
