"""Time-boxed, resumable training campaigns for the zoo's AFM networks, carried from machine to machine.

    python training/campaign.py --model xyz --hours 2          # resumes runs/campaign_xyz if it exists
    python training/campaign.py --model xyz --promote-only     # export the best checkpoint to zoo/ if it won

A campaign runs simulation and training side by side for ``--hours``:

1. **Producers** (``python -m keras_spm.training.replay``, ``--producers`` processes) simulate new molecules of
   the model's training set without pause into a bounded on-disk replay buffer (:mod:`.replay`).
2. **The trainer** draws random stored samples, augments each draw afresh with the model's recipe, and trains;
   it waits when it has used every simulated sample ``--replay-ratio`` times on average, so the data stay varied.
3. Every ``--eval-minutes`` it evaluates on a fixed validation set (molecules of the validation split, simulated
   once with fixed seeds and cached in the run folder, each stack both augmented and noise-free), writes
   ``last.keras`` (with the optimizer) and, when the validation score (the mean of the two losses) is the lowest
   yet, ``best.keras``, atomically; then appends a row to
   ``zoo/<name>/campaign.csv`` (cumulative wall hours, molecules simulated, samples trained, validation metrics)
   and redraws ``zoo/<name>/campaign.png``. With ``--average M`` (new runs; 0.995 by default) what is evaluated
   and kept as ``best.keras`` is an exponential moving average of the trained weights (:class:`WeightAverage`,
   ``average.npz`` beside ``last.keras``), not the weights of the last batch.
4. At the end, if ``best.keras`` beats the zoo's current weights on the same validation set, it is exported into
   ``zoo/<name>/`` (input scaling wrapped in, no optimizer state) and the registry's sha256 updated; the test split
   is then evaluated *to report* (``benchmarks/afm_models.py``), never to choose.

After ``kill -9`` or on the next session, the same command resumes from the run folder (``--run``); on a fresh
machine, where the run folder is gone, it starts from the zoo's weights (the last promoted ones) and the log goes
on from its last row, so ``campaign.csv`` holds every hour of training, and the ``start_sha``/``promoted_sha``
columns say which hours went into which shipped file.

For a cluster: start producers on many machines with ``--shard K/N`` into one buffer on a shared file system (or
make TFRecord shards with ``python -m keras_spm.data.generate --shard K/N`` and train with ``training/fit.py
--shards ... --distribute multi-worker``, which runs the same model on several machines).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..precision import PRECISIONS
from .replay import ReplayBuffer, iterate
from .runs import append_csv, read_csv, read_json, save_model_atomically, write_json

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "zoo"


@dataclass(frozen=True)
class CampaignModel:
    """What a campaign trains: the zoo name, its preset's recipe, and the molecule set it draws from."""

    name: str
    fit_model: str  # dsh, es or xyz
    compile: str
    tips: tuple[str, ...]
    descriptors: tuple[str, ...]
    targets: str | None
    augmentation: str
    set_name: str  # one set or several, comma-separated: each sample comes from a set drawn uniformly
    full_set: bool
    elements: str  # the set whose elements every molecule must be made of (the preset's: light or heavy)
    slices: tuple[int, int] | None = None  # the model's slices of the simulated 10-slice stack (None: all)
    twin: str | None = None  # the zoo model that starts it when it has no weights of its own yet

    @property
    def sets(self) -> tuple[str, ...]:
        return tuple(self.set_name.split(","))


def campaign_model(name: str, set_name: str | None = None, shipped: bool = False) -> CampaignModel:
    """The campaign settings of zoo model ``name``, read from its preset (``keras_spm.zoo.presets``)."""
    from ..zoo.presets import PRESETS

    preset = PRESETS.get(name)
    if preset is None or preset.family != "afm":
        afm = sorted(n for n, p in PRESETS.items() if p.family == "afm")
        raise ValueError(f"no AFM zoo preset {name!r} to run a campaign for; choose one of {', '.join(afm)}.")
    r = preset.recipe
    home = r.set_name or "light"
    set_name = set_name or f"{home},planar"  # the preset's set plus larger flat molecules (keras_spm.data.planar)
    from ..data.sets import SET_NAMES

    unknown = [s for s in set_name.split(",") if s not in SET_NAMES]
    if unknown:
        raise ValueError(f"unknown molecule set(s) {unknown}; choose from {', '.join(SET_NAMES)} (comma-separated).")
    return CampaignModel(
        name,
        r.fit_model,
        r.compile,
        tuple(r.tips),
        tuple(r.descriptors),
        r.targets,
        r.augmentation,
        set_name,
        not shipped,  # the full sets are built on first use (python -m keras_spm.data.sets build --set NAME)
        home,
        r.slices,
        preset.twin,
    )


# ---- validation data and metrics --------------------------------------------------------------------------------


