"""Tests of the synthetic topography generator: seeded, metres, physical heights at every scale, bad arguments."""

import numpy as np
import pytest

from keras_spm.sim import topography as G


def test_seeded_median_zero_metres_and_pixel_range():
    a = [G.random_topography(np.random.default_rng(7), (64, 80)) for _ in range(2)]
    np.testing.assert_array_equal(a[0].height, a[1].height)
    kinds, pixels = set(), []
    rng = np.random.default_rng(0)
    for _ in range(40):
        t = G.random_topography(rng, (64, 64))
        assert t.height.shape == (64, 64) and t.height.dtype == np.float64 and np.all(np.isfinite(t.height))
        assert abs(np.median(t.height)) < 1e-20 and np.ptp(t.height) < 1e-5  # metres: well below 10 um
        kinds.add(t.kind.split("+")[0])
        pixels.append(t.pixel_size)
    assert G.PIXEL_RANGE[0] <= min(pixels) and max(pixels) <= G.PIXEL_RANGE[1]
    assert max(pixels) / min(pixels) > 1e2 and len(kinds) >= 4


@pytest.mark.parametrize("substrate", G.SUBSTRATES)
@pytest.mark.parametrize("px", [1e-11, 2e-10, 1e-7])
def test_every_substrate_at_every_scale_is_non_trivial(substrate, px):
    t = G.random_topography(np.random.default_rng(3), (64, 64), px, substrate, features=())
    assert t.pixel_size == px and t.kind == substrate
    if substrate != "flat" or "lattice_on_top" in t.params:
        assert np.ptp(t.height) > 0
    else:
        assert np.ptp(t.height) < 0.1 * px + 1e-12  # only noise / faint roughness, if any


@pytest.mark.parametrize("feature", G.FEATURES)
def test_every_feature_raises_or_lowers_a_flat_substrate(feature):
    rng = np.random.default_rng(5)
    z, params = G._feature(feature, (96, 96), rng, 1e-9)
    assert params and np.ptp(z) > 0
    assert (z.min() < 0) == (feature == "pits")


def test_physical_heights_steps_islands_and_lattice():
    rng = np.random.default_rng(11)
    for px in (1e-10, 1e-8):  # atomic steps and islands stay 0.2-0.35 nm per layer whatever the pixel size
        _, p = G.steps((64, 64), rng, px)
        assert 0.2e-9 <= p["step_height"] <= 3 * 0.35e-9
        _, p = G.islands((64, 64), rng, px)
        assert 0.2e-9 <= p["layer_height"] <= 0.35e-9
    _, p = G.lattice((64, 64), rng, 1e-10)  # atomic lattice: sub-A to A corrugation below the period
    assert p["corrugation"] < 0.2 * p["period"] and p["period"] < 6.1e-9


def test_self_affine_rms_and_bad_arguments():
    z = G.self_affine((64, 64), np.random.default_rng(0), 0.7, 2e-9)
    assert z.std() == pytest.approx(2e-9)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="substrate"):
        G.random_topography(rng, substrate="moon")
    with pytest.raises(ValueError, match="features"):
        G.random_topography(rng, features=("craters",))
    with pytest.raises(ValueError, match="pixel_size"):
        G.random_topography(rng, pixel_size=-1.0)
    with pytest.raises(ValueError, match="shape"):
        G.random_topography(rng, shape=(4, 4))


def test_grains_are_cells_and_stretched_grains_are_aligned_rods():
    for seed in range(6):
        z, p = G.grains((96, 96), np.random.default_rng(seed), 1e-8)
        assert np.ptp(z) > 0 and 0.05 <= p["height"] / p["size"] <= 0.5
        if p["stretch"] > 2:  # aligned rods: the height map is smoother along the rods than across them
            gy, gx = np.gradient(z)
            c, s = np.cos(p["angle"]), np.sin(p["angle"])
            along, across = np.abs(gy * c + gx * s).mean(), np.abs(-gy * s + gx * c).mean()
            assert across > 1.5 * along


def test_every_clean_surface_is_imaged_by_a_real_tip_whose_cone_limits_steep_walls():
    step = np.zeros((32, 64))
    step[:, 32:] = 50e-9  # a vertical wall 50 px high on 1 nm pixels
    for seed in range(12):
        params = {}
        z = G._as_imaged(step, np.random.default_rng(seed), 1e-9, params)
        half = params["imaged_tip"]["half_angle"]
        wall = ((z > 5e-9) & (z < 45e-9)).sum(axis=1)
        if half is None:  # a worn parabolic tip: r = sqrt(2 R h) spreads 5-45 px of wall over >= 7 px at R >= 1.5 px
            assert np.median(wall) >= 7
        else:  # a 10-35 degree cone spreads the wall over >= 40 tan(angle) px
            assert 10 <= half <= 35
            assert np.median(wall) >= 40 * np.tan(np.deg2rad(half)) - 1


def test_a_share_of_clean_surfaces_is_imaged_by_a_worn_tip_the_rest_by_a_sharp_one():
    """Real clean scans are often already widened by their tip; the generator's "clean" must include such scans."""
    radii = []
    for seed in range(200):
        params = {}
        G._as_imaged(np.zeros((16, 16)), np.random.default_rng(seed), 1e-9, params)
        radii.append(params["imaged_tip"]["radius"] / 1e-9)
    radii = np.array(radii)
    assert radii.min() >= G.SHARP_TIP_PX[0] - 1e-9 and radii.max() <= G.WORN_TIP_PX[1] + 1e-9
    assert 0.25 <= np.mean(radii > G.SHARP_TIP_PX[1]) <= 0.45  # only worn tips are wider than 2 px
