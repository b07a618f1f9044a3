"""Train the image-to-image GANs: CycleGAN on AFM style (simulated <-> real) or pix2pix on STEM pairs.

    python training/fit.py --model pix2pix --filters 16 --num-downs 6 --crop 128 --batch-size 4 \\
        --epochs 30 --steps-per-epoch 100 --out /work/runs/pix2pix_stem
    python training/fit.py --model cyclegan --filters 16 --n-blocks 6 --crop 128 \\
        --epochs 20 --steps-per-epoch 100 --out /work/runs/cyclegan_afm

Data: ``keras_spm.datasets.stem_pairs`` (the 16 training pairs of Pt-Mo5, aligned random crops with
flips and 90-degree rotations) and ``keras_spm.datasets.afm_style`` (the ``gan_train`` split of simulated and
real AFM images, random crops with left-right flips; ``--extra-sim DIR`` adds more simulated images, e.g. from
keras_spm's own simulator via ``python -m keras_spm.datasets.afm_style --out DIR --n 60``). The networks are
fully convolutional, so generators trained on crops run on whole images whose sides are multiples of their
stride (``load_generator(path, (None, None, 1))``, ``keras_spm.models.gan.translate``).

The published sizes (ResNet-9 with 64 filters, U-Net-256) take seconds per step on a CPU; ``--filters``,
``--n-blocks``, ``--num-downs``, ``--max-mult`` and ``--d-filters`` shrink them.

``--out`` holds, rewritten atomically after every epoch: ``state.weights.h5`` (all four / both networks and
both optimizers: what a rerun resumes from), the generators alone for inference (pix2pix: ``last.keras`` and
``best.keras``; CycleGAN: ``last_g_ab.keras``, ``last_g_ba.keras``, ``best_g_ab.keras``, ``best_g_ba.keras``;
A = simulated, B = real), ``history.csv`` and ``state.json`` (written last: the commit point). "best" is
the lowest validation cycle loss on the ``gan_val`` split for CycleGAN (series carved out of the training share;
``gan_test`` is the benchmark's and never chooses); for pix2pix the lowest mean
whole-image NRMSE (RMSE / mean) on the training pairs named by ``--val-pairs`` (then left out of training) and/or
on simulated pairs of held-out compositions (``--sim-val``; ``--sim-pairs`` adds simulated training pairs of the
other compositions, ``keras_spm.datasets.stem_sim.write_pairs``), else the lowest training L1 - the STEM test pairs are kept for the benchmark and never choose a checkpoint.
``--init-generators G_AB G_BA`` fine-tunes from saved generators (the zoo keeps no discriminators);
``--d-warmup-steps N`` first trains the fresh discriminators alone against them, so the adversarial game
resumes where the generators left it instead of restarting from untrained critics.
Rerunning the same command continues after the last finished epoch with the optimizer state and learning-rate
schedule (the crop stream restarts from a seed derived from the epoch). Learning rate: Adam 2e-4, beta1 0.5,
constant for the first half of all steps, then linearly to 0 (Zhu et al. 2017; Isola et al. 2017). The
schedule is recomputed from ``--epochs``, so a rerun with more epochs is a warm restart: the rate returns to
``lr * (1 - (step - total/2) / (total/2))`` (``lr`` itself while step < total/2) and decays to 0 at the new end.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from keras_spm.training.callbacks import epoch_checkpoint
from keras_spm.training.runs import save_model_atomically

ROOT = Path(__file__).resolve().parents[1]
WARMUP_EPOCH = 10_000  # the discriminator warm-up's crop stream: a seed no training epoch uses


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="training/fit.py --model cyclegan|pix2pix", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=("cyclegan", "pix2pix"))
    p.add_argument("--out", type=Path, required=True, help="checkpoint folder (keep it outside the repository)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps-per-epoch", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=None, help="default: 1 (CycleGAN), 4 (pix2pix)")
    p.add_argument("--crop", type=int, default=128, help="square training crops, a multiple of the network stride")
    p.add_argument("--filters", type=int, default=16, help="generator filters of the first layer (paper: 64)")
    p.add_argument("--d-filters", type=int, default=32, help="discriminator filters of the first layer (paper: 64)")
    p.add_argument("--d-layers", type=int, default=3, help="PatchGAN stride-2 layers (3: 70x70 receptive field)")
    p.add_argument("--n-blocks", type=int, default=6, help="CycleGAN residual blocks (paper: 6 at 128, 9 at 256)")
    p.add_argument(
        "--input-skip",
        action="store_true",
        help="CycleGAN generators add their input back before the tanh (keeps global brightness / contrast)",
    )
    p.add_argument(
        "--upsampling",
        choices=("transpose", "resize", "subpixel"),
        default="transpose",
        help="generator 2x upsampling: transposed conv (paper; the shipped weights), nearest resize + conv, or "
        "sub-pixel conv with ICNR init (the last two have no checkerboard at initialisation)",
    )
    p.add_argument("--num-downs", type=int, default=6, help="pix2pix U-Net levels (stride 2**num_downs)")
    p.add_argument("--max-mult", type=int, default=8, help="pix2pix U-Net width cap, in units of --filters")
    p.add_argument("--dropout", type=float, default=0.5, help="pix2pix decoder dropout (paper: 0.5)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--l1-weight", type=float, default=100.0, help="pix2pix lambda_L1")
    p.add_argument("--adv-weight", type=float, default=1.0, help="pix2pix adversarial weight")
    p.add_argument("--gan-mode", choices=("vanilla", "lsgan"), default="vanilla", help="pix2pix adversarial loss")
    p.add_argument("--lambda-cycle", type=float, default=10.0)
    p.add_argument(
        "--lambda-identity",
        type=float,
        nargs="+",
        default=[0.5],
        help="CycleGAN identity weight (x lambda-cycle); two values weigh G_ab(real) ~ real and G_ba(sim) ~ sim apart "
        "(e.g. '0 1': exp2sim must leave simulations alone, sim2exp is free)",
    )
    p.add_argument(
        "--lambda-texture",
        type=float,
        default=0.0,
        help="CycleGAN: weight of the penalty on high-frequency energy a translation adds to its input",
    )
    p.add_argument(
        "--texture-margin",
        type=float,
        default=1.0,
        help="CycleGAN: high-frequency energy a translation may add (x its input's) before the texture penalty acts "
        "(issue #17's target allows 1.5)",
    )
    p.add_argument("--pool-size", type=int, default=50)
    p.add_argument("--val-steps", type=int, default=20, help="CycleGAN validation batches (gan_val split)")
    p.add_argument(
        "--keep-every",
        type=int,
        default=0,
        help="also keep the generators of every K-th epoch (epoch<N>_*.keras), to choose among them afterwards on "
        "validation data with the full benchmark (e.g. benchmarks/afm_style.py --split gan_val); 0: only last/best",
    )
    p.add_argument(
        "--val-pairs",
        type=int,
        nargs="+",
        default=[],
        help="pix2pix: training-pair indices held out for validation (whole-image NRMSE picks best.keras)",
    )
    p.add_argument(
        "--sim-pairs",
        type=Path,
        action="append",
        default=[],
        help="pix2pix: a keras_spm.datasets.stem_sim.write_pairs folder; its training-composition pairs join the "
        "real training pairs (held-out compositions are never read from it)",
    )
    p.add_argument(
        "--real-share",
        type=float,
        default=None,
        help="pix2pix with --sim-pairs: share of training crops drawn from the real pairs (default: every pair "
        "equally often, so many simulated pairs outweigh the 14 real ones)",
    )
    p.add_argument(
        "--sim-val",
        type=Path,
        action="append",
        default=[],
        help="pix2pix: a write_pairs folder of held-out compositions (stem_sim.HELD_OUT_MO_FRACTIONS) for validation",
    )
    p.add_argument("--data-root", type=Path, default=None, help="afm-exp or stem/pt_mo5 folder (default: shared)")
    p.add_argument("--extra-sim", type=Path, action="append", default=[], help="CycleGAN: more simulated images")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="fine-tune: start from the networks of another run's state.weights.h5 (same sizes; fresh optimizer "
        "and learning-rate schedule, so loss weights may differ)",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16"),
        default="float32",
        help="compute precision of the networks (keras_spm.precision; auto = mixed_bfloat16 on CPUs with native "
        "bf16); generator outputs, discriminator logits, losses and weights stay float32, and the zoo export is "
        "float32 either way",
    )
    p.add_argument(
        "--init-generators",
        type=Path,
        nargs=2,
        default=None,
        metavar=("G_AB", "G_BA"),
        help="CycleGAN: start the generators from these .keras files (e.g. the zoo pair; discriminators fresh); "
        "transposed up-convolutions fill --upsampling resize ones (keras_spm.models.gan.upsampling)",
    )
    p.add_argument(
        "--d-warmup-steps",
        type=int,
        default=0,
        help="CycleGAN with --init-generators: first train only the fresh discriminators for this many batches "
        "against the loaded generators (separate Adam, the schedule untouched), so the game resumes instead of "
        "restarting",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1)
    args = p.parse_args(argv)
    if args.batch_size is None:
        args.batch_size = 1 if args.model == "cyclegan" else 4
    stride = 4 if args.model == "cyclegan" else 2**args.num_downs
    if args.crop % stride:
        p.error(f"--crop {args.crop} is not a multiple of the generator stride {stride}; use e.g. {stride * 2}.")
    for name in ("epochs", "steps_per_epoch", "batch_size", "filters", "d_filters", "val_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1.")
    if args.keep_every < 0:
        p.error("--keep-every must be >= 0 (0: keep only the last and best generators).")
    if args.init_generators and (args.model != "cyclegan" or args.init is not None):
        p.error("--init-generators is for a CycleGAN, instead of --init.")
    if args.d_warmup_steps < 0 or (args.d_warmup_steps and not args.init_generators):
        p.error("--d-warmup-steps needs --init-generators (a run's own state keeps its discriminators) and >= 0.")
    for path in args.init_generators or []:
        if not path.is_file():
            p.error(f"--init-generators {path}: no such file; give two generator .keras files (sim->real, real->sim).")
    if (args.sim_pairs or args.sim_val) and args.model != "pix2pix":
        p.error("--sim-pairs / --sim-val are for pix2pix (simulated STEM pairs).")
    if args.real_share is not None and not (args.sim_pairs and 0 < args.real_share <= 1):
        p.error("--real-share needs --sim-pairs and a value in (0, 1], e.g. 0.5.")
    if args.val_pairs:
        from keras_spm.datasets.stem_pairs import TRAIN_INDICES

        if args.model != "pix2pix":
            p.error("--val-pairs is for pix2pix; CycleGAN validates on the gan_val split.")
        bad = [i for i in args.val_pairs if i not in TRAIN_INDICES]
        if bad:
            p.error(f"--val-pairs {bad} are not training pairs; choose from {list(TRAIN_INDICES)}.")
        if len(set(args.val_pairs)) >= len(TRAIN_INDICES):
            p.error("--val-pairs leaves no pair to train on; hold out one or two.")
    return args


def build(args):
    """The compiled GAN and the names of its generator attributes, built under ``--precision``'s policy."""
    from keras_spm.precision import policy_scope

    with policy_scope(args.precision):  # the output layers are float32 by construction
        return _build(args)


