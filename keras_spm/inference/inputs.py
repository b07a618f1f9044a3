"""Reading what :func:`keras_spm.predict` is given, per input kind of a zoo preset, without TensorFlow.

* AFM stacks (``afm_stack``): a folder or several files of a constant-height ``.sxm`` series, a ``.3ds`` grid, an
  ``.npz`` stack, or an array already on the model's grid;
* topographies (``topography``): one height image: ``.sxm`` (channel ``Z`` by default), ``.gwy``, ``.ibw``, ``.npy``,
  ``.png`` / ``.tif``, ``.txt``; :func:`level` removes a plane or line offsets first;
* images (``image``): ``.png``, ``.tif``, ``.npy``, ``.txt`` matrices, or a folder of them.

:func:`check_paths` is what ``keras-spm predict`` runs before importing TensorFlow: it expands folders and globs
and refuses missing files and formats the model cannot take, naming the fix.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from keras_spm.io import SPMStack

#: input kind -> file extensions it reads (a folder is expanded to these)
EXTENSIONS = {
    "afm_stack": (".sxm", ".3ds", ".npz"),
    "topography": (".sxm", ".gwy", ".ibw", ".npy", ".png", ".tif", ".tiff", ".txt"),
    "image": (".png", ".tif", ".tiff", ".npy", ".txt"),
}
LEVELS = ("plane", "lines", "none")


class InputError(ValueError):
    """The inputs named cannot be used (missing, wrong format for this model): a user error, exit 2."""


@dataclass
class Topography:
    """One 2D image (x along axis 0 for SPM files), its pixel size in nm (``None``: unknown) and what was done."""

    data: np.ndarray
    pixel_size: float | None
    unit: str
    source: str
    notes: list[str] = field(default_factory=list)
    line_axis: int = 0  # the axis along a scan line: 0 for SPM files (x first), 1 for image files (rows)


def expand(items: list[str], kind: str) -> list[Path]:
    """Files named by ``items`` (files, folders, globs), in order; folders give their files of ``kind``, sorted."""
    out: list[Path] = []
    for item in items:
        matches = sorted(glob.glob(item)) if glob.has_magic(item) else [item]
        if not matches:
            raise InputError(f"{item}: the pattern matches no file; check the path (quote it so the shell keeps it).")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                files = sorted(p for p in path.iterdir() if p.suffix.lower() in EXTENSIONS[kind])
                if not files:
                    raise InputError(
                        f"{path}: the folder holds no {', '.join(EXTENSIONS[kind])} file; give a folder of them "
                        "or the files themselves."
                    )
                out.extend(files)
            elif not path.exists():
                raise InputError(f"{path}: no such file or folder; check the path.")
            else:
                out.append(path)
    return out


def check_paths(items: list[str], kind: str, tips: tuple[str, ...] = ()) -> dict[str, list[Path]]:
    """``{tip or "": [files]}`` for a model's input kind; raises :class:`InputError` naming the problem and fix."""
    groups: dict[str, list[str]] = {}
    if len(tips) > 1:
        usage = "this model takes one stack per tip: give them as " + " ".join(f"{t}=PATH" for t in tips)
        for item in items:
            tip, sep, path = item.partition("=")
            if not sep or tip not in tips or not path:
                raise InputError(f"{item!r}: {usage} (PATH a folder or file; repeat TIP=FILE for a series).")
            groups.setdefault(tip, []).append(path)
        missing = [t for t in tips if t not in groups]
        if missing:
            raise InputError(f"no input for tip {', '.join(missing)}: {usage}.")
    else:
        groups[tips[0] if tips else ""] = list(items)
    out = {}
    for tip, paths in groups.items():
        files = expand(paths, kind)
        bad = [p for p in files if p.suffix.lower() not in EXTENSIONS[kind]]
        if bad:
            from keras_spm.io.formats import conversion_hint

            raise InputError(
                f"{bad[0]}: unsupported format {bad[0].suffix or '(no extension)'!r} for this model, which takes "
                f"{describe(kind)}; {conversion_hint(bad[0].suffix)}."
            )
        if kind == "afm_stack":
            if len(files) == 1 and files[0].suffix.lower() == ".sxm":
                raise InputError(
                    f"{files[0]} is a single image: give the constant-height series (several .sxm files or their "
                    "folder) to make a df(z) stack."
                )
            kinds = {p.suffix.lower() for p in files}
            if len(files) > 1 and kinds != {".sxm"}:
                raise InputError(
                    f"{len(files)} files given for one stack: only a constant-height .sxm series comes in several "
                    "files; give one .3ds or .npz stack per run."
                )
        out[tip] = files
    return out


def describe(kind: str) -> str:
    from keras_spm.zoo.presets import INPUT_KINDS

    return INPUT_KINDS[kind]


def read_afm_stack(files: list[Path], channel: str | None, direction: str, crop_nan: bool) -> SPMStack:
    """An :class:`keras_spm.io.SPMStack` from a .sxm series, a .3ds grid or an .npz stack."""
    from keras_spm import io

    if files[0].suffix.lower() == ".sxm":
        stack = io.assemble_stack(files, channel=channel or "Frequency_Shift", direction=direction)
    elif files[0].suffix.lower() == ".3ds":
        stack = io.read_3ds(files[0], channel or "Frequency Shift")
    else:
        stack = io.read_npz(files[0], channel=channel or "Frequency_Shift")
    if crop_nan:
        stack = io.crop_nan(stack)
    elif np.isnan(np.asarray(stack.data)).mean() > 0.1:
        raise ValueError(
            f"{files[0]}: {100 * np.isnan(stack.data).mean():.0f}% of the stack is NaN (an interrupted measurement?); "
            "add --crop-nan (crop_nan=True) to crop to the NaN-free rectangle."
        )
    return stack


