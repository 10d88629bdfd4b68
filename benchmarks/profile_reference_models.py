"""Runtime and size of the reference models at the field's LR size (180x320), beside each paper's
stated figures (BasicVSR Table 1, as in survey seed 002 Table 1: ms per frame at LR 180x320 on the
authors' GPU, parameters in millions).

    python benchmarks/profile_reference_models.py [--device cpu|cuda] [--repeats 3] [--models basicvsr,...]

Models that are not registered in this checkout are listed as missing (they arrive with their own
branches); the table is `vsrbench profile`'s, one row per model, then the paper's numbers.
"""

from __future__ import annotations

import argparse

#: model -> (paper's params in M, paper's runtime in ms/frame at LR 180x320, source)
PAPER = {
    "basicvsr": (6.3, 63, "BasicVSR Table 1"),
    "iconvsr": (8.7, 70, "BasicVSR Table 1"),
    "basicvsrpp": (7.3, 77, "BasicVSR++ Table 1"),
    "edvr-m": (3.3, 118, "BasicVSR Table 1"),
    "edvr-l": (20.6, 378, "BasicVSR Table 1"),
    "duf-52l": (5.8, 974, "BasicVSR Table 1"),
    "duf-28l": (None, None, ""),
    "duf-16l": (None, None, ""),
    "tof": (1.4, None, "TOFlow (Xue et al. IJCV 2019)"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default=",".join(PAPER))
    args = ap.parse_args()

    from vsrbench.benchmark.runtime import format_runtime_table, profile_model
    from vsrbench.models import create_model, get_model_info, list_models

    have = set(list_models())
    rows, missing = [], []
    for name in args.models.split(","):
        if name not in have:
            missing.append(name)
            continue
        info = get_model_info(name)
        net = create_model(info, scale=info.spec.scales[0]).eval()
        rows.append(profile_model(net, (180, 320), device=args.device, dtype="fp32", repeats=args.repeats))
        p_m, ms, _ = PAPER.get(name, (None, None, ""))
        got = rows[-1]
        print(f"{name}: {got.get('ms_per_frame', float('nan')):.0f} ms/frame on {args.device} "
              f"(paper: {ms if ms is not None else '-'} ms/frame on its GPU), params {got.get('params')}",
              flush=True)  # each model as it finishes: the CPU takes minutes per model at 180x320
    if rows:
        print(format_runtime_table(rows))
    print("\npaper (GPU, LR 180x320):")
    for name in args.models.split(","):
        p_m, ms, src = PAPER.get(name, (None, None, ""))
        print(f"  {name:10s} params {p_m if p_m is not None else '-':>5} M  runtime {ms if ms is not None else '-':>4} ms/frame  {src}")
    if missing:
        print(f"\nnot registered in this checkout: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
