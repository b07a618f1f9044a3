"""Simulation throughput: raw ppafm AFMulator vs the keras_spm tf.data pipeline, on the same molecules.

    python benchmarks/simulation_throughput.py [--molecules 24] [--epochs 2]

Raw: a plain loop of ``AFMulator`` calls in a fresh process (molecules pre-placed), once with
the OpenCL runtime's default threads (all cores) and once limited to one thread. Pipeline:
``afm_dataset`` with 1 and 2 worker processes, consumed batch by batch; its first epoch
(worker start-up, kernel builds) is reported separately and the steady state is the mean
of the later epochs. The pipeline rows do the same simulation plus ASD-AFM augmentation;
a last row adds the three DSH descriptor maps. Ratios are given against both raw rows.
Prints a table and writes ``benchmarks/results/simulation_throughput.json``. Targets
(issue 2): pipeline with 1 worker >= 0.95x raw, with 2 workers >= 1.6x raw.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "simulation_throughput.json"


def benchmark_molecules(n: int):
    from keras_spm.data.sets import load_set

    return load_set("light", "test")[:n]


def raw_afmulator(molecules, repeats: int) -> dict:
    """Stacks/s of plain AFMulator calls (placement done beforehand, not timed)."""
    from keras_spm.sim.afm import AFMSimulator

    sim = AFMSimulator(("CO",))
    afm = sim._afmulators["CO"]
    placed = [sim.place(m, sim.tips[0], sim.settings.distance) for m in molecules]
    afm(placed[0].positions, placed[0].numbers, placed[0].charges)  # warm-up: kernel builds, buffers
    start = time.perf_counter()
    for _ in range(repeats):
        for m in placed:
            afm(m.positions, m.numbers, m.charges)
    elapsed = time.perf_counter() - start
    return {"stacks": repeats * len(placed), "seconds": elapsed, "stacks_per_s": repeats * len(placed) / elapsed}


def raw_in_subprocess(n_molecules: int, repeats: int, threads: int | None) -> dict:
    """Run :func:`raw_afmulator` in a fresh interpreter, optionally with one OpenCL thread."""
    env = dict(os.environ)
    if threads:
        env.update(CL_CONFIG_CPU_TBB_NUM_WORKERS=str(threads), POCL_MAX_PTHREAD_COUNT=str(threads))
    cmd = [sys.executable, __file__, "--raw-only", "--molecules", str(n_molecules), "--epochs", str(repeats + 1)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return {**json.loads(out.strip().splitlines()[-1]), "opencl_threads": threads or "default"}


def pipeline(molecules, workers: int, epochs: int, descriptors=()) -> dict:
    from keras_spm.data import afm_dataset

    ds = afm_dataset(molecules, descriptors=descriptors, batch_size=8, seed=0, workers=workers)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        n = sum(int(x.shape[0]) for x, _ in ds)
        times.append(time.perf_counter() - start)
    ds.stream.close()
    steady = float(np.mean(times[1:])) if len(times) > 1 else times[0]
    return {
        "workers": workers,
        "descriptors": list(descriptors),
        "stacks_per_epoch": n,
        "first_epoch_s": times[0],
        "steady_epoch_s": steady,
        "stacks_per_s": n / steady,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=3, help="pipeline epochs (the first is warm-up)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--raw-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = max(1, args.epochs - 1)
    if args.raw_only:
        print(json.dumps(raw_afmulator(benchmark_molecules(args.molecules), repeats)))
        return 0

    from keras_spm.sim.opencl import init_opencl

    device = init_opencl()  # before TensorFlow: pocl needs that order
    molecules = benchmark_molecules(args.molecules)
    raw = raw_in_subprocess(len(molecules), repeats, None)
    raw_1 = raw_in_subprocess(len(molecules), repeats, 1)
    rows = [pipeline(molecules, w, args.epochs) for w in (1, 2)]
    rows.append(pipeline(molecules, 2, args.epochs, descriptors=("disks", "spheres", "height")))
    for row in rows:
        row["ratio_to_raw"] = row["stacks_per_s"] / raw["stacks_per_s"]
        row["ratio_to_raw_1_thread"] = row["stacks_per_s"] / raw_1["stacks_per_s"]
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {
        "device": str(device),
        "machine": platform.processor() or platform.machine(),
        "molecules": len(molecules),
        "raw": raw,
        "pipeline": rows,
        "peak_rss_mb": {"main": peak_self, "largest_worker": peak_child},
        "targets": {"1 worker": 0.95, "2 workers": 1.6},
    }
    print(f"device: {device}; {len(molecules)} light test molecules, 128x128x10 CO stacks")
    print(f"raw AFMulator            {raw['stacks_per_s']:6.2f} stacks/s  (OpenCL default threads)")
    print(f"raw AFMulator, 1 thread  {raw_1['stacks_per_s']:6.2f} stacks/s")
    for row in rows:
        label = f"pipeline, {row['workers']} worker" + ("s" if row["workers"] > 1 else "")
        label += " + maps" if row["descriptors"] else ""
        print(
            f"{label:24s} {row['stacks_per_s']:6.2f} stacks/s  ratio {row['ratio_to_raw']:.2f}  "
            f"(first epoch {row['first_epoch_s']:.1f} s)"
        )
    print(f"peak RSS: main {peak_self:.0f} MB, largest worker {peak_child:.0f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
