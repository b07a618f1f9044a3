"""Nanoparticle instance segmentation on held-out synthetic STM images: COCO mAP and particle-size error.

    python benchmarks/segmentation.py --model /work/runs/effunet/stage2/best.keras [--images 40]

Test data: ``--images`` images of :func:`keras_spm.sim.stm_particles.simulate_stm_particles` (256 px,
0.2 nm/px, default config) from seed ``--seed`` (training used seeds 0 and 10000: different scenes, tips and
noise). Rows:

* ``effunet + watershed`` - the network's inside / border / background softmax, then
  :func:`keras_spm.models.effunet.postprocess.watershed_instances` with mask threshold
  ``postprocess.MASK_THRESHOLD`` (0.85, chosen on validation images of seed 4242, never on these test images;
  ``--mask-threshold`` overrides it); instance score = mean p(inside + border);
* ``otsu + distance watershed`` - a classic pipeline without learning: the image minus its median, Otsu
  threshold, markers at the peaks of the distance transform (>= 3 px apart), watershed on the negative
  distance (skimage); every instance scored 1;
* ``true classes + watershed`` - the watershed on the exact class maps (an upper bound of the post-processing).

Metrics: COCO-style instance AP averaged over IoU 0.50:0.05:0.95 (``map``), AP50, AP75
(:func:`keras_spm.models.effunet.postprocess.average_precision`); the particle size distribution of all
images pooled (equivalent-circle diameters, particles cut by the image edge left out): mean diameter of
the predicted vs the true instances and its relative error, polydispersity and metal dispersion estimate.
Targets (the issue): mAP >= 0.5 and |mean-diameter error| <= 5 %. Prints the table and writes
``benchmarks/results/segmentation.json`` and ``segmentation.png`` (overlays + size histogram).
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

from keras_spm.models.effunet import postprocess as P  # noqa: E402
from keras_spm.sim import stm_particles as S  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def classic_instances(image: np.ndarray) -> np.ndarray:
    """Otsu threshold of the median-subtracted image + distance-transform watershed (no learning)."""
    from scipy import ndimage
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    z = image - np.median(image)
    mask = ndimage.binary_opening(z > threshold_otsu(z), iterations=1)
    dist = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(dist, min_distance=3, labels=ndimage.label(mask)[0])
    markers = np.zeros(image.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-dist, markers, mask=mask).astype(np.int32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None, help="effunet .keras checkpoint (or a zoo copy)")
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--out", type=Path, default=RESULTS / "segmentation.json")
    p.add_argument(
        "--mask-threshold",
        type=float,
        default=P.MASK_THRESHOLD,
        help="p(inside + border) cut of the particle mask; default chosen on validation images (seed 4242)",
    )
    p.add_argument(
        "--views", type=int, default=1, help="average the network over this many mirror views (4: keras_spm.predict's)"
    )
    args = p.parse_args(argv)

    cfg = S.ParticleConfig()
    rng = np.random.default_rng(args.seed)
    data = [S.simulate_stm_particles(rng, cfg) for _ in range(args.images)]
    methods = {}
    if args.model is not None:
        import keras

        import keras_spm.models.effunet  # noqa: F401  (registers the losses)

        model = P.at_size(keras.models.load_model(args.model, compile=False), cfg.size, cfg.size)

        def net(d):
            seg = P.segment_particles(model, d["image"], cfg.pixel_size, args.mask_threshold, views=args.views)
            return seg["instances"], seg["scores"]

        methods["effunet + watershed"] = net
    methods["otsu + distance watershed"] = lambda d: (lambda i: (i, {k: 1.0 for k in np.unique(i) if k}))(
        classic_instances(d["image"])
    )

    def oracle(d):
        probs = 0.9 * S.one_hot(d["classes"]) + 0.1 / 3
        inst = P.watershed_instances(probs)
        return inst, P.instance_scores(inst, probs)

    methods["true classes + watershed"] = oracle

    true_d = np.concatenate([P.size_distribution(d["labels"], cfg.pixel_size)["diameters"] for d in data])
    true_sizes = _stats(true_d)
    table, outputs = {}, {}
    print(
        f"{len(data)} held-out synthetic STM images ({cfg.size} px, {cfg.pixel_size} nm/px), "
        f"{sum(len(np.unique(d['labels'])) - 1 for d in data)} true particles\n"
    )
    print(
        f"{'method':28s} {'mAP':>6s} {'AP50':>6s} {'AP75':>6s} {'d_true':>7s} {'d_pred':>7s} {'err %':>6s} "
        f"{'s/img':>6s}"
    )
    for name, fn in methods.items():
        t0 = time.perf_counter()
        res = [fn(d) for d in data]
        dt = (time.perf_counter() - t0) / len(data)
        ap = P.average_precision([(inst, sc, d["labels"]) for (inst, sc), d in zip(res, data, strict=True)])
        pred_d = np.concatenate([P.size_distribution(inst, cfg.pixel_size)["diameters"] for inst, _ in res])
        sizes = _stats(pred_d)
        err = (sizes["mean"] - true_sizes["mean"]) / true_sizes["mean"] * 100
        table[name] = {**{k: ap[k] for k in ("map", "ap50", "ap75", "n_pred", "n_true")}, "per_threshold":
                       ap["per_threshold"], "size_distribution": sizes, "mean_diameter_error_percent": err,
                       "seconds_per_image": dt}  # fmt: skip
        outputs[name] = res
        print(
            f"{name:28s} {ap['map']:6.3f} {ap['ap50']:6.3f} {ap['ap75']:6.3f} {true_sizes['mean']:7.3f} "
            f"{sizes['mean']:7.3f} {err:+6.1f} {dt:6.2f}"
        )
    if "effunet + watershed" in table:
        t = table["effunet + watershed"]
        ok_map, ok_d = t["map"] >= 0.5, abs(t["mean_diameter_error_percent"]) <= 5
        print(
            f"\ntargets: mAP {t['map']:.3f} >= 0.5 {'MET' if ok_map else 'NOT met'}; mean-diameter error "
            f"{t['mean_diameter_error_percent']:+.1f} % within 5 % {'MET' if ok_d else 'NOT met'}"
        )
    result = {
        "images": len(data),
        "seed": args.seed,
        "config": {k: v for k, v in vars(cfg).items()},
        "model": str(args.model) if args.model else None,
        "mask_threshold": args.mask_threshold,
        "views": args.views,
        "inside_threshold": P.INSIDE_THRESHOLD,
        "true_size_distribution": true_sizes,
        "table": table,
        "machine": platform.platform(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=list))
    figure(data, outputs, true_d, cfg.pixel_size, args.out.with_suffix(".png"))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


def _stats(d: np.ndarray) -> dict:
    if d.size == 0:
        return {"count": 0, "mean": float("nan"), "std": float("nan"), "polydispersity": float("nan"),
                "d_va": float("nan"), "dispersion": float("nan")}  # fmt: skip
    d_va = float((d**3).sum() / (d**2).sum())
    return {
        "count": int(d.size),
        "mean": float(d.mean()),
        "std": float(d.std()),
        "polydispersity": float(d.std() / d.mean()),
        "d_va": d_va,
        "dispersion": float(min(1.0, 6 * P.PT_ATOM_VOLUME / P.PT_ATOM_AREA / d_va)),
    }


def figure(data, outputs, true_d, pixel, path: Path, n: int = 2) -> None:
    """Per row: image, true instances, each method's instances (contours); last column the size histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    names = list(outputs)
    cols = 3 + len(names)  # image, truth, one per method, histogram
    fig, axes = plt.subplots(n, cols, figsize=(2.6 * cols, 2.7 * n), squeeze=False)
    for r in range(n):
        d = data[r]
        for c, (title, inst) in enumerate(
            [("image", None), ("truth", d["labels"])] + [(m, outputs[m][r][0]) for m in names]
        ):
            ax = axes[r, c]
            ax.imshow(d["image"], cmap="gray")
            if inst is not None:
                edge = np.ma.masked_where(~find_boundaries(inst, mode="inner"), inst)
                ax.imshow(edge, cmap="tab20", interpolation="nearest")
                title = f"{title} ({len(np.unique(inst)) - 1})"
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=7)
    for r in range(n):
        axes[r, -1].remove()
    ax = fig.add_subplot(1, cols, cols)
    bins = np.linspace(0, max(8.0, float(np.percentile(true_d, 99.5)) if true_d.size else 8.0), 30)
    ax.hist(true_d, bins, histtype="step", color="k", lw=1.5, label="true")
    for m in names:
        pd = np.concatenate([P.size_distribution(inst, pixel)["diameters"] for inst, _ in outputs[m]])
        ax.hist(pd, bins, histtype="step", lw=1, label=m)
    ax.set_xlabel("diameter (nm)")
    ax.set_ylabel("particles")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
