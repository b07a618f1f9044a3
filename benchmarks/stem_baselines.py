"""STEM convolution -> multislice baselines on the held-out Pt-Mo5 pairs (3, 8, 13, 18).

    python benchmarks/stem_baselines.py [--model zoo/pix2pix_stem/pix2pix_stem.keras] ...

Every image is divided by its own maximum first, as the source work does before training its GAN
(uw-cmg GAN-STEM-Conv2MultiSlice, data_loader_gray.py: ``2 x / max - 1``, scored after mapping back to
[0, 1]); all metrics compare [0, 1] images with the [0, 1] multislice image. Rows:

* ``convolution`` - the max-normalised convolution image itself (no fit);
* ``convolution, linear fit (train)`` - ``a c + b`` with a, b fitted on all train-pair pixels;
* ``convolution, linear fit (oracle)`` - a, b fitted on each *test* image against its own multislice:
  uses the answer, an upper bound on what any global intensity rescaling can reach;
* ``poly3 pixel`` - degree-3 polynomial of the pixel value, least squares on the 16 train pairs;
* ``poly3 pixel+blur`` - degree-3 polynomial (all 35 monomials) of the pixel value and of the convolution
  image blurred with Gaussians of 1, 2 and 4 px: the multivariate-polynomial correction of Combs et al.,
  Adv. Struct. Chem. Imaging 5, 2 (2019), with our own choice of neighbourhood features;
* one row per ``--model`` (and one "+ mean calibration", the same output rescaled per image to the mean
  ``keras_spm.models.gan.calibration.MeanCalibration`` predicts from the convolution image's mean, fitted on the
  training pairs' image means): a saved generator (``.keras``, [-1, 1] in and out) run on whole test images,
  reflection-padded to a multiple of its stride and cropped back (``keras_spm.models.gan.translate``); the
  targets of pix2pix are RMSE/mean <= 0.5 x the convolution's and below the best regression's.

Metrics (``keras_spm.datasets.stem_pairs.image_metrics``): RMSE / mean and RMSE / std of the multislice
image (the source's "fmRMSE" / "fsRMSE"), the worst per-image mean intensity error |mean(pred) / mean(target) - 1|
(issue #17: within 5 %), the mean period-2 checkerboard amplitude (``checker``, units of the image max) and power
fraction above 0.25 cycles/px (``HF``) of the predictions (the multislice images have ~1e-9 and ~1e-11: they are
band-limited; transposed convolutions add a checkerboard) and 1 - R^2, averaged over test images ("mean") and over all test
pixels pooled ("pooled", Combs et al.'s dataset-level numbers); plus ``legacy_score`` = 1 - mean of the
source's Calculate_NRMSE.py error, the number the source reports as 0.42 (reproduced below on pairs 1-19).
That error is relative *per pixel*, so it is dominated by the dark background: any additive offset (the
linear and polynomial fits) drives it negative although every other metric improves - read it only to
compare with the source's published numbers, not to rank methods.
``--val-pairs`` (default 6 14, pix2pix_stem's validation pairs) repeats everything on those pairs with the
baselines and calibration refitted without them: the split that chooses between model variants.
``--sim-val DIR`` / ``--sim-test DIR`` add the split of simulated held-out compositions (abTEM pairs of
``keras_spm.datasets.stem_sim``, Mo fractions never trained on), baselines fitted on the Pt-Mo5 training pairs plus
the ``--sim-train DIR`` pairs of the training compositions; ``--sim-val`` is the one that chooses checkpoints (with
``--no-test``, which leaves the Pt-Mo5 test pairs unread), ``--sim-test`` (pairs of other seeds) reports.
Prints a table and writes ``benchmarks/results/stem_baselines.json`` and ``stem_baselines.png`` (test pairs:
convolution, poly3+blur, each model and the multislice image, and the errors).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_spm.datasets import stem_pairs  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "stem_baselines.json"
BLUR_SIGMAS = (1.0, 2.0, 4.0)


def features(conv: np.ndarray, blur: bool) -> np.ndarray:
    """Per-pixel inputs (N, k): the max-normalised convolution value, and its Gaussian blurs if ``blur``."""
    maps = [conv] + ([gaussian_filter(conv, s, mode="reflect") for s in BLUR_SIGMAS] if blur else [])
    return np.stack([m.ravel() for m in maps], axis=1)


def monomials(x: np.ndarray, degree: int) -> np.ndarray:
    """All monomials of the columns of ``x`` up to ``degree``, constant first."""
    cols = [np.ones(len(x))]
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(x.shape[1]), d):
            cols.append(np.prod(x[:, combo], axis=1))
    return np.stack(cols, axis=1)


class PolynomialBaseline:
    """Pixel-wise least-squares polynomial map, fitted by accumulated normal equations (exact, low memory)."""

    def __init__(self, degree: int, blur: bool, ridge: float = 1e-10):
        self.degree, self.blur, self.ridge = degree, blur, ridge

    def fit(self, pairs) -> PolynomialBaseline:
        xtx, xty = 0.0, 0.0
        for conv, ms in pairs:
            x = monomials(features(conv, self.blur), self.degree)
            xtx, xty = xtx + x.T @ x, xty + x.T @ ms.ravel()
        reg = self.ridge * np.trace(xtx) / len(xtx) * np.eye(len(xtx))
        self.coef = np.linalg.solve(xtx + reg, xty)
        return self

    def predict(self, conv: np.ndarray) -> np.ndarray:
        return (monomials(features(conv, self.blur), self.degree) @ self.coef).reshape(conv.shape)


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    a, b = np.polyfit(x.ravel(), y.ravel(), 1)
    return float(a), float(b)


def model_predictor(path: Path, tta: bool = False):
    """Whole-image prediction with a saved generator: [0, 1] -> [-1, 1] -> pad to its stride -> G -> crop -> [0, 1];
    ``tta`` averages the 8 mirror / 90-degree views (``translate(..., tta=True)``, what keras_spm.predict does)."""
    from keras_spm.models.gan import load_generator, translate

    generator = load_generator(path, input_shape=(None, None, 1))

    def predict(conv: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # padding is expected: sizes are 228-258 px
            out = translate(generator, stem_pairs.to_tanh_range(conv), tta=tta)
        return stem_pairs.from_tanh_range(out)

    return predict


def evaluate(predict, test_pairs) -> dict:
    preds, per_image, legacy = [], [], []
    t0 = time.perf_counter()
    for conv, ms in test_pairs:
        pred = predict(conv)
        preds.append(pred)
        per_image.append(stem_pairs.image_metrics(pred, ms))
        legacy.append(stem_pairs.legacy_nrmse(np.clip(pred, 1e-12, None), ms))
    seconds = (time.perf_counter() - t0) / len(test_pairs)
    pooled = stem_pairs.image_metrics(
        np.concatenate([p.ravel() for p in preds]), np.concatenate([ms.ravel() for _, ms in test_pairs])
    )
    intensity = np.array([m["mean_intensity_error"] for m in per_image])
    return {
        "mean": {k: float(np.mean([m[k] for m in per_image])) for k in per_image[0]},
        "max_abs_mean_intensity_error": float(np.max(np.abs(intensity))),
        "texture": texture(preds, [ms for _, ms in test_pairs]),
        "pooled": pooled,
        "per_image": per_image,
        "legacy_score": 1.0 - float(np.mean(legacy)),
        "seconds_per_image": seconds,
    }


def texture(preds, targets) -> dict:
    """Mean period-2 checkerboard amplitude (in units of the image max) and power fraction above 0.25 cycles/px of
    the predictions and of the multislice images (``keras_spm.metrics.fidelity``; issue #17 asks the U-Net's
    transposed convolutions to be checked as the CycleGAN's are). Absolute values, not ratios: the multislice
    images are band-limited (no power above ~0.12 cycles/px, a checkerboard of ~1e-9), so any ratio to them is
    huge for every method that is not a linear map of the convolution image (poly3 too)."""
    from keras_spm.metrics import fidelity

    out = {}
    for key, fn in (
        ("checkerboard", fidelity.checkerboard_amplitude),
        ("high_frequency", fidelity.high_frequency_fraction),
    ):
        ours, theirs = [fn(p) for p in preds], [fn(t) for t in targets]
        out[key] = {"prediction": float(np.mean(ours)), "prediction_max": float(np.max(ours)),
                    "multislice": float(np.mean(theirs))}  # fmt: skip
    return out


def compare(train, test, models: dict, calibrate: bool = True) -> tuple[dict, dict, str, dict]:
    """Baselines fitted on ``train`` and the ``models`` (name -> [0, 1] predictor), all scored on ``test``.

    With ``calibrate``, each model also gets a row "+ mean calibration": its output rescaled to the mean that
    :class:`~keras_spm.models.gan.calibration.MeanCalibration` predicts from the convolution image's mean,
    fitted on the ``train`` pairs' image means (the network plays no part in that fit).
    """
    from keras_spm.models.gan.calibration import MeanCalibration

    a, b = linear_fit(np.concatenate([c.ravel() for c, _ in train]), np.concatenate([m.ravel() for _, m in train]))
    oracle = {id(c): linear_fit(c, m) for c, m in test}
    cal = MeanCalibration.fit(train)
    rows = {
        "convolution": lambda c: c,
        "convolution, linear fit (train)": lambda c: a * c + b,
        "convolution, linear fit (oracle)": lambda c: oracle[id(c)][0] * c + oracle[id(c)][1],
        "poly3 pixel": PolynomialBaseline(3, blur=False).fit(train).predict,
        "poly3 pixel+blur": PolynomialBaseline(3, blur=True).fit(train).predict,
    }
    for name, predict in models.items():
        rows[f"model {name}"] = predict
        if calibrate:
            rows[f"model {name} + mean calibration"] = lambda c, p=predict: cal.apply(p(c), c)
    results = {name: evaluate(fn, test) for name, fn in rows.items()}
    loo = [  # how well the calibration predicts the mean of a training pair it was not fitted on
        MeanCalibration.fit(train[:k] + train[k + 1 :]).target_mean(c) / float(np.mean(m)) - 1.0
        for k, (c, m) in enumerate(train)
    ]
    results["_mean_calibration"] = {
        "a": cal.a,
        "b": cal.b,
        "fit": "mean(ms) = a + b mean(conv) over train pairs",
        "leave_one_out_mean_error_on_train": [round(float(e), 4) for e in loo],
        "leave_one_out_max_abs_error": float(np.max(np.abs(loo))),
    }
    best_name = min(
        (n for n in results if not n.startswith(("model ", "_")) and "oracle" not in n),
        key=lambda n: results[n]["mean"]["nrmse_mean"],
    )
    conv_nrmse = results["convolution"]["mean"]["nrmse_mean"]
    best_nrmse = results[best_name]["mean"]["nrmse_mean"]
    targets = {}
    for name in (n for n in results if n.startswith("model ")):
        m = results[name]["mean"]
        targets[name] = {
            "ratio_to_convolution": m["nrmse_mean"] / conv_nrmse,
            "ratio_to_best_regression": m["nrmse_mean"] / best_nrmse,
            "half_of_convolution": m["nrmse_mean"] <= 0.5 * conv_nrmse,
            "below_best_regression": m["nrmse_mean"] < best_nrmse,
            # issue #17: <= 0.85 x the best regression, every image's mean within 5 % of the multislice image's
            "at_most_0.85_best_regression": m["nrmse_mean"] <= 0.85 * best_nrmse,
            "mean_intensity_within_5pct": results[name]["max_abs_mean_intensity_error"] <= 0.05,
        }
    return results, targets, best_name, rows


def save_figure(path: Path, test, rows: dict, columns: list[str], titles: list[str]) -> None:
    """One row per test pair: the chosen methods' images and the multislice image (all / max, one grey scale),
    then each method's error (prediction - multislice) on a symmetric scale; pixels shown unresampled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols = 2 * len(columns) + 1
    fig, axes = plt.subplots(len(test), n_cols, figsize=(2.1 * n_cols, 2.2 * len(test)), squeeze=False)
    for r, (conv, ms) in enumerate(test):
        preds = [rows[c](conv) for c in columns]
        for c, (img, title) in enumerate(zip([*preds, ms], [*titles, "multislice"], strict=True)):
            axes[r, c].imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            err = stem_pairs.image_metrics(img, ms)
            label = (
                title
                if img is ms
                else f"{title}\nRMSE/mean {err['nrmse_mean']:.3f}, mean {err['mean_intensity_error']:+.1%}"
            )
            axes[r, c].set_title(label, fontsize=6)
        for k, (img, title) in enumerate(zip(preds, titles, strict=True)):
            ax = axes[r, len(columns) + 1 + k]
            ax.imshow(img - ms, cmap="RdBu_r", vmin=-0.3, vmax=0.3, interpolation="nearest")
            ax.set_title(f"{title} - multislice", fontsize=6)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def print_table(title: str, results: dict, targets: dict, best_name: str) -> None:
    print(title)
    head = f"{'method':46s} {'RMSE/mean':>10s} {'RMSE/std':>9s} {'1-R2':>8s} {'pooled RMSE/std':>16s} "
    print(head + f"{'pooled 1-R2':>12s} {'legacy':>7s} {'max|mean err|':>14s} {'checker':>8s} {'HF':>8s}")
    for name, r in results.items():
        if name.startswith("_"):
            continue
        m, p = r["mean"], r["pooled"]
        print(
            f"{name:46s} {m['nrmse_mean']:10.4f} {m['nrmse_std']:9.4f} {m['one_minus_r2']:8.4f} "
            f"{p['nrmse_std']:16.4f} {p['one_minus_r2']:12.4f} {r['legacy_score']:7.4f} "
            f"{r['max_abs_mean_intensity_error']:14.3f} {r['texture']['checkerboard']['prediction']:8.1e} "
            f"{r['texture']['high_frequency']['prediction']:8.1e}"
        )
    cal = results["_mean_calibration"]
    print(
        f"mean calibration: mean(ms) = {cal['a']:.4f} + {cal['b']:.4f} mean(conv); leave-one-out on its fit pairs: "
        f"worst mean error {cal['leave_one_out_max_abs_error']:.3f}"
    )
    for name, met in targets.items():
        print(
            f"{name}: {met['ratio_to_convolution']:.2f} x convolution, {met['ratio_to_best_regression']:.2f} x "
            f"{best_name} (target <= 0.85: {'met' if met['at_most_0.85_best_regression'] else 'NOT met'}), worst "
            f"per-image mean intensity error {results[name]['max_abs_mean_intensity_error']:.3f} (target <= 0.05: "
            f"{'met' if met['mean_intensity_within_5pct'] else 'NOT met'})"
        )


def sim_held_out_split(test_dirs: list[Path], train_dirs: list[Path], real_train, models: dict, calibrate: bool):
    """Scores on the simulated pairs of compositions no model trained on (``stem_sim.HELD_OUT_MO_FRACTIONS``),
    with the baselines and the calibration fitted on the real training pairs plus the simulated training ones."""
    from keras_spm.datasets import stem_sim

    split = stem_sim.composition_split()
    test = [pair for d in test_dirs for pair in stem_sim.load_pairs(d, split["held_out"])]
    if not test:
        raise SystemExit(f"--sim-test {test_dirs}: no held-out-composition pairs {split['held_out']} found there.")
    fit = real_train + [pair for d in train_dirs for pair in stem_sim.load_pairs(d, split["train"])]
    results, targets, best, _ = compare(fit, test, models, calibrate)
    title = f"simulated held-out compositions (Mo {split['held_out']}): {len(test)} pairs, fitted on {len(fit)}"
    print_table(title, results, targets, best)
    return {
        "folders": [str(d) for d in test_dirs],
        "mo_fractions": list(split["held_out"]),
        "n_pairs": len(test),
        "fit_pairs": {"real_train": len(real_train), "sim_train": len(fit) - len(real_train)},
        "results": results,
        "targets": {"best_regression": best, "models": targets},
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=stem_pairs.default_root(), help="folder of the Pt-Mo5 pairs")
    parser.add_argument("--model", type=Path, action="append", default=[], help="saved generator (.keras)")
    parser.add_argument(
        "--val-pairs",
        type=int,
        nargs="*",
        default=[6, 14],
        help="training pairs also scored as a validation split (baselines refitted without them); what chooses "
        "between model variants, since the test pairs choose nothing",
    )
    parser.add_argument(
        "--sim-test",
        type=Path,
        action="append",
        default=[],
        help="stem_sim.write_pairs folder(s): their held-out-composition pairs are scored as split 'sim_held_out' "
        "(issue #17), baselines fitted on the Pt-Mo5 training pairs plus any --sim-train pairs",
    )
    parser.add_argument(
        "--sim-train",
        type=Path,
        action="append",
        default=[],
        help="stem_sim.write_pairs folder(s) whose training-composition pairs the baselines of the sim_held_out "
        "split are also fitted on (what a model trained with --sim-pairs saw)",
    )
    parser.add_argument(
        "--sim-val",
        type=Path,
        action="append",
        default=[],
        help="like --sim-test, scored as split 'sim_val': the simulated held-out compositions that choose a "
        "checkpoint (then report on a --sim-test folder of other seeds)",
    )
    parser.add_argument(
        "--no-test",
        action="store_true",
        help="skip the Pt-Mo5 test pairs (choosing checkpoints on --val-pairs / --sim-val: the test chooses nothing)",
    )
    parser.add_argument("--no-calibration", action="store_true", help="leave out the '+ mean calibration' rows")
    parser.add_argument(
        "--tta", action="store_true", help="models: the mean of each image's 8 mirror / 90-degree views (as predict)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    train = stem_pairs.load_split("train", args.root)
    test = [] if args.no_test else stem_pairs.load_split("test", args.root)
    raw_legacy = [stem_pairs.legacy_nrmse(*stem_pairs.load_pair(i, args.root)) for i in range(1, 20)]
    models = {path.stem + ("_tta" if args.tta else ""): model_predictor(path, args.tta) for path in args.model}
    calibrate = not args.no_calibration

    results, targets, best_name, rows = {}, {}, None, {}
    if not args.no_test:
        results, targets, best_name, rows = compare(train, test, models, calibrate)
        print_table(
            f"Pt-Mo5 test pairs {stem_pairs.TEST_INDICES}, fitted on {stem_pairs.TRAIN_INDICES}; images / max",
            results,
            targets,
            best_name,
        )
    splits = {}
    if args.val_pairs:
        fit_idx = [i for i in stem_pairs.TRAIN_INDICES if i not in args.val_pairs]
        norm = stem_pairs.normalize
        val_train = [tuple(norm(x) for x in stem_pairs.load_pair(i, args.root)) for i in fit_idx]
        val = [tuple(norm(x) for x in stem_pairs.load_pair(i, args.root)) for i in args.val_pairs]
        v_results, v_targets, v_best, _ = compare(val_train, val, models, calibrate)
        print_table(f"validation pairs {args.val_pairs}, fitted on {fit_idx}", v_results, v_targets, v_best)
        splits["val"] = {
            "indices": list(args.val_pairs),
            "fit_indices": fit_idx,
            "results": v_results,
            "targets": {"best_regression": v_best, "models": v_targets},
        }
    if args.sim_val:
        splits["sim_val"] = sim_held_out_split(args.sim_val, args.sim_train, train, models, calibrate)
    if args.sim_test:
        splits["sim_held_out"] = sim_held_out_split(args.sim_test, args.sim_train, train, models, calibrate)
    repro = 1.0 - float(np.mean(raw_legacy))
    print(f"legacy score of the raw convolution on pairs 1-19: {repro:.6f} (source: 0.420988)")

    a, b = linear_fit(np.concatenate([c.ravel() for c, _ in train]), np.concatenate([m.ravel() for _, m in train]))
    out = {
        "description": "STEM convolution -> multislice baselines on held-out Pt-Mo5 pairs; see the script docstring.",
        "test_indices": list(stem_pairs.TEST_INDICES),
        "train_indices": list(stem_pairs.TRAIN_INDICES),
        "normalisation": "each image / its own max (convolution clipped at 0 first); metrics on [0, 1] images",
        "linear_fit_train": {"a": a, "b": b},
        "legacy_reproduction_pairs_1_19": {"ours": repro, "source": 0.42098796707235264},
        "results": results,
        "targets": {"best_regression": best_name, "models": targets},
        "splits": splits,
        "machine": {"python": platform.python_version(), "numpy": np.__version__},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    if args.no_test:
        print(f"wrote {args.out}")
        return out
    figure = args.out.with_suffix(".png")
    columns = ["convolution", "poly3 pixel+blur", *(f"model {name}" for name in models)]
    save_figure(figure, test, rows, columns, ["convolution", "poly3+blur", *models])
    print(f"wrote {args.out} and {figure}")
    return out


if __name__ == "__main__":
    main()
