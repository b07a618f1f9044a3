"""A 6-slice network warm-started from a 10-slice one computes the same maps when both z planes agree."""

import keras
import numpy as np
import pytest

from keras_spm.models.afm import from_preset
from keras_spm.models.afm.transfer import _fold_planes, transfer_to_fewer_slices


def test_fold_sums_the_planes_channel_by_channel():
    kernel = np.arange(3 * 3 * 32 * 2, dtype=float).reshape(3, 3, 32, 2)
    folded = _fold_planes(kernel, 16)
    np.testing.assert_array_equal(folded[:, :, 5], kernel[:, :, 5] + kernel[:, :, 21])
    with pytest.raises(ValueError, match="not a whole number"):
        _fold_planes(kernel, 12)


def test_six_slice_dsh_from_ten_is_exact_on_a_z_uniform_stack():
    keras.utils.set_random_seed(0)
    ten, six = from_preset("dsh_10slice"), from_preset("dsh_6slice")
    transfer_to_fewer_slices(ten, six)
    same = zip(
        ten.get_layer("disks_out_conv").get_weights(), six.get_layer("disks_out_conv").get_weights(), strict=True
    )
    assert all(np.array_equal(a, b) for a, b in same)
    # the same image at every height: both z planes of the 10-slice encoder see the same thing
    image = np.random.default_rng(0).normal(size=(1, 128, 128, 1)).astype("float32")
    a = ten.predict(np.repeat(image, 10, axis=-1), verbose=0)
    b = six.predict(np.repeat(image, 6, axis=-1), verbose=0)
    for name in ("disks", "spheres", "height"):  # symmetric z padding: both planes are equal, the maps too
        assert np.abs(a[name]).max() > 0, name
        np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-5 * np.abs(a[name]).max())


def test_es_transfer_and_a_mismatch_is_refused():
    six = transfer_to_fewer_slices(from_preset("es_10slice"), from_preset("es_6slice"))
    assert six.get_layer("co_conv2d").kernel.shape == (3, 3, 16, 64)
    with pytest.raises(ValueError, match="no counterpart"):
        transfer_to_fewer_slices(from_preset("dsh_10slice"), from_preset("es_6slice"))


def test_xyz_with_patch_branch_starts_with_the_old_predictions():
    from keras_spm.models.afm.transfer import transfer_adding_inputs
    from keras_spm.models.afm.xyz import xyz

    keras.utils.set_random_seed(1)
    old, new = xyz(), xyz(patch_filters=8)
    transfer_adding_inputs(old, new)
    assert not new.get_layer("patch_to_trunk").get_weights()[0].any()  # the branch is switched off ...
    assert new.get_layer("patch_conv").get_weights()[0].any()  # ... but trainable from a random start
    stack = np.random.default_rng(1).normal(size=(2, 128, 128, 10)).astype("float32")
    a, b = old.predict(stack, verbose=0), new.predict(stack, verbose=0)
    eager = new(stack, training=False)  # no graph optimiser: what the layers say
    for head in ("xyz_class", "xyz_offset"):
        np.testing.assert_allclose(a[head], b[head], atol=1e-5)
        np.testing.assert_allclose(b[head], np.asarray(eager[head]), atol=1e-5)
    with pytest.raises(ValueError, match="patch_filters"):
        xyz(patch_filters=-1)


def test_a_kernel_with_new_input_channels_starts_with_zeros_on_them():
    from keras_spm.models.afm.transfer import transfer_adding_inputs

    def net(channels):
        inp = keras.Input((8, 8, channels))
        return keras.Model(inp, keras.layers.Conv2D(4, 3, name="c")(inp))

    keras.utils.set_random_seed(2)
    small, big = net(3), net(5)
    transfer_adding_inputs(small, big)
    kernel = big.get_layer("c").get_weights()[0]
    np.testing.assert_array_equal(kernel[:, :, :3], small.get_layer("c").get_weights()[0])
    assert not kernel[:, :, 3:].any()
    with pytest.raises(ValueError, match="'c'"):
        transfer_adding_inputs(big, net(3))  # fewer inputs than the source: nothing to carry over
