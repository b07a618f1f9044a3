"""Train the EfficientNet-U-Net nanoparticle segmenter on synthetic STM images, in two stages.

    python training/fit.py --model effunet --backbone b0_half --epochs 12 --stage2-epochs 4 --out /work/runs/effunet
    python training/fit_effunet.py --model effunet --train-images 8 --epochs 1 --stage2-epochs 1 --out /tmp/eu

Data: ``--train-images`` images of :func:`keras_spm.sim.stm_particles.simulate_stm_particles` (seeded,
256 px, 0.2 nm/px) made once and kept in ``--out/data.npz``; validation images come from another seed.
Inputs are scaled with :func:`keras_spm.models.effunet.postprocess.prepare_image`; training uses random
``--crop`` px crops with flips and 90-degree turns, validation the four quadrant crops.

Stage 1 (``--out/stage1``): :class:`~keras_spm.models.effunet.FocalDiceLoss` (focal + Dice), Adam ``--lr``.
Stage 2 (``--out/stage2``): from stage 1's best weights, :class:`~keras_spm.models.effunet.BorderWeightedLoss`
(border 0.8 / rest 0.2) at ``--lr / 10``, as in the source work's fine-tuning. Each stage writes
``last.keras`` / ``best.keras`` / ``history.csv`` / ``state.json`` atomically (``training/fit.py``'s callback)
and a rerun resumes where it stopped. ``--time-limit`` (minutes, per stage) ends a stage after the epoch
that crosses it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def parse_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="training/fit_effunet.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="effunet", choices=("effunet",))
    p.add_argument("--backbone", default="b0_half", help="b0_half (zoo), b0 ... b4 (b3: the source work)")
    p.add_argument("--decoder-filters", default="96,64,32,16,16", help="five comma-separated widths")
    p.add_argument("--epochs", type=int, default=12, help="stage 1 epochs")
    p.add_argument("--stage2-epochs", type=int, default=4)
    p.add_argument("--steps-per-epoch", type=int, default=None, help="default: one pass over the images")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--train-images", type=int, default=600)
    p.add_argument("--val-images", type=int, default=16)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--time-limit", type=float, default=None, help="minutes per stage")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16"),
        default="float32",
        help="training precision (keras_spm.precision); float32 by default: bf16 was not faster for EfficientNet-U-Net here (benchmarks/results/precision_checks.json)",
    )
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.crop % 32 or args.image_size % 32 or args.crop > args.image_size:
        p.error("--crop and --image-size must be multiples of 32 with --crop <= --image-size.")
    args.decoder_filters = tuple(int(v) for v in args.decoder_filters.split(","))
    if len(args.decoder_filters) != 5:
        p.error("--decoder-filters needs five widths, e.g. 96,64,32,16,16.")
    return args


def simulate(n: int, seed: int, size: int):
    """``n`` synthetic images: prepared inputs (n, size, size) float32 and class maps uint8."""
    import numpy as np

    from keras_spm.models.effunet.postprocess import prepare_image
    from keras_spm.sim.stm_particles import ParticleConfig, simulate_stm_particles

    cfg = ParticleConfig(size=size)
    rng = np.random.default_rng(seed)
    xs = np.empty((n, size, size), np.float32)
    cs = np.empty((n, size, size), np.uint8)
    for i in range(n):
        d = simulate_stm_particles(rng, cfg)
        xs[i], cs[i] = prepare_image(d["image"]), d["classes"]
    return xs, cs


def load_data(args):
    import numpy as np

    cache = args.out / "data.npz"
    if cache.exists():
        d = np.load(cache)
        if len(d["x"]) == args.train_images and d["x"].shape[1] == args.image_size and len(d["vx"]) == args.val_images:
            return d["x"], d["c"], d["vx"], d["vc"]
    t0 = time.perf_counter()
    x, c = simulate(args.train_images, args.seed, args.image_size)
    vx, vc = simulate(args.val_images, 10_000 + args.seed, args.image_size)
    print(f"simulated {len(x)} training / {len(vx)} validation images in {time.perf_counter() - t0:.0f} s", flush=True)
    tmp = args.out / "data.tmp.npz"
    np.savez(tmp, x=x, c=c, vx=vx, vc=vc)
    tmp.replace(cache)
    return x, c, vx, vc


def datasets(args, x, c, vx, vc, epoch0: int):
    import numpy as np
    import tensorflow as tf

    k = args.crop

    def augment(img, cls):
        stack = tf.concat([img[..., None], tf.cast(cls, tf.float32)[..., None]], axis=-1)
        stack = tf.image.random_crop(stack, (k, k, 2))
        stack = tf.image.random_flip_left_right(stack)
        stack = tf.image.rot90(stack, tf.random.uniform((), 0, 4, tf.int32))
        return stack[..., :1], tf.one_hot(tf.cast(stack[..., 1], tf.int32), 3)

    train = (
        tf.data.Dataset.from_tensor_slices((x, c))
        .shuffle(len(x), seed=args.seed + epoch0)
        .repeat()
        .map(augment, num_parallel_calls=1)
        .batch(args.batch_size, drop_remainder=True)
        .prefetch(2)
    )
    s = args.image_size
    quads = [(r, q) for r in range(0, s - k + 1, k) for q in range(0, s - k + 1, k)]
    qx = np.stack([im[r : r + k, q : q + k] for im in vx for r, q in quads])[..., None]
    qc = np.stack([cl[r : r + k, q : q + k] for cl in vc for r, q in quads])
    val = tf.data.Dataset.from_tensor_slices((qx, np.eye(3, dtype=np.float32)[qc])).batch(args.batch_size)
    return train, val


def run_stage(args, stage: int, x, c, vx, vc, init=None) -> Path:
    """Train one stage into ``--out/stage<stage>``; returns that folder (resumes if it has a state)."""
    import keras

    from keras_spm import precision
    from keras_spm.models.effunet import BorderWeightedLoss, FocalDiceLoss, efficientnet_unet
    from keras_spm.training.callbacks import epoch_checkpoint, time_limit
    from keras_spm.training.runs import write_json

    out = args.out / f"stage{stage}"
    out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs if stage == 1 else args.stage2_epochs
    state_path = out / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    epoch0 = int(state.get("epoch", 0))
    if epoch0 >= epochs or (state.get("stopped") and (out / "best.keras").exists()):
        print(f"stage {stage}: {out} is finished ({epoch0} epochs)", flush=True)
        return out
    steps = args.steps_per_epoch or max(1, len(x) // args.batch_size)
    if epoch0 and (out / "last.keras").exists():
        model = keras.models.load_model(out / "last.keras")
        print(f"stage {stage}: resuming after epoch {epoch0}", flush=True)
    else:
        keras.utils.set_random_seed(args.seed + stage)
        if init is None:
            model = efficientnet_unet(
                args.backbone, 3, (args.crop, args.crop, 1), args.decoder_filters, name=f"effunet_{args.backbone}"
            )
        else:
            model = keras.models.load_model(init, compile=False)
        model = precision.with_policy(model, args.precision, training=True)  # softmax output and losses stay float32
        lr = args.lr if stage == 1 else args.lr / 10
        schedule = keras.optimizers.schedules.CosineDecay(lr, epochs * steps, alpha=0.05)
        loss = FocalDiceLoss() if stage == 1 else BorderWeightedLoss(0.8, 0.2)
        # no XLA: on this CPU it is 3x slower per step (1.6 vs 0.5 s) and twice as slow to compile
        model.compile(
            optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=["categorical_accuracy"], jit_compile=False
        )
        state = {"stage": stage, "backbone": args.backbone, "params": model.count_params()}
        write_json(state_path, state)
    train, val = datasets(args, x, c, vx, vc, epoch0)
    model.fit(
        train,
        validation_data=val,
        epochs=epochs,
        initial_epoch=epoch0,
        steps_per_epoch=steps,
        callbacks=[time_limit(args.time_limit, state, f"stage {stage}: "), epoch_checkpoint(out, state)],
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    x, c, vx, vc = load_data(args)
    stage1 = run_stage(args, 1, x, c, vx, vc)
    if args.stage2_epochs > 0:
        stage2 = run_stage(args, 2, x, c, vx, vc, init=stage1 / "best.keras")
        print(f"done: {stage2 / 'best.keras'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
