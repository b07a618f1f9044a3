"""A thin wrapper of ppafm's OpenCL ``AFMulator`` with the ASD-AFM settings as defaults.

Settings follow Alldritt et al., *Automated structure discovery in atomic force
microscopy*, Sci. Adv. 6, eaay6913 (2020) and the ppafm generator used there: a
15.875 x 15.875 Angstrom window at 128 x 128 pixels, tip heights 6.0-7.9 Angstrom in
19 steps convolved to 10 frequency-shift slices, 5 force-field voxels per Angstrom,
probe-particle equilibrium offset (0, 0, 4), CO tip with a -0.1 e monopole.

**Slice order**: index 0 is the slice *farthest* from the sample, index -1 the
*closest*, everywhere in keras_spm (stacks, datasets, models, file readers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..molecules import SIMULATION_ELEMENTS, Molecule, MoleculeError, validate
from .opencl import init_opencl


@dataclass(frozen=True)
class ProbeParticle:
    """A probe particle (CO, Xe): element and point-charge multipole (ppafm's Qs at heights QZs, Angstrom).

    The functionalised apex the AFM simulation moves; the geometric shape of a blunt tip that dilates a
    topography is :class:`keras_spm.sim.tip.TipShape`.
    """

    name: str
    iZPP: int
    Qs: tuple[float, float, float, float]
    QZs: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    distance_offset: float = 0.0  # added to the tip-sample distance for this tip


#: CO tip of ASD-AFM; Xe tip for the two-tip ES model (quadrupole as in ED-AFM, Oinonen et al., ACS Nano 2022).
TIPS = {
    "CO": ProbeParticle("CO", 8, (-0.1, 0.0, 0.0, 0.0)),
    "Xe": ProbeParticle("Xe", 54, (30.0, -60.0, 30.0, 0.0), (0.1, 0.0, -0.1, 0.0), distance_offset=-0.4),
}


LABEL_FRAMES = ("image", "nominal")


@dataclass(frozen=True)
class SimulationSettings:
    """Scan geometry and randomisation; defaults are ASD-AFM's."""

    scan_window: tuple = ((0.0, 0.0, 6.0), (15.875, 15.875, 7.9))
    scan_dim: tuple = (128, 128, 19)
    df_steps: int = 10
    pixels_per_angstrom: int = 5
    tipR0: tuple = (0.0, 0.0, 4.0)
    distance: float = 5.3  # tip-sample distance parameter of ppafm's generator (Angstrom)
    distance_jitter: float = 0.25  # uniform +- jitter of ``distance`` per sample
    max_tilt: float = 0.5  # uniform +- lateral offset of tipR0 per sample (Angstrom)
    margin: float = 0.5  # molecules must fit inside the window minus this margin (Angstrom)
    label_frame: str = "image"  # where labels are drawn: "image" (as the tilted tip images the atoms) or "nominal"

    def __post_init__(self):
        if self.label_frame not in LABEL_FRAMES:
            raise ValueError(f"label_frame must be one of {LABEL_FRAMES}, got {self.label_frame!r}.")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.scan_dim[0], self.scan_dim[1], self.scan_dim[2] - self.df_steps + 1)

    @property
    def window_2d(self) -> tuple:
        (x0, y0, _), (x1, y1, _) = self.scan_window
        return ((x0, y0), (x1, y1))

    @property
    def centre(self) -> np.ndarray:
        (x0, y0, _), (x1, y1, _) = self.scan_window
        return np.array([(x0 + x1) / 2, (y0 + y1) / 2])


ASD_AFM = SimulationSettings()


