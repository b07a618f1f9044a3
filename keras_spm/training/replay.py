"""A bounded on-disk replay buffer of simulated AFM samples, filled by producer processes and read by a trainer.

Simulation (~2.5 stacks/s on 2 CPU cores) is an order of magnitude slower than training DSH or xyz (~30
samples/s), so a campaign keeps the simulator busy without pause and lets the trainer draw each stored sample
several times, each time with a fresh random augmentation, while new molecules keep arriving (the replay idea of
off-policy RL, used here for supervised data). Samples are stored *unaugmented*; the trainer augments them.

Layout of a buffer folder::

    spec.json                    tips, descriptors, simulation settings key, capacity
    samples/<producer>-<n>.npz   one sample: x_<tip> stacks, y_<descriptor> maps, the molecule's name
    producers/<producer>.json    per producer: molecules simulated so far, its position in its molecule order

Every file is written to a temporary name and moved into place, so a reader never sees half a sample and a
producer killed with ``kill -9`` loses at most the sample it was making; restarted with the same ``--shard``, it
goes on where its ``producers/*.json`` says. The oldest samples are deleted once the buffer holds more than its
capacity. Producers on other machines can fill the same folder on a shared file system (``--shard K/N`` each).

    python -m keras_spm.training.replay --buffer runs/campaign_xyz/buffer --set light --full \\
        --tips CO --descriptors xyz --shard 0/1

This module must not import TensorFlow (producers initialise OpenCL first).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .runs import read_json, write_json

SPEC_FILE = "spec.json"


class ReplayBufferError(RuntimeError):
    """The buffer folder is missing, empty or holds samples of another kind."""


class ReplayBuffer:
    """The on-disk buffer: producers :meth:`add` samples, the trainer :meth:`draw` s them at random.

    ``capacity`` bounds the number of stored samples (about 0.7 MB each for one 128x128x10 stack).
    """

    def __init__(
        self, folder: str | Path, tips: Sequence[str], descriptors: Sequence[str], capacity: int = 5000
    ) -> None:
        self.folder = Path(folder)
        self.tips = tuple(tips)
        self.descriptors = tuple(descriptors)
        self.capacity = int(capacity)
        if self.capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}.")
        (self.folder / "samples").mkdir(parents=True, exist_ok=True)
        (self.folder / "producers").mkdir(exist_ok=True)
        spec = {"tips": list(self.tips), "descriptors": list(self.descriptors)}
        old = read_json(self.folder / SPEC_FILE)
        if old and {k: old.get(k) for k in spec} != spec:
            raise ReplayBufferError(
                f"{self.folder} holds samples with tips {old.get('tips')} and descriptors {old.get('descriptors')}, "
                f"not {spec['tips']} / {spec['descriptors']}; use another buffer folder."
            )
        write_json(self.folder / SPEC_FILE, {**spec, "capacity": self.capacity})
        self._listing: list[Path] = []
        self._listed_at = -1e9

    # ---- producer side ---------------------------------------------------------------------------------------

    def add(self, producer: str, index: int, xs: dict, ys: dict, name: str = "") -> Path:
        """Store one sample (``xs[tip]`` stacks, ``ys[descriptor]`` maps) atomically; evict the oldest if full."""
        missing = [t for t in self.tips if t not in xs] + [d for d in self.descriptors if d not in ys]
        if missing:
            raise ValueError(f"sample lacks {missing}; this buffer stores tips {self.tips} and {self.descriptors}.")
        path = self.folder / "samples" / f"{producer}-{index:09d}.npz"
        tmp = path.with_name(path.stem + ".tmp.npz")
        arrays = {f"x_{t}": np.asarray(xs[t], np.float32) for t in self.tips}
        arrays.update({f"y_{d}": np.asarray(ys[d], np.float32) for d in self.descriptors})
        np.savez(tmp, name=np.array(name), **arrays)
        os.replace(tmp, path)
        self.evict()
        return path

    def evict(self) -> int:
        """Delete the oldest samples (by modification time) beyond the capacity; returns how many went."""
        files = self.files(refresh=True)
        extra = len(files) - self.capacity
        if extra <= 0:
            return 0
        for path in sorted(files, key=_mtime)[:extra]:
            path.unlink(missing_ok=True)
        self._listed_at = -1e9
        return extra

    # ---- trainer side ----------------------------------------------------------------------------------------

    def files(self, refresh: bool = False, max_age: float = 5.0) -> list[Path]:
        """The stored samples (listing cached for ``max_age`` seconds unless ``refresh``)."""
        now = time.monotonic()
        if refresh or now - self._listed_at > max_age:
            self._listing = [p for p in (self.folder / "samples").glob("*.npz") if not p.name.endswith(".tmp.npz")]
            self._listed_at = now
        return self._listing

    def molecules_simulated(self) -> int:
        """Samples made by all producers since the buffer was created (stored or already evicted)."""
        return sum(int(read_json(p).get("made", 0)) for p in (self.folder / "producers").glob("*.json"))

    def load(self, path: Path) -> tuple[dict, dict] | None:
        """One stored sample, or ``None`` if it was evicted meanwhile or is unreadable."""
        try:
            with np.load(path) as data:
                xs = {t: data[f"x_{t}"] for t in self.tips}
                ys = {d: data[f"y_{d}"] for d in self.descriptors}
        except (FileNotFoundError, OSError, KeyError, ValueError):
            return None
        return xs, ys

    def draw(self, rng: np.random.Generator, wait: float = 600.0) -> tuple[dict, dict]:
        """A uniformly random stored sample; waits up to ``wait`` seconds for the first one to arrive."""
        deadline = time.monotonic() + wait
        while True:
            files = self.files()
            if files:
                sample = self.load(files[rng.integers(len(files))])
                if sample is not None:
                    return sample
                self._listed_at = -1e9
                continue
            if time.monotonic() > deadline:
                raise ReplayBufferError(
                    f"no sample arrived in {self.folder / 'samples'} within {wait:.0f} s: are its producers running? "
                    "(python -m keras_spm.training.replay --buffer ...)"
                )
            time.sleep(1.0)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def producer_order(n_molecules: int, shard: int, n_shards: int, seed: int, cycle: int) -> np.ndarray:
    """The molecule indices producer ``shard`` of ``n_shards`` visits in pass ``cycle``: its share, shuffled."""
    mine = np.arange(shard, n_molecules, n_shards)
    return np.random.default_rng([seed, shard, cycle]).permutation(mine)


def produce(
    buffer: ReplayBuffer,
    molecules: Sequence | dict[str, Sequence],
    spec,
    shard: int = 0,
    n_shards: int = 1,
    seed: int = 0,
    limit: int | None = None,
    hours: float | None = None,
    progress: bool = True,
    parent_pid: int | None = None,
) -> int:
    """Simulate molecules into ``buffer`` until ``limit`` samples or ``hours`` pass (``None``: forever).

    ``molecules`` is one list, or several by set name (``{"light": [...], "planar": [...]}``): then each sample
    comes from a set drawn uniformly, so a small set of large molecules is not drowned by a big one. Resumes
    from ``producers/<shard>-of-<n>.json`` (per set: pass number and position in that pass's molecule order),
    so a restarted producer goes on with new molecules instead of repeating the first ones. Each sample's seed
    (rotation, tip distance and tilt) comes from ``(seed, shard, made)``. With ``parent_pid`` it stops once that
    process is gone (a campaign killed with ``kill -9`` leaves no orphan simulating for nobody). Returns the
    samples made in this call.
    """
    from ..data.samples import SampleMaker

    if not 0 <= shard < n_shards:
        raise ValueError(f"shard must be in [0, {n_shards}), got {shard}.")
    sets = dict(molecules) if isinstance(molecules, dict) else {"molecules": list(molecules)}
    empty = [k for k, v in sets.items() if len(v) == 0]
    if empty or not sets:
        raise ValueError(f"no molecules to simulate in {empty or 'any set'}.")
    name = f"{shard}-of-{n_shards}"
    state_path = buffer.folder / "producers" / f"{name}.json"
    state = read_json(state_path, {"made": 0})
    cursors = state.setdefault("cursors", {})
    for key in sets:
        cursors.setdefault(key, {"cycle": 0, "position": 0})
    maker = SampleMaker(spec)
    deadline = None if hours is None else time.monotonic() + hours * 3600
    made = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=limit, desc=f"producer {name}", unit="stack", file=sys.stderr, mininterval=30)
    keys = sorted(sets)
    while (limit is None or made < limit) and (deadline is None or time.monotonic() < deadline):
        if parent_pid is not None and os.getppid() != parent_pid:
            break
        rng = np.random.default_rng([seed, shard, state["made"]])
        key = keys[rng.integers(len(keys))]
        cursor = cursors[key]
        order = producer_order(len(sets[key]), shard, n_shards, seed, cursor["cycle"])
        if cursor["position"] >= len(order):
            cursor.update(cycle=cursor["cycle"] + 1, position=0)
            continue
        molecule = sets[key][order[cursor["position"]]]
        sample_seed = int(rng.integers(2**63))
        try:
            xs, ys = maker(molecule, sample_seed)
        except Exception as err:  # one molecule ppafm cannot simulate must not stop a campaign
            print(f"producer {name}: skipped '{molecule.name}': {type(err).__name__}: {err}", file=sys.stderr)
        else:
            buffer.add(name, state["made"], xs, ys, molecule.name)
            state["made"] += 1
            made += 1
            if bar is not None:
                bar.update(1)
        cursor["position"] += 1
        write_json(state_path, state)
    if bar is not None:
        bar.close()
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keras_spm.training.replay", description=__doc__.splitlines()[0])
    parser.add_argument("--buffer", type=Path, required=True)
    parser.add_argument("--set", dest="set_name", default="light", help="molecule set(s): light, heavy, planar, ...")
    parser.add_argument("--elements", default=None, help="keep only molecules of this set's elements (light)")
    parser.add_argument("--full", action="store_true", help="the full molecule set (built on first use)")
    parser.add_argument("--tips", default="CO")
    parser.add_argument("--descriptors", default="xyz")
    parser.add_argument("--capacity", type=int, default=5000)
    parser.add_argument("--shard", default="0/1", help="K/N: this producer simulates molecules K, K+N, ...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="stop after this many samples")
    parser.add_argument("--hours", type=float, default=None, help="stop after this many hours")
    parser.add_argument("--parent-pid", type=int, default=None, help="stop when this process (a campaign) is gone")
    args = parser.parse_args(argv)
    try:
        shard, n_shards = (int(v) for v in args.shard.split("/"))
    except ValueError:
        parser.error(f"--shard {args.shard!r}: expected K/N, e.g. 0/4.")
    from dataclasses import replace

    from ..data.samples import SampleSpec
    from ..data.sets import SET_ELEMENTS, load_set, only_elements
    from ..sim.afm import ASD_AFM

    tips, descriptors = tuple(args.tips.split(",")), tuple(d for d in args.descriptors.split(",") if d)
    spec = SampleSpec(tips, descriptors, replace(ASD_AFM), augmentation=None)
    molecules = {name: load_set(name, "train", full=args.full) for name in args.set_name.split(",")}
    if args.elements:
        molecules = {k: only_elements(v, SET_ELEMENTS[args.elements]) for k, v in molecules.items()}
    buffer = ReplayBuffer(args.buffer, tips, descriptors, args.capacity)
    made = produce(buffer, molecules, spec, shard, n_shards, args.seed, args.limit, args.hours, True, args.parent_pid)
    print(json.dumps({"made": made, "molecules_simulated": buffer.molecules_simulated()}))
    return 0


def iterate(buffer: ReplayBuffer, augment, seed: int) -> Iterator[tuple[dict, dict]]:
    """Endless random draws from ``buffer``, each augmented with ``augment(stack, rng)`` (``None``: as stored)."""
    rng = np.random.default_rng(seed)
    while True:
        xs, ys = buffer.draw(rng)
        if augment is not None:
            xs = {t: augment(x, rng) for t, x in xs.items()}
        yield xs, ys


if __name__ == "__main__":
    sys.exit(main())
