import numpy as np
import pytest

from keras_spm.data.samples import SampleSpec, WorkerError, WorkerPool, simulate_batch

SPEC = SampleSpec(("CO",), (), augmentation=None)


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(SPEC, n_workers=1, depth=3) as p:
        yield p


def first_stack(pool, tasks):
    return next(iter(pool.map(tasks)))[0]["CO"]


def test_an_abandoned_pass_never_leaks_into_the_next(pool, small_molecules):
    a = [(m, 10 + i) for i, m in enumerate(small_molecules[:3])]
    b = [(m, 20 + i) for i, m in enumerate(small_molecules[1:4])]
    expected_b = first_stack(pool, b)

    old = pool.map(a)
    next(old)  # two more of pass a are in flight and are never read
    np.testing.assert_array_equal(first_stack(pool, b), expected_b)  # old pass not even finalised yet
    old.close()
    np.testing.assert_array_equal(first_stack(pool, b), expected_b)


def test_results_come_in_task_order_with_two_workers(small_molecules):
    spec = SampleSpec(("CO",), ("height",), augmentation=None)
    xs, ys = simulate_batch(small_molecules[:4], spec, seed=5, workers=2)
    again, _ = simulate_batch(small_molecules[:4][::-1], spec, seed=5, workers=1)
    assert xs["CO"].shape == (4, 128, 128, 10) and ys["height"].shape == (4, 128, 128)
    # molecule i gets seed 5 + i: reversing the list changes which seed each molecule gets, not the order
    assert not np.allclose(xs["CO"][0], again["CO"][3])
    same, _ = simulate_batch(small_molecules[:4], spec, seed=5, workers=1)
    np.testing.assert_array_equal(xs["CO"], same["CO"])


def test_a_failing_sample_names_the_molecule(pool, small_molecules):
    from keras_spm.molecules import Molecule

    wide = Molecule([6, 6], [[0, 0, 0], [15.0, 0, 0]], None, "too wide")
    with pytest.raises(WorkerError, match="too wide.*scan window holds"):
        list(pool.map([(small_molecules[0], 1), (wide, 2)]))
    assert first_stack(pool, [(small_molecules[0], 1)]).shape == (128, 128, 10)  # the pool still works