def _build(args):
    from keras import ops

    from keras_spm.models.gan import (
        CycleGAN,
        Pix2Pix,
        conditional_patchgan,
        gan_adam,
        patchgan_discriminator,
        resnet_generator,
        unet_generator,
    )

    shape = (args.crop, args.crop, 1)
    total = args.epochs * args.steps_per_epoch
    if args.model == "cyclegan":
        gan = CycleGAN(
            resnet_generator(
                shape, args.n_blocks, args.filters, input_skip=args.input_skip, name="g_ab", upsampling=args.upsampling
            ),
            resnet_generator(
                shape, args.n_blocks, args.filters, input_skip=args.input_skip, name="g_ba", upsampling=args.upsampling
            ),
            patchgan_discriminator(shape, args.d_layers, args.d_filters, name="d_a"),
            patchgan_discriminator(shape, args.d_layers, args.d_filters, name="d_b"),
            lambda_cycle=args.lambda_cycle,
            lambda_identity=args.lambda_identity,
            lambda_texture=args.lambda_texture,
            texture_margin=args.texture_margin,
            pool_size=args.pool_size,
            image_shape=shape,
        )
        generators = ("g_ab", "g_ba")
    else:
        gan = Pix2Pix(
            unet_generator(
                shape,
                filters=args.filters,
                num_downs=args.num_downs,
                dropout=args.dropout,
                max_mult=args.max_mult,
                name="generator",
                upsampling=args.upsampling,
            ),
            conditional_patchgan(shape, n_layers=args.d_layers, filters=args.d_filters, name="discriminator"),
            l1_weight=args.l1_weight,
            adv_weight=args.adv_weight,
            gan_mode=args.gan_mode,
        )
        generators = ("generator",)
    gan.compile(g_optimizer=gan_adam(total, args.lr), d_optimizer=gan_adam(total, args.lr))
    gan(ops.zeros((1, *shape)))  # builds the subclassed model, so its weights can be saved before fit
    return gan, generators


