"""One preset per zoo model: everything that goes with its weights, in one place (keras-hub ``*_presets.py`` style).

A :class:`ZooPreset` says how the network is built (a family preset of ``keras_spm.models.<family>`` and its
kwargs), what input it takes (:class:`InputSpec`: shape, tips, pixel size, value range), the scaling that is saved
inside the model (:data:`keras_spm.models.preprocessing.LAYERS`), what to do with its output (xyz decoding,
watershed, crop-back of padding), how it was trained (:class:`TrainingRecipe`: tips, descriptors, targets, loss,
augmentation) and which figure shows a prediction. ``ZooEntry.preset`` names it; ``training/fit.py``,
``benchmarks/afm_models.py``, ``keras-spm predict``, :func:`keras_spm.predict` and the demo read it instead of
keeping their own copies.

:func:`wrap` puts a preset's input scaling into a trained network (no new weights), so the saved model takes raw
data; ``training/export_to_zoo.py`` calls it for every model it exports. Importing this module does not import
Keras or TensorFlow (the CLI checks its arguments against it first).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

#: What a model takes, as :func:`keras_spm.predict` and ``keras-spm predict`` read it.
INPUT_KINDS = {
    "afm_stack": "constant-height df(z) stack (x, y, slices), slice 0 farthest: .sxm series or folder, .3ds, .npz",
    "topography": "one height image (x, y): .sxm (Z channel), .gwy, .ibw (Asylum), .npy, .png/.tif",
    "image": "one image (H, W) of any size: .png, .tif, .npy, .txt matrix",
}
#: Post-processing steps of :func:`keras_spm.predict`.
POSTPROCESSING = {
    "maps": "the output maps, cropped to the measured area (valid mask)",
    "xyz_atoms": "keras_spm.models.afm.decode_xyz_prediction: atoms (x, y, z, P) at confidence >= threshold",
    "restore": "the restored height map in the input's unit (the model maps its output back itself)",
    "particles": "keras_spm.models.effunet.segment_particles: watershed instances, per-particle table, sizes",
    "translate": "the translated image in [-1, 1], padding cropped back",
}


@dataclass(frozen=True)
class InputSpec:
    """The input of a model: ``kind`` (see :data:`INPUT_KINDS`), one ``(H, W, C)`` shape per tip, grid and units.

    ``shape`` has ``None`` for sizes the network accepts freely (it is then padded to ``multiple``).
    ``pixel_size`` is the training grid's (Angstrom for AFM stacks, nm for topographies; ``None``: any).
    """

    kind: str
    shape: tuple[int | None, int | None, int]
    tips: tuple[str, ...] = ()
    pixel_size: float | None = None
    slice_spacing: float | None = None
    multiple: int = 1
    value_range: str = ""


@dataclass(frozen=True)
class TrainingRecipe:
    """How the weights were trained: ``training/fit.py --model <fit_model>`` and what it fed the network.

    For the AFM networks ``compile`` is the ``keras_spm.models.afm.compile_*`` function, ``targets`` a function
    turning the descriptor dict into the model's targets (``"xyz"``), ``augmentation`` a key of
    ``keras_spm.data.augment.AUGMENTATIONS``. The other families train through ``training/fit_<family>.py``;
    their exact command is ``command`` (also in the model card).
    """

    fit_model: str
    set_name: str | None = None
    compile: str | None = None
    tips: tuple[str, ...] = ()
    descriptors: tuple[str, ...] = ()
    targets: str | None = None
    augmentation: str | None = None
    loss: str = ""
    command: str = ""
    slices: tuple[int, int] | None = None  # which slices of the simulated 10-slice ASD-AFM stack it takes (all)


@dataclass(frozen=True)
class ZooPreset:
    """Everything that goes with one zoo model's weights (see the module docstring)."""

    description: str
    family: str  # keras_spm.models.<family>
    builder: str  # the family's preset (keras_spm.models.<family>.PRESETS) or builder function
    input: InputSpec
    preprocessing: str  # keras_spm.models.preprocessing.LAYERS key, saved inside the model
    postprocessing: str  # POSTPROCESSING key
    recipe: TrainingRecipe
    figure: str  # "afm_maps", "afm_atoms", "topography", "particles", "before_after"
    builder_kwargs: dict = field(default_factory=dict)
    postprocessing_kwargs: dict = field(default_factory=dict)
    level: str = "none"  # default levelling of a topography: "plane", "lines", "none"
    twin: str | None = None  # the zoo model its first weights come from (keras_spm.models.afm.transfer)
    views: int | None = None  # mirror / 90-degree views predict averages (None: 8 for AFM stacks, else 1)

    @property
    def test_time_views(self) -> int:
        """How many views (:data:`keras_spm.inference.symmetry.DIHEDRAL`) :func:`keras_spm.predict` averages by
        default: 8 (mirrors and 90-degree turns) for AFM stacks, whose molecules lie in any orientation, and where
        ``views`` says so; 4 (the mirrors alone: scan lines stay along their axis) for STM topographies; 1 where
        the output depends on the image's orientation (CycleGAN styles with scan lines, the tip-erosion DAE)."""
        if self.views is not None:
            return self.views
        return 8 if self.input.kind == "afm_stack" else 1

    @property
    def outputs_restored(self) -> bool:
        """True when the saved model maps its output back to the input's unit (:class:`PercentileUnscale`)."""
        return self.postprocessing == "restore"


