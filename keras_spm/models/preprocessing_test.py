"""Input scaling layers: the numpy scalings they replace, idempotence, constant images, serialisation."""

import keras
import numpy as np
import pytest

from keras_spm.datasets import afm_style, stem_pairs
from keras_spm.models.afm import standardize_stack
from keras_spm.models.dae.restore import normalize
from keras_spm.models.effunet import prepare_image
from keras_spm.models.preprocessing import MinMaxScale, PeakScale, PercentileScale, PercentileUnscale, StandardizeSlices

RNG = np.random.default_rng(0)


def test_standardize_slices_is_standardize_stack_and_idempotent():
    x = (RNG.standard_normal((2, 16, 12, 5)) * 3 + 7).astype("float32")
    x[1, :, :, 2] = 4.0  # a constant slice becomes 0, not NaN
    out = np.asarray(StandardizeSlices()(x))
    np.testing.assert_allclose(out, standardize_stack(x), atol=1e-5)
    np.testing.assert_allclose(np.asarray(StandardizeSlices()(out)), out, atol=1e-5)
    assert np.all(out[1, :, :, 2] == 0)


def test_minmax_and_peak_scale_match_the_dataset_scalings():
    img = RNG.random((20, 24)) * 250 + 3
    np.testing.assert_allclose(
        np.asarray(MinMaxScale()(img[None, ..., None]))[0, ..., 0], afm_style.normalize(img), atol=1e-5
    )
    stem = RNG.random((20, 24)) * 5 - 0.5  # negative pixels are clipped at 0, as stem_pairs.normalize does
    expected = stem_pairs.to_tanh_range(stem_pairs.normalize(stem))
    np.testing.assert_allclose(np.asarray(PeakScale()(stem[None, ..., None]))[0, ..., 0], expected, atol=1e-5)
    assert np.all(np.asarray(MinMaxScale()(np.full((1, 4, 4, 1), 3.0))) == 0)


def test_percentile_scale_matches_prepare_image_and_unscale_inverts_it():
    img = RNG.random((32, 40)) * 2e-9 + 5e-9  # metres: the layer computes in float32 but relative to the span
    x = img[None, ..., None].astype("float32")
    scaled = np.asarray(PercentileScale()(x))
    np.testing.assert_allclose(scaled[0, ..., 0], prepare_image(img), atol=1e-4)
    np.testing.assert_allclose(scaled[0, ..., 0], normalize(img)[0], atol=1e-4)
    back = np.asarray(PercentileUnscale()(scaled, x))
    np.testing.assert_allclose(back, x, rtol=1e-5)
    with pytest.raises(ValueError, match="low < high"):
        PercentileScale(low=60, high=40)


def test_layers_survive_a_save_and_load(tmp_path):
    inp = keras.Input((8, 8, 1))
    x = PercentileScale(low=1.0, high=99.0)(inp)
    out = PercentileUnscale(low=1.0, high=99.0)(MinMaxScale()(PeakScale()(StandardizeSlices()(x))), inp)
    model = keras.Model(inp, out)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    data = RNG.random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-6)
    assert loaded.layers[1].low == 1.0