class AFMSimulator:
    """Simulates constant-height df stacks of a molecule with one or more tips.

    >>> sim = AFMSimulator(tips=("CO",))
    >>> stacks = sim.simulate(molecule, rng=np.random.default_rng(0))  # {"CO": (128, 128, 10) float32}

    After :meth:`simulate`, :attr:`placed` holds the molecule as it was placed under the
    tip (centred in xy, top at the tip-sample distance), :attr:`tilt` the lateral tip
    offset drawn for that sample, and the ppafm scanner of the first tip still holds its
    force field, which the Height and Electrostatic maps need.

    **Substrate**: atoms marked ``Molecule.substrate`` are simulated with the molecule, but
    the molecule proper is what is centred and checked to fit the window, and after the
    scans the first tip's scanner gets the force field of the molecule alone, so the
    Height and Electrostatic maps, like the other descriptors, leave the substrate out.

    **Image frame**: a tip tilted by ``(dx, dy)`` (ppafm's lateral ``tipR0``) images every
    feature displaced by about ``(-dx, -dy)`` (0.375-0.5 Angstrom for a 0.5 Angstrom tilt,
    a little less in far slices; ``descriptors_test.py`` checks it). Labels are drawn where
    the image shows the atoms, :attr:`label_molecule`: a single-tip image barely tells the tilt
    from a shifted molecule. ASD-AFM drew them at the nominal positions.
    """

    def __init__(self, tips: tuple[str, ...] = ("CO",), settings: SimulationSettings = ASD_AFM):
        unknown = [t for t in tips if t not in TIPS]
        if unknown or not tips:
            raise ValueError(f"unknown tip(s) {unknown or tips}; available tips: {', '.join(TIPS)}.")
        self.settings = settings
        self.tips = tuple(TIPS[t] for t in tips)
        self.device = init_opencl()
        from ppafm.ocl.AFMulator import AFMulator

        s = settings
        self._afmulators = {}
        for tip in self.tips:
            self._afmulators[tip.name] = AFMulator(
                pixPerAngstrome=s.pixels_per_angstrom,
                scan_dim=tuple(s.scan_dim),
                scan_window=s.scan_window,
                iZPP=tip.iZPP,
                Qs=list(tip.Qs),
                QZs=list(tip.QZs),
                df_steps=s.df_steps,
                tipR0=list(s.tipR0),
            )
        self.placed: Molecule | None = None
        self.tilt = np.zeros(2)

    @property
    def label_molecule(self) -> Molecule | None:
        """The placed molecule where the labels are drawn: in the image frame, shifted in xy by minus the tip tilt.

        With ``settings.label_frame="nominal"`` this is :attr:`placed` (nominal positions: the
        convention of ASD-AFM's generator, its published weights and keras_spm before 2026-11-22).
        """
        if self.placed is None or self.settings.label_frame == "nominal":
            return self.placed
        pos = self.placed.positions.copy()
        pos[:, :2] -= self.tilt
        return replace(self.placed, positions=pos)

    @property
    def scanner(self):
        """ppafm RelaxedScanner of the first tip (holds the last force field, for Height/ES maps)."""
        return self._afmulators[self.tips[0].name].scanner

    def check_fits(self, molecule: Molecule) -> None:
        """Raise :class:`MoleculeError` if the molecule's xy extent does not fit the scan window."""
        s = self.settings
        (x0, y0, _), (x1, y1, _) = s.scan_window
        xy = molecule.positions[~molecule.substrate, :2]  # a substrate may extend beyond the window
        extent = xy.max(axis=0) - xy.min(axis=0)
        room = np.array([x1 - x0, y1 - y0]) - 2 * s.margin
        if np.any(extent > room):
            raise MoleculeError(
                f"molecule '{molecule.name}' spans {extent[0]:.1f} x {extent[1]:.1f} Angstrom in xy but the scan window "
                f"holds {room[0]:.1f} x {room[1]:.1f} Angstrom (after a {s.margin} Angstrom margin); use a larger "
                "scan_window or a smaller molecule."
            )

    def place(self, molecule: Molecule, tip: ProbeParticle, distance: float) -> Molecule:
        """Centre the molecule (without substrate) in xy and put its top at ``distance`` below the scan's top.

        The top is that of all atoms, as in ppafm's generator.
        """
        from ppafm import common

        afm = self._afmulators[tip.name]
        pos = molecule.positions.copy()
        pos[:, :2] += self.settings.centre - pos[~molecule.substrate, :2].mean(axis=0)
        reas = common.getAtomsREA(tip.iZPP, molecule.numbers, afm.typeParams, alphaFac=-1.0)
        r_pp = afm.typeParams[tip.iZPP - 1][0]
        r_vdw = reas[:, 0] - r_pp
        z = pos[:, 2]
        top = np.argmax(z + r_vdw)
        total = distance + tip.distance_offset + r_vdw[top] + r_pp - (z.max() - z[top])
        pos[:, 2] += (self.settings.scan_window[1][2] - total) - z.max()
        return replace(molecule, positions=pos)

    def simulate(self, molecule: Molecule, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """Simulate one stack per tip: ``{tip name: float32 (nx, ny, n_slices)}``, slice 0 farthest.

        ``rng`` draws the tip-sample distance jitter and tip tilt; None means no randomisation.
        """
        validate(molecule, SIMULATION_ELEMENTS)
        self.check_fits(molecule)
        s = self.settings
        if rng is None:
            distance, tilt = s.distance, np.zeros(2)
        else:
            distance = s.distance + rng.uniform(-s.distance_jitter, s.distance_jitter)
            tilt = rng.uniform(-s.max_tilt, s.max_tilt, size=2)
        out = {}
        # Simulate the first tip last so its scanner holds the force field for Height/ES maps.
        for tip in reversed(self.tips):
            afm = self._afmulators[tip.name]
            afm.tipR0 = [float(tilt[0]), float(tilt[1]), float(s.tipR0[2])]
            placed = self.place(molecule, tip, distance)
            stack = afm(placed.positions, placed.numbers, placed.charges)
            if not np.all(np.isfinite(stack)):
                raise FloatingPointError(f"the simulation of '{molecule.name}' with the {tip.name} tip produced NaNs.")
            out[tip.name] = np.ascontiguousarray(stack, dtype=np.float32)
            if tip is self.tips[0]:
                self.placed = placed
        if self.placed.has_substrate:  # Height/ES maps are of the molecule alone: its force field, no scan
            afm, alone = self._afmulators[self.tips[0].name], self.placed.without_substrate()
            afm.prepareFF(alone.positions, alone.numbers, alone.charges)
            afm.prepareScanner()
        self.tilt = np.asarray(tilt, dtype=np.float64)
        return {t.name: out[t.name] for t in self.tips}

    def with_settings(self, **changes) -> AFMSimulator:
        """A new simulator with some settings changed (for example ``distance_jitter=0``)."""
        return AFMSimulator(tuple(t.name for t in self.tips), replace(self.settings, **changes))


__all__ = ["AFMSimulator", "ASD_AFM", "ProbeParticle", "SimulationSettings", "TIPS"]
