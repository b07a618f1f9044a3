"""Simulation throughput: raw ppafm AFMulator vs the keras_spm pipelines, on the same molecules, repeated.

    python benchmarks/simulation_throughput.py [--molecules 24] [--epochs 3] [--repeats 3]

Raw: a plain loop of ``AFMulator`` calls in a fresh process (molecules pre-placed), with the OpenCL runtime's
default threads (all cores), for the CO tip and for the CO + Xe pair. Pipelines, each consumed batch by batch:

- ``afm_dataset`` with 1 and 2 worker processes (simulation + ASD-AFM augmentation), then 2 workers with the DSH
  maps (disks, spheres, height) and 2 workers with CO + Xe stacks and the ES maps (es, height);
- the campaign producer (:mod:`keras_spm.training.replay`: one process, samples written to an on-disk buffer).

The first epoch (worker start-up, kernel builds) is reported separately; the steady state is the mean of the later
epochs. Every row is measured ``--repeats`` times back to back (raw included, so each ratio compares runs made
minutes apart) and the results give the spread (min / median / max) of the ratio to raw. Workers log each sample's
start and end (``KERAS_SPM_WORKER_TRACE``), so each row also reports the fraction of time the workers sat idle and
the longest idle gap: a stall shows there, not in the descriptors' cost. The busy-time ratio (workers / mean seconds
a worker spends on one sample, over raw) separates the two losses: below 1 with no idle time, the samples
themselves ran slower than raw (other processes on the cores, e.g. the consumer's TensorFlow threads:
``--consumer-threads 1`` caps them). The intermittent stall of earlier runs (1-2 epochs in 6 ending 10.24 s late, workers
idle meanwhile) was tf.data's autotuner, now off in ``keras_spm.data.pipeline.to_dataset``. The maps' own cost was
mostly the height isosurface march (~30 ms a sample); ``keras_spm.descriptors.isosurface_maps`` halves it (2026-12-06:
maps rows 0.82-1.01x -> 0.88-0.92x over 5 repeats; ``simulation_throughput_before_shortmarch.json`` is the run before). Targets (issue 14): every pipeline row
>= 0.85x raw in every repeat. Prints a table and writes ``benchmarks/results/simulation_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "simulation_throughput.json"
TARGET = 0.85


def benchmark_molecules(n: int):
    from keras_spm.data.sets import load_set

    return load_set("light", "test")[:n]


def raw_afmulator(molecules, repeats: int, tips: tuple[str, ...]) -> dict:
    """Samples/s of plain AFMulator calls, one call per tip per sample (placement done beforehand, not timed)."""
    from keras_spm.sim.afm import TIPS, AFMSimulator

    sim = AFMSimulator(tips)
    jobs = []
    for name in tips:
        afm = sim._afmulators[name]
        placed = [sim.place(m, TIPS[name], sim.settings.distance) for m in molecules]
        afm(placed[0].positions, placed[0].numbers, placed[0].charges)  # warm-up: kernel builds, buffers
        jobs.append((afm, placed))
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(len(molecules)):
            for afm, placed in jobs:
                afm(placed[i].positions, placed[i].numbers, placed[i].charges)
    elapsed = time.perf_counter() - start
    n = repeats * len(molecules)
    return {"samples": n, "seconds": elapsed, "samples_per_s": n / elapsed}


def raw_in_subprocess(n_molecules: int, repeats: int, tips: tuple[str, ...]) -> dict:
    cmd = [sys.executable, __file__, "--raw-only", ",".join(tips), "--molecules", str(n_molecules)]
    cmd += ["--epochs", str(repeats + 1)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def idle_stats(trace: Path, wall: float) -> dict:
    """Worker idle fraction and longest gap (s) over the steady epochs, from the workers' trace lines."""
    if not trace.exists():
        return {}
    rows = np.loadtxt(trace, ndmin=2)
    out = {"idle_fraction": 0.0, "longest_idle_s": 0.0}
    # seconds a worker spends on one sample: above raw (x workers, which split the cores) means contention, not stall
    out["worker_busy_s_per_sample"] = float(np.mean(rows[:, 2] - rows[:, 1]))
    out["workers"] = int(len(np.unique(rows[:, 0])))
    fractions = []
    for pid in np.unique(rows[:, 0]):
        r = rows[rows[:, 0] == pid]
        r = r[np.argsort(r[:, 1])]
        gaps = r[1:, 1] - r[:-1, 2]
        fractions.append(1 - (r[:, 2] - r[:, 1]).sum() / max(r[-1, 2] - r[0, 1], 1e-9))
        out["longest_idle_s"] = max(out["longest_idle_s"], float(gaps.max()) if len(gaps) else 0.0)
    out["idle_fraction"] = float(np.mean(fractions))
    return out


