import keras
import numpy as np
import pytest

from keras_spm.models.afm import (
    DepthDiscountedPositionLoss,
    FocalLoss,
    compile_dsh,
    compile_es,
    compile_xyz,
    dsh,
    xyz_targets,
)
from keras_spm.models.afm.losses import DSH_LOSS_WEIGHTS, CompandedMSE, es_losses


def test_focal_loss_hand_computed():
    # box 1: atom, P(atom)=0.8 -> 0.7 * 0.2**1.25 * -ln 0.8 = 0.0208915
    # box 2: background, P(atom)=0.4 -> 0.3 * 0.4**1.25 * -ln 0.6 = 0.0487494 ; mean = 0.0348204
    y_true = np.array([[[1.0, 0.3, 0.1, -0.2], [0.0, 0.0, 0.0, 0.0]]], "float32")  # extra channels ignored
    y_pred = np.array([[[0.2, 0.8], [0.6, 0.4]]], "float32")
    loss = FocalLoss()(y_true, y_pred)
    np.testing.assert_allclose(float(loss), 0.0348204, rtol=1e-5)


def test_focal_loss_reduces_to_balanced_cross_entropy_with_gamma_zero():
    y_true = np.array([[[1.0], [0.0]]], "float32")
    y_pred = np.array([[[0.1, 0.9], [0.7, 0.3]]], "float32")
    loss = FocalLoss(gamma=0.0, alpha_n=0.5)(y_true, y_pred)
    np.testing.assert_allclose(float(loss), 0.5 * (-np.log(0.9) - np.log(0.7)) / 2, rtol=1e-5)
    # a perfect prediction costs (almost) nothing, a confident wrong one a lot
    assert float(FocalLoss()(y_true, np.array([[[0, 1], [1, 0]]], "float32"))) < 1e-6
    assert float(FocalLoss()(y_true, np.array([[[1, 0], [0, 1]]], "float32"))) > 2.0


def test_position_loss_hand_computed():
    y_true = np.zeros((2, 1, 3, 4), "float32")
    y_pred = np.zeros((2, 1, 3, 3), "float32")
    y_true[0, 0, 0] = [1, 0.1, -0.2, 0.0]  # top atom, error 0.2 in x -> 0.04 * exp(0) = 0.04
    y_pred[0, 0, 0] = [0.3, -0.2, 0.0]
    y_true[0, 0, 1] = [1, 0.0, 0.0, -1.0]  # 1 A deep, error 0.5 in y -> 0.25 * exp(-1) = 0.0919699
    y_pred[0, 0, 1] = [0.0, 0.5, -1.0]
    y_pred[0, 0, 2] = [9.0, 9.0, 9.0]  # background box: ignored
    y_pred[1] = 5.0  # sample without atoms: zero
    # sample 0: (0.04 + 0.0919699) / 2 atoms = 0.0659849; batch mean = 0.0329925
    loss = DepthDiscountedPositionLoss(sigma=1.0)(y_true, y_pred)
    np.testing.assert_allclose(float(loss), 0.0329925, rtol=1e-5)
    # a larger sigma discounts less
    assert float(DepthDiscountedPositionLoss(sigma=10.0)(y_true, y_pred)) > float(loss)
    with pytest.raises(ValueError, match="sigma must be positive"):
        DepthDiscountedPositionLoss(sigma=0)


def test_losses_serialize():
    for loss in (FocalLoss(gamma=2.0, alpha_n=0.25), DepthDiscountedPositionLoss(sigma=0.5)):
        clone = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(clone) is type(loss) and clone.get_config() == loss.get_config()


def test_companded_mse_hand_computed():
    # scale 0.02: 0.002 V/A off near zero costs ~ its square; 0.2 V/A off on a 0.5 V/A peak costs far less than 0.04
    s = 0.02
    y_true = np.array([[0.0, 0.5]], "float32")
    y_pred = np.array([[0.002, 0.3]], "float32")
    expected = np.mean((s * np.arcsinh(y_pred / s) - s * np.arcsinh(y_true / s)) ** 2)
    np.testing.assert_allclose(float(CompandedMSE(s)(y_true, y_pred)), expected, rtol=1e-5)
    near_zero = float(CompandedMSE(s)(np.zeros((1, 1), "float32"), np.full((1, 1), 0.002, "float32")))
    np.testing.assert_allclose(near_zero, 0.002**2, rtol=0.01)  # linear below the scale
    peak = float(CompandedMSE(s)(np.full((1, 1), 0.5, "float32"), np.full((1, 1), 0.3, "float32")))
    assert peak < 0.2**2 / 50  # logarithmic above it
    with pytest.raises(ValueError, match="scale must be positive"):
        CompandedMSE(0.0)
    clone = keras.losses.deserialize(keras.losses.serialize(CompandedMSE(0.05)))
    assert type(clone) is CompandedMSE and clone.scale == 0.05
    losses, weights = es_losses(es_scale=0.03)
    assert (
        isinstance(losses["es"], CompandedMSE) and losses["es"].scale == 0.03 and weights == {"es": 1.0, "height": 0.1}
    )
    assert isinstance(es_losses()[0]["es"], keras.losses.MeanSquaredError)


def test_compile_dsh_total_is_the_weighted_sum_of_map_mse():
    keras.utils.set_random_seed(0)
    model = compile_dsh(dsh((32, 32, 10)), lr=1e-3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 32, 32, 10)).astype("float32")
    y = {k: rng.uniform(size=(2, 32, 32)).astype("float32") for k in ("disks", "spheres", "height")}
    pred = model.predict(x, verbose=0)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    mse = {k: float(np.mean((pred[k] - y[k]) ** 2)) for k in y}
    expected = sum(DSH_LOSS_WEIGHTS[k] * mse[k] for k in y)
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-4)
    np.testing.assert_allclose(result["disks_loss"], mse["disks"], rtol=1e-4)
    assert DSH_LOSS_WEIGHTS == {"disks": 20.0, "spheres": 0.3, "height": 0.2}


def test_compile_helpers_check_the_outputs():
    with pytest.raises(ValueError, match="missing.*compile_dsh / compile_es / compile_xyz"):
        compile_es(dsh((32, 32, 10)))


def test_compile_xyz_trains_on_encode_xyz_targets():
    from keras_spm.models.afm import xyz

    keras.utils.set_random_seed(0)
    model = compile_xyz(xyz((32, 32, 6)), lr=1e-3)
    target = np.zeros((4, 4, 4, 4), "float32")
    target[:, 1, 2] = [1, 0.1, -0.1, -0.5]
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 6)).astype("float32")
    history = model.fit(x, xyz_targets(target), epochs=3, batch_size=4, verbose=0).history
    assert set(history) >= {"loss", "xyz_class_loss", "xyz_offset_loss"}
    assert history["loss"][-1] < history["loss"][0]
    np.testing.assert_allclose(
        history["loss"][0], history["xyz_class_loss"][0] + 0.15 * history["xyz_offset_loss"][0], rtol=1e-4
    )
