"""translate(): whole images of any size, stride padding with a warning, bad input errors."""

import numpy as np
import pytest

from keras_spm.models.gan import generator_stride, resnet_generator, translate, unet_generator


def test_stride_and_padding_round_trip():
    resnet = resnet_generator((None, None, 1), n_blocks=1, filters=4)
    unet = unet_generator((None, None, 1), filters=4, num_downs=5)
    assert generator_stride(resnet) == 4 and generator_stride(unet) == 32
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (64, 96)).astype(np.float32)
    out = translate(resnet, image)
    assert out.shape == image.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, resnet.predict(image[None, ..., None], verbose=0)[0, ..., 0], atol=1e-6)
    odd = rng.uniform(-1, 1, (2, 50, 70, 1))
    with pytest.warns(UserWarning, match="50x70 images are not multiples of the generator stride 32.*cropped back"):
        out = translate(unet, odd)
    assert out.shape == odd.shape
    assert translate(resnet, image[..., None]).shape == (64, 96, 1)


def test_bad_input_names_the_fix():
    gen = resnet_generator((None, None, 1), n_blocks=0, filters=2)
    with pytest.raises(ValueError, match="1-channel images, got 3 channels.*grayscale"):
        translate(gen, np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, 1\)"):
        translate(gen, np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="1 NaN/inf"):
        bad = np.zeros((8, 8))
        bad[1, 1] = np.nan
        translate(gen, bad)
    with pytest.raises(TypeError, match="numeric"):
        translate(gen, np.zeros((8, 8), dtype=bool))
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\]"):
        translate(gen, np.full((8, 8), 255.0))
    with pytest.raises(ValueError, match="expected"):
        translate(gen, np.zeros(8))
