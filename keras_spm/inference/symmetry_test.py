"""Dihedral test-time augmentation: an exactly equivariant model gives the same answer from every view."""

import numpy as np
import pytest

from keras_spm.inference.symmetry import DIHEDRAL, dihedral_average, restore_output, transform_input


def _atom_finder(stacks: np.ndarray) -> dict:
    """An equivariant 'network': each stack's brightest pixel as a map, an xyz-like grid of 4 x 4 px boxes with the
    pixel's offset from its box centre (x, y) and a z channel, and the stack's first slice as a smooth map."""
    b, n = stacks.shape[:2]
    g = n // 4
    cls = np.zeros((b, g, g, 2), np.float32)
    off = np.zeros((b, g, g, 3), np.float32)
    for k, s in enumerate(stacks[..., 0]):
        i, j = np.unravel_index(np.argmax(s), s.shape)
        cls[k, i // 4, j // 4, 1] = 1.0
        off[k, i // 4, j // 4] = (i - (i // 4 * 4 + 1.5), j - (j // 4 * 4 + 1.5), s[i, j])
    return {"xyz_class": cls, "xyz_offset": off, "height": stacks[..., 0] * 2}


def test_an_equivariant_model_is_unchanged_by_the_average_and_offsets_keep_their_signs():
    x = np.random.default_rng(0).random((3, 16, 16, 2)).astype(np.float32)
    x[0, 13, 2, 0] = 5.0  # an off-centre, asymmetric maximum: a wrong sign or swap would move it
    single = _atom_finder(x)
    for views in (4, 8):
        avg = dihedral_average(_atom_finder, x, views=views)
        for name in single:
            np.testing.assert_allclose(avg[name], single[name], atol=1e-6, err_msg=name)


def test_each_view_is_undone_by_restore_output():
    x = np.random.default_rng(1).random((2, 8, 8, 3))
    for view in DIHEDRAL:
        back = restore_output("height", transform_input(x, view), view)
        np.testing.assert_array_equal(back, x)


def test_several_tips_are_transformed_together_and_bad_shapes_are_refused():
    x = {"CO": np.random.default_rng(2).random((1, 8, 8, 2)), "Xe": np.random.default_rng(3).random((1, 8, 8, 2))}
    out = dihedral_average(lambda s: {"es": s["CO"][..., 0] - s["Xe"][..., 0]}, x)
    np.testing.assert_allclose(out["es"], x["CO"][..., 0] - x["Xe"][..., 0], atol=1e-6)
    wide = np.random.default_rng(4).random((2, 8, 6))  # not square: views come as (8, 6) and (6, 8)
    np.testing.assert_allclose(dihedral_average(lambda s: {"y": 3 * s}, wide)["y"], 3 * wide, atol=1e-6)
    with pytest.raises(ValueError, match="two spatial axes"):
        dihedral_average(lambda s: {}, np.zeros((8, 6)))
    with pytest.raises(ValueError, match="no spatial axes"):
        dihedral_average(lambda s: {"score": np.zeros((1,))}, np.zeros((1, 8, 8, 2)))
    with pytest.raises(ValueError, match="views"):
        dihedral_average(lambda s: {}, np.zeros((1, 8, 8, 2)), views=9)
