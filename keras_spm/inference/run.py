"""``keras_spm.predict(name_or_model, inputs)``: any zoo model on real files, with its preset's pre- and post-processing.

The preset (:mod:`keras_spm.zoo.presets`) decides everything: how inputs are read and put on the model's grid, and
what is done with the output. The model scales its own input (the scaling is saved inside it), so nothing here
standardises by hand, and every call goes through the traced fast path (:mod:`.fast`).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from .inputs import check_paths, level, read_afm_stack, read_matrix, read_topography
from .result import Prediction

#: above this fraction of padded pixels in an AFM model's window, a prediction comes with a warning
MAX_PADDING = 0.25
#: zoo models kept loaded by name between calls (the oldest is dropped first)
MAX_LOADED = 3
_LOADED: dict = {}


def load(name_or_model, preset: str | None = None, precision: str | None = None) -> tuple:
    """(model, preset name, preset) from a zoo name or a loaded model (``preset`` needed unless from ``zoo.load``)."""
    from keras_spm import zoo
    from keras_spm.zoo.presets import get_preset, is_wrapped, wrap

    if isinstance(name_or_model, str):
        entry = zoo.get_entry(name_or_model)
        preset = preset or entry.preset_name(name_or_model)
        name = name_or_model
        if name not in _LOADED:  # predict("dsh_heavy", x) in a loop loads (and traces) the model once
            while len(_LOADED) >= MAX_LOADED:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[name] = zoo.load(name)
        model = _LOADED[name]
    else:
        model = name_or_model
        preset = preset or getattr(model, "_keras_spm_preset", None)
        if preset is None:
            raise ValueError(
                "keras_spm.predict(model, ...) needs to know what the model is: pass preset='dsh_light' (a key of "
                "keras_spm.zoo.presets.PRESETS), or give a zoo name instead of the model."
            )
        if not is_wrapped(model):
            model = wrap(model, preset)
        name = getattr(model, "name", preset)
    note = None
    if precision is not None:
        from keras_spm import precision as precision_module

        zoo_name = name if isinstance(name_or_model, str) else None
        policy, why = precision_module.inference_policy(zoo_name, precision)
        if policy != "float32":
            if zoo_name is None:
                model = precision_module.with_policy(model, policy)
            else:  # rebuilt once per zoo model and policy, like the load itself
                if (zoo_name, policy) not in _LOADED:
                    _LOADED[(zoo_name, policy)] = precision_module.with_policy(model, policy)
                model = _LOADED[(zoo_name, policy)]
        note = f"precision {policy} ({why})"
    return model, name, get_preset(preset), note


def predict(
    name_or_model,
    inputs,
    *,
    preset: str | None = None,
    channel: str | None = None,
    direction: str = "forward",
    crop_nan: bool = False,
    level_mode: str | None = None,
    pixel_size: float | None = None,
    batch_size: int = 8,
    precision: str | None = None,
    progress: bool = False,
    tta: bool | None = None,
    log=None,
) -> Prediction | list[Prediction]:
    """Run a zoo model on real inputs; a :class:`Prediction` (a list of them for several images).

    ``inputs``: file / folder / glob paths (one string or a list), or arrays. AFM models take one stack: a
    constant-height ``.sxm`` series (files or folder), a ``.3ds`` grid (``crop_nan=True`` crops an interrupted
    one), an ``.npz``, or an array on the model's grid; ``es`` takes ``{"CO": ..., "Xe": ...}`` or ``["CO=...",
    "Xe=..."]``. Topography models take one height image each (``.sxm`` channel ``Z`` by default, ``.gwy``,
    ``.npy``, ``.png``/``.tif``; ``crop_nan=True`` drops the unfinished lines of an interrupted scan), levelled by
    ``level_mode`` (the preset's default: a plane). Image models take
    images of any size, padded to the generator's stride and cropped back. ``pixel_size`` (nm; Angstrom for AFM
    arrays is not needed) overrides the file's. ``precision``: ``keras_spm.precision`` (``"auto"``,
    ``"float32"``, ``"mixed_bfloat16"``; ``None``: float32 as loaded). ``tta`` (default on where the preset has
    :attr:`~keras_spm.zoo.presets.ZooPreset.test_time_views` > 1: AFM models and pix2pix_stem 8 mirror / 90-degree
    views, effunet_nanoparticles its 4 mirror images) averages the predictions of those views (:mod:`.symmetry`;
    on validation: ES r 0.854 -> 0.874, atom position error -4 to -7 %, segmentation mAP +0.01); ``tta=False``
    gives the single pass of the network. ``log(line)`` receives the notes as they happen (e.g. ``print``).
    """
    model, name, spec, precision_note = load(name_or_model, preset, precision)
    if precision_note and log is not None:
        log(precision_note)
    kind = spec.input.kind
    if tta and spec.test_time_views == 1:
        raise ValueError(
            f"tta=True averages mirrored / turned views; {name!r} depends on the image's orientation (scan lines, "
            "styles), so it has none: drop tta."
        )
    tta = spec.test_time_views > 1 if tta is None else bool(tta)
    if kind == "afm_stack":
        results = [_predict_afm(model, name, spec, inputs, channel, direction, crop_nan, log, tta)]
    else:
        items = _as_items(inputs, kind)
        if kind == "topography":
            results = _predict_topography(
                model, name, spec, items, channel, level_mode, pixel_size, batch_size, progress, log, crop_nan, tta
            )
        else:
            results = _predict_images(
                model, name, spec, items, channel, level_mode, pixel_size, batch_size, progress, log, tta
            )
    if precision_note:
        for r in results:
            r.notes.insert(0, precision_note)
    return results[0] if len(results) == 1 else results


def _emit(log, notes: list[str], line: str) -> None:
    notes.append(line)
    if log is not None:
        log(line)


def _as_items(inputs, kind: str) -> list:
    """Paths expanded (folders, globs) or arrays, as a list."""
    if isinstance(inputs, np.ndarray):
        return [inputs] if inputs.ndim == 2 else list(inputs)
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    arrays = [x for x in inputs if isinstance(x, np.ndarray)]
    if arrays:
        return arrays
    return check_paths([str(p) for p in inputs], kind)[""]


def valid_mask(size: tuple[float, float], pixel_size: float, shape: tuple[int, int]) -> np.ndarray:
    """True where a scan of ``size`` (Angstrom) lands in a window of ``shape`` px after ``resample_to_model``.

    The scan is zoomed to ``pixel_size`` and centred: a smaller scan is reflect-padded (mirrored data around
    it), a larger one cropped (all valid). The same arithmetic as :func:`keras_spm.io.resample_to_model`.
    """
    mask = np.ones(shape, bool)
    for axis, (length, target) in enumerate(zip(size, shape, strict=True)):
        n = max(1, round(length / pixel_size))
        if n < target:
            before = (target - n) // 2
            keep = np.zeros(target, bool)
            keep[before : before + n] = True
            mask &= keep[:, None] if axis == 0 else keep[None, :]
    return mask


def _predict_afm(model, name, spec, inputs, channel, direction, crop_nan, log, tta=False) -> Prediction:
    from keras_spm import io
    from keras_spm.models.afm import check_stack, decode_xyz_prediction
    from keras_spm.zoo.presets import ASD_AFM_STACK

    from .fast import fast_call
    from .symmetry import dihedral_average

    tips, shape = spec.input.tips, spec.input.shape
    notes: list[str] = []
    if isinstance(inputs, np.ndarray) or (isinstance(inputs, dict) and inputs and all(
            isinstance(v, np.ndarray) for v in inputs.values())):  # fmt: skip
        arrays = inputs if isinstance(inputs, dict) else {tips[0]: inputs}
        missing = [t for t in tips if t not in arrays]
        if missing:
            raise ValueError(
                f"{name} takes the stacks of tip(s) {', '.join(tips)}, got "
                + (f"stacks of {', '.join(map(str, arrays))}" if isinstance(inputs, dict) else "one array")
                + "; pass a dict {"
                + ", ".join(f"{t!r}: stack" for t in tips)
                + "}."
            )
        stacks = {t: check_stack(arrays[t], n_slices=shape[2], image_size=shape[:2])[0] for t in tips}
        valid = np.ones(shape[:2], bool)
        source = "array"
        _emit(log, notes, "stacks given as arrays on the model's grid: used as they are")
    else:
        items = [inputs] if isinstance(inputs, (str, Path)) else [str(p) for p in inputs]
        groups = check_paths([str(p) for p in items], "afm_stack", tips)
        stacks, valid = {}, np.ones(shape[:2], bool)
        for tip, files in groups.items():
            stack = read_afm_stack(files, channel, direction, crop_nan)
            # 6-slice models take slices 2-7 of the ASD-AFM depth (ED-AFM): resample to that depth, then cut
            depth = ASD_AFM_STACK.shape[2] if spec.recipe.slices else shape[2]
            lo, hi = spec.recipe.slices or (0, depth)
            resampled = io.resample_to_model(
                stack, pixel_size=spec.input.pixel_size, shape=shape[:2], n_slices=depth,
                slice_spacing=spec.input.slice_spacing,
            )  # fmt: skip
            prefix = f"{tip}: " if len(tips) > 1 else ""
            report = [*stack.notes, *resampled.report]
            if spec.recipe.slices:
                report.append(f"the model takes slices {lo}-{hi - 1} of those {depth} (far to close), as ED-AFM did")
            for line in report:
                _emit(log, notes, prefix + line)
            stacks[tip] = resampled.data[..., lo:hi]
            valid &= valid_mask(stack.size, spec.input.pixel_size, shape[:2])
        first = groups[tips[0]]
        source = str(first[0].parent) if len(first) > 1 else str(first[0])
    padded = 1.0 - float(valid.mean())
    if padded > MAX_PADDING:
        message = (
            f"{100 * padded:.0f}% of the model's {shape[0]}x{shape[1]} px window is padding (mirrored data): only "
            f"the measured {100 * (1 - padded):.0f}% (the 'valid' mask, dashed in the figure) is a prediction"
        )
        warnings.warn(message, UserWarning, stacklevel=3)
        _emit(log, notes, "warning: " + message)
    x = {t: stacks[t][None] for t in tips}
    x = x if len(tips) > 1 else x[tips[0]]
    if tta:
        views = spec.test_time_views
        _emit(log, notes, f"test-time augmentation: the mean of the {views} mirror / 90-degree views")
        raw = dihedral_average(lambda s: fast_call(model, s), x, views=views)
    else:
        raw = fast_call(model, x)
    out = {k: np.asarray(v)[0] for k, v in raw.items()}
    arrays = {"input": stacks[tips[0]]} if len(tips) == 1 else {f"input_{t}": s for t, s in stacks.items()}
    arrays.update(out)
    arrays["valid"] = valid
    shown = list(out)
    if spec.postprocessing == "xyz_atoms":
        threshold = spec.postprocessing_kwargs.get("threshold", 0.5)
        atoms = decode_xyz_prediction(out["xyz_class"], out["xyz_offset"], threshold=threshold)
        px = spec.input.pixel_size
        idx = np.clip((atoms[:, :2] / px).astype(int), 0, np.array(shape[:2]) - 1) if len(atoms) else atoms[:, :2]
        inside = valid[idx[:, 0], idx[:, 1]] if len(atoms) else np.zeros(0, bool)
        _emit(log, notes, f"{int(inside.sum())} atoms at confidence >= {threshold} (x, y, z [A], P) saved as 'atoms'"
              + (f"; {int((~inside).sum())} more in the padded region dropped" if (~inside).any() else ""))  # fmt: skip
        arrays["atoms"] = atoms[inside]
        arrays["p_atom"] = np.kron(out["xyz_class"][..., 1], np.ones((shape[0] // 16, shape[1] // 16)))
        shown = ["p_atom"]
    meta = {"pixel_size": spec.input.pixel_size, "shown": shown}
    return Prediction(name, source, arrays, notes, spec.figure, meta)


def _progress(items, progress: bool):
    if not progress or len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, file=sys.stderr, unit="image")


def _predict_topography(
    model, name, spec, items, channel, level_mode, pixel_size, batch_size, progress, log, crop_nan=False, tta=False
):
    from .inputs import Topography

    mode = level_mode or spec.level
    results = []
    for item in _progress(items, progress):
        if isinstance(item, np.ndarray):
            topo = Topography(np.asarray(item, np.float64), pixel_size, "", "array", line_axis=1)
        else:
            topo = read_topography(Path(item), channel, pixel_size, crop_nan)
        notes: list[str] = []
        for line in topo.notes:
            _emit(log, notes, line)
        image, how = level(topo.data, mode, topo.line_axis)
        _emit(log, notes, how)
        if spec.postprocessing == "restore":
            results.append(_restore(model, name, spec, topo, image, notes, log))
        else:
            results.append(_particles(model, name, spec, topo, image, notes, log, spec.test_time_views if tta else 1))
    return results


def _restore(model, name, spec, topo, image, notes, log) -> Prediction:
    from keras_spm.models.dae.restore import restore

    if model.inputs[0].shape[-1] == 2:  # a scale-aware DAE: heights and pixel size in one unit (nm here)
        if topo.pixel_size is None:
            raise ValueError(f"{topo.source}: {name} needs the pixel size; give --pixel-size NM (pixel_size=)")
        with warnings.catch_warnings(record=True) as caught:  # a refuted tip estimate: said in the notes
            warnings.simplefilter("always", UserWarning)
            restored = restore(model, image, stride=spec.input.multiple, pixel_size=topo.pixel_size)
        for w in caught:
            _emit(log, notes, str(w.message))
    else:
        restored = restore(model, image, stride=spec.input.multiple)
    _emit(log, notes, f"padded to a multiple of {spec.input.multiple} px for the network and cropped back")
    arrays = {"input": image.astype(np.float32), "restored": restored.astype(np.float32)}
    arrays["removed"] = arrays["input"] - arrays["restored"]
    meta = {"output": "restored", "output_title": "restored", "spm_axes": topo.line_axis == 0, "unit": topo.unit}
    if topo.pixel_size is not None:
        meta["pixel_size"] = topo.pixel_size  # nm
    return Prediction(name, topo.source, arrays, notes, spec.figure, meta)


def _particles(model, name, spec, topo, image, notes, log, views: int = 1) -> Prediction:
    from skimage.measure import regionprops
    from skimage.transform import resize

    from keras_spm.models.effunet import segment_particles

    target = spec.input.pixel_size
    if topo.pixel_size is None:
        px, unit = 1.0, "px"
        message = (f"pixel size unknown: segmented as it is and sizes are in pixels; give --pixel-size NM "
                   f"(the model was trained at {target} nm/px)")  # fmt: skip
        warnings.warn(message, UserWarning, stacklevel=3)
        _emit(log, notes, "warning: " + message)
    else:
        px, unit = topo.pixel_size, "nm"
        if not np.isclose(px, target, rtol=0.05):
            new = tuple(max(32, round(n * px / target)) for n in image.shape)
            if max(new) > 4096:
                raise ValueError(
                    f"{topo.source}: at the model's {target} nm/px the image would be {new[0]}x{new[1]} px; crop it "
                    "to the particles first"
                )
            _emit(log, notes, f"zoomed from {px:.4g} to {target} nm/px ({image.shape[0]}x{image.shape[1]} -> "
                  f"{new[0]}x{new[1]} px), the model's training scale")  # fmt: skip
            image = resize(image, new, order=1, mode="edge", anti_aliasing=new[0] < image.shape[0], preserve_range=True)
            px = topo.pixel_size * topo.data.shape[0] / new[0]
    seg = segment_particles(model, image, px, views=views)
    if views > 1:
        _emit(
            log,
            notes,
            f"test-time augmentation: probabilities averaged over the image and its {views - 1} mirror images",
        )
    inst = seg["instances"]
    table = []
    for region in regionprops(inst):
        area = region.area * px**2
        cx, cy = region.centroid
        rows, cols = region.coords[:, 0], region.coords[:, 1]
        edge = rows.min() == 0 or cols.min() == 0 or rows.max() == inst.shape[0] - 1 or cols.max() == inst.shape[1] - 1
        table.append({
            "label": int(region.label), f"diameter_{unit}": round(float(2 * np.sqrt(area / np.pi)), 4),
            f"area_{unit}2": round(float(area), 4), f"centroid_x_{unit}": round(float(cx * px), 4),
            f"centroid_y_{unit}": round(float(cy * px), 4), "score": round(seg["scores"].get(region.label, 0.0), 4),
            "at_edge": bool(edge),
        })  # fmt: skip
    sizes = seg["sizes"]
    _emit(log, notes, f"{len(table)} particles ({sizes['count']} not cut by the edge), mean diameter "
          f"{sizes['mean']:.3g} {unit}; mask p_inside + p_border > 0.85, watershed on p_inside > 0.5")  # fmt: skip
    arrays = {
        "input": image.astype(np.float32),
        "instances": inst.astype(np.int32),
        "probabilities": seg["probabilities"].astype(np.float16),
    }
    columns = [
        "label",
        f"diameter_{unit}",
        f"area_{unit}2",
        f"centroid_x_{unit}",
        f"centroid_y_{unit}",
        "score",
        "at_edge",
    ]
    meta = {"length_unit": unit, "pixel_size": px, "sizes": sizes, "columns": columns}
    return Prediction(name, topo.source, arrays, notes, spec.figure, meta, table)


def _scaled_source(spec, images: np.ndarray) -> np.ndarray:
    """``images`` as the model's own input scaling (the preset's) puts them in [-1, 1]: what its calibration sees."""
    from keras_spm.models import preprocessing

    return np.asarray(preprocessing.LAYERS[spec.preprocessing](dtype="float32")(images), np.float32)


def _predict_images(model, name, spec, items, channel, level_mode, pixel_size, batch_size, progress, log, tta=False):
    """Images of any size: centred reflection padding to the stride, cropped back and recalibrated, as ``translate``.

    Padding only the bottom and right moved the 64-stride pix2pix U-Net off its result (Pt-Mo5 test pair 13: RMSE /
    mean 0.244 against 0.136 through ``keras_spm.models.gan.translate``), and a :class:`MeanCalibrationLayer` inside
    the model takes its means over the padding too; so the same helpers as ``translate`` pad, crop and recalibrate.
    """
    from keras_spm.datasets.stem_pairs import crop_back, pad_to_multiple
    from keras_spm.models.gan.calibration import find_calibration, recalibrate

    from .fast import fast_call
    from .symmetry import dihedral_average

    multiple = spec.input.multiple
    calibration = find_calibration(model)

    def run(raw: np.ndarray) -> np.ndarray:  # (B, H, W) -> (B, H, W, 1)
        padded, box = pad_to_multiple(np.moveaxis(raw, 0, -1), multiple, warn=False)  # pads axes 0, 1 = H, W
        x = np.moveaxis(padded, -1, 0)[..., None]
        y = crop_back(np.asarray(fast_call(model, x)), box)
        if calibration is not None and x.shape[1:3] != raw.shape[1:3]:
            y = recalibrate(calibration, _scaled_source(spec, raw[..., None]), y)  # in-model means saw the padding
        return y

    images, sources = [], []
    for item in items:
        images.append(np.asarray(item, np.float64) if isinstance(item, np.ndarray) else read_matrix(Path(item)))
        sources.append("array" if isinstance(item, np.ndarray) else str(item))
    by_shape: dict[tuple, list[int]] = {}
    for i, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(i)
    outputs: dict[int, np.ndarray] = {}
    batches = [idx[k : k + batch_size] for idx in by_shape.values() for k in range(0, len(idx), batch_size)]
    for batch in _progress(batches, progress and len(images) > 1):
        raw = np.stack([images[i] for i in batch]).astype(np.float32)  # (B, H, W)
        y = dihedral_average(lambda b: {"y": run(b)}, raw, views=spec.test_time_views)["y"] if tta else run(raw)
        for i, out in zip(batch, y[..., 0], strict=True):
            outputs[i] = out
    results = []
    for i, image in enumerate(images):
        notes: list[str] = []
        h, w = image.shape
        how = f", reflection-padded (centred) to a multiple of {multiple} and cropped back"
        if calibration is not None:
            how += ", mean calibration redone on the image"
        _emit(log, notes, f"{sources[i]}: {h}x{w} px" + (how if h % multiple or w % multiple else ""))
        _emit(log, notes, f"scaled inside the model ({spec.preprocessing}); output in [-1, 1]")
        if tta:
            _emit(
                log, notes, f"test-time augmentation: the mean of the {spec.test_time_views} mirror / 90-degree views"
            )
        arrays = {"input": image.astype(np.float32), "translated": outputs[i].astype(np.float32)}
        meta = {"output": "translated", "output_title": name.replace("_", " ")}
        results.append(Prediction(name, sources[i], arrays, notes, spec.figure, meta))
    return results
