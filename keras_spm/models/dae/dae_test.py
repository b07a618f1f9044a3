"""Tests of the tip-artifact denoising autoencoders and their losses (keras_spm.models.dae)."""

import keras
import numpy as np
import pytest
from keras import ops
from skimage.metrics import structural_similarity

from keras_spm.models import dae
from keras_spm.sim import tip as T


def _pairs(n=2, size=32, seed=0):
    """Tiny batch of (corrupted, clean) images in [0, 1] made with the tip simulator."""
    rng = np.random.default_rng(seed)
    from scipy import ndimage

    clean = np.stack([ndimage.gaussian_filter(rng.normal(size=(size, size)), 1.5) for _ in range(n)])
    clean = (clean - clean.min()) / np.ptp(clean)
    tip = T.parabolic_tip(2.0, 1.0, size=7)
    bad = np.stack([T.simulate_scan(c * 4, tip) / 4 for c in clean])
    return bad[..., None].astype("float32"), clean[..., None].astype("float32")


def _for(name, x):
    """``x`` with the slope-scale channel appended for the scale-aware presets (2 input channels)."""
    if dae.PRESETS[name].get("channels", 1) == 2:
        return np.concatenate([x, np.full_like(x, 0.5)], axis=-1)
    return x


@pytest.mark.parametrize("name", sorted(dae.PRESETS))
def test_preset_parameter_counts_and_shapes(name):
    model = dae.from_preset(name)
    assert model.count_params() == dae.PRESETS[name]["params"]
    stride = dae.PRESETS[name]["stride"]
    small = max(stride * 2, dae.PRESETS[name].get("min_size", 0))
    for h, w in ((small, small + stride), (64, 48)):
        channels = dae.PRESETS[name].get("channels", 1)
        y = model.predict(np.zeros((2, h, w, channels), "float32"), verbose=0)
        assert y.shape == (2, h, w, 1)


def test_bad_input_shape_and_preset():
    with pytest.raises(ValueError, match=r"\(H, W, 1\)"):
        dae.skip_dae(input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="unknown DAE preset"):
        dae.from_preset("dae_huge")


def test_residual_model_outputs_input_minus_residual():
    model = dae.residual_dae()
    conv = model.get_layer("residual")
    conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
    x, _ = _pairs()
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)


@pytest.mark.parametrize("name", sorted(n for n, p in dae.PRESETS.items() if "tip_weight" not in p))
def test_training_steps_reduce_loss(name):  # the tip-erosion preset learns through its tip loss: tip_erosion_test.py
    keras.utils.set_random_seed(0)
    model = dae.compile_preset(dae.from_preset(name), name, learning_rate=1e-3)
    loss = dae.preset_loss(name)
    x, y = _pairs(size=32)
    x = _for(name, x)

    def value():
        return float(loss(y, model(x, training=True)))

    before = value()
    for _ in range(3):  # the output conv starts at zero (identity network): Adam's first step is a blind +-lr
        model.train_on_batch(x, y)
    assert value() < before


def test_ssim_matches_skimage_on_random_pair():
    rng = np.random.default_rng(3)
    a = rng.uniform(size=(2, 40, 36, 1)).astype("float32")
    b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1).astype("float32")
    ours = ops.convert_to_numpy(dae.ssim_per_image(a, b, max_val=1.0))
    for i in range(2):
        ref = structural_similarity(
            a[i, ..., 0], b[i, ..., 0], data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        assert ours[i] == pytest.approx(ref, abs=2e-5)
    assert float(dae.SSIMLoss()(a, a)) == pytest.approx(0.0, abs=1e-5)


def test_gradient_and_combined_losses():
    ramp = np.tile(np.arange(16, dtype="float32") * 0.1, (16, 1))[None, ..., None]
    zero = np.zeros_like(ramp)
    assert float(dae.GradientLoss()(zero, ramp)) == pytest.approx(0.1, rel=1e-5)  # x slope 0.1, y slope 0
    assert float(dae.GradientLoss()(zero, ramp + 3.0)) == pytest.approx(0.1, rel=1e-5)  # offsets do not matter
    combo = dae.RestorationLoss(mae_weight=2.0, ssim_weight=0.0, gradient_weight=1.0)
    expected = 2.0 * ramp.mean() + 0.1
    assert float(combo(zero, ramp)) == pytest.approx(expected, rel=1e-5)
    again = dae.RestorationLoss.from_config(combo.get_config())
    assert float(again(zero, ramp)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # saved before any training step
@pytest.mark.parametrize("name", sorted(dae.PRESETS))
def test_keras_save_load_round_trip(name, tmp_path):
    model = dae.compile_preset(dae.from_preset(name), name)
    x = _for(name, _pairs(size=32)[0])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert loaded.loss.get_config() == model.loss.get_config()


@pytest.mark.parametrize("builder", [dae.compact_dae, dae.skip_dae])
def test_sigmoid_output_of_the_source_has_the_same_parameter_count(builder):
    x, _ = _pairs(size=32)
    ours, source = builder(), builder(residual_output=False)
    assert ours.count_params() == source.count_params()
    np.testing.assert_allclose(ours.predict(x, verbose=0), x, atol=1e-6)  # zero-initialised correction: identity
    y = source.predict(x, verbose=0)
    assert np.all((y > 0) & (y < 1)) and not np.allclose(y, x, atol=1e-2)  # re-draws the image from scratch


def test_context_branch_starts_as_the_network_without_it():
    rng = np.random.default_rng(0)
    plain = dae.topography_dae()
    plain.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in plain.get_weights()])
    context = dae.topography_dae(global_context=True)
    fresh = dae.copy_weights_by_name(dae.topography_dae_raw(), dae.topography_dae())  # zoo form: its inner network
    assert fresh == []
    assert dae.copy_weights_by_name(plain, context) == ["context_dense", "context_out"]
    x = rng.random((2, 32, 48, 2)).astype("float32")
    np.testing.assert_allclose(context(x), plain(x), atol=1e-6)
    with pytest.raises(ValueError, match="context_dense.*no namesake"):
        dae.copy_weights_by_name(context, plain)
    with pytest.raises(ValueError, match="enc0_conv1.*weights"):
        dae.copy_weights_by_name(dae.topography_dae(filters=(8, 16, 32, 48)), plain)