def pipeline(molecules, workers: int, epochs: int, tips=("CO",), descriptors=()) -> dict:
    from keras_spm.data import afm_dataset

    trace = Path(tempfile.mkdtemp()) / "trace.txt"
    os.environ["KERAS_SPM_WORKER_TRACE"] = str(trace)
    try:
        ds = afm_dataset(molecules, tips=tips, descriptors=descriptors, batch_size=8, seed=0, workers=workers)
        times = []
        for epoch in range(epochs):
            if epoch == 1:
                trace.unlink(missing_ok=True)  # idle statistics of the steady epochs only
            start = time.perf_counter()
            n = sum(int((x[tips[0]] if isinstance(x, dict) else x).shape[0]) for x, _ in ds)
            times.append(time.perf_counter() - start)
        ds.stream.close()
    finally:
        del os.environ["KERAS_SPM_WORKER_TRACE"]
    steady = float(np.mean(times[1:])) if len(times) > 1 else times[0]
    return {
        "row": f"pipeline, {workers} worker{'s' * (workers > 1)}"
        + (f" + {'/'.join(descriptors)}" if descriptors else ""),
        "tips": list(tips),
        "first_epoch_s": times[0],
        "samples_per_s": n / steady,
        **idle_stats(trace, sum(times[1:])),
    }


