"""Tests of the learned-tip erosion network: the erosion layer is Villarrubia's reconstruction, per image."""

import keras
import numpy as np
import pytest

import keras_spm  # noqa: F401  (oneDNN settings)
from keras_spm.models.dae import from_preset, scaling
from keras_spm.models.dae import restore as R
from keras_spm.models.dae.tip_erosion import TIP_DEPTH, TipErosion, TipProfile, tip_erosion_dae, tip_target
from keras_spm.sim import tip as T


def _surface(seed: int, n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.zeros((n, n))
    for _ in range(6):  # bumps of different heights
        r, c = rng.integers(5, n - 5, 2)
        s[r - 1 : r + 2, c - 1 : c + 2] += rng.uniform(0.3, 1.0)
    return s


def test_erosion_layer_is_villarrubia_reconstruction_with_one_tip_per_image():
    tips = [T.parabolic_tip(2.0, 1.0, size=7), T.pyramid_tip(1.0, 1.0, size=7)]
    images = [T.simulate_scan(_surface(k), tip) for k, tip in enumerate(tips)]
    out = TipErosion()(
        np.stack(images)[..., None].astype("float32"), np.stack([t.height for t in tips])[..., None].astype("float32")
    )
    for k, tip in enumerate(tips):
        np.testing.assert_allclose(np.asarray(out)[k, ..., 0], T.reconstruct_surface(images[k], tip), atol=1e-5)


def test_sharp_tip_leaves_the_image_alone_and_tip_profile_has_its_apex_at_zero():
    image = _surface(3)[None, ..., None].astype("float32")
    sharp = tip_target(None, 1.0, 9)[None, ..., None]
    np.testing.assert_allclose(np.asarray(TipErosion()(image, sharp)), image, atol=1e-6)
    layer = TipProfile(7)
    raw = np.random.default_rng(0).normal(size=(3, layer.outputs_needed)).astype("float32")
    p = np.asarray(layer(raw))[..., 0]
    assert p.shape == (3, 7, 7) and layer.outputs_needed == 6  # radii 0..5 px (corner at 4.24 px)
    np.testing.assert_array_equal(p[:, 3, 3], 0.0)  # the apex, pinned to the centre, is the highest point
    assert p.max() <= 0 and p.min() >= -TIP_DEPTH - 1e-6
    assert np.all(np.diff(p[:, 3, 3:], axis=1) <= 1e-7)  # falls monotonically away from the apex
    np.testing.assert_allclose(p, p[:, ::-1, :], atol=1e-6)  # symmetric
    raw[:, -1] = -30.0  # round: equal at equal distance; square: equal on a ring of max(|dy|, |dx|)
    round_tip = np.asarray(layer(raw))[0, ..., 0]
    assert round_tip[3, 5] == pytest.approx(round_tip[5, 3]) and round_tip[5, 5] < round_tip[3, 5]
    raw[:, -1] = 30.0
    square_tip = np.asarray(layer(raw))[0, ..., 0]
    assert square_tip[5, 5] == pytest.approx(square_tip[3, 5], abs=1e-6)


def test_tip_target_crops_pads_scales_and_clips():
    tip = T.parabolic_tip(3.0, 1.0, size=31)
    t = tip_target(tip.height, 2.0, 9)
    assert t.shape == (9, 9) and t[4, 4] == 0.0
    np.testing.assert_allclose(t[4, 6], tip.height[15, 17] / 2.0, rtol=1e-6)  # crop keeps the centre, scales by span
    small = tip_target(T.parabolic_tip(3.0, 1.0, size=3).height, 1.0, 9)
    assert small[0, 0] == -TIP_DEPTH and small[4, 4] == 0.0  # padded with the clip depth
    assert tip_target(T.parabolic_tip(0.1, 1.0, size=9).height, 1.0, 9).min() == -TIP_DEPTH
    with pytest.raises(ValueError, match="odd"):
        tip_erosion_dae(tip_size=24)


def test_pairs_carry_the_corrupting_tip_and_clean_pairs_the_sharp_one():
    x, y, t = R.make_topography_pairs(4, 32, np.random.default_rng(0), p_clean=1.0, margin=4, tip_size=9)
    assert t.shape == (4, 9, 9, 1)
    np.testing.assert_array_equal(t[:, 4, 4, 0], 0.0)
    assert np.all(t[:, :, :, 0].sum(axis=(1, 2)) == -TIP_DEPTH * 80)  # apex alone
    x, y, t = R.make_topography_pairs(4, 32, np.random.default_rng(1), p_clean=0.0, margin=4, tip_size=9)
    assert np.all(t.max(axis=(1, 2, 3)) == 0.0) and np.all(t.sum(axis=(1, 2, 3)) > -TIP_DEPTH * 80)


def test_preset_builds_trains_one_step_and_round_trips_in_raw_form(tmp_path):
    keras.utils.set_random_seed(0)
    model = from_preset("dae_tip_erosion", with_tip_output=True)
    assert model.count_params() == 270_546
    x, y, t = R.make_topography_pairs(4, 32, np.random.default_rng(2), p_clean=0.0, margin=4, tip_size=25)
    model.compile(keras.optimizers.Adam(1e-3), loss=["mae", "mae"])
    before = model.evaluate(x, (y, t), verbose=0, return_dict=True)
    model.fit(x, (y, t), epochs=5, batch_size=4, verbose=0)
    after = model.evaluate(x, (y, t), verbose=0, return_dict=True)
    assert after["tip_loss"] < before["tip_loss"]  # the tip loss teaches the estimator where erosion alone cannot
    raw = scaling.wrap_raw(keras.Model(model.inputs[0], model.outputs[0]), name="dae_tip_artifacts")
    raw.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras")
    image = _surface(5, 48) * 1e-9
    a = R.restore(raw, image, pixel_size=2e-10)
    b = R.restore(back, image, pixel_size=2e-10)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-15)
    assert a.shape == image.shape and np.all(a <= image + 1e-15)  # an erosion never rises above its input


