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

4. Fidelity (``keras_spm.metrics.fidelity``; the expert measures style, not fidelity), for every generator on
   every domain - sim -> real (``g_ab`` on simulated), real -> sim (``g_ba`` on real), and each generator on
   images already in its output domain (``g_ba`` on simulated, ``g_ab`` on real): the period-2 checkerboard
   amplitude and the fraction of power above 0.25 cycles/px, as ratios of the translations' mean to the inputs'
   (Odena et al., Distill 2016: transposed convolutions leave a checkerboard); the structure kept (Pearson r of
   input and translation after a 2-px Gaussian blur); the mean |change| in [-1, 1]. An ideal exp2sim (``g_ba``)
   leaves simulations almost untouched: its change to simulated images over its change to real ones, on
   ``gan_test`` and again on the ``expert`` split's images (never seen by the GAN either). Targets: ratios
   <= 1.5, blurred r >= 0.8 for both translation directions; exp2sim change on simulations <= 0.5 x on real.

Every image the expert sees, raw or translated, is min/max scaled to [-1, 1] first (as the loaders scale
real and simulated images), so the expert cannot key on the value range of the tanh output. Generators run
on whole images; sides that are not multiples of 4 are reflection-padded and cropped back.
Prints the figures, writes ``benchmarks/results/afm_style.json`` and the figure ``afm_style.png``
(rows: simulated input, translated to real, reconstructed; real input, translated to simulated,
reconstructed), and ``afm_style_native.png``: inputs and translations at native resolution, all on one grey
scale ([-1, 1] -> black..white, no per-tile rescaling, so darkening shows), with 4x pixel-replicated
zooms of each image's centre where a checkerboard would show. ``--no-expert`` skips the expert (fidelity
only, minutes instead of half an hour).
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
from keras_spm.metrics.fidelity import fidelity_report, mean_abs_change  # noqa: E402

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


def _u8(img: np.ndarray) -> np.ndarray:
    """[-1, 1] -> 0..255 on a fixed scale (no per-image stretch)."""
    return ((np.clip(img, -1, 1) + 1) * 127.5).round().astype(np.uint8)


