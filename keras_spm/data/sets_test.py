import hashlib
import re
from collections import Counter

import numpy as np
import pytest

from keras_spm.data import sets
from keras_spm.data.sets import (
    MAX_DIAMETER,
    SET_ELEMENTS,
    SET_NAMES,
    SHIPPED_DIR,
    SPLITS,
    SUBSET_SIZES,
    Candidate,
    Skip,
    load_set,
    read_smiles,
    split_of,
)
from keras_spm.molecules import HEAVY_ELEMENTS, LIGHT_ELEMENTS, Molecule, diameter, fragments, validate

ID_PATTERNS = {"light": r"qm9:\d{6}", "heavy": r"nci:\d+", "planar": r"planar:\S+"}


@pytest.fixture(scope="module")
def shipped():
    return {(name, split): load_set(name, split) for name in SET_NAMES for split in SPLITS}


# -- the split function --


def test_max_diameter_is_the_window_minus_margins_and_tilt():
    assert MAX_DIAMETER == pytest.approx(15.875 - 2 * 0.5 - 1.0)


def test_split_of_known_ids():
    # Hard-coded so that a change of hash, fractions or key format shows up as a failure.
    expected = {
        "qm9:000001": "val",
        "qm9:000002": "train",
        "qm9:000011": "test",
        "qm9:000012": "test",
        "nci:1": "train",
        "nci:6": "val",
    }
    assert {i: split_of(i) for i in expected} == expected


def test_split_of_is_sha256_based_and_80_10_10():
    u = int.from_bytes(hashlib.sha256(b"qm9:000011").digest()[:8], "big") / 2**64
    assert u >= 0.9  # hence "test"
    counts = Counter(split_of(f"id:{i}") for i in range(20000))
    assert counts["train"] / 20000 == pytest.approx(0.8, abs=0.01)
    assert counts["val"] / 20000 == pytest.approx(0.1, abs=0.01)
    assert [split_of("qm9:000001") for _ in range(3)] == ["val"] * 3


@pytest.mark.parametrize("bad", ["", None, 12])
def test_split_of_rejects_non_ids(bad):
    with pytest.raises(ValueError, match="non-empty string"):
        split_of(bad)


# -- the shipped subsets --


def test_shipped_files_are_small():
    files = sorted(SHIPPED_DIR.glob("*.npz"))
    assert [f.name for f in files] == sorted(f"{n}_{s}.npz" for n in SET_NAMES for s in SPLITS)
    assert sum(f.stat().st_size for f in files) < 1_000_000


@pytest.mark.parametrize("name", SET_NAMES)
def test_shipped_splits_are_disjoint_and_follow_the_hash(shipped, name):
    seen = {}
    for split in SPLITS:
        names = [m.name for m in shipped[name, split]]
        assert len(names) == SUBSET_SIZES[split]
        assert len(set(names)) == len(names), f"duplicate id in {name}/{split}"
        assert all(re.fullmatch(ID_PATTERNS[name], n) for n in names)
        assert {split_of(n) for n in names} == {split}
        for n in names:
            assert n not in seen, f"{n} is in both {seen[n]} and {split}"
            seen[n] = split
    smiles = [s for split in SPLITS for s in read_smiles(SHIPPED_DIR / f"{name}_{split}.npz")]
    assert len(smiles) == len(seen) and all(smiles)
    if name in ("heavy", "planar"):  # duplicates were removed by canonical SMILES
        assert len(set(smiles)) == len(smiles)


def test_shipped_elements_are_as_promised(shipped):
    light = {z for split in SPLITS for m in shipped["light", split] for z in m.numbers.tolist()}
    heavy = {z for split in SPLITS for m in shipped["heavy", split] for z in m.numbers.tolist()}
    assert light <= set(LIGHT_ELEMENTS) and {1, 6, 7, 8} <= light
    assert heavy <= set(HEAVY_ELEMENTS)
    assert {15, 16, 17, 35} <= heavy  # P, S, Cl, Br
    assert SET_ELEMENTS == {"light": LIGHT_ELEMENTS, "heavy": HEAVY_ELEMENTS, "planar": HEAVY_ELEMENTS}


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_shipped_molecule_is_valid_centred_connected_and_fits(shipped, name):
    for split in SPLITS:
        for m in shipped[name, split]:
            validate(m, SET_ELEMENTS[name])
            assert diameter(m.positions) <= MAX_DIAMETER
            np.testing.assert_allclose(m.positions.mean(axis=0), 0.0, atol=1e-4)
            assert len(fragments(m.numbers, m.positions)) == 1
            assert abs(m.charges.sum()) < 2.01  # neutral, or a quaternary ammonium that cannot be neutralised
            assert np.abs(m.charges).max() < 1.5 and np.abs(m.charges).max() > 0.01


# -- errors --


