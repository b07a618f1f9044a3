"""Numeric precision of the whole package: ``float32``, ``mixed_bfloat16`` or ``auto``.

CPUs with native bfloat16 arithmetic (AVX512-BF16, AMX) run the zoo's convolutions about 1.4x faster in
training and 1.7x faster in inference under Keras' ``mixed_bfloat16`` policy (compute in bf16, variables and
optimizer state in float32); on other CPUs bf16 is emulated and *slower*. So:

* :func:`resolve` turns ``"auto"`` into ``"mixed_bfloat16"`` only where :func:`native_bf16` finds the CPU flags
  (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``) and TensorFlow's oneDNN kernels are not switched off;
  everywhere else ``"auto"`` is ``"float32"``. ``KERAS_SPM_NATIVE_BF16=0|1`` fakes the detection (tests, or to
  overrule it), ``KERAS_SPM_PRECISION`` is the default when a caller passes ``precision=None``.
* :func:`with_policy` rebuilds a model (built or loaded: a loaded ``.keras`` keeps the dtype policy saved with
  each layer, so setting the global policy is not enough) under a policy and copies its weights. The layers that
  make the outputs stay float32: every output layer and, walking back from it, each layer up to and including
  the first one with weights (the final convolution), so final activations, residual additions of the input and
  anything a post-processing thresholds keep float32 resolution; so do the weightless layers between the inputs and
  the first layer with weights (the input scaling inside the zoo models). Losses see float32 outputs. Normalisation
  layers may run under the mixed policy: Keras computes their statistics in float32 internally.
* :func:`for_inference` is the one call for prediction (CLI, ``keras_spm.predict``): ``auto`` uses bf16 for a zoo
  model only if :data:`BF16_OK` says its bf16 outputs passed the checks of ``benchmarks/precision_checks.py``.
* :func:`policy_scope` sets the global policy for code that builds layers itself.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PRECISIONS = ("auto", "float32", "mixed_bfloat16")
POLICIES = ("float32", "mixed_bfloat16")
#: CPU flags (Linux ``/proc/cpuinfo``) of native bf16 arithmetic that oneDNN uses.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
ENV_PRECISION = "KERAS_SPM_PRECISION"
ENV_NATIVE = "KERAS_SPM_NATIVE_BF16"


@dataclass(frozen=True)
class Bf16Check:
    """Whether ``auto`` runs a zoo model in bf16 for inference, and the measurement that decided it."""

    ok: bool
    reason: str


#: zoo name -> layer-name prefixes kept float32 under bf16 besides the output path of :func:`float32_layers`, where
#: the checks showed that the default left a metric more than 1 % off.
FLOAT32_PREFIXES: dict[str, tuple[str, ...]] = {
    # xyz's z offsets need the stack's slice-to-slice differences: with the first 3D conv in bf16 the mean z error
    # rose 1.1 % (64 val molecules; keeping the offset head or the whole trunk float32 did not help), with it
    # float32 +0.3 %
    "xyz": ("enc_conv3d_1",),
}

#: zoo name -> verdict of ``benchmarks/precision_checks.py`` (results/precision_checks.json, 2026-12-01, a 2-core
#: Xeon with AMX under load 7-19): bf16 vs float32 on the model's own validation-style inputs, no metric worse by
#: more than 1 %, and the traced inference (median of 5-11 alternating repeats) faster. Models not listed run
#: float32 under ``auto``.
BF16_OK: dict[str, Bf16Check] = {
    "dsh_light": Bf16Check(
        True, "16 light val stacks: every map MSE/SSIM/r within 0.2 %, outputs r >= 0.99993; inference 1.9x"
    ),
    "dsh_heavy": Bf16Check(
        True, "16 heavy val stacks: maps within 0.61 % (height MSE lower), outputs r >= 0.99994; inference 1.7x"
    ),
    "es": Bf16Check(
        True,
        "16 heavy val stacks, weights of campaign run 3 (2026-12-02): height MSE +0.47 %, r >= 0.99999; "
        "1.16x with the machine otherwise idle",
    ),
    "xyz": Bf16Check(
        True, "64 light val stacks, first 3D conv float32: precision +0.16 %, recall -0.43 %, z error +0.32 %; 1.4x"
    ),
    "dsh_6slice": Bf16Check(
        True,
        "16 heavy val stacks (slices 2-7): maps within 0.34 % (height MSE), r >= 0.99996; 1.1x with a training running",
    ),
    "es_6slice": Bf16Check(
        True, "16 heavy val stacks (slices 2-7): height MSE +0.69 %, r >= 0.99993; 1.1x with a training running"
    ),
    "cyclegan_afm_sim2exp": Bf16Check(True, "6 expert-split images: cycle SSIM -0.00 %, output r >= 0.99999; 1.6x"),
    "cyclegan_afm_exp2sim": Bf16Check(True, "6 expert-split images: cycle SSIM +0.18 %, output r >= 0.99999; 2.1x"),
    "pix2pix_stem": Bf16Check(True, "4 train pairs: fmRMSE -0.02 %, output r 0.999999; 1.3x at batch 1 (0.6-1.7)"),
    "dae_tip_artifacts": Bf16Check(
        False,
        "tip-erosion model (2026-12-03): accurate in bf16 (6 val surfaces, one random tip each: SSIM -0.04 %, output "
        "r 1.00000; the erosion runs in float32 anyway) but not faster (x0.73, measured with a campaign running), so "
        "float32",
    ),
    "effunet_nanoparticles": Bf16Check(
        False,
        "accurate in bf16 (6 val-seed images: mAP +0.32 %, mean diameter +0.09 %) but not faster: inference 1.01x "
        "median (0.43-1.76 over 11 repeats), so float32",
    ),
}


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`, else raise a ``ValueError`` naming them."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)} "
            "('auto' uses mixed_bfloat16 only on CPUs with native bf16, e.g. AVX512-BF16 or AMX)."
        )
    return precision


@functools.lru_cache(maxsize=1)
def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags of the first processor in ``/proc/cpuinfo``; empty where that file does not exist."""
    try:
        text = Path(path).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def native_bf16(flags: Iterable[str] | None = None) -> bool:
    """True if bf16 runs natively here: a :data:`BF16_FLAGS` CPU flag and oneDNN not switched off.

    ``flags`` replaces the CPU's own flags (tests); without it ``KERAS_SPM_NATIVE_BF16=0|1`` overrules the
    detection. TensorFlow's bf16 CPU kernels come from oneDNN; with ``TF_ENABLE_ONEDNN_OPTS=0`` they are
    emulated, so that counts as no native bf16.
    """
    if flags is None:
        forced = os.environ.get(ENV_NATIVE)
        if forced is not None and forced.strip() != "":
            if forced.strip() not in ("0", "1"):
                raise ValueError(f"{ENV_NATIVE} must be 0 or 1, got {forced!r}.")
            return forced.strip() == "1"
        flags = cpu_flags()
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip() == "0":
        return False
    return any(f in set(flags) for f in BF16_FLAGS)


