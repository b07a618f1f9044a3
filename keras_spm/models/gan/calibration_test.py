"""Per-image mean calibration: the fit, numpy and Keras versions agree, and a calibrated generator stays flat."""

import numpy as np
import pytest

from keras_spm.models.gan import generator_stride, load_generator, translate, unet_generator
from keras_spm.models.gan.calibration import MeanCalibration, MeanCalibrationLayer, calibrated_generator


def _pairs(n=5, a=0.05, b=1.2, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        conv = rng.random((16, 16)) * rng.uniform(0.2, 0.9)
        ms = rng.random((16, 16))
        ms *= (a + b * conv.mean()) / ms.mean()
        out.append((conv, ms))
    return out


def test_fit_recovers_the_line_and_apply_sets_the_mean():
    cal = MeanCalibration.fit(_pairs())
    assert (cal.a, cal.b) == pytest.approx((0.05, 1.2), abs=1e-9)
    conv, _ = _pairs(1, seed=3)[0]
    pred = np.random.default_rng(4).random((16, 16)) * 0.3
    out = cal.apply(pred, conv)
    assert out.mean() == pytest.approx(0.05 + 1.2 * conv.mean())
    np.testing.assert_allclose(out / out.mean(), pred / pred.mean())  # texture kept
    assert MeanCalibration.from_json(cal.to_json()).b == cal.b
    with pytest.raises(ValueError, match="at least 2"):
        MeanCalibration.fit(_pairs(1))


def test_layer_matches_numpy():
    rng = np.random.default_rng(1)
    conv, pred = rng.random((2, 1, 12, 12, 1)) * 0.5
    cal = MeanCalibration(0.02, 1.1)
    out = np.asarray(MeanCalibrationLayer(0.02, 1.1)(2 * conv - 1, 2 * pred - 1))
    np.testing.assert_allclose((out + 1) / 2, cal.apply(pred, conv), atol=1e-6)


def test_calibrated_generator_is_flat_size_free_and_reloads(tmp_path):
    g = unet_generator((None, None, 1), filters=4, num_downs=5, upsampling="resize")
    model = calibrated_generator(g, MeanCalibration(0.1, 1.0))
    assert model.layers[-1].name == "mean_calibration" and generator_stride(model) == 32
    path = tmp_path / "cal.keras"
    model.save(path)
    again = load_generator(path, input_shape=(None, None, 1))
    x = np.random.default_rng(0).random((40, 70)).astype(np.float32) * 2 - 1
    with pytest.warns(UserWarning, match="reflection-padded"):
        y = translate(again, x)
    assert y.shape == x.shape
    conv_mean = float(np.mean((x + 1) / 2))  # the mean is set on the padded image; the crop moves it a little
    assert np.mean((y + 1) / 2) == pytest.approx(0.1 + conv_mean, abs=0.03)


def test_translate_redoes_the_calibration_on_the_cropped_image():
    g = unet_generator((None, None, 1), filters=4, num_downs=5, upsampling="resize")
    cal = MeanCalibration(0.08, 1.0)
    model = calibrated_generator(g, cal)
    x = np.zeros((40, 70), np.float32) - 1
    x[10:30, 20:50] = np.random.default_rng(0).random((20, 30)) * 2 - 1  # a particle on vacuum
    with pytest.warns(UserWarning, match="reflection-padded"):
        y = translate(model, x)
    assert np.mean((y + 1) / 2) == pytest.approx(cal.target_mean((x + 1) / 2), rel=1e-4)
