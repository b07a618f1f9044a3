"""Tests of the scale-aware DAE input: dimensionless, consistent across scales, metres in / metres out."""

import keras
import numpy as np
import pytest

from keras_spm.models import dae
from keras_spm.models.dae import restore as R
from keras_spm.models.dae import scaling as S
from keras_spm.sim import tip as T
from keras_spm.sim.topography import random_topography


def _topo(px=2e-10, seed=0):
    return random_topography(np.random.default_rng(seed), (40, 56), px, "steps", ("particles",))


def test_normalize_is_dimensionless_and_inverts():
    t = _topo()
    x, y, (lo, span, slope) = S.normalize(t.height + 3e-9, t.pixel_size, t.height)
    assert x.shape == (40, 56, 2) and y.shape == (40, 56, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0] * span + lo, t.height + 3e-9, rtol=0, atol=1e-6 * span)
    np.testing.assert_allclose(x[..., 0:1] - y, 3e-9 / span, atol=1e-5)  # the target keeps the input's map
    assert np.all(x[..., 1] == np.float32(slope)) and slope == pytest.approx(np.log10(span / t.pixel_size) / 2)
    for k in (1e-2, 1e3):  # the same surface scaled isotropically gives the same network input
        xk, _, (_, _, slopek) = S.normalize(t.height * k, t.pixel_size * k)
        np.testing.assert_allclose(xk, S.normalize(t.height, t.pixel_size)[0], atol=1e-5)
        assert slopek == pytest.approx(S.normalize(t.height, t.pixel_size)[2][2])


def test_normalize_bad_input():
    with pytest.raises(ValueError, match="pixel_size"):
        S.normalize(np.zeros((8, 8)), None)
    with pytest.raises(ValueError, match="pixel_size"):
        S.normalize(np.zeros((8, 8)), -1.0)
    with pytest.raises(ValueError, match="2D"):
        S.normalize(np.zeros((8, 8, 1)), 1.0)
    assert S.normalize(np.full((8, 8), 2.0), 1.0)[2][1] == 1.0  # constant image: span 1, defined


def test_layers_match_numpy_and_the_raw_model_round_trips(tmp_path):
    t = _topo(seed=1)
    raw = np.stack([t.height, np.full(t.height.shape, t.pixel_size)], -1)[None].astype(np.float32)
    x, _, _ = S.normalize(t.height, t.pixel_size)
    np.testing.assert_allclose(np.asarray(S.SlopeScale()(raw))[0], x, atol=2e-5)
    core = dae.from_preset("dae_topography")
    model = S.wrap_raw(core)
    assert S.is_raw_model(model) and not S.is_raw_model(core)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for m in (core, loaded):  # untrained: identity, in metres, from a checkpoint or a raw (zoo) model
        out = R.restore(m, t.height, stride=8, pixel_size=t.pixel_size)
        np.testing.assert_allclose(out, t.height, atol=1e-5 * np.ptp(t.height))
    with pytest.raises(ValueError, match="pixel_size"):
        R.restore(core, t.height, stride=8)


def test_restore_keeps_float64_precision_under_a_large_offset():
    t = _topo(px=1e-11, seed=2)  # 0.1 A pixels, sub-nm heights on a 2 um piezo offset
    out = R.restore(dae.from_preset("dae_topography"), t.height + 2e-6, stride=8, pixel_size=t.pixel_size)
    np.testing.assert_allclose(out - 2e-6, t.height, atol=1e-4 * np.ptp(t.height))


def test_corrupt_keeping_noise_is_corrupt_plus_a_noisy_target():

    t = _topo(seed=3)
    bad_ref, _ = T.corrupt(t.height, t.pixel_size, np.random.default_rng(9))
    bad, target = R.corrupt_keeping_noise(t.height, t.pixel_size, np.random.default_rng(9))
    np.testing.assert_allclose(bad, bad_ref, rtol=0, atol=1e-12 * np.ptp(t.height))  # the benchmark's distribution
    noise = target - t.height
    assert 0 <= noise.std() <= 0.021 * np.ptp(t.height)


def test_clean_scans_get_the_same_noise_without_the_tip():
    t = _topo(seed=3)
    quiet = T.CorruptionConfig(line_offset=(0.0, 0.0), p_streaks=0.0, noise=(0.01, 0.02))
    bad, target = R.corrupt_keeping_noise(t.height, t.pixel_size, np.random.default_rng(9), quiet, with_tip=False)
    np.testing.assert_array_equal(bad, target)  # nothing but the kept noise: no dilation
    assert 0.005 * np.ptp(t.height) < (bad - t.height).std() <= 0.021 * np.ptp(t.height)
    lines = T.CorruptionConfig(line_offset=(0.02, 0.02), p_streaks=0.0, noise=(0.0, 0.0))
    bad, target = R.corrupt_keeping_noise(t.height, t.pixel_size, np.random.default_rng(9), lines, with_tip=False)
    np.testing.assert_allclose(target, t.height)
    offsets = bad - target  # one offset per scan line, removed in the target
    assert np.ptp(offsets, axis=1).max() < 1e-9 * np.ptp(t.height) and offsets[:, 0].std() > 0.005 * np.ptp(t.height)


def test_topography_pairs_shapes_and_clean_share():
    x, y = R.make_topography_pairs(6, 32, np.random.default_rng(0), p_clean=1.0, margin=4, noisy_clean=False)
    assert x.shape == (6, 32, 32, 2) and y.shape == (6, 32, 32, 1)
    np.testing.assert_allclose(x[..., :1], y, atol=1e-6)  # all plain clean: target = input
    x, y = R.make_topography_pairs(6, 32, np.random.default_rng(0), p_clean=1.0, margin=4)
    assert not np.allclose(x[..., :1], y)  # noisy clean: the scan-line offsets / scars are on the input only
    x, y = R.make_topography_pairs(6, 32, np.random.default_rng(0), p_clean=0.0, margin=4)
    assert np.all(np.isfinite(x)) and not np.allclose(x[..., :1], y)
