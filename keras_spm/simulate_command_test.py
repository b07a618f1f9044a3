import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_spm.molecules import SYMBOLS, Molecule, rotation_to_up
from keras_spm.simulate_command import main

ROOT = Path(__file__).resolve().parents[1]


def write_xyz(path: Path, molecule: Molecule, charges: bool = True) -> Path:
    lines = [str(len(molecule)), molecule.name]
    for z, p, q in zip(molecule.numbers, molecule.positions, molecule.charges, strict=True):
        lines.append(f"{SYMBOLS[int(z)]} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}" + (f" {q:.3f}" if charges else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def charged(molecule: Molecule) -> Molecule:
    return Molecule(molecule.numbers, molecule.positions, np.where(molecule.numbers == 1, 0.1, -0.1), molecule.name)


def benzene_on_copper(benzene: Molecule) -> Molecule:
    """Benzene flat in the xy plane, 3 Angstrom above a 3 x 3 patch of Cu atoms (2.55 Angstrom apart)."""
    copper = np.array([[x, y, -3.0] for x in (-2.55, 0.0, 2.55) for y in (-2.55, 0.0, 2.55)])
    numbers = np.concatenate([benzene.numbers, [29] * 9])
    positions = np.concatenate([benzene.positions, copper])
    charges = np.concatenate([benzene.charges, np.zeros(9)])
    substrate = np.arange(len(numbers)) >= len(benzene)
    return Molecule(numbers, positions, charges, "benzene on Cu", substrate)


@pytest.fixture
def benzene(small_molecules) -> Molecule:
    m = charged(small_molecules[0])  # ASE's C6H6, in the xy plane
    assert m.name == "C6H6" and np.ptp(m.positions[:, 2]) < 1e-9
    return m


# -- arguments and data errors: one line on stderr, exit 2 (arguments) or 1 (data), before OpenCL/TensorFlow --


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.xyz", "-o", "out"], r"missing\.xyz: no such file"),
        (["{mol}"], r"the following arguments are required: -o/--out"),
        (["{mol}", "-o", "{tmp}/out", "--tips", "CO,Pt"], r"unknown tip\(s\) \['Pt'\]; available: CO, Xe"),
        (["{mol}", "-o", "{tmp}/out", "--tips", "CO,CO"], r"names a tip twice"),
        (
            ["{mol}", "-o", "{tmp}/out", "--predict", "dsh_huge"],
            r"'dsh_huge' is not a zoo model; AFM models: dsh_6slice, dsh_heavy",
        ),
        (["{mol}", "-o", "{tmp}/out", "--predict", "pix2pix_stem"], r"does not take AFM stacks"),
        (["{mol}", "-o", "{tmp}/mol.xyz"], r"exists and is not a folder"),
        (["{mol}", "-o", "{tmp}/out", "--substrate-elements", "Cu,Qq"], r"'Qq' is not an element symbol"),
        (["{mol}", "-o", "{tmp}/out", "--substrate-below", "1", "--orientation", "best"], r"would tilt the substrate"),
        (["{mol}", "-o", "{tmp}/out", "--frame", "-1"], r"frames count from 0"),
        (["{mol}", "-o", "{tmp}/out", "--orientation", "sideways"], r"invalid choice: 'sideways'"),
        (["{tmp}", "-o", "{tmp}/out"], r"is not a file"),
    ],
)
def test_argument_errors_exit_2_with_one_line(tmp_path, benzene, capsys, args, message):
    import re

    mol = write_xyz(tmp_path / "mol.xyz", benzene)
    argv = [a.format(mol=mol, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-spm simulate: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_an_unreadable_molecule_exits_1_naming_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.xyz"
    bad.write_text("2\nbroken\nC 0 0 0\nH 1.0 zero 0\n")
    assert main([str(bad), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"keras-spm simulate: {bad}, line 4: coordinates and charge must be numbers"), err
    too_big = tmp_path / "chain.xyz"
    write_xyz(too_big, Molecule([6] * 14, [[1.5 * i, 0, 0] for i in range(14)], None, "chain"), charges=False)
    assert main([str(too_big), "-o", str(tmp_path / "out"), "--orientation", "as-is"]) == 1
    assert "spans 19.5 x 0.0 Angstrom in xy but the scan window holds" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--substrate-elements" in capsys.readouterr().out


# -- substrate: simulated, left out of the descriptors --


def test_substrate_changes_the_stack_but_not_the_descriptors(benzene):
    from keras_spm.descriptors import DESCRIPTORS, DescriptorMaker, encode_xyz
    from keras_spm.sim.afm import AFMSimulator

    simulator, maker = AFMSimulator(("CO",)), DescriptorMaker(DESCRIPTORS)
    rng = np.random.default_rng(3)
    alone = simulator.simulate(benzene, rng)["CO"]
    tilt, maps_alone, xyz_alone = simulator.tilt, maker(simulator), encode_xyz(simulator.label_molecule)
    on_cu = benzene_on_copper(benzene)
    with_cu = simulator.simulate(on_cu, np.random.default_rng(3))["CO"]
    np.testing.assert_array_equal(simulator.tilt, tilt)
    # The molecule is placed as without the Cu (top at the same height, centred on the benzene) ...
    np.testing.assert_allclose(simulator.placed.positions[:12], simulator.placed.without_substrate().positions)
    assert simulator.placed.substrate.sum() == 9
    # ... the Cu atoms are in the simulation (their attraction changes df by a lot) ...
    assert np.abs(with_cu - alone).max() > 0.1 * np.abs(alone).max()
    # ... and in no descriptor: maps and xyz grid equal those of benzene alone.
    maps = maker(simulator)
    for name in DESCRIPTORS:
        np.testing.assert_allclose(maps[name], maps_alone[name], atol=1e-5, err_msg=name)
    assert maps["disks"].max() > 0.9 and np.abs(maps["es"]).max() > 0.01
    np.testing.assert_array_equal(encode_xyz(simulator.label_molecule), xyz_alone)


# -- the command end to end --


def test_simulate_keeps_a_flat_molecule_flat_and_writes_the_files(tmp_path, benzene, capsys):
    tilted = benzene.rotated(rotation_to_up([0.0, np.sin(0.3), np.cos(0.3)]))  # a file with the ring tilted 17 deg
    mol = write_xyz(tmp_path / "tilted benzene.xyz", tilted)
    out = tmp_path / "out"
    assert main([str(mol), "-o", str(out), "--tips", "Xe,CO"]) == 0
    captured = capsys.readouterr()
    stem = "tilted benzene"
    written = [out / f"{stem}_{s}" for s in ("stacks.npz", "descriptors.npz", "simulate.png")]
    assert captured.out.split("\n")[:-1] == [str(p) for p in written]
    assert "orientation: best of the candidates, 17.2° from the file's" in captured.err
    assert not (out / f"{stem}_prediction.npz").exists()
    with np.load(written[0]) as f:
        assert f["CO"].shape == f["Xe"].shape == (128, 128, 10) and f["CO"].dtype == np.float32
        assert np.ptp(f["positions"][:, 2]) < 1e-5  # laid exactly flat
        assert not f["substrate"].any() and f["numbers"].tolist() == benzene.numbers.tolist()
    with np.load(written[1]) as f:
        assert {"disks", "spheres", "height", "es", "xyz", "atoms"} <= set(f.files)
        assert f["disks"].shape == (128, 128) and f["xyz"].shape == (16, 16, 4)
        assert f["xyz"][..., 0].sum() == 12  # all 12 atoms are in the top layer of a flat ring
        assert str(f["height_es_tip"]) == "CO"  # CO first whatever the order of --tips
    assert written[2].stat().st_size > 20_000

    assert main([str(mol), "-o", str(out), "--orientation", "as-is"]) == 0
    with np.load(written[0]) as f:
        assert np.ptp(f["positions"][:, 2]) > 1.0  # the file's tilt kept


def test_simulate_command_end_to_end_with_a_prediction(tmp_path, benzene):
    """``python -m keras_spm.simulate_command`` in a fresh process, predicting with the shipped dsh_light."""
    mol = write_xyz(tmp_path / "benzene.xyz", benzene)
    out = tmp_path / "out"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "keras_spm.simulate_command", str(mol), "--predict", "dsh_light", "-o", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for step in ("read ", "simulating CO stack(s) with ppafm", "loading zoo model dsh_light", "predicted in"):
        assert step in result.stderr
    with np.load(out / "benzene_prediction.npz") as f, np.load(out / "benzene_descriptors.npz") as t:
        assert str(f["model"]) == "dsh_light"
        for name in ("disks", "spheres", "height"):
            assert f[name].shape == (128, 128)
            r = np.corrcoef(f[name].ravel(), t[name].ravel())[0, 1]
            assert r > 0.7, (name, r)  # benzene is an easy molecule for the zoo's DSH
    assert (out / "benzene_simulate.png").stat().st_size > 20_000


def test_predict_uses_keras_spm_predict_when_present(monkeypatch):
    """The shared ``keras_spm.predict`` entry point is used when this keras_spm has it (faked here: no TensorFlow)."""
    import keras_spm
    from keras_spm import simulate_command

    calls = []

    def fake_predict(name, inputs):
        calls.append((name, inputs))
        probs = np.zeros((1, 16, 16, 2), np.float32)
        probs[..., 0] = 1.0
        probs[0, 8, 8] = (0.1, 0.9)
        return {"xyz_class": probs, "xyz_offset": np.zeros((1, 16, 16, 3), np.float32)}

    monkeypatch.setattr(keras_spm, "predict", fake_predict, raising=False)
    stack = np.ones((128, 128, 10), np.float32)
    out = simulate_command.predict("xyz", {"CO": stack})
    assert calls[0][0] == "xyz" and calls[0][1] is stack  # a single-tip model gets the bare stack
    assert out["xyz_class"].shape == (16, 16, 2) and out["xyz_offset"].shape == (16, 16, 3)  # batch axis dropped
    np.testing.assert_allclose(out["atoms"], [[8.43359375, 8.43359375, 0.0, 0.9]])  # box (8, 8) centre, P = 0.9
    simulate_command.predict("es", {"CO": stack, "Xe": stack})
    assert set(calls[1][1]) == {"CO", "Xe"}
