"""benchmarks/afm_models.py: the ES sign agreement split by field strength, the planar test molecules."""

import afm_models
import numpy as np


def test_sign_agreement_by_magnitude_separates_weak_from_strong_fields():
    true_es = np.array([0.005, -0.01, 0.03, -0.07, 0.2, -0.5])
    agree = np.array([False, True, True, True, True, False])
    out = afm_models.sign_agreement_by_magnitude(true_es, agree)
    assert list(out) == ["0-0.02", "0.02-0.05", "0.05-0.1", ">=0.1"]
    assert out["0-0.02"] == {"share": 2 / 6, "agreement": 0.5}
    assert out["0.05-0.1"]["agreement"] == 1.0 and out[">=0.1"]["agreement"] == 0.5
    assert np.isclose(sum(v["share"] for v in out.values()), 1.0)
    empty = afm_models.sign_agreement_by_magnitude(np.array([0.3]), np.array([True]))
    assert empty["0-0.02"] == {"share": 0.0, "agreement": None}


def test_planar_light_test_molecules_are_the_light_element_part_of_the_planar_test_split():
    light = afm_models.test_molecules("planar-light", 20)
    every = afm_models.test_molecules("planar", 150)
    assert len(light) == 20 and all(set(m.numbers.tolist()) <= {1, 6, 7, 8, 9} for m in light)
    assert {m.name for m in light} <= {m.name for m in every}
    assert any(set(m.numbers.tolist()) & {17, 35} for m in every)  # the full set keeps Cl / Br
    assert min(int((m.numbers > 1).sum()) for m in light) > 9  # more heavy atoms than any QM9 molecule
