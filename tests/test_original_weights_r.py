"""The published ASD-AFM weights, loaded into keras_spm's DSH builder, reproduce current ppafm descriptors.

Issue target: on simulated stacks of >= 20 light test molecules with the ASD-AFM preprocessing,
mean Pearson r >= 0.8 (vdW Spheres) and >= 0.85 (Height Map); a random model stays below 0.3.
Labels at the nominal atom positions: the convention the published weights were trained in (ppafm's generator
draws disks and spheres there despite the random tip tilt; see keras_spm.descriptors).
"""

from dataclasses import replace

import keras
import numpy as np
import pytest

from keras_spm.data.samples import SampleSpec, simulate_batch
from keras_spm.data.sets import load_set
from keras_spm.models import afm
from keras_spm.sim.afm import ASD_AFM


def simulate_test_stacks(set_name: str):
    nominal = replace(ASD_AFM, label_frame="nominal")
    spec = SampleSpec(("CO",), ("disks", "spheres", "height"), nominal, augmentation=None)
    return simulate_batch(load_set(set_name, "test")[:20], spec, seed=2020)


@pytest.fixture(scope="module")
def light_test_stacks():
    return simulate_test_stacks("light")


def mean_r(model, xs, ys) -> dict:
    pred = model(afm.standardize_stack(xs["CO"]), training=False)
    return {k: afm.map_metrics(np.asarray(pred[k]), ys[k])["pearson_r_mean"] for k in ys}


def test_original_light_weights_reproduce_the_descriptors(shared_data, light_test_stacks):
    model = afm.load_original_asd_afm(shared_data / "asd-afm" / "model_light.h5")
    r = mean_r(model, *light_test_stacks)
    print(f"original light weights, mean Pearson r on 20 light test molecules: {r}")
    assert r["spheres"] >= 0.8 and r["height"] >= 0.85 and r["disks"] >= 0.7


def test_original_heavy_weights_on_heavy_molecules(shared_data):
    model = afm.load_original_asd_afm(shared_data / "asd-afm" / "model_heavy.h5")
    r = mean_r(model, *simulate_test_stacks("heavy"))
    print(f"original heavy weights, mean Pearson r on 20 heavy test molecules: {r}")
    # No issue target here; measured 0.69 / 0.65 / 0.84 (NCI molecules are bulkier than the original heavy set).
    assert r["spheres"] >= 0.5 and r["height"] >= 0.75 and r["disks"] >= 0.5


def test_random_weights_do_not(light_test_stacks):
    keras.utils.set_random_seed(0)
    r = mean_r(afm.dsh(), *light_test_stacks)
    assert all(abs(v) < 0.3 for v in r.values()), r
