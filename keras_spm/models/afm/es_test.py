import keras
import numpy as np

from keras_spm.models.afm import es


def test_exact_parameter_counts():
    assert es().count_params() == 169_970  # thesis Table 3
    assert es((128, 128, 6)).count_params() == 151_538  # 6-slice (ED-AFM) preset


def test_parameter_budget_by_part():
    m = es()
    per_tip = sum(m.get_layer(f"co_{n}").count_params() for n in ("enc_conv3d_1", "enc_conv3d_2", "enc_conv3d_3"))
    assert per_tip + m.get_layer("co_conv2d").count_params() == 22_952
    assert m.get_layer("merge_conv1x1").kernel.shape == (1, 1, 128, 64)
    assert m.get_layer("latent_conv_1").kernel.shape == (3, 3, 64, 64)
    # the two tips have separate (unshared) encoders: two of everything before the merge
    assert m.get_layer("xe_conv2d").count_params() == m.get_layer("co_conv2d").count_params() == 18_496


def test_two_tip_inputs_outputs_and_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    m = es((64, 64, 6))
    rng = np.random.default_rng(0)
    x = {
        "CO": rng.normal(size=(2, 64, 64, 6)).astype("float32"),
        "Xe": rng.normal(size=(2, 64, 64, 6)).astype("float32"),
    }
    y = m.predict(x, verbose=0)
    assert set(y) == {"es", "height"} and y["es"].shape == (2, 64, 64)
    assert y["height"].min() >= 0
    # the Xe stack matters: changing it changes the prediction
    y2 = m.predict({"CO": x["CO"], "Xe": x["Xe"] * 0}, verbose=0)
    assert np.abs(y2["es"] - y["es"]).max() > 0
    m.save(tmp_path / "es.keras")
    loaded = keras.saving.load_model(tmp_path / "es.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0)["es"], y["es"])
