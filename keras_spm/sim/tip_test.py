"""Tests of the tip-artifact simulator and the Villarrubia baseline (keras_spm.sim.tip)."""

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from keras_spm.sim import tip as T

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _brute_dilation(s, P):
    """image(x) = max_u s(x + u) + P(u), surface clamped at the border (the definition, by loops)."""
    m = P.shape[0] // 2
    h, w = s.shape
    out = np.full(s.shape, -np.inf)
    for i in range(h):
        for j in range(w):
            for a in range(-m, m + 1):
                for b in range(-m, m + 1):
                    y, x = min(max(i + a, 0), h - 1), min(max(j + b, 0), w - 1)
                    out[i, j] = max(out[i, j], s[y, x] + P[a + m, b + m])
    return out


def _textured(rng, n=64, scale=20.0):
    return ndimage.gaussian_filter(rng.normal(size=(n, n)), 1.5) * scale


def test_dilation_matches_definition_for_asymmetric_tip():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(14, 17))
    P = -rng.uniform(0.1, 2, (5, 5))
    P[2, 3] = 0.0  # apex off-centre: the image shifts, as with a tilted tip
    tip = T.TipShape(P, 1.0)
    np.testing.assert_allclose(T.simulate_scan(s, tip), _brute_dilation(s, P), atol=1e-12)


def test_dilation_then_erosion_is_closing_and_bounds_hold():
    rng = np.random.default_rng(1)
    s = _textured(rng)
    tip = T.spherical_tip(3.0, 1.0, size=9)
    image = T.simulate_scan(s, tip)
    rec = T.reconstruct_surface(image, tip)
    # Interior (away from the border): erosion of the dilation is scipy's grey closing with the same element.
    closing = ndimage.grey_closing(s, structure=tip.structure, mode="nearest")
    np.testing.assert_allclose(rec[8:-8, 8:-8], closing[8:-8, 8:-8], atol=1e-9)
    # Everywhere: surface <= reconstruction <= image; so also >= the surface's opening.
    assert np.all(rec <= image + 1e-9)
    assert np.all(rec >= s - 1e-9)
    assert np.all(rec >= ndimage.grey_opening(s, structure=tip.structure, mode="nearest") - 1e-9)
    # Closing/opening duality: closing(s) = -opening(-s) with the reflected element.
    dual = -ndimage.grey_opening(-s, structure=tip.height, mode="nearest")
    np.testing.assert_allclose(closing[8:-8, 8:-8], dual[8:-8, 8:-8], atol=1e-9)
    # The reconstruction is closer to the truth than the raw image.
    assert np.abs(rec - s).mean() < 0.7 * np.abs(image - s).mean()


def test_tip_shapes():
    for kind in T.TIP_KINDS:
        tip = T.make_tip(kind, 3.0, 0.5, size=21)
        h = tip.height
        assert h.shape == (21, 21) and h[10, 10] == 0.0 and h.max() == 0.0
        assert np.all(h[10, 11:] <= 0) and np.all(np.diff(h[10, 10:]) < 0)  # falls monotonically from the apex
        np.testing.assert_allclose(h, h[::-1, ::-1], atol=1e-12)  # centred tips are symmetric
    p = T.parabolic_tip(2.0, 1.0, size=7)
    assert p.height[3, 5] == pytest.approx(-(2.0**2) / (2 * 2.0))
    sph = T.spherical_tip(4.0, 1.0, half_angle=30, size=15)
    assert sph.height[7, 9] == pytest.approx(np.sqrt(16 - 4) - 4)  # on the cap (r=2 < R cos 30)
    # Cone flank slope cot(30 deg) far from the apex.
    assert sph.height[7, 13] - sph.height[7, 14] == pytest.approx(1 / np.tan(np.deg2rad(30)))
    # Blunter tip (larger radius) -> image closer to a max filter -> larger mean image.
    rng = np.random.default_rng(2)
    s = _textured(rng, 48)
    means = [T.simulate_scan(s, T.parabolic_tip(r, 1.0, size=15)).mean() for r in (0.5, 2.0, 8.0)]
    assert means[0] < means[1] < means[2]


