"""Tests of PSNR / SSIM / VIF (keras_spm.metrics)."""

import numpy as np
import pytest
from scipy import ndimage

from keras_spm.metrics import VIF_MIN_SIZE, image_quality, psnr, ssim, vif


def _texture(seed=0, n=96):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=(n, n)), 1.0) * 40 + 128


def test_vif_hand_derivable_values():
    x = _texture()
    assert vif(x, x, 255) == pytest.approx(1.0, abs=1e-6)
    # Contrast enhancement: gain c, no distortion noise -> more information than the reference itself.
    assert vif(x, 1.5 * x - 50, 255) > 1.05
    assert vif(x, 0.5 * x + 60, 255) < 0.95  # contrast reduction loses information
    assert vif(x, np.full_like(x, 128.0), 255) == 0.0  # constant image: no information
    assert vif(x, 255 - x, 255) == 0.0  # negative gain counts as no information
    # More noise / more blur -> less information.
    rng = np.random.default_rng(1)
    noise = rng.normal(size=x.shape)
    v = [vif(x, x + s * noise, 255) for s in (1, 5, 20)]
    assert 1 > v[0] > v[1] > v[2] > 0
    b = [vif(x, ndimage.gaussian_filter(x, s), 255) for s in (0.5, 1.0, 2.0)]
    assert 1 > b[0] > b[1] > b[2] > 0


def test_vif_is_scale_invariant_with_data_range():
    x = _texture()
    y = ndimage.gaussian_filter(x, 1.0)
    assert vif(x / 255 * 3e-9, y / 255 * 3e-9, 3e-9) == pytest.approx(vif(x, y, 255), rel=1e-9)


def test_vif_bad_input():
    x = _texture()
    with pytest.raises(ValueError, match="constant reference"):
        vif(np.ones((64, 64)), x[:64, :64], 1.0)
    with pytest.raises(ValueError, match="2D"):
        vif(x[..., None], x[..., None], 255)
    with pytest.raises(ValueError, match="NaN"):
        y = x.copy()
        y[3, 3] = np.nan
        vif(x, y, 255)
    with pytest.raises(ValueError, match="same shape"):
        vif(x, x[:-1], 255)
    with pytest.raises(ValueError, match="data_range"):
        vif(x, x, 0)
    with pytest.raises(ValueError, match=str(VIF_MIN_SIZE)):
        vif(x[:40, :40], x[:40, :40], 255)
    assert 0 < vif(x[:VIF_MIN_SIZE, :VIF_MIN_SIZE], x[:VIF_MIN_SIZE, :VIF_MIN_SIZE] + 1e-3 * x[:41, :41] ** 2, 255)


def test_psnr_and_ssim():
    x = _texture()
    rng = np.random.default_rng(2)
    y = x + rng.normal(0, 5, x.shape)
    mse = np.mean((x - y) ** 2)
    assert psnr(x, y, 255) == pytest.approx(10 * np.log10(255**2 / mse))
    assert psnr(x, x, 255) == float("inf")
    assert ssim(x, x, 255) == pytest.approx(1.0)
    assert 0 < ssim(x, y, 255) < 1
    # The explicit data_range matters: same images, 10x range -> SSIM closer to 1.
    assert ssim(x, y, 2550) > ssim(x, y, 255)
    q = image_quality(x, y)
    assert set(q) == {"psnr", "ssim", "vif"} and q["psnr"] == pytest.approx(psnr(x, y, np.ptp(x)))
    with pytest.raises(ValueError, match="11 px"):
        ssim(x[:8, :8], y[:8, :8], 255)


def test_constant_images_edge_cases():
    """Featureless images: PSNR and SSIM stay defined, VIF and the default data_range do not."""
    c = np.full((64, 64), 7.0)
    assert psnr(c, c, 1.0) == float("inf")
    assert psnr(c, c + 0.1, 1.0) == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert ssim(c, c, 1.0) == pytest.approx(1.0)
    # constant vs constant at another level: only the luminance term differs, (2 ab + C1) / (a^2 + b^2 + C1)
    c1 = (0.01 * 10.0) ** 2
    assert ssim(c, c + 1.0, 10.0) == pytest.approx((2 * 7 * 8 + c1) / (49 + 64 + c1))
    with pytest.raises(ValueError, match="constant reference"):
        vif(c, c, 1.0)
    with pytest.raises(ValueError, match="data_range"):
        image_quality(c, c)  # the default data_range (the reference's ptp) is 0