def resolve(precision: str | None = "auto", flags: Iterable[str] | None = None) -> str:
    """``"float32"`` or ``"mixed_bfloat16"`` for ``precision`` (``None``: ``$KERAS_SPM_PRECISION`` or ``auto``).

    ``auto`` is bf16 only with native bf16 (:func:`native_bf16`), because emulated bf16 is slower than float32.
    """
    if precision is None:
        precision = os.environ.get(ENV_PRECISION) or "auto"
    check_precision(precision)
    if precision == "auto":
        return "mixed_bfloat16" if native_bf16(flags) else "float32"
    return precision


def inference_policy(
    name: str | None, precision: str | None = "auto", flags: Iterable[str] | None = None
) -> tuple[str, str]:
    """(policy, why) for running zoo model ``name`` (``None``: not a zoo model) at ``precision``.

    An explicit ``float32`` / ``mixed_bfloat16`` is obeyed. ``auto`` is float32 unless the CPU has native bf16
    *and* :data:`BF16_OK` passed this model; a model that was never checked (``name`` unknown or ``None``) stays
    float32, since nothing says its outputs keep their meaning in bf16.
    """
    if precision is None:
        precision = os.environ.get(ENV_PRECISION) or "auto"
    check_precision(precision)
    if precision != "auto":
        return precision, f"precision={precision} requested"
    if not native_bf16(flags):
        return "float32", "auto: this CPU has no native bf16 (avx512_bf16 / amx_bf16), so bf16 would be slower"
    check = BF16_OK.get(name) if name is not None else None
    if check is None:
        return "float32", f"auto: {name or 'this model'} has no bf16 accuracy check (keras_spm.precision.BF16_OK)"
    if not check.ok:
        return "float32", f"auto: bf16 not used for {name}: {check.reason}"
    return "mixed_bfloat16", f"auto: native bf16 and {name} passed the bf16 checks ({check.reason})"


