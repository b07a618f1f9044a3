import pytest

from keras_spm.models.afm import PRESETS, from_preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_builds_with_its_documented_parameter_count(name):
    preset = PRESETS[name]
    assert preset["description"] and preset["builder"] in {"dsh", "es", "edafm", "xyz"}
    assert from_preset(name).count_params() == preset["params"]


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown AFM preset 'dsh'.*dsh_10slice"):
        from_preset("dsh")