AFM_INPUT = dict(pixel_size=0.125, slice_spacing=0.1, value_range="frequency shift, any unit (standardised inside)")
ASD_AFM_STACK = InputSpec("afm_stack", (128, 128, 10), ("CO",), **AFM_INPUT)
#: ED-AFM's stack (Oinonen et al., ACS Nano 16, 89 (2022)): slices 2-7 of the 10-slice ASD-AFM stack, 0.1 A apart.
ED_AFM_SLICES = (2, 8)
#: the recipe of the 6-slice ES models (es_6slice, edafm): CO + Xe stacks of the heavy set, slices 2-7
ES_6SLICE_RECIPE = TrainingRecipe(
    "es", "heavy", "compile_es", ("CO", "Xe"), ("es", "height"), None, "drift-random-noise", "es_losses",
    slices=ED_AFM_SLICES,
)  # fmt: skip
DSH_DESCRIPTORS = ("disks", "spheres", "height")

PRESETS: dict[str, ZooPreset] = {
    "dsh_light": ZooPreset(
        description="Atomic Disks, vdW Spheres, Height Map from a CO-tip stack; light set (H, C, N, O, F).",
        family="afm",
        builder="dsh_10slice",
        input=ASD_AFM_STACK,
        preprocessing="standardize_slices",
        postprocessing="maps",
        recipe=TrainingRecipe(
            "dsh", "light", "compile_dsh", ("CO",), DSH_DESCRIPTORS, None, "asd-afm-random-noise", "dsh_losses"
        ),
        figure="afm_maps",
    ),
    "dsh_heavy": ZooPreset(
        description="Atomic Disks, vdW Spheres, Height Map from a CO-tip stack; heavy set (+ Si, P, S, Cl, Br).",
        family="afm",
        builder="dsh_10slice",
        input=ASD_AFM_STACK,
        preprocessing="standardize_slices",
        postprocessing="maps",
        recipe=TrainingRecipe(
            "dsh", "heavy", "compile_dsh", ("CO",), DSH_DESCRIPTORS, None, "asd-afm-random-noise", "dsh_losses"
        ),
        figure="afm_maps",
    ),
    "xyz": ZooPreset(
        description="Atom positions on a 16 x 16 grid (P(atom) + x/y/z offsets) from a CO-tip stack; light set.",
        family="afm",
        builder="xyz_10slice",
        input=ASD_AFM_STACK,
        preprocessing="standardize_slices",
        postprocessing="xyz_atoms",
        postprocessing_kwargs={"threshold": 0.5},
        recipe=TrainingRecipe(
            "xyz", "light", "compile_xyz", ("CO",), ("xyz",), "xyz", "asd-afm-random-noise", "xyz_losses"
        ),
        figure="afm_atoms",
    ),
    "es": ZooPreset(
        description="Electrostatic Map and Height Map from a CO-tip and a Xe-tip stack; heavy set.",
        family="afm",
        builder="es_10slice",
        input=InputSpec("afm_stack", (128, 128, 10), ("CO", "Xe"), **AFM_INPUT),
        preprocessing="standardize_slices",
        postprocessing="maps",
        recipe=TrainingRecipe(
            "es", "heavy", "compile_es", ("CO", "Xe"), ("es", "height"), None, "drift-random-noise", "es_losses"
        ),
        figure="afm_maps",
    ),
    "dsh_6slice": ZooPreset(
        description="Atomic Disks, vdW Spheres, Height Map from a 6-slice CO-tip stack (ED-AFM's depth); heavy set.",
        family="afm",
        builder="dsh_6slice",
        input=InputSpec("afm_stack", (128, 128, 6), ("CO",), **AFM_INPUT),
        preprocessing="standardize_slices",
        postprocessing="maps",
        recipe=TrainingRecipe(
            "dsh",
            "heavy",
            "compile_dsh",
            ("CO",),
            DSH_DESCRIPTORS,
            None,
            "asd-afm-random-noise",
            "dsh_losses",
            slices=ED_AFM_SLICES,
        ),  # fmt: skip
        figure="afm_maps",
        twin="dsh_heavy",
    ),
    "es_6slice": ZooPreset(
        description="Electrostatic Map and Height Map from 6-slice CO-tip and Xe-tip stacks (ED-AFM's depth).",
        family="afm",
        builder="es_6slice",
        input=InputSpec("afm_stack", (128, 128, 6), ("CO", "Xe"), **AFM_INPUT),
        preprocessing="standardize_slices",
        postprocessing="maps",
        recipe=ES_6SLICE_RECIPE,
        figure="afm_maps",
        twin="es",
    ),
    "edafm": ZooPreset(
        description="Electrostatic Map and Height Map from 6-slice CO-tip and Xe-tip stacks; ED-AFM's attention U-Net "
        "(Oinonen et al., ACS Nano 16, 89 (2022)) at a quarter of its widths; heavy set.",
        family="afm",
        builder="edafm_6slice",
        input=InputSpec("afm_stack", (128, 128, 6), ("CO", "Xe"), **AFM_INPUT),
        preprocessing="standardize_slices",
        postprocessing="maps",
        recipe=ES_6SLICE_RECIPE,
        figure="afm_maps",
    ),
    "cyclegan_afm_sim2exp": ZooPreset(
        description="Simulated nc-AFM image -> real (experimental) style; CycleGAN ResNet-6 generator.",
        family="gan",
        builder="resnet_generator",
        builder_kwargs={"n_blocks": 6, "filters": 24, "input_skip": True, "upsampling": "resize"},
        input=InputSpec("image", (None, None, 1), multiple=4, value_range="any (min-max scaled to [-1, 1] inside)"),
        preprocessing="minmax_to_tanh",
        postprocessing="translate",
        recipe=TrainingRecipe("cyclegan", loss="CycleGAN (LSGAN + cycle + identity)", command="see the model card"),
        figure="before_after",
    ),
    "cyclegan_afm_exp2sim": ZooPreset(
        description="Real (experimental) nc-AFM image -> simulated (ppafm) style; CycleGAN ResNet-6 generator.",
        family="gan",
        builder="resnet_generator",
        builder_kwargs={"n_blocks": 6, "filters": 24, "input_skip": True, "upsampling": "resize"},
        input=InputSpec("image", (None, None, 1), multiple=4, value_range="any (min-max scaled to [-1, 1] inside)"),
        preprocessing="minmax_to_tanh",
        postprocessing="translate",
        recipe=TrainingRecipe("cyclegan", loss="CycleGAN (LSGAN + cycle + identity)", command="see the model card"),
        figure="before_after",
    ),
    "pix2pix_stem": ZooPreset(
        description="Convolution-approximation -> multislice HAADF-STEM image; pix2pix U-Net.",
        family="gan",
        builder="pix2pix_unet256_gray",
        input=InputSpec("image", (None, None, 1), multiple=64, value_range="intensities >= 0 (over the peak inside)"),
        preprocessing="peak_to_tanh",
        postprocessing="translate",
        recipe=TrainingRecipe("pix2pix", loss="cGAN + 100 L1", command="see the model card"),
        figure="before_after",
        views=8,  # a HAADF image of a mirrored / turned particle: validation RMSE -2 % (real), -5 % (sim)
    ),
    "dae_tip_artifacts": ZooPreset(
        description="Removes blunt-tip widening from a topography by Villarrubia erosion with a tip it estimates from "
        "the scan itself (leaves noise, scan lines and most clean scans alone; it can erode clean scans of steep, "
        "packed AFM structures); scale-aware: heights and pixel size in one unit, metres in, metres out.",
        family="dae",
        builder="tip_erosion_dae_raw",
        builder_kwargs={"preset": "dae_tip_erosion_combined"},  # max-drop + noise-robust tip evidence (session 17)
        input=InputSpec(
            "topography", (None, None, 2), multiple=16, value_range="channels: heights, pixel size (one unit, e.g. m)"
        ),
        preprocessing="slope_scale",
        postprocessing="restore",
        recipe=TrainingRecipe(
            "dae",
            loss="MAE + SSIM + image gradient of the eroded scan + pinball loss (quantile 0.35, weighted exp(-r / 2 px) around the apex) of the tip profile",
            command="see the model card",
        ),
        figure="before_after",
        level="plane",
    ),
    "effunet_nanoparticles": ZooPreset(
        description="Inside / border / background of nanoparticles in an STM topograph, then watershed instances.",
        family="effunet",
        builder="efficientnet_unet",
        builder_kwargs={"backbone": "b0_half", "decoder_filters": (96, 64, 32, 16, 16)},
        input=InputSpec("topography", (None, None, 1), pixel_size=0.2, multiple=32, value_range="heights, any unit"),
        preprocessing="percentiles",
        postprocessing="particles",
        recipe=TrainingRecipe(
            "effunet", loss="focal + Dice, then border-weighted", command="see the model card (zoo/<name>/README.md)"
        ),
        figure="particles",
        level="plane",
        views=4,  # the mirror images (scan lines keep their axis): validation mAP 0.558 -> 0.568
    ),
}


