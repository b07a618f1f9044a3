"""Generate one shard of training data: ``python -m keras_spm.data.generate --set light --split train --shard 3/16 --out DIR``.

Shard K of N takes the molecules of the split whose index i satisfies i % N == K, so the N
shards are disjoint, cover the split, and can run on different machines in any order.
Sample seeds depend on (seed, repeat, molecule index), not on N, so a molecule gives the
same sample whatever the sharding.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from .pipeline import check_molecules, sample_seed
from .samples import ALL_DESCRIPTORS, SampleSpec, WorkerPool


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like K/N (for example 3/16), got '{text}'.") from None
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"--shard K/N needs 0 <= K < N, got {k}/{n}.")
    return k, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keras_spm.data.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="set_name", choices=("light", "heavy"), required=True)
    parser.add_argument("--split", choices=("train", "val", "test"), required=True)
    parser.add_argument("--shard", type=parse_shard, default=(0, 1), help="K/N: this job's shard (default 0/1)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--full", action="store_true", help="use the full molecule set (build it first)")
    parser.add_argument("--tips", default="CO", help="comma-separated tips, e.g. CO,Xe")
    parser.add_argument("--descriptors", default="disks,spheres,height", help=f"comma-separated, of {ALL_DESCRIPTORS}")
    parser.add_argument("--repeats", type=int, default=1, help="samples (random rotations) per molecule")
    parser.add_argument("--limit", type=int, default=None, help="at most this many molecules (for quick tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--label-frame",
        choices=("image", "nominal"),
        default="image",
        help="where disks/spheres/xyz are drawn: where the tilted tip images the atoms (image, the default) or at "
        "their nominal positions (ASD-AFM)",
    )
    args = parser.parse_args(argv)

    from ..sim.afm import ASD_AFM
    from .sets import load_set

    settings = replace(ASD_AFM, label_frame=args.label_frame)
    spec = SampleSpec(
        tuple(args.tips.split(",")), tuple(d for d in args.descriptors.split(",") if d), settings, augmentation=None
    )
    molecules = load_set(args.set_name, args.split, full=args.full)
    k, n = args.shard
    chosen = [(i, m) for i, m in enumerate(molecules) if i % n == k][: args.limit]
    if not chosen:
        parser.error(f"shard {k}/{n} of {args.set_name}/{args.split} has no molecules ({len(molecules)} in the split).")
    check_molecules([m for _, m in chosen], spec.settings)
    tasks = [(m, sample_seed(args.seed, r, i)) for i, m in chosen for r in range(args.repeats)]
    names = [f"{m.name}#{r}" for _, m in chosen for r in range(args.repeats)]

    from .shards import shard_stem, write_shard

    start = time.perf_counter()
    with WorkerPool(spec, args.workers) as pool:
        samples = (
            (xs, ys, name)
            for (xs, ys), name in zip(
                tqdm(pool.map(tasks), total=len(tasks), desc=f"shard {k}/{n}", unit="sample"), names, strict=True
            )
        )
        stem = args.out / shard_stem(args.set_name, args.split, k, n)
        meta = write_shard(
            stem,
            samples,
            spec,
            extra={
                "set": args.set_name,
                "split": args.split,
                "shard": [k, n],
                "seed": args.seed,
                "repeats": args.repeats,
                "full": args.full,
                "molecules": len(chosen),
            },
        )
    elapsed = time.perf_counter() - start
    print(
        f"wrote {meta['count']} samples to {stem}.tfrecord in {elapsed:.1f} s "
        f"({meta['count'] / elapsed:.2f} samples/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
