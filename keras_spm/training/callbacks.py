"""Keras callbacks of an epoch-based run folder, shared by every family's training script (``training/fit*.py``).

A run folder holds ``last.keras`` (with the optimizer, to resume), ``best.keras`` (the lowest monitored validation
score so far), ``history.csv`` (one row per epoch) and ``state.json``, written last as the commit point: after
``kill -9`` the folder describes the last finished epoch and a rerun of the same command resumes there.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .runs import read_csv, save_model_atomically, write_csv, write_json


def cosine_lr(epoch: int, epochs: int, lr: float, final_fraction: float = 0.01) -> float:
    """Learning rate of ``epoch`` (0-based): ``lr`` at the first, ``final_fraction * lr`` at the last of ``epochs``."""
    t = epoch / max(epochs - 1, 1)
    return lr * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def cosine_lr_callback(lr: float, epochs: int):
    """Sets the learning rate at each epoch's start from the epoch index alone, so a resumed run continues exactly."""
    import keras

    class CosineLR(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model.optimizer.learning_rate.assign(cosine_lr(epoch, epochs, lr))

    return CosineLR()


def _save_model(model, out: Path, kind: str) -> None:
    save_model_atomically(model, out / f"{kind}.keras")


def epoch_checkpoint(
    out: Path,
    state: dict,
    *,
    monitor: str | None = None,
    chief: bool = True,
    save: Callable[[object, Path, str], None] = _save_model,
    validate: Callable[[], dict] | None = None,
):
    """After each epoch: ``validate()``'s scores join the logs, ``save(model, out, "last")``, and when ``monitor``
    (default ``val_loss``, else ``loss``) is the lowest yet ``save(model, out, "best")`` with ``state["best"]``,
    ``state["best_epoch"]`` and ``state["monitor"]``; then the history row and ``state.json``, atomically.

    ``chief=False`` (the other workers of a multi-worker run) writes nothing.
    """
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if not chief:
                return
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if validate is not None:
                scores = validate()
                logs.update(scores)
                print(" - " + ", ".join(f"{k}: {v:.4f}" for k, v in scores.items()), flush=True)
            save(self.model, out, "last")
            key = monitor or ("val_loss" if "val_loss" in logs else "loss")
            score = logs.get(key)
            if score is not None and score < state.get("best", float("inf")):
                state.update(best=score, best_epoch=epoch + 1, monitor=key)
                save(self.model, out, "best")
            row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._start, 2), **logs}
            write_history(out / "history.csv", epoch + 1, row)
            state["epoch"] = epoch + 1
            state["wall_seconds"] = state.get("wall_seconds", 0.0) + row["seconds"]
            write_json(out / "state.json", state)

    return EpochCheckpoint()


def write_history(path: Path, epoch: int, row: dict) -> None:
    """Put ``row`` as the history's ``epoch`` (1-based), dropping rows of later epochs a killed run left behind."""
    write_csv(path, [r for r in read_csv(path) if int(r["epoch"]) < epoch] + [row])


def time_limit(minutes: float | None, state: dict | None = None, label: str = ""):
    """Ends ``fit`` after the epoch that passes ``minutes`` of wall time (``None``: never); marks
    ``state["stopped"]`` so a multi-stage script knows the stage ended early (saved with the epoch's state)."""
    import keras

    started = time.perf_counter()

    class TimeLimit(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if minutes is not None and time.perf_counter() - started > 60 * minutes:
                print(
                    f"{label}time limit of {minutes} min reached after epoch {epoch + 1}", file=sys.stderr, flush=True
                )
                self.model.stop_training = True
                if state is not None:
                    state["stopped"] = True

    return TimeLimit()
