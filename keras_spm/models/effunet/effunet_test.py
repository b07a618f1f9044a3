"""Tests of the EfficientNet-U-Net segmentation model and its focal + Dice loss."""

import keras
import numpy as np
import pytest

from keras_spm.models.effunet import SKIP_LAYERS, FocalDiceLoss, efficientnet_unet


def test_b3_parameter_count_shapes_and_skips():
    model = efficientnet_unet("b3", classes=3, input_shape=(256, 256, 1))
    assert model.count_params() == 17_867_022
    assert model.output_shape == (None, 256, 256, 3)
    for name, stride in zip(SKIP_LAYERS, (2, 4, 8, 16), strict=True):
        assert model.get_layer(name).output.shape[1] == 256 // stride
    assert model.get_layer("top_activation").output.shape[1:3] == (8, 8)
    p = model.predict(np.random.default_rng(0).uniform(size=(1, 256, 256, 1)).astype("float32"), verbose=0)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="divisible by 32"):
        efficientnet_unet(input_shape=(100, 96, 1))
    with pytest.raises(ValueError, match="unknown backbone"):
        efficientnet_unet("b9")
    with pytest.raises(ValueError, match="classes"):
        efficientnet_unet(classes=1, input_shape=(64, 64, 1))


def test_focal_dice_loss_values():
    y = keras.utils.to_categorical(np.random.default_rng(0).integers(0, 3, (2, 8, 8)), 3)
    assert float(FocalDiceLoss()(y, y)) == pytest.approx(0.0, abs=1e-5)
    uniform = np.full_like(y, 1 / 3)
    loss = FocalDiceLoss(dice_weight=0.0)
    # focal term at p = 1/3 for the true class: alpha (1 - p)^gamma (-log p)
    assert float(loss(y, uniform)) == pytest.approx(0.25 * (2 / 3) ** 2 * np.log(3), rel=1e-4)
    again = FocalDiceLoss.from_config(FocalDiceLoss(gamma=1.5, dice_weight=2.0).get_config())
    assert (again.gamma, again.dice_weight) == (1.5, 2.0)


def test_training_steps_reduce_loss_and_save_load(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, 64, 64, 1)).astype("float32")
    labels = np.digitize(x[..., 0], [0.33, 0.66])  # learnable: class from intensity
    y = keras.utils.to_categorical(labels, 3)
    model = efficientnet_unet("b0", input_shape=(64, 64, 1))
    loss = FocalDiceLoss()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, run_eagerly=True)
    first = float(model.train_on_batch(x, y))
    for _ in range(3):
        last = float(model.train_on_batch(x, y))
    assert np.isfinite(first) and last < first
    path = tmp_path / "effunet.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert loaded.loss.get_config() == loss.get_config()


def test_b0_half_fits_the_zoo_and_border_weighted_loss():
    from keras_spm.models.effunet import BorderWeightedLoss

    model = efficientnet_unet("b0_half", input_shape=(128, 128, 1), decoder_filters=(96, 64, 32, 16, 16))
    assert model.count_params() == 1_846_614  # 7.4 MB of float32 weights: within the zoo's ~10 MB
    y = keras.utils.to_categorical(np.random.default_rng(0).integers(0, 3, (2, 8, 8)), 3)
    loss = BorderWeightedLoss()
    assert float(loss(y, y)) == pytest.approx(0.0, abs=1e-5)
    uniform = np.full_like(y, 1 / 3)
    # focal part with Dice off: the same per-pixel value everywhere, so the weighting cancels in the weighted mean
    assert float(BorderWeightedLoss(dice_weight=0.0)(y, uniform)) == pytest.approx(
        0.25 * (2 / 3) ** 2 * np.log(3), rel=1e-4
    )
    # half border, half background pixels: the same mistake costs 4x more on border pixels (0.8 vs 0.2)
    cls = np.zeros((1, 4, 4), int) + 2
    cls[:, :2] = 1
    truth = keras.utils.to_categorical(cls, 3)
    soft = 0.85 * truth + 0.05  # rows sum to 1: p = 0.9 on the true class
    wrong_border, wrong_bg = soft.copy(), soft.copy()
    wrong_border[:, :2] = soft[:, 2:]  # predicts background on the border rows
    wrong_bg[:, 2:] = soft[:, :2]  # predicts border on the background rows
    focal = BorderWeightedLoss(dice_weight=0.0)
    fw = 0.25 * 0.95**2 * -np.log(0.05)  # focal value of a wrong pixel, p_true = 0.05
    fr = 0.25 * 0.1**2 * -np.log(0.9)  # of a right pixel
    assert float(focal(truth, wrong_border)) == pytest.approx(0.8 * fw + 0.2 * fr, rel=1e-4)
    assert float(focal(truth, wrong_bg)) == pytest.approx(0.2 * fw + 0.8 * fr, rel=1e-4)
    again = BorderWeightedLoss.from_config(BorderWeightedLoss(0.7, 0.3).get_config())
    assert (again.border_weight, again.other_weight) == (0.7, 0.3)


def test_private_efficientnet_builder_still_exists():
    """b0_half relies on keras' private compound-scaled builder; fail loudly (with the fix) if keras moved it."""
    import inspect

    from keras_spm.models.effunet import effunet

    assert effunet._PrivateEfficientNet is not None, (
        f"keras {keras.__version__} no longer has keras.src.applications.efficientnet.EfficientNet: building the "
        "'b0_half' backbone (zoo effunet_nanoparticles) is broken. Pin keras to a version that has it, or port "
        "the compound-scaling builder into keras_spm.models.effunet; loading the saved zoo .keras still works."
    )
    params = list(inspect.signature(effunet._PrivateEfficientNet).parameters)
    assert params[:3] == ["width_coefficient", "depth_coefficient", "default_size"], (
        f"keras' private EfficientNet changed its positional arguments to {params[:3]}; fix _efficientnet_scaled."
    )


def test_b0_half_without_private_builder_raises_clear_error(monkeypatch):
    from keras_spm.models.effunet import effunet

    monkeypatch.setattr(effunet, "_PrivateEfficientNet", None)
    with pytest.raises(ImportError, match="b0_half.*private API"):
        efficientnet_unet("b0_half", input_shape=(64, 64, 1))
