"""``tf.data`` pipeline of simulated AFM training data, made on the fly.

>>> from keras_spm.data import afm_dataset, load_set
>>> ds = afm_dataset(load_set("light", "train"), tips=("CO",), descriptors=("disks", "spheres", "height"),
...                  batch_size=32, seed=0)
>>> model.fit(ds, epochs=10)

Each element is ``(X, Y)``: X the stack, float32 (B, 128, 128, 10), for one tip, or a dict
keyed by tip name (``{"CO": ..., "Xe": ...}``, the ES model's inputs) for several; Y a dict of descriptor maps keyed by name, (B, 128, 128) for image
maps and (B, 16, 16, 4) for "xyz". Simulation runs in worker processes
(:class:`~keras_spm.data.samples.WorkerPool`); sample i of epoch e uses the seed
``SeedSequence([seed, e, i])`` and epoch e's order is a seeded permutation, so the same seed
gives the same batches whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..molecules import Molecule, MoleculeError, diameter, validate
from ..sim.afm import ASD_AFM, SimulationSettings
from .samples import SampleMaker, SampleSpec, WorkerPool


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample ``index`` in ``epoch``: independent streams from numpy's SeedSequence."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1, dtype=np.uint64)[0])


def check_molecules(molecules: Sequence[Molecule], settings: SimulationSettings = ASD_AFM) -> None:
    """Fail early, naming the molecule, if any cannot be simulated in every orientation."""
    if len(molecules) == 0:
        raise ValueError("no molecules given: the dataset would be empty.")
    (x0, y0, _), (x1, y1, _) = settings.scan_window
    room = min(x1 - x0, y1 - y0) - 2 * settings.margin
    for mol in molecules:
        if not isinstance(mol, Molecule):
            raise TypeError(f"expected keras_spm.molecules.Molecule objects, got {type(mol).__name__}.")
        validate(mol)
        span = diameter(mol.positions)
        if span > room:
            raise MoleculeError(
                f"molecule '{mol.name}' is {span:.1f} Angstrom across, larger than the {room:.1f} Angstrom the scan "
                "window holds in every orientation; drop it or enlarge settings.scan_window."
            )


class AFMSampleStream:
    """Epoch-wise, seeded, ordered stream of samples made by worker processes."""

    def __init__(
        self,
        molecules: Sequence[Molecule],
        spec: SampleSpec,
        seed: int = 0,
        workers: int = 2,
        shuffle: bool = True,
        vary_epochs: bool = True,
    ):
        check_molecules(molecules, spec.settings)
        self.vary_epochs = vary_epochs
        self.molecules = list(molecules)
        self.spec = spec
        self.seed = seed
        self.workers = workers
        self.shuffle = shuffle
        self.epoch = 0
        self._pool = None
        self._local = None
        self._running = None  # the pool's pass, kept open across epochs
        self._cursor = None  # (epoch, samples given) the running pass is at

    def tasks(self, epoch: int):
        order = np.arange(len(self.molecules))
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(order)
        for i, m in enumerate(order):
            yield self.molecules[m], sample_seed(self.seed, epoch, i)

    def samples(self, epoch: int):
        if self.workers == 0:
            if self._local is None:
                self._local = SampleMaker(self.spec)
            for mol, s in self.tasks(epoch):
                yield self._local(mol, s)
            return
        if self._pool is None:
            self._pool = WorkerPool(self.spec, self.workers)
        # One pass of the pool runs on from epoch to epoch, so the workers start the next epoch's samples while the
        # last ones of this epoch are still being consumed: no idle workers at every epoch boundary. An epoch that
        # was abandoned part-way (or a jump in epochs) starts a fresh pass, so epoch e always gets its own samples.
        if self._cursor != (epoch, 0):
            if self._running is not None:
                self._running.close()
            self._running = self._pool.map(self._tasks_from(epoch))
        self._cursor = (epoch, None)
        for _ in range(len(self.molecules)):
            yield next(self._running)
        self._cursor = (epoch + 1 if self.vary_epochs else epoch, 0)

    def _tasks_from(self, epoch: int):
        while True:
            yield from self.tasks(epoch)
            epoch += self.vary_epochs

    def __call__(self):
        """Generator of one epoch of flat ``(x..., y...)`` tuples for ``tf.data.Dataset.from_generator``."""
        epoch = self.epoch
        self.epoch += self.vary_epochs
        for xs, ys in self.samples(epoch):
            yield tuple(xs[t] for t in self.spec.tips) + tuple(ys[d] for d in self.spec.descriptors)

    def close(self):
        if self._running is not None:
            self._running.close()
            self._running = None
            self._cursor = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def no_autotune():
    """tf.data options without the autotuning thread.

    Measured here (TensorFlow 2.21, one iterator per epoch as in ``model.fit`` and ``for batch in ds``): with the
    autotuner on, 2 of 6 epochs of ~10 s ended 10.24 s after their last batch, the workers idle meanwhile; 10.24 s is
    the autotuner's wake-up interval after ten doublings from 10 ms (its thread lives as long as the iterator). With it
    off, 0 of 7. The buffer sizes here are fixed, so there is nothing for it to tune.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def to_dataset(generator, spec: SampleSpec, batch_size: int, drop_remainder: bool = False):
    """Wrap a flat-tuple generator into a batched ``(X, Y)`` tf.data.Dataset."""
    import tensorflow as tf

    xs, ys = spec.shapes()
    signature = tuple(tf.TensorSpec(xs[t], tf.float32) for t in spec.tips) + tuple(
        tf.TensorSpec(ys[d], tf.float32) for d in spec.descriptors
    )
    n_tips = len(spec.tips)

    def structure(*flat):
        x = flat[0] if n_tips == 1 else {t: flat[i] for i, t in enumerate(spec.tips)}
        return x, {d: flat[n_tips + i] for i, d in enumerate(spec.descriptors)}

    ds = tf.data.Dataset.from_generator(generator, output_signature=signature)
    ds = ds.map(structure).batch(batch_size, drop_remainder=drop_remainder).prefetch(2)
    return ds.with_options(no_autotune())


def afm_dataset(
    molecules: Sequence[Molecule],
    tips: Sequence[str] = ("CO",),
    descriptors: Sequence[str] = ("disks", "spheres", "height"),
    batch_size: int = 32,
    seed: int = 0,
    workers: int = 2,
    augmentation: str | None = "asd-afm",
    shuffle: bool = True,
    n_best_rotations: int = 10,
    settings: SimulationSettings = ASD_AFM,
    drop_remainder: bool = False,
    vary_epochs: bool = True,
):
    """A ``tf.data.Dataset`` of ``(X, Y)`` batches simulated on the fly (one pass = one epoch).

    ``augmentation`` names a recipe of :data:`keras_spm.data.augment.AUGMENTATIONS` (``None``: raw
    stacks, as simulated).

    ``vary_epochs=False`` repeats the same samples every pass (validation data; add ``.cache()``).

    ``workers=0`` simulates in this process (then call :func:`keras_spm.sim.init_opencl` before
    importing TensorFlow if your OpenCL runtime is pocl). The worker processes live as long as
    the dataset; ``dataset.stream.close()`` ends them early.
    """
    spec = SampleSpec(tuple(tips), tuple(descriptors), settings, n_best_rotations, augmentation)
    stream = AFMSampleStream(molecules, spec, seed, workers, shuffle, vary_epochs)
    ds = to_dataset(stream, spec, batch_size, drop_remainder)
    ds.stream = stream
    return ds