def save_native_figure(path: Path, rows: list[tuple[str, list[np.ndarray]]], zoom: int = 4, crop: int = 48) -> None:
    """Each row: its images at native resolution side by side, then ``zoom`` x pixel-replicated centre crops.

    All tiles share the [-1, 1] grey scale, so a translation that darkens or brightens shows as such.
    """
    from PIL import Image, ImageDraw

    pad, head = 6, 14
    widths = [sum(im.shape[1] for im in imgs) + len(imgs) * (crop * zoom + 2 * pad) for _, imgs in rows]
    heights = [max(max(im.shape[0] for im in imgs), crop * zoom) + head + pad for _, imgs in rows]
    canvas = Image.new("L", (max(widths) + pad * len(rows[0][1]), sum(heights)), 255)
    draw = ImageDraw.Draw(canvas)
    y = 0
    for (label, imgs), height in zip(rows, heights, strict=True):
        draw.text((2, y + 1), label, fill=0)
        x = 0
        for im in imgs:
            canvas.paste(Image.fromarray(_u8(im)), (x, y + head))
            x += im.shape[1] + pad
        for im in imgs:
            h, w = im.shape
            c = im[(h - crop) // 2 : (h + crop) // 2, (w - crop) // 2 : (w + crop) // 2]
            canvas.paste(Image.fromarray(_u8(np.kron(c, np.ones((zoom, zoom))))), (x, y + head))
            x += crop * zoom + pad
        y += height
    canvas.save(path)


def fidelity_results(sim, real, sim2real, real2sim, sim_ident, real_ident, extra: dict | None = None) -> dict:
    """Fidelity of every generator on every domain, the exp2sim change ratio and the target checks."""
    out = {
        "sim2real (g_ab on simulated)": fidelity_report(sim, sim2real),
        "real2sim (g_ba on real)": fidelity_report(real, real2sim),
        "g_ba on simulated (exp2sim on simulations)": fidelity_report(sim, sim_ident),
        "g_ab on real (sim2exp on real images)": fidelity_report(real, real_ident),
    }
    on_sim = out["g_ba on simulated (exp2sim on simulations)"]["mean_abs_change"]["mean"]
    on_real = out["real2sim (g_ba on real)"]["mean_abs_change"]["mean"]
    out["exp2sim_change"] = {"on_simulated": on_sim, "on_real": on_real, "ratio": on_sim / on_real}
    if extra:
        out["exp2sim_change_expert_split"] = extra
    checks = {}
    for key in ("sim2real (g_ab on simulated)", "real2sim (g_ba on real)"):
        r = out[key]
        checks[key] = {
            "checkerboard_ratio<=1.5": r["checkerboard"]["ratio"] <= 1.5,
            "high_frequency_ratio<=1.5": r["high_frequency"]["ratio"] <= 1.5,
            "blurred_r>=0.8": r["blurred_r"]["mean"] >= 0.8,
        }
    checks["exp2sim_change_ratio<=0.5"] = out["exp2sim_change"]["ratio"] <= 0.5
    out["targets_met"] = checks
    return out


def print_fidelity(fid: dict) -> None:
    print("fidelity (ratios = mean over translations / mean over inputs):")
    print(f"  {'direction':44s} {'checker':>8s} {'HF>0.25':>8s} {'r(blur2)':>9s} {'min r':>6s} {'|change|':>9s}")
    for key, r in fid.items():
        if not isinstance(r, dict) or "checkerboard" not in r:
            continue
        print(
            f"  {key:44s} {r['checkerboard']['ratio']:8.2f} {r['high_frequency']['ratio']:8.2f} "
            f"{r['blurred_r']['mean']:9.3f} {r['blurred_r']['min']:6.2f} {r['mean_abs_change']['mean']:9.3f}"
        )
    c = fid["exp2sim_change"]
    print(
        f"  exp2sim |change|: {c['on_simulated']:.3f} on simulated, {c['on_real']:.3f} on real, ratio {c['ratio']:.2f} "
        "(target <= 0.5)"
    )
    if "exp2sim_change_expert_split" in fid:
        c = fid["exp2sim_change_expert_split"]
        print(
            f"  expert split: {c['on_simulated']:.3f} on simulated, {c['on_real']:.3f} on real, ratio {c['ratio']:.2f}"
        )


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
        verbose=1,
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
    parser.add_argument("--no-expert", action="store_true", help="fidelity and cycle SSIM only, no expert")
    parser.add_argument("--native-rows", type=int, default=3, help="simulated and real rows of the native figure")
    parser.add_argument(
        "--split",
        choices=("gan_test", "gan_val"),
        default="gan_test",
        help="images to judge: gan_test reports; gan_val (carved from the GAN's training share, never trained on) "
        "is the one to choose checkpoints or settings on",
    )
    args = parser.parse_args(argv)
    if args.expert_seeds < 1:
        parser.error("--expert-seeds must be >= 1.")

    from keras_spm.models.gan import load_generator
    from keras_spm.models.gan.expert import prob_real

    load = afm_style.load_images
    t0 = time.perf_counter()
    experts = [] if args.no_expert else [load_or_train_expert(args, args.seed + k) for k in range(args.expert_seeds)]
    expert_seconds = time.perf_counter() - t0

    def expert_probs(images) -> np.ndarray:
        """(n_experts, n_images) P(real) of every expert."""
        scaled = minmax(images)
        return np.stack([prob_real(e, scaled, args.crop, args.symmetries) for e in experts])

    sim_paths = afm_style.split_paths("sim", args.split, args.root)
    sim = load(sim_paths)
    real_paths = afm_style.split_paths("real", args.split, args.root)
    real = load(real_paths)
    g_ab = load_generator(args.g_ab, input_shape=(None, None, 1))
    g_ba = load_generator(args.g_ba, input_shape=(None, None, 1))
    t0 = time.perf_counter()
    sim2real = translate(g_ab, sim)
    sim_cycle = translate(g_ba, sim2real)
    real2sim = translate(g_ba, real)
    real_cycle = translate(g_ab, real2sim)
    translate_seconds = (time.perf_counter() - t0) / (2 * (len(sim) + len(real)))
    sim_ident, real_ident = translate(g_ba, sim), translate(g_ab, real)
    expert_split = {d: load(afm_style.split_paths(d, "expert", args.root)) for d in ("sim", "real")}
    changes = {
        d: float(np.mean([mean_abs_change(x, y) for x, y in zip(v, translate(g_ba, v), strict=True)]))
        for d, v in expert_split.items()
    }
    fidelity = fidelity_results(
        sim,
        real,
        sim2real,
        real2sim,
        sim_ident,
        real_ident,
        {
            "on_simulated": changes["sim"],
            "on_real": changes["real"],
            "ratio": changes["sim"] / changes["real"],
            "n_simulated": len(expert_split["sim"]),
            "n_real": len(expert_split["real"]),
        },
    )

    if experts:
        probs = {
            k: expert_probs(v)
            for k, v in (("sim", sim), ("real", real), ("sim2real", sim2real), ("real2sim", real2sim))
        }
    else:
        probs = {k: np.full((1, 1), np.nan) for k in ("sim", "real", "sim2real", "real2sim")}
    cycle_sim = np.array([ssim(a, b) for a, b in zip(sim, sim_cycle, strict=True)])
    series = [afm_style.series_name(p) for p in sim_paths]
    results = {
        "raw_sim_called_sim": float(np.mean(probs["sim"].mean(0) <= 0.5)) if experts else None,
        "raw_real_called_real": float(np.mean(probs["real"].mean(0) > 0.5)) if experts else None,
        "sim2real_called_real": float(np.mean(probs["sim2real"].mean(0) > 0.5)) if experts else None,
        "real2sim_called_sim": float(np.mean(probs["real2sim"].mean(0) <= 0.5)) if experts else None,
        "cycle_ssim_sim": float(cycle_sim.mean()),
        "cycle_ssim_sim_by_series": {s: float(cycle_sim[[x == s for x in series]].mean()) for s in sorted(set(series))},
        "cycle_ssim_real": float(np.mean([ssim(a, b) for a, b in zip(real, real_cycle, strict=True)])),
        "translation_ssim_sim": float(np.mean([ssim(a, b) for a, b in zip(sim, sim2real, strict=True)])),
        "n_test_sim": len(sim),
        "n_test_real": len(real),
        "split": args.split,
        "targets": {
            "raw_sim_called_sim": ">= 0.95",
            "sim2real_called_real": ">= 0.5",
            "cycle_ssim_sim": ">= 0.9",
            "fidelity": "both directions: checkerboard and high-frequency ratios <= 1.5, blurred r >= 0.8; "
            "exp2sim change on simulations <= 0.5 x on real images",
        },
        "fidelity": fidelity,
        "expert": None
        if not experts
        else {
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
    print(f"{args.split}: {len(sim)} simulated, {len(real)} real images")
    for key in (
        "raw_sim_called_sim",
        "raw_real_called_real",
        "sim2real_called_real",
        "real2sim_called_sim",
        "cycle_ssim_sim",
        "cycle_ssim_real",
        "translation_ssim_sim",
    ):
        if results[key] is None:
            continue
        target = results["targets"].get(key, "")
        print(f"  {key:24s} {results[key]:.3f}  {('target ' + target) if target else ''}")
    print_fidelity(fidelity)

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
    native = RESULTS / f"{args.name}_native.png" if args.native_rows > 0 else None
    k = args.native_rows
    out = RESULTS / f"{args.name}.json"
    out.write_text(json.dumps(results, indent=1))  # before the figures: a figure that fails loses no numbers
    if native is None:
        print(f"wrote {out} and {figure} (--native-rows 0: no native-resolution figure)")
        return results
    save_native_figure(
        native,
        [
            (
                f"simulated {Path(sim_paths[i]).name}: input | g_ab sim->real | g_ba on it",
                [sim[i], sim2real[i], sim_ident[i]],
            )
            for i in si[:k]
        ]
        + [
            (f"real {real_paths[j].name}: input | g_ba real->sim | g_ab on it", [real[j], real2sim[j], real_ident[j]])
            for j in ri[:k]
        ],
    )
    print(f"wrote {out}, {figure} and {native}")
    return results


if __name__ == "__main__":
    main()
