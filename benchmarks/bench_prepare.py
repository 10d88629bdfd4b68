"""Packing throughput of ``prepare`` vs. the PNG codec limit, on the Vimeo-90K samples in shared/.

Prints frames/s for packing GT + bi:x4 into LMDB with 1 and 2 workers, beside the raw PNG
decode + encode rate of the same GT frames in one process (the codec limit), and their ratio.
Usage: ``VSRBENCH_SHARED=../shared python benchmarks/bench_prepare.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from vsrbench.datasets.frames import encode_png, read_frame


def make_source(shared: Path, tmp: Path) -> Path:
    """All 16 sample clips: train list = 00001/*, test list = 00002/* (sequences symlinked)."""
    seq = shared / "data" / "vimeo90k" / "vimeo_septuplet" / "sequences"
    root = tmp / "src" / "vimeo_septuplet"
    root.mkdir(parents=True)
    (root / "sequences").symlink_to(seq)
    clips = sorted(f"{a.name}/{b.name}" for a in seq.iterdir() for b in a.iterdir())
    (root / "sep_trainlist.txt").write_text("\n".join(c for c in clips if c.startswith("00001")) + "\n")
    (root / "sep_testlist.txt").write_text("\n".join(c for c in clips if c.startswith("00002")) + "\n")
    return root


def _codec(files: list[str]) -> int:
    for f in files:
        encode_png(read_frame(f), 1)
    return len(files)


def codec_rate(seq: Path, repeat: int, workers: int = 1) -> float:
    """PNG decode + encode (level 1) of every GT frame, split by clip over ``workers`` processes."""
    from joblib import Parallel, delayed

    clips = sorted(seq.glob("*/*"))
    tasks = [[str(f) for f in sorted(c.glob("im*.png"))] for c in clips]
    n = sum(len(t) for t in tasks)
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        if workers == 1:
            for files in tasks:
                _codec(files)
        else:
            Parallel(n_jobs=workers, batch_size=1)(delayed(_codec)(files) for files in tasks)
        best = max(best, n / (time.perf_counter() - t))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=2, help="repeats per measurement (best is kept)")
    ap.add_argument("--variants", default="bi:x4", help="LR variants packed beside GT (default bi:x4)")
    args = ap.parse_args()
    shared = Path(os.environ.get("VSRBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    from vsrbench.datasets import prepare

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        src = make_source(shared, tmp)
        n_frames = 7 * sum(1 for _ in (src / "sequences").glob("*/*"))
        print(f"frames: {n_frames} Vimeo-90K GT frames (448x256), variants: GT + {args.variants}, "
              f"{os.cpu_count()} CPUs")
        limit1 = None
        for workers in (1, 2):
            codec_rate(src / "sequences", 1, workers)  # warm-up (process pool, page cache)
            limit = codec_rate(src / "sequences", args.repeat, workers)
            limit1 = limit1 or limit
            best = 0.0
            for r in range(args.repeat):
                home = tmp / f"home-{workers}-{r}"
                t = time.perf_counter()
                prepare("vimeo90k", backend="lmdb", variants=args.variants, source=src, workers=workers,
                        home=home, progress=False, quiet=True)
                best = max(best, n_frames / (time.perf_counter() - t))
                shutil.rmtree(home)
            print(f"{workers} worker(s): prepare --lmdb {best:6.1f} frames/s | codec limit (PNG decode+encode, "
                  f"{workers} process(es)) {limit:6.1f} frames/s | ratio {best / limit:5.1%} "
                  f"(vs the 1-process codec limit: {best / limit1:5.1%})")

if __name__ == "__main__":
    main()
