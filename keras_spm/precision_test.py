from pathlib import Path

import keras
import numpy as np
import pytest

import keras_spm.models.afm  # noqa: F401  (registers the AFM layers)
import keras_spm.models.preprocessing  # noqa: F401  (registers the input scaling layers saved in the zoo models)
from keras_spm import precision as P
from keras_spm.models import afm

ZOO = Path(__file__).resolve().parents[1] / "zoo"

NATIVE = ("fpu", "avx512f", "avx512_bf16")
EMULATED = ("fpu", "avx2", "avx512f")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in (P.ENV_NATIVE, P.ENV_PRECISION, "TF_ENABLE_ONEDNN_OPTS"):
        monkeypatch.delenv(var, raising=False)


def tiny_segmenter() -> keras.Model:
    """Conv + BN + residual add of the input + softmax head: the shapes of the zoo's output layers, in miniature."""
    inp = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Rescaling(0.5, name="scale")(inp)
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    classes = keras.layers.Conv2D(3, 1, activation="softmax", name="classes")(x)
    correction = keras.layers.Conv2D(1, 3, padding="same", name="correction")(x)
    restored = keras.layers.Add(name="restored")([inp, correction])
    return keras.Model(inp, {"classes": classes, "restored": restored}, name="tiny")


def test_auto_is_float32_without_native_bf16():
    assert P.resolve("auto", flags=EMULATED) == "float32"
    assert P.resolve("auto", flags=()) == "float32"
    assert P.inference_policy("dsh_light", "auto", flags=EMULATED)[0] == "float32"


def test_auto_is_bf16_with_native_bf16():
    assert P.resolve("auto", flags=NATIVE) == "mixed_bfloat16"
    assert P.resolve("auto", flags=("amx_bf16",)) == "mixed_bfloat16"


def test_explicit_precision_is_obeyed_whatever_the_cpu():
    assert P.resolve("float32", flags=NATIVE) == "float32"
    assert P.resolve("mixed_bfloat16", flags=EMULATED) == "mixed_bfloat16"
    assert P.inference_policy(None, "mixed_bfloat16", flags=EMULATED)[0] == "mixed_bfloat16"


def test_env_fakes_detection_and_sets_default(monkeypatch):
    monkeypatch.setenv(P.ENV_NATIVE, "0")
    assert P.resolve("auto") == "float32"
    monkeypatch.setenv(P.ENV_NATIVE, "1")
    assert P.resolve("auto") == "mixed_bfloat16"
    monkeypatch.setenv(P.ENV_PRECISION, "float32")
    assert P.resolve(None) == "float32"
    monkeypatch.setenv(P.ENV_NATIVE, "yes")
    with pytest.raises(ValueError, match="KERAS_SPM_NATIVE_BF16 must be 0 or 1"):
        P.resolve("auto")


