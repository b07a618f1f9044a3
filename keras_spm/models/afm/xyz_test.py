import keras
import numpy as np

from keras_spm.models.afm import xyz


def test_exact_parameter_count():
    m = xyz()
    assert m.count_params() == 560_941
    assert m.get_layer("fold_z").output.shape == (None, 16, 16, 32)
    assert [m.get_layer(f"trunk_conv_{i}").filters for i in (1, 2, 3)] == [128, 128, 128]
    assert m.get_layer("xyz_class_out_conv").filters == 2
    assert m.get_layer("xyz_offset_out_conv").filters == 3


def test_outputs_on_the_16x16_grid_and_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    m = xyz()
    x = np.random.default_rng(0).normal(size=(2, 128, 128, 10)).astype("float32")
    y = m.predict(x, verbose=0)
    assert y["xyz_class"].shape == (2, 16, 16, 2) and y["xyz_offset"].shape == (2, 16, 16, 3)
    np.testing.assert_allclose(y["xyz_class"].sum(-1), 1.0, atol=1e-5)
    m.save(tmp_path / "xyz.keras")
    y2 = keras.saving.load_model(tmp_path / "xyz.keras").predict(x, verbose=0)
    np.testing.assert_array_equal(y["xyz_offset"], y2["xyz_offset"])
