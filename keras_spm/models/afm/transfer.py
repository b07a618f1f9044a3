"""Warm-start a network for a shallower AFM stack (6 slices, ED-AFM's depth) from its trained 10-slice twin.

The 3D encoder pools z by 4 and folds the remaining planes into channels (:func:`.blocks.encoder_3d`): 2 planes x 16
channels for 10 slices, 1 x 16 for 6. Every layer has the same weights in both networks except the first 2D conv
after the fold, whose input channels are ``plane * 16 + channel``. Summing that kernel over the planes gives the
6-slice kernel exactly when both planes of the 10-slice encoder carry the same features, and a close start
otherwise; the rest of the network is copied. The result still needs fine-tuning on 6-slice stacks (ED-AFM,
Oinonen et al., ACS Nano 16, 89 (2022), used slices 2-7 of the 10-slice ASD-AFM stack).
"""

from __future__ import annotations

import numpy as np


def _fold_planes(kernel: np.ndarray, channels: int) -> np.ndarray:
    """A conv kernel (kh, kw, planes * c, out) summed over planes to (kh, kw, channels, out)."""
    kh, kw, cin, cout = kernel.shape
    if cin % channels:
        raise ValueError(f"cannot fold {cin} input channels onto {channels}: not a whole number of z planes.")
    return kernel.reshape(kh, kw, cin // channels, channels, cout).sum(axis=2)


def _same_kernel_but_inputs(mine: np.ndarray, theirs: np.ndarray) -> bool:
    """Two conv kernels that differ in their number of input channels only."""
    return mine.ndim == 4 and mine.shape[:2] + mine.shape[3:] == theirs.shape[:2] + theirs.shape[3:]


def _copy_by_name(source, target, adapt, new_layers_allowed: bool):
    """Copy weights layer by layer (same names); a weight of another shape is ``adapt(mine, theirs)``, or refused
    when that returns None. Layers ``source`` lacks keep their initial weights if ``new_layers_allowed``."""
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name not in by_name:
            if new_layers_allowed:
                continue
            raise ValueError(f"layer {layer.name!r} of {target.name!r} has no counterpart in {source.name!r}.")
        new = []
        for mine, theirs in zip(layer.get_weights(), by_name[layer.name].get_weights(), strict=True):
            value = theirs if mine.shape == theirs.shape else adapt(mine, theirs)
            if value is None:
                raise ValueError(
                    f"layer {layer.name!r}: weights of shape {theirs.shape} cannot start a {mine.shape} layer."
                )
            new.append(value)
        layer.set_weights(new)
    return target


def transfer_to_fewer_slices(source, target):
    """Copy ``source``'s weights into ``target`` (same layer names, fewer z planes), folding the kernels that take
    the z-folded features; returns ``target``. Raises ``ValueError`` naming a layer that does not correspond."""

    def fold(mine, theirs):
        return _fold_planes(theirs, mine.shape[2]) if _same_kernel_but_inputs(mine, theirs) else None

    return _copy_by_name(source, target, fold, new_layers_allowed=False)


def transfer_adding_inputs(source, target):
    """Copy ``source``'s weights into ``target``, a copy of it with new layers whose outputs join an existing layer's
    input (e.g. xyz's patch branch, :func:`keras_spm.models.afm.xyz.xyz`); returns ``target``.

    Layers of ``target`` that ``source`` lacks keep their initial weights; a kernel with more input channels than
    its source gets the source's for the first ones and zeros for the new ones, so ``target`` starts with exactly
    ``source``'s outputs and training decides how much of the new input to use. Raises ``ValueError`` naming a
    layer whose weights cannot be carried over.
    """

    def grow(mine, theirs):
        if not (_same_kernel_but_inputs(mine, theirs) and mine.shape[2] > theirs.shape[2]):
            return None
        grown = np.zeros_like(mine)
        grown[:, :, : theirs.shape[2]] = theirs
        return grown

    return _copy_by_name(source, target, grow, new_layers_allowed=True)