def test_apex_offset_shifts_image():
    s = np.zeros((21, 21))
    s[10, 10] = 5.0
    tip = T.parabolic_tip(1.0, 1.0, size=9, apex_offset=(0.0, 2.0))
    img = T.simulate_scan(s, tip)
    assert np.unravel_index(img.argmax(), img.shape) == (10, 8)  # apex 2 px right of centre images the spike 2 px left


def test_double_tip_makes_ghost():
    s = np.zeros((41, 41))
    s[20, 20] = 10.0
    tip = T.double_tip(T.parabolic_tip(1.0, 1.0, size=7), offset=(0.0, 6.0), drop=3.0)
    img = T.simulate_scan(s, tip)
    assert img[20, 20] == pytest.approx(10.0)
    assert img[20, 14] == pytest.approx(7.0)  # ghost: 6 px left, 3 lower
    assert img[20, 17] < 7.0
    with pytest.raises(ValueError, match="drop"):
        T.double_tip(tip, (0, 1), drop=-1)


def test_blind_estimate_is_outer_bound_and_recovers_probed_tip():
    rng = np.random.default_rng(1)
    s = _textured(rng, 80)
    tip = T.spherical_tip(4.0, 1.0, size=9)
    image = T.simulate_scan(s, tip)
    est = T.blind_tip_estimate(image, 1.0, size=9)
    assert np.all(est.height >= tip.height - 1e-7)  # never sharper than the truth
    np.testing.assert_allclose(est.height[2:7, 2:7], tip.height[2:7, 2:7], atol=1e-6)  # apex region exact
    rec_est = T.reconstruct_surface(image, est)
    rec_true = T.reconstruct_surface(image, tip)
    err = {k: np.abs(v - s).mean() for k, v in {"image": image, "est": rec_est, "true": rec_true}.items()}
    assert err["est"] < 0.7 * err["image"] and err["est"] < 1.1 * err["true"]


def test_blind_estimate_with_noise_threshold_stays_blunt():
    rng = np.random.default_rng(4)
    s = _textured(rng, 64)
    tip = T.parabolic_tip(3.0, 1.0, size=7)
    image = T.add_noise(T.simulate_scan(s, tip), 0.05, rng)
    est = T.blind_tip_estimate(image, 1.0, size=7, threshold=0.3)
    assert np.all(est.height >= tip.height - 0.3)
    assert est.height[3, 3] == 0.0 and np.all(est.height <= 0)


def test_gaussian_and_line_artifacts_are_seeded():
    s = _textured(np.random.default_rng(0), 32)
    a = T.corrupt(s, 1.0, np.random.default_rng(5))[0]
    b = T.corrupt(s, 1.0, np.random.default_rng(5))[0]
    np.testing.assert_array_equal(a, b)
    blurred = T.gaussian_blur(s, 2.0, 1.0)
    assert blurred.std() < 0.8 * s.std() and abs(blurred.mean() - s.mean()) < 0.1 * s.std()
    lines = T.add_line_offsets(np.zeros((10, 8)), 1.0, np.random.default_rng(0))
    assert np.all(lines.std(axis=1) == 0) and lines[:, 0].std() > 0  # constant along a scan line
    streaked = T.add_streaks(np.zeros((20, 40)), np.random.default_rng(0), n=2, height=1.0)
    assert 0 < np.count_nonzero(streaked.any(axis=1)) <= 2
    img, info = T.corrupt(s, 1.0, np.random.default_rng(0), T.CorruptionConfig(p_gaussian=1.0))
    assert "sigma" in info and img.shape == s.shape
    img, info = T.corrupt(s, 1.0, np.random.default_rng(0), T.CorruptionConfig(p_double=1.0))
    assert info["tip"].kind == "double"


