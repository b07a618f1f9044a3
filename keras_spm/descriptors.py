"""Target descriptors of AFM structure-discovery networks: image maps and the xyz grid.

Image descriptors (computed with ppafm's ``ppafm.ml.AuxMap`` on the molecule as the
simulator placed it; cutoffs of ASD-AFM, Alldritt et al., *Automated structure
discovery in atomic force microscopy*, Sci. Adv. 6, eaay6913, 2020):

``disks``
    Atomic Disks: a cone per atom, ``(1 - depth / 1.2) * (1 - r / R)``; atoms deeper
    than 1.2 Angstrom below the top atom (or whose vdW sphere top is) are left out.
    The top atom's disk peaks at 1 at its centre.
``spheres``
    vdW Spheres: height of the surface of vdW spheres (radius - 0.5 Angstrom), cut
    1.5 Angstrom below its top. Reported as height above the cut (ppafm's value + 1.5),
    so the background is 0 and the top is 1.5, as ASD-AFM's ``minimum_to_zero`` did.
``height``
    Height Map: height of the F_z = 0.1 eV/Angstrom isosurface of the probe's force
    field, within 2 Angstrom of its top; background 0, top 2.
``es``
    Electrostatic Map: z component of the molecule's point-charge field
    (V/Angstrom) on the height-map isosurface; 0 where the height map is 0.

**Pixel <-> Angstrom**: pixel ``(i, j)`` of every map and of the AFM stack is the tip
at ``x = x0 + i * (x1 - x0) / (nx - 1)``, ``y = y0 + j * (y1 - y0) / (ny - 1)``: image
axis 0 is x, axis 1 is y, and the first and last pixels lie on the window's edges (0.125
Angstrom per pixel for ASD-AFM). See :func:`pixel_coordinates`. Height and ES maps follow
the tilted tip (ppafm's ``tipR0`` lateral offset) like the AFM image; disks, spheres
and the xyz grid are drawn at :attr:`AFMSimulator.label_molecule`, the atoms shifted by minus
the tilt, so every label sits where the image shows its atom. (Drawn at the nominal
positions instead, a random +-0.5 Angstrom tilt is label noise of the size of the xyz
grid's sub-box offsets; see ``benchmarks/results/xyz_learning_curve.json``.)

Substrate atoms (``Molecule.substrate``) are simulated but left out of every descriptor: the
maps and the xyz grid describe the molecule alone (the simulator gives the scanner the
molecule's own force field for the Height and ES maps).

xyz grid (:func:`encode_xyz`, :func:`decode_xyz`): the scan window is cut into 16 x 16
boxes; every box holds whether an atom of the top 0.7 Angstrom is in it and the offset of
its highest such atom from the box centre (the atom-position descriptor of the ASD-AFM
line of work, thesis Sec. 3.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .molecules import Molecule
from .sim.afm import ASD_AFM, AFMSimulator, SimulationSettings

DESCRIPTORS = ("disks", "spheres", "height", "es")

#: ppafm AuxMap parameters per descriptor (ASD-AFM / thesis values).
DESCRIPTOR_PARAMS = {
    "disks": {"zmin": -1.2, "zmax_s": -1.2, "Rpp": -0.5, "diskMode": "sphere"},
    "spheres": {"zmin": -1.5, "Rpp": -0.5},
    "height": {"zmin": -2.0, "iso": 0.1},
    "es": {"zmin": -2.0, "iso": 0.1},
}


# ----------------------------------------------------------------------------- pixels


def pixel_size(settings: SimulationSettings = ASD_AFM) -> np.ndarray:
    """Angstrom per pixel along x and y: ``(x1 - x0) / (nx - 1)`` (pixels sit on both window edges)."""
    (x0, y0), (x1, y1) = settings.window_2d
    return np.array([(x1 - x0) / (settings.scan_dim[0] - 1), (y1 - y0) / (settings.scan_dim[1] - 1)])


def pixel_coordinates(xy: np.ndarray, settings: SimulationSettings = ASD_AFM) -> np.ndarray:
    """Fractional pixel indices ``(i, j) = (xy - (x0, y0)) / pixel_size`` of Angstrom positions (..., 2).

    ``i`` indexes image axis 0 (x), ``j`` axis 1 (y); round to get the nearest pixel.
    The inverse is :func:`angstrom_coordinates`.
    """
    xy = np.asarray(xy, dtype=np.float64)[..., :2]
    return (xy - np.asarray(settings.window_2d[0])) / pixel_size(settings)


def angstrom_coordinates(ij: np.ndarray, settings: SimulationSettings = ASD_AFM) -> np.ndarray:
    """Angstrom xy (..., 2) of (fractional) pixel indices: the inverse of :func:`pixel_coordinates`."""
    return np.asarray(ij, dtype=np.float64) * pixel_size(settings) + np.asarray(settings.window_2d[0])


# ----------------------------------------------------------------------- image maps


class DescriptorMaker:
    """Computes image descriptors of the molecule an :class:`AFMSimulator` has just simulated.

    >>> sim = AFMSimulator(tips=("CO",))
    >>> maker = DescriptorMaker(("disks", "spheres", "height"))
    >>> stacks = sim.simulate(molecule)
    >>> maps = maker(sim)  # {"disks": float32 (128, 128), ...}

    Height and ES maps are read from the simulator's force field, so call this right after
    :meth:`AFMSimulator.simulate` and before simulating the next molecule.
    """

    def __init__(self, names: Sequence[str] = DESCRIPTORS, settings: SimulationSettings = ASD_AFM):
        if isinstance(names, str):
            names = (names,)
        names = tuple(names)
        unknown = [n for n in names if n not in DESCRIPTORS]
        if unknown or not names:
            raise ValueError(f"unknown descriptor(s) {unknown or list(names)}; valid names: {', '.join(DESCRIPTORS)}.")
        if len(set(names)) != len(names):
            raise ValueError(f"descriptor names {list(names)} contain duplicates; list each once.")
        self.names = names
        self.settings = settings
        from .sim.opencl import init_opencl

        init_opencl()  # AuxMaps need ppafm's OpenCL context; idempotent
        from ppafm.ml import AuxMap

        dim, window = tuple(settings.scan_dim[:2]), settings.window_2d
        self._disks = AuxMap.AtomicDisks(dim, window, **DESCRIPTOR_PARAMS["disks"]) if "disks" in names else None
        self._spheres = AuxMap.vdwSpheres(dim, window, **DESCRIPTOR_PARAMS["spheres"]) if "spheres" in names else None

    def __call__(self, simulator: AFMSimulator) -> dict[str, np.ndarray]:
        """``{name: float32 (nx, ny)}`` of the simulator's last molecule, in the order of ``names``."""
        if simulator.placed is None:
            raise ValueError("the simulator has not simulated a molecule yet; call simulator.simulate(molecule) first.")
        molecule = simulator.placed.without_substrate()
        s, t = simulator.settings, self.settings
        if (s.scan_window, s.scan_dim) != (t.scan_window, t.scan_dim):
            raise ValueError(
                f"the simulator scans {s.scan_window} at {s.scan_dim} but this DescriptorMaker was built for "
                f"{t.scan_window} at {t.scan_dim}; build it with DescriptorMaker(names, settings=simulator.settings)."
            )
        out = {}
        apparent = simulator.label_molecule.without_substrate()  # drawn where the tilted tip images the atoms
        if self._disks is not None:
            out["disks"] = self._disks(apparent.xyzq, apparent.numbers)
        if self._spheres is not None:
            out["spheres"] = self._spheres(apparent.xyzq, apparent.numbers) - DESCRIPTOR_PARAMS["spheres"]["zmin"]
        scanner = simulator.scanner
        if "es" in self.names:
            # ppafm 0.4.1's ESMap evaluates the field at tip positions in the force-field grid's frame
            # (origin lvec[0]) but takes atoms as given: shift the atoms into that frame too.
            atoms = molecule.xyzq.copy()
            atoms[:, :3] -= np.asarray(scanner.lvec)[0, :3]
            params = DESCRIPTOR_PARAMS["es"]
            out["height"], out["es"] = isosurface_maps(scanner, params["iso"], -params["zmin"], atoms=atoms)
        elif "height" in self.names:
            params = DESCRIPTOR_PARAMS["height"]
            out["height"], _ = isosurface_maps(scanner, params["iso"], -params["zmin"])
        return {n: np.ascontiguousarray(out[n], dtype=np.float32) for n in self.names}


