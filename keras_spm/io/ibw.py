"""Asylum Research AFM scans: Igor Pro binary waves (``.ibw``), read with ``igor2`` (PyPI).

An Asylum ``.ibw`` is one Igor wave of ``ScanPoints x ScanLines x channels`` values (version 5 of
Igor's binary wave format: a 64-byte BinHeader5, a 320-byte WaveHeader5, the data column-major, then
the formula, the note and the labels; WaveMetrics Technical Note TN003, as implemented by ``igor2``).
Channel ``k`` is the layer whose dimension label (e.g. ``HeightRetrace``) is the ``k + 1``-th of
dimension 2. The pixel pitch is the wave's dimension scaling ``sfA`` (m per pixel, the Asylum
``ScanSize / (ScanPoints - 1)``); ``size`` is that pitch times the number of pixels, the
:mod:`keras_spm.io.image` convention (as Gwyddion reads these files). Axis 0 is x (fast scan), axis 1
is y with line 0 at the bottom, which is already the array convention here.

Why checks before ``igor2``: it trusts the header sizes, so a truncated or hostile file could make
it allocate or read arbitrary amounts or fail with any exception type. The BinHeader5 and
WaveHeader5 fields used are checked against the file size first, and any later failure becomes an
:class:`SPMFileError` naming the file. igor2 keeps the labels' trailing bytes (``PhaseRetracerace``),
so the labels are read here from their fixed 32-byte slots.
"""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path

import numpy as np

from .image import M_TO_A, SPMFileError, SPMImage, find_channel, warn_if_all_nan
from .image import wrap_reader as _wrap

BIN_HEADER5 = 64
WAVE_HEADER5 = 320
LABEL = 32  # MAX_DIM_LABEL_CHARS + 1
#: Igor number type -> bytes per value (complex flag 0x01 doubles it)
_TYPE_SIZE = {0x02: 4, 0x04: 8, 0x08: 1, 0x10: 2, 0x20: 4, 0x48: 1, 0x50: 2, 0x60: 4}
#: channel unit by Asylum channel name when the note has no "<name>Unit" (what Gwyddion's igorfile assumes)
_UNITS = {"Height": "m", "ZSensor": "m", "Amplitude": "m", "Deflection": "m", "Phase": "deg", "Current": "A"}


def _layout(raw: bytes, path: Path) -> dict:
    """The BinHeader5/WaveHeader5 fields used, checked against the file size (before igor2 sees it)."""
    if len(raw) < BIN_HEADER5 + WAVE_HEADER5:
        raise SPMFileError(
            f"{path}: {len(raw)} bytes is shorter than the {BIN_HEADER5 + WAVE_HEADER5}-byte headers of an Igor "
            "binary wave (file truncated?)"
        )
    for order in "<>":
        version = struct.unpack_from(order + "h", raw, 0)[0]
        if version in (1, 2, 3, 5):
            break
    else:
        raise SPMFileError(f"{path}: not an Igor binary wave (.ibw): the first two bytes are no format version 1-5")
    if version != 5:
        raise SPMFileError(
            f"{path}: Igor binary wave version {version}; only version 5 (Igor Pro 3 and later, what Asylum "
            "Research software writes) is read"
        )
    sizes = struct.unpack_from(order + "iiii4i4iiii", raw, 4)
    wfm, formula, note, data_units = sizes[:4]
    dim_units, dim_labels, s_indices, opt1, opt2 = sizes[4:8], sizes[8:12], *sizes[12:15]
    parts = [wfm, formula, note, data_units, *dim_units, *dim_labels, s_indices, opt1, opt2]
    if any(p < 0 for p in parts) or wfm < WAVE_HEADER5 or BIN_HEADER5 + sum(parts) > len(raw):
        raise SPMFileError(
            f"{path}: the Igor header announces sections of {parts} bytes, {BIN_HEADER5 + sum(parts)} bytes in all, "
            f"but the file has {len(raw)} (file truncated or not an .ibw)"
        )
    w = BIN_HEADER5
    npnts, kind = struct.unpack_from(order + "ih", raw, w + 12)
    n_dim = struct.unpack_from(order + "4i", raw, w + 68)
    sf_a = struct.unpack_from(order + "4d", raw, w + 84)
    shape = tuple(n for n in n_dim if n > 0)
    if kind & ~1 not in _TYPE_SIZE:
        raise SPMFileError(f"{path}: Igor number type {kind} is not a numeric wave type")
    if len(shape) < 2 or any(n < 0 for n in n_dim) or int(np.prod(shape, dtype=np.int64)) != npnts:
        raise SPMFileError(f"{path}: wave dimensions {list(n_dim)} do not hold {npnts} points of a 2-D image or stack")
    if npnts * _TYPE_SIZE[kind & ~1] * (2 if kind & 1 else 1) > wfm - WAVE_HEADER5:
        raise SPMFileError(
            f"{path}: {npnts} points of type {kind} do not fit in the {wfm - WAVE_HEADER5}-byte data section"
        )
    if kind & 1:
        raise SPMFileError(f"{path}: complex waves are not images")
    start = BIN_HEADER5 + wfm + formula
    return {
        "order": order,
        "shape": shape,
        "sfA": sf_a,
        "note": raw[start : start + note],
        "labels_at": start + note + data_units + sum(dim_units),
        "dim_labels": dim_labels,
    }