def validation_set(run: Path, cm: CampaignModel, n: int, seed: int = 12345) -> tuple[dict, dict, dict]:
    """The fixed validation set: the first ``n`` validation molecules, simulated once, cached; returns the stacks
    augmented once with fixed seeds, the targets, and the same stacks noise-free.

    Both kinds of stack count: es trained and selected on augmented stacks alone got better on them and worse on
    noise-free ones (see :data:`keras_spm.data.augment.AUGMENTATIONS`), which the test split has by default.
    """
    path = run / f"val_{cm.set_name.replace(',', '+')}_{n}.npz"
    if path.exists():
        data = np.load(path)
        if all(f"xc_{t}" in data for t in cm.tips):  # older caches lack the noise-free stacks: simulated again
            return (
                {t: data[f"x_{t}"] for t in cm.tips},
                {d: data[f"y_{d}"] for d in cm.descriptors},
                {t: data[f"xc_{t}"] for t in cm.tips},
            )
    from ..data.augment import AUGMENTATIONS
    from ..data.samples import SampleSpec, simulate_batch
    from ..data.sets import SET_ELEMENTS, load_set, only_elements

    share = -(-n // len(cm.sets))
    molecules = []
    for name in cm.sets:  # the first molecules of each set's validation split, in equal shares
        molecules += only_elements(load_set(name, "val", full=cm.full_set), SET_ELEMENTS[cm.elements])[:share]
    molecules = molecules[:n]
    clean, ys = simulate_batch(molecules, SampleSpec(cm.tips, cm.descriptors, augmentation=None), seed, workers=2)
    augment = AUGMENTATIONS[cm.augmentation]
    xs = {t: np.stack([augment(x, np.random.default_rng([seed, i])) for i, x in enumerate(clean[t])]) for t in cm.tips}
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(
        tmp,
        **{f"x_{t}": v for t, v in xs.items()},
        **{f"xc_{t}": v for t, v in clean.items()},
        **{f"y_{d}": v for d, v in ys.items()},
    )
    os.replace(tmp, path)
    return xs, ys, clean


def pick_slices(cm: CampaignModel, stack: np.ndarray) -> np.ndarray:
    """The model's slices of a simulated 10-slice stack (last axis)."""
    return stack if cm.slices is None else stack[..., cm.slices[0] : cm.slices[1]]


def model_inputs(cm: CampaignModel, xs: dict):
    xs = {t: pick_slices(cm, xs[t]) for t in cm.tips}
    return xs[cm.tips[0]] if len(cm.tips) == 1 else xs


def model_targets(cm: CampaignModel, ys: dict) -> dict:
    if cm.targets == "xyz":
        return {"xyz_class": ys["xyz"], "xyz_offset": ys["xyz"]}
    return {d: ys[d] for d in cm.descriptors}


def evaluate_both(
    model, cm: CampaignModel, val: tuple[dict, dict, dict], batch_size: int = 32, loss: dict | None = None
) -> dict:
    """:func:`evaluate` on the augmented validation stacks, the noise-free ones (keys ending in ``_clean``), and
    ``score``, the mean of the two losses: what checkpoints and promotions are chosen on (``loss``: the run's loss
    keywords, e.g. ``{"es_scale": 0.02}``)."""
    xs, ys, clean = val
    model = in_float32(model, cm, loss)
    out = evaluate(model, cm, xs, ys, batch_size, loss)
    out.update({f"{k}_clean": v for k, v in evaluate(model, cm, clean, ys, batch_size, loss).items()})
    out["score"] = (out["val_loss"] + out["val_loss_clean"]) / 2
    return out


def evaluate(model, cm: CampaignModel, xs: dict, ys: dict, batch_size: int = 32, loss: dict | None = None) -> dict:
    """Validation loss and the model's own figures (xyz: precision / recall / position error; maps: MSE, r)."""
    from ..models.afm import decode_xyz_prediction, decode_xyz_target, detection_scores, map_metrics

    model = in_float32(model, cm, loss)
    x, y = model_inputs(cm, xs), model_targets(cm, ys)
    scores = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    out = {"val_loss": float(scores["loss"])}
    pred = model.predict(x, batch_size=batch_size, verbose=0)
    if cm.targets == "xyz":
        # every box above 0.5, doubles included, as in the log's rows from before XYZ_MIN_DISTANCE: one curve
        p = [
            decode_xyz_prediction(c, o, threshold=0.5, min_distance=0.0)
            for c, o in zip(pred["xyz_class"], pred["xyz_offset"], strict=True)
        ]
        t = [decode_xyz_target(v) for v in ys["xyz"]]
        s = detection_scores(p, t)
        out.update(precision=s["precision"], recall=s["recall"], f1=s["f1"], mean_error=s["mean_error"])
        return out
    for d in cm.descriptors:
        m = map_metrics(np.asarray(pred[d])[..., 0] if np.ndim(pred[d]) == 4 else pred[d], ys[d])
        out[f"{d}_mse"] = m["mse_mean"]
        out[f"{d}_r"] = m["pearson_r_mean"]
    if "es" in cm.descriptors:
        es = np.asarray(pred["es"]).reshape(ys["es"].shape)
        inside = ys["height"] > 0
        out["es_sign_agreement"] = float(np.mean(np.sign(es[inside]) == np.sign(ys["es"][inside])))
        out["es_outside"] = float(np.mean(np.abs(es[~inside])))  # V/Angstrom; the target is < 0.01
    return out


# ---- the log and its figure -------------------------------------------------------------------------------------


def must_wait(drawn: int, made: int, replay_ratio: float, batch_size: int, prefill: int = 0) -> bool:
    """Whether the trainer waits for the producers: until the buffer has had ``prefill`` samples (else a new run's
    first batches come from a few hundred molecules, each drawn ``replay_ratio`` times within minutes), and whenever
    every simulated sample has been drawn ``replay_ratio`` times on average, so the data stay varied."""
    return made < prefill or drawn > replay_ratio * max(made, batch_size)


def data_seed(seed: int, state: dict, log_dir: Path) -> int:
    """Seed of a run's simulated samples (molecule order, poses) and of its draws and augmentations.

    A resumed run keeps its own (``seed`` for runs from before 2026-12-06). A new run adds the molecules the log
    already counts: until then every new run started from ``seed`` itself, so it re-simulated the molecules its
    predecessors had started with, in the same poses and with the same augmentations (es runs 5, 6 and 8 did; the
    first-hour validation rise of a new run stayed without the repeat, es run 9).
    """
    if state:
        return int(state.get("data_seed", seed))
    return seed + int(previous_totals(log_dir)["molecules_simulated"])


def previous_totals(log_dir: Path) -> dict:
    """Cumulative totals of the last row of ``<log_dir>/campaign.csv`` (zeros for a new log)."""
    rows = read_csv(log_dir / "campaign.csv")
    last = rows[-1] if rows else {}
    return {k: float(last.get(k) or 0) for k in ("wall_hours", "molecules_simulated", "samples_trained")}


def plot_campaign(name: str, log_dir: Path) -> Path | None:
    """``<log_dir>/campaign.png``: validation figures against cumulative training wall hours."""
    rows = [r for r in read_csv(log_dir / "campaign.csv") if r.get("val_loss")]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("val_loss", "precision", "recall", "mean_error", "es_r", "es_sign_agreement", "es_outside")
    keys = [k for k in keys if rows[0].get(k)]
    keys += [k for k in rows[0] if k.endswith("_mse") and k not in keys]
    hours = np.array([float(r["wall_hours"]) for r in rows])
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        values = np.array([float(r[key]) if r.get(key) else np.nan for r in rows])
        ax.plot(hours, values, "o-", ms=3, label="augmented")
        clean = np.array([float(r[f"{key}_clean"]) if r.get(f"{key}_clean") else np.nan for r in rows])
        if np.isfinite(clean).any():  # logged since the validation set also has noise-free stacks
            ax.plot(hours, clean, "s--", ms=3, label="noise-free")
            ax.legend(fontsize=7)
        train = np.array([float(r["train_loss"]) if r.get("train_loss") else np.nan for r in rows])
        if key == "val_loss" and np.isfinite(train).any():  # logged since 2026-12-08
            ax.plot(hours, train, "^:", ms=3, color="0.4", label="training (replayed, augmented)")
            ax.legend(fontsize=7)
        for r, h, v in zip(rows, hours, values, strict=True):
            if r.get("promoted_sha"):
                ax.plot(h, v, "r*", ms=10)
        ax.set_xlabel("training wall hours (all campaigns)")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{name}: campaign learning curve (red star: promoted to the zoo)")
    fig.tight_layout()
    out = log_dir / "campaign.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


# ---- the campaign -----------------------------------------------------------------------------------------------


def start_producers(
    run: Path, cm: CampaignModel, n: int, capacity: int, seed: int, threads: int, only: int | None = None
) -> list:
    """Producer processes filling ``run/buffer`` (their own sessions, ended with the campaign); ``only``: shard k."""
    env = dict(os.environ, CL_CONFIG_CPU_TBB_NUM_WORKERS=str(threads), POCL_MAX_PTHREAD_COUNT=str(threads))
    procs = []
    for k in range(n) if only is None else [only]:
        cmd = [
            sys.executable,
            "-m",
            "keras_spm.training.replay",
            "--buffer",
            str(run / "buffer"),
            "--set",
            cm.set_name,
            "--elements",
            cm.elements,
            "--tips",
            ",".join(cm.tips),
            "--descriptors",
            ",".join(cm.descriptors),
            "--capacity",
            str(capacity),
            "--shard",
            f"{k}/{n}",
            "--seed",
            str(seed),
            "--parent-pid",
            str(os.getpid()),
        ]
        if cm.full_set:
            cmd.append("--full")
        log = open(run / f"producer-{k}.log", "a")  # noqa: SIM115 (kept open for the child's lifetime)
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True))
    return procs