def producer(molecules, n_samples: int) -> dict:
    """The campaign path: one producer process writing unaugmented samples into a replay buffer."""
    buffer = tempfile.mkdtemp()
    cmd = [sys.executable, __file__, "--producer-only", buffer, "--molecules", str(len(molecules))]
    cmd += ["--epochs", str(n_samples)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {"row": "campaign producer (1 process, to disk)", "tips": ["CO"], **json.loads(out.strip().splitlines()[-1])}


def producer_only(buffer: str, molecules, n_samples: int) -> dict:
    from keras_spm.data.samples import SampleSpec
    from keras_spm.training.replay import ReplayBuffer, produce

    spec = SampleSpec(("CO",), ("xyz",), augmentation=None)
    buf = ReplayBuffer(buffer, ("CO",), ("xyz",), capacity=10 * n_samples)
    produce(buf, molecules, spec, limit=2, progress=False)  # start-up and kernel builds, not timed
    start = time.perf_counter()
    produce(buf, molecules, spec, limit=n_samples, progress=False)
    return {"samples_per_s": n_samples / (time.perf_counter() - start)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=3, help="pipeline epochs (the first is warm-up)")
    parser.add_argument("--repeats", type=int, default=3, help="back-to-back repeats of every row")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--consumer-threads", type=int, default=None, help="TensorFlow intra/inter-op threads of the consuming process"
    )
    parser.add_argument("--raw-only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--producer-only", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = max(1, args.epochs - 1)
    if args.raw_only:
        tips = tuple(args.raw_only.split(","))
        print(json.dumps(raw_afmulator(benchmark_molecules(args.molecules), repeats, tips)))
        return 0
    if args.producer_only:
        print(json.dumps(producer_only(args.producer_only, benchmark_molecules(args.molecules), args.epochs)))
        return 0

    from keras_spm.sim.opencl import init_opencl

    device = init_opencl()  # before TensorFlow: pocl needs that order
    if args.consumer_threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.consumer_threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.consumer_threads)
    molecules = benchmark_molecules(args.molecules)
    n = len(molecules)
    runs = []
    for k in range(args.repeats):
        raw = {tips: raw_in_subprocess(n, repeats, tips) for tips in (("CO",), ("CO", "Xe"))}
        rows = [
            pipeline(molecules, 1, args.epochs),
            pipeline(molecules, 2, args.epochs),
            pipeline(molecules, 2, args.epochs, descriptors=("disks", "spheres", "height")),
            pipeline(molecules, 2, args.epochs, tips=("CO", "Xe"), descriptors=("es", "height")),
            producer(molecules, repeats * n),
        ]
        for row in rows:
            row["raw_samples_per_s"] = raw[tuple(row["tips"])]["samples_per_s"]
            row["ratio_to_raw"] = row["samples_per_s"] / row["raw_samples_per_s"]
            if "worker_busy_s_per_sample" in row:  # the rate the workers' busy time alone allows, vs raw
                busy_rate = row["workers"] / row["worker_busy_s_per_sample"]
                row["busy_ratio_to_raw"] = busy_rate / row["raw_samples_per_s"]
        runs.append({"raw": {",".join(t): v for t, v in raw.items()}, "rows": rows, "load": os.getloadavg()})
        print(f"repeat {k + 1}/{args.repeats}: " + ", ".join(f"{r['row']} {r['ratio_to_raw']:.2f}" for r in rows))
    names = [r["row"] for r in runs[0]["rows"]]
    summary = {}
    for i, name in enumerate(names):
        ratios = [run["rows"][i]["ratio_to_raw"] for run in runs]
        idle = [run["rows"][i].get("idle_fraction", np.nan) for run in runs]
        gaps = [run["rows"][i].get("longest_idle_s", np.nan) for run in runs]
        summary[name] = {
            "ratio_min": min(ratios),
            "ratio_median": float(np.median(ratios)),
            "ratio_max": max(ratios),
            "samples_per_s": [run["rows"][i]["samples_per_s"] for run in runs],
            "worker_idle_fraction_max": float(np.nanmax(idle)) if not np.all(np.isnan(idle)) else None,
            "longest_idle_s_max": float(np.nanmax(gaps)) if not np.all(np.isnan(gaps)) else None,
            "busy_ratio_median": float(np.nanmedian([run["rows"][i].get("busy_ratio_to_raw", np.nan) for run in runs]))
            if name != "campaign producer (1 process, to disk)"
            else None,
            "meets_target": min(ratios) >= TARGET,
        }
    result = {
        "device": str(device),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "molecules": n,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "target": f"every pipeline row >= {TARGET}x raw in every repeat",
        "consumer_threads": args.consumer_threads,
        "summary": summary,
        "runs": runs,
    }
    print(f"\ndevice: {device}; {n} light test molecules, 128x128x10 stacks, {args.repeats} repeats")
    raw_co = [run["raw"]["CO"]["samples_per_s"] for run in runs]
    print(f"raw AFMulator CO: {min(raw_co):.2f}-{max(raw_co):.2f} stacks/s")
    print(f"{'row':52s} ratio min / median / max   idle max  longest gap  busy-time ratio")
    for name, s in summary.items():
        idle = "" if s["worker_idle_fraction_max"] is None else f"{s['worker_idle_fraction_max']:8.2f}"
        gap = "" if s["longest_idle_s_max"] is None else f"{s['longest_idle_s_max']:8.2f} s"
        flag = "ok" if s["meets_target"] else f"below {TARGET}"
        busy = "" if s["busy_ratio_median"] is None else f"{s['busy_ratio_median']:.2f}"
        print(
            f"{name:52s} {s['ratio_min']:.2f} / {s['ratio_median']:.2f} / {s['ratio_max']:.2f}  {idle} {gap}  {busy}  {flag}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