def read_matrix(path: Path) -> np.ndarray:
    """A 2D float array from ``.npy``, ``.txt`` (whitespace or comma separated) or an image file (grayscale)."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        try:
            text = path.read_text()
            data = np.loadtxt(path, delimiter="," if "," in text.split("\n", 1)[0] else None, ndmin=2)
        except ValueError as err:
            raise ValueError(
                f"{path}: not a numeric matrix ({err}); give whitespace- or comma-separated numbers."
            ) from None
    else:
        from keras_spm.datasets.afm_style import read_image

        data = read_image(path)
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 2:
        raise ValueError(f"{path}: expected one 2D image, got an array of shape {data.shape}.")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{path}: {int(np.sum(~np.isfinite(data)))} NaN/inf pixels; fill or crop them out first.")
    return data


def read_topography(path: Path, channel: str | None, pixel_size: float | None, crop_nan: bool = False) -> Topography:
    """One height image: SPM files in nm (pixel size from the file), others as stored (``pixel_size`` in nm).

    NaN pixels (the unfinished lines of an interrupted scan): ``crop_nan`` keeps the NaN-free rectangle; without
    it up to 10 % are filled with the median and more is refused, since a median band would read as a surface."""
    from keras_spm import io

    suffix = path.suffix.lower()
    notes = []
    if suffix in (".sxm", ".gwy", ".ibw"):
        # .sxm: channel Z; .gwy: the first channel; .ibw (Asylum): the first, HeightRetrace on their scans
        readers = {".sxm": lambda: io.read_sxm(path, channel or "Z"), ".gwy": lambda: io.read_gwy(path, channel)}
        image = readers.get(suffix, lambda: io.read_ibw(path, channel))()
        data = np.asarray(image.data, dtype=np.float64)
        unit = image.unit or ""
        if unit == "m":
            data, unit = data * 1e9, "nm"
        file_px = image.pixel_size[0] / 10.0  # Angstrom -> nm
        notes.append(f"read channel {image.channel!r} of {path.name}: {data.shape[0]}x{data.shape[1]} px")
        if pixel_size is None:
            pixel_size = file_px
            notes.append(f"pixel size {file_px:.4g} nm from the file")
        else:
            notes.append(f"pixel size {pixel_size:.4g} nm as given (the file says {file_px:.4g} nm)")
        if not np.all(np.isfinite(data)):
            data = _without_nan(data, path, crop_nan, notes)
    else:
        data, unit = read_matrix(path), ""
        notes.append(f"read {path.name}: {data.shape[0]}x{data.shape[1]} px")
        if pixel_size is not None:
            notes.append(f"pixel size {pixel_size:.4g} nm as given")
    line_axis = 0 if suffix in (".sxm", ".gwy", ".ibw") else 1
    return Topography(data, pixel_size, unit, str(path), notes, line_axis=line_axis)


def _without_nan(data: np.ndarray, path: Path, crop_nan: bool, notes: list[str]) -> np.ndarray:
    from keras_spm.io.resample import nan_free_box

    bad = ~np.isfinite(data)
    if crop_nan:
        x0, x1, y0, y1 = nan_free_box(bad)
        if min(x1 - x0, y1 - y0) < 32:
            raise ValueError(f"{path}: the NaN-free part of the image is {x1 - x0}x{y1 - y0} px, too small to use.")
        notes.append(f"cropped to the NaN-free [{x0}:{x1}, {y0}:{y1}] of {data.shape[0]}x{data.shape[1]} px")
        return data[x0:x1, y0:y1]
    if bad.mean() > 0.1:
        raise ValueError(
            f"{path}: {100 * bad.mean():.0f}% of the image is NaN (an interrupted scan?); "
            "add --crop-nan (crop_nan=True) to keep its finished part."
        )
    notes.append(f"filled {int(bad.sum())} NaN pixels with the median")
    return np.where(bad, np.nanmedian(data), data)


def level(image: np.ndarray, mode: str = "plane", line_axis: int = 0) -> tuple[np.ndarray, str]:
    """``image`` with a least-squares plane (``"plane"``) or each line's median (``"lines"``) removed, and a note.

    A scan line runs along ``line_axis`` (0 for SPM arrays, x first; 1 for the rows of an image file).

    A tilted sample or a drifting z piezo adds a slope that is larger than the particles on it; unlevelled, a
    percentile scaling sees the slope, not the particles.
    """
    if mode not in LEVELS:
        raise InputError(f"level {mode!r}: choose one of {', '.join(LEVELS)}.")
    a = np.asarray(image, dtype=np.float64)
    if mode == "none":
        return a, "not levelled"
    if mode == "lines":
        return a - np.median(a, axis=line_axis, keepdims=True), "levelled by subtracting each scan line's median"
    i, j = np.meshgrid(np.arange(a.shape[0]), np.arange(a.shape[1]), indexing="ij")
    design = np.stack([i.ravel(), j.ravel(), np.ones(a.size)], axis=1)
    coef, *_ = np.linalg.lstsq(design, a.ravel(), rcond=None)
    return a - (design @ coef).reshape(a.shape), f"levelled by a plane (slopes {coef[0]:.3g}, {coef[1]:.3g} per px)"
