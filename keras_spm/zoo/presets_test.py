"""Zoo presets: one per registry entry, consistent with the families' presets; wrap() puts the scaling inside."""

import keras
import numpy as np
import pytest

from keras_spm.models.afm import standardize_stack
from keras_spm.models.preprocessing import LAYERS, StandardizeSlices
from keras_spm.zoo import REGISTRY
from keras_spm.zoo.presets import INPUT_KINDS, POSTPROCESSING, PRESETS, build, get_preset, is_wrapped, wrap


def test_every_registry_entry_names_a_complete_preset():
    for name, entry in REGISTRY.items():
        preset = get_preset(entry.preset_name(name))
        assert preset.family == entry.kind.split(".")[0]
        assert preset.input.kind in INPUT_KINDS and preset.postprocessing in POSTPROCESSING
        assert preset.preprocessing in LAYERS and preset.figure and preset.recipe.fit_model
        if preset.family == "afm":
            assert preset.recipe.tips == preset.input.tips and preset.recipe.descriptors and preset.recipe.compile
    with pytest.raises(ValueError, match="no zoo preset 'nope'; known: .*dsh_heavy"):
        get_preset("nope")


def test_afm_presets_build_the_published_parameter_counts():
    assert build("dsh_light").count_params() == 122_811
    assert build("es").count_params() == 169_970


def test_wrap_standardises_inside_and_keeps_the_old_call():
    keras.utils.set_random_seed(0)
    net = build("dsh_light", input_shape=(32, 32, 10))
    wrapped = wrap(net, "dsh_light")
    assert is_wrapped(wrapped) and not is_wrapped(net) and wrap(wrapped, "dsh_light") is wrapped
    assert wrapped.count_params() == net.count_params()
    raw = (np.random.default_rng(0).standard_normal((2, 32, 32, 10)) * 5 + 3).astype("float32")
    by_hand = net.predict(standardize_stack(raw), verbose=0)
    for x in (raw, standardize_stack(raw)):  # a raw stack and a hand-standardised one: the same maps
        out = wrapped.predict(x, verbose=0)
        for k in by_hand:
            np.testing.assert_allclose(out[k], by_hand[k], atol=1e-4)


def test_wrap_two_input_model_and_the_dae_output_in_input_units(tmp_path):
    net = build("es", input_shape=(32, 32, 10))
    wrapped = wrap(net, "es")
    assert sum(isinstance(layer, StandardizeSlices) for layer in wrapped.layers) == 2
    dae = build("dae_tip_artifacts")  # the scale-aware DAE scales [heights, pixel size] itself: wrap keeps it
    restored = wrap(dae, "dae_tip_artifacts")
    assert restored is dae and restored.output_names == dae.output_names
    restored.save(tmp_path / "dae.keras")
    heights = np.random.default_rng(1).random((1, 32, 48, 1)).astype("float32") * 3e-9
    image = np.concatenate([heights, np.full_like(heights, 2e-10)], axis=-1)  # metres in
    out = keras.saving.load_model(tmp_path / "dae.keras").predict(image, verbose=0)
    assert out.shape == heights.shape and abs(float(np.median(out)) - float(np.median(heights))) < 1e-11


def test_presets_module_does_not_import_keras():
    import subprocess
    import sys

    code = "import sys, keras_spm.zoo.presets; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert set(REGISTRY) <= set(PRESETS)
    for name in set(PRESETS) - set(REGISTRY):  # no weights yet: a campaign starts them from a trained twin or from
        assert PRESETS[name].family == "afm" and PRESETS[name].twin in (*REGISTRY, None), name  # scratch