def datasets(args, epoch: int):
    """(train, val or None); the crop stream's seed depends on the epoch so a resumed run sees new crops."""
    from keras_spm.datasets import stem_pairs

    seed = args.seed + 7919 * epoch
    if args.model == "pix2pix":
        from keras_spm.datasets import stem_dataset

        if args.val_pairs or args.sim_pairs:
            from keras_spm.datasets import stem_sim

            train_idx = [i for i in stem_pairs.TRAIN_INDICES if i not in args.val_pairs]
            pairs = [tuple(stem_pairs.normalize(x) for x in stem_pairs.load_pair(i, args.data_root)) for i in train_idx]
            n_real = len(pairs)
            for folder in args.sim_pairs:
                pairs += stem_sim.load_pairs(folder, stem_sim.composition_split()["train"])
            weights = None
            if args.real_share is not None and len(pairs) > n_real:
                share = args.real_share
                weights = [share / n_real] * n_real + [(1 - share) / (len(pairs) - n_real)] * (len(pairs) - n_real)
            ds = stem_dataset(batch_size=args.batch_size, crop=args.crop, seed=seed, pairs=pairs, weights=weights)
            return ds, None
        return stem_dataset("train", args.batch_size, args.crop, seed=seed, root=args.data_root), None
    from keras_spm.datasets import afm_style

    return (
        afm_style.afm_style_dataset(
            "gan_train", args.batch_size, args.crop, seed=seed, root=args.data_root, extra_sim=args.extra_sim
        ),
        afm_style.afm_style_dataset("gan_val", args.batch_size, args.crop, seed=12345, root=args.data_root, flip=False)
        .take(args.val_steps)
        .cache(),
    )


