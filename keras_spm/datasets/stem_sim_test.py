"""abTEM pair generator: a tiny slab gives aligned, max-normalised convolution / PRISM images that agree."""

import numpy as np
import pytest

pytest.importorskip("abtem")

from keras_spm.datasets import stem_sim  # noqa: E402


def test_tiny_slab_pair_agrees_and_random_structures():
    from ase.build import fcc100

    atoms = fcc100("Pt", size=(2, 2, 3), vacuum=2, orthogonal=True)
    atoms.pbc = True
    conv, haadf = stem_sim.simulate_pair(atoms, stem_sim.Microscope(scan_sampling=0.4))
    assert conv.shape == haadf.shape == (14, 14)
    assert conv.max() == haadf.max() == 1.0 and conv.min() >= 0 and haadf.min() >= 0
    assert np.corrcoef(conv.ravel(), haadf.ravel())[0, 1] > 0.9  # same columns, both incoherent-like
    soft_conv, soft_haadf = stem_sim.simulate_pair(atoms, stem_sim.Microscope(scan_sampling=0.4, source_size=0.5))
    assert soft_conv.max() == soft_haadf.max() == 1.0
    assert soft_conv.min() > conv.min() + 0.05 and soft_haadf.min() > haadf.min() + 0.05  # blurred: less contrast
    thermal = stem_sim.Microscope(scan_sampling=0.4, haadf_blur=0.5, phonon_sigma=0.07)
    same_conv, thermal_haadf = stem_sim.simulate_pair(atoms, thermal)
    np.testing.assert_allclose(same_conv, conv)  # the fast image stays that of the static lattice, unblurred
    assert thermal_haadf.min() > haadf.min() + 0.05
    assert np.corrcoef(soft_conv.ravel(), thermal_haadf.ravel())[0, 1] > 0.9  # the same columns, blurred alike
    rng = np.random.default_rng(1)
    for kind in ("particle", "slab"):
        structure = stem_sim.random_structure(rng, kind)
        assert len(structure) > 10 and structure.pbc.all()
        assert set(structure.get_chemical_symbols()) <= set(stem_sim.METALS)
    with pytest.raises(ValueError, match="kind must be"):
        stem_sim.random_structure(rng, "wire")
    with pytest.raises(ValueError, match="method must be"):
        stem_sim.haadf_image(atoms, method="bloch")


