"""Making one labelled AFM sample, and a pool of clean worker processes that make many.

A sample is a randomly chosen good rotation of a molecule (ASD-AFM: one of its
``n_best`` flattest orientations), simulated with each tip, plus its descriptor maps.
All randomness comes from one per-sample seed, so the same seed gives the same sample
whichever worker makes it.

Workers are fresh interpreters (``python -m keras_spm.data.worker``) that initialise
OpenCL before anything else: Debian's pocl crashes in a process that imported
TensorFlow first, and a fresh interpreter never inherits the parent's TensorFlow.
This module must not import TensorFlow.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..molecules import Molecule, best_rotations
from ..sim.afm import ASD_AFM, TIPS, SimulationSettings
from .augment import AUGMENTATIONS

IMAGE_DESCRIPTORS = ("disks", "spheres", "height", "es")
ALL_DESCRIPTORS = IMAGE_DESCRIPTORS + ("xyz",)


@dataclass(frozen=True)
class SampleSpec:
    """What a sample holds: tips simulated, descriptors computed, rotations, augmentation."""

    tips: tuple[str, ...] = ("CO",)
    descriptors: tuple[str, ...] = ("disks", "spheres", "height")
    settings: SimulationSettings = field(default_factory=lambda: ASD_AFM)
    n_best_rotations: int = 10
    augmentation: str | None = "asd-afm"  # a recipe of keras_spm.data.augment.AUGMENTATIONS; None: raw stacks

    def __post_init__(self):
        object.__setattr__(self, "tips", tuple(self.tips))
        object.__setattr__(self, "descriptors", tuple(self.descriptors))
        bad_tips = [t for t in self.tips if t not in TIPS]
        if bad_tips or not self.tips:
            raise ValueError(f"unknown tip(s) {bad_tips or list(self.tips)}; available: {', '.join(TIPS)}.")
        bad = [d for d in self.descriptors if d not in ALL_DESCRIPTORS]
        if bad:
            raise ValueError(f"unknown descriptor(s) {bad}; available: {', '.join(ALL_DESCRIPTORS)}.")
        if self.augmentation is not None and self.augmentation not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation '{self.augmentation}'; available: {', '.join(AUGMENTATIONS)}.")
        if len(set(self.descriptors)) != len(self.descriptors):
            raise ValueError(f"descriptor names repeat: {list(self.descriptors)}.")

    def shapes(self) -> tuple[dict[str, tuple], dict[str, tuple]]:
        """Per-sample shapes of the stacks (by tip) and of the descriptors (by name)."""
        image = self.settings.image_shape
        xs = {t: image for t in self.tips}
        ys = {d: ((16, 16, 4) if d == "xyz" else image[:2]) for d in self.descriptors}
        return xs, ys


class SampleMaker:
    """Makes samples in this process (OpenCL is initialised on construction)."""

    def __init__(self, spec: SampleSpec):
        from ..sim.afm import AFMSimulator

        self.spec = spec
        self.simulator = AFMSimulator(spec.tips, spec.settings)
        self._maps = None
        images = [d for d in spec.descriptors if d in IMAGE_DESCRIPTORS]
        if images:
            from ..descriptors import DescriptorMaker

            self._maps = DescriptorMaker(images, spec.settings)

    def __call__(self, molecule: Molecule, seed: int) -> tuple[dict, dict]:
        rng = np.random.default_rng(seed)
        rotations = best_rotations(molecule, self.spec.n_best_rotations)
        molecule = molecule.rotated(rotations[rng.integers(len(rotations))])
        stacks = self.simulator.simulate(molecule, rng)
        ys = dict(self._maps(self.simulator)) if self._maps else {}
        if "xyz" in self.spec.descriptors:
            from ..descriptors import encode_xyz

            ys["xyz"] = encode_xyz(self.simulator.label_molecule, self.spec.settings)
        if self.spec.augmentation is not None:
            augment = AUGMENTATIONS[self.spec.augmentation]
            stacks = {t: augment(x, rng) for t, x in stacks.items()}
        ys = {d: np.asarray(ys[d], dtype=np.float32) for d in self.spec.descriptors}
        return stacks, ys


# ---- worker processes -------------------------------------------------------------------------------------------


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=5)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def _read_exact(stream, size: int) -> bytes:
    """``size`` bytes from a (possibly raw, unbuffered) stream; fewer only at end of file."""
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _receive(stream):
    header = _read_exact(stream, 8)
    if len(header) < 8:
        raise EOFError("worker stream closed")
    (size,) = struct.unpack("<Q", header)
    data = _read_exact(stream, size)
    if len(data) < size:
        raise EOFError("worker stream closed mid-message")
    return pickle.loads(data)


class WorkerError(RuntimeError):
    """A simulation worker failed; the message carries its error."""


class WorkerPool:
    """``n`` simulation worker processes; :meth:`map` returns results in task order.

    Up to ``depth`` tasks per worker are in flight, so simulation overlaps with whatever consumes
    the results. A new task goes to the worker with the fewest tasks in flight as soon as it
    replies (not round-robin): one slow sample (a large molecule) then holds up only its own
    worker, never the other, which keeps working ahead. Results are put back in task order, so
    the same tasks give the same stream whatever the number of workers. :meth:`imap_unordered`
    yields them as they come (for producers whose order does not matter). With several workers
    each gets ``cpu_count // n_workers`` OpenCL threads unless ``threads_per_worker`` says
    otherwise.
    """

    def __init__(self, spec: SampleSpec, n_workers: int = 2, depth: int = 2, threads_per_worker: int | None = None):
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1, got {n_workers}.")
        self.spec = spec
        self.depth = depth
        self._inflight: list[deque[int]] = [deque() for _ in range(n_workers)]  # pass number of each task sent
        self._passes = 0
        self._lock = threading.RLock()
        env = dict(os.environ)
        if threads_per_worker is None and n_workers > 1:
            # The CPU OpenCL runtimes use every core in each process: share the cores instead of oversubscribing.
            threads_per_worker = max(1, (os.cpu_count() or 1) // n_workers)
        if threads_per_worker:
            # Intel's CPU runtime uses TBB, pocl its pthreads: cap both.
            env["CL_CONFIG_CPU_TBB_NUM_WORKERS"] = str(threads_per_worker)
            env["POCL_MAX_PTHREAD_COUNT"] = str(threads_per_worker)
            env["POCL_CPU_MAX_CU_NUM"] = str(threads_per_worker)
        self._procs = []
        for _ in range(n_workers):
            proc = subprocess.Popen(
                [sys.executable, "-m", "keras_spm.data.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                bufsize=0,  # raw pipes: select() then sees exactly what is unread
            )
            _send(proc.stdin, spec)
            self._procs.append(proc)
        for worker in range(n_workers):  # wait for OpenCL to come up, surfacing its errors
            self._check(self._receive_from(worker))

    @staticmethod
    def _check(reply):
        status, payload = reply
        if status == "error":
            raise WorkerError(payload)
        return payload

    def map(self, tasks: Iterable[tuple[Molecule, int]]) -> Iterator[tuple[dict, dict]]:
        """Yield samples for ``(molecule, seed)`` tasks, in task order.

        A pass that is abandoned part-way (Keras stopping an epoch early, an exception) leaves
        replies in the pipes; they are discarded when it is closed or, at the latest, when the
        next pass starts, so a pass never receives another pass's samples.
        """
        done: dict[int, tuple] = {}
        next_out = 0
        for index, reply in self._run(tasks):
            done[index] = reply
            while next_out in done:
                yield self._check(done.pop(next_out))
                next_out += 1

    def imap_unordered(self, tasks: Iterable[tuple[Molecule, int]]) -> Iterator[tuple[dict, dict]]:
        """Yield samples as the workers finish them; a failed sample raises :class:`WorkerError`."""
        for _, reply in self._run(tasks):
            yield self._check(reply)

    def _run(self, tasks: Iterable[tuple[Molecule, int]]) -> Iterator[tuple[int, tuple]]:
        """Dispatch tasks to free workers and yield ``(task index, reply)`` as replies arrive.

        At most ``depth`` tasks per worker are in flight; :meth:`map`'s reorder buffer holds only
        what the other workers finish while the sample at its head is still being made.
        """
        with self._lock:
            self._drain()  # leftovers of a pass abandoned but not yet finalised
            self._passes += 1
            this = self._passes
        tasks = iter(tasks)
        sent = 0
        owner: dict[int, deque[int]] = {w: deque() for w in range(len(self._procs))}  # task indices per worker
        exhausted = False
        try:
            while True:
                with self._lock:
                    while not exhausted:
                        worker = min(range(len(self._procs)), key=lambda w: len(self._inflight[w]))
                        if len(self._inflight[worker]) >= self.depth:
                            break
                        try:
                            task = next(tasks)
                        except StopIteration:
                            exhausted = True
                            break
                        _send(self._procs[worker].stdin, ("sample", task))
                        self._inflight[worker].append(this)
                        owner[worker].append(sent)
                        sent += 1
                    busy = [w for w in owner if owner[w]]
                    if not busy:
                        return
                    ready, _, _ = select.select([self._procs[w].stdout for w in busy], [], [])
                    replies = []
                    for w in busy:
                        if self._procs[w].stdout in ready:
                            reply = self._receive_from(w)
                            self._inflight[w].popleft()
                            replies.append((owner[w].popleft(), reply))
                yield from replies
        finally:
            with self._lock:
                self._drain(this)

    def _receive_from(self, worker: int):
        try:
            return _receive(self._procs[worker].stdout)
        except EOFError:
            code = self._procs[worker].poll()
            raise WorkerError(f"simulation worker {worker} died (exit code {code}).") from None

    def _drain(self, only_pass: int | None = None) -> None:
        """Read and drop replies in flight (all, or those of one pass at the head of each worker's queue)."""
        for worker, queue in enumerate(self._inflight):
            while queue and (only_pass is None or queue[0] == only_pass):
                queue.popleft()
                try:
                    self._receive_from(worker)
                except WorkerError:
                    queue.clear()

    def close(self) -> None:
        """Stop the workers at once (pending work is dropped)."""
        for proc in self._procs:
            try:
                _send(proc.stdin, ("stop", None))
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
        for proc in self._procs:
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self._procs = []
        for queue in self._inflight:
            queue.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_procs", None):
            self.close()


def worker_main() -> None:
    """Worker loop: read the spec, initialise OpenCL, then answer sample requests until 'stop'."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # keep library prints off the result channel
    spec = _receive(stdin)
    try:
        maker = SampleMaker(spec)
        _send(stdout, ("ok", str(maker.simulator.device)))
    except Exception as err:
        _send(stdout, ("error", f"{type(err).__name__}: {err}"))
        return
    trace = os.environ.get("KERAS_SPM_WORKER_TRACE")  # a file: one "pid start end" line per sample (benchmarks)
    while True:
        try:
            kind, task = _receive(stdin)
        except EOFError:
            return
        if kind == "stop":
            return
        start = time.time()
        try:
            molecule, seed = task
            reply = ("ok", maker(molecule, seed))
        except Exception as err:
            reply = ("error", f"{type(err).__name__} for molecule '{task[0].name}': {err}")
        if trace:
            with open(trace, "a") as f:
                f.write(f"{os.getpid()} {start:.4f} {time.time():.4f}\n")
        _send(stdout, reply)


def simulate_batch(
    molecules: list[Molecule], spec: SampleSpec, seed: int = 0, workers: int = 2
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Simulate one sample per molecule (seed ``seed + i`` for molecule i) into stacked arrays.

    Returns ``({tip: (n, 128, 128, 10)}, {descriptor: (n, ...)})``; for evaluation sets.
    """
    with WorkerPool(spec, n_workers=max(1, min(workers, len(molecules)))) as pool:
        samples = list(pool.map([(m, seed + i) for i, m in enumerate(molecules)]))
    xs = {t: np.stack([s[0][t] for s in samples]) for t in spec.tips}
    ys = {d: np.stack([s[1][d] for s in samples]) for d in spec.descriptors}
    return xs, ys