def generator_files(model: str, kind: str) -> dict[str, str]:
    """File names of the saved generators: ``kind`` is "last", "best" or "epoch<N>" (``--keep-every``)."""
    if model == "pix2pix":
        return {"generator": f"{kind}.keras"}
    return {"g_ab": f"{kind}_g_ab.keras", "g_ba": f"{kind}_g_ba.keras"}


def pix2pix_validator(args, gan):
    """Mean whole-image NRMSE (RMSE / mean target, [0, 1] units) of the generator on the ``--val-pairs``
    (``val_nrmse``) and on the held-out-composition pairs of ``--sim-val`` (``val_sim_nrmse``); with both,
    ``val_mean_nrmse`` is their mean. Also the worst per-image mean intensity error of each (``..._mean_err``).

    Held-out *training* pairs, so the STEM test pairs never choose the checkpoint; whole images (reflection
    padded to the stride) because the test metric is on whole images and the max normalisation is global.
    """
    import warnings

    from keras_spm.datasets import stem_pairs, stem_sim
    from keras_spm.models.gan import translate, unet_generator

    sets = {}
    if args.val_pairs:
        sets["val"] = [
            tuple(stem_pairs.normalize(x) for x in stem_pairs.load_pair(i, args.data_root)) for i in args.val_pairs
        ]
    if args.sim_val:
        held_out = stem_sim.composition_split()["held_out"]
        sets["val_sim"] = [p for folder in args.sim_val for p in stem_sim.load_pairs(folder, held_out)]
        if not sets["val_sim"]:
            raise SystemExit(f"--sim-val {args.sim_val}: no pairs of the held-out compositions {held_out} there.")
    anysize = unet_generator(
        (None, None, 1),
        filters=args.filters,
        num_downs=args.num_downs,
        dropout=args.dropout,
        max_mult=args.max_mult,
        upsampling=args.upsampling,
    )

    def score() -> dict[str, float]:
        anysize.set_weights(gan.generator.get_weights())
        logs = {}
        for key, pairs in sets.items():
            metrics = []
            for conv, ms in pairs:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    pred = stem_pairs.from_tanh_range(translate(anysize, stem_pairs.to_tanh_range(conv)))
                metrics.append(stem_pairs.image_metrics(pred, ms))
            logs[f"{key}_nrmse"] = float(np.mean([m["nrmse_mean"] for m in metrics]))
            logs[f"{key}_mean_err"] = float(np.max([abs(m["mean_intensity_error"]) for m in metrics]))
        if len(sets) == 2:
            logs["val_mean_nrmse"] = 0.5 * (logs["val_nrmse"] + logs["val_sim_nrmse"])
        return logs

    return score


