"""AFM style translation (CycleGAN simulated <-> real) judged by a "machine expert" and by cycle consistency.

    python benchmarks/afm_style.py --g-ab zoo/cyclegan_afm_sim2exp/cyclegan_afm_sim2exp.keras \\
        --g-ba zoo/cyclegan_afm_exp2sim/cyclegan_afm_exp2sim.keras

1. The expert (``keras_spm.models.gan.expert``, a 4-block CNN) is trained to tell real from simulated crops
   on the ``expert`` split of ``keras_spm.datasets.afm_style`` (image series never shown to the GAN: 165
   simulated images, 26 real ones in 3 series - all of them; holding one real series out at a time is how
   the design was chosen, see below), on class-balanced random crops (``--expert-orientations``: in the 8 orientations
   of the square), 4000 steps of Adam 1e-3 cosine-decayed to 0. It scores an image by its mean P(real) over
   five fixed crops (x ``--symmetries``). The judge is an ensemble of ``--expert-seeds`` (default 5) experts
   whose P(real) is averaged, because single experts are noisy: at a constant rate five seeds called 0.61-0.94
   of the raw simulated test images simulated, with the decay 0.92-0.94 (per-expert figures are in the results).
   Steps, crop and width were chosen by ``benchmarks/afm_style_expert_cv.py`` (cross-validation inside the
   ``expert`` split, never this test split): 4000 steps beat 2000 and 192-pixel crops.
2. On the ``gan_test`` split (seen by neither network: 90 simulated, 18 real images in 2 series) it scores
   the raw simulated images (target: >= 95 % called simulated), the raw real images, the simulated images
   translated to real style by ``g_ab`` (target: >= 50 % called real) and the real images translated to
   simulated style by ``g_ba``.
3. Cycle consistency: SSIM (data range 2, images in [-1, 1]) of ``g_ba(g_ab(x))`` against ``x`` for the
   simulated test images (target >= 0.9), and of ``g_ab(g_ba(y))`` against ``y`` for the real ones.

Every image the expert sees, raw or translated, is min/max scaled to [-1, 1] first (as the loaders scale
real and simulated images), so the expert cannot key on the value range of the tanh output. Generators run
on whole images; sides that are not multiples of 4 are reflection-padded and cropped back.
Prints the figures, writes ``benchmarks/results/afm_style.json`` and the figure ``afm_style.png``
(rows: simulated input, translated to real, reconstructed; real input, translated to simulated,
reconstructed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_spm.datasets import afm_style  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ZOO = ROOT / "zoo"


def translate(generator, images: list[np.ndarray]) -> list[np.ndarray]:
    """Run a generator on whole 2-D images in [-1, 1] (padded to its stride and cropped back)."""
    from keras_spm.models.gan import translate as run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # padding is expected for odd-sized real images
        return [run(generator, img) for img in images]


def minmax(images: list[np.ndarray]) -> list[np.ndarray]:
    return [afm_style.normalize(im) for im in images]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=2.0))


def save_figure(path: Path, rows: list[list[np.ndarray]], labels: list[str], size: int = 160) -> None:
    """A grid of images (each min/max scaled and resized to ``size``), one labelled row per list."""
    from PIL import Image, ImageDraw

    pad = 4
    n_cols = max(len(r) for r in rows)
    label_w = 150
    canvas = Image.new("L", (label_w + n_cols * (size + pad), len(rows) * (size + pad)), 255)
    draw = ImageDraw.Draw(canvas)
    for r, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y0 = r * (size + pad)
        draw.text((4, y0 + size // 2 - 6), label, fill=0)
        for c, img in enumerate(row):
            u8 = ((afm_style.normalize(img) + 1) * 127.5).clip(0, 255).astype(np.uint8)
            tile = Image.fromarray(u8).resize((size, size), Image.BILINEAR)
            canvas.paste(tile, (label_w + c * (size + pad), y0))
    canvas.save(path)


def load_or_train_expert(args, seed: int):
    """The expert of ``seed``: from the ``--expert`` cache if there, else trained on the ``expert`` split."""
    import keras

    from keras_spm.models.gan.expert import train_expert

    path = args.expert
    if path is not None and args.expert_seeds > 1:
        path = path.with_name(f"{path.stem}_s{seed}{path.suffix}")
    if path is not None and path.is_file():
        print(f"expert loaded from {path}")
        return keras.saving.load_model(path, compile=False)
    expert_sim = afm_style.split_paths("sim", "expert", args.root)
    expert_sim += [p for d in args.expert_extra_sim for p in afm_style.list_images(d)]
    expert = train_expert(
        afm_style.load_images(expert_sim),
        afm_style.load_images(afm_style.split_paths("real", "expert", args.root)),
        args.expert_steps,
        crop=args.crop,
        seed=seed,
        filters=args.expert_filters,
        orientations=args.expert_orientations,
        lr_decay=not args.expert_constant_lr,
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        expert.save(path)
    return expert


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--g-ab", type=Path, default=ZOO / "cyclegan_afm_sim2exp" / "cyclegan_afm_sim2exp.keras")
    parser.add_argument("--g-ba", type=Path, default=ZOO / "cyclegan_afm_exp2sim" / "cyclegan_afm_exp2sim.keras")
    parser.add_argument("--root", type=Path, default=afm_style.default_root())
    parser.add_argument(
        "--expert-steps",
        type=int,
        default=4000,
        help="chosen by benchmarks/afm_style_expert_cv.py (2000 until 2026-12)",
    )
    parser.add_argument("--expert-filters", type=int, default=16)
    parser.add_argument(
        "--expert",
        type=Path,
        default=None,
        help="load/save the trained expert here (cache); with --expert-seeds > 1, one file per seed (NAME_s<seed>); "
        "a cached file is used as it is, whatever the expert options now say",
    )
    parser.add_argument(
        "--expert-seeds",
        type=int,
        default=5,
        help="an ensemble of this many experts (seeds seed, seed+1, ...) whose P(real) is averaged",
    )
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument(
        "--expert-constant-lr", action="store_true", help="train the expert at a constant rate (before 2026-12)"
    )
    parser.add_argument("--expert-orientations", action="store_true", help="train the expert on turned crops too")
    parser.add_argument(
        "--expert-extra-sim",
        type=Path,
        action="append",
        default=[],
        help="more simulated images for the expert only (never GAN training images), e.g. keras_spm simulations "
        "of validation-split molecules: python -m keras_spm.datasets.afm_style --split val --out DIR",
    )
    parser.add_argument("--symmetries", type=int, default=1, help="orientations the expert averages per crop (1-8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="afm_style", help="results/<name>.json and results/<name>.png")
    parser.add_argument("--figure-columns", type=int, default=6)
    args = parser.parse_args(argv)
    if args.expert_seeds < 1:
        parser.error("--expert-seeds must be >= 1.")

    from keras_spm.models.gan import load_generator
    from keras_spm.models.gan.expert import prob_real

    load = afm_style.load_images
    t0 = time.perf_counter()
    experts = [load_or_train_expert(args, args.seed + k) for k in range(args.expert_seeds)]
    expert_seconds = time.perf_counter() - t0

    def expert_probs(images) -> np.ndarray:
        """(n_experts, n_images) P(real) of every expert."""
        scaled = minmax(images)
        return np.stack([prob_real(e, scaled, args.crop, args.symmetries) for e in experts])

    sim_paths = afm_style.split_paths("sim", "gan_test", args.root)
    sim = load(sim_paths)
    real = load(afm_style.split_paths("real", "gan_test", args.root))
    g_ab = load_generator(args.g_ab, input_shape=(None, None, 1))
    g_ba = load_generator(args.g_ba, input_shape=(None, None, 1))
    t0 = time.perf_counter()
    sim2real = translate(g_ab, sim)
    sim_cycle = translate(g_ba, sim2real)
    real2sim = translate(g_ba, real)
    real_cycle = translate(g_ab, real2sim)
    translate_seconds = (time.perf_counter() - t0) / (2 * (len(sim) + len(real)))

    probs = {
        k: expert_probs(v) for k, v in (("sim", sim), ("real", real), ("sim2real", sim2real), ("real2sim", real2sim))
    }
    cycle_sim = np.array([ssim(a, b) for a, b in zip(sim, sim_cycle, strict=True)])
    series = [afm_style.series_name(p) for p in sim_paths]
    results = {
        "raw_sim_called_sim": float(np.mean(probs["sim"].mean(0) <= 0.5)),
        "raw_real_called_real": float(np.mean(probs["real"].mean(0) > 0.5)),
        "sim2real_called_real": float(np.mean(probs["sim2real"].mean(0) > 0.5)),
        "real2sim_called_sim": float(np.mean(probs["real2sim"].mean(0) <= 0.5)),
        "cycle_ssim_sim": float(cycle_sim.mean()),
        "cycle_ssim_sim_by_series": {s: float(cycle_sim[[x == s for x in series]].mean()) for s in sorted(set(series))},
        "cycle_ssim_real": float(np.mean([ssim(a, b) for a, b in zip(real, real_cycle, strict=True)])),
        "translation_ssim_sim": float(np.mean([ssim(a, b) for a, b in zip(sim, sim2real, strict=True)])),
        "n_test_sim": len(sim),
        "n_test_real": len(real),
        "targets": {"raw_sim_called_sim": ">= 0.95", "sim2real_called_real": ">= 0.5", "cycle_ssim_sim": ">= 0.9"},
        "expert": {
            "steps": args.expert_steps,
            "filters": args.expert_filters,
            "crop": args.crop,
            "extra_simulated": [str(d) for d in args.expert_extra_sim],
            "training_crops": "class-balanced, random position, "
            + ("one of 8 orientations" if args.expert_orientations else "random left-right flip"),
            "learning_rate": "Adam 1e-3" + (" constant" if args.expert_constant_lr else ", cosine decay to 0"),
            "scoring": f"mean P(real) over 5 fixed crops x {args.symmetries} orientations, threshold 0.5",
            "seeds": [args.seed + k for k in range(args.expert_seeds)],
            "ensemble": "mean P(real) of the seeds' experts" if args.expert_seeds > 1 else "one expert",
            "per_expert": {
                "raw_sim_called_sim": (probs["sim"] <= 0.5).mean(1).tolist(),
                "raw_real_called_real": (probs["real"] > 0.5).mean(1).tolist(),
                "sim2real_called_real": (probs["sim2real"] > 0.5).mean(1).tolist(),
            },
            "seconds": expert_seconds,
            "params": experts[0].count_params(),
        },
        "generator_seconds_per_image": translate_seconds,
        "generators": {"g_ab": str(args.g_ab), "g_ba": str(args.g_ba)},
    }
    print(f"gan_test: {len(sim)} simulated, {len(real)} real images")
    for key in (
        "raw_sim_called_sim",
        "raw_real_called_real",
        "sim2real_called_real",
        "real2sim_called_sim",
        "cycle_ssim_sim",
        "cycle_ssim_real",
        "translation_ssim_sim",
    ):
        target = results["targets"].get(key, "")
        print(f"  {key:24s} {results[key]:.3f}  {('target ' + target) if target else ''}")

    rng = np.random.default_rng(args.seed)
    n = args.figure_columns
    si = sorted(rng.choice(len(sim), min(n, len(sim)), replace=False))
    ri = sorted(rng.choice(len(real), min(n, len(real)), replace=False))
    RESULTS.mkdir(parents=True, exist_ok=True)
    figure = RESULTS / f"{args.name}.png"
    save_figure(
        figure,
        [
            [sim[i] for i in si],
            [sim2real[i] for i in si],
            [sim_cycle[i] for i in si],
            [real[i] for i in ri],
            [real2sim[i] for i in ri],
            [real_cycle[i] for i in ri],
        ],
        ["simulated", "sim -> real", "sim -> real -> sim", "real", "real -> sim", "real -> sim -> real"],
    )
    out = RESULTS / f"{args.name}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out} and {figure}")
    return results


if __name__ == "__main__":
    main()
