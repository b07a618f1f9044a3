"""``.npz`` AFM stacks with keys ``data``, ``lengthX``, ``lengthY``: the format of published experimental
AFM data sets such as those of ED-AFM (Oinonen et al., *Electrostatic discovery atomic force
microscopy*, ACS Nano 16, 89 (2022); github SINGROUP/ED-AFM, ``data/*/data_CO_exp.npz``).

Convention, as the ED-AFM scripts use these files (``imshow(data[:, :, k].T, origin="lower")``, a
scale bar of ``5 / lengthX * data.shape[0]`` px for 5 A, ``interpolate_and_crop`` to 0.125 A/px):
``data`` is (x, y, z), x along axis 0, y (bottom to top) along axis 1, and ``lengthX``/``lengthY`` are
the scan sizes in Angstrom. Slices are assumed ordered *far to close* like the simulated training
stacks; the files do not say so and their metadata carries no heights, so ``axes`` and ``z_order``
let the user override both assumptions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .image import SPMFileError, SPMStack
from .image import wrap_reader as _wrap

REQUIRED = ("data", "lengthX", "lengthY")
Z_ORDERS = ("far_to_close", "close_to_far")


def read_npz(
    path, axes: str = "xyz", z_order: str = "far_to_close", channel: str = "Frequency_Shift", unit: str = "Hz"
) -> SPMStack:
    """An ``.npz`` stack as an :class:`SPMStack` (x, y, slices; slice 0 farthest).

    ``axes`` names the stored axis order of ``data`` (a permutation of "xyz", default "xyz"; a 2-D
    array is read as one slice with axes "xy"). ``z_order`` is "far_to_close" (default) or
    "close_to_far" (then the slices are reversed). ``heights`` of the result are None: the files
    have none. ``channel``/``unit`` only label the result (the ED-AFM stacks are frequency shift).
    """
    if sorted(axes) != ["x", "y", "z"]:
        raise ValueError(f"axes must be a permutation of 'xyz', got {axes!r}")
    if z_order not in Z_ORDERS:
        raise ValueError(f"z_order must be one of {Z_ORDERS}, got {z_order!r}")
    return _wrap(path, ".npz stack", lambda: _read_npz(Path(path), axes, z_order, channel, unit))


def _read_npz(path: Path, axes: str, z_order: str, channel: str, unit: str) -> SPMStack:
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in REQUIRED if k not in f.files]
        if missing:
            raise SPMFileError(
                f"{path}: missing key(s) {', '.join(missing)}; an AFM .npz stack needs "
                f"{', '.join(REQUIRED)} (found: {', '.join(f.files) or 'nothing'})"
            )
        data = np.asarray(f["data"], dtype=np.float32)
        length = (float(np.asarray(f["lengthX"]).ravel()[0]), float(np.asarray(f["lengthY"]).ravel()[0]))
    notes = [
        f"{path.name}: data {data.shape} read as axes {axes if data.ndim == 3 else 'xy'}, "
        f"{length[0]:.3f} x {length[1]:.3f} A"
    ]
    if data.ndim == 2:
        data = data[:, :, None]
    elif data.ndim == 3:
        data = np.transpose(data, [axes.index(a) for a in "xyz"])
    else:
        raise SPMFileError(f"{path}: 'data' has shape {data.shape}; expected (x, y, z) or (x, y)")
    if data.size == 0:
        raise SPMFileError(f"{path}: 'data' is empty (shape {data.shape})")
    if not all(np.isfinite(v) and v > 0 for v in length):
        raise SPMFileError(f"{path}: lengthX/lengthY must be positive sizes in Angstrom, got {length}")
    if z_order == "close_to_far":
        data = data[:, :, ::-1]
        notes.append("slices reversed (file ordered close to far)")
    else:
        notes.append("slices assumed ordered far to close (pass z_order='close_to_far' if not)")
    return SPMStack(np.ascontiguousarray(data), length, channel, unit, sources=(str(path),), notes=notes)
