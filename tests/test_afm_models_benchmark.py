"""benchmarks/afm_models.py: the ES sign agreement split by field strength."""

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
