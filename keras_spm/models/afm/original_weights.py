"""Load the published ASD-AFM Keras 2.2.4 weights into the Keras 3 DSH model.

Weights: ``model_light.h5`` / ``model_heavy.h5`` of SINGROUP/ASD-AFM (MIT), Alldritt et al.,
*Automated structure discovery in atomic force microscopy*, Sci. Adv. 6, eaay6913 (2020).
The files were written by ``model.save_weights`` (no ``model_config``): the root lists
``layer_names`` and holds one group per layer, ``<layer>/<inner>/kernel:0`` and ``bias:0``, in
the order of the group's ``weight_names`` attribute. Full-model files (``model_weights/...``)
are read as well.

Mapping (from the published ``models.py``, which builds the branches in the order of its
``out_labels = ['Atomic_Disks', 'vdW_Spheres', 'Height_Map']`` with ``last_relu = [False,
True, True]``, and checked against the file's ``layer_names``: only the branch of
``conv2d_reflective_3..9`` has its last conv at the same depth as the two ``activation_*``
layers, i.e. it is the one without a final ReLU):

=========================  ==========================
original layer             keras_spm DSH layer
=========================  ==========================
conv3d_reflective_1..3     enc_conv3d_1..3
conv2d_reflective_1..2     latent_conv_1..2
conv2d_reflective_3..8     disks_conv_1..6
conv2d_reflective_9        disks_out_conv
conv2d_reflective_10..15   spheres_conv_1..6
conv2d_reflective_16       spheres_out_conv
conv2d_reflective_17..22   height_conv_1..6
conv2d_reflective_23       height_out_conv
=========================  ==========================

The original "reflective" padding is ``concat(reverse(X[:, :1]), X, reverse(X[:, -1:]))``,
i.e. the edge pixel repeated: the model is built with ``padding_mode="symmetric"``.
Inputs must be standardised per slice (mean 0, std 1) as in training: use
:func:`keras_spm.models.afm.blocks.standardize_stack`.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from .dsh import DSH_OUTPUTS, dsh


def original_layer_map() -> dict[str, str]:
    """Original ASD-AFM layer name -> keras_spm DSH layer name (26 weighted layers: 3 Conv3D, 23 Conv2D)."""
    mapping = {f"conv3d_reflective_{i}": f"enc_conv3d_{i}" for i in (1, 2, 3)}
    mapping.update({f"conv2d_reflective_{i}": f"latent_conv_{i}" for i in (1, 2)})
    for b, branch in enumerate(DSH_OUTPUTS):
        first = 3 + 7 * b
        mapping.update({f"conv2d_reflective_{first + k}": f"{branch}_conv_{k + 1}" for k in range(6)})
        mapping[f"conv2d_reflective_{first + 6}"] = f"{branch}_out_conv"
    return mapping


def _read_layer(root, path: Path, layer: str) -> list[np.ndarray]:
    if layer not in root:
        raise ValueError(
            f"{path} is not an ASD-AFM DSH weights file: layer {layer!r} is missing "
            f"(found {len(root.keys())} layer groups). Expected the published model_light.h5 / model_heavy.h5."
        )
    group = root[layer]
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
    if not names:  # files without the attribute: collect datasets, kernel before bias
        names = []
        group.visit(lambda n: names.append(n) if hasattr(group[n], "shape") else None)
        names.sort(key=lambda n: (not n.endswith("kernel:0"), n))
    return [np.asarray(group[n]) for n in names]


def read_original_weights(path: str | Path) -> dict[str, list[np.ndarray]]:
    """Read the ASD-AFM weights file into {keras_spm layer name: [kernel, bias]}; ValueError if it is not one."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"ASD-AFM weights file {path} does not exist; pass the path of model_light.h5 or model_heavy.h5."
        )
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(
            f"{path} is not an HDF5 file ({err}); expected the Keras 2 weights model_light.h5 / model_heavy.h5."
        ) from err
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        weighted = sorted(k for k in root.keys() if k.startswith(("conv2d", "conv3d", "dense")))
        expected = original_layer_map()
        extra = sorted(set(weighted) - set(expected))
        if extra:
            raise ValueError(
                f"{path} has weighted layers {extra} that the ASD-AFM DSH model does not have "
                f"(expected exactly {len(expected)} conv layers conv3d_reflective_1..3, conv2d_reflective_1..23)."
            )
        return {ours: _read_layer(root, path, theirs) for theirs, ours in expected.items()}


def load_original_asd_afm(path: str | Path, input_shape: tuple[int, int, int] = (128, 128, 10)) -> keras.Model:
    """Build the DSH model and load the published ASD-AFM weights (light or heavy) into it.

    ``input_shape`` may change the image size (multiples of 8); the slice count must fold to the
    32 channels the weights expect (8-11 slices; the weights were trained on 10). Raises
    ValueError naming the file and the mismatch when the file is not such a weights file.
    """
    weights = read_original_weights(path)
    model = dsh(input_shape, padding_mode="symmetric", name=f"asd_afm_{Path(path).stem.removeprefix('model_')}")
    for layer_name, values in weights.items():
        layer = model.get_layer(layer_name)
        want = [tuple(v.shape) for v in layer.get_weights()]
        got = [tuple(v.shape) for v in values]
        if want != got:
            raise ValueError(
                f"{path}: weights of original layer for {layer_name!r} have shapes {got}, the model expects {want} "
                f"(input_shape={tuple(input_shape)}; the weights need 10 slices folded to 32 channels)."
            )
        layer.set_weights(values)
    return model