def test_pt_mo_particles_compositions_split_and_resumable_writer(tmp_path):
    rng = np.random.default_rng(0)
    for frac in (0.0, 0.35, 0.6):
        atoms = stem_sim.pt_mo_particle(rng, frac, shape="octahedron", size=5, zone_axis="110")
        assert atoms.get_chemical_symbols().count("Mo") == round(frac * len(atoms))
        assert atoms.info["zone_axis"] == "110" and atoms.pbc.all()
        # down a zone axis the atoms stack in columns: far fewer distinct projected positions than atoms
        columns = {tuple(p) for p in np.round(atoms.positions[:, :2], 1)}
        assert len(columns) < 0.5 * len(atoms)
    assert stem_sim.pt_mo_particle(rng, 0.1, shape="decahedron").info["zone_axis"] == "5fold"
    split = stem_sim.composition_split()
    assert not set(split["train"]) & set(split["held_out"]) and 0.0 in split["train"] and 0.6 in split["train"]
    with pytest.raises(ValueError, match="not in MO_FRACTIONS"):
        stem_sim.composition_split((0.33,))
    with pytest.raises(ValueError, match="zone_axis"):
        stem_sim.pt_mo_particle(rng, 0.1, shape="octahedron", zone_axis="112")
    # off any zone axis the columns break up: nearly every atom has its own projected position
    tilted = stem_sim.pt_mo_particle(rng, 0.2, shape="octahedron", size=5, zone_axis="random")
    assert tilted.info["zone_axis"] == "random"
    assert len({tuple(p) for p in np.round(tilted.positions[:, :2], 1)}) > 0.8 * len(tilted)
    assert stem_sim.pt_mo_particle(rng, 0.2, shape="decahedron", p_off_axis=1.0).info["zone_axis"] == "random"

    # a small tilt: the same particle, its columns smeared a little; no tilt draws nothing, so old sets stay the same
    def particle(tilt):
        return stem_sim.pt_mo_particle(np.random.default_rng(5), 0.1, "octahedron", 6, "100", max_tilt=tilt)

    straight, again, tipped = particle(0.0), particle(0.0), particle(8.0)
    assert np.array_equal(straight.positions, again.positions) and "tilt_max" not in straight.info
    assert tipped.info["tilt_max"] == 8.0 and len(tipped) == len(straight)
    count = [len({tuple(p) for p in np.round(a.positions[:, :2], 1)}) for a in (straight, tipped)]
    assert count[0] < count[1]
    z = [np.ptp(a.positions[:, 2]) for a in (straight, tipped)]  # a tilt of <= 8 degrees barely changes the depth
    assert abs(z[1] - z[0]) < 0.3 * z[0]
    with pytest.raises(ValueError, match="max_tilt"):
        particle(-5.0)

    calls = []

    def fake(atoms, m, method):  # the images' contents do not matter here: no abTEM run
        calls.append(atoms.info["mo_fraction"])
        img = np.full((8, 8), len(atoms), float)
        return img / img.max(), img / img.max()

    paths = stem_sim.write_pairs(tmp_path, 3, (0.0, 0.5), seed=1, simulate=fake)
    assert calls == [0.0, 0.5, 0.0] and all(p.exists() for p in paths)
    paths[1].unlink()  # as if killed before the second pair was written
    stem_sim.write_pairs(tmp_path, 3, (0.0, 0.5), seed=1, simulate=fake)
    assert calls == [0.0, 0.5, 0.0, 0.5]  # only the missing pair is simulated again
    assert len(stem_sim.load_pairs(tmp_path)) == 3 and len(stem_sim.load_pairs(tmp_path, (0.5,))) == 1

    big = stem_sim.Microscope(scan_sampling=0.1)
    stem_sim.write_pairs(tmp_path / "big", 4, (0.2,), m=big, sizes=(8, 9), simulate=fake)
    for path in sorted((tmp_path / "big").glob("pair_*.npz")):
        with np.load(path) as d:
            assert float(d["scan_sampling"]) == 0.1 and int(d["n_atoms"]) > 100  # size 8-9: hundreds of atoms
    with pytest.raises(SystemExit):
        stem_sim.main(["--out", str(tmp_path / "x"), "--sizes", "9", "3"])


def test_cli_passes_the_detector_angles_to_the_microscope(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(stem_sim, "write_pairs", lambda out, n, fractions, m, **kw: seen.setdefault("m", m) and [])
    stem_sim.main(["--out", str(tmp_path), "--n", "1", "--inner", "35", "--outer", "140"])
    assert (seen["m"].inner, seen["m"].outer) == (35.0, 140.0)


def test_fourier_resample_is_exact_for_band_limited_periodic_images():
    x = np.arange(12) / 12
    coarse = 1 + np.cos(2 * np.pi * 3 * x)[:, None] * np.sin(2 * np.pi * 2 * x)[None, :]
    fine_x = np.arange(30) / 30
    fine = stem_sim.fourier_resample(coarse, (30, 30))
    expected = 1 + np.cos(2 * np.pi * 3 * fine_x)[:, None] * np.sin(2 * np.pi * 2 * fine_x)[None, :]
    np.testing.assert_allclose(fine, expected, atol=1e-12)
    with pytest.raises(ValueError, match="only refines"):
        stem_sim.fourier_resample(coarse, (6, 6))


def test_band_limited_scan_matches_the_full_scan():
    from dataclasses import replace

    from ase.build import fcc100

    atoms = fcc100("Pt", size=(2, 2, 2), vacuum=2, orthogonal=True)
    atoms.pbc = True
    full = stem_sim.Microscope(scan_sampling=0.15, band_limited_scan=False)
    assert 0.3 < stem_sim.nyquist_scan_sampling(full) < 0.32  # 200 kV, 20 mrad: lambda / (4 alpha)
    exact = stem_sim.haadf_image(atoms, full)
    fast = stem_sim.haadf_image(atoms, replace(full, band_limited_scan=True))
    assert fast.shape == exact.shape
    np.testing.assert_allclose(fast, exact, rtol=0, atol=1e-4 * exact.max())
