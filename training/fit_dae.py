"""Train a tip-artifact denoising autoencoder (keras_spm.models.dae) on tip-dilated clean AFM surfaces.

    python training/fit.py --model dae --variant skip_lite --epochs 30 --steps-per-epoch 60 --out /work/runs/dae
    python training/fit_dae.py --model dae --variant compact --epochs 2 --train-pairs 64 --out /tmp/dae_tiny

Clean surfaces: the real nc-AFM images and the .gwy height channel of the shared data
(:func:`keras_spm.sim.tip.clean_surfaces`, held out by image series), plus with ``--simulated`` the
Probe-Particle-Model images, training split only. ``--train-pairs`` (corrupted, clean) patches are made once
with :func:`keras_spm.models.dae.restore.make_pairs` (random blunt / double tips, noise, scan-line defects)
and kept in ``--out/pairs.npz``, so a resumed run trains on the same data; validation pairs come from the
real validation surfaces only. Each epoch writes ``last.keras``, ``best.keras`` (lowest ``val_loss``),
``history.csv`` and ``state.json`` atomically (``training/fit.py``'s callback); rerunning the same command
resumes. ``--time-limit`` (minutes) ends training cleanly after the epoch that crosses it.

``--variant topography`` (issue #18, the zoo's ``dae_tip_artifacts``) trains the scale-aware network instead on
synthetic topographies in metres (:func:`keras_spm.models.dae.restore.make_topography_pairs`, made in ``--workers``
processes; ``--p-clean`` of them uncorrupted) and validates on the real validation files of
:data:`keras_spm.sim.topography.REAL_FILES` (never their test files):

    nice -n 5 python training/fit_dae.py --variant topography --patch 96 --train-pairs 6000 --workers 2 \
        --epochs 40 --steps-per-epoch 100 --time-limit 40 --out runs/dae_topo
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = {
    "residual": "dae_residual",
    "compact": "dae_compact",
    "skip": "dae_skip",
    "skip_lite": "dae_skip_lite",
    "topography": "dae_topography",
    "topography_context": "dae_topography_context",
    "tip_erosion": "dae_tip_erosion",
    "tip_erosion_robust": "dae_tip_erosion_robust",
    "tip_erosion_combined": "dae_tip_erosion_combined",
}
#: variants whose network also outputs the estimated tip (trained against the corrupting tip's profile)
TIP_OUTPUT = tuple(v for v in VARIANTS if v.startswith("tip_erosion"))
#: the scale-aware variants: [heights, slope scale] in, trained on synthetic topographies, exported raw
SCALE_AWARE = ("topography", "topography_context", *TIP_OUTPUT)


def parse_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="training/fit_dae.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="dae", choices=("dae",))
    p.add_argument("--variant", default="skip_lite", choices=sorted(VARIANTS))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps-per-epoch", type=int, default=None, help="default: one pass over the pairs")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patch", type=int, default=96, help="training patch size (pixels)")
    p.add_argument("--train-pairs", type=int, default=2048)
    p.add_argument("--val-pairs", type=int, default=64)
    p.add_argument("--simulated", action="store_true", help="also train on the ppafm-simulated surfaces")
    p.add_argument("--time-limit", type=float, default=None, help="stop after the epoch passing this many minutes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16"),
        default="auto",
        help="training precision (keras_spm.precision); auto = bf16 where the CPU has it natively: the topography DAE "
        "trains 1.9x faster in bf16 there (benchmarks/precision_checks.py --train-speed)",
    )
    p.add_argument("--p-clean", type=float, default=0.2, help="topography: share of uncorrupted pairs")
    p.add_argument(
        "--plain-clean",
        action="store_true",
        help="topography: uncorrupted pairs without the corruption's noise / scan-line offsets / scars (the pairs of "
        "models trained before session 17; default: clean pairs are as noisy as corrupted ones)",
    )
    p.add_argument(
        "--apex-offset",
        type=float,
        default=1.0,
        help="topography: the training tips' apex offset range in px (CorruptionConfig.apex_offset_px). An off-centre "
        "apex translates the whole image by up to that much, which no remover can know from the image; 0 trains on "
        "the widening alone",
    )
    p.add_argument(
        "--tip-quantile",
        type=float,
        default=0.5,
        help="tip variants: quantile of the tip profile's pinball loss (0.5 = MAE; lower = prefer a too-sharp tip, "
        "i.e. leave undecidable clean scans alone; keras_spm.models.dae.TipQuantileLoss)",
    )
    p.add_argument(
        "--tip-apex-scale",
        type=float,
        default=None,
        help="tip variants: weight the tip loss by exp(-r / this many px) around the apex (default: equal weights)",
    )
    p.add_argument("--keep-epochs", action="store_true", help="also save every epoch as epochNN.keras (for choosing)")
    p.add_argument("--workers", type=int, default=1, help="topography: processes making the training pairs")
    p.add_argument("--init", type=Path, default=None, help="start from this checkpoint's weights (fine-tuning)")
    p.add_argument(
        "--pairs", type=Path, default=None, help="pairs cache to share between runs (default: OUT/pairs.npz)"
    )
    p.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: <repo>/../shared/data)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    stride = 16
    if args.patch % stride:
        p.error(f"--patch must be a multiple of {stride} (the networks' down-sampling), got {args.patch}.")
    if args.train_pairs < args.batch_size:
        p.error(f"--train-pairs ({args.train_pairs}) must be >= --batch-size ({args.batch_size}).")
    return args


def load_pairs(args) -> tuple:
    """Training and validation pairs, made once and cached in ``--out/pairs.npz``."""
    import numpy as np

    cache = args.pairs or args.out / "pairs.npz"
    channels = 2 if args.variant in SCALE_AWARE else 1
    tips = args.variant in TIP_OUTPUT
    if cache.exists():
        d = np.load(cache)
        if d["x"].shape[0] == args.train_pairs and d["x"].shape[1] == args.patch and d["x"].shape[-1] == channels:
            if not tips:
                return d["x"], d["y"], d["vx"], d["vy"]
            if "t" in d:
                return d["x"], (d["y"], d["t"]), d["vx"], (d["vy"], d["vt"])
    t0 = time.perf_counter()
    if args.variant in SCALE_AWARE:
        x, y, vx, vy = topography_pairs(args)
    else:
        from keras_spm.models.dae.restore import make_pairs
        from keras_spm.sim.tip import clean_surfaces

        train = clean_surfaces("train", args.data_dir, simulated=args.simulated)
        val = clean_surfaces("val", args.data_dir)
        rng = np.random.default_rng(args.seed)
        x, y = make_pairs(train, args.train_pairs, args.patch, rng, crops_per_corruption=12)
        vx, vy = make_pairs(val, args.val_pairs, args.patch, np.random.default_rng(12345), crops_per_corruption=4)
    print(f"made {len(x)} training / {len(vx)} validation pairs in {time.perf_counter() - t0:.0f} s", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    if tips:  # targets are (heights, tips)
        np.savez(tmp, x=x, y=y[0], t=y[1], vx=vx, vy=vy[0], vt=vy[1])
    else:
        np.savez(tmp, x=x, y=y, vx=vx, vy=vy)
    tmp.replace(cache)
    return x, y, vx, vy


def _synthetic_chunk(job: tuple) -> tuple:
    from keras_spm.models.dae.restore import make_topography_pairs
    from keras_spm.sim.tip import CorruptionConfig

    n, patch, seed, chunk, p_clean, tip_size, noisy_clean, apex_offset = job
    rng = np.random.default_rng([seed, chunk])
    config = CorruptionConfig(apex_offset_px=apex_offset)
    return make_topography_pairs(n, patch, rng, config, p_clean=p_clean, tip_size=tip_size, noisy_clean=noisy_clean)


def topography_pairs(args) -> tuple:
    """Synthetic training pairs (in ``--workers`` processes, seeded per chunk) and real-validation-file pairs; with
    the tips as a second target for the :data:`TIP_OUTPUT` variants."""

    from keras_spm.models.dae.restore import scale_aware_pairs
    from keras_spm.sim.topography import real_topographies

    chunks = max(1, args.workers) * 4
    sizes = [len(a) for a in np.array_split(np.arange(args.train_pairs), chunks)]
    tip_size = _tip_size(args.variant)
    noisy = not args.plain_clean
    jobs = [
        (n, args.patch, args.seed, k, args.p_clean, tip_size, noisy, args.apex_offset) for k, n in enumerate(sizes) if n
    ]
    if args.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.workers) as pool:
            parts = pool.map(_synthetic_chunk, jobs)
    else:
        parts = [_synthetic_chunk(j) for j in jobs]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    val = real_topographies("val", args.data_dir)
    v = scale_aware_pairs(
        val, args.val_pairs, args.patch, np.random.default_rng(12345), p_clean=args.p_clean, tip_size=tip_size
    )
    if tip_size:
        return x, (y, np.concatenate([p[2] for p in parts])), v[0], (v[1], v[2])
    return x, y, v[0], v[1]


def _tip_size(variant: str) -> int | None:
    """The tip grid of a :data:`TIP_OUTPUT` variant (None for the others)."""
    from keras_spm.models.dae.tip_erosion import TIP_SIZE

    return TIP_SIZE if variant in TIP_OUTPUT else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    import json

    import keras
    import tensorflow as tf

    from keras_spm import precision
    from keras_spm.models import dae
    from keras_spm.training.callbacks import epoch_checkpoint, time_limit
    from keras_spm.training.runs import write_json

    x, y, vx, vy = load_pairs(args)
    preset = VARIANTS[args.variant]
    state_path = args.out / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    epoch0 = int(state.get("epoch", 0))
    if epoch0 >= args.epochs:
        print(f"{args.out} already has {epoch0} epochs; nothing to do.")
        return 0
    steps = args.steps_per_epoch or max(1, len(x) // args.batch_size)
    if epoch0 and (args.out / "last.keras").exists():
        model = keras.models.load_model(args.out / "last.keras")
        print(f"resuming {args.out} after epoch {epoch0}", flush=True)
    else:
        keras.utils.set_random_seed(args.seed)
        tips = args.variant in TIP_OUTPUT
        model = dae.from_preset(preset, **({"with_tip_output": True} if tips else {}))
        if args.init is not None:
            fresh = dae.copy_weights_by_name(keras.models.load_model(args.init, compile=False), model)
            print(f"initialised from {args.init}" + (f"; new layers {fresh}" if fresh else ""), flush=True)
        model = precision.with_policy(model, args.precision, training=True)  # outputs and losses stay float32
        schedule = keras.optimizers.schedules.CosineDecay(args.lr, args.epochs * steps, alpha=0.05)
        # XLA (keras' "auto" on TF) is slower on CPU for these conv nets: 1.2 vs 0.76 s per step, 18 vs 8 s to compile
        loss, weights = dae.preset_loss(preset), None
        if tips:  # restoration loss on the eroded heights + the tip profile's pinball loss (MAE at quantile 0.5)
            tip_loss = dae.TipQuantileLoss(args.tip_quantile, apex_scale=args.tip_apex_scale)
            loss, weights = [loss, tip_loss], [1.0, dae.PRESETS[preset]["tip_weight"]]
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=loss,
            loss_weights=weights,
            metrics=["mae"] if not tips else [["mae"], []],
            jit_compile=False,
        )
        state = {
            "variant": args.variant,
            "preset": preset,
            "params": model.count_params(),
            "tip_quantile": args.tip_quantile,
            "tip_apex_scale": args.tip_apex_scale,
        }
        write_json(state_path, state)
    ds = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=args.seed + epoch0, reshuffle_each_iteration=True)
        .repeat()
        .batch(args.batch_size, drop_remainder=True)
        .prefetch(2)
    )
    val = tf.data.Dataset.from_tensor_slices((vx, vy)).batch(args.batch_size)
    model.fit(
        ds,
        validation_data=val,
        epochs=args.epochs,
        initial_epoch=epoch0,
        steps_per_epoch=steps,
        callbacks=[time_limit(args.time_limit), epoch_checkpoint(args.out, state)] + _keep(args),
        verbose=2 if not sys.stdout.isatty() else 1,
    )
    print(f"done: {args.out} (best {state.get('monitor')} {state.get('best', float('nan')):.4f})")
    if args.variant in SCALE_AWARE:
        print(f"wrote {export_raw(args.out)}: best.keras inside its scaling, for training/export_to_zoo.py")
    return 0


def _keep(args) -> list:
    """With ``--keep-epochs``: a callback saving ``epochNN.keras`` after every epoch (the choice is made later, on the
    validation files, from every epoch)."""
    if not args.keep_epochs:
        return []
    import keras

    from keras_spm.training.callbacks import save_model_atomically

    class KeepEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            save_model_atomically(self.model, args.out / f"epoch{epoch + 1:02d}.keras")

    return [KeepEpochs()]


def export_raw(out: Path, checkpoint: str = "best") -> Path:
    """``out/<checkpoint>_raw.keras`` (``best`` or ``last``): that checkpoint, in float32, inside SlopeScale / SlopeUnscale (raw [heights, pixel
    size] in, heights out; :func:`keras_spm.models.dae.scaling.wrap_raw`), the form the zoo ships; no optimizer
    state."""
    import keras

    from keras_spm import precision
    from keras_spm.models.dae.scaling import wrap_raw

    # a bf16 run's checkpoint keeps its bf16 layer policies: the zoo ships float32
    core = precision.with_policy(keras.models.load_model(out / f"{checkpoint}.keras", compile=False), "float32")
    if len(core.outputs) > 1:  # the tip estimate was a training output; the zoo model returns the heights
        core = keras.Model(core.inputs[0], core.outputs[0], name=core.name)
    path = out / f"{checkpoint}_raw.keras"
    wrap_raw(core, name="dae_tip_artifacts").save(path)
    return path


if __name__ == "__main__":
    sys.exit(main())
