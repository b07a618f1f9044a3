"""Train or fine-tune a network of the zoo from one command.

    python training/fit.py --model dsh --set light --epochs 20 --batch-size 32 --out runs/dsh_light
    python training/fit.py --model xyz --shards data/light-train --val-shards data/light-val --out runs/xyz
    TF_CONFIG='{"cluster": {"worker": ["host0:2222", "host1:2222"]}, "task": {"type": "worker", "index": 0}}' \
        python training/fit.py --model dsh --distribute multi-worker --out runs/dsh_2x   # index 1 on host1
    python training/fit.py --model cyclegan|pix2pix|dae|effunet --out runs/NAME   # see training/fit_<family>.py

Data comes on the fly from the Probe Particle simulator (worker processes) or from TFRecord
shards made by ``python -m keras_spm.data.generate``. Every epoch writes ``last.keras``
(model + optimizer state), ``best.keras`` (lowest validation loss), ``history.csv``,
TensorBoard logs in ``tensorboard/`` and ``state.json``; all are written atomically.
Rerunning the same command after a crash or ``kill -9`` resumes from the last finished epoch
with the optimizer state and the same data order (exactly so without ``--steps-per-epoch``;
at most the current epoch is lost).
``--distribute mirrored`` uses all local devices; ``--distribute multi-worker`` trains on
several machines configured by ``TF_CONFIG`` (each worker simulates its own data).

Keras 3's ``model.fit`` cannot run under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585),
so distributed runs (multi-worker, or mirrored over more than one device) use the custom loop
:func:`fit_distributed`; the single-device default keeps ``model.fit``. In a distributed run the
chief (worker 0) alone reads and writes ``--out``; the other workers take the weights, optimizer
state and epoch from it at start and keep only their final weights in ``--out/.worker-K``. Every
worker must make the same number of steps per epoch, else the gradient all-reduce waits forever:
it is ``--steps-per-epoch`` if given, else one pass over this worker's share of the training data,
and the smallest over the workers either way (the training data repeat, so no worker runs dry).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from keras_spm.data.augment import AUGMENTATIONS
from keras_spm.training.callbacks import cosine_lr_callback, epoch_checkpoint
from keras_spm.training.runs import save_model_atomically


@dataclass(frozen=True)
class Recipe:
    """How to build, compile and feed one model of the zoo (read from its preset in keras_spm.zoo.presets)."""

    preset: str
    compile: str
    tips: tuple[str, ...]
    descriptors: tuple[str, ...]
    targets: str | None = None  # a function turning the Y dict into the model's targets
    augmentation: str = "asd-afm-random-noise"  # keras_spm.data.augment.AUGMENTATIONS: what the zoo's weights saw last


#: Families whose training is not the AFM stack -> maps loop: ``--model NAME`` runs ``training/<module>.py``'s
#: ``main(argv)`` with the same arguments (each module documents its own options).
OTHER_FAMILIES = {
    "cyclegan": "fit_gan",
    "pix2pix": "fit_gan",
    "dae": "fit_dae",
    "effunet": "fit_effunet",
}


def recipe_of(zoo_name: str) -> Recipe:
    """The training recipe of a zoo model, from its preset (the single source of truth, keras_spm.zoo.presets)."""
    from keras_spm.zoo.presets import get_preset

    preset = get_preset(zoo_name)
    r = preset.recipe
    return Recipe(preset.builder, r.compile, r.tips, r.descriptors, r.targets, r.augmentation)


#: ``--model`` -> the zoo model whose recipe it trains (dsh: dsh_light's; the heavy one differs only by --set).
RECIPE_SOURCES = {"dsh": "dsh_light", "es": "es", "xyz": "xyz"}
RECIPES = {model: recipe_of(zoo_name) for model, zoo_name in RECIPE_SOURCES.items()}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="training/fit.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=f"one of: {', '.join([*RECIPES, *OTHER_FAMILIES])}")
    parser.add_argument("--set", dest="set_name", default="light", choices=("light", "heavy"))
    parser.add_argument("--full", action="store_true", help="the full molecule set (default: the shipped subset)")
    parser.add_argument("--molecules", type=int, default=None, help="use at most this many training molecules")
    parser.add_argument("--val-molecules", type=int, default=64)
    parser.add_argument("--shards", type=Path, default=None, help="train from these TFRecord shards")
    parser.add_argument("--val-shards", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch size")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=2, help="simulation worker processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", type=Path, default=None, help="fine-tune: start from these .keras weights")
    parser.add_argument(
        "--train-only",
        default=None,
        help="comma-separated layer-name prefixes to train (e.g. spheres_,height_); all other layers are frozen",
    )
    parser.add_argument(
        "--loss-weights",
        default=None,
        help="override per-output loss weights, e.g. disks=60 (dsh, es) or xyz_offset=0.5 (xyz); others keep defaults",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine"),
        default="constant",
        help="cosine: per epoch from --lr down to 1%% of it at the last of --epochs (resumes on the same curve)",
    )
    parser.add_argument(
        "--augmentation",
        choices=tuple(AUGMENTATIONS),
        default=None,
        help="input augmentation recipe (keras_spm.data.augment); default: the preset's (asd-afm-random-noise for dsh and xyz, drift-random-noise for es)",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--distribute", choices=("none", "mirrored", "multi-worker"), default="none")
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16"),
        default="auto",
        help="keras_spm.precision: auto = mixed_bfloat16 on CPUs with native bf16 (AVX512-BF16, AMX), else float32 "
        "(a bf16 DSH fine-tune reached the float32 val loss: benchmarks/results/precision_finetune.json)",
    )
    args = parser.parse_args(argv)
    if args.model not in RECIPES:
        names = ", ".join([*RECIPES, *OTHER_FAMILIES])
        parser.error(f"unknown --model '{args.model}'; expected one of: {names}.")
    try:
        args.loss_weights = parse_loss_weights(args.model, args.loss_weights)
    except ValueError as err:
        parser.error(str(err))
    return args


def parse_loss_weights(model: str, text: str | None) -> dict | None:
    """``"disks=60,height=0.2"`` -> the keyword arguments of the model's ``compile_*`` (``None``: defaults)."""
    if not text:
        return None
    from keras_spm.models.afm.losses import DSH_LOSS_WEIGHTS, ES_LOSS_WEIGHTS, XYZ_LOSS_WEIGHTS

    defaults = {"dsh": DSH_LOSS_WEIGHTS, "es": ES_LOSS_WEIGHTS, "xyz": XYZ_LOSS_WEIGHTS}[model]
    weights = dict(defaults)
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in defaults or not value:
            raise ValueError(f"--loss-weights {item!r}: expected NAME=VALUE with NAME one of {', '.join(defaults)}.")
        weights[key] = float(value)
    if model == "xyz":
        if weights["xyz_class"] != XYZ_LOSS_WEIGHTS["xyz_class"]:
            raise ValueError("--loss-weights: for xyz only xyz_offset (the position loss weight) can be changed.")
        return {"position_weight": weights["xyz_offset"]}
    return {"loss_weights": weights}