def test_bad_input_raises():
    tip = T.parabolic_tip(1.0, 1.0, size=5)
    with pytest.raises(ValueError, match="2D"):
        T.simulate_scan(np.zeros((4, 4, 1)), tip)
    with pytest.raises(ValueError, match="NaN"):
        T.simulate_scan(np.full((4, 4), np.nan), tip)
    with pytest.raises(ValueError, match="odd"):
        T.TipShape(np.zeros((4, 4)), 1.0)
    with pytest.raises(ValueError, match="apex"):
        T.TipShape(-np.ones((3, 3)) + 0.5, 1.0)
    with pytest.raises(ValueError, match="radius"):
        T.parabolic_tip(0.0, 1.0)
    with pytest.raises(ValueError, match="unknown tip kind"):
        T.make_tip("cone", 1.0, 1.0)
    with pytest.raises(ValueError, match="too small"):
        T.blind_tip_estimate(np.zeros((8, 8)), 1.0, size=5)
    with pytest.raises(ValueError, match="split"):
        T.clean_surfaces("training")
    with pytest.raises(FileNotFoundError, match="data_dir"):
        T.clean_surfaces("train", data_dir="/nonexistent")


def test_split_is_deterministic_and_keeps_series_together():
    assert T.split_of("Ying_Jiang_2_1_0.png") == T.split_of("Ying_Jiang_2_1_8.png")
    assert T._group("Ying_Jiang_2_1_7.png") == "Ying_Jiang_2_1"


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared real data not found at {DATA} (CI clones it beside the repo)")
def test_clean_surfaces_real_data():
    splits = {sp: T.clean_surfaces(sp) for sp in T.SPLITS}
    names = {sp: {s.name for s in v} for sp, v in splits.items()}
    assert all(names.values())
    assert not (names["train"] & names["val"] or names["train"] & names["test"] or names["val"] & names["test"])
    assert sum(len(v) for v in splits.values()) == len(T.clean_surfaces("all")) == 98
    for s in splits["val"] + splits["test"]:
        assert s.height.dtype == np.float64 and s.height.ndim == 2 and np.isfinite(s.height).all()
    gwy = [s for s in T.clean_surfaces("all") if s.calibrated]
    assert len(gwy) == 1 and gwy[0].height.shape == (256, 256)
    assert gwy[0].pixel_size == pytest.approx(1e4 / 255, rel=1e-6)  # 10.04 um / 256 px, in nm
    assert 50 < np.ptp(gwy[0].height) < 500  # ~125 nm of topography


def test_tip_larger_than_image_is_defined():
    """A tip array wider than the image still follows the definition (edge pixels repeated, mode="nearest")."""
    rng = np.random.default_rng(5)
    s = rng.normal(size=(6, 7))
    tip = T.parabolic_tip(2.0, 1.0, size=11)  # 11 px tip on a 6 x 7 image
    img = T.simulate_scan(s, tip)
    padded = np.pad(s, 5, mode="edge")
    brute = np.full(s.shape, -np.inf)
    for i in range(-5, 6):
        for j in range(-5, 6):  # image(x) = max_u [s(x + u) + P(u)], P indexed from its centre
            brute = np.maximum(brute, padded[5 + i : 11 + i, 5 + j : 12 + j] + tip.height[5 + i, 5 + j])
    np.testing.assert_allclose(img, brute, atol=1e-12)
    rec = T.reconstruct_surface(img, tip)
    assert rec.shape == s.shape and np.all(rec >= s - 1e-9) and np.all(rec <= img + 1e-9)
    with pytest.raises(ValueError, match="too small"):
        T.blind_tip_estimate(img, 1.0, size=11)


def test_simulated_and_real_series_keys():
    assert T._group("12.07.png") == "sim12" and T._group("12.14.png") == "sim12"
    assert T.split_of("12.07.png") == T.split_of("12.00.png")
