import numpy as np
import pytest

from keras_spm.data import afm_dataset
from keras_spm.molecules import Molecule, MoleculeError


def batches(ds):
    return [
        (
            x.numpy() if not isinstance(x, dict) else {k: v.numpy() for k, v in x.items()},
            {k: v.numpy() for k, v in y.items()},
        )
        for x, y in ds
    ]


@pytest.fixture(scope="module")
def two_epochs(small_molecules):
    ds = afm_dataset(small_molecules[:3], descriptors=("disks", "height"), batch_size=2, seed=7, workers=1)
    out = batches(ds), batches(ds)
    ds.stream.close()
    return out


def test_batches_are_ready_for_fit(two_epochs):
    first, _ = two_epochs
    assert [x.shape for x, _ in first] == [(2, 128, 128, 10), (1, 128, 128, 10)]
    for x, y in first:
        assert set(y) == {"disks", "height"} and y["disks"].shape == (x.shape[0], 128, 128)
        assert x.dtype == np.float32 and np.isfinite(x).all()
        # ASD-AFM preprocessing: per-slice standardised before noise and cutouts
        assert abs(float(x.mean())) < 0.2 and 0.7 < float(x.std()) < 1.3
        assert y["height"].min() >= 0 and y["disks"].max() > 0.5


def test_same_seed_same_batches_whatever_the_workers(small_molecules, two_epochs):
    first, second = two_epochs
    ds = afm_dataset(small_molecules[:3], descriptors=("disks", "height"), batch_size=2, seed=7, workers=2)
    again = batches(ds)
    ds.stream.close()
    for (xa, ya), (xb, yb) in zip(first, again, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya["disks"], yb["disks"])
    assert not np.array_equal(first[0][0], second[0][0])  # a new epoch draws new rotations/noise


def test_epochs_run_on_in_one_pass_yet_each_epoch_gets_its_own_samples(small_molecules, two_epochs):
    """The workers start epoch 2 while epoch 1 is consumed; epoch 2 is still what a fresh stream gives it."""
    _, second = two_epochs
    ds = afm_dataset(small_molecules[:3], descriptors=("disks", "height"), batch_size=2, seed=7, workers=2)
    ds.stream.epoch = 1  # what training/fit.py does on resume: start at epoch 2 directly
    fresh = batches(ds)
    next(iter(ds))  # epoch 3 abandoned after one batch...
    ds.stream.epoch = 1
    again = batches(ds)  # ...and epoch 2 asked for again: a new pass, the same samples
    ds.stream.close()
    for (xa, _), (xb, _), (xc, _) in zip(second, fresh, again, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(xa, xc)


def test_another_seed_gives_other_batches(small_molecules, two_epochs):
    ds = afm_dataset(small_molecules[:3], descriptors=("disks", "height"), batch_size=2, seed=8, workers=1)
    other = batches(ds)
    ds.stream.close()
    assert not np.array_equal(other[0][0], two_epochs[0][0][0])


def test_two_tips_and_xyz(small_molecules):
    ds = afm_dataset(
        small_molecules[:2],
        tips=("CO", "Xe"),
        descriptors=("es", "height", "xyz"),
        batch_size=2,
        seed=0,
        workers=1,
        augmentation=None,
    )
    ((x, y),) = batches(ds)
    ds.stream.close()
    assert isinstance(x, dict) and {k: v.shape for k, v in x.items()} == {
        "CO": (2, 128, 128, 10),
        "Xe": (2, 128, 128, 10),
    }
    assert not np.allclose(x["CO"], x["Xe"])  # the CO and Xe stacks differ
    assert y["xyz"].shape == (2, 16, 16, 4) and y["es"].shape == (2, 128, 128)
    assert set(np.unique(y["xyz"][..., 0])) <= {0.0, 1.0} and y["xyz"][..., 0].sum() >= 2


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"descriptors": ("disks", "bonds")}, ValueError, "unknown descriptor.*bonds.*available"),
        ({"tips": ("Pt",)}, ValueError, "unknown tip.*Pt.*available"),
    ],
)
def test_bad_arguments(small_molecules, kwargs, error, match):
    with pytest.raises(error, match=match):
        afm_dataset(small_molecules[:1], **kwargs)


def test_bad_molecules():
    with pytest.raises(ValueError, match="no molecules"):
        afm_dataset([])
    chain = Molecule([6] * 14, [[1.5 * i, 0, 0] for i in range(14)], None, "long chain")
    with pytest.raises(MoleculeError, match="long chain.*19.5 Angstrom across"):
        afm_dataset([chain])
    with pytest.raises(MoleculeError, match="NaN"):
        Molecule([6, 1], [[0, 0, 0], [np.nan, 0, 0]], None, "bad")
    # Molecule accepts Au (ppafm simulates it), the training data take only the zoo's elements.
    with pytest.raises(MoleculeError, match="unsupported element.*Z=79 \\(Au\\).*supported: H, C"):
        afm_dataset([Molecule([6, 79], [[0, 0, 0], [2, 0, 0]], None)])
    with pytest.raises(MoleculeError, match="empty"):
        Molecule([], np.zeros((0, 3)), None)


def test_no_autotuner_to_stall_epoch_ends(small_molecules):
    # The autotuner's doubling sleep (up to 10.24 s) held up every iterator's destruction, i.e. every epoch's end.
    ds = afm_dataset(small_molecules[:1], batch_size=1, workers=1)
    assert ds.options().autotune.enabled is False
    ds.stream.close()
