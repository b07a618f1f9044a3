"""Presets of the tip-artifact denoising autoencoders (keras-hub style): name -> description, params, builder, loss.

``params`` is the exact parameter count (trainable + BN statistics), checked by the tests; ``stride``
is what H and W must be divisible by. Build one with :func:`from_preset`, compile with its loss
via :func:`compile_preset`.
"""

from __future__ import annotations

import keras

#: the learned-tip erosion preset; its variants below differ only in the tip evidence (``bounds``)
_TIP_EROSION = {
    "description": "Learned tip estimation + Villarrubia erosion (issue #18): a convolutional encoder pools the "
    "whole scale-aware image into one 25 x 25 px tip profile, and the output is the input eroded by it; trained "
    "with the restoration loss plus the tip profile's MAE (tip_weight).",
    "params": 270_546,
    "stride": 8,
    "channels": 2,
    "builder": "tip_erosion_dae",
    "min_size": 32,  # the peak bound looks 12 px around each maximum, away from the border
    "kwargs": {},
    "loss": {"mae_weight": 1.0, "ssim_weight": 1.0, "gradient_weight": 1.0},
    "tip_weight": 1.0,
}
#: PeakBound evidence (sigma, quantiles) of the noise-robust variants: raw and 1 px-smoothed heights
_ROBUST_BOUNDS = ((0.0, (0.01, 0.05)), (1.0, (0.01, 0.05, 0.2)))


PRESETS: dict[str, dict] = {
    "dae_residual": {
        "description": "Model 1 of the MIC Hackathon 2024 tip-artifact work: U-Net-shaped encoder/decoder WITHOUT "
        "skips predicting the artifact (output = input - residual), filters 32-64-128-256, MAE + SSIM loss.",
        "params": 1_756_993,
        "stride": 8,
        "builder": "residual_dae",
        "kwargs": {},
        "loss": {"mae_weight": 1.0, "ssim_weight": 1.0, "gradient_weight": 0.0},
    },
    "dae_compact": {
        "description": "Model 2: compact convolutional autoencoder (24-32-32, ~33k parameters), MAE loss.",
        "params": 32_833,
        "stride": 4,
        "builder": "compact_dae",
        "kwargs": {},
        "loss": {"mae_weight": 1.0, "ssim_weight": 0.0, "gradient_weight": 0.0},
    },
    "dae_skip": {
        "description": "Model 3: U-Net autoencoder with skips (32-64-128-256-424, ~6.7M parameters), "
        "MAE + SSIM + image-gradient loss.",
        "params": 6_733_473,
        "stride": 16,
        "builder": "skip_dae",
        "kwargs": {},
        "loss": {"mae_weight": 1.0, "ssim_weight": 1.0, "gradient_weight": 1.0},
    },
    "dae_skip_lite": {
        "description": "Model 3 at half width (16-32-64-128-212, ~1.7M parameters, 6.8 MB): the zoo-sized U-Net "
        "with skips; MAE + SSIM + image-gradient loss.",
        "params": 1_686_337,
        "stride": 16,
        "builder": "skip_dae",
        "kwargs": {"filters": (16, 32, 64, 128, 212), "name": "skip_dae_lite"},
        "loss": {"mae_weight": 1.0, "ssim_weight": 1.0, "gradient_weight": 1.0},
    },
    "dae_topography": {
        "description": "Scale-aware U-Net for tip artifacts on topographies (issue #18): input [heights / robust span, "
        "log10(span / pixel) / 2], skips, no batch norm, zero-initialised correction head, 16-32-64-96; "
        "MAE + SSIM + image-gradient loss. Trained on keras_spm.sim.topography surfaces.",
        "params": 385_713,
        "stride": 8,
        "channels": 2,
        "builder": "topography_dae",
        "kwargs": {},
        "loss": {"mae_weight": 1.0, "ssim_weight": 1.0, "gradient_weight": 1.0},
    },
    "dae_topography_context": {
        "description": "dae_topography with an image-wide context branch at the bottleneck (mean and max of its "
        "features, two dense layers, the last zero-initialised): one tip widens every edge of a scan alike.",
        "params": 413_553,
        "stride": 8,
        "channels": 2,
        "builder": "topography_dae",
        "kwargs": {"global_context": True},
        "loss": {"mae_weight": 1.0, "ssim_weight": 1.0, "gradient_weight": 1.0},
    },
    "dae_tip_erosion": _TIP_EROSION,
    "dae_tip_erosion_robust": {
        **_TIP_EROSION,
        "description": "dae_tip_erosion with noise-robust tip evidence: instead of the largest drop around any maximum "
        "(a noise spike's, on noisy scans), quantiles of the maxima's drops (top 1 % and 5 % of the raw heights; top "
        "1 %, 5 % and 20 % after a 1 px Gaussian), which do not grow with the image size either.",
        "params": 279_762,
        "kwargs": {"bounds": _ROBUST_BOUNDS},
    },
    "dae_tip_erosion_combined": {
        **_TIP_EROSION,
        "description": "dae_tip_erosion with both kinds of tip evidence: the largest drop (which made the first model "
        "act on steep AFM structures) and the noise-robust quantiles of dae_tip_erosion_robust (which made it act on "
        "a noisy STM lattice); each alone acted on different validation scans.",
        "params": 285_906,
        "kwargs": {"bounds": ((0.0, ()), *_ROBUST_BOUNDS)},
    },
}


def from_preset(name: str, **overrides) -> keras.Model:
    """Build the (untrained) model of preset ``name``; ``overrides`` replace builder kwargs."""
    from . import dae, tip_erosion

    if name not in PRESETS:
        raise ValueError(f"unknown DAE preset {name!r}; choose one of {sorted(PRESETS)}.")
    preset = PRESETS[name]
    module = tip_erosion if hasattr(tip_erosion, preset["builder"]) else dae
    return getattr(module, preset["builder"])(**{**preset["kwargs"], **overrides})


def preset_loss(name: str, max_val: float = 1.0) -> keras.losses.Loss:
    """The loss of preset ``name`` as a :class:`~keras_spm.models.dae.dae.RestorationLoss`."""
    from .dae import RestorationLoss

    if name not in PRESETS:
        raise ValueError(f"unknown DAE preset {name!r}; choose one of {sorted(PRESETS)}.")
    return RestorationLoss(**PRESETS[name]["loss"], max_val=max_val)


def compile_preset(model: keras.Model, name: str, learning_rate: float = 1e-3, max_val: float = 1.0) -> keras.Model:
    """Compile ``model`` with Adam and the loss of preset ``name``; returns the model."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=preset_loss(name, max_val), metrics=["mae"])
    return model
