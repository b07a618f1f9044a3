"""Losses of the ASD-AFM networks, as Keras ``loss`` / ``loss_weights`` dicts keyed by output name.

* DSH (Alldritt et al., Sci. Adv. 6, eaay6913, 2020): weighted sum of per-map MSE, weights
  disks 20 / spheres 0.3 / height 0.2 (the published ``train_models.py`` used 20 / 0.2 / 0.1,
  kept as :data:`DSH_LOSS_WEIGHTS_REPO`).
* ES: MSE, es 1.0 / height 0.1; optionally the ES term on companded maps (:class:`CompandedMSE`), which weighs the
  weak field near the map's nodal lines (where the sign goes wrong) and weakly charged molecules more.
* xyz (thesis Eqs. 26-30): focal loss on the class map (Lin et al., ICCV 2017, "Focal loss for
  dense object detection") plus 0.15 x a depth-discounted position loss on the boxes that hold
  an atom. The thesis' exact discount was not available to us; we use ``exp(dz / sigma)`` with
  the true ``dz = z - z_top <= 0``, so the top layer of atoms counts fully and deeper atoms,
  which AFM barely sees, count less (sigma = 1 Angstrom: an atom one layer down ~0.37).

Both xyz losses take the full ``keras_spm.descriptors.encode_xyz`` target (..., 4) as
``y_true`` (channel 0 = 1 atom / 0 background, 1:4 = offsets in Angstrom): pass
``{"xyz_class": target, "xyz_offset": target}`` (see :func:`xyz_targets`).
"""

from __future__ import annotations

import keras
from keras import ops

DSH_LOSS_WEIGHTS = {"disks": 20.0, "spheres": 0.3, "height": 0.2}
DSH_LOSS_WEIGHTS_REPO = {"disks": 20.0, "spheres": 0.2, "height": 0.1}
ES_LOSS_WEIGHTS = {"es": 1.0, "height": 0.1}
XYZ_LOSS_WEIGHTS = {"xyz_class": 1.0, "xyz_offset": 0.15}


@keras.saving.register_keras_serializable(package="keras_spm")
class FocalLoss(keras.losses.Loss):
    """Alpha-balanced focal loss on a two-class softmax map, mean over boxes.

    ``y_true[..., 0]`` is the atom indicator (1 atom, 0 background); any further channels
    (the offsets of an ``encode_xyz`` target) are ignored. ``y_pred[..., 1]`` is P(atom).
    Per box: ``-alpha_t (1 - p_t)^gamma log p_t`` with ``alpha_t = 1 - alpha_n`` for atoms and
    ``alpha_n`` for background (alpha_n = 0.30 down-weights the ~90 % empty boxes).
    """

    def __init__(self, gamma: float = 1.25, alpha_n: float = 0.30, epsilon: float = 1e-7, name="focal_loss", **kw):
        super().__init__(name=name, **kw)
        self.gamma = float(gamma)
        self.alpha_n = float(alpha_n)
        self.epsilon = float(epsilon)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        is_atom = ops.cast(ops.convert_to_tensor(y_true)[..., 0] > 0.5, y_pred.dtype)
        p_t = is_atom * y_pred[..., 1] + (1.0 - is_atom) * y_pred[..., 0]
        p_t = ops.clip(p_t, self.epsilon, 1.0)
        alpha_t = is_atom * (1.0 - self.alpha_n) + (1.0 - is_atom) * self.alpha_n
        return -alpha_t * ops.power(1.0 - p_t, self.gamma) * ops.log(p_t)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "alpha_n": self.alpha_n, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_spm")
class DepthDiscountedPositionLoss(keras.losses.Loss):
    """Squared position error on atom boxes only, discounted with the true depth below the top atom.

    ``y_true`` (..., 4): channel 0 atom indicator, 1:4 true (dx, dy, dz) in Angstrom; ``y_pred``
    (..., 3) predicted offsets. Per sample:
    ``sum_atoms exp(dz / sigma) |pred - true|^2 / max(n_atoms, 1)``, so the scale does not depend
    on how many atoms a molecule has and empty samples contribute zero.
    """

    def __init__(self, sigma: float = 1.0, name="depth_discounted_position_loss", **kw):
        super().__init__(name=name, **kw)
        if sigma <= 0:
            raise ValueError(f"sigma must be positive (Angstrom), got {sigma}.")
        self.sigma = float(sigma)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
        mask = ops.cast(y_true[..., 0] > 0.5, y_pred.dtype)
        offsets = y_true[..., 1:4]
        # Clip dz at 0: an atom above z_top (label noise) must not get a weight > 1.
        weight = ops.exp(ops.minimum(offsets[..., 2], 0.0) / self.sigma)
        err = ops.sum(ops.square(y_pred[..., :3] - offsets), axis=-1)
        axes = tuple(range(1, len(mask.shape)))
        total = ops.sum(mask * weight * err, axis=axes)
        return total / ops.maximum(ops.sum(mask, axis=axes), 1.0)

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma}