def test_onednn_off_counts_as_emulated(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert not P.native_bf16(NATIVE)


def test_cpu_flags_reads_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert P.cpu_flags(str(info)) == {"fpu", "sse", "avx512_bf16", "amx_bf16"}
    assert P.cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize("bad", ["bf16", "float16", "mixed_float16", "", "AUTO"])
def test_bad_precision_names_are_refused(bad):
    with pytest.raises(ValueError, match="expected one of auto, float32, mixed_bfloat16"):
        P.resolve(bad)
    with pytest.raises(ValueError, match="unknown precision"):
        P.inference_policy("dsh_light", bad)


def test_auto_needs_a_passed_check_per_model(monkeypatch):
    monkeypatch.setattr(P, "BF16_OK", {"good": P.Bf16Check(True, "r 0.9999"), "bad": P.Bf16Check(False, "mAP -3 %")})
    assert P.inference_policy("good", "auto", flags=NATIVE)[0] == "mixed_bfloat16"
    policy, why = P.inference_policy("bad", "auto", flags=NATIVE)
    assert policy == "float32" and "mAP -3 %" in why
    assert P.inference_policy("never_checked", "auto", flags=NATIVE)[0] == "float32"
    assert P.inference_policy(None, "auto", flags=NATIVE)[0] == "float32"
    assert P.inference_policy("good", "auto", flags=EMULATED)[0] == "float32"


def test_output_layers_stay_float32_and_close():
    keras.utils.set_random_seed(0)
    model = tiny_segmenter()
    bf16 = P.with_policy(model, "mixed_bfloat16")
    policies = P.model_policies(bf16)
    assert policies["conv1"] == "mixed_bfloat16" and policies["bn1"] == "mixed_bfloat16"
    assert policies["scale"] == "float32"  # input scaling before the first layer with weights
    for name in ("classes", "correction", "restored"):  # outputs back to their first layer with weights
        assert policies[name] == "float32"
    x = np.random.default_rng(0).standard_normal((2, 16, 16, 1)).astype("float32")
    ref, out = model(x), bf16(x)
    for key in ref:
        assert out[key].dtype == "float32"
        np.testing.assert_allclose(np.asarray(out[key]), np.asarray(ref[key]), atol=0.05)
    # the input passes the residual head in float32: a zero correction returns it bit for bit
    assert np.corrcoef(np.asarray(out["restored"]).ravel(), x.ravel())[0, 1] > 0.9


def test_nested_model_is_converted_inside():
    inner = tiny_segmenter()
    inp = keras.Input((16, 16, 1), name="outer_image")
    scaled = keras.layers.Rescaling(2.0, name="outer_scale")(inp)
    outer = keras.Model(inp, inner(scaled)["restored"], name="outer")
    bf16 = P.with_policy(outer, "mixed_bfloat16")
    policies = P.model_policies(bf16)
    assert policies["tiny/conv1"] == "mixed_bfloat16"  # the network inside runs bf16 ...
    assert policies["tiny/correction"] == policies["tiny/scale"] == policies["outer_scale"] == "float32"  # ... ends not
    x = np.random.default_rng(2).standard_normal((1, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(bf16(x)), np.asarray(outer(x)), atol=0.05)
    assert set(P.model_policies(P.with_policy(bf16, "float32")).values()) == {"float32"}


def test_keep_prefixes_stay_float32():
    bf16 = P.with_policy(tiny_segmenter(), "mixed_bfloat16", keep=("bn", "relu"))
    policies = P.model_policies(bf16)
    assert policies["bn1"] == policies["relu1"] == "float32" and policies["conv1"] == "mixed_bfloat16"


def test_loaded_zoo_dsh_bf16_clone_and_back():
    # a loaded .keras restores each layer's saved float32 policy: the clone must still switch them
    model = keras.models.load_model(ZOO / "dsh_light" / "dsh_light.keras", compile=False)
    bf16 = P.with_policy(model, "mixed_bfloat16")
    assert P.policy_of(bf16) == "mixed_bfloat16" and P.policy_of(model) == "float32"
    assert P.model_policies(bf16)["latent_conv_1"] == "mixed_bfloat16"
    assert {P.model_policies(bf16)[n] for n in ("disks_out_conv", "spheres_relu", "height")} == {"float32"}
    assert P.model_policies(bf16)["add_channel"] == "float32" and P.model_policies(bf16)["enc_conv3d_1"] != "float32"
    # a raw df stack: a large offset and small contrast, which bf16 rounding would wipe out before the standardisation
    x = (-8.0 + 0.05 * np.random.default_rng(1).standard_normal((1, 128, 128, 10))).astype("float32")
    assert P.model_policies(bf16)["afm_stack_standardize_slices"] == "float32"
    ref, out = model(x), bf16(x)
    for key in ref:
        a, b = np.asarray(ref[key]).ravel(), np.asarray(out[key]).ravel()
        assert out[key].dtype == "float32"
        # bf16 rounds differently with and without native bf16 instructions: on a CPU without them (no AVX-512 BF16)
        # a few pixels of this near-flat input's maps move by up to 15 % of their range; 99 % stay within 3 %
        diff = np.abs(a - b)
        assert np.quantile(diff, 0.99) <= 0.05 * np.ptp(a) and diff.mean() <= 0.01 * np.ptp(a)
        assert np.corrcoef(a, b)[0, 1] > 0.99
    back = P.with_policy(bf16, "float32")
    assert set(P.model_policies(back).values()) == {"float32"}
    np.testing.assert_array_equal(np.asarray(back(x)["disks"]), np.asarray(ref["disks"]))
    assert P.with_policy(model, "float32") is model  # nothing to change: no rebuild


def test_training_keeps_single_channel_3d_convolutions_float32():
    # oneDNN's bf16 weight gradient of the stack's first 3D conv (1 input channel) is the slow one; inference keeps it
    model = afm.dsh()
    trained = P.model_policies(P.with_policy(model, "mixed_bfloat16", training=True))
    served = P.model_policies(P.with_policy(model, "mixed_bfloat16"))
    assert trained["enc_conv3d_1"] == "float32" and served["enc_conv3d_1"] == "mixed_bfloat16"
    assert trained["enc_conv3d_2"] == served["enc_conv3d_2"] == "mixed_bfloat16"  # 4 input channels: bf16
    assert {k for k in trained if trained[k] != served[k]} == {"enc_conv3d_1"}


def test_for_inference_obeys_precision(monkeypatch):
    model = tiny_segmenter()
    monkeypatch.setenv(P.ENV_NATIVE, "1")
    monkeypatch.setattr(P, "BF16_OK", {"tiny": P.Bf16Check(True, "test")})
    assert P.policy_of(P.for_inference(model, "auto", name="tiny")) == "mixed_bfloat16"
    assert P.for_inference(model, "float32", name="tiny") is model
    monkeypatch.setenv(P.ENV_NATIVE, "0")
    assert P.for_inference(model, "auto", name="tiny") is model


def test_policy_scope_restores_the_global_policy():
    before = keras.config.dtype_policy().name
    with P.policy_scope("mixed_bfloat16") as policy:
        assert policy == "mixed_bfloat16"
        assert keras.layers.Dense(2).compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == before


def test_auto_table_names_zoo_models_and_says_why():
    from keras_spm.zoo import REGISTRY

    assert set(P.BF16_OK) <= set(REGISTRY)
    assert all(check.reason for check in P.BF16_OK.values())
    assert set(P.FLOAT32_PREFIXES) <= set(REGISTRY)
    policy, why = P.inference_policy("effunet_nanoparticles", "auto", flags=NATIVE)
    assert policy == "float32" and "not faster" in why
    assert P.inference_policy("dsh_light", "auto", flags=NATIVE)[0] == "mixed_bfloat16"
