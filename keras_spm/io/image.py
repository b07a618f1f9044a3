"""The two things every reader returns, :class:`SPMImage` and :class:`SPMStack`, and the reader error.

**Array convention** (the same as ``keras_spm.sim`` and the zoo models): ``data[i, j]`` is the value at
the ``i``-th pixel along x (fast scan axis, left to right) and the ``j``-th pixel along y (slow axis,
*bottom to top*), so ``plt.imshow(data.T, origin="lower")`` shows the scan the way the acquisition
software does. Files store images row-major as (y, x); the readers transpose and flip as needed.
Stacks are (x, y, slices) with slice 0 the *farthest* from the sample and slice -1 the closest.

**Units**: lateral sizes, offsets and tip heights in Angstrom; pixel values stay in the file's unit
(``unit``, e.g. Hz for a frequency shift, m for a height map). A pixel covers ``size / n_pixels``
(the Nanonis and Gwyddion convention: the scan range spans ``n`` pixel widths).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: metres -> Angstrom
M_TO_A = 1e10


class SPMFileError(ValueError):
    """A file could not be read, or does not hold what was asked for (the message names the file)."""


@dataclass
class SPMImage:
    """One channel of one scan: ``data`` is (nx, ny), x along axis 0, y (bottom to top) along axis 1."""

    data: np.ndarray
    size: tuple[float, float]  # (length_x, length_y), Angstrom
    channel: str
    unit: str = ""
    direction: str | None = None  # "forward" / "backward" / None if the file does not say
    z: float | None = None  # tip height (Z-controller position) in Angstrom; larger = farther from the sample
    z_controller_on: bool | None = None  # False for constant-height images
    setpoint: float | None = None  # Z-controller setpoint, in setpoint_unit
    setpoint_unit: str | None = None
    angle: float | None = None  # scan frame rotation, degrees
    offset: tuple[float, float] | None = None  # scan frame centre, Angstrom
    bias: float | None = None  # V
    source: str = ""
    meta: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.data.shape)

    @property
    def pixel_size(self) -> tuple[float, float]:
        """(dx, dy) in Angstrom."""
        return (self.size[0] / self.data.shape[0], self.size[1] / self.data.shape[1])


@dataclass
class SPMStack:
    """A constant-height stack: ``data`` is (nx, ny, n_slices), slice 0 the farthest from the sample.

    ``heights`` (Angstrom, one per slice, decreasing) is None when the source does not record them.
    ``notes`` says, in words, what was done to the raw data to make this stack.
    """

    data: np.ndarray
    size: tuple[float, float]
    channel: str
    unit: str = ""
    heights: np.ndarray | None = None
    direction: str | None = None
    angle: float | None = None
    offset: tuple[float, float] | None = None
    sources: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)

    @property
    def pixel_size(self) -> tuple[float, float]:
        return (self.size[0] / self.data.shape[0], self.size[1] / self.data.shape[1])

    @classmethod
    def from_image(cls, image: SPMImage) -> SPMStack:
        """A one-slice stack, e.g. to resample a single constant-height image."""
        return cls(
            image.data[:, :, None],
            image.size,
            image.channel,
            image.unit,
            None if image.z is None else np.array([image.z]),
            image.direction,
            image.angle,
            image.offset,
            (image.source,),
        )


def channel_key(name: str) -> str:
    """Normalised channel name for matching: case, spaces, underscores and a trailing "(unit)" ignored.

    So "Frequency_Shift" (.sxm DATA_INFO), "Frequency Shift (Hz)" (.3ds) and "frequency shift" all match.
    """
    name = re.sub(r"\s*\([^)]*\)\s*$", "", name.strip())
    return re.sub(r"[\s_]+", "", name).lower()


def find_channel(wanted: str, available: list[str], path) -> str:
    """The entry of ``available`` that matches ``wanted``; otherwise an error listing what is there."""
    matches = [a for a in available if channel_key(a) == channel_key(wanted)]
    if not matches:
        raise SPMFileError(f"{path}: no channel {wanted!r}; available channels: {', '.join(available)}")
    return matches[0]


def warn_if_all_nan(data: np.ndarray, path, channel: str) -> None:
    """Warn when a channel holds no finite value (e.g. an aborted scan): it reads, but shows nothing."""
    if data.size and not np.isfinite(data).any():
        warnings.warn(
            f"{path}: channel {channel!r} holds no finite value (all {data.size} pixels NaN or infinite; "
            "an aborted scan?): there is nothing to show or predict from",
            UserWarning,
            stacklevel=3,
        )


def wrap_reader(path, kind: str, fn):
    """Run a reader; anything but our own errors becomes one SPMFileError naming the file.

    The readers check what they read and raise :class:`SPMFileError` in words; this is the last line
    for what they did not foresee, so the user still gets the file name and no internal exception type.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return fn()
    except SPMFileError:
        raise
    except MemoryError as e:
        raise SPMFileError(f"{path}: could not read as {kind}: it announces more data than fits in memory") from e
    except Exception as e:  # noqa: BLE001 - any parser failure is reported as a file error
        reason = str(e).strip() or "its contents do not follow the format"
        raise SPMFileError(f"{path}: could not read as {kind}: {reason}") from e
