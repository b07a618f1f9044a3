"""Train or fine-tune a network of the zoo from one command.

    python training/fit.py --model dsh --set light --epochs 20 --batch-size 32 --out runs/dsh_light
    python training/fit.py --model xyz --shards data/light-train --val-shards data/light-val --out runs/xyz

Data comes on the fly from the Probe Particle simulator (worker processes) or from TFRecord
shards made by ``python -m keras_spm.data.generate``. Every epoch writes ``last.keras``
(model + optimizer state), ``best.keras`` (lowest validation loss), ``history.csv``,
TensorBoard logs in ``tensorboard/`` and ``state.json``; all are written atomically.
Rerunning the same command after a crash or ``kill -9`` resumes from the last finished epoch
with the optimizer state and the same data order (at most the current epoch is lost).
``--distribute mirrored`` uses all local devices; ``--distribute multi-worker`` trains on
several machines configured by ``TF_CONFIG`` (each worker simulates its own data).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Recipe:
    """How to build, compile and feed one model of the zoo."""

    preset: str
    compile: str
    tips: tuple[str, ...]
    descriptors: tuple[str, ...]
    targets: str | None = None  # a function turning the Y dict into the model's targets


RECIPES = {
    "dsh": Recipe("dsh_10slice", "compile_dsh", ("CO",), ("disks", "spheres", "height")),
    "es": Recipe("es_10slice", "compile_es", ("CO", "Xe"), ("es", "height")),
    "xyz": Recipe("xyz_10slice", "compile_xyz", ("CO",), ("xyz",), targets="xyz"),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="training/fit.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=f"one of: {', '.join(RECIPES)}")
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
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--distribute", choices=("none", "mirrored", "multi-worker"), default="none")
    args = parser.parse_args(argv)
    if args.model not in RECIPES:
        parser.error(f"unknown --model '{args.model}'; expected one of: {', '.join(RECIPES)}.")
    return args


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
    """(this worker's index, number of workers); (0, 1) when not multi-worker."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 0, 1
    return int(resolver.task_id), int(strategy.num_replicas_in_sync)


def datasets(args, recipe: Recipe, seed: int, batch_size: int):
    """Training and validation ``tf.data`` datasets, targets shaped for the model's outputs."""
    import tensorflow as tf

    from keras_spm.data import afm_dataset
    from keras_spm.data.shards import shard_dataset

    if args.shards:
        train = shard_dataset(args.shards, batch_size, seed, tips=recipe.tips, descriptors=recipe.descriptors)
    else:
        from keras_spm.data.sets import load_set

        molecules = load_set(args.set_name, "train", full=args.full)[: args.molecules]
        train = afm_dataset(molecules, recipe.tips, recipe.descriptors, batch_size, seed, workers=args.workers)
    if args.val_shards:
        val = shard_dataset(
            args.val_shards, batch_size, 12345, tips=recipe.tips, descriptors=recipe.descriptors, vary_epochs=False
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
        )
    streams = [getattr(train, "stream", None), getattr(val, "stream", None)]
    if recipe.targets == "xyz":
        from keras_spm.models.afm import xyz_targets

        train = train.map(lambda x, y: (x, xyz_targets(y["xyz"])))
        val = val.map(lambda x, y: (x, xyz_targets(y["xyz"])))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return train.with_options(options), val.cache().with_options(options), streams


def save_atomically(model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def make_checkpoint_callback(out: Path, state: dict, chief: bool):
    import keras

    class Checkpoint(keras.callbacks.Callback):
        """After each epoch: last.keras, best.keras, history row, then state.json (the commit point)."""

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if not chief:
                return
            logs = {k: float(v) for k, v in (logs or {}).items()}
            save_atomically(self.model, out / "last.keras")
            val = logs.get("val_loss", logs.get("loss"))
            if val is not None and val < state.get("best_val_loss", float("inf")):
                state["best_val_loss"] = val
                state["best_epoch"] = epoch + 1
                save_atomically(self.model, out / "best.keras")
            history = out / "history.csv"
            row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._start, 2), **logs}
            rows = [r for r in _read_history(history) if int(r["epoch"]) < epoch + 1] + [row]
            keys = list(dict.fromkeys(k for r in rows for k in r))
            tmp = history.with_suffix(".tmp")
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=keys)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, history)
            state["epoch"] = epoch + 1
            state["wall_seconds"] = state.get("wall_seconds", 0.0) + row["seconds"]
            write_json(out / "state.json", state)

    return Checkpoint()


def _read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(argv=None) -> int:
    args = parse_args(argv)
    recipe = RECIPES[args.model]
    strategy = make_strategy(args.distribute)  # first TF call: multi-worker needs it before any op
    import keras

    from keras_spm.models import afm

    task, n_workers = worker_index(strategy)
    chief = task == 0
    out = args.out if chief else args.out / f".worker-{task}"
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state and state.get("model") != args.model:
        raise SystemExit(f"{out} holds a '{state.get('model')}' run, not '{args.model}'; choose another --out.")
    resume = bool(state) and (out / "last.keras").exists()

    with strategy.scope():
        if resume:
            model = keras.models.load_model(out / "last.keras")
            print(f"resuming {args.model} from {out / 'last.keras'} after epoch {state['epoch']}", file=sys.stderr)
        else:
            model = afm.from_preset(recipe.preset)
            if args.init:
                model.load_weights(args.init) if str(args.init).endswith(".weights.h5") else model.set_weights(
                    keras.models.load_model(args.init).get_weights()
                )
            getattr(afm, recipe.compile)(model, lr=args.lr)
            state = {
                "model": args.model,
                "preset": recipe.preset,
                "epoch": 0,
                "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            }
    initial_epoch = int(state.get("epoch", 0))
    if initial_epoch >= args.epochs:
        print(f"{out} already holds {initial_epoch} epochs (>= --epochs {args.epochs}); nothing to do.")
        return 0

    per_worker_batch = max(1, args.batch_size // n_workers)
    train, val, streams = datasets(args, recipe, args.seed + 1000 * task, per_worker_batch)
    if streams[0] is not None:
        streams[0].epoch = initial_epoch  # the same data for epoch k as in an uninterrupted run
    callbacks = [make_checkpoint_callback(out, state, chief)]
    if chief:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), update_freq="epoch"))
    try:
        model.fit(
            train,
            validation_data=val,
            epochs=args.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=args.steps_per_epoch,
            callbacks=callbacks,
            verbose=1 if sys.stdout.isatty() else 2,
        )
    finally:
        for stream in streams:
            if stream is not None and hasattr(stream, "close"):
                stream.close()
    if chief:
        print(
            f"done: {state['epoch']} epochs, best val_loss {state.get('best_val_loss', float('nan')):.4g} "
            f"at epoch {state.get('best_epoch')}; checkpoints in {out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
