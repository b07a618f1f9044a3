import numpy as np
import pytest

from keras_spm.data.augment import AUGMENTATIONS, asd_afm_augment, random_erasing, shift_slices
from keras_spm.data.samples import SampleSpec


def _stack(seed=0, shape=(64, 64, 6)):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_shift_slices_moves_each_slice_by_a_nonzero_whole_pixel_shift():
    stack = _stack(shape=(100, 100, 8))  # c = 0.02 -> shifts of 1 or 2 px
    out = shift_slices(stack, np.random.default_rng(3))
    inner = slice(2, -2)
    shifts = []
    for k in range(stack.shape[2]):
        found = [
            (dx, dy)
            for dx in range(-2, 3)
            for dy in range(-2, 3)
            if np.array_equal(out[inner, inner, k], np.roll(stack[:, :, k], (dx, dy), axis=(0, 1))[inner, inner])
        ]
        assert len(found) == 1, f"slice {k}: {found}"
        shifts.append(found[0])
    assert all(dx != 0 and dy != 0 for dx, dy in shifts)
    assert len(set(shifts)) > 1  # independent per slice
    # edges are mirrored, not wrapped: after a shift by +dx the first row is row dx of the input
    for k, (dx, dy) in enumerate(shifts):
        if dx > 0:
            rolled = np.roll(stack[:, :, k], dy, axis=1)
            np.testing.assert_array_equal(out[0, inner, k], rolled[dx, inner])
    assert out.shape == stack.shape


def test_random_erasing_blanks_small_rectangles_with_the_given_value():
    stack = _stack(shape=(128, 128, 50)) + 5.0
    out = random_erasing(stack, np.random.default_rng(1), tries=1, p=1.0, value=0.0)
    erased = (out == 0.0).sum(axis=(0, 1))
    area = 128 * 128
    assert (erased <= 0.01 * area).all() and (erased >= 1).mean() > 0.9
    np.testing.assert_array_equal(out[out != 0.0], stack[out != 0.0])
    assert np.array_equal(random_erasing(stack, np.random.default_rng(1), p=0.0), stack)


def test_asd_afm_augment_is_seeded_and_keeps_slices_standardised():
    stack = _stack(seed=4) * 3.0 + 7.0
    a = asd_afm_augment(stack, np.random.default_rng(9))
    b = asd_afm_augment(stack, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, asd_afm_augment(stack, np.random.default_rng(10)))
    assert np.abs(a.mean(axis=(0, 1))).max() < 0.1 and np.abs(a.std(axis=(0, 1)) - 1).max() < 0.1


def test_every_recipe_keeps_the_shape_and_unknown_names_are_refused():
    stack = _stack()
    for name, augment in AUGMENTATIONS.items():
        out = augment(stack, np.random.default_rng(0))
        assert out.shape == stack.shape and out.dtype == np.float32, name
    with pytest.raises(
        ValueError,
        match="unknown augmentation 'asd'; available: asd-afm, asd-afm-random-noise, drift, drift-random-noise",
    ):
        SampleSpec(augmentation="asd")


def test_random_noise_recipe_draws_the_amplitude_between_zero_and_the_published_one():
    ramp = np.linspace(0, 1, 64, dtype=np.float32)[:, None, None] * np.ones((64, 64, 4), np.float32)

    def noise_level(out):  # the ramp is constant along y: second differences along y are the noise alone
        return float(np.median(np.abs(np.diff(out, n=2, axis=1))))

    for fixed_recipe, random_recipe in (("asd-afm", "asd-afm-random-noise"), ("drift", "drift-random-noise")):
        fixed = [noise_level(AUGMENTATIONS[fixed_recipe](ramp, np.random.default_rng(s))) for s in range(30)]
        drawn = [noise_level(AUGMENTATIONS[random_recipe](ramp, np.random.default_rng(s))) for s in range(30)]
        assert max(fixed) < 1.1 * min(fixed), fixed_recipe  # one amplitude
        assert min(drawn) < 0.3 * min(fixed) and max(drawn) <= 1.05 * max(fixed), random_recipe