def checkpoint_callback(args, gan, state: dict):
    validate = pix2pix_validator(args, gan) if args.model == "pix2pix" and (args.val_pairs or args.sim_val) else None
    if args.model == "cyclegan":
        monitor = "val_cycle_loss"
    elif validate is None:
        monitor = "l1_loss"
    else:
        monitor = {(True, False): "val_nrmse", (False, True): "val_sim_nrmse", (True, True): "val_mean_nrmse"}[
            (bool(args.val_pairs), bool(args.sim_val))
        ]

    def save(model, out: Path, kind: str) -> None:
        if kind == "last":  # the whole GAN with its optimizers, to resume
            save_model_atomically(model, out / "state.weights.h5")
            epoch = state["epoch"] + 1  # state["epoch"] counts the epochs before this one until after the save
            if args.keep_every and epoch % args.keep_every == 0:
                save(model, out, f"epoch{epoch:03d}")
        for attr, name in generator_files(args.model, kind).items():
            save_model_atomically(getattr(model, attr), out / name)

    return epoch_checkpoint(args.out, state, monitor=monitor, save=save, validate=validate)


def init_networks(gan, args) -> None:
    """Copy the networks (not the optimizers) of a saved run of the same sizes into ``gan``."""
    if not args.init.is_file():
        raise SystemExit(f"--init {args.init}: no such file; pass a run's state.weights.h5.")
    source, _ = build(args)
    try:
        source.load_weights(args.init)
    except Exception as err:  # noqa: BLE001 - h5py / keras raise many kinds for a mismatched file
        raise SystemExit(
            f"--init {args.init} does not match these network sizes ({err}); use the sizes of the run that wrote it."
        ) from None
    names = ("g_ab", "g_ba", "d_a", "d_b") if args.model == "cyclegan" else ("generator", "discriminator")
    for name in names:
        getattr(gan, name).set_weights(getattr(source, name).get_weights())
    print(f"initialised {', '.join(names)} from {args.init}")


def init_generators(gan, args) -> None:
    """Copy two saved generators (zoo files or a run's ``*_g_ab/ba.keras``) into ``gan.g_ab`` / ``gan.g_ba``."""
    from keras_spm.models.gan import load_generator
    from keras_spm.models.gan.upsampling import copy_generator_weights

    for attr, path in zip(("g_ab", "g_ba"), args.init_generators, strict=True):
        try:
            left = copy_generator_weights(load_generator(path), getattr(gan, attr))
        except ValueError as err:
            raise SystemExit(f"--init-generators {path}: {err}") from None
        if left:
            raise SystemExit(f"--init-generators {path} has no weights for {left}; is it a CycleGAN generator?")
        print(f"initialised {attr} from {path}")


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "verbose"}
    for key in ("extra_sim", "sim_pairs", "sim_val", "init_generators"):
        config[key] = [str(p) for p in getattr(args, key) or []]
    state_path = args.out / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"epoch": 0, "config": config}
    saved = {k: v for k, v in state.get("config", {}).items() if k not in ("epochs", "out")}
    now = {k: v for k, v in config.items() if k not in ("epochs", "out")}
    diff = sorted(k for k in now if k in saved and saved[k] != now[k])  # options added later: their defaults
    if state["epoch"] and diff:
        raise SystemExit(
            f"{args.out} holds a run with other settings ({', '.join(diff)}); rerun with the same options to resume, "
            "or choose a new --out."
        )
    state["config"] = config

    import keras

    keras.utils.set_random_seed(args.seed + state["epoch"])
    gan, _ = build(args)
    if state["epoch"]:
        if state["epoch"] >= args.epochs:
            print(f"{args.out}: all {args.epochs} epochs already done.")
            return 0
        gan.load_weights(args.out / "state.weights.h5")
        print(f"resuming {args.model} after epoch {state['epoch']} (step {int(gan.g_optimizer.iterations)})")
    elif args.init is not None:
        init_networks(gan, args)
    elif args.init_generators:
        init_generators(gan, args)
    train, val = datasets(args, state["epoch"])
    if not state["epoch"] and args.d_warmup_steps:
        print(f"discriminator warm-up, {args.d_warmup_steps} steps")
        losses = gan.warm_up_discriminators(datasets(args, WARMUP_EPOCH)[0], args.d_warmup_steps, args.lr)
        print("warm-up done: " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
    gan.fit(
        train,
        epochs=args.epochs,
        initial_epoch=state["epoch"],
        steps_per_epoch=args.steps_per_epoch,
        validation_data=val,
        validation_steps=args.val_steps if val is not None else None,
        shuffle=False,
        callbacks=[checkpoint_callback(args, gan, state)],
        verbose=args.verbose,
    )
    print(f"done: {state['epoch']} epochs, {state['wall_seconds']:.0f} s; generators in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
