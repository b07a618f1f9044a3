"""AFM structure-discovery networks of ASD-AFM (Alldritt et al., Sci. Adv. 6, eaay6913 (2020)).

* :func:`dsh` - Atomic Disks / vdW Spheres / Height Map from a CO-tip stack (122,811 params);
* :func:`es` - electrostatic map + height from CO and Xe stacks (169,970 params);
* :func:`xyz` - atom positions on a 16 x 16 grid (560,941 params);
* :func:`edafm` - ED-AFM's attention U-Net (Oinonen et al., ACS Nano 16, 89 (2022)): ES + height from CO and Xe
  stacks, any width;
* :func:`load_original_asd_afm` - DSH with the published Keras 2 weights;
* losses (``compile_dsh`` / ``compile_es`` / ``compile_xyz``) and evaluation metrics.
"""

from .afm_presets import PRESETS, from_preset
from .blocks import check_stack, standardize_stack
from .dsh import dsh
from .edafm import edafm
from .es import es
from .losses import (
    DepthDiscountedPositionLoss,
    FocalLoss,
    compile_dsh,
    compile_es,
    compile_xyz,
    dsh_losses,
    es_losses,
    xyz_losses,
    xyz_targets,
)
from .metrics import decode_xyz_prediction, decode_xyz_target, detection_scores, map_metrics, match_atoms
from .original_weights import load_original_asd_afm, original_layer_map, read_original_weights
from .xyz import xyz

__all__ = [
    "PRESETS",
    "DepthDiscountedPositionLoss",
    "FocalLoss",
    "check_stack",
    "compile_dsh",
    "compile_es",
    "compile_xyz",
    "decode_xyz_prediction",
    "decode_xyz_target",
    "detection_scores",
    "dsh",
    "dsh_losses",
    "edafm",
    "es",
    "es_losses",
    "from_preset",
    "load_original_asd_afm",
    "map_metrics",
    "match_atoms",
    "original_layer_map",
    "read_original_weights",
    "standardize_stack",
    "xyz",
    "xyz_losses",
    "xyz_targets",
]
