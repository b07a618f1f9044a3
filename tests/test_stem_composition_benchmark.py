"""benchmarks/stem_composition.py: the per-fraction summary pairs each particle with itself."""

import numpy as np
import stem_composition


def _row(geometry, mo, offset, error):
    return {"geometry": geometry, "mo_fraction": mo, "offset": offset, "line_error": error, "model_error": error,
            "model_rmse_over_mean": 0.2}  # fmt: skip


def test_changes_are_each_particle_against_itself_at_the_reference_fraction():
    rows = [_row(0, 0.05, 0.10, 0.0), _row(0, 0.5, 0.05, 0.1), _row(1, 0.05, 0.02, -0.1), _row(1, 0.5, 0.03, 0.0)]
    rows.append(_row(2, 0.05, 0.08, 0.0))  # no 0.5 pair yet: left out of every fraction
    out = stem_composition.summarise(rows, [0.05, 0.5])
    assert out["0.05"]["particles"] == out["0.50"]["particles"] == 2
    assert out["0.05"]["offset_change"] == 0.0 and out["0.05"]["line_error_change"] == 0.0
    assert np.isclose(out["0.50"]["offset_change"], (-0.05 + 0.01) / 2)  # particle 2 (no 0.5 pair) left out
    assert np.isclose(out["0.50"]["offset_change_std"], 0.03)
    assert np.isclose(out["0.50"]["offset"], 0.04) and np.isclose(out["0.50"]["line_error_change"], 0.1)