def make_strategy(kind: str):
    import tensorflow as tf

    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise SystemExit("--distribute multi-worker needs TF_CONFIG (cluster and task of this worker).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def worker_index(strategy) -> tuple[int, int]:
    """(this worker's index, number of workers); (0, 1) when not multi-worker. Index 0 is the chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not spec:
        return 0, 1
    has_chief = "chief" in spec
    n_workers = len(spec.get("worker", [])) + (1 if has_chief else 0)
    if resolver.task_type == "chief":
        return 0, n_workers
    return int(resolver.task_id) + (1 if has_chief else 0), n_workers


def datasets(args, recipe: Recipe, seed: int, batch_size: int, task: int = 0, n_workers: int = 1):
    """Training and validation ``tf.data`` datasets, targets shaped for the model's outputs.

    With several workers each trains on its share of the molecules (or shard files), so an epoch
    is still one pass over the training set; all hold the whole validation set. Also returns the
    sample streams (to set or end their epoch) and the numbers of samples in one pass.
    """
    import tensorflow as tf

    from keras_spm.data import afm_dataset
    from keras_spm.data.shards import find_shards, shard_dataset

    aug = {"augmentation": args.augmentation or recipe.augmentation}

    if args.shards:
        records = find_shards(args.shards)
        if len(records) >= n_workers:  # else every worker reads all shards, in its own order
            records = records[task::n_workers]
        train = shard_dataset(records, batch_size, seed, tips=recipe.tips, descriptors=recipe.descriptors, **aug)
    else:
        from keras_spm.data.sets import load_set

        molecules = load_set(args.set_name, "train", full=args.full)[: args.molecules]
        if len(molecules) < n_workers:
            raise SystemExit(f"{len(molecules)} training molecules cannot be shared by {n_workers} workers.")
        molecules = molecules[task::n_workers]
        train = afm_dataset(molecules, recipe.tips, recipe.descriptors, batch_size, seed, workers=args.workers, **aug)
    if args.val_shards:
        val = shard_dataset(
            args.val_shards,
            batch_size,
            12345,
            tips=recipe.tips,
            descriptors=recipe.descriptors,
            vary_epochs=False,
            **aug,
        )
    else:
        from keras_spm.data.sets import load_set

        molecules = load_set(args.set_name, "val", full=args.full)[: args.val_molecules]
        val = afm_dataset(
            molecules,
            recipe.tips,
            recipe.descriptors,
            batch_size,
            12345,
            workers=args.workers,
            shuffle=False,
            vary_epochs=False,
            **aug,
        )
    streams = [getattr(train, "stream", None), getattr(val, "stream", None)]
    sizes = [_num_samples(ds) for ds in (train, val)]
    if recipe.targets == "xyz":
        from keras_spm.models.afm import xyz_targets

        train = train.map(lambda x, y: (x, xyz_targets(y["xyz"])))
        val = val.map(lambda x, y: (x, xyz_targets(y["xyz"])))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return train.with_options(options), val.cache().with_options(options), streams, sizes


def _num_samples(ds) -> int | None:
    if hasattr(ds, "num_samples"):  # TFRecord shards
        return int(ds.num_samples)
    molecules = getattr(getattr(ds, "stream", None), "molecules", None)
    return None if molecules is None else len(molecules)


def all_reduce_sum(strategy, make) -> list:
    """Sum over all replicas of all workers of ``make(replica_id)``, a list of float64 tensors.

    A collective: every worker must call it, in the same order. Broadcasting (only replica 0
    contributes) and gathering (each replica fills its own slot) are both built on it.
    """
    import tensorflow as tf

    @tf.function
    def run():
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, make(ctx.replica_id_in_sync_group))

        return strategy.run(replica_fn)

    return [strategy.experimental_local_results(t)[0] for t in run()]


def barrier(strategy) -> None:
    """Return once every worker got here."""
    import tensorflow as tf

    all_reduce_sum(strategy, lambda _: [tf.zeros((), tf.float64)])


def sync_from_chief(strategy, model, epoch: int) -> int:
    """Give every worker the chief's weights, optimizer state and epoch; returns the epoch.

    ``MultiWorkerMirroredStrategy`` broadcasts initial values when variables are created, but a
    checkpoint or ``--init`` loaded afterwards (on the chief only) must be sent explicitly.
    """
    import tensorflow as tf

    variables = list(model.weights) + list(model.optimizer.variables)
    values = [tf.cast(v.value, tf.float64) for v in variables] + [tf.constant(float(epoch), tf.float64)]

    def chief_only(replica_id):
        keep = tf.cast(tf.equal(replica_id, 0), tf.float64)
        return [v * keep for v in values]

    synced = all_reduce_sum(strategy, chief_only)
    for var, value in zip(variables, synced[:-1], strict=True):
        var.assign(tf.cast(value, var.dtype))
    return int(synced[-1].numpy())


def agreed_steps(strategy, steps: int) -> int:
    """The smallest ``steps`` over all workers (a collective): unequal step counts would hang."""
    import tensorflow as tf

    n = strategy.num_replicas_in_sync
    mine = tf.constant(float(steps), tf.float64)
    (everyone,) = all_reduce_sum(strategy, lambda r: [tf.one_hot(r, n, dtype=tf.float64) * mine])
    return int(tf.reduce_min(everyone).numpy())


def copy_training_state(source, model) -> None:
    """Weights and optimizer variables of ``source`` (a loaded checkpoint) into ``model``."""
    model.set_weights(source.get_weights())
    src, dst = list(source.optimizer.variables), list(model.optimizer.variables)
    if [tuple(v.shape) for v in src] != [tuple(v.shape) for v in dst]:
        raise SystemExit(
            f"the checkpoint's optimizer has {len(src)} variables that do not match this model's {len(dst)}; "
            "it was written by another optimizer: start a new --out."
        )
    for s, d in zip(src, dst, strict=True):
        d.assign(s.value)


def validation_pass(val, n_val: int | None, batch_size: int, task: int, n_workers: int, local_replicas: int):
    """This worker's share of the validation batches as an endless ``(x, y, weight)`` dataset.

    Every worker holds the same validation set; worker ``task`` takes batches ``task``,
    ``task + n_workers``, ... so the union is the whole set once. With several local replicas the
    last step is padded with weight-0 batches (they do not count in ``val_loss``, but do in the
    per-output ``val_*_loss`` metrics). Returns the dataset and its steps per pass.
    """
    import tensorflow as tf

    if n_val is None:
        n_val = int(val.unbatch().reduce(0, lambda count, _: count + 1))
    n_batches = -(-n_val // batch_size)
    mine = len(range(task, n_batches, n_workers))
    steps = -(-mine // local_replicas)
    weighted = val.shard(n_workers, task).map(lambda x, y: (x, y, tf.constant(1.0)))
    padding = val.repeat().take(steps * local_replicas - mine).map(lambda x, y: (x, y, tf.constant(0.0)))
    return weighted.concatenate(padding).repeat(), steps


def fit_distributed(
    model, strategy, train, val, *, epochs: int, initial_epoch: int, steps: int, val_steps: int, callbacks, verbose: int
) -> None:
    """``model.fit`` for ``tf.distribute`` strategies, with the compiled loss and ``loss_weights``.

    ``train`` yields per-replica ``(x, y)`` batches without end, ``val`` per-replica
    ``(x, y, weight)`` batches without end; every worker runs ``steps`` training steps per epoch
    (they all-reduce gradients) and ``val_steps`` evaluation steps (no collectives, so these may
    differ between workers). Logs match ``model.fit``: ``loss``, per-output losses, ``val_*``.
    """
    import keras
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    train_batches = iter(strategy.distribute_datasets_from_function(lambda _: train))
    val_batches = iter(strategy.distribute_datasets_from_function(lambda _: val))

    def train_replica(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            # Keras already divides the mean loss by the number of replicas here, and
            # apply_gradients sums the gradients over all replicas (one all-reduce): together
            # the gradient of the global mean loss.
            loss = model.compute_loss(x=x, y=y, y_pred=pred, training=True)
            scaled = model.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_weights)
        model.optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return loss

    @tf.function
    def train_step(batch):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(train_replica, args=batch), axis=None)

    def eval_replica(x, y, weight, totals):
        pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=pred, training=False) * replicas  # this replica's mean
        n = tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], tf.float64) * tf.cast(weight, tf.float64)
        return totals + tf.stack([tf.cast(loss, tf.float64) * n, n])

    @tf.function
    def eval_step(batch, totals):
        return strategy.run(eval_replica, args=(*batch, totals))

    callbacks = keras.callbacks.CallbackList(callbacks, model=model)
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        progress = keras.utils.Progbar(steps, verbose=verbose)
        model.reset_metrics()
        total = 0.0
        for step in range(steps):
            loss = float(train_step(next(train_batches)))
            total += loss
            progress.update(step + 1, [("loss", loss)], finalize=False)
        logs = {**model.get_metrics_result(), "loss": total / steps}  # collective reads of the metrics

        model.reset_metrics()
        totals = strategy.experimental_distribute_values_from_function(lambda _: tf.zeros(2, tf.float64))
        for _ in range(val_steps):
            totals = eval_step(next(val_batches), totals)
        loss_sum, count = strategy.reduce(tf.distribute.ReduceOp.SUM, totals, axis=None).numpy()
        val_logs = {**model.get_metrics_result(), "loss": loss_sum / max(count, 1.0)}
        logs.update({f"val_{k}": v for k, v in val_logs.items()})
        logs = {k: float(v) for k, v in sorted(logs.items())}
        progress.update(steps, [(k, v) for k, v in logs.items() if k != "loss"], finalize=True)
        callbacks.on_epoch_end(epoch, logs)
    callbacks.on_train_end()


def freeze_all_but(model, prefixes: list[str]) -> None:
    """Fine-tune part of a network: layers whose name starts with one of ``prefixes`` train, the rest are frozen."""
    prefixes = tuple(p.strip() for p in prefixes if p.strip())
    trained = [layer.name for layer in model.layers if layer.weights and layer.name.startswith(prefixes)]
    if not trained:
        names = ", ".join(layer.name for layer in model.layers if layer.weights)
        raise SystemExit(f"--train-only {','.join(prefixes)} matches no layer with weights; layers: {names}")
    for layer in model.layers:
        layer.trainable = layer.name.startswith(prefixes)
    print(f"training {len(trained)} layers ({', '.join(trained)}); the others are frozen", file=sys.stderr)


def run_other_family(argv: list[str]) -> int | None:
    """Hand ``--model cyclegan|pix2pix|dae|effunet`` to its own training module; ``None`` for the AFM recipes."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model")
    model = pre.parse_known_args(argv)[0].model
    if model not in OTHER_FAMILIES:
        return None
    path = Path(__file__).resolve().parent / f"{OTHER_FAMILIES[model]}.py"
    spec = importlib.util.spec_from_file_location(OTHER_FAMILIES[model], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    other = run_other_family(argv)
    if other is not None:
        return other
    args = parse_args(argv)
    recipe = RECIPES[args.model]
    strategy = make_strategy(args.distribute)  # first TF call: multi-worker needs it before any op
    import keras

    from keras_spm import precision
    from keras_spm.models import afm

    task, n_workers = worker_index(strategy)
    chief = task == 0
    distributed = args.distribute == "multi-worker" or strategy.num_replicas_in_sync > 1
    out = args.out if chief else args.out / f".worker-{task}"
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "state.json"
    state = json.loads(state_path.read_text()) if chief and state_path.exists() else {}
    if state and state.get("model") != args.model:
        raise SystemExit(f"{out} holds a '{state.get('model')}' run, not '{args.model}'; choose another --out.")
    resume = bool(state) and (out / "last.keras").exists()

    with strategy.scope():
        # Distributed: every worker creates the same variables in the same order (each creation
        # is a broadcast from the chief); the chief's checkpoint is loaded and sent afterwards.
        if resume and not distributed:
            model = keras.models.load_model(out / "last.keras")
        else:
            model = precision.with_policy(
                afm.from_preset(recipe.preset), args.precision, training=True
            )  # outputs stay float32
            if args.train_only:
                freeze_all_but(model, args.train_only.split(","))
            getattr(afm, recipe.compile)(model, lr=args.lr, **(args.loss_weights or {}))
    if resume:
        print(f"resuming {args.model} from {out / 'last.keras'} after epoch {state['epoch']}", file=sys.stderr)
    else:
        if args.init and chief:
            model.load_weights(args.init) if str(args.init).endswith(".weights.h5") else model.set_weights(
                keras.models.load_model(args.init).get_weights()
            )
        state = {
            "model": args.model,
            "preset": recipe.preset,
            "epoch": 0,
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        }
    initial_epoch = int(state.get("epoch", 0))
    if initial_epoch >= args.epochs and not distributed:
        print(f"{out} already holds {initial_epoch} epochs (>= --epochs {args.epochs}); nothing to do.")
        return 0

    per_replica_batch = max(1, args.batch_size // strategy.num_replicas_in_sync)
    train, val, streams, (n_train, n_val) = datasets(
        args, recipe, args.seed + 1000 * task, per_replica_batch, task, n_workers
    )
    callbacks = [epoch_checkpoint(out, state, chief=chief)]
    if args.lr_schedule == "cosine":
        callbacks.insert(0, cosine_lr_callback(args.lr, args.epochs))
    if chief:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), update_freq="epoch"))
    verbose = 1 if sys.stdout.isatty() else 2
    try:
        if not distributed:
            if args.steps_per_epoch:  # fit keeps one iterator across epochs: it must not run dry
                train = train.repeat()
            if streams[0] is not None:
                streams[0].epoch = initial_epoch  # the same data for epoch k as in an uninterrupted run
            model.fit(
                train,
                validation_data=val,
                epochs=args.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=args.steps_per_epoch,
                callbacks=callbacks,
                verbose=verbose,
            )
        else:
            with strategy.scope():  # metric and optimizer variables, created alike on every worker
                model._symbolic_build(data_batch=train.element_spec)  # what fit does before its first step
            if resume:
                copy_training_state(keras.models.load_model(out / "last.keras"), model)
            initial_epoch = sync_from_chief(strategy, model, initial_epoch)
            if initial_epoch >= args.epochs:
                print(f"{args.out} already holds {initial_epoch} epochs (>= --epochs {args.epochs}); nothing to do.")
                barrier(strategy)
                return 0
            local_replicas = strategy.num_replicas_in_sync // n_workers
            steps = args.steps_per_epoch
            if steps is None:
                if n_train is None:
                    raise SystemExit("--distribute needs --steps-per-epoch when the training set size is unknown.")
                steps = max(1, -(-n_train // per_replica_batch) // local_replicas)
            steps = agreed_steps(strategy, steps)
            val, val_steps = validation_pass(val, n_val, per_replica_batch, task, n_workers, local_replicas)
            if streams[0] is not None:
                streams[0].epoch = initial_epoch
            fit_distributed(
                model,
                strategy,
                train.repeat(),
                val,
                epochs=args.epochs,
                initial_epoch=initial_epoch,
                steps=steps,
                val_steps=val_steps,
                callbacks=callbacks,
                verbose=verbose,
            )
            if not chief:  # this worker's copy, to check that all workers ended with the same weights
                save_model_atomically(model, out / "last.keras")
            # Leave together: a worker that exits while the chief still writes makes it log errors.
            barrier(strategy)
    finally:
        for stream in streams:
            if stream is not None and hasattr(stream, "close"):
                stream.close()
    if chief:
        print(
            f"done: {state['epoch']} epochs, best {state.get('monitor')} {state.get('best', float('nan')):.4g} "
            f"at epoch {state.get('best_epoch')}; checkpoints in {out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