def get_preset(name: str) -> ZooPreset:
    """The preset of zoo model ``name``; an unknown name raises ``ValueError`` listing the known ones."""
    if name not in PRESETS:
        raise ValueError(f"no zoo preset {name!r}; known: {', '.join(sorted(PRESETS))}.")
    return PRESETS[name]


def build(name: str, **overrides):
    """The untrained network of zoo preset ``name`` (its family preset or builder, with ``overrides``)."""
    import importlib

    preset = get_preset(name)
    family = importlib.import_module(f"keras_spm.models.{preset.family}")
    if preset.builder in getattr(family, "PRESETS", {}):
        return family.from_preset(preset.builder, **{**preset.builder_kwargs, **overrides})
    return getattr(family, preset.builder)(**{**preset.builder_kwargs, **overrides})


#: Input-scaling layers of other modules that make a model take raw data as well (the scale-aware DAE's).
OTHER_SCALING_LAYERS = ("SlopeScale",)


def is_wrapped(model) -> bool:
    """True when ``model`` already scales its own input (a layer of :mod:`keras_spm.models.preprocessing`, or one
    of :data:`OTHER_SCALING_LAYERS`), so :func:`wrap` leaves it as it is."""
    from keras_spm.models import preprocessing

    classes = tuple(preprocessing.LAYERS.values())
    return any(isinstance(layer, classes) or type(layer).__name__ in OTHER_SCALING_LAYERS for layer in model.layers)


