"""Gwyddion ``.gwy`` files (the native format of Gwyddion, which imports most instrument formats).

Read with ``gwyfile`` (Gwyddion's own Python reader). A ``.gwy`` file is a serialised GwyContainer:
channel ``N`` is the GwyDataField ``/N/data`` with title ``/N/data/title``; a data field holds
``xres x yres`` float64 values row-major with the first row at the *top* of the image, its physical
width and height ``xreal``/``yreal``, the top-left corner ``xoff``/``yoff`` and SI units
(gwyddion.net/documentation/user-guide-en/gwyfile-format.html). Rows are flipped here so that y
increases along axis 1 (see :mod:`keras_spm.io.image`). Volume data (GwyBrick) is not read.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .image import SPMFileError, SPMImage, find_channel
from .image import wrap_reader as _wrap

#: lateral unit -> Angstrom per unit
LENGTH_UNITS = {"m": 1e10, "mm": 1e7, "um": 1e4, "µm": 1e4, "nm": 10.0, "pm": 0.01, "A": 1.0, "Å": 1.0}


def _fields(container) -> dict[str, str]:
    """{title: container key} of every data field (untitled ones as 'channel N')."""
    out = {}
    for key in container.keys():
        m = re.fullmatch(r"/(\d+)/data", key)
        if m:
            title = container.get(f"/{m.group(1)}/data/title", f"channel {m.group(1)}")
            out.setdefault(str(title), key)
    return dict(sorted(out.items(), key=lambda kv: int(kv[1].split("/")[1])))


def _load(path: Path):
    import gwyfile

    container = gwyfile.load(str(path))
    fields = _fields(container)
    if not fields:
        raise SPMFileError(f"{path}: no data field (image channel) in this .gwy file")
    return container, fields


def gwy_channels(path) -> list[str]:
    """Channel titles of a ``.gwy`` file, in channel-number order."""
    return _wrap(path, "Gwyddion .gwy", lambda: list(_load(Path(path))[1]))


def _unit(obj) -> str:
    if obj is None:
        return ""
    return str(obj.get("unitstr", "")) if hasattr(obj, "get") else str(obj)


def _direction(title: str) -> str | None:
    t = title.lower()
    if "backward" in t or "retrace" in t or "bwd" in t:
        return "backward"
    if "forward" in t or "trace" in t or "fwd" in t:
        return "forward"
    return None


def read_gwy(path, channel: str | None = None) -> SPMImage:
    """One channel of a ``.gwy`` file as an :class:`SPMImage` (default: the first channel).

    ``size`` comes from ``xreal``/``yreal`` in Angstrom, ``offset`` is the frame centre in Gwyddion's
    coordinates (y pointing down), values keep the field's z unit. ``direction`` is guessed from the
    title (Trace/Retrace, Forward/Backward) and is None when the title does not say.
    """
    return _wrap(path, "Gwyddion .gwy", lambda: _read_gwy(Path(path), channel))


def _read_gwy(path: Path, channel: str | None) -> SPMImage:
    container, fields = _load(path)
    title = find_channel(channel, list(fields), path) if channel else next(iter(fields))
    field = container[fields[title]]
    xres, yres = int(field["xres"]), int(field["yres"])
    values = np.asarray(field["data"], dtype=np.float64)
    if xres < 1 or yres < 1 or values.size != xres * yres:
        raise SPMFileError(f"{path}: channel {title!r} has {values.size} values for {xres}x{yres} pixels")
    if field.get("xreal") is None or field.get("yreal") is None:
        raise SPMFileError(f"{path}: channel {title!r} has no physical size (xreal/yreal)")
    xy_unit = _unit(field.get("si_unit_xy")) or "m"
    if xy_unit not in LENGTH_UNITS:
        raise SPMFileError(
            f"{path}: lateral unit {xy_unit!r} of {title!r} is not a length; known: {', '.join(LENGTH_UNITS)}"
        )
    scale = LENGTH_UNITS[xy_unit]
    data = np.ascontiguousarray(values.reshape(yres, xres)[::-1].T).astype(np.float32)  # top row first -> y up
    size = (float(field["xreal"]) * scale, float(field["yreal"]) * scale)
    offset = (float(field.get("xoff", 0.0)) * scale + size[0] / 2, float(field.get("yoff", 0.0)) * scale + size[1] / 2)
    return SPMImage(
        data,
        size,
        title,
        _unit(field.get("si_unit_z")),
        _direction(title),
        offset=offset,
        source=str(path),
        meta={"channels": list(fields)},
    )