def stop_producers(procs: list) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def weights_sha(path: Path) -> str:
    from ..zoo.hub import sha256_file

    return sha256_file(path)[:12] if Path(path).exists() else ""


def initial_model(
    cm: CampaignModel,
    init: Path | None,
    lr: float,
    precision: str = "float32",
    from_twin: bool = False,
    loss: dict | None = None,
):
    """The starting network: ``init`` (a .keras file) or the zoo's current weights (for a model without weights
    yet, or with ``from_twin``, its twin's, transferred: :mod:`keras_spm.models.afm.transfer`; without a twin, the
    untrained network with its input scaling), under ``precision`` (:mod:`keras_spm.precision`; outputs, losses and
    normalisation stay float32), compiled with the recipe (``loss``: keyword arguments of its compile function, e.g.
    ``{"es_scale": 0.02}``). ``from_twin`` restarts a 6-slice model from a 10-slice twin that has trained further than
    the weights it was once transferred from."""
    import keras

    from .. import precision as precisions
    from .. import zoo
    from ..models import afm, preprocessing  # noqa: F401  (registers the layers a saved checkpoint holds)

    if from_twin and (init is not None or cm.twin is None):
        raise SystemExit(
            f"--from-twin starts {cm.name} from its 10-slice twin's zoo weights"
            + (": drop --init, the two are alternatives." if init is not None else f", and {cm.name} has no twin.")
        )
    if init is not None:
        model = keras.models.load_model(init, compile=False)
    elif cm.name in zoo.REGISTRY and not from_twin:
        model = zoo.load(cm.name)
    elif cm.twin is not None:
        from ..models.afm.transfer import transfer_to_fewer_slices
        from ..zoo.presets import build, wrap

        model = wrap(transfer_to_fewer_slices(zoo.load(cm.twin), build(cm.name)), cm.name)
        why = "as asked (--from-twin)" if from_twin else "it has no weights yet"
        print(f"{cm.name} starts from {cm.twin}'s weights, transferred: {why}", file=sys.stderr)
    else:
        from ..zoo.presets import build, wrap

        model = wrap(build(cm.name), cm.name)
        print(f"{cm.name} has no weights yet and no twin: training from scratch", file=sys.stderr)
    model = precisions.with_policy(model, precision, training=True)
    getattr(afm, cm.compile)(model, lr=lr, **(loss or {}))
    return model


