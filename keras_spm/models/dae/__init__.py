"""Denoising autoencoders for SPM tip artifacts (MIC Hackathon 2024 tip-artifact work; see :mod:`.dae`).

* :func:`residual_dae` - model 1, no skips, predicts the artifact (1,756,993 params);
* :func:`compact_dae` - model 2, compact autoencoder (32,833 params);
* :func:`skip_dae` - model 3, U-Net with skips (6,733,473 params; preset ``dae_skip_lite`` at half width, 1,686,337:
  the zoo's ``dae_tip_artifacts`` before issue #18);
* :func:`topography_dae` - the scale-aware U-Net for topographies (preset ``dae_topography``, 385,713 params; input
  [scaled heights, slope scale], :mod:`.scaling`), :func:`topography_dae_raw` the same inside its scaling layers
  (metres in, metres out; the zoo's ``dae_tip_artifacts`` since issue #18); ``global_context=True`` (preset
  ``dae_topography_context``) adds an image-wide context branch, :func:`copy_weights_by_name` starts it from a plain one;
* :func:`tip_erosion_dae` - learned tip estimate + Villarrubia erosion (preset ``dae_tip_erosion``; :mod:`.tip_erosion`),
  :func:`tip_erosion_dae_raw` its zoo form, :func:`estimate_tip` the tip it sees in a scan, in the scan's units, :class:`TipQuantileLoss` a tip loss that prefers too sharp to too blunt;
* :func:`~keras_spm.models.dae.restore.restore` - run a trained DAE on a whole height map (scaling, padding); a scan
  that refutes its estimated tip (:mod:`.consistency`, Villarrubia's openness test) is returned unchanged;
* losses :class:`SSIMLoss`, :class:`GradientLoss`, :class:`RestorationLoss`; presets in :data:`PRESETS`.
"""

from . import scaling  # noqa: F401  (registers SlopeScale, SlopeUnscale, HeightChannel for loading)
from .dae import (
    GradientLoss,
    RestorationLoss,
    SSIMLoss,
    compact_dae,
    copy_weights_by_name,
    residual_dae,
    skip_dae,
    ssim_per_image,
    topography_dae,
    topography_dae_raw,
)
from .dae_presets import PRESETS, compile_preset, from_preset, preset_loss
from .tip_erosion import (
    TipErosion,
    TipProfile,
    TipQuantileLoss,
    estimate_tip,
    tip_erosion_dae,
    tip_erosion_dae_raw,
)

__all__ = [
    "PRESETS",
    "GradientLoss",
    "RestorationLoss",
    "SSIMLoss",
    "TipErosion",
    "TipProfile",
    "TipQuantileLoss",
    "compact_dae",
    "compile_preset",
    "copy_weights_by_name",
    "estimate_tip",
    "from_preset",
    "preset_loss",
    "residual_dae",
    "skip_dae",
    "ssim_per_image",
    "tip_erosion_dae",
    "tip_erosion_dae_raw",
    "topography_dae",
    "topography_dae_raw",
]
