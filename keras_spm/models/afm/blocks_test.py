import keras
import numpy as np
import pytest

from keras_spm.models.afm.blocks import check_input_shape, check_stack, standardize_stack
from keras_spm.models.layers import ReflectionPadding


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
def test_padding_matches_numpy_on_2d_and_3d(mode):
    rng = np.random.default_rng(0)
    x3 = rng.normal(size=(2, 5, 6, 4, 3)).astype("float32")
    y3 = np.asarray(ReflectionPadding((1, 2, 1), mode=mode)(x3))
    np.testing.assert_array_equal(y3, np.pad(x3, [(0, 0), (1, 1), (2, 2), (1, 1), (0, 0)], mode=mode))
    x2 = rng.normal(size=(1, 7, 5, 2)).astype("float32")
    y2 = np.asarray(ReflectionPadding((2, 1), mode=mode)(x2))
    np.testing.assert_array_equal(y2, np.pad(x2, [(0, 0), (2, 2), (1, 1), (0, 0)], mode=mode))


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
def test_one_op_padding_and_its_gradient_equal_the_slice_padding(mode):
    import tensorflow as tf

    layer = ReflectionPadding((1, 2, 1), mode=mode)
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 5, 6, 4, 3)), tf.float32)
    w = tf.constant(np.random.default_rng(2).normal(size=(2, 7, 10, 6, 3)), tf.float32)
    grads = []
    for pad in (lambda t: layer(t, training=True), layer.pad_by_slices):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = pad(x)
            loss = tf.reduce_sum(w * y)
        grads.append((y.numpy(), tape.gradient(loss, x).numpy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-6, atol=1e-6)


def test_symmetric_padding_repeats_the_edge_like_the_original_asd_afm_code():
    x = np.arange(4, dtype="float32").reshape(1, 4, 1, 1)
    y = np.asarray(ReflectionPadding((1, 0), mode="symmetric")(x))[0, :, 0, 0]
    np.testing.assert_array_equal(y, [0, 0, 1, 2, 3, 3])
    # Works on an axis of length 1 (a 6-slice stack pooled to one z-plane), where "reflect" cannot.
    one = np.ones((1, 3, 3, 1, 2), "float32")
    assert np.asarray(ReflectionPadding((1, 1, 1), mode="symmetric")(one)).shape == (1, 5, 5, 3, 2)


def test_padding_config_round_trip_and_bad_mode():
    layer = ReflectionPadding((1, 1), mode="symmetric", name="p")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert (clone.padding, clone.mode) == ((1, 1), "symmetric")
    assert ReflectionPadding((1, 1)).mode == "reflect"  # the default keeps the old behaviour
    with pytest.raises(ValueError, match="mode must be one of"):
        ReflectionPadding((1, 1), mode="wrap")


def test_check_stack_accepts_good_stacks_and_adds_a_batch_axis():
    x = np.zeros((128, 128, 10))
    out = check_stack(x)
    assert out.shape == (1, 128, 128, 10) and out.dtype == np.float32
    assert check_stack(np.zeros((3, 128, 128, 6)), n_slices=6).shape == (3, 128, 128, 6)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((128, 128), r"expected \(batch, 128, 128, 10\)"),
        ((2, 128, 128, 8), r"has 8 slices; expected \(batch, 128, 128, 10\).*select 10"),
        ((2, 64, 64, 10), r"64 x 64 pixels.*Resample or crop"),
        ((2, 10, 128, 128), r"slices first.*np.moveaxis"),
    ],
)
def test_check_stack_rejects_wrong_shapes_naming_expected_shape_and_fix(shape, message):
    with pytest.raises(ValueError, match=message):
        check_stack(np.zeros(shape))


def test_check_stack_rejects_nan_and_inf():
    x = np.zeros((128, 128, 10))
    x[3, 4, 5] = np.nan
    x[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 NaN/inf values.*nan_to_num"):
        check_stack(x)
    with pytest.raises(ValueError, match="numeric array"):
        check_stack([["a"]])


def test_standardize_stack_per_slice():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(2, 16, 16, 4))
    x[1, ..., 2] = 5.0  # a constant slice must not divide by zero
    s = standardize_stack(x)
    np.testing.assert_allclose(s[0].mean(axis=(0, 1)), 0, atol=1e-5)
    np.testing.assert_allclose(s[0].std(axis=(0, 1)), 1, atol=1e-5)
    np.testing.assert_array_equal(s[1, ..., 2], 0)


@pytest.mark.parametrize(
    "shape, message",
    [((128, 128), "height, width, slices"), ((100, 128, 10), "multiples of 8"), ((128, 128, 3), "at least 4 slices")],
)
def test_builder_input_shape_validation(shape, message):
    with pytest.raises(ValueError, match=message):
        check_input_shape(shape)