def test_estimate_tip_is_in_the_image_units_and_refuses_models_without_a_tip():
    from keras_spm.models.dae import estimate_tip, tip_erosion_dae_raw, topography_dae_raw

    image = _surface(7, 48) * 1e-9
    tip = estimate_tip(tip_erosion_dae_raw(tip_size=9), image, 2e-10)
    assert tip.height.shape == (9, 9) and tip.height[4, 4] == 0.0 and tip.pixel_size == 2e-10
    assert -TIP_DEPTH * np.ptp(image) <= tip.height.min() < 0  # metres, within the clip depth
    with pytest.raises(ValueError, match="no 'tip' layer"):
        estimate_tip(topography_dae_raw(), image, 2e-10)


def test_peak_bound_is_the_drop_around_the_sharpest_peak_capped_by_its_height():
    from keras_spm.models.dae.tip_erosion import PeakBound

    s = np.zeros((40, 40))
    s[20, 20] = 1.0  # a one-pixel spike: the image is the tip itself, down to the spike's height
    image = T.simulate_scan(s, T.parabolic_tip(4.0, 1.0, size=25))[None, ..., None].astype("float32")
    f = np.asarray(PeakBound(5)(image))[0]
    angles = np.arange(8) * np.pi / 4  # 8 directions, offsets rounded to pixels; parabola drop d^2 / 2R, capped at 1
    d2 = [[round(r * np.sin(a)) ** 2 + round(r * np.cos(a)) ** 2 for a in angles] for r in range(1, 6)]
    np.testing.assert_allclose(f[0::2], np.minimum(np.max(d2, axis=1) / 8.0, 1.0), atol=1e-6)
    np.testing.assert_allclose(f[1::2], np.mean(np.minimum(np.array(d2) / 8.0, 1.0), axis=1), atol=1e-6)
    assert np.asarray(PeakBound(5)(np.zeros_like(image))).max() == 0.0  # no maxima, no bound


