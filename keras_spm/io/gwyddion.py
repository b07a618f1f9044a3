"""Gwyddion ``.gwy`` files (the native format of Gwyddion, which imports most instrument formats).

Parsed by :mod:`keras_spm.io.gwyformat` (bounded; new ``GWYP`` and old ``GWYO`` files). A ``.gwy``
file is a serialised GwyContainer: channel ``N`` is the GwyDataField ``/N/data`` with title
``/N/data/title``; a data field holds ``xres x yres`` float64 values row-major with the first row at
the *top* of the image, its physical width and height ``xreal``/``yreal``, the top-left corner
``xoff``/``yoff`` and SI units (Gwyddion user guide, "GWY File Format",
gwyddion.net/documentation/user-guide-en/gwyfile-format.html). Rows are flipped here so that y
increases along axis 1 (see :mod:`keras_spm.io.image`). Volume data (GwyBrick) is not read.

Units: values are in base SI units whatever prefix the unit string carries. Gwyddion does the same
(``gwy_si_unit_deserialize`` keeps the unit and drops the power of ten); Gwyddion 1.x wrote prefixed
unit strings such as ``um`` and ``nm`` next to values in metres.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .gwyformat import GwyFormatError, GwyObject, parse_gwy
from .image import M_TO_A, SPMFileError, SPMImage, find_channel, warn_if_all_nan
from .image import wrap_reader as _wrap

_PREFIX = re.compile(r"(?:da|[YZEPTGMkhdcmunpfazy]|\u00b5|\u03bc)")
_BASE_UNITS = ("m", "A", "V", "N", "Hz", "s", "W", "F", "C", "S", "T", "Pa", "K")
MAX_PIXELS = 1 << 28  # 16384 x 16384; a data field announcing more is not an SPM image


def base_unit(unit: str) -> str:
    """``"nm"`` -> ``"m"``: the unit without its SI prefix, as Gwyddion reads it (values are in base units)."""
    unit = unit.strip()
    if unit in _BASE_UNITS:
        return unit
    m = _PREFIX.match(unit)
    if m and unit[m.end() :] in _BASE_UNITS:
        return unit[m.end() :]
    return unit


def _load(path: Path) -> tuple[str, GwyObject, dict[str, str]]:
    buf = path.read_bytes()
    try:
        magic, top = parse_gwy(buf)
    except GwyFormatError as e:
        raise SPMFileError(f"{path}: not a readable Gwyddion .gwy file: {e}") from None
    if top.type_name != "GwyContainer":
        raise SPMFileError(f"{path}: the file holds a {top.type_name}, not a GwyContainer of channels")
    fields = _fields(top)
    if not fields:
        raise SPMFileError(f"{path}: no data field (image channel) in this .gwy file")
    return magic, top, fields


def _fields(container: GwyObject) -> dict[str, str]:
    """{title: container key} of every data field (untitled ones as 'channel N'), by channel number."""
    found = []
    for key, value in container.items.items():
        m = re.fullmatch(r"/(\d+)/data", key)
        if m and isinstance(value, GwyObject) and value.type_name == "GwyDataField":
            title = container.get(f"/{m.group(1)}/data/title")
            found.append((int(m.group(1)), str(title) if isinstance(title, str) else f"channel {m.group(1)}", key))
    out: dict[str, str] = {}
    for _, title, key in sorted(found):
        out.setdefault(title, key)
    return out


def gwy_channels(path) -> list[str]:
    """Channel titles of a ``.gwy`` file, in channel-number order."""
    return _wrap(path, "Gwyddion .gwy", lambda: list(_load(Path(path))[2]))


def _unit(obj) -> str:
    if isinstance(obj, GwyObject):
        s = obj.get("unitstr", "")
        return s if isinstance(s, str) else ""
    return obj if isinstance(obj, str) else ""


def _direction(title: str) -> str | None:
    t = title.lower()
    if "backward" in t or "retrace" in t or "bwd" in t:
        return "backward"
    if "forward" in t or "trace" in t or "fwd" in t:
        return "forward"
    return None


def read_gwy(path, channel: str | None = None) -> SPMImage:
    """One channel of a ``.gwy`` file (``GWYP`` or Gwyddion 1.x ``GWYO``) as an :class:`SPMImage`.

    Default: the first channel. ``size`` comes from ``xreal``/``yreal`` in Angstrom, ``offset`` is the
    frame centre in Gwyddion's coordinates (y pointing down), values keep the field's z unit (base SI,
    see the module docstring). ``direction`` is guessed from the title (Trace/Retrace,
    Forward/Backward) and is None when the title does not say.
    """
    return _wrap(path, "Gwyddion .gwy", lambda: _read_gwy(Path(path), channel))


def _number(field: GwyObject, key: str, path: Path, title: str, default=None, positive: bool = False) -> float:
    v = field.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SPMFileError(
            f"{path}: channel {title!r} has no numeric {key}"
            + ("" if v is None else f" (found {type(v).__name__} {str(v)[:40]!r})")
        )
    if not math.isfinite(v) or (positive and v <= 0):
        raise SPMFileError(
            f"{path}: channel {title!r} has {key} = {v}; expected a finite{' positive' * positive} number"
        )
    return float(v)


def _read_gwy(path: Path, channel: str | None) -> SPMImage:
    magic, container, fields = _load(path)
    title = find_channel(channel, list(fields), path) if channel else next(iter(fields))
    field = container[fields[title]]
    xres = int(_number(field, "xres", path, title, positive=True))
    yres = int(_number(field, "yres", path, title, positive=True))
    if xres * yres > MAX_PIXELS:
        raise SPMFileError(f"{path}: channel {title!r} announces {xres}x{yres} pixels, more than an SPM image has")
    values = field.get("data")
    if not isinstance(values, np.ndarray) or values.dtype.kind != "f":
        raise SPMFileError(f"{path}: channel {title!r} has no array of double values 'data'")
    if values.size != xres * yres:
        raise SPMFileError(
            f"{path}: channel {title!r} has {values.size} values for its {xres}x{yres} pixels; expected {xres * yres}"
        )
    xreal = _number(field, "xreal", path, title, positive=True)
    yreal = _number(field, "yreal", path, title, positive=True)
    xy_unit = base_unit(_unit(field.get("si_unit_xy"))) or "m"
    if xy_unit != "m":
        raise SPMFileError(f"{path}: lateral unit {xy_unit!r} of {title!r} is not a length (expected m)")
    data = np.ascontiguousarray(values.reshape(yres, xres)[::-1].T).astype(np.float32)  # top row first -> y up
    size = (xreal * M_TO_A, yreal * M_TO_A)
    xoff = _number(field, "xoff", path, title, default=0.0)
    yoff = _number(field, "yoff", path, title, default=0.0)
    offset = (xoff * M_TO_A + size[0] / 2, yoff * M_TO_A + size[1] / 2)
    warn_if_all_nan(data, path, title)
    return SPMImage(
        data,
        size,
        title,
        base_unit(_unit(field.get("si_unit_z"))),
        _direction(title),
        offset=offset,
        source=str(path),
        meta={"channels": list(fields), "format": magic},
    )