def in_float32(model, cm: CampaignModel, loss: dict | None = None):
    """``model`` itself, or a float32 copy of a bf16 one compiled with the run's ``loss`` keywords: validation
    figures are always float32, so runs in either precision (and the zoo's float32 weights) are compared on the same
    footing, under the same loss (a copy compiled without ``--es-scale`` scored a companded run on plain MSE)."""
    from .. import precision as precisions
    from ..models import afm

    if precisions.policy_of(model) == "float32":
        return model
    copy = precisions.with_policy(model, "float32")
    getattr(afm, cm.compile)(copy, lr=1e-4, **(loss or {}))
    return copy


class BatchFeeder:
    """Augmented batches drawn from the replay buffer by a daemon thread, ``ahead`` batches in advance.

    A plain Python thread and queue rather than ``tf.data.Dataset.from_generator``: a generator waiting on the
    replay ratio inside tf.data deadlocked the interpreter at exit (the iterator's destructor holds the GIL while
    it waits for the generator call that needs it). A daemon thread cannot hold the process up.
    """

    def __init__(self, cm: CampaignModel, buffer: ReplayBuffer, batch_size: int, seed: int, gate, ahead: int = 4):
        from ..data.augment import AUGMENTATIONS

        self.cm, self.batch_size, self.gate = cm, batch_size, gate
        self.draws = iterate(buffer, AUGMENTATIONS[cm.augmentation], seed)
        self.batches: queue.Queue = queue.Queue(maxsize=ahead)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._fill, name="campaign-batches", daemon=True)
        self.thread.start()

    def _fill(self) -> None:
        try:
            while True:
                samples = []
                for xs, ys in self.draws:
                    if not self.gate():
                        return
                    samples.append((xs, ys))
                    if len(samples) == self.batch_size:
                        break
                self.batches.put(self._collate(samples))
        except BaseException as error:  # surfaced in the trainer by next()
            self.error = error

    def _collate(self, samples: list) -> tuple:
        cm = self.cm
        xs = {t: np.stack([s[0][t] for s in samples]).astype(np.float32) for t in cm.tips}
        ys = {d: np.stack([s[1][d] for s in samples]).astype(np.float32) for d in cm.descriptors}
        return model_inputs(cm, xs), model_targets(cm, ys)

    def next(self, timeout: float) -> tuple | None:
        """The next batch, or ``None`` if none came within ``timeout`` seconds (the trainer waits on producers)."""
        try:
            return self.batches.get(timeout=timeout)
        except queue.Empty:
            if self.error is not None:
                raise RuntimeError(f"the batch thread failed: {self.error!r}") from self.error
            return None


class WeightAverage:
    """Exponential moving average of a model's trainable weights (Polyak averaging), updated after every batch.

    Why: a campaign resumed from the weights of its best evaluation went *up* on validation for its first
    evaluations at both 3e-4 and 1e-4 (xyz, 2026-12-02: score 0.0185 -> 0.0212 / 0.0197). The shipped weights are
    the best of several noisy evaluations, and the weights after any one batch carry the noise of the last
    gradient steps; their average over the last ~``1 / (1 - momentum)`` batches does not.
    """

    def __init__(self, model, momentum: float):
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"the averaging momentum must be in (0, 1), got {momentum}.")
        self.momentum = momentum
        self.values = [np.array(v, dtype=np.float32) for v in model.trainable_variables]

    def update(self, model) -> None:
        for average, variable in zip(self.values, model.trainable_variables, strict=True):
            average += (1.0 - self.momentum) * (np.asarray(variable, dtype=np.float32) - average)

    @contextlib.contextmanager
    def applied(self, model):
        """The model with the averaged weights inside the block, its own weights again after it."""
        own = [np.array(v) for v in model.trainable_variables]
        for variable, average in zip(model.trainable_variables, self.values, strict=True):
            variable.assign(average)
        try:
            yield model
        finally:
            for variable, value in zip(model.trainable_variables, own, strict=True):
                variable.assign(value)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, *self.values)
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        with np.load(path) as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
        if [v.shape for v in values] != [v.shape for v in self.values]:
            raise ValueError(f"{path} holds the average of another network; delete it to restart the average.")
        self.values = [v.astype(np.float32) for v in values]


def warmup_rate(lr: float, step: int, warmup_steps: int) -> float:
    """Learning rate of batch ``step`` of a run: linear from lr / warmup_steps up to ``lr``, then ``lr``.

    A new run starts from trained weights with a fresh Adam (no optimizer state is shipped): its first full-rate
    steps, normalised by still-empty moment estimates, undid part of the training (xyz, 2026-12-02: validation loss
    0.0190 -> 0.0217 in the first 15 minutes at 3e-4).
    """
    return lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else lr


def plateau_rate(lr: float, since_best: int, evals: int, factor: float, min_lr: float) -> tuple[float, int]:
    """``(learning rate, evaluations since the last best)`` after an evaluation, under ``--plateau-evals``.

    When ``evals`` evaluations in a row have brought no new best score, the rate is multiplied by ``factor`` (never
    below ``min_lr``) and the count starts again. Why: campaigns went flat at a fixed rate and were resumed by hand at
    a lower one (edafm, 2026-12-07: 0.00479 at 1e-3 for 45 min); a run that cuts its own rate does not wait for a
    session to notice.
    """
    if evals <= 0 or since_best < evals or lr <= min_lr:
        return lr, since_best
    return max(lr * factor, min_lr), 0


