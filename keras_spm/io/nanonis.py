"""Nanonis files: ``.sxm`` scans and ``.3ds`` grid spectroscopy.

Format: "Nanonis File Format Version 1" (SPECS Nanonis; the text is reproduced in the gxsm
plugin request sourceforge.net/p/gxsm/plugin-requests/3), cross-checked against the readers
nanonispy 1.1.0, SpmImages.jl / SpmGrids.jl (A. Riss) and Gwyddion's ``nanonis.c``, and on the real
files in ``shared/data/spm-files`` (written as ``:NANONIS_VERSION: 2``, same layout):

* ``.sxm``: an ASCII header of ``:KEY:`` lines, each followed by its value lines, closed by
  ``:SCANIT_END:``; then the bytes ``0x1A 0x04`` and the data as 32-bit floats (``SCANIT_TYPE``:
  ``FLOAT MSBFIRST`` = big-endian). Channels follow the ``DATA_INFO`` table order; a channel
  recorded in ``both`` directions stores its forward image then its backward image, each
  ``lines x pixels`` row-major in the order the lines were acquired.
* ``.3ds``: ``key=value`` header lines closed by ``:HEADER_END:``, then per grid point
  ``# Parameters`` floats (fixed: sweep start/end; experiment: X, Y, Z, ...) followed by each
  channel's ``Points``-long curve, big-endian float32. Points are stored row by row from the
  first (bottom) line; an interrupted grid simply ends early.

Why not only nanonispy: its ``Scan`` (1.1.0) calls ``np.float``/``np.int``, removed in NumPy 1.24,
and assumes every channel has both directions, so ``.sxm`` is parsed here. Its ``Grid`` works and is
used for ``.3ds``, but it zero-fills the points an interrupted grid never measured, which would read
as a real 0 Hz; they are set to NaN here.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from .image import M_TO_A, SPMFileError, SPMImage, SPMStack, channel_key, find_channel, warn_if_all_nan
from .image import wrap_reader as _wrap

DEFAULT_CHANNEL = "Frequency_Shift"
DIRECTIONS = ("forward", "backward")


def _check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return direction


# ---------------------------------------------------------------------------------------------- sxm


def read_sxm_header(path) -> dict[str, str]:
    """The ``.sxm`` header as ``{key: value text}`` (keys without colons), plus ``_data_start`` (byte)."""
    path = Path(path)
    with open(path, "rb") as f:  # headers are a few kB: avoid reading a large data block twice
        raw = f.read(1 << 20)
        if b":SCANIT_END:" not in raw or raw.find(b"\x1a\x04", raw.find(b":SCANIT_END:")) < 0:
            raw += f.read()
    end = raw.find(b":SCANIT_END:")
    if end < 0:
        raise SPMFileError(f"{path}: no ':SCANIT_END:' tag, so this is not a complete Nanonis .sxm header")
    after = end + len(b":SCANIT_END:")
    marker = raw.find(b"\x1a\x04", after)
    if marker < 0:
        raise SPMFileError(f"{path}: no data block after ':SCANIT_END:' (file truncated?)")
    if raw[after:marker].strip(b" \t\r\n"):
        raise SPMFileError(
            f"{path}: expected only line breaks and then the bytes 0x1A 0x04 after ':SCANIT_END:', found "
            f"{raw[after:marker][:20]!r}"
        )
    header: dict[str, str] = {}
    key, lines = None, []
    for line in raw[:end].decode("latin-1").splitlines():
        m = re.fullmatch(r":(.+):", line.strip()) if line.startswith(":") else None
        if m:
            if key is not None:
                header[key] = "\n".join(lines).strip("\n")
            key, lines = m.group(1), []
        else:
            lines.append(line)
    if key is not None:
        header[key] = "\n".join(lines).strip("\n")
    header["_data_start"] = str(marker + 2)
    return header


def _table(text: str) -> list[dict[str, str]]:
    """A tab-separated header table (DATA_INFO, Z-CONTROLLER) as a list of row dicts."""
    rows = [r.strip("\t ").split("\t") for r in text.splitlines() if r.strip()]
    if not rows:
        return []
    names = [n.strip() for n in rows[0]]
    return [dict(zip(names, (c.strip() for c in r), strict=False)) for r in rows[1:]]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split()]


def _field(header: dict, key: str, path, n: int, expected: str, kind=float, positive: bool = False) -> list:
    """``n`` numbers of header field ``key``, or an SPMFileError naming the file, field, value and expectation."""
    text = header.get(key)
    if text is None:
        raise SPMFileError(f"{path}: the header has no {key}; expected {expected}")
    words = text.split()
    try:
        values = [kind(w) for w in words]
    except ValueError:
        values = None
    ok = (
        values is not None
        and len(values) == n
        and all(np.isfinite(v) for v in values)
        and (not positive or all(v > 0 for v in values))
    )
    if not ok:
        raise SPMFileError(f"{path}: header field {key} is {text.strip()[:60]!r}; expected {expected}")
    return values


def _optional(header: dict, key: str, path, expected: str) -> float | None:
    return _field(header, key, path, 1, expected)[0] if key in header else None


def _sxm_channels(header: dict, path) -> list[dict[str, str]]:
    """DATA_INFO rows with ``Direction`` normalised to both/forward/backward (Nanonis ignores case)."""
    info = _table(header.get("DATA_INFO", ""))
    if not info or "Name" not in info[0]:
        raise SPMFileError(
            f"{path}: no DATA_INFO channel table in the header; expected a tab-separated table with a Name "
            "column (Channel, Name, Unit, Direction, ...)"
        )
    for row in info:
        name, direction = row.get("Name", ""), row.get("Direction", "both").strip().lower()
        if not name:
            raise SPMFileError(f"{path}: a DATA_INFO row has no channel name: {row}")
        if direction not in ("both", *DIRECTIONS):
            raise SPMFileError(
                f"{path}: DATA_INFO direction of channel {name!r} is {row.get('Direction')!r}; "
                "expected both, forward or backward"
            )
        row["Direction"] = direction
    return info


def sxm_channels(path) -> list[str]:
    """Channel names of a ``.sxm`` file, as in its DATA_INFO table (e.g. ``Z``, ``Frequency_Shift``)."""
    return [c["Name"] for c in _wrap(path, "Nanonis .sxm", lambda: _sxm_channels(read_sxm_header(path), path))]


def read_sxm(path, channel: str | None = None, direction: str = "forward") -> SPMImage:
    """One channel of a Nanonis ``.sxm`` scan as an :class:`SPMImage` (x along axis 0, y bottom to top).

    ``channel`` defaults to ``Frequency_Shift`` when the file has it, else the first channel. Backward
    images are stored mirrored in x (each line in acquisition order, right to left): they are flipped
    back, so forward and backward images of one scan overlay. ``SCAN_DIR`` ``down`` scans start at the
    top line: their rows are flipped so that y always increases along axis 1. The scan frame is not
    rotated: ``angle`` reports the frame rotation.

    ``z`` is the Z-controller position ``Z-Controller>Z (m)`` in Angstrom (for a constant-height image,
    the tip height at which the feedback was switched off; larger = farther from the sample, Nanonis'
    convention). ``z_controller_on`` is the Z-CONTROLLER ``on`` flag (0 for constant height).

    The header is checked before the data are read: SCAN_PIXELS, SCAN_RANGE, SCAN_DIR, SCANIT_TYPE and
    DATA_INFO must hold what the format says, and the data block after ``0x1A 0x04`` must be exactly
    channels x directions x pixels x 4 bytes; otherwise an :class:`SPMFileError` says which field of
    which file holds what, and what was expected.
    """
    _check_direction(direction)
    return _wrap(path, "Nanonis .sxm", lambda: _read_sxm(Path(path), channel, direction))


MAX_SXM_PIXELS = 1 << 26  # 8192 x 8192 per image


def _read_sxm(path: Path, channel: str | None, direction: str) -> SPMImage:
    header = read_sxm_header(path)
    nx, ny = _field(header, "SCAN_PIXELS", path, 2, "two positive whole numbers (pixels per line, lines)", int, True)
    if nx * ny > MAX_SXM_PIXELS:
        raise SPMFileError(f"{path}: header field SCAN_PIXELS announces {nx}x{ny} pixels; expected at most 8192x8192")
    size = tuple(
        v * M_TO_A
        for v in _field(header, "SCAN_RANGE", path, 2, "two positive lengths in metres (x, y)", positive=True)
    )
    scan_dir = header.get("SCAN_DIR", "up").strip().lower()
    if scan_dir not in ("up", "down"):
        raise SPMFileError(f"{path}: header field SCAN_DIR is {header['SCAN_DIR'].strip()[:40]!r}; expected up or down")
    kind = header.get("SCANIT_TYPE", "FLOAT MSBFIRST").upper().split()
    if len(kind) != 2 or kind[0] != "FLOAT" or kind[1] not in ("MSBFIRST", "LSBFIRST"):
        raise SPMFileError(
            f"{path}: header field SCANIT_TYPE is {header['SCANIT_TYPE'].strip()[:40]!r}; "
            "expected FLOAT MSBFIRST or FLOAT LSBFIRST (other types are not supported)"
        )
    dtype = "<f4" if kind[1] == "LSBFIRST" else ">f4"

    info = _sxm_channels(header, path)
    names = [c["Name"] for c in info]
    name = (
        find_channel(channel, names, path)
        if channel
        else (
            find_channel(DEFAULT_CHANNEL, names, path)
            if channel_key(DEFAULT_CHANNEL) in map(channel_key, names)
            else names[0]
        )
    )

    # offset of the wanted image: images are (channel, direction) in DATA_INFO order
    n_image = nx * ny
    index, found = 0, None
    for c in info:
        dirs = DIRECTIONS if c["Direction"] == "both" else (c["Direction"],)
        for d in dirs:
            if c["Name"] == name and d == direction and found is None:
                found = index
            index += 1
    if found is None:
        raise SPMFileError(f"{path}: channel {name!r} was not recorded in the {direction} direction")
    start = int(header["_data_start"])
    expected = index * n_image * 4
    with open(path, "rb") as f:
        f.seek(0, 2)
        n_bytes = f.tell() - start
        what = f"{index} images of {nx}x{ny} px ({expected} bytes, from SCAN_PIXELS and DATA_INFO)"
        if n_bytes < expected:
            raise SPMFileError(
                f"{path}: file is truncated: the header announces {what} but only {n_bytes} bytes of data follow"
            )
        if n_bytes > expected:
            raise SPMFileError(
                f"{path}: the data block is {n_bytes} bytes but the header announces {what}: SCAN_PIXELS or "
                "DATA_INFO does not describe this data"
            )
        f.seek(start + 4 * found * n_image)
        raw = np.frombuffer(f.read(4 * n_image), dtype=dtype).astype(np.float32)

    rows = raw.reshape(ny, nx)  # (line in acquisition order, pixel in stored order)
    if direction == "backward":
        rows = rows[:, ::-1]
    if scan_dir == "down":
        rows = rows[::-1, :]
    data = np.ascontiguousarray(rows.T)
    warn_if_all_nan(data, path, f"{name} ({direction})")

    unit = next(c.get("Unit", "") for c in info if c["Name"] == name)
    offset = (
        tuple(v * M_TO_A for v in _field(header, "SCAN_OFFSET", path, 2, "two positions in metres (x, y)"))
        if "SCAN_OFFSET" in header
        else None
    )
    angle = _optional(header, "SCAN_ANGLE", path, "one angle in degrees")
    bias = _optional(header, "BIAS", path, "one voltage in V")
    z = _optional(header, "Z-Controller>Z (m)", path, "one height in metres")
    z = None if z is None else z * M_TO_A
    zc = _table(header.get("Z-CONTROLLER", ""))
    on = setpoint = setpoint_unit = None
    if zc:
        on = zc[0].get("on", "").strip() == "1" if zc[0].get("on") is not None else None
        sp = zc[0].get("Setpoint", "").split()
        if sp:
            try:
                setpoint = float(sp[0])
            except ValueError:
                raise SPMFileError(
                    f"{path}: Z-CONTROLLER Setpoint is {' '.join(sp)[:40]!r}; expected a number and its unit"
                ) from None
            setpoint_unit = sp[1] if len(sp) > 1 else None
    return SPMImage(
        data, size, name, unit, direction, z, on, setpoint, setpoint_unit, angle, offset, bias, str(path), header
    )


# ---------------------------------------------------------------------------------------------- 3ds


def grid_channels(path) -> list[str]:
    """Channel names of a ``.3ds`` grid (e.g. ``Frequency Shift (Hz)``, ``Frequency Shift [bwd] (Hz)``)."""
    return _wrap(path, "Nanonis .3ds", lambda: list(_load_grid(Path(path))[0].header["channels"]))


def _load_grid(path: Path):
    """nanonispy's Grid plus the number of points actually written (an interrupted grid ends early)."""
    import nanonispy.read as nread

    if path.suffix != ".3ds":  # nanonispy checks the extension case-sensitively
        raise SPMFileError(f"{path}: nanonispy needs the extension '.3ds'")
    with warnings.catch_warnings():  # nanonispy warns about non-UTF-8 header bytes; the data decide
        warnings.simplefilter("ignore")
        grid = nread.Grid(str(path))
    h = grid.header
    per_point = h["num_parameters"] + h["num_sweep_signal"] * h["num_channels"]
    n_written = (path.stat().st_size - grid.byte_offset) // (4 * per_point)
    return grid, int(n_written)


