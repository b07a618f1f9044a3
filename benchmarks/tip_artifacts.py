"""Tip-artifact removal on held-out real AFM surfaces: corrupted input vs Villarrubia erosion vs autoencoders.

    python benchmarks/tip_artifacts.py --model dae_skip_lite=/work/runs/dae/best/best.keras [--model NAME=PATH ...]

Test data: the real clean surfaces of the test split (:func:`keras_spm.sim.tip.clean_surfaces`, held out by
image series: never seen in training or validation), each corrupted ``--corruptions`` times with seeded
random blunt / double tips plus noise and scan-line defects (:func:`keras_spm.sim.tip.corrupt`, the same
distribution as training). Rows:

* ``corrupted`` - the corrupted image itself;
* ``erosion, true tip`` - Villarrubia's reconstruction (grey erosion) with the tip that made the image: an
  **oracle** (the tip is never known in practice) and an upper reference for any tip-based method;
* ``erosion, blind tip`` - the same with :func:`keras_spm.sim.tip.blind_tip_estimate` (7 px, 3 sweeps,
  threshold 2x the noise estimated from row differences): the realistic classic baseline;
* one row per ``--model NAME=PATH``: a DAE checkpoint run on whole images with
  :func:`keras_spm.models.dae.restore.restore` (with ``--flips`` also averaged over the four flips).

Metrics (keras_spm.metrics): PSNR (dB), SSIM and VIF against the clean surface, ``data_range`` = its
peak-to-peak height, averaged over all cases. Prints the table, checks the issue's target (best DAE beats the
corrupted input and the blind-tip baseline by >= 3 dB and >= 0.1 SSIM; reported against the oracle too) and
writes ``benchmarks/results/tip_artifacts.json`` and ``tip_artifacts.png`` (input / restorations / truth).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_spm.metrics.image_quality import image_quality  # noqa: E402
from keras_spm.sim import tip as T  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def noise_sigma(image: np.ndarray) -> float:
    """Robust white-noise std from neighbouring-pixel differences along the fast axis (MAD / sqrt 2)."""
    d = np.diff(image, axis=1).ravel()
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def cases(n_corruptions: int, seed: int, data_dir=None) -> list[dict]:
    surfaces = T.clean_surfaces("test", data_dir)
    out = []
    for i, s in enumerate(surfaces):
        for k in range(n_corruptions):
            rng = np.random.default_rng([seed, i, k])
            bad, info = T.corrupt(s.height, s.pixel_size, rng)
            out.append({"name": f"{s.name}#{k}", "clean": s.height, "bad": bad, "pixel": s.pixel_size, **info})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=[], help="NAME=PATH of a DAE .keras checkpoint")
    p.add_argument("--corruptions", type=int, default=2, help="random corruptions per test image")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument(
        "--flips", action="store_true", help="also score each DAE averaged over 4 flips (restore(flips=True))"
    )
    p.add_argument("--no-blind", action="store_true", help="skip the (slow) blind tip estimation")
    p.add_argument("--out", type=Path, default=RESULTS / "tip_artifacts.json")
    args = p.parse_args(argv)

    data = cases(args.corruptions, args.seed)
    methods: dict[str, list] = {"corrupted": [], "erosion, true tip": []}
    if not args.no_blind:
        methods["erosion, blind tip"] = []
    outputs: dict[str, list] = {m: [] for m in methods}
    seconds: dict[str, float] = {m: 0.0 for m in methods}

    def score(method, case, restored, dt):
        methods[method].append(image_quality(case["clean"], restored, float(np.ptp(case["clean"]))))
        outputs[method].append(restored)
        seconds[method] += dt

    for c in data:
        score("corrupted", c, c["bad"], 0.0)
        if "tip" in c:
            t0 = time.perf_counter()
            score("erosion, true tip", c, T.reconstruct_surface(c["bad"], c["tip"]), time.perf_counter() - t0)
        if not args.no_blind:
            t0 = time.perf_counter()
            est = T.blind_tip_estimate(c["bad"], c["pixel"], 7, threshold=2 * noise_sigma(c["bad"]), max_iter=3)
            score("erosion, blind tip", c, T.reconstruct_surface(c["bad"], est), time.perf_counter() - t0)

    if args.model:
        import keras

        import keras_spm.models.dae  # noqa: F401  (registers the losses)
        from keras_spm.models.dae.restore import restore

        for spec in args.model:
            name, _, path = spec.partition("=")
            if not path:
                p.error(f"--model needs NAME=PATH, got {spec!r}")
            model = keras.models.load_model(path, compile=False)
            for label, flips in [(name, False)] + ([(f"{name} + 4 flips", True)] if args.flips else []):
                methods[label], outputs[label], seconds[label] = [], [], 0.0
                for c in data:
                    t0 = time.perf_counter()
                    score(label, c, restore(model, c["bad"], flips=flips), time.perf_counter() - t0)

    table = {}
    print(
        f"{len(data)} cases: {len({c['name'].split('#')[0] for c in data})} held-out real images x "
        f"{args.corruptions} random tips\n"
    )
    print(f"{'method':28s} {'PSNR dB':>8s} {'SSIM':>7s} {'VIF':>7s} {'s/image':>8s}")
    for m, rows in methods.items():
        if not rows:
            continue
        mean = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "ssim", "vif")}
        mean["seconds_per_image"] = seconds[m] / len(rows)
        table[m] = mean
        print(f"{m:28s} {mean['psnr']:8.2f} {mean['ssim']:7.3f} {mean['vif']:7.3f} {mean['seconds_per_image']:8.3f}")

    daes = [m for m in table if m not in ("corrupted", "erosion, true tip", "erosion, blind tip")]
    targets = {}
    if daes:
        best = max(daes, key=lambda m: table[m]["psnr"])
        print(f"\nbest DAE: {best}")
        for ref in ("corrupted", "erosion, blind tip", "erosion, true tip"):
            if ref not in table:
                continue
            dp = table[best]["psnr"] - table[ref]["psnr"]
            ds = table[best]["ssim"] - table[ref]["ssim"]
            ok = dp >= 3.0 and ds >= 0.1
            targets[ref] = {"delta_psnr": dp, "delta_ssim": ds, "target_met": ok}
            print(
                f"  vs {ref:22s}: {dp:+.2f} dB, {ds:+.3f} SSIM -> target (>= 3 dB, >= 0.1) {'MET' if ok else 'NOT met'}"
            )
        if "erosion, true tip" in table and table["erosion, true tip"]["ssim"] > 0.9:
            print(
                "  (+0.1 SSIM over the true-tip oracle would need SSIM > "
                f"{table['erosion, true tip']['ssim'] + 0.1:.3f}; SSIM <= 1, so that part is out of reach by design)"
            )
    result = {
        "cases": len(data),
        "images": sorted({c["name"].split("#")[0] for c in data}),
        "corruptions_per_image": args.corruptions,
        "seed": args.seed,
        "models": dict(s.partition("=")[::2] for s in args.model),
        "table": table,
        "best_dae_vs": targets,
        "per_case": {m: rows for m, rows in methods.items()},
        "machine": platform.platform(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    figure(data, outputs, args.out.with_suffix(".png"))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


def figure(data, outputs, path: Path, n: int = 3) -> None:
    """Rows: ``n`` cases; columns: corrupted, each method's output, truth (shared colour scale per row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = list(outputs) + ["truth"]
    idx = np.linspace(0, len(data) - 1, n).astype(int)
    fig, axes = plt.subplots(n, len(cols), figsize=(2.2 * len(cols), 2.3 * n), squeeze=False)
    for r, i in enumerate(idx):
        clean = data[i]["clean"]
        lo, hi = np.percentile(clean, (0.5, 99.5))
        for c, m in enumerate(cols):
            img = clean if m == "truth" else outputs[m][i]
            ax = axes[r, c]
            ax.imshow(img, cmap="afmhot", vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(m, fontsize=8)
        axes[r, 0].set_ylabel(data[i]["name"], fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