def _labels(raw: bytes, lay: dict, n: int) -> list[str]:
    """Labels of the ``n`` layers (dimension 2), cut at their NUL; empty ones as ``channel k``."""
    size = lay["dim_labels"][2]
    start = lay["labels_at"] + sum(lay["dim_labels"][:2])
    out = []
    for k in range(n):
        at = start + (k + 1) * LABEL  # slot 0 labels the dimension itself
        text = raw[at : at + LABEL].split(b"\0")[0].decode("latin-1").strip() if (k + 2) * LABEL <= size else ""
        out.append(text or f"channel {k}")
    return out


def _note(note: bytes) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in note.decode("latin-1").replace("\n", "\r").split("\r") if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _load(path: Path):
    raw = path.read_bytes()
    lay = _layout(raw, path)
    import igor2.binarywave as bw

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wave = bw.load(str(path))["wave"]
        data = np.asarray(wave["wData"])
    except Exception as e:  # noqa: BLE001 - igor2 raises many types; the user gets one error in words
        raise SPMFileError(
            f"{path}: igor2 could not read this Igor binary wave: {str(e).strip() or 'no reason given'}"
        ) from e
    if data.shape != lay["shape"]:
        raise SPMFileError(f"{path}: igor2 read data of shape {data.shape}, the header announces {lay['shape']}")
    if data.ndim == 2:
        data = data[:, :, None]
    labels = _labels(raw, lay, data.shape[2]) if data.ndim == 3 else []
    if data.ndim != 3:
        raise SPMFileError(f"{path}: a {data.ndim}-D wave is not an image or a stack of channels")
    return data, labels, lay, _note(lay["note"]), wave


def ibw_channels(path) -> list[str]:
    """Channel labels of an Asylum ``.ibw`` scan (e.g. ``HeightRetrace``, ``AmplitudeRetrace``)."""
    return _wrap(path, "Igor binary wave .ibw", lambda: _load(Path(path))[1])


def _unit(label: str, note: dict, wave) -> str:
    base = re.sub(r"(Re)?[Tt]race$", "", label)
    if note.get(f"{base}Unit"):
        return note[f"{base}Unit"]
    for prefix, unit in _UNITS.items():
        if base.startswith(prefix):
            return unit
    units = wave.get("data_units", b"")
    return units.decode("latin-1") if isinstance(units, bytes) else str(units)


def read_ibw(path, channel: str | None = None) -> SPMImage:
    """One channel of an Asylum Research ``.ibw`` scan as an :class:`SPMImage` (default: the first).

    ``size`` is the dimension scaling times the pixels, in Angstrom; ``direction`` is backward for
    ``...Retrace`` and forward for ``...Trace`` channels; ``unit`` is the note's ``<channel>Unit``, else
    the Asylum convention (m for Height/Amplitude/Deflection/ZSensor, deg for Phase); ``meta`` holds the
    wave note (ScanSize, ScanRate, SpringConstant, ...).
    """
    return _wrap(path, "Igor binary wave .ibw", lambda: _read_ibw(Path(path), channel))


def _read_ibw(path: Path, channel: str | None) -> SPMImage:
    data, labels, lay, note, wave = _load(path)
    label = find_channel(channel, labels, path) if channel else labels[0]
    k = labels.index(label)
    dx, dy = lay["sfA"][:2]
    if not all(np.isfinite(v) and v > 0 for v in (dx, dy)):
        raise SPMFileError(f"{path}: the wave's x/y scaling is {dx}, {dy} m per pixel; expected positive lengths")
    nx, ny = data.shape[:2]
    image = np.ascontiguousarray(data[:, :, k], dtype=np.float32)
    warn_if_all_nan(image, path, label)
    direction = (
        "backward" if label.lower().endswith("retrace") else "forward" if label.lower().endswith("trace") else None
    )

    def num(key):
        try:
            return float(note[key])
        except (KeyError, ValueError):
            return None

    offset = None
    if num("XOffset") is not None and num("YOffset") is not None:
        offset = (num("XOffset") * M_TO_A, num("YOffset") * M_TO_A)
    return SPMImage(
        image,
        (nx * dx * M_TO_A, ny * dy * M_TO_A),
        label,
        _unit(label, note, wave),
        direction,
        angle=num("ScanAngle"),
        offset=offset,
        source=str(path),
        meta={"channels": labels, "note": note},
    )