@contextlib.contextmanager
def policy_scope(precision: str | None = "auto") -> Iterator[str]:
    """Set Keras' global dtype policy to ``resolve(precision)`` inside the block; yields the policy name.

    Layers built inside compute in that policy, outputs included: use :func:`with_policy` on the built model when
    the outputs must stay float32.
    """
    import keras

    policy = resolve(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)


def _history_names(obj, found: list[str]) -> list[str]:
    """Names of the layers whose outputs a serialized node argument refers to (``keras_history``)."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            found.append(obj["config"]["keras_history"][0])
        else:
            for v in obj.values():
                _history_names(v, found)
    elif isinstance(obj, (list, tuple)):
        if len(obj) == 3 and isinstance(obj[0], str) and isinstance(obj[1], int) and isinstance(obj[2], int):
            found.append(obj[0])  # [layer name, node index, tensor index] (output_layers)
        else:
            for v in obj:
                _history_names(v, found)
    return found


def float32_layers(model, training: bool = False) -> set[str]:
    """Names of the layers :func:`with_policy` keeps float32 under bf16.

    * from each output back to, and including, the first layer with weights on every path (the final convolution):
      final activations, residual additions of the input, what a post-processing thresholds;
    * from each input forward through the layers without weights, up to the first layer with weights (which runs
      in bf16): the input scaling saved in the zoo models (``keras_spm.models.preprocessing``) sees the raw float32
      data, not a bf16 rounding of it (a df stack's offset would eat most of bf16's 8 bits);
    * with ``training=True``, 3D convolutions of a single input channel (the first layer of the ASD-AFM encoders, on
      the stack itself): oneDNN's bf16 weight gradient took 2.1x the float32 time there, so with that layer float32
      bf16 DSH trains 1.32-1.36x faster than float32 instead of 1.20x (2026-12-02, same runs). Not for inference, where the
      layer's bf16 forward is the faster one (traced b32: 1.50x with it in bf16, 1.21x without).
    """
    config = model.get_config()
    layers = {layer["name"]: layer for layer in config["layers"]}
    inbound = {name: set(_history_names(layer.get("inbound_nodes", []), [])) for name, layer in layers.items()}
    outbound: dict[str, set[str]] = {name: set() for name in layers}
    for name, sources in inbound.items():
        for source in sources:
            outbound[source].add(name)

    def weighted(name: str) -> bool:
        return bool(model.get_layer(name).weights)

    keep = {
        name
        for name, layer in layers.items()
        if training and layer["class_name"] == "Conv3D" and _in_channels(model, name) == 1
    }
    todo = list(dict.fromkeys(_history_names(config["output_layers"], [])))
    while todo:
        name = todo.pop()
        if name in keep or layers[name]["class_name"] == "InputLayer":
            continue
        keep.add(name)
        if not weighted(name):  # the first layer with weights on this path (the final convolution) ends it
            todo.extend(inbound[name])
    todo = [name for name, layer in layers.items() if layer["class_name"] == "InputLayer"]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if layers[name]["class_name"] != "InputLayer":
            if weighted(name):
                continue
            keep.add(name)
        todo.extend(outbound[name])
    return keep


def _in_channels(model, name: str) -> int | None:
    shape = getattr(model.get_layer(name).input, "shape", None)
    return shape[-1] if shape else None


def _nested(layer) -> bool:
    """A functional model used as a layer (e.g. a network wrapped by input / output scaling): handled layer by layer."""
    import keras

    return isinstance(layer, keras.Model) and "output_layers" in layer.get_config()


def model_policies(model, prefix: str = "") -> dict[str, str]:
    """Layer name -> dtype policy name of every layer (input layers left out; ``outer/inner`` in nested models)."""
    out = {}
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            continue
        if _nested(layer):
            out.update(model_policies(layer, f"{prefix}{layer.name}/"))
        else:
            out[prefix + layer.name] = layer.dtype_policy.name
    return out


def policy_of(model) -> str:
    """``"mixed_bfloat16"`` if any layer of ``model`` computes in bf16, else ``"float32"``."""
    return "mixed_bfloat16" if "mixed_bfloat16" in model_policies(model).values() else "float32"


def _wanted(model, policy: str, keep: tuple[str, ...], training: bool, prefix: str = "") -> dict[str, str]:
    """Layer name (as in :func:`model_policies`) -> the policy :func:`with_policy` gives it."""
    kept = float32_layers(model, training) if policy == "mixed_bfloat16" else set()
    out = {}
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            continue
        if _nested(layer):  # its own inputs and outputs get the same treatment inside
            out.update(_wanted(layer, policy, keep, training, f"{prefix}{layer.name}/"))
            continue
        name = prefix + layer.name
        float32 = layer.name in kept or (policy == "mixed_bfloat16" and bool(keep) and layer.name.startswith(keep))
        out[name] = "float32" if float32 else policy
    return out


def _set_policies(config: dict, wanted: dict[str, str], prefix: str = "") -> None:
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            continue
        name = layer["config"]["name"]
        if "output_layers" in layer["config"]:
            _set_policies(layer["config"], wanted, f"{prefix}{name}/")
        else:
            layer["config"]["dtype"] = wanted[prefix + name]


def with_policy(model, precision: str | None = "auto", keep: Iterable[str] = (), training: bool = False):
    """``model`` rebuilt under ``resolve(precision)`` with the same weights (the model itself if nothing changes).

    Works on functional models, freshly built or loaded from ``.keras`` (whose layers keep their saved policies),
    and on functional models nested in them (each with its own float32 inputs and outputs). Under
    ``mixed_bfloat16`` the layers of :func:`float32_layers` stay float32; under ``float32`` every layer is float32
    again (e.g. before exporting a bf16-trained checkpoint to the zoo). Layers whose names start with one of
    ``keep`` stay float32 too (e.g. a whole output head). ``training=True`` for a model about to be trained (a few
    layers are faster in float32 there, see :func:`float32_layers`). The result is not compiled.
    """
    import keras

    policy = resolve(precision)
    if not hasattr(model, "get_config") or "output_layers" not in model.get_config():
        raise TypeError(f"with_policy needs a functional Keras model, got {type(model).__name__}.")
    wanted = _wanted(model, policy, tuple(keep), training)
    if model_policies(model) == wanted:
        return model
    serialized = keras.saving.serialize_keras_object(model)
    _set_policies(serialized["config"], wanted)
    serialized.pop("compile_config", None)
    serialized.pop("build_config", None)
    clone = keras.saving.deserialize_keras_object(serialized)
    clone.set_weights(model.get_weights())
    return clone


def for_inference(model, precision: str | None = "auto", name: str | None = None):
    """``model`` ready for prediction at ``precision`` (``auto`` | ``float32`` | ``mixed_bfloat16``).

    ``name`` is the zoo name (``None`` for other models). ``auto`` gives bf16 only on a CPU with native bf16 and
    for a zoo model that passed the bf16 checks (:data:`BF16_OK`); otherwise float32, see
    :func:`inference_policy` for the reason. Outputs are float32 arrays in every case::

        model = keras_spm.precision.for_inference(zoo.load("dsh_light"), args.precision, name="dsh_light")
    """
    policy, _ = inference_policy(name, precision)
    return with_policy(model, policy, keep=FLOAT32_PREFIXES.get(name, ()) if name else ())