def _rewire(node, old: str, new: str):
    """Replace ``keras_history`` references to layer ``old`` by ``new`` in a serialized inbound node."""
    if isinstance(node, dict):
        history = node.get("config", {}).get("keras_history") if node.get("class_name") == "__keras_tensor__" else None
        if history is not None and history[0] == old:
            node["config"]["keras_history"] = [new, *history[1:]]
            return node
        return {k: _rewire(v, old, new) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_rewire(v, old, new) for v in node)
    return node


def _tensor(layer_name: str, shape, dtype: str = "float32") -> dict:
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": list(shape), "dtype": dtype, "keras_history": [layer_name, 0, 0]},
    }


def wrap(model, preset: str | ZooPreset):
    """``model`` with the preset's input scaling saved inside it: raw data in, the same numbers out.

    The scaling layer is inserted right after each input in the model's own graph (the layers and weights are
    the model's, copied; nothing is retrained), so ``effunet.at_size`` / ``gan.load_generator``, which edit the
    input layer's config, keep working. A preset whose ``postprocessing`` is ``"restore"`` also gets a
    :class:`~keras_spm.models.preprocessing.PercentileUnscale` on its output (the DAE returns heights in the
    input's unit). Idempotent: a model that already scales its input is returned as it is.
    """
    import keras

    from keras_spm.models import preprocessing

    preset = get_preset(preset) if isinstance(preset, str) else preset
    if is_wrapped(model):
        return model
    config = copy.deepcopy(model.get_config())
    layer_cls = preprocessing.LAYERS[preset.preprocessing]
    input_names = [entry[0] for entry in _as_list_of_histories(config["input_layers"])]
    by_name = {layer["name"]: layer for layer in config["layers"]}
    new_layers = []
    for layer in config["layers"]:
        new_layers.append(layer)
        if layer["name"] not in input_names:
            continue
        scaled = f"{layer['name']}_{preset.preprocessing}"
        shape = layer["config"]["batch_shape"]
        pre = keras.saving.serialize_keras_object(layer_cls(name=scaled))
        pre.update(name=scaled, inbound_nodes=[{"args": [_tensor(layer["name"], shape)], "kwargs": {}}])
        new_layers.append(pre)
    for layer in new_layers:
        for inp in input_names:
            if layer["name"] != f"{inp}_{preset.preprocessing}":
                layer["inbound_nodes"] = _rewire(layer["inbound_nodes"], inp, f"{inp}_{preset.preprocessing}")
    config["layers"] = new_layers
    if preset.outputs_restored:  # the network's output keeps its name, now in the input's unit
        (out_name, node, index) = _as_list_of_histories(config["output_layers"])[0]
        scaled_name = f"{out_name}_scaled"
        for layer in config["layers"]:
            if layer["name"] == out_name:
                layer["name"] = layer["config"]["name"] = scaled_name
            layer["inbound_nodes"] = _rewire(layer["inbound_nodes"], out_name, scaled_name)
        raw = input_names[0]
        unscale = keras.saving.serialize_keras_object(preprocessing.PercentileUnscale(name=out_name))
        shape = by_name[raw]["config"]["batch_shape"]
        output = _tensor(scaled_name, shape)
        output["config"]["keras_history"] = [scaled_name, node, index]
        unscale.update(name=out_name, inbound_nodes=[{"args": [output, _tensor(raw, shape)], "kwargs": {}}])
        config["layers"].append(unscale)
        config["output_layers"] = [[out_name, 0, 0]]
    wrapped = model.__class__.from_config(config)
    wrapped.set_weights(model.get_weights())
    return wrapped


def _as_list_of_histories(value) -> list:
    """``input_layers`` of a functional config: one ``[name, node, index]`` or a list / dict of them."""
    if isinstance(value, dict):
        return list(value.values())
    if value and isinstance(value[0], str):
        return [value]
    return list(value)