def _quantile_bound_reference(z: np.ndarray, n: int, q: float, sigma: float) -> np.ndarray:
    """Per radius, the drop (largest of 8 directions) exceeded by a fraction ``q`` of the local maxima (scipy)."""
    from scipy import ndimage

    if sigma:
        z = ndimage.gaussian_filter(z, sigma, mode="constant", truncate=np.ceil(3 * sigma) / sigma)
    peak = (z == ndimage.maximum_filter(z, 3, mode="nearest")) & (z > ndimage.minimum_filter(z, 3, mode="nearest"))
    peak[:n], peak[-n:], peak[:, :n], peak[:, -n:] = False, False, False, False
    ys, xs = np.nonzero(peak)
    out = []
    for r in range(1, n + 1):
        offsets = [(round(r * np.sin(a)), round(r * np.cos(a))) for a in np.arange(8) * np.pi / 4]
        drops = np.sort(np.max([z[ys, xs] - z[ys + dy, xs + dx] for dy, dx in offsets], axis=0))[::-1]
        out.append(drops[int(np.floor(q * (len(drops) - 1)))])
    return np.array(out)


@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_peak_bound_quantiles_match_a_scipy_reference_and_are_zero_without_maxima(sigma):
    from scipy import ndimage

    from keras_spm.models.dae.tip_erosion import PeakBound

    rng = np.random.default_rng(0)
    z = ndimage.gaussian_filter(rng.normal(size=(2, 60, 70)), (0, 2, 2)) + 0.05 * rng.normal(size=(2, 60, 70))
    qs = (0.0, 0.1, 0.5)
    got = np.asarray(PeakBound(5, quantiles=qs, sigma=sigma)(z[..., None].astype("float32")))
    assert got.shape == (2, 15)
    for b in range(2):
        want = np.concatenate([_quantile_bound_reference(z[b], 5, q, sigma) for q in qs])
        np.testing.assert_allclose(got[b], want, atol=1e-5)
    assert np.all(got[:, :5] >= got[:, 5:10])  # a larger quantile is a smaller drop
    flat = np.zeros((1, 30, 30, 1), "float32")
    assert np.asarray(PeakBound(5, quantiles=(0.1,), sigma=sigma)(flat)).max() == 0.0
    with pytest.raises(ValueError, match="quantiles must be in"):
        PeakBound(5, quantiles=(1.5,))


def test_restore_refuses_images_smaller_than_the_peak_bound_needs():
    from keras_spm.models.dae import tip_erosion_dae_raw

    with pytest.raises(ValueError, match="needs >= 27 px a side"):
        R.restore(tip_erosion_dae_raw(), np.zeros((20, 40)), pixel_size=1e-10)


def test_tip_quantile_loss_is_mae_at_half_and_penalises_blunt_estimates_more_below():
    from keras_spm.models.dae import TipQuantileLoss

    true = np.full((1, 5, 5, 1), -1.0, np.float32)
    blunt, sharp = true + 0.5, true - 0.5  # blunter = higher profile = erodes more
    mae = keras.losses.MeanAbsoluteError()
    assert np.isclose(float(TipQuantileLoss(0.5)(true, blunt)), float(mae(true, blunt)))
    low = TipQuantileLoss(0.2)
    assert np.isclose(float(low(true, blunt)), 2 * 0.8 * 0.5)
    assert np.isclose(float(low(true, sharp)), 2 * 0.2 * 0.5)
    assert TipQuantileLoss.from_config(low.get_config()).quantile == 0.2
    with pytest.raises(ValueError, match="quantile"):
        TipQuantileLoss(1.0)


def test_tip_quantile_loss_apex_scale_weights_errors_near_the_apex_more():
    from keras_spm.models.dae import TipQuantileLoss

    true = np.zeros((1, 25, 25, 1), np.float32)
    near, far = true.copy(), true.copy()
    near[0, 12, 13, 0] = 1.0  # 1 px from the apex
    far[0, 0, 0, 0] = 1.0  # a corner
    equal, weighted = TipQuantileLoss(0.5), TipQuantileLoss(0.5, apex_scale=2.0)
    assert np.isclose(float(equal(true, near)), float(equal(true, far)))
    assert float(weighted(true, near)) > 100 * float(weighted(true, far))
    flat = np.ones_like(true)  # weights average 1: a uniform error costs what it costs unweighted
    assert np.isclose(float(weighted(true, flat)), float(equal(true, flat)), rtol=1e-5)
    assert TipQuantileLoss.from_config(weighted.get_config()).apex_scale == 2.0
    with pytest.raises(ValueError, match="apex_scale"):
        TipQuantileLoss(0.5, apex_scale=0.0)
