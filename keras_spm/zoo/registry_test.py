"""Registry format: entry validation, unknown names, and consistency of REGISTRY with the shipped zoo/ folders."""

import re
from dataclasses import replace
from pathlib import Path

import pytest

from keras_spm.zoo import REGISTRY, ZooEntry, available, get_entry, sha256_file, weights_filename

ZOO = Path(__file__).resolve().parents[2] / "zoo"
GOOD = ZooEntry(
    repo_id="keras-spm/dsh_light",
    revision="0123456789abcdef0123456789abcdef01234567",
    sha256="ab" * 32,
    kind="afm.dsh",
    description="Atomic disks, vdW spheres and height map from a 128x128x10 CO-tip AFM stack.",
)


def test_good_entry_validates_and_names_its_module():
    GOOD.validate("dsh_light")
    assert GOOD.family_module == "keras_spm.models.afm"
    assert weights_filename("dsh_light") == "dsh_light.keras"
    replace(GOOD, revision=None).validate("dsh_light")  # shipped-only, not published yet


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("revision", "main", "40-hex commit sha"),
        ("revision", "0123456789ABCDEF0123456789ABCDEF01234567", "40-hex commit sha"),
        ("sha256", "ab" * 16, "64 lower-case hex"),
        ("repo_id", "dsh_light", "org/name"),
        ("kind", "dsh", "'<family>.<builder>'"),
        ("kind", "nosuchfamily.dsh", "importable"),
        ("description", "two\nlines", "one non-empty line"),
    ],
)
def test_bad_entry_names_the_field_and_the_fix(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        replace(GOOD, **{field: value}).validate("dsh_light")


def test_bad_name():
    with pytest.raises(ValueError, match="lower-case letters"):
        GOOD.validate("DSH-light")


def test_unknown_name_lists_available_names():
    registry = {"dsh_light": GOOD, "es_light": replace(GOOD, kind="afm.es", description="ES maps.")}
    with pytest.raises(ValueError, match=r"unknown zoo model 'dsh'; available: dsh_light, es_light"):
        get_entry("dsh", registry)
    assert available(registry) == {"dsh_light": GOOD.description, "es_light": "ES maps."}
    with pytest.raises(ValueError, match="none registered yet"):
        get_entry("dsh", {})


def test_registry_entries_are_valid_and_match_their_shipped_copies():
    """What the lead pastes from zoo/publish.py must validate, and a shipped copy must be the registered file."""
    for name, entry in REGISTRY.items():
        entry.validate(name)
        shipped = ZOO / name / weights_filename(name)
        if shipped.is_file():
            assert sha256_file(shipped) == entry.sha256, f"{shipped} differs from REGISTRY[{name!r}].sha256"


def test_every_zoo_folder_is_registered_and_has_a_model_card():
    folders = [p for p in ZOO.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))] if ZOO.is_dir() else []
    from keras_spm.zoo.registry import not_trained_yet

    for folder in folders:
        if folder.name not in REGISTRY and not_trained_yet(folder.name):  # a campaign's log before its first weights
            assert {f.name for f in folder.iterdir()} <= {"campaign.csv", "campaign.png"}, folder
            continue
        assert folder.name in REGISTRY, f"{folder} has no entry in keras_spm/zoo/registry.py"
        card = folder / "README.md"
        assert card.is_file(), f"{folder} has no README.md model card"
        assert re.match(r"^---\n.*?^license:\s*\S.*?\n---\n", card.read_text(), re.S | re.M), f"{card}: no license"


def test_every_registered_model_ships_in_the_wheel():
    """setup.cfg's data_files must list each model's weights and card, or an installed package has no offline copy."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ZOO.parent / "setup.cfg")
    data_files = config["options.data_files"]
    for name in REGISTRY:
        key = f"share/keras_spm/zoo/{name}"
        assert key in data_files, f"setup.cfg [options.data_files] lacks {key}"
        listed = {item.strip() for item in data_files[key].split(",")}
        assert listed == {f"zoo/{name}/{weights_filename(name)}", f"zoo/{name}/README.md"}, key


def test_a_preset_without_weights_says_how_to_make_them():
    from keras_spm.zoo.registry import REGISTRY, get_entry

    before_first_promotion = {k: v for k, v in REGISTRY.items() if k not in ("es_6slice", "edafm")}
    with pytest.raises(ValueError, match=r"'es_6slice' has no trained weights yet: make them with `python training/"):
        get_entry("es_6slice", before_first_promotion)
    with pytest.raises(ValueError, match=r"'edafm' has no trained weights yet: .*--model edafm .*starts from scratch"):
        get_entry("edafm", before_first_promotion)