def read_3ds(
    path,
    channel: str = "Frequency Shift",
    heights=None,
    direction: str = "forward",
    absolute: bool = False,
) -> SPMStack:
    """Constant-height slices of a ``.3ds`` z-spectroscopy grid (df(z) curves) as an :class:`SPMStack`.

    Each point's curve is linearly interpolated in z at ``heights`` (Angstrom, any order; the stack is
    ordered farthest first). Heights are in the coordinate of the sweep signal, which must be
    ``Z (m)``: Nanonis records a Z sweep relative to the Z-controller position at the point (the
    ``Z (m)`` experiment parameter), so ``heights=[0, -1]`` means "at the feedback position and 1 A
    closer". With ``absolute=True`` heights are absolute Z (sweep + that parameter). Larger Z is
    farther from the sample.

    ``heights=None`` takes the sweep's own samples over the range where every measured curve has data
    (curves that stop early end in NaN). Points an interrupted grid never measured are NaN; see
    :func:`keras_spm.io.resample.crop_nan`. ``notes`` reports all of this with the numbers.
    """
    _check_direction(direction)
    if heights is not None:
        heights = np.asarray(heights, dtype=np.float64).ravel()
        if heights.size == 0 or not np.isfinite(heights).all():
            raise ValueError(f"heights must be a non-empty list of finite heights in Angstrom, got {heights}")
    return _wrap(path, "Nanonis .3ds", lambda: _read_3ds(Path(path), channel, heights, direction, absolute))


