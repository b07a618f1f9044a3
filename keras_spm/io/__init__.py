"""Read real instrument files and put them on a zoo model's input grid.

>>> from keras_spm import io
>>> stack = io.assemble_stack("measurements/series/")           # constant-height .sxm series
>>> x, report = io.resample_to_model(stack)                       # float32 (128, 128, 10)
>>> print("\\n".join(stack.notes + report))

Arrays are (x, y[, slices]): x along axis 0, y bottom to top along axis 1, slice 0 the farthest
from the sample; lengths and heights in Angstrom (see :mod:`keras_spm.io.image`).
"""

from __future__ import annotations

from pathlib import Path

from .formats import conversion_hint
from .gwyddion import gwy_channels, read_gwy
from .ibw import ibw_channels, read_ibw
from .image import SPMFileError, SPMImage, SPMStack
from .nanonis import grid_channels, read_3ds, read_sxm, read_sxm_header, sxm_channels
from .npz import read_npz
from .resample import Resampled, crop_nan, resample_to_model
from .stack import assemble_stack

#: extension -> what it is and what :func:`read` returns
SUPPORTED_FORMATS = {
    ".sxm": "Nanonis scan -> SPMImage",
    ".3ds": "Nanonis grid z-spectroscopy -> SPMStack of constant-height slices",
    ".gwy": "Gwyddion file (GWYP, or GWYO of Gwyddion 1.x) -> SPMImage",
    ".ibw": "Asylum Research scan (Igor binary wave) -> SPMImage",
    ".npz": "AFM stack with keys data, lengthX, lengthY (ED-AFM format) -> SPMStack",
    "folder": "folder of constant-height .sxm files -> SPMStack (assemble_stack)",
}

__all__ = [
    "SUPPORTED_FORMATS",
    "Resampled",
    "SPMFileError",
    "SPMImage",
    "SPMStack",
    "assemble_stack",
    "crop_nan",
    "list_channels",
    "read",
    "read_3ds",
    "read_gwy",
    "read_ibw",
    "read_npz",
    "read_sxm",
    "read_sxm_header",
    "resample_to_model",
]


def _kind(path: Path) -> str:
    if path.is_dir():
        return "folder"
    ext = path.suffix.lower()
    if ext not in SUPPORTED_FORMATS:
        supported = "; ".join(f"{k} ({v})" for k, v in SUPPORTED_FORMATS.items())
        raise ValueError(
            f"{path}: unsupported format {ext or '(no extension)'!r}; {conversion_hint(ext)}. Supported: {supported}"
        )
    return ext


def read(path, channel: str | None = None, **kwargs) -> SPMImage | SPMStack:
    """Read ``path`` by its extension (see ``SUPPORTED_FORMATS``); extra keywords go to the reader.

    ``channel`` defaults to the frequency shift for Nanonis files and the folder case, the first
    channel for ``.gwy`` and ``.ibw``; an ``.npz`` stack has one channel and ``channel`` only labels it. A channel
    that is not in the file raises :class:`SPMFileError` listing the available ones.
    """
    path = Path(path)
    kind = _kind(path)
    if kind == "folder":
        return assemble_stack(path, channel or "Frequency_Shift", **kwargs)
    if kind == ".sxm":
        return read_sxm(path, channel, **kwargs)
    if kind == ".3ds":
        return read_3ds(path, channel or "Frequency Shift", **kwargs)
    if kind == ".gwy":
        return read_gwy(path, channel, **kwargs)
    if kind == ".ibw":
        return read_ibw(path, channel, **kwargs)
    return read_npz(path, channel=channel or "Frequency_Shift", **kwargs)


def list_channels(path) -> list[str]:
    """Channel names in a file (``.sxm``, ``.3ds``, ``.gwy``, ``.ibw``; ``["data"]`` for ``.npz``)."""
    path = Path(path)
    kind = _kind(path)
    if kind == ".sxm":
        return sxm_channels(path)
    if kind == ".3ds":
        return grid_channels(path)
    if kind == ".gwy":
        return gwy_channels(path)
    if kind == ".ibw":
        return ibw_channels(path)
    if kind == ".npz":
        return ["data"]
    raise ValueError(f"{path}: a folder has no channels of its own; list those of one of its .sxm files")
