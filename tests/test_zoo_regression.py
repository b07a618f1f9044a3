"""Every zoo model on a small fixed input, compared with stored outputs: a Keras/TensorFlow upgrade that changes a
shipped model's numbers fails here.

Inputs (``tests/zoo_regression/inputs.npz``, 12 KB) are seeded low-resolution arrays blown up to each model's
input size; the expected outputs (``expected.npz``) are block means of each output (at most 8 x 8 per channel) and
its mean and std. The models get raw inputs, so the scaling saved inside them is checked too. After a deliberate
change of a shipped model (new weights, re-export), regenerate and commit both with::

    python tests/test_zoo_regression.py --regenerate            # every model
    python tests/test_zoo_regression.py --regenerate dsh_6slice  # only these models' entries

Random layers (the measurement noise of ``cyclegan_afm_sim2exp``) are left out: what is compared is the network.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent / "zoo_regression"
#: tolerance, as a fraction of the output's std over the test input (float32 on CPU, oneDNN on or off)
RTOL = 2e-3


def make_inputs(seed: int = 15) -> dict[str, np.ndarray]:
    """Seeded low-resolution inputs, stored as float16 so the file stays a few KB."""
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(rng.standard_normal((16, 16, 10)), axis=2)  # slices correlated like a df(z) stack
    return {
        "afm_CO": (smooth * 3 - 20).astype(np.float16),
        "afm_Xe": (np.cumsum(rng.standard_normal((16, 16, 10)), axis=2) * 2 - 10).astype(np.float16),
        "image": (rng.random((32, 32)) * 4 + np.linspace(0, 2, 32)[None, :]).astype(np.float16),
    }


def model_input(name: str, inputs: dict[str, np.ndarray], preset):
    """The stored arrays blown up (pixel repetition) to what model ``name`` takes, with a batch axis."""
    if preset.input.kind == "afm_stack":
        stacks = {t: np.kron(inputs[f"afm_{t}"].astype(np.float32), np.ones((8, 8, 1), np.float32))[None]
                  for t in preset.input.tips}  # fmt: skip
        lo, hi = preset.recipe.slices or (0, 10)  # 6-slice models: their slices of the 10-slice stack
        stacks = {t: x[..., lo:hi] for t, x in stacks.items()}
        return stacks if len(stacks) > 1 else stacks[preset.input.tips[0]]
    size = 128 if name == "effunet_nanoparticles" else 64  # effunet's saved input is 128 x 128
    image = np.kron(inputs["image"].astype(np.float32), np.ones((size // 32, size // 32), np.float32))
    if preset.input.shape[-1] == 2:  # the scale-aware DAE: heights and pixel size, one unit (here 1 px = 0.5)
        return np.stack([image, np.full_like(image, 0.5)], axis=-1)[None]
    return image[None, :, :, None]


def summary(output: np.ndarray) -> dict[str, np.ndarray]:
    """Block means to at most 8 x 8 per channel, and the mean and std of one sample's output."""
    a = np.asarray(output, np.float64)[0]
    if a.ndim == 2:
        a = a[..., None]
    fx, fy = max(1, a.shape[0] // 8), max(1, a.shape[1] // 8)
    blocks = a[: a.shape[0] // fx * fx, : a.shape[1] // fy * fy]
    blocks = blocks.reshape(a.shape[0] // fx, fx, a.shape[1] // fy, fy, -1).mean(axis=(1, 3))
    return {"blocks": blocks.astype(np.float32), "stats": np.array([a.mean(), a.std()], np.float32)}


def run_model(name: str, inputs: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    import keras

    from keras_spm import zoo
    from keras_spm.models.gan import without_measurement_noise
    from keras_spm.zoo.presets import get_preset

    model = without_measurement_noise(zoo.load(name))  # the noise is random by design; the network is not
    out = model.predict(model_input(name, inputs, get_preset(zoo.get_entry(name).preset_name(name))))
    if not isinstance(out, dict):
        out = dict(zip(model.output_names, keras.tree.flatten(out), strict=True))
    return {k: summary(v) for k, v in out.items()}


def regenerate(only: list[str] | None = None) -> None:
    """Store every model's outputs, or replace only the entries of ``only`` (the stored inputs are kept then)."""
    from keras_spm import zoo

    HERE.mkdir(exist_ok=True)
    if only:
        inputs, expected = dict(np.load(HERE / "inputs.npz")), dict(np.load(HERE / "expected.npz"))
        expected = {k: v for k, v in expected.items() if k.split("/")[0] not in only}
    else:
        inputs, expected = make_inputs(), {}
        np.savez_compressed(HERE / "inputs.npz", **inputs)
    for name in only or zoo.available():
        for output, s in run_model(name, inputs).items():
            expected.update({f"{name}/{output}/{k}": v for k, v in s.items()})
    np.savez_compressed(HERE / "expected.npz", **expected)
    print(
        f"wrote {HERE}/expected.npz ({len(expected) // 2} outputs; regenerated: {', '.join(only or zoo.available())})"
    )


@pytest.fixture(scope="module")
def stored():
    if not (HERE / "expected.npz").exists():
        pytest.fail(f"{HERE / 'expected.npz'} is missing: run python tests/test_zoo_regression.py --regenerate")
    inputs = dict(np.load(HERE / "inputs.npz"))
    return inputs, dict(np.load(HERE / "expected.npz"))


def test_every_registry_model_has_stored_outputs(stored):
    from keras_spm import zoo

    _, expected = stored
    assert {key.split("/")[0] for key in expected} == set(zoo.available())


@pytest.mark.parametrize("name", sorted(__import__("keras_spm.zoo.registry", fromlist=["REGISTRY"]).REGISTRY))
def test_zoo_model_output_is_unchanged(name, stored):
    inputs, expected = stored
    got = run_model(name, inputs)
    outputs = {key.split("/")[1] for key in expected if key.startswith(f"{name}/")}
    assert set(got) == outputs, f"{name}: outputs {sorted(got)}, stored {sorted(outputs)}"
    for output, s in got.items():
        want_blocks, want_stats = expected[f"{name}/{output}/blocks"], expected[f"{name}/{output}/stats"]
        tol = RTOL * max(float(want_stats[1]), 1e-6)
        np.testing.assert_allclose(s["stats"], want_stats, atol=tol, err_msg=f"{name}/{output} mean, std")
        np.testing.assert_allclose(s["blocks"], want_blocks, atol=tol, err_msg=f"{name}/{output} block means")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--regenerate"]:
        sys.exit(__doc__)
    regenerate(sys.argv[2:] or None)
