"""Presets of the AFM structure-discovery networks (keras-hub style): name -> description, params, builder kwargs.

``params`` is the exact parameter count, checked by the tests. Build one with :func:`from_preset`.
"""

from __future__ import annotations

import keras

PRESETS: dict[str, dict] = {
    "dsh_10slice": {
        "description": "DSH (Atomic Disks, vdW Spheres, Height Map) on a 128x128x10 CO-tip stack; the ASD-AFM "
        "architecture of Alldritt et al., Sci. Adv. 6, eaay6913 (2020), same layers as the published weights.",
        "params": 122_811,
        "builder": "dsh",
        "kwargs": {"input_shape": (128, 128, 10)},
    },
    "dsh_6slice": {
        "description": "DSH on a 128x128x6 stack (z pools to one plane, 16 latent input channels).",
        "params": 113_595,
        "builder": "dsh",
        "kwargs": {"input_shape": (128, 128, 6)},
    },
    "es_10slice": {
        "description": "ES (electrostatic map, height map) from CO and Xe 128x128x10 stacks; two 3D encoders, "
        "1x1 merge conv, DSH latent part and decoders (thesis Table 3: 169,970 parameters).",
        "params": 169_970,
        "builder": "es",
        "kwargs": {"input_shape": (128, 128, 10)},
    },
    "es_6slice": {
        "description": "ES from CO and Xe 128x128x6 stacks, the stack depth of ED-AFM (Oinonen et al., ACS Nano "
        "16, 89 (2022)).",
        "params": 151_538,
        "builder": "es",
        "kwargs": {"input_shape": (128, 128, 6)},
    },
    "edafm_6slice": {
        "description": "ED-AFM's attention U-Net (Oinonen et al., ACS Nano 16, 89 (2022)) at a quarter of its widths, "
        "ES and height maps from CO and Xe 128x128x6 stacks; small enough to train on a CPU.",
        "params": 984_269,
        "builder": "edafm",
        "kwargs": {"input_shape": (128, 128, 6), "width": 0.25},
    },
    "edafm_6slice_full": {
        "description": "ED-AFM's attention U-Net at its published widths (ES and height heads): 15.7 M parameters.",
        "params": 15_716_261,
        "builder": "edafm",
        "kwargs": {"input_shape": (128, 128, 6), "width": 1.0},
    },
    "xyz_10slice": {
        "description": "xyz atom positions on a 16x16 grid (class softmax + offsets) from a 128x128x10 stack "
        "(thesis Table 4 layout).",
        "params": 560_941,
        "builder": "xyz",
        "kwargs": {"input_shape": (128, 128, 10)},
    },
    "xyz_10slice_patch": {
        "description": "xyz with keras_spm's full-resolution patch branch (64 filters of 8x8, stride 8, beside the "
        "thesis encoder): where inside its 1 A box an atom sits, which the pooled encoder loses.",
        "params": 675_821,
        "builder": "xyz",
        "kwargs": {"input_shape": (128, 128, 10), "patch_filters": 64},
    },
}


def from_preset(name: str, **overrides) -> keras.Model:
    """Build the (untrained) model of preset ``name``; ``overrides`` replace builder kwargs."""
    from .dsh import dsh
    from .edafm import edafm
    from .es import es
    from .xyz import xyz

    if name not in PRESETS:
        raise ValueError(f"unknown AFM preset {name!r}; choose one of {sorted(PRESETS)}.")
    preset = PRESETS[name]
    builder = {"dsh": dsh, "es": es, "edafm": edafm, "xyz": xyz}[preset["builder"]]
    return builder(**{**preset["kwargs"], **overrides})
