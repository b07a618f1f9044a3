"""Make the small molecule subsets shipped in ``keras_spm/data/sets/`` (``python -m keras_spm.data.make_subsets``).

For each set, every source molecule is assigned its split by :func:`~keras_spm.data.sets.split_of`;
the candidates are then visited in the order of a second hash (:func:`~keras_spm.data.sets.subset_rank`)
and each split takes the first molecules that pass the set's filters until it holds its quota. The
choice is therefore deterministic, a random-like sample of the full set, and the same molecules as
in the full build (a subset molecule is always in the same split of the full set).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .sets import (
    SET_NAMES,
    SHIPPED_DIR,
    SOURCES,
    SPLITS,
    SUBSET_SIZES,
    BuildReport,
    build_splits,
    subset_rank,
    write_splits,
)


def make_subset(
    name: str, out: str | Path = SHIPPED_DIR, sizes: dict[str, int] = SUBSET_SIZES, progress: bool = True
) -> BuildReport:
    """Write ``{out}/{name}_{split}.npz`` with ``sizes[split]`` molecules each; returns the build report."""
    make_candidates, _ = SOURCES[name]
    candidates = sorted(make_candidates(), key=lambda c: subset_rank(c.name))
    splits, report = build_splits(name, candidates, quotas=sizes, progress=progress)
    short = [s for s in SPLITS if report.counts[s] < sizes[s]]
    if short:
        raise RuntimeError(
            f"the {name} source has too few molecules for the subset quotas {sizes} (got {report.counts})."
        )
    write_splits(name, splits, out)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m keras_spm.data.make_subsets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(SHIPPED_DIR), help="output folder (default: the package's data/sets)")
    parser.add_argument("--set", choices=SET_NAMES, action="append", dest="names", help="only this set (repeatable)")
    for split in SPLITS:
        parser.add_argument(f"--n-{split}", type=int, default=SUBSET_SIZES[split], help=f"molecules in {split}")
    args = parser.parse_args(argv)
    sizes = {s: getattr(args, f"n_{s}") for s in SPLITS}
    for name in args.names or SET_NAMES:
        report = make_subset(name, args.out, sizes)
        files = [Path(args.out) / f"{name}_{s}.npz" for s in SPLITS]
        kib = sum(f.stat().st_size for f in files) / 1024
        print(
            f"{name}: " + ", ".join(f"{s} {report.counts[s]}" for s in SPLITS) + f"; {kib:.0f} KiB; "
            f"{report.n_candidates} built in {report.seconds:.1f} s ({report.ms_per_molecule:.1f} ms each); skipped {report.skipped}"
        )


if __name__ == "__main__":
    main()
