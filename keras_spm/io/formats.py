"""What to tell a user whose file keras_spm cannot read: which instrument wrote it and how to convert it.

keras_spm reads Nanonis, Gwyddion and Asylum files itself. Other makers' formats are many and often undocumented;
Gwyddion (gwyddion.net) reads nearly all of them, with their pixel size and height unit, and saves ``.gwy``, which
keras_spm reads with both kept. So the fix for an unknown format is a conversion, named here.
"""

from __future__ import annotations

import re

#: extensions keras_spm does not read -> the instrument software that writes them
OTHER_FORMATS = {
    ".mtrx": "Scienta Omicron MATRIX",
    ".spm": "Bruker / Veeco NanoScope",
    ".jpk": "JPK (Bruker) NanoWizard",
    ".jpk-qi-data": "JPK (Bruker) NanoWizard",
    ".mdt": "NT-MDT",
    ".stp": "Nanotec WSxM",
    ".top": "Nanotec WSxM",
    ".sm4": "RHK",
    ".sm3": "RHK",
    ".nid": "Nanosurf",
    ".dat": "Createc (or a text export)",
    ".tfr": "Omicron SCALA",
    ".par": "Omicron SCALA",
    ".spe": "Unisoku / NT-MDT",
    ".nc": "a NetCDF export (WSxM / Gwyddion)",
}


def conversion_hint(suffix: str) -> str:
    """One sentence: who writes files ending in ``suffix`` (``".mtrx"``) and how to get them to keras_spm."""
    ext = suffix.lower()
    maker = OTHER_FORMATS.get(ext) or ("Bruker / Veeco NanoScope" if re.fullmatch(r"\.\d{3}", ext) else None)
    convert = "open it in Gwyddion and save it as .gwy (pixel size and height unit are kept)"
    if maker:
        return f"it looks like a {maker} file: {convert}"
    return f"if your instrument software or Gwyddion opens it, {convert}"
