"""A bounded parser of Gwyddion's serialised-object files, new (``GWYP``) and old (``GWYO``).

Layout, from the Gwyddion user guide, "GWY File Format"
(gwyddion.net/documentation/user-guide-en/gwyfile-format.html): little-endian throughout; four magic
bytes, then one serialised object. An object is its type name (NUL-terminated), the byte size of its
components (uint32), then the components, each a NUL-terminated name, a one-byte type and the value:
``b`` boolean and ``c`` char (1 byte), ``i`` int32, ``q`` int64, ``d`` double, ``s`` NUL-terminated
string, ``o`` object; the upper-case letters are arrays of these (uint32 count, then the items).

The guide does not describe the old ``GWYO`` format (Gwyddion 1.x) and neither ``gwyfile`` nor
``libgwyfile`` reads it. The real 1.x file in ``shared/data/spm-topographies`` shows the one
difference: a *GwyContainer* lists its items as ``uint32 GType, key, value`` with the value coded by
its GLib fundamental type (64 string, 80 object, 60 double, ...), not as typed components; every
other object (GwyDataField, GwySIUnit) is laid out as in ``GWYP``. Strings there may be Latin-1
(``\\xb5m`` for um).

Why not ``gwyfile``: it asserts instead of explaining, trusts every length and hangs on some
truncated files (issue #16). Here every size and count is checked against the bytes left in the
enclosing object *before* anything is allocated or looped over, nesting is limited, and numeric
arrays are zero-copy views of the file bytes, so a truncated or hostile file fails fast with a
sentence saying what is wrong and where.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAGIC_NEW, MAGIC_OLD = b"GWYP", b"GWYO"
MAX_DEPTH = 32  # real files nest 3-4 deep (container > data field > SI unit)

_SCALARS = {"i": ("<i", 4), "q": ("<q", 8), "d": ("<d", 8)}
_ARRAYS = {"C": np.dtype("u1"), "I": np.dtype("<i4"), "Q": np.dtype("<i8"), "D": np.dtype("<f8")}
#: GLib fundamental GType -> the component type letter its value is stored as (GWYO containers)
_OLD_GTYPES = {
    12: "c",
    16: "c",
    20: "b",
    24: "i",
    28: "i",
    32: "q",
    36: "q",
    40: "q",
    44: "q",
    60: "d",
    64: "s",
    80: "o",
}
_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_+\-]*")


class GwyFormatError(ValueError):
    """The bytes are not a well-formed GWY file; the message says what is wrong and at which byte."""


@dataclass
class GwyObject:
    """One deserialised object: its GObject type name and its components by name."""

    type_name: str
    items: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default=None):
        return self.items.get(key, default)

    def __getitem__(self, key: str):
        return self.items[key]

    def __contains__(self, key: str) -> bool:
        return key in self.items


class _Parser:
    def __init__(self, buf: bytes, old: bool):
        self.buf, self.pos, self.old = buf, 0, old

    def fail(self, what: str, at: int | None = None) -> GwyFormatError:
        return GwyFormatError(f"{what} (at byte {self.pos if at is None else at})")

    def need(self, n: int, end: int, what: str) -> None:
        if n > end - self.pos:
            raise self.fail(
                f"{what} needs {n} bytes but only {end - self.pos} are left in its object (file truncated?)"
            )

    def cstring(self, end: int, what: str) -> str:
        i = self.buf.find(b"\0", self.pos, end)
        if i < 0:
            raise self.fail(f"{what} has no terminating NUL byte before the end of its object (file truncated?)")
        raw = self.buf[self.pos : i]
        self.pos = i + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")  # Gwyddion 1.x wrote Latin-1 (e.g. b"\xb5m")

    def u32(self, end: int, what: str) -> int:
        self.need(4, end, what)
        (v,) = struct.unpack_from("<I", self.buf, self.pos)
        self.pos += 4
        return v

    def object(self, end: int, depth: int) -> GwyObject:
        start = self.pos
        if depth > MAX_DEPTH:
            raise self.fail(f"objects nested more than {MAX_DEPTH} deep")
        name = self.cstring(end, "an object type name")
        if not _TYPE_NAME.fullmatch(name):
            raise self.fail(f"{name[:40]!r} is not an object type name", start)
        size = self.u32(end, f"the size of {name}")
        self.need(size, end, f"{name} ({size} bytes announced)")
        obj_end = self.pos + size
        if name == "GwyContainer" and self.old:
            obj = GwyObject(name, self._old_items(obj_end, depth))
        else:
            obj = GwyObject(name)
            while self.pos < obj_end:
                key = self.cstring(obj_end, f"a component name in {name}")
                self.need(1, obj_end, f"the type of component {key!r}")
                kind = chr(self.buf[self.pos])
                self.pos += 1
                obj.items[key] = self.value(kind, key, obj_end, depth)
        return obj

    def _old_items(self, end: int, depth: int) -> dict[str, Any]:
        items = {}
        while self.pos < end:
            gtype = self.u32(end, "a GWYO container item type")
            key = self.cstring(end, "a GWYO container key")
            if gtype not in _OLD_GTYPES:
                raise self.fail(f"GWYO container item {key!r} has unknown value type {gtype}")
            kind = _OLD_GTYPES[gtype]
            if gtype == 28:  # uint32
                self.need(4, end, f"value of {key!r}")
                items[key] = struct.unpack_from("<I", self.buf, self.pos)[0]
                self.pos += 4
            else:
                items[key] = self.value(kind, key, end, depth)
        return items

    def value(self, kind: str, key: str, end: int, depth: int):
        if kind in ("b", "c"):
            self.need(1, end, f"value of {key!r}")
            v = self.buf[self.pos]
            self.pos += 1
            return bool(v) if kind == "b" else chr(v)
        if kind in _SCALARS:
            fmt, n = _SCALARS[kind]
            self.need(n, end, f"value of {key!r}")
            (v,) = struct.unpack_from(fmt, self.buf, self.pos)
            self.pos += n
            return v
        if kind == "s":
            return self.cstring(end, f"string {key!r}")
        if kind == "o":
            return self.object(end, depth + 1)
        if kind in _ARRAYS:
            dtype = _ARRAYS[kind]
            n = self.u32(end, f"the length of array {key!r}")
            self.need(n * dtype.itemsize, end, f"array {key!r} of {n} items")
            arr = np.frombuffer(self.buf, dtype=dtype, count=n, offset=self.pos)
            self.pos += n * dtype.itemsize
            return arr
        if kind in ("S", "O"):
            n = self.u32(end, f"the length of array {key!r}")
            least = 1 if kind == "S" else 6  # an empty string is one byte; an object at least "X\0" + size
            if n * least > end - self.pos:
                raise self.fail(f"array {key!r} announces {n} items but only {end - self.pos} bytes are left")
            if kind == "S":
                return [self.cstring(end, f"item of string array {key!r}") for _ in range(n)]
            return [self.object(end, depth + 1) for _ in range(n)]
        raise self.fail(f"component {key!r} has unknown type {kind!r}", self.pos - 1)


def parse_gwy(buf: bytes) -> tuple[str, GwyObject]:
    """``(magic, top-level object)`` of a whole ``.gwy`` file held in ``buf``; raises GwyFormatError."""
    magic = bytes(buf[:4])
    if magic not in (MAGIC_NEW, MAGIC_OLD):
        raise GwyFormatError(f"starts with {magic!r}, not the Gwyddion magic 'GWYP' (or 'GWYO' of Gwyddion 1.x)")
    p = _Parser(buf, old=magic == MAGIC_OLD)
    p.pos = 4
    top = p.object(len(buf), 0)
    return magic.decode(), top