@keras.saving.register_keras_serializable(package="keras_spm")
class CompandedMSE(keras.losses.Loss):
    """MSE of ``scale * asinh(y / scale)``: linear below ``scale``, logarithmic above.

    Why: plain MSE on the ES map is dominated by the strongest fields (|ES| ~ 0.1-0.5 V/A), while the issue's
    figures are a per-molecule Pearson r and the sign inside the molecule, which go wrong where the field is weak
    (|ES| < 0.02 V/A: sign right 0.64 of the time). Companding keeps the loss in V/A near 0 and compresses the peaks.
    """

    def __init__(self, scale: float = 0.02, name="companded_mse", **kw):
        super().__init__(name=name, **kw)
        if not scale > 0:
            raise ValueError(
                f"scale must be positive (the field, V/A, below which the loss stays linear), got {scale}."
            )
        self.scale = float(scale)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
        s = self.scale
        return ops.mean(ops.square(s * ops.arcsinh(y_pred / s) - s * ops.arcsinh(y_true / s)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def xyz_targets(target):
    """Route one ``encode_xyz`` target (..., 4) to both xyz outputs (each loss reads what it needs)."""
    return {"xyz_class": target, "xyz_offset": target}


def dsh_losses(loss_weights: dict | None = None) -> tuple[dict, dict]:
    """(loss, loss_weights) dicts for ``model.compile`` of a DSH model."""
    weights = dict(DSH_LOSS_WEIGHTS if loss_weights is None else loss_weights)
    return {k: keras.losses.MeanSquaredError(name=f"{k}_mse") for k in DSH_LOSS_WEIGHTS}, weights


def es_losses(loss_weights: dict | None = None, es_scale: float | None = None) -> tuple[dict, dict]:
    """(loss, loss_weights) dicts for ``model.compile`` of an ES model; ``es_scale`` (V/A): the ES term is a
    :class:`CompandedMSE` of that scale instead of plain MSE."""
    weights = dict(ES_LOSS_WEIGHTS if loss_weights is None else loss_weights)
    losses = {k: keras.losses.MeanSquaredError(name=f"{k}_mse") for k in ES_LOSS_WEIGHTS}
    if es_scale is not None:
        losses["es"] = CompandedMSE(es_scale, name="es_companded_mse")
    return losses, weights


def xyz_losses(
    gamma: float = 1.25, alpha_n: float = 0.30, position_weight: float = 0.15, sigma: float = 1.0
) -> tuple[dict, dict]:
    """(loss, loss_weights) dicts for ``model.compile`` of an xyz model."""
    losses = {"xyz_class": FocalLoss(gamma=gamma, alpha_n=alpha_n), "xyz_offset": DepthDiscountedPositionLoss(sigma)}
    return losses, {"xyz_class": 1.0, "xyz_offset": float(position_weight)}


def _check_outputs(model: keras.Model, names) -> None:
    missing = set(names) - set(model.output_names)
    if missing:
        raise ValueError(
            f"model {model.name!r} has outputs {model.output_names}, missing {sorted(missing)}; "
            "compile it with the helper matching its builder (compile_dsh / compile_es / compile_xyz)."
        )


def compile_dsh(model: keras.Model, lr: float = 1e-3, loss_weights: dict | None = None) -> keras.Model:
    """Compile a DSH model with Adam and the weighted per-map MSE; returns the model."""
    loss, weights = dsh_losses(loss_weights)
    _check_outputs(model, loss)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss, loss_weights=weights)
    return model


def compile_es(
    model: keras.Model, lr: float = 1e-3, loss_weights: dict | None = None, es_scale: float | None = None
) -> keras.Model:
    """Compile an ES model with Adam and the weighted per-map MSE (``es_scale``: companded ES term); returns it."""
    loss, weights = es_losses(loss_weights, es_scale)
    _check_outputs(model, loss)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss, loss_weights=weights)
    return model


def compile_xyz(model: keras.Model, lr: float = 1e-3, **loss_kwargs) -> keras.Model:
    """Compile an xyz model with Adam, focal + depth-discounted position loss; returns the model.

    Train with ``y = xyz_targets(encode_xyz_target)``; ``loss_kwargs`` go to :func:`xyz_losses`.
    """
    loss, weights = xyz_losses(**loss_kwargs)
    _check_outputs(model, loss)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss, loss_weights=weights)
    return model