#: ppafm's HeightMap and ESMap march the tip down 100 z steps from the scan's start, looking for F_z = iso.
ISO_MARCH_STEPS = 100
#: Steps of the first march of :func:`isosurface_maps`: the isosurface top lies 15-23 steps down for the
#: ASD-AFM placement (60 heavy / planar validation molecules) and the maps keep its top 2 Angstrom (20 steps).
FIRST_MARCH_STEPS = 50


def isosurface_maps(
    scanner, iso: float, zrange: float, atoms: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Height Map and (given ``atoms``) Electrostatic Map of the force field the ppafm scanner holds.

    The values of ppafm's ``AuxMap.HeightMap`` / ``AuxMap.ESMap`` (same kernels, same post-processing),
    at about half the cost: those march every pixel 100 z steps down, although the maps keep only the top
    ``zrange`` of the isosurface and pixels that never cross it (the background, most of the image) pay for
    all 100. Here a first march of :data:`FIRST_MARCH_STEPS` is enough whenever some pixel crosses deeper
    than ``zrange`` below the top within it: every pixel crossing later, or never, is then clamped to the
    same floor as in the full march. Otherwise the full march is made. (The height map is ~8 % of a
    simulated sample's time; issue #14's pipeline-throughput target.)

    ``atoms``: (n, 4) xyzq in the force-field grid's frame, for the field ``E_z`` on the isosurface (V/A;
    0 where the height is 0). Returns ``(height, es_or_None)``, float32 (nx, ny), height in Angstrom above
    the floor (0 to ``zrange``).
    """
    zstep = np.float32(-scanner.zstep)
    for steps in (FIRST_MARCH_STEPS, ISO_MARCH_STEPS):
        if atoms is None:
            scanner.prepareAuxMapBuffers(bZMap=True, bFEmap=False)
            zmap, fe = scanner.run_getZisoTilted(iso=iso, nz=steps), None
        else:
            scanner.prepareAuxMapBuffers(bZMap=True, bFEmap=True, atoms=atoms.astype(np.float32))
            zmap, fe = scanner.run_getZisoFETilted(iso=iso, nz=steps)
        z = zmap * zstep  # Angstrom below the start; the pixels that never crossed are at +1 step
        crossed = z <= 0
        if not crossed.any():
            if steps == ISO_MARCH_STEPS:
                raise ValueError(
                    f"no pixel of the force field reaches F_z = {iso} eV/A within {ISO_MARCH_STEPS} z steps of the "
                    "scan's start: the molecule lies too deep under the scan window for a height map."
                )
            continue
        top = z[crossed].max()
        if z.min() <= top - zrange:  # decided: whatever crosses later is clamped to top - zrange anyway
            break
    floor = max(top - zrange, z.min())
    z[~crossed] = floor
    z[z < floor] = floor
    z -= floor
    if fe is None:
        return z, None
    es = fe[:, :, 2].copy()
    es[z == 0] = 0
    return z, es


# ------------------------------------------------------------------------ xyz grid


def box_edges(settings: SimulationSettings = ASD_AFM, grid: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """x and y edges (grid + 1,) of the xyz-grid boxes; box k is ``[edge[k], edge[k+1])``, the last one closed."""
    (x0, y0), (x1, y1) = settings.window_2d
    k = np.arange(grid + 1)
    return x0 + k * (x1 - x0) / grid, y0 + k * (y1 - y0) / grid


def _positions(molecule_or_positions) -> np.ndarray:
    if isinstance(molecule_or_positions, Molecule):
        molecule_or_positions = molecule_or_positions.without_substrate().positions
    pos = molecule_or_positions
    pos = np.asarray(pos, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] < 3 or len(pos) == 0:
        raise ValueError(f"expected a Molecule or positions of shape (n, 3) with n >= 1, got shape {pos.shape}.")
    pos = pos[:, :3]
    if not np.all(np.isfinite(pos)):
        raise ValueError("positions contain NaN or infinite values.")
    return pos


def encode_xyz(
    molecule_or_positions: Molecule | np.ndarray,
    settings: SimulationSettings = ASD_AFM,
    grid: int = 16,
    z_cut: float = 0.7,
    outside: str = "raise",
) -> np.ndarray:
    """The xyz-grid descriptor, float32 (grid, grid, 4): class (1 atom, 0 none) and x, y, z offsets.

    Atoms with ``z >= z_top - z_cut`` (``z_top`` = highest atom) go to the box holding their
    xy (axis 0 = x, as in the images); a box keeps its highest atom (the first one listed on
    a tie) as ``(x - box_centre_x, y - box_centre_y, z - z_top)`` in Angstrom. Atoms on a
    border between boxes belong to the upper box. Kept atoms outside the scan window raise
    ``ValueError`` (``outside="raise"``) or are left out (``outside="drop"``). A Molecule's
    substrate atoms are left out.
    """
    if outside not in ("raise", "drop"):
        raise ValueError(f"outside must be 'raise' or 'drop', got {outside!r}.")
    if grid < 1 or z_cut < 0:
        raise ValueError(f"need grid >= 1 and z_cut >= 0, got grid={grid}, z_cut={z_cut}.")
    pos = _positions(molecule_or_positions)
    z_top = pos[:, 2].max()
    pos = pos[pos[:, 2] >= z_top - z_cut]
    ex, ey = box_edges(settings, grid)
    inside = (pos[:, 0] >= ex[0]) & (pos[:, 0] <= ex[-1]) & (pos[:, 1] >= ey[0]) & (pos[:, 1] <= ey[-1])
    if not inside.all() and outside == "raise":
        bad = pos[~inside][:, :2].round(3).tolist()
        raise ValueError(
            f"atom(s) at xy {bad} lie outside the scan window {settings.window_2d}; centre the molecule in the "
            "window (AFMSimulator.place does) or pass outside='drop' to leave them out."
        )
    pos = pos[inside]
    i = np.clip(np.searchsorted(ex, pos[:, 0], side="right") - 1, 0, grid - 1)
    j = np.clip(np.searchsorted(ey, pos[:, 1], side="right") - 1, 0, grid - 1)
    # Per box the highest atom, the first listed on a tie: sort by box, then -z, then index.
    box = i * grid + j
    order = np.lexsort((np.arange(len(box)), -pos[:, 2], box))
    win = order[np.unique(box[order], return_index=True)[1]]
    centre_x, centre_y = (ex[i] + ex[i + 1]) / 2, (ey[j] + ey[j + 1]) / 2
    out = np.zeros((grid, grid, 4), dtype=np.float32)
    out[i[win], j[win], 0] = 1.0
    out[i[win], j[win], 1] = pos[win, 0] - centre_x[win]
    out[i[win], j[win], 2] = pos[win, 1] - centre_y[win]
    out[i[win], j[win], 3] = pos[win, 2] - z_top
    return out


def decode_xyz(
    grid_or_probs: np.ndarray | Sequence[np.ndarray],
    offsets: np.ndarray | None = None,
    threshold: float = 0.5,
    settings: SimulationSettings = ASD_AFM,
) -> np.ndarray:
    """Atoms (n, 4) of ``x, y, z, confidence`` from an xyz grid; z is relative to the top atom.

    Accepts the :func:`encode_xyz` form (g, g, 4), or the network form: class probabilities
    (g, g, 2) (softmax, channel 1 = atom) or (g, g, 1) (sigmoid) with ``offsets`` (g, g, 3),
    also as a ``(probs, offsets)`` pair. Boxes whose atom confidence is >= ``threshold`` give
    one atom each, most confident first.
    """
    if isinstance(grid_or_probs, (tuple, list)):
        if offsets is not None or len(grid_or_probs) != 2:
            raise ValueError("pass either a (probs, offsets) pair or probs and offsets= separately.")
        grid_or_probs, offsets = grid_or_probs
    g = np.asarray(grid_or_probs, dtype=np.float64)
    if g.ndim != 3 or g.shape[0] != g.shape[1]:
        raise ValueError(f"expected a square grid of shape (g, g, c), got {g.shape}.")
    if offsets is None:
        if g.shape[-1] != 4:
            raise ValueError(
                f"a grid of shape {g.shape} needs offsets=(g, g, 3); or pass the encode_xyz form (g, g, 4)."
            )
        conf, off = g[..., 0], g[..., 1:4]
    else:
        off = np.asarray(offsets, dtype=np.float64)
        if off.shape != g.shape[:2] + (3,):
            raise ValueError(f"offsets must have shape {g.shape[:2] + (3,)} to match the grid, got {off.shape}.")
        if g.shape[-1] == 2:
            conf = g[..., 1]
        elif g.shape[-1] == 1:
            conf = g[..., 0]
        else:
            raise ValueError(f"class probabilities must have 1 (sigmoid) or 2 (softmax) channels, got {g.shape[-1]}.")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}.")
    ex, ey = box_edges(settings, g.shape[0])
    i, j = np.nonzero(conf >= threshold)
    atoms = np.stack(
        [
            (ex[i] + ex[i + 1]) / 2 + off[i, j, 0],
            (ey[j] + ey[j + 1]) / 2 + off[i, j, 1],
            off[i, j, 2],
            conf[i, j],
        ],
        axis=1,
    ).reshape(-1, 4)
    return atoms[np.argsort(-atoms[:, 3], kind="stable")]


__all__ = [
    "DESCRIPTORS",
    "DESCRIPTOR_PARAMS",
    "DescriptorMaker",
    "angstrom_coordinates",
    "box_edges",
    "decode_xyz",
    "encode_xyz",
    "pixel_coordinates",
    "pixel_size",
]