def train_for(
    model,
    feeder: BatchFeeder,
    seconds: float,
    supervise,
    verbose: bool = False,
    rate_at=None,
    step0: int = 0,
    after_batch=None,
) -> tuple[int, float]:
    """Train batch by batch for ``seconds`` of wall time; returns the number of batches trained and their mean
    training loss (NaN if none), which the log sets beside the validation loss: a gap says the replayed samples are
    learnt better than new molecules (more data would help), none says the model or the schedule is the limit.

    ``rate_at(step)``, if given, sets the learning rate of each batch (``step0`` + batches so far);
    ``after_batch(model)`` runs after each (the weight average's update).
    """
    import keras

    deadline = time.monotonic() + seconds
    progress = keras.utils.Progbar(None, unit_name="batch") if verbose else None
    batches, loss_sum = 0, 0.0
    while time.monotonic() < deadline:
        batch = feeder.next(timeout=min(2.0, max(0.05, deadline - time.monotonic())))
        if batch is None:
            supervise()
            continue
        if rate_at is not None:
            model.optimizer.learning_rate.assign(rate_at(step0 + batches))
        logs = model.train_on_batch(*batch, return_dict=True)  # one batch's losses (Keras resets them per call)
        if after_batch is not None:
            after_batch(model)
        batches += 1
        loss_sum += float(logs["loss"])
        if progress is not None:
            progress.update(batches, [(k, float(v)) for k, v in logs.items()])
    return batches, (loss_sum / batches if batches else float("nan"))


def validation_size(state: dict, asked: int | None) -> int:
    """Validation molecules of a run: a resumed run keeps the set its best score and log rows were measured on
    (resumed runs once fell back to the default and logged 150-molecule scores after 100-molecule ones)."""
    kept = state.get("val_molecules") if state else None
    if kept is not None and asked is not None and asked != kept:
        raise SystemExit(
            f"this run is validated on {kept} molecules; --val-molecules {asked} would make its scores incomparable. "
            "Drop the option, or start a new run (--run) for another validation set."
        )
    return int(kept or asked or 150)


