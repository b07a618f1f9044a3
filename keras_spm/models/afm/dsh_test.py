import keras
import numpy as np
import pytest

from keras_spm.models.afm import check_stack, dsh


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return dsh()


def test_exact_parameter_count_of_asd_afm(model):
    assert model.count_params() == 122_811
    assert dsh((128, 128, 6)).count_params() == 113_595


def test_layer_structure_matches_the_published_model(model):
    convs3d = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv3D)]
    convs2d = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs3d] == [4, 8, 16]
    assert len(convs2d) == 2 + 3 * 7
    assert all(c.padding == "valid" and c.kernel_size == (3, 3) for c in convs2d)
    pools = [layer.pool_size for layer in model.layers if isinstance(layer, keras.layers.AveragePooling3D)]
    assert pools == [(2, 2, 2), (2, 2, 2), (2, 2, 1)]
    assert model.get_layer("fold_z").output.shape == (None, 16, 16, 32)
    assert model.get_layer("latent_conv_1").kernel.shape == (3, 3, 32, 64)
    # every conv is preceded by its padding layer
    assert all(model.get_layer(c.name + "_pad") for c in convs2d + convs3d)
    ups = [layer for layer in model.layers if isinstance(layer, keras.layers.UpSampling2D)]
    assert len(ups) == 9 and all(u.interpolation == "nearest" for u in ups)
    assert model.get_layer("spheres_relu") and model.get_layer("height_relu")
    assert "disks_relu" not in [layer.name for layer in model.layers]


def test_outputs_named_and_squeezed(model):
    x = check_stack(np.random.default_rng(0).normal(size=(128, 128, 10)))
    y = model.predict(x, verbose=0)
    assert set(y) == {"disks", "spheres", "height"}
    assert all(v.shape == (1, 128, 128) for v in y.values())
    assert y["spheres"].min() >= 0 and y["height"].min() >= 0


def test_keras_round_trip_without_custom_objects(model, tmp_path):
    x = np.random.default_rng(1).normal(size=(2, 128, 128, 10)).astype("float32")
    path = tmp_path / "dsh.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    a, b = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_bad_builder_arguments():
    with pytest.raises(ValueError, match="multiples of 8"):
        dsh((130, 128, 10))
    with pytest.raises(ValueError, match="padding_mode"):
        dsh(padding_mode="zeros")