def _read_3ds(path: Path, channel: str, heights, direction: str, absolute: bool) -> SPMStack:
    grid, n_written = _load_grid(path)
    h = grid.header
    nx, ny = h["dim_px"]
    n_sweep = h["num_sweep_signal"]
    names = list(h["channels"])
    fwd = [n for n in names if "[bwd]" not in n]
    if direction == "forward":
        name = find_channel(channel, fwd, path)
    else:
        bwd = {n.replace(" [bwd]", ""): n for n in names if "[bwd]" in n}
        if not bwd:
            raise SPMFileError(f"{path}: the grid has no backward-sweep channels; available: {', '.join(names)}")
        name = bwd[find_channel(channel, list(bwd), path)]
    sweep = h["sweep_signal"]
    if channel_key(sweep) != "z":
        raise SPMFileError(
            f"{path}: the sweep signal is {sweep!r}, not 'Z (m)': only z-spectroscopy grids give constant-height slices"
        )
    if n_written == 0:
        raise SPMFileError(f"{path}: the grid holds no measured point")

    fixed = h["fixed_parameters"] if isinstance(h["fixed_parameters"], list) else [h["fixed_parameters"]]
    exp = (
        h["experimental_parameters"]
        if isinstance(h["experimental_parameters"], list)
        else [h["experimental_parameters"]]
    )
    pnames = [*fixed, *exp]
    n_points = nx * ny
    params = grid.signals["params"].reshape(n_points, -1).astype(np.float64)
    curves = grid.signals[name].reshape(n_points, n_sweep).astype(np.float64)
    curves[n_written:] = np.nan
    params[n_written:] = np.nan
    measured = np.arange(n_points) < n_written

    frac = np.linspace(0.0, 1.0, n_sweep)
    start, end = params[:, pnames.index("Sweep Start")], params[:, pnames.index("Sweep End")]
    z = (start[:, None] + (end - start)[:, None] * frac[None, :]) * M_TO_A  # (points, sweep), Angstrom
    z_ref = params[:, pnames.index("Z (m)")] * M_TO_A if "Z (m)" in pnames else np.zeros(n_points)
    if absolute:
        z = z + z_ref[:, None]

    notes = [
        f"{path.name}: {nx}x{ny} grid, {n_sweep}-point '{name}' curves swept in Z from "
        f"{z[0, 0]:+.2f} to {z[0, -1]:+.2f} A ({'absolute Z' if absolute else 'relative to Z-controller'}"
        f" position {z_ref[0]:.2f} A)"
    ]
    if n_written < n_points:
        full, part = divmod(n_written, nx)
        lines = f"lines 0-{full - 1} complete" if full else "no line complete"
        notes.append(
            f"incomplete grid: {n_written} of {n_points} points measured ({lines}"
            f"{f', line {full} partial' if part else ''}); unmeasured points are NaN"
        )
    spread = np.nanmax(z_ref[measured]) - np.nanmin(z_ref[measured])
    if not absolute and spread > 0.01:
        notes.append(
            f"the Z-controller position varies by {spread:.2f} A across points, so relative heights "
            "are not one plane; pass absolute=True for constant absolute Z"
        )

    finite = np.isfinite(curves) & np.isfinite(z)
    lo = np.array([z[p][finite[p]].min() if finite[p].any() else np.nan for p in range(n_points)])
    hi = np.array([z[p][finite[p]].max() if finite[p].any() else np.nan for p in range(n_points)])
    common = (np.nanmax(lo[measured]), np.nanmin(hi[measured]))
    if heights is None:
        axis = z[0]
        heights = axis[(axis >= common[0] - 1e-9) & (axis <= common[1] + 1e-9)]
        notes.append(
            f"heights: the {heights.size} sweep samples from {common[1]:+.3f} to {common[0]:+.3f} A "
            "where every measured curve has data"
        )
        if heights.size == 0:
            raise SPMFileError(f"{path}: the measured curves share no z range with data")
    heights = np.sort(heights)[::-1]  # farthest (largest Z) first

    out = np.full((n_points, heights.size), np.nan)
    for p in np.flatnonzero(measured):
        ok = finite[p]
        if ok.sum() < 2:
            continue
        order = np.argsort(z[p][ok])
        zs, vs = z[p][ok][order], curves[p][ok][order]
        inside = (heights >= zs[0] - 1e-9) & (heights <= zs[-1] + 1e-9)
        out[p, inside] = np.interp(heights[inside], zs, vs)
    n_out = int(np.sum(~np.isfinite(out[measured])))
    notes.append(
        f"linear interpolation in z at {heights.size} heights {heights[0]:+.3f} .. {heights[-1]:+.3f} A"
        + (f"; {n_out} (point, height) pairs fell outside a curve's data and are NaN" if n_out else "")
    )

    data = out.reshape(ny, nx, heights.size)  # rows = grid lines, first line at the bottom
    data = _orient_grid(data, params, pnames, float(h["angle"]), notes)
    size = tuple(v * M_TO_A for v in h["size_xy"])
    offset = tuple(v * M_TO_A for v in h["pos_xy"])
    return SPMStack(
        data.astype(np.float32),
        size,
        name,
        _unit(name),
        heights,
        direction,
        float(h["angle"]),
        offset,
        (str(path),),
        notes,
    )