def run_campaign(args: argparse.Namespace) -> int:
    cm = campaign_model(args.model, args.set_name, args.shipped_set)
    run = args.run or ROOT / "runs" / f"campaign_{cm.name}"
    run.mkdir(parents=True, exist_ok=True)
    log_dir = args.log_dir or ZOO / cm.name
    log_dir.mkdir(parents=True, exist_ok=True)
    state = read_json(run / "state.json")
    if state and state.get("model") != cm.name:
        raise SystemExit(f"{run} holds a campaign of {state.get('model')!r}, not {cm.name!r}; choose another --run.")
    if cm.full_set:
        for name in cm.sets:
            _ensure_full_set(name)

    # OpenCL (producers, validation simulation) runs in child processes; TensorFlow only here.
    n_val = validation_size(state, args.val_molecules)
    seed = data_seed(args.seed, state, log_dir)
    producers = start_producers(run, cm, args.producers, args.capacity, seed, args.producer_threads)
    stopping = threading.Event()
    try:
        val = validation_set(run, cm, n_val)
        import keras

        from .. import precision as precisions
        from ..models import afm, preprocessing  # noqa: F401  (register the custom layers and losses)

        resume = bool(state) and (run / "last.keras").exists()
        if resume:
            model = keras.models.load_model(run / "last.keras")
            print(f"resuming the {cm.name} campaign in {run}: {state['hours']:.2f} h so far", file=sys.stderr)
            if precisions.resolve(args.precision) != precisions.policy_of(model):
                print(
                    f"the run trains in {precisions.policy_of(model)} (its optimizer state is in that precision); "
                    f"--precision {args.precision} applies to new runs",
                    file=sys.stderr,
                )
        else:
            loss = {"es_scale": args.es_scale} if args.es_scale is not None else {}
            model = initial_model(cm, args.init, args.lr, args.precision, args.from_twin, loss)
            model.optimizer.beta_2 = args.beta2  # read when the first batch is traced; saved for resumes
            zoo_file = ZOO / cm.name / f"{cm.name}.keras"
            shipped = zoo_file.exists()
            if (args.from_twin or not shipped) and cm.twin is not None:  # the transferred twin is where it starts
                zoo_file = ZOO / cm.twin / f"{cm.twin}.keras"
            # the weights to beat: the shipped ones, or the transferred twin for a model without weights
            start = (
                evaluate_both(initial_model(cm, None, args.lr, loss=loss), cm, val, loss=loss)
                if shipped or zoo_file.exists()
                else {}
            )
            state = {
                "model": cm.name,
                "hours": 0.0,
                "samples_trained": 0,
                "run_id": _now().replace(":", ""),
                "base": previous_totals(log_dir),
                "start_sha": weights_sha(args.init or zoo_file),
                "zoo_val": start,
                "val_molecules": n_val,
                "precision": precisions.policy_of(model),
                "best_score": start.get("score", float("inf")),
                "data_seed": seed,
                "loss": loss,  # the score's loss: promotions compare the zoo's weights under it too
            }
            if args.init is not None or args.from_twin:
                state["best_score"] = float("inf")
            state["warmup"] = {"lr": args.lr_now or args.lr, "steps": args.warmup_steps}
            state["average"] = args.average
            state["beta2"] = float(model.optimizer.beta_2)
            write_json(run / "state.json", state)
            log_row(cm, state, log_dir, {**evaluate_both(model, cm, val, loss=loss), "event": "start"})
        if "best_score" not in state:  # a run from before the noise-free validation stacks: its best is re-chosen
            state["best_score"] = float("inf")
        if args.plateau_evals is not None:
            state["plateau"] = {
                "evals": args.plateau_evals,
                "factor": args.plateau_factor,
                "min_lr": args.min_lr,
                "since_best": int(state.get("plateau", {}).get("since_best", 0)),
            }
        if args.lr_now:
            model.optimizer.learning_rate.assign(args.lr_now)
        elif resume and state.get("lr"):  # a rate cut after the last checkpoint was saved
            model.optimizer.learning_rate.assign(state["lr"])
        buffer = ReplayBuffer(run / "buffer", cm.tips, cm.descriptors, args.capacity)
        made_at_start = buffer.molecules_simulated()
        drawn = {"n": 0}

        if buffer.molecules_simulated() < args.prefill:
            print(f"waiting for {args.prefill} samples in the buffer before training (--prefill)", file=sys.stderr)

        def gate():
            while must_wait(drawn["n"], buffer.molecules_simulated(), args.replay_ratio, args.batch_size, args.prefill):
                if stopping.is_set():  # the campaign is over: let the data thread end instead of waiting forever
                    return False
                time.sleep(0.5)  # the trainer's thread restarts dead producers while it waits for batches
            drawn["n"] += 1
            return True

        def supervise():
            # A producer that died (a crash, a stray kill) is restarted: without it the trainer would wait forever.
            if stopping.is_set():
                return
            for k, proc in enumerate(producers):
                if proc.poll() is not None:
                    print(f"producer {k} exited ({proc.returncode}); restarting it", file=sys.stderr, flush=True)
                    producers[k] = start_producers(
                        run, cm, args.producers, args.capacity, seed, args.producer_threads, only=k
                    )[0]

        average = WeightAverage(model, state["average"]) if state.get("average") else None
        if average is not None and resume and (run / "average.npz").exists():
            average.load(run / "average.npz")
        drawn["n"] = min(int(state["samples_trained"]), int(args.replay_ratio * made_at_start))  # no free burst
        feeder = BatchFeeder(cm, buffer, args.batch_size, seed + int(state["samples_trained"]), gate)
        deadline = time.monotonic() + args.hours * 3600
        last_promotion, better = time.monotonic(), False  # better: a new best since the last promotion
        while time.monotonic() < deadline:
            started = time.monotonic()
            supervise()
            step0 = int(state["samples_trained"]) // args.batch_size
            warm = state.get("warmup", {})
            rate_at = None
            if step0 < warm.get("steps", 0):
                rate_at = functools.partial(warmup_rate, warm["lr"], warmup_steps=warm["steps"])
            seconds = min(args.eval_minutes * 60, deadline - started)
            update = average.update if average is not None else None
            batches, train_loss = train_for(model, feeder, seconds, supervise, args.verbose, rate_at, step0, update)
            state["samples_trained"] += batches * args.batch_size
            state["hours"] += (time.monotonic() - started) / 3600
            save_model_atomically(model, run / "last.keras")
            with average.applied(model) if average is not None else contextlib.nullcontext(model):
                metrics = evaluate_both(model, cm, val, loss=state.get("loss"))
                improved = metrics["score"] < state["best_score"]
                if improved:
                    state["best_score"] = metrics["score"]
                    save_model_atomically(model, run / "best.keras")
            if average is not None:
                average.save(run / "average.npz")
            lr = float(model.optimizer.learning_rate)
            if state.get("plateau"):
                plateau = state["plateau"]
                since = 0 if improved else int(plateau.get("since_best", 0)) + 1
                new_lr, plateau["since_best"] = plateau_rate(
                    lr, since, plateau["evals"], plateau["factor"], plateau["min_lr"]
                )
                if new_lr != lr:
                    print(
                        f"{cm.name}: no new best in {plateau['evals']} evaluations, learning rate {lr:.3g} -> "
                        f"{new_lr:.3g}",
                        file=sys.stderr,
                    )
                    model.optimizer.learning_rate.assign(new_lr)
            state["lr"] = float(model.optimizer.learning_rate)
            state["molecules_simulated"] = buffer.molecules_simulated()
            write_json(run / "state.json", state)
            row = {
                **metrics,
                "train_loss": train_loss,
                "event": "eval",
                "checkpoint": "best" if improved else "",
                "lr": lr,
            }
            log_row(cm, state, log_dir, row)
            print(
                f"{cm.name}: {state['hours']:.2f} h, {state['molecules_simulated']} molecules, "
                f"{state['samples_trained']} samples, " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
                file=sys.stderr,
                flush=True,
            )
            better = better or improved
            if promotion_due(args.promote_every, better, time.monotonic() - last_promotion):
                promote(cm, run, log_dir, args.lr)  # the zoo file now holds the run's best: a lost machine keeps it
                last_promotion, better = time.monotonic(), False
    finally:
        stopping.set()
        stop_producers(producers)
    if not args.no_promote:
        promote(cm, run, log_dir, args.lr)
    return 0


def promotion_due(every_hours: float | None, better: bool, since_seconds: float) -> bool:
    """Promote in the middle of a run (``--promote-every``) when its best checkpoint is new since the last promotion
    and ``every_hours`` have passed: a session can end without warning, and only the zoo file outlives the machine."""
    return every_hours is not None and better and since_seconds >= every_hours * 3600


def loss_label(loss: dict | None) -> str:
    """The ``loss`` column of ``campaign.csv``: ``""`` for the model's own loss, else its keywords
    (``"es_scale=0.02"``); :mod:`keras_spm.training.curve` chains only runs scored under one loss."""
    return ";".join(f"{k}={v:g}" for k, v in sorted((loss or {}).items()))