def test_load_set_errors_list_valid_values(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown molecule set 'medium'; valid sets: light, heavy"):
        load_set("medium", "train")
    with pytest.raises(ValueError, match="unknown split 'training'; valid splits: train, val, test"):
        load_set("light", "training")
    monkeypatch.setenv("KERAS_SPM_CACHE", str(tmp_path))
    assert sets.cache_dir() == tmp_path / "sets"
    with pytest.raises(FileNotFoundError, match=r"python -m keras_spm\.data\.sets build --set heavy"):
        load_set("heavy", "val", full=True)


def test_read_rejects_other_format_versions(tmp_path):
    path = tmp_path / "x.npz"
    sets.write_molecules(path, [Molecule([1, 1], [[0, 0, 0], [0, 0, 0.74]], [0, 0], "H2")], ["[H][H]"])
    assert [m.name for m in sets.read_molecules(path)] == ["H2"]
    data = dict(np.load(path))
    data["format_version"] = np.int32(99)
    np.savez(path, **data)
    with pytest.raises(ValueError, match="format version 99.*rebuild"):
        sets.read_molecules(path)


# -- building from the sources (a handful of molecules each) --


@pytest.mark.parametrize("name,limit", [("light", 12), ("heavy", 12)])
def test_tiny_build_has_the_shipped_format(tmp_path, monkeypatch, name, limit):
    if name == "heavy":
        pytest.importorskip("rdkit")
    else:
        pytest.importorskip("pandas")
        if sets.importlib.util.find_spec("qm9pack") is None:
            pytest.skip("qm9pack is not installed")
    monkeypatch.setenv("KERAS_SPM_CACHE", str(tmp_path))
    report = sets.build_set(name, limit=limit, progress=False)
    assert report.n_candidates == limit and sum(report.counts.values()) + sum(report.skipped.values()) == limit
    out = tmp_path / "sets"
    assert (out / f"{name}_report.json").exists()
    shipped_keys = set(np.load(SHIPPED_DIR / f"{name}_train.npz").files)
    total = 0
    for split in SPLITS:
        with np.load(out / f"{name}_{split}.npz") as f:
            assert set(f.files) == shipped_keys
            assert f["numbers"].dtype == np.int8 and f["positions"].dtype == np.float32
            assert f["offsets"][0] == 0 and f["offsets"][-1] == len(f["numbers"]) == len(f["charges"])
        molecules = load_set(name, split, full=True)
        assert len(molecules) == report.counts[split]
        assert all(split_of(m.name) == split and re.fullmatch(ID_PATTERNS[name], m.name) for m in molecules)
        total += len(molecules)
    assert total > limit // 2


def test_qm9_first_molecule_is_methane():
    if sets.importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack is not installed")
    (candidate,) = list(sets.qm9_candidates(limit=1))
    m = sets.build_qm9(candidate)
    assert m.name == "qm9:000001" and candidate.smiles == "C"
    assert sorted(m.numbers.tolist()) == [1, 1, 1, 1, 6]
    assert m.charges[m.numbers == 6][0] == pytest.approx(-0.535689)
    bonds = np.linalg.norm(m.positions[m.numbers == 1] - m.positions[m.numbers == 6], axis=1)
    np.testing.assert_allclose(bonds, 1.09, atol=0.01)


def test_nci_standardisation_and_skips(tmp_path):
    pytest.importorskip("rdkit")
    smi = tmp_path / "tiny.smi"
    smi.write_text(
        "CC(=O)[O-].[Na+]\t1\n"  # salt: keep the acetate, neutralised
        "CC(O)=O\t2\n"  # the same molecule again
        "c1ccccc1I\t3\n"  # iodine is not in the heavy set
        "C1CC\t4\n"  # unparsable
        "ClC(Cl)(Cl)SC(=S)N\t5\n"
    )
    candidates = list(sets.nci_candidates(path=smi))
    assert [c.name for c in candidates] == [f"nci:{i}" for i in range(1, 6)]
    assert candidates[0].smiles == "CC(=O)O" and candidates[0].data == "CC(=O)O"
    reasons = {c.name: str(c.data) for c in candidates if isinstance(c.data, Skip)}
    assert reasons == {"nci:2": "duplicate", "nci:3": "element outside the set: I", "nci:4": "unparsable SMILES"}
    with pytest.raises(Skip, match="duplicate"):
        sets.build_nci(candidates[1])
    m = sets.build_nci(candidates[4])
    assert m.name == "nci:5" and sorted(set(m.numbers.tolist())) == [1, 6, 7, 16, 17]
    assert abs(m.charges.sum()) < 1e-6  # Gasteiger charges of a neutral molecule sum to zero


def test_nci_embedding_is_deterministic():
    pytest.importorskip("rdkit")
    candidate = Candidate("nci:test", "O=C(O)c1ccc(Br)cc1P", "O=C(O)c1ccc(Br)cc1P")
    a, b = sets.build_nci(candidate), sets.build_nci(candidate)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.charges, b.charges)
    assert len(a) == 17  # 11 heavy atoms and 6 explicit hydrogens (COOH, 3 CH, PH2)


def test_too_large_molecules_are_skipped():
    pytest.importorskip("rdkit")
    long_chain = "C" * 14
    with pytest.raises(Skip, match="larger than 13.875"):
        sets.build_nci(Candidate("nci:chain", long_chain, long_chain))


@pytest.mark.parametrize("name", ["light", "heavy"])  # planar: generating its 6,000 candidates takes a minute
def test_make_subsets_reproduces_the_head_of_the_shipped_files(tmp_path, name):
    """The shipped files are in subset-rank order, so smaller quotas must give their first molecules."""
    pytest.importorskip("rdkit" if name == "heavy" else "pandas")
    if name == "light" and sets.importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack is not installed")
    from keras_spm.data.make_subsets import make_subset

    sizes = {"train": 3, "val": 2, "test": 2}
    make_subset(name, tmp_path, sizes, progress=False)
    for split in SPLITS:
        made = sets.read_molecules(tmp_path / f"{name}_{split}.npz")
        ours = load_set(name, split)[: sizes[split]]
        assert [m.name for m in made] == [m.name for m in ours]
        for a, b in zip(made, ours, strict=True):
            assert a.numbers.tolist() == b.numbers.tolist()
            if name == "light":  # NCI conformers may change with the RDKit version; QM9's are fixed
                np.testing.assert_allclose(a.positions, b.positions, atol=1e-5)