def _orient_grid(data: np.ndarray, params, pnames, angle: float, notes: list[str]) -> np.ndarray:
    """(lines, points, h) -> (x, y, h), checking with the recorded X/Y positions that x and y increase."""
    ny, nx = data.shape[:2]
    if "X (m)" in pnames and "Y (m)" in pnames:
        xy = params[:, [pnames.index("X (m)"), pnames.index("Y (m)")]].reshape(ny, nx, 2)
        t = np.deg2rad(angle)
        u = xy[..., 0] * np.cos(t) + xy[..., 1] * np.sin(t)  # along the frame's x
        v = -xy[..., 0] * np.sin(t) + xy[..., 1] * np.cos(t)  # along the frame's y
        if nx > 1 and np.nanmean(np.diff(u, axis=1)) < 0:
            data = data[:, ::-1]
            notes.append("grid points run right to left: flipped in x")
        if ny > 1 and np.isfinite(v[1]).any() and np.nanmean(v[1] - v[0]) < 0:
            data = data[::-1]
            notes.append("grid lines run top to bottom: flipped in y")
    return np.ascontiguousarray(data.transpose(1, 0, 2))


def _unit(name: str) -> str:
    m = re.search(r"\(([^)]*)\)\s*$", name)
    return m.group(1) if m else ""
