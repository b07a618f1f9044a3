"""bf16 vs float32 for every zoo model on its own inputs, and a short DSH fine-tune in both precisions.

    HF_HUB_OFFLINE=1 python benchmarks/precision_checks.py                 # all zoo models
    HF_HUB_OFFLINE=1 python benchmarks/precision_checks.py --model xyz     # one (repeatable)
    HF_HUB_OFFLINE=1 python benchmarks/precision_checks.py --finetune      # DSH fine-tune, float32 vs bf16
    python benchmarks/precision_checks.py --train-speed [dae] [cyclegan]  # training speed, float32 vs bf16

Each zoo model (``keras_spm.zoo.REGISTRY``, the shipped copies) runs in float32 and, rebuilt with
:func:`keras_spm.precision.with_policy`, in ``mixed_bfloat16`` on the same inputs: validation-style data, not the
test split used to promote zoo weights, where the data has one (AFM: the molecule set's *val* split, simulated
and cached under ``~/.cache/keras_spm/bench``; STEM: four train pairs, the only split besides test; CycleGAN:
the *expert* split of afm-exp; tip artifacts: the *val* surfaces; nanoparticles: synthetic images of seed 4242,
the validation seed). Reported per output: max |bf16 - float32|, the float32 range and Pearson r; per metric
(the model's own: map MSE / SSIM / Pearson r, xyz precision / recall / position error, ES sign agreement,
STEM fmRMSE, cycle SSIM, PSNR / SSIM, watershed mAP) both values and the relative change; ``bf16_ok`` if no
metric got worse by more than 1 % (``within_1_percent_both_ways`` also counts changes for the better). A speed
row per model: traced inference on a batch of its inputs, float32 and bf16 alternating, 5 repeats
(``--speed-repeats``). The verdicts fill :data:`keras_spm.precision.BF16_OK` (copied by hand, with the reason).
bf16 layers are rebuilt with ``keep=precision.FLOAT32_PREFIXES[name]``, as :func:`~keras_spm.precision.for_inference`
does.

``--finetune``: dsh_light fine-tuned ``--steps`` steps (batch 16, Adam 1e-4, the asd-afm-random-noise
augmentation, same seeded batches) from the zoo weights in float32 and in bf16, on cached simulated light *train*
molecules; validation loss on the cached val stacks. Target: bf16 within 2 % of the float32 run.

``--train-speed``: training samples/s of the tip-artifact DAE as ``training/fit_dae.py --variant topography`` trains
it (64 px patches, batch 16, same loss and optimizer; bf16 via ``with_policy(..., training=True)``), float32 and bf16
alternating per repeat, so ``fit_dae.py --precision`` can be chosen on a measurement; and training steps/s of the
CycleGAN as ``training/fit_gan.py --precision`` builds it (the zoo pair's sizes, resize upsampling, batch 1).

Results: ``benchmarks/results/precision_checks.json``, ``precision_finetune.json`` and ``precision_train_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = ROOT / "benchmarks" / "results"
TOLERANCE = 0.01  # a metric may get worse by at most 1 % (relative) under bf16
#: metric name endings: which way is better (others, e.g. a mean particle diameter, count both ways)
LOWER_IS_BETTER = ("mse", "error", "nrmse_mean", "nrmse_std", "one_minus_r2")
HIGHER_IS_BETTER = ("ssim", "pearson_r", "precision", "recall", "f1", "map", "ap50", "psnr", "sign_agreement")
#: AFM kind -> (tips, descriptors) it is evaluated on
KINDS = {
    "dsh": (("CO",), ("disks", "spheres", "height")),
    "es": (("CO", "Xe"), ("es", "height")),
    "xyz": (("CO",), ("xyz",)),
}
AFM_MODELS = {
    "dsh_light": ("dsh", "light"),
    "dsh_heavy": ("dsh", "heavy"),
    "xyz": ("xyz", "light"),
    "es": ("es", "heavy"),
    "dsh_6slice": ("dsh", "heavy"),  # slices 2-7 of the same stacks (the preset's recipe.slices)
    "es_6slice": ("es", "heavy"),
}


def afm_stacks(kind: str, set_name: str, split: str = "val", n: int = 16, seed: int = 4040) -> tuple[dict, dict]:
    """Simulated ({tip: (n,128,128,10)}, {descriptor: ...}) of the first ``n`` molecules of ``split``; cached."""
    from dataclasses import replace

    from keras_spm.data.samples import SampleSpec, simulate_batch
    from keras_spm.data.sets import cache_dir, load_set
    from keras_spm.sim.afm import ASD_AFM

    tips, descriptors = KINDS[kind]
    path = cache_dir().parent / "bench" / f"{set_name}-{split}-{n}-{kind}-{seed}-img.npz"
    if path.exists():
        data = np.load(path)
        return {t: data[f"x_{t}"] for t in tips}, {d: data[f"y_{d}"] for d in descriptors}
    from keras_spm.sim.opencl import init_opencl

    init_opencl()
    molecules = load_set(set_name, split)[:n]
    xs, ys = simulate_batch(molecules, SampleSpec(tips, descriptors, replace(ASD_AFM), augmentation=None), seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{f"x_{t}": v for t, v in xs.items()}, **{f"y_{d}": v for d, v in ys.items()})
    os.replace(tmp, path)
    return xs, ys


def check_afm(name: str, model, n: int = 16) -> tuple[dict, dict, object]:
    """(outputs, metrics, timing batch) of an AFM model on the stacks of its first ``n`` val molecules."""
    from keras_spm.models.afm import (
        decode_xyz_prediction,
        decode_xyz_target,
        detection_scores,
        map_metrics,
        standardize_stack,
    )
    from keras_spm.zoo.presets import get_preset

    kind, set_name = AFM_MODELS[name]
    xs, ys = afm_stacks(kind, set_name, n=n)
    lo, hi = get_preset(name).recipe.slices or (0, None)
    xs = {t: x[..., lo:hi] for t, x in xs.items()}
    scales_itself = any(type(layer).__module__ == "keras_spm.models.preprocessing" for layer in model.layers)
    # raw stacks into a model with its input scaling saved inside (the zoo's, since #15), else the ASD-AFM one here
    inputs = xs if scales_itself else {t: standardize_stack(x) for t, x in xs.items()}
    chunks = []
    for start in range(0, n, 8):
        batch = {t: x[start : start + 8] for t, x in inputs.items()}
        chunks.append(model(batch if len(batch) > 1 else next(iter(batch.values())), training=False))
    outputs = {k: np.concatenate([np.asarray(c[k]) for c in chunks]) for k in chunks[0]}
    metrics = {}
    if kind == "xyz":
        pairs = zip(outputs["xyz_class"], outputs["xyz_offset"], strict=True)
        found = [decode_xyz_prediction(c, o, threshold=0.5) for c, o in pairs]
        scores = detection_scores(found, [decode_xyz_target(t) for t in ys["xyz"]])
        metrics = {f"xyz.{k}": float(v) for k, v in scores.items() if not k.startswith("n_")}
    else:
        for target in ys:
            m = map_metrics(outputs[target], ys[target])
            metrics.update({f"{target}.{k.removesuffix('_mean')}": v for k, v in m.items() if k.endswith("_mean")})
        if "es" in ys:
            mask = ys["height"] > 0
            metrics["es.sign_agreement"] = float((np.sign(outputs["es"][mask]) == np.sign(ys["es"][mask])).mean())
    batch = {t: x[:8] for t, x in inputs.items()}
    return outputs, metrics, batch if len(batch) > 1 else next(iter(batch.values()))


def check_stem(model) -> tuple[dict, dict, object]:
    from keras_spm.datasets import stem_pairs
    from keras_spm.models.gan import translate

    pairs = stem_pairs.load_split("train")[:4]
    preds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for conv, _ in pairs:
            preds.append(stem_pairs.from_tanh_range(translate(model, stem_pairs.to_tanh_range(conv))))
    per = [stem_pairs.image_metrics(p, ms) for p, (_, ms) in zip(preds, pairs, strict=True)]
    metrics = {k: float(np.mean([m[k] for m in per])) for k in ("nrmse_mean", "nrmse_std", "one_minus_r2")}
    outputs = {f"pair{i}": p for i, p in enumerate(preds)}
    return outputs, metrics, np.zeros((1, 256, 256, 1), "float32") + stem_pairs.to_tanh_range(0.5)


def check_cyclegan(name: str, model, other) -> tuple[dict, dict, object]:
    """Cycle SSIM with ``model`` at the precision under test and the other direction in float32."""
    from afm_style import ssim, translate

    from keras_spm.datasets import afm_style

    domain = "sim" if name.endswith("sim2exp") else "real"
    images = afm_style.load_images(afm_style.split_paths(domain, "expert")[:6])
    images = [im[: im.shape[0] // 4 * 4, : im.shape[1] // 4 * 4][:256, :256] for im in images]
    there = translate(model, images)
    back = translate(other, there)
    metrics = {"cycle_ssim": float(np.mean([ssim(a, b) for a, b in zip(images, back, strict=True)]))}
    return {f"image{i}": t for i, t in enumerate(there)}, metrics, np.stack(images[:4])[..., None]


def check_dae(model) -> tuple[dict, dict, object]:
    from keras_spm.metrics.image_quality import image_quality
    from keras_spm.models.dae.restore import restore
    from keras_spm.sim import tip as T

    surfaces = T.clean_surfaces("val")[:6]
    outputs, rows = {}, []
    for i, s in enumerate(surfaces):
        bad, _ = T.corrupt(s.height, s.pixel_size, np.random.default_rng([2025, i]))
        out = restore(model, bad, pixel_size=s.pixel_size)  # the scale-aware DAE needs it; older ones ignore it
        outputs[s.name] = out
        rows.append(image_quality(s.height, out, float(np.ptp(s.height))))
    metrics = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "ssim")}
    channels = model.inputs[0].shape[-1]  # 2 for the scale-aware DAE: heights and pixel size
    return outputs, metrics, np.random.default_rng(0).random((1, 256, 256, channels)).astype("float32")


def check_effunet(model) -> tuple[dict, dict, object]:
    from keras_spm.models.effunet import postprocess as P
    from keras_spm.sim import stm_particles as S

    cfg = S.ParticleConfig()
    rng = np.random.default_rng(4242)
    data = [S.simulate_stm_particles(rng, cfg) for _ in range(6)]
    net = P.at_size(model, cfg.size, cfg.size)
    outputs, samples, diameters = {}, [], []
    for i, d in enumerate(data):
        probs = P.predict_probabilities(net, d["image"])
        inst = P.watershed_instances(probs, P.INSIDE_THRESHOLD, P.MASK_THRESHOLD)
        outputs[f"image{i}"] = probs
        samples.append((inst, P.instance_scores(inst, probs), d["labels"]))
        diameters.append(P.size_distribution(inst, cfg.pixel_size)["diameters"])
    ap = P.average_precision(samples)
    metrics = {"map": ap["map"], "ap50": ap["ap50"], "mean_diameter_nm": float(np.mean(np.concatenate(diameters)))}
    batch = np.stack([P.prepare_image(d["image"]) for d in data[:2]])[..., None].astype("float32")
    return outputs, metrics, (net, batch)


def compare(ref: dict, out: dict) -> dict:
    """Per output: max |difference|, float32 range and Pearson r."""
    rows = {}
    for key in ref:
        a, b = np.asarray(ref[key], np.float64).ravel(), np.asarray(out[key], np.float64).ravel()
        r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
        rows[key] = {"max_abs_diff": float(np.abs(a - b).max()), "range": float(np.ptp(a)), "pearson_r": r}
    return rows


def time_inference(models: dict, batch, repeats: int = 5, calls: int = 3) -> dict:
    """Samples/s of a traced forward pass of each model on ``batch``, the models alternating per repeat."""
    import tensorflow as tf

    fns = {p: tf.function(lambda x, m=m: m(x, training=False)) for p, m in models.items()}
    n = len(next(iter(batch.values()))) if isinstance(batch, dict) else len(batch)
    for fn in fns.values():
        tf.nest.map_structure(np.asarray, fn(batch))
    runs = {p: [] for p in fns}
    for r in range(repeats):
        for p in fns if r % 2 == 0 else reversed(list(fns)):
            start = time.perf_counter()
            for _ in range(calls):
                tf.nest.map_structure(np.asarray, fns[p](batch))
            runs[p].append(calls * n / (time.perf_counter() - start))
    ratio = [b / f for f, b in zip(runs["float32"], runs["mixed_bfloat16"], strict=True)]
    return {"batch": n, "samples_per_s": runs, "bf16_over_float32": {"median": float(np.median(ratio)),
            "min": float(min(ratio)), "max": float(max(ratio))}}  # fmt: skip


def inputs_of(name: str, molecules: int = 16) -> str:
    """What the check of ``name`` runs on (written next to its numbers)."""
    if name in AFM_MODELS:
        kind, set_name = AFM_MODELS[name]
        return f"{molecules} simulated stacks of the {set_name} set's val split (ASD-AFM settings, no noise)"
    return {
        "pix2pix_stem": "Pt-Mo5 STEM train pairs 0-3 (the data has train and test only), whole images",
        "cyclegan_afm_sim2exp": "6 simulated images of the afm-exp expert split (<= 256 px), cycle through float32 "
        "exp2sim",
        "cyclegan_afm_exp2sim": "6 real images of the afm-exp expert split (<= 256 px), cycle through float32 sim2exp",
        "dae_tip_artifacts": "6 val-split clean surfaces, one seeded random tip corruption each",
        "effunet_nanoparticles": "6 synthetic STM images of seed 4242 (the validation seed), 256 px",
    }.get(name, "?")


def check_model(name: str, molecules: int = 16, speed_repeats: int = 5) -> dict:
    from keras_spm import precision, zoo

    model = zoo.load(name)
    keep = precision.FLOAT32_PREFIXES.get(name, ())
    bf16 = precision.with_policy(model, "mixed_bfloat16", keep=keep)
    runs = {}
    for policy, m in (("float32", model), ("mixed_bfloat16", bf16)):
        t0 = time.perf_counter()
        if name in AFM_MODELS:
            runs[policy] = check_afm(name, m, molecules)
        elif name == "pix2pix_stem":
            runs[policy] = check_stem(m)
        elif name.startswith("cyclegan"):
            other = zoo.load("cyclegan_afm_exp2sim" if name.endswith("sim2exp") else "cyclegan_afm_sim2exp")
            runs[policy] = check_cyclegan(name, m, other)
        elif name == "dae_tip_artifacts":
            runs[policy] = check_dae(m)
        elif name == "effunet_nanoparticles":
            runs[policy] = check_effunet(m)
        else:
            raise ValueError(f"no precision check for zoo model {name!r}; add one to {__file__}.")
        print(f"  {name} {policy}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    (out32, m32, batch), (out16, m16, _) = runs["float32"], runs["mixed_bfloat16"]
    metrics = {}
    for k, v in m32.items():
        change = (m16[k] - v) / abs(v) if v else m16[k] - v
        sign = -1.0 if k.endswith(LOWER_IS_BETTER) else 1.0 if k.endswith(HIGHER_IS_BETTER) else 0.0
        loss = -sign * change if sign else abs(change)  # > 0: bf16 made the metric worse by that fraction
        metrics[k] = {"float32": v, "mixed_bfloat16": m16[k], "relative_change": float(change), "worse_by": float(loss)}
    worst = max(metrics, key=lambda k: metrics[k]["worse_by"])
    if isinstance(batch, tuple):  # effunet: timed at the evaluated image size
        net, batch = batch
        speed_models = {"float32": net, "mixed_bfloat16": precision.with_policy(net, "mixed_bfloat16", keep=keep)}
    else:
        speed_models = {"float32": model, "mixed_bfloat16": bf16}
    return {
        "inputs": inputs_of(name, molecules),
        "outputs": compare(out32, out16),
        "metrics": metrics,
        "worst_metric": worst,
        "bf16_ok": bool(metrics[worst]["worse_by"] <= TOLERANCE),
        "within_1_percent_both_ways": bool(max(abs(m["relative_change"]) for m in metrics.values()) <= TOLERANCE),
        "float32_layers": sorted(n for n, p in precision.model_policies(bf16).items() if p == "float32"),
        "speed": time_inference(speed_models, batch, speed_repeats),
    }


def finetune(steps: int = 150, batch_size: int = 16, n_train: int = 48, lr: float = 1e-4) -> dict:
    """dsh_light fine-tuned in float32 and in bf16 from the same weights on the same batches; val losses."""
    import keras

    from keras_spm import precision, zoo
    from keras_spm.data.augment import AUGMENTATIONS
    from keras_spm.models import afm

    xs, ys = afm_stacks("dsh", "light", split="train", n=n_train, seed=5050)
    vx, vy = afm_stacks("dsh", "light")
    vx = afm.standardize_stack(vx["CO"])
    augment = AUGMENTATIONS["asd-afm-random-noise"]
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(steps):
        idx = rng.choice(n_train, batch_size, replace=False)
        batches.append((np.stack([augment(xs["CO"][i], rng) for i in idx]), {k: v[idx] for k, v in ys.items()}))
    base = zoo.load("dsh_light")
    result = {"steps": steps, "batch_size": batch_size, "train_molecules": n_train, "val_molecules": len(vx), "lr": lr}
    for policy in ("float32", "mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        fresh = keras.Model.from_config(base.get_config())  # own variables: base stays untouched
        model = afm.compile_dsh(precision.with_policy(fresh, policy, training=True), lr=lr)
        model.set_weights(base.get_weights())
        start_val = float(model.evaluate(vx, vy, batch_size=16, verbose=0)[0])
        t0 = time.perf_counter()
        losses = [float(model.train_on_batch(x, y)[0]) for x, y in batches]
        seconds = time.perf_counter() - t0
        val = float(model.evaluate(vx, vy, batch_size=16, verbose=0)[0])
        as_f32 = afm.compile_dsh(precision.with_policy(model, "float32"))
        val_f32 = float(as_f32.evaluate(vx, vy, batch_size=16, verbose=0)[0])
        result[policy] = {"val_loss_start": start_val, "val_loss": val, "val_loss_evaluated_in_float32": val_f32,
                          "train_loss_last20": float(np.mean(losses[-20:])), "seconds": seconds,
                          "samples_per_s": steps * batch_size / seconds}  # fmt: skip
        print(f"  {policy}: val loss {start_val:.5g} -> {val:.5g} in {seconds:.0f} s", file=sys.stderr)
    rel = result["mixed_bfloat16"]["val_loss"] / result["float32"]["val_loss"] - 1
    result["bf16_val_loss_relative_to_float32"] = rel
    result["target_within_2_percent"] = bool(abs(rel) <= 0.02 or rel < 0)
    return result


def dae_train_speed(repeats: int = 5, steps: int = 12, patch: int = 64, batch_size: int = 16) -> dict:
    """Training samples/s of the topography DAE in float32 and bf16 (alternating per repeat; see the module doc)."""
    import keras

    from keras_spm import precision
    from keras_spm.models import dae

    rng = np.random.default_rng(0)
    n = batch_size * steps
    x = rng.standard_normal((n, patch, patch, 2)).astype("float32")
    y = rng.standard_normal((n, patch, patch, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    base = dae.from_preset("dae_topography")
    models = {p: precision.with_policy(base, p, training=True) for p in precision.POLICIES}
    times: list[float] = []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self._t)

    for m in models.values():
        m.compile(optimizer=keras.optimizers.Adam(1e-4), loss=dae.preset_loss("dae_topography"), jit_compile=False)
        m.fit(x[: 2 * batch_size], y[: 2 * batch_size], batch_size=batch_size, verbose=0)  # trace
    runs = {p: [] for p in models}
    for r in range(repeats):
        for p in models if r % 2 == 0 else reversed(list(models)):
            times.clear()
            models[p].fit(x, y, batch_size=batch_size, verbose=0, callbacks=[StepTimer()])
            runs[p].append(batch_size * len(times[1:]) / sum(times[1:]))
    ratio = [b / f for f, b in zip(runs["float32"], runs["mixed_bfloat16"], strict=True)]
    return {"model": "dae_topography (training/fit_dae.py --variant topography)", "patch": patch,
            "batch": batch_size, "samples_per_s": runs, "bf16_over_float32": {"median": float(np.median(ratio)),
            "min": float(min(ratio)), "max": float(max(ratio))}}  # fmt: skip


def cyclegan_train_speed(repeats: int = 5, steps: int = 6, crop: int = 128) -> dict:
    """Training steps/s of the CycleGAN as ``training/fit_gan.py`` builds it for the zoo pair (24 filters, 6 blocks,
    input skip, resize upsampling, batch 1), float32 and bf16 alternating per repeat."""
    import importlib.util
    import tempfile

    import keras

    spec = importlib.util.spec_from_file_location(
        "fit_gan", Path(__file__).resolve().parents[1] / "training" / "fit_gan.py"
    )
    fit_gan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_gan)
    rng = np.random.default_rng(0)
    a = np.tanh(rng.standard_normal((steps, 1, crop, crop, 1))).astype("float32")
    b = np.tanh(rng.standard_normal((steps, 1, crop, crop, 1))).astype("float32")
    gans = {}
    with tempfile.TemporaryDirectory() as tmp:
        for p in ("float32", "mixed_bfloat16"):
            keras.utils.set_random_seed(0)
            args = fit_gan.parse_args(["--model", "cyclegan", "--out", tmp, "--filters", "24", "--input-skip",
                                       "--upsampling", "resize", "--crop", str(crop), "--precision", p])  # fmt: skip
            gans[p], _ = fit_gan.build(args)
            gans[p].train_on_batch(a[0], b[0])  # trace
    runs = {p: [] for p in gans}
    for r in range(repeats):
        for p in gans if r % 2 == 0 else reversed(list(gans)):
            start = time.perf_counter()
            for i in range(steps):
                gans[p].train_on_batch(a[i], b[i])
            runs[p].append(steps / (time.perf_counter() - start))
    ratio = [b / f for f, b in zip(runs["float32"], runs["mixed_bfloat16"], strict=True)]
    return {"model": "CycleGAN, fit_gan.py --filters 24 --n-blocks 6 --input-skip --upsampling resize", "crop": crop,
            "batch": 1, "steps_per_s": runs, "bf16_over_float32": {"median": float(np.median(ratio)),
            "min": float(min(ratio)), "max": float(max(ratio))}}  # fmt: skip


TRAIN_SPEEDS = {"dae": dae_train_speed, "cyclegan": cyclegan_train_speed}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="zoo name (repeatable; default: all)")
    parser.add_argument("--finetune", action="store_true", help="only the DSH fine-tune comparison")
    parser.add_argument("--steps", type=int, default=150, help="fine-tune steps")
    parser.add_argument("--molecules", type=int, default=16, help="val molecules for the AFM models' checks")
    parser.add_argument("--speed-repeats", type=int, default=5, help="float32 / bf16 alternations of the speed rows")
    parser.add_argument(
        "--train-speed",
        nargs="*",
        choices=tuple(TRAIN_SPEEDS),
        default=None,
        help="only training speed, float32 vs bf16, of these families (none named: all)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import keras_spm  # noqa: F401  (oneDNN on, before TensorFlow)
    from keras_spm import precision, zoo

    header = {"native_bf16": precision.native_bf16(), "cpu_bf16_flags": sorted(set(precision.cpu_flags()) &
              set(precision.BF16_FLAGS)), "load_average_1min_start": os.getloadavg()[0]}  # fmt: skip
    if args.train_speed is not None:
        path = args.out / "precision_train_speed.json"
        result = json.loads(path.read_text()) if path.exists() else {}  # rows of families not rerun are kept
        for family in args.train_speed or TRAIN_SPEEDS:
            row = {**header, **TRAIN_SPEEDS[family](args.speed_repeats), "load_average_1min_end": os.getloadavg()[0]}
            result[family] = row
            unit = "samples_per_s" if "samples_per_s" in row else "steps_per_s"
            print(
                f"{family} training {unit.replace('_per_s', '')}/s, median: "
                + ", ".join(f"{p} {np.median(v):.2f}" for p, v in row[unit].items())
                + f"; bf16 / float32 {row['bf16_over_float32']['median']:.2f}x "
                f"[{row['bf16_over_float32']['min']:.2f}, {row['bf16_over_float32']['max']:.2f}]"
            )
        path.write_text(json.dumps(result, indent=1))
        return 0
    if args.finetune:
        result = {**header, **finetune(args.steps)}
        result["load_average_1min_end"] = os.getloadavg()[0]
        print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=1))
        for p in ("float32", "mixed_bfloat16"):
            print(f"{p}: {result[p]}")
        (args.out / "precision_finetune.json").write_text(json.dumps(result, indent=1))
        return 0
    path = args.out / "precision_checks.json"
    results = json.loads(path.read_text()) if path.exists() and args.model else {}
    results.update(header)
    results.setdefault("models", {})
    for name in args.model or sorted(zoo.REGISTRY):
        print(f"{name} ...", file=sys.stderr)
        row = check_model(name, args.molecules, args.speed_repeats)
        results["models"][name] = row
        worst = row["metrics"][row["worst_metric"]]
        max_r = min(o["pearson_r"] for o in row["outputs"].values())
        print(
            f"{name:22s} bf16_ok {row['bf16_ok']!s:5s} worst metric {row['worst_metric']} "
            f"{worst['float32']:.4g} -> {worst['mixed_bfloat16']:.4g} ({100 * worst['relative_change']:+.2f} %), "
            f"min output r {max_r:.5f}, inference x{row['speed']['bf16_over_float32']['median']:.2f}"
        )
    results["load_average_1min_end"] = os.getloadavg()[0]
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