def log_row(cm: CampaignModel, state: dict, log_dir: Path, values: dict) -> None:
    base = state.get("base", {})
    row = {
        "time_utc": _now(),
        "run_id": state["run_id"],
        "event": values.pop("event"),
        "wall_hours": round(base.get("wall_hours", 0.0) + state["hours"], 4),
        "molecules_simulated": int(base.get("molecules_simulated", 0) + state.get("molecules_simulated", 0)),
        "samples_trained": int(base.get("samples_trained", 0) + state["samples_trained"]),
        "set": cm.set_name + (" (full)" if cm.full_set else ""),
        "start_sha": state.get("start_sha", ""),
        "checkpoint": values.pop("checkpoint", ""),
        "promoted_sha": values.pop("promoted_sha", ""),
        "lr": values.pop("lr", ""),  # the rate the evaluated weights were trained at (logged since 2026-12-07)
        "loss": loss_label(state.get("loss")),  # the score's loss: runs under different losses are not chained
        **{k: round(float(v), 5) for k, v in values.items()},
    }
    append_csv(log_dir / "campaign.csv", row)
    plot_campaign(cm.name, log_dir)


def promote(cm: CampaignModel, run: Path, log_dir: Path, lr: float = 1e-3, zoo_dir: Path = ZOO) -> bool:
    """Export ``run/best.keras`` into ``zoo/<name>/`` if it beats the zoo's weights on the validation set (the
    score: mean loss over the augmented and the noise-free stacks).

    The comparison is re-done here on the cached validation set (never the test split). On success the shipped
    file is replaced (input scaling wrapped in, no optimizer), the registry's sha256 updated, and a ``promote``
    row logged; the test split is evaluated afterwards for the card by ``benchmarks/afm_models.py``.
    """
    from ..zoo.hub import sha256_file

    best = run / "best.keras"
    state = read_json(run / "state.json")
    if not best.exists():
        print(f"{cm.name}: nothing to promote ({best} is missing)", file=sys.stderr)
        return False
    val = validation_set(run, cm, int(state.get("val_molecules", 150)))
    loss = state.get("loss") or {}
    candidate = initial_model(cm, best, lr, loss=loss)
    zoo_file = zoo_dir / cm.name / f"{cm.name}.keras"
    ours = evaluate_both(candidate, cm, val, loss=loss)
    nothing = {k: float("inf") for k in ("score", "val_loss", "val_loss_clean")}
    theirs = evaluate_both(initial_model(cm, None, lr, loss=loss), cm, val, loss=loss) if zoo_file.exists() else nothing
    print(
        f"{cm.name}: best checkpoint score {ours['score']:.5g} (augmented {ours['val_loss']:.5g}, noise-free "
        f"{ours['val_loss_clean']:.5g}) vs zoo {theirs['score']:.5g} ({theirs['val_loss']:.5g}, "
        f"{theirs['val_loss_clean']:.5g})",
        file=sys.stderr,
    )
    if not ours["score"] < theirs["score"]:
        return False
    zoo_file.parent.mkdir(parents=True, exist_ok=True)
    save_model_atomically(for_zoo(candidate, cm.name), zoo_file)
    digest = sha256_file(zoo_file)
    if zoo_dir == ZOO:
        set_registry_sha256(cm.name, digest)  # a first promotion adds the entry
        refresh_registry_entry(cm.name)  # a later promotion in this process checks the zoo file against it
    log_row(cm, state, log_dir, {**ours, "event": "promote", "promoted_sha": digest[:12]})
    print(
        f"{cm.name}: promoted to {zoo_file} (sha256 {digest[:12]}); now report the test split with "
        f"benchmarks/afm_models.py --model {cm.name}",
        file=sys.stderr,
    )
    return True


def for_zoo(model, name: str):
    """``model`` as the zoo ships it: float32, input scaling wrapped in, not compiled (so no optimizer state is
    saved: ``clone_model`` of a compiled model keeps its optimizer, and the file triples)."""
    from .. import precision as precisions
    from ..zoo.presets import wrap

    model = precisions.with_policy(model, "float32")
    plain = model.__class__.from_config(model.get_config())
    plain.set_weights(model.get_weights())
    return wrap(plain, name)


def set_registry_sha256(name: str, digest: str, path: Path = ROOT / "keras_spm" / "zoo" / "registry.py") -> None:
    """Replace the sha256 of registry entry ``name`` in ``keras_spm/zoo/registry.py``; a model that has a zoo
    preset but no entry yet (a first promotion) gets one, unpublished (``revision=None``)."""
    text = path.read_text()
    pattern = re.compile(r'(\n    "' + re.escape(name) + r'": ZooEntry\(.*?sha256=")[0-9a-f]{64}(")', re.S)
    new, count = pattern.subn(lambda m: m.group(1) + digest + m.group(2), text, count=1)
    if count != 1:
        from ..zoo.presets import PRESETS

        end = "\n}\n\n\ndef available("
        if name not in PRESETS or end not in text:
            raise RuntimeError(f"no registry entry {name!r} with a sha256 in {path}; add it by hand: {digest}")
        preset = PRESETS[name]
        entry = (
            f'\n    "{name}": ZooEntry(\n        repo_id="keras-spm/{name}",\n        revision=None,\n'
            f'        sha256="{digest}",\n        kind="{preset.family}.{preset.recipe.fit_model}",\n'
            f"        description={json.dumps(preset.description.rstrip('.'))},\n    ),"
        )
        new = text.replace(end, entry + end, 1)
    path.write_text(new)


