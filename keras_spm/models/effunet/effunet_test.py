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
