"""Tests of the DAE data side: per-image scaling, training pairs and whole-image restoration."""

from pathlib import Path

import numpy as np
import pytest

from keras_spm.models import dae
from keras_spm.models.dae import restore as R
from keras_spm.sim import tip as T


def _surface(size=80, seed=0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    h = ndimage.gaussian_filter(rng.normal(size=(size, size)), 3) * 5.0 + 2.0
    return T.Surface("synthetic", h, 1.0)


def test_normalize_uses_the_corrupted_image_map_for_both():
    s = _surface().height
    bad = s + 0.7  # a tip-like offset: the target must keep it (not be re-scaled to its own range)
    x, y, (lo, span) = R.normalize(bad, s)
    np.testing.assert_allclose(x - y, 0.7 / span, atol=1e-5)
    np.testing.assert_allclose(x * span + lo, bad, atol=1e-4)
    lo_ref, hi_ref = np.percentile(bad, R.PERCENTILES)
    assert (lo, span) == pytest.approx((lo_ref, hi_ref - lo_ref))


def test_normalize_edge_cases():
    x, _, (lo, span) = R.normalize(np.full((16, 16), 3.0))  # constant: defined, maps to 0 and back
    assert span == 1.0 and lo == 3.0 and np.all(x == 0)
    with pytest.raises(ValueError, match="2D"):
        R.normalize(np.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match="NaN"):
        R.normalize(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_make_pairs_is_seeded_and_shaped():
    surfaces = [_surface(80, 0), _surface(40, 1)]  # the second is smaller than the patch: reflect-padded
    a = R.make_pairs(surfaces, 6, 48, np.random.default_rng(3), crops_per_corruption=4)
    b = R.make_pairs(surfaces, 6, 48, np.random.default_rng(3), crops_per_corruption=4)
    assert a[0].shape == a[1].shape == (6, 48, 48, 1) and a[0].dtype == np.float32
    np.testing.assert_array_equal(a[0], b[0])
    assert np.all(np.isfinite(a[0])) and not np.array_equal(a[0], a[1])
    with pytest.raises(ValueError, match="no surfaces"):
        R.make_pairs([], 2, 16, np.random.default_rng(0))


@pytest.mark.parametrize("name", ["dae_compact", "dae_skip_lite"])
def test_untrained_residual_network_is_identity_and_restore_maps_back(name):
    model = dae.from_preset(name)
    bad = _surface(45).height * 1e-3  # odd size, nm-scale heights: padding and the affine map must undo exactly
    out = R.restore(model, bad)
    assert out.shape == bad.shape
    np.testing.assert_allclose(out, bad, atol=1e-6 * np.ptp(bad) + 1e-9)
    np.testing.assert_allclose(R.restore(model, bad, flips=True), bad, atol=1e-6 * np.ptp(bad) + 1e-9)
    with pytest.raises(ValueError, match="2D"):
        R.restore(model, bad[..., None])


DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared real data not found at {DATA} (CI clones it beside the repo)")
def test_simulated_surfaces_join_the_training_split_only_by_structure():
    train = T.clean_surfaces("train", simulated=True)
    test = T.clean_surfaces("test", simulated=True)
    sim_train = {s.name.split(".")[0] for s in train if s.name.startswith("sim_")}
    sim_test = {s.name.split(".")[0] for s in test if s.name.startswith("sim_")}
    assert sim_train and sim_test and not sim_train & sim_test
    assert len(T.clean_surfaces("all")) == 98  # the default stays real-only
