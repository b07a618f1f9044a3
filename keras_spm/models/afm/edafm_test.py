import keras
import numpy as np
import pytest

from keras_spm.models.afm import edafm


def test_quarter_width_maps_both_tips_to_es_and_height_and_reloads(tmp_path):
    model = edafm(width=0.25)
    assert [tuple(t.shape) for t in model.inputs] == [(None, 128, 128, 6)] * 2
    rng = np.random.default_rng(0)
    x = {tip: rng.standard_normal((2, 128, 128, 6)).astype(np.float32) for tip in ("CO", "Xe")}
    out = model.predict(x, verbose=0)
    assert {k: v.shape for k, v in out.items()} == {"es": (2, 128, 128), "height": (2, 128, 128)}
    names = {layer.name for layer in model.layers}
    assert (out["height"] >= 0).all() and "height_softplus" in names and "es_relu" not in names  # ES is signed
    model.save(tmp_path / "edafm.keras")
    again = keras.models.load_model(tmp_path / "edafm.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0)["es"], out["es"], atol=1e-5)


def test_attention_maps_are_softmaxes_over_the_pixels_of_each_skip():
    model = edafm(width=0.25)
    maps = keras.Model(model.inputs, [model.get_layer(f"att{i}_map").output for i in (1, 2, 3)])
    x = {tip: np.random.default_rng(1).standard_normal((1, 128, 128, 6)).astype(np.float32) for tip in ("CO", "Xe")}
    for a, size in zip(maps.predict(x, verbose=0), (32, 64, 128), strict=True):
        assert a.shape == (1, size, size, 1) and np.isclose(a.sum(), 1.0, atol=1e-4) and (a >= 0).all()


def test_z_pooling_follows_ed_afm_and_bad_shapes_are_refused():
    model = edafm(width=0.25, tips=("CO",), outputs={"es": None})
    # z strides 2, 1, 2 on 6 slices: skips of 6, 3 and 2 planes, one plane into the middle block
    assert [model.get_layer(f"enc{i}_fold_z").output.shape[-1] for i in (1, 2, 3)] == [12 * 6, 24 * 3, 48 * 2]
    assert model.get_layer("middle_fold_z").output.shape[-1] == 48
    with pytest.raises(ValueError, match="at least 4 slices"):
        edafm((128, 128, 3))
    with pytest.raises(ValueError, match="width"):
        edafm(width=0)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_height_head_is_alive_at_initialisation(seed):
    """With these seeds a ReLU height head output 0 on every pixel (no gradient, never trained); softplus cannot."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = edafm(width=0.25)
    x = {tip: np.random.default_rng(1).standard_normal((1, 128, 128, 6)).astype(np.float32) for tip in ("CO", "Xe")}
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x)["height"] - 1.0))
    kernel = model.get_layer("height_out_conv").kernel
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, kernel)))) > 0
