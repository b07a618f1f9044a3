"""Tests of the openness check that refuses tip estimates a scan contradicts."""

import numpy as np
import pytest
from scipy import ndimage

from keras_spm.models.dae import consistency as C
from keras_spm.models.dae import restore as R
from keras_spm.sim import tip as T


def _grating(size=96, period=16, noise=0.01, seed=0):
    """Vertical-walled lines of height 1 with white noise: a clean scan by a fine tip."""
    rng = np.random.default_rng(seed)
    z = ((np.arange(size) // (period // 2)) % 2).astype(float)[None, :].repeat(size, 0)
    return z + noise * rng.normal(size=z.shape)


def test_noise_sigma_recovers_white_noise():
    rng = np.random.default_rng(1)
    z = ndimage.gaussian_filter(rng.normal(size=(128, 128)), 8) + 0.05 * rng.normal(size=(128, 128))
    assert C.noise_sigma(z) == pytest.approx(0.05, rel=0.15)


def test_a_scan_made_by_a_tip_is_open_under_it_and_noise_stays_below_the_threshold():
    rng = np.random.default_rng(2)
    surface = ndimage.gaussian_filter(rng.normal(size=(96, 96)), 2) * 20.0
    tip = T.parabolic_tip(radius=4.0, pixel_size=1.0)
    scan = T.simulate_scan(surface, tip)
    assert C.opening_excess(scan, tip.height) == pytest.approx(0.0, abs=1e-9)
    noisy = scan + 0.02 * np.ptp(scan) * rng.normal(size=scan.shape)
    assert not C.tip_contradicted(noisy, tip.height)


def test_a_sharp_clean_grating_refutes_a_blunt_tip_but_not_a_sharp_one():
    z = _grating()
    blunt = T.parabolic_tip(radius=3.0, pixel_size=1.0, depth=2.0)
    assert C.opening_excess(z, blunt.height) > 4 * C.MAX_OPENING_EXCESS  # corners a tip of R = 3 px cannot draw
    assert C.tip_contradicted(z, blunt.height)
    sharp = np.full((5, 5), -2.0)
    sharp[2, 2] = 0.0  # the apex alone
    assert not C.tip_contradicted(z, sharp)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="square odd-sized"):
        C.opening_excess(np.zeros((32, 32)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="too small"):
        C.opening_excess(np.zeros((8, 8)), np.zeros((9, 9)))


def test_restore_returns_a_scan_that_refutes_its_estimated_tip_unchanged(monkeypatch):
    import warnings

    from keras_spm.models.dae import tip_erosion, tip_erosion_dae_raw

    model = tip_erosion_dae_raw(tip_size=9)
    blunt = T.parabolic_tip(radius=6e-10, pixel_size=2e-10, size=9)  # the estimate restore checks, made blunt
    monkeypatch.setattr(tip_erosion, "estimate_tip", lambda *args: blunt)
    z = _grating() * 1e-9
    assert C.tip_contradicted(z, blunt.height)  # vertical walls no R = 3 px tip draws
    with pytest.warns(UserWarning, match="sharper than the estimated tip"):
        kept = R.restore(model, z, pixel_size=2e-10)
    np.testing.assert_array_equal(kept, z)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the check off: no refusal, the network's own erosion
        eroded = R.restore(model, z, pixel_size=2e-10, max_opening_excess=None)
    assert eroded.shape == z.shape and np.all(eroded <= z + 1e-6 * np.ptp(z))
