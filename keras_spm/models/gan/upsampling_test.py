"""Upsampling options of the generators: shapes, save/load, and the checkerboard that only transpose has."""

import keras
import numpy as np
import pytest
from scipy import ndimage

from keras_spm.metrics.fidelity import checkerboard_amplitude
from keras_spm.models.gan import load_generator, resnet_generator, unet_generator
from keras_spm.models.gan.upsampling import ICNR, PixelShuffle


def _smooth(n=64):
    x = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=(n, n)), 3.0)
    return (0.8 * x / np.abs(x).max()).astype(np.float32)


def _small(kind, mode, shape=(64, 64, 1), **kw):
    keras.utils.set_random_seed(0)
    if kind == "resnet":
        return resnet_generator(shape, n_blocks=1, filters=8, upsampling=mode, **kw)
    return unet_generator(shape, filters=8, num_downs=5, upsampling=mode, **kw)


def test_pixel_shuffle_matches_depth_to_space_and_icnr_starts_blocky():
    import tensorflow as tf

    x = np.random.default_rng(1).normal(size=(2, 5, 7, 12)).astype(np.float32)
    out = np.asarray(PixelShuffle(2)(x))
    np.testing.assert_array_equal(out, tf.nn.depth_to_space(x, 2).numpy())
    assert out.shape == (2, 10, 14, 3)
    kernel = np.asarray(ICNR(keras.initializers.RandomNormal(0, 1, seed=0))((3, 3, 4, 12)))
    for k in range(1, 4):  # the four sub-pixel kernels are copies
        np.testing.assert_array_equal(kernel[..., 3 * k : 3 * k + 3], kernel[..., :3])
    y = np.asarray(PixelShuffle(2)(np.einsum("bhwi,io->bhwo", x[..., :4], kernel[1, 1])))
    np.testing.assert_allclose(y[:, ::2, ::2], y[:, 1::2, 1::2], atol=1e-6)  # every 2x2 block constant
    with pytest.raises(ValueError, match="divisible"):
        ICNR()((3, 3, 4, 6))


@pytest.mark.parametrize("kind", ["resnet", "unet"])
def test_shapes_and_bad_mode(kind):
    for mode in ("transpose", "resize", "subpixel"):
        g = _small(kind, mode, shape=(None, None, 1))
        assert g(np.zeros((1, 64, 96, 1), np.float32)).shape == (1, 64, 96, 1)
    with pytest.raises(ValueError, match="upsampling must be one of"):
        _small(kind, "bilinear")
    # resize keeps the transpose version's parameter count in the ResNet (3x3 kernels both)
    if kind == "resnet":
        assert _small(kind, "resize").count_params() == _small(kind, "transpose").count_params()


@pytest.mark.parametrize("mode", ["resize", "subpixel"])
def test_save_and_load_at_any_size(tmp_path, mode):
    g = _small("resnet", mode, input_skip=True)
    path = tmp_path / "g.keras"
    g.save(path)
    x = _smooth()[None, ..., None]
    again = load_generator(path)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(g(x)), atol=1e-6)
    anysize = load_generator(path, input_shape=(None, None, 1))
    x2 = np.pad(x, ((0, 0), (0, 32), (0, 0), (0, 0)), mode="reflect")
    assert anysize(x2).shape == (1, 96, 64, 1)


@pytest.mark.parametrize("kind", ["resnet", "unet"])
def test_checkerboard_at_initialisation(kind):
    """Untrained generators on a smooth image: transpose leaves a period-2 checkerboard, the others do not."""
    x = _smooth()[None, ..., None]
    rel = {}
    for mode in ("transpose", "resize", "subpixel"):
        y = np.asarray(_small(kind, mode)(x, training=False))[0, ..., 0]
        rel[mode] = checkerboard_amplitude(y) / y.std()
    assert rel["transpose"] > 0.1
    assert rel["resize"] < 0.02 and rel["subpixel"] < 0.02
    assert rel["transpose"] > 10 * max(rel["resize"], rel["subpixel"])
