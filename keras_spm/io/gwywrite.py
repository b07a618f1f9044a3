"""Write small ``.gwy`` files straight from the format description, new ``GWYP`` or old ``GWYO``.

For tests and fixtures: a GWYP/GWYO twin of one data field checks that both layouts read the same
numbers, and the fuzz tests start from such files. Layout as in :mod:`keras_spm.io.gwyformat`
(Gwyddion user guide, "GWY File Format"; GWYO containers as ``uint32 GType, key, value``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .gwyformat import MAGIC_NEW, MAGIC_OLD, GwyObject

_GTYPE = {bool: 20, int: 24, float: 60, str: 64}


def _cstr(s: str, encoding: str = "utf-8") -> bytes:
    return s.encode(encoding) + b"\0"


def _value(v, old: bool) -> tuple[str, bytes]:
    if isinstance(v, GwyObject):
        return "o", pack_object(v, old)
    if isinstance(v, bool):
        return "b", bytes([int(v)])
    if isinstance(v, int):
        return "i", struct.pack("<i", v)
    if isinstance(v, float):
        return "d", struct.pack("<d", v)
    if isinstance(v, str):
        return "s", _cstr(v, "latin-1" if old else "utf-8")
    if isinstance(v, np.ndarray):
        kind = {"f": ("D", "<f8"), "i": ("I", "<i4")}[v.dtype.kind]
        return kind[0], struct.pack("<I", v.size) + np.ascontiguousarray(v, dtype=kind[1]).tobytes()
    raise TypeError(f"cannot serialise {type(v).__name__}")


def pack_object(obj: GwyObject, old: bool = False) -> bytes:
    """One serialised object; in ``old`` (GWYO) layout a GwyContainer lists ``GType, key, value``."""
    body = b""
    for key, v in obj.items.items():
        kind, raw = _value(v, old)
        if old and obj.type_name == "GwyContainer":
            gtype = 80 if kind == "o" else _GTYPE[type(v)]
            body += struct.pack("<I", gtype) + _cstr(key) + raw
        else:
            body += _cstr(key) + kind.encode() + raw
    return _cstr(obj.type_name) + struct.pack("<I", len(body)) + body


def data_field(
    data: np.ndarray, xreal: float, yreal: float, xy_unit: str = "m", z_unit: str = "m", **extra
) -> GwyObject:
    """A GwyDataField of ``data`` stored as Gwyddion does: (yres, xres), first row at the top."""
    yres, xres = data.shape
    items = {"xres": xres, "yres": yres, "xreal": float(xreal), "yreal": float(yreal), **extra}
    items["si_unit_xy"] = GwyObject("GwySIUnit", {"unitstr": xy_unit})
    items["si_unit_z"] = GwyObject("GwySIUnit", {"unitstr": z_unit})
    items["data"] = np.asarray(data, dtype=np.float64).ravel()
    return GwyObject("GwyDataField", items)


def write_gwy(path, channels: dict[str, GwyObject], old: bool = False) -> Path:
    """A ``.gwy`` file with the given data fields as channels 0, 1, ... (titles = the dict keys)."""
    items = {}
    for i, (title, field) in enumerate(channels.items()):
        items[f"/{i}/data"] = field
        items[f"/{i}/data/title"] = title
    path = Path(path)
    path.write_bytes((MAGIC_OLD if old else MAGIC_NEW) + pack_object(GwyObject("GwyContainer", items), old))
    return path