def refresh_registry_entry(name: str, path: Path = ROOT / "keras_spm" / "zoo" / "registry.py") -> None:
    """Re-read entry ``name`` of ``registry.py`` into the loaded ``REGISTRY``: the module was imported before the
    file changed, and ``zoo.load`` verifies the shipped file against the in-memory checksum (a second promotion in
    one run, es run 10, died on the first one's stale checksum)."""
    from ..zoo import registry

    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    registry.REGISTRY[name] = registry.ZooEntry(**asdict(namespace["REGISTRY"][name]))


def _ensure_full_set(name: str) -> None:
    from ..data.sets import build_set, cache_dir

    if not (cache_dir() / f"{name}_train.npz").exists():
        print(f"building the full {name} molecule set (once)...", file=sys.stderr)
        build_set(name)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="training/campaign.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="an AFM zoo model: xyz, es, dsh_light, dsh_heavy")
    p.add_argument("--hours", type=float, default=1.0, help="training time of this call (evaluations included)")
    p.add_argument("--run", type=Path, default=None, help="run folder (default runs/campaign_<model>)")
    p.add_argument("--init", type=Path, default=None, help="start from this .keras file instead of the zoo weights")
    p.add_argument(
        "--from-twin",
        action="store_true",
        help="a new 6-slice run starts from its 10-slice twin's current zoo weights, transferred, not its own",
    )
    p.add_argument("--set", dest="set_name", default=None, help="molecule set (default: the preset's)")
    p.add_argument("--shipped-set", action="store_true", help="the set's shipped subset, not the full set")
    p.add_argument("--producers", type=int, default=1, help="simulation processes")
    p.add_argument("--producer-threads", type=int, default=2, help="OpenCL threads per producer")
    p.add_argument("--capacity", type=int, default=4000, help="samples kept in the replay buffer")
    p.add_argument("--replay-ratio", type=float, default=8.0, help="draws per simulated sample, at most")
    p.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="the trainer starts once the buffer has had this many samples (a new run's first draws are then varied)",
    )
    p.add_argument("--eval-minutes", type=float, default=15.0)
    p.add_argument(
        "--val-molecules",
        type=int,
        default=None,
        help="validation molecules of a new run (default 150); a resumed run keeps its own",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate of a new campaign")
    p.add_argument("--lr-now", type=float, default=None, help="set the learning rate of a resumed campaign")
    p.add_argument(
        "--plateau-evals",
        type=int,
        default=None,
        metavar="N",
        help="cut the learning rate by --plateau-factor after N evaluations in a row without a new best (kept by a "
        "resumed run; 0 turns it off)",
    )
    p.add_argument("--plateau-factor", type=float, default=0.3, help="rate cut of --plateau-evals")
    p.add_argument("--min-lr", type=float, default=1e-5, help="--plateau-evals never cuts the rate below this")
    p.add_argument(
        "--average",
        type=float,
        default=0.995,
        help="momentum of the weight average a new run evaluates and keeps (0: the raw weights)",
    )
    p.add_argument(
        "--warmup-steps", type=int, default=200, help="a new run ramps its learning rate up over this many batches"
    )
    p.add_argument(
        "--beta2",
        type=float,
        default=0.99,
        help="Adam's second-moment decay of a new run (a resumed run keeps its own). Keras' 0.999 averages over "
        "~1000 batches: es runs 6, 8 and 9 (0.999) rose 1-3 %% on validation for their first 0.5-1 h, run 10 (0.99) "
        "fell 2.4 %% in its first 0.75 h",
    )
    p.add_argument(
        "--es-scale",
        type=float,
        default=None,
        metavar="V_PER_A",
        help="ES models, new run: train and score on the ES map companded at this field (V/A; CompandedMSE), so the "
        "weak field near nodal lines, where the sign goes wrong, counts more than under plain MSE",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="training precision of a new run (keras_spm.precision): auto = mixed_bfloat16 where the CPU has native "
        "bf16, else float32; validation and the exported weights are float32 either way",
    )
    p.add_argument("--no-promote", action="store_true")
    p.add_argument(
        "--promote-every",
        type=float,
        default=None,
        metavar="HOURS",
        help="also promote during the run, at most this often, when the best checkpoint is new (commit the zoo file)",
    )
    p.add_argument("--promote-only", action="store_true", help="only compare best.keras with the zoo and export it")
    p.add_argument("--verbose", action="store_true", help="Keras progress lines")
    p.add_argument("--log-dir", type=Path, default=None, help="where campaign.csv/png go (default zoo/<model>)")
    args = p.parse_args(argv)
    if args.hours <= 0 and not args.promote_only:
        p.error("--hours must be > 0.")
    if args.plateau_evals is not None and (args.plateau_evals < 0 or not 0 < args.plateau_factor < 1):
        p.error("--plateau-evals needs N >= 0 and --plateau-factor in (0, 1).")
    if not 0 < args.beta2 < 1:
        p.error(f"--beta2 must be in (0, 1), got {args.beta2}.")
    if args.promote_every is not None and (args.no_promote or args.promote_every <= 0):
        p.error("--promote-every needs a positive number of hours and no --no-promote.")
    try:
        cm = campaign_model(args.model, args.set_name)
    except ValueError as err:
        p.error(str(err))
    if args.es_scale is not None and not (args.es_scale > 0 and "es" in cm.descriptors):
        p.error(
            f"--es-scale needs a positive field (V/A) and a model with an ES map; got {args.es_scale} for {cm.name}."
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.promote_only:
        cm = campaign_model(args.model, args.set_name, args.shipped_set)
        run = args.run or ROOT / "runs" / f"campaign_{cm.name}"
        return 0 if promote(cm, run, args.log_dir or ZOO / cm.name, args.lr) else 1
    return run_campaign(args)
