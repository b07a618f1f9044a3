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

from .image import SPMFileError, SPMStack, warn_if_all_nan
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


MAX_VALUES = 1 << 28  # 1 GiB of float32: far more than any AFM stack


def _array(f, key: str, path: Path) -> np.ndarray:
    """Array ``key`` of the archive, its npy header checked first (dtype, and size against the member's)."""
    try:
        info = f.zip.getinfo(f"{key}.npy")
        with f.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = reader(member)
    except Exception as e:  # noqa: BLE001 - zipfile/numpy raise many types for a damaged member
        raise SPMFileError(
            f"{path}: array {key!r} in the archive is damaged ({str(e).strip() or 'unreadable header'})"
        ) from e
    if dtype.hasobject:
        raise SPMFileError(
            f"{path}: {key!r} holds Python objects (pickled), not numbers, so this is not an AFM stack "
            f"(expected numeric arrays {', '.join(REQUIRED)})"
        )
    if dtype.kind not in "biuf":
        raise SPMFileError(f"{path}: {key!r} holds {dtype} values, not numbers; expected a numeric array")
    n = int(np.prod(shape, dtype=np.int64))
    if n > MAX_VALUES or n * dtype.itemsize > info.file_size:
        raise SPMFileError(
            f"{path}: {key!r} announces shape {shape} of {dtype} ({n * dtype.itemsize} bytes) but its archive member "
            f"holds {info.file_size} bytes"
        )
    try:
        return f[key]
    except Exception as e:  # noqa: BLE001
        raise SPMFileError(f"{path}: array {key!r} in the archive is damaged ({str(e).strip() or 'unreadable'})") from e


def _length(f, key: str, path: Path) -> float:
    v = np.asarray(_array(f, key, path)).ravel()
    if v.size != 1:
        raise SPMFileError(f"{path}: {key} holds {v.size} values; expected one size in Angstrom")
    return float(v[0])


def _read_npz(path: Path, axes: str, z_order: str, channel: str, unit: str) -> SPMStack:
    try:
        f = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - numpy raises many types for a file that is not an archive
        raise SPMFileError(
            f"{path}: not a NumPy .npz archive, so not an AFM stack (expected an .npz with {', '.join(REQUIRED)})"
        ) from e
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise SPMFileError(f"{path}: holds a single .npy array, not an .npz archive with {', '.join(REQUIRED)}")
    with f:
        missing = [k for k in REQUIRED if k not in f.files]
        if missing:
            raise SPMFileError(
                f"{path}: missing key(s) {', '.join(missing)}; an AFM .npz stack needs "
                f"{', '.join(REQUIRED)} (found: {', '.join(f.files) or 'nothing'})"
            )
        data = np.asarray(_array(f, "data", path), dtype=np.float32)
        length = (_length(f, "lengthX", path), _length(f, "lengthY", path))
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
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        notes.append(f"{bad} of {data.size} values are NaN or infinite")
        warn_if_all_nan(data, path, channel)
    return SPMStack(np.ascontiguousarray(data), length, channel, unit, sources=(str(path),), notes=notes)
