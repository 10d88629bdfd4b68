"""The results store with concurrent writers: 4 processes (and 4 threads) writing records and
journal lines into one store never tear or lose one; with ``replace=False`` exactly one writer of a
record wins and the others find it scored."""

import json
import multiprocessing as mp
import threading
from pathlib import Path

from vsrbench.benchmark.results import (
    append_journal, load_results, lock_path, open_journal, read_journal, read_record, record_path, write_record,
)

WRITERS = 4


def _record(model: str, writer: int, n_clips: int = 400, ident: str = "0" * 16) -> dict:
    """A sound record, ~50 KB, whose numbers say which writer made it."""
    clips = {f"clip{i:04d}": {"psnr": 20.0 + writer + i / 1000, "ssim": 0.5, "n_frames": 1,
                              "frames": [{"gt_index": 0, "psnr": 20.0 + writer, "ssim": 0.5}]} for i in range(n_clips)}
    return {"schema": 1, "id": ident, "complete": True, "model": model, "suite": "demo", "weights": "none",
            "psnr": 20.0 + writer, "ssim": 0.5, "n_clips": n_clips, "n_frames": n_clips, "clips": clips,
            "writer": writer}


def _entry(writer: int, i: int) -> dict:
    frames = [{"gt_index": k, "psnr": 30.0 + writer, "ssim": 0.9} for k in range(120)]  # ~5 KB a line
    return {"clip": f"w{writer}-{i}", "frames": frames, "n_frames": len(frames), "model_frames": len(frames),
            "model_seconds": 0.01, "lr_size": "8x8"}


def _writer(root: str, writer: int, start, rounds: int) -> None:
    root = Path(root)
    start.wait()
    jf = open_journal(root / "demo" / "shared-0000000000000000.partial.jsonl")
    with jf:
        for i in range(rounds):
            # one record all writers rewrite, and one of its own per round
            write_record(record_path(root, "demo", "hot", "0" * 16), _record("hot", writer))
            write_record(record_path(root, "demo", f"w{writer}", f"{i:016x}"), _record(f"w{writer}", writer, 50, f"{i:016x}"))
            append_journal(jf, _entry(writer, i))


def _first_wins(root: str, writer: int, start, out) -> None:
    start.wait()
    won = [write_record(record_path(Path(root), "demo", "race", f"{k:016x}"), _record("race", writer), replace=False)
           for k in range(8)]
    out.put((writer, won))


def _start(target, args_of):
    ctx = mp.get_context("fork")  # Linux (the store's locks are fcntl's): no re-import per writer
    start = ctx.Barrier(WRITERS)
    q = ctx.Queue()
    procs = [ctx.Process(target=target, args=args_of(w, start, q)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    return procs, q


def test_four_writer_processes_lose_and_tear_nothing(tmp_path):
    (tmp_path / "demo").mkdir()
    rounds = 25
    procs, _ = _start(_writer, lambda w, start, q: (str(tmp_path), w, start, rounds))
    hot = record_path(tmp_path, "demo", "hot", "0" * 16)
    reads = 0
    while any(p.is_alive() for p in procs):  # read while they write: never a torn record
        if hot.exists():
            why = read_record(hot)[1]
            assert why is None, why
            reads += 1
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert reads > 0
    recs = load_results(tmp_path)
    own = {(r["model"], r["id"]) for r in recs if r["model"] != "hot"}
    assert own == {(f"w{w}", f"{i:016x}") for w in range(WRITERS) for i in range(rounds)}  # none lost
    (hot_rec,) = [r for r in recs if r["model"] == "hot"]
    assert hot_rec == _record("hot", hot_rec["writer"])  # one writer's whole record
    lines = (tmp_path / "demo" / "shared-0000000000000000.partial.jsonl").read_text().splitlines()
    assert len(lines) == WRITERS * rounds  # every appended line, whole
    entries = read_journal(tmp_path / "demo" / "shared-0000000000000000.partial.jsonl")
    assert sorted(e["clip"] for e in entries) == sorted(f"w{w}-{i}" for w in range(WRITERS) for i in range(rounds))
    assert not [p.name for p in (tmp_path / "demo").iterdir() if ".tmp" in p.name]  # no temp file left
    assert lock_path(hot).exists() and lock_path(hot).stat().st_size == 0


def test_same_record_first_writer_wins_others_find_it_scored(tmp_path):
    (tmp_path / "demo").mkdir()
    procs, q = _start(_first_wins, lambda w, start, q: (str(tmp_path), w, start, q))
    results = dict(q.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    for k in range(8):
        winners = [w for w, won in results.items() if won[k]]
        assert len(winners) == 1, (k, winners)  # one wrote it; the other three found it scored
        rec, why = read_record(record_path(tmp_path, "demo", "race", f"{k:016x}"))
        assert why is None and rec["writer"] == winners[0]


def test_threads_of_one_process_share_no_temp_file(tmp_path):
    """Same process id: the temporary names must still differ, or one thread renames another's half file."""
    (tmp_path / "demo").mkdir()
    final = record_path(tmp_path, "demo", "t", "0" * 16)
    errors = []

    def run(w):
        try:
            for _ in range(30):
                write_record(final, _record("t", w))
        except Exception as e:  # noqa: BLE001 - reported by the assert below
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rec = json.loads(final.read_text())
    assert rec == _record("t", rec["writer"])
