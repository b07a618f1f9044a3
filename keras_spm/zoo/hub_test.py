"""zoo.fetch / zoo.load without a Hub: shipped copies, unreachable Hub, checksum and load errors.

The Hub round trip (publish, download into an empty cache, offline mode, corrupted cache) is in
tests/test_zoo_hub.py, against the loopback fake Hub.
"""

import logging
import socket
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_spm.models.layers import ReflectionPadding
from keras_spm.zoo import ChecksumError, ZooEntry, ZooError, fetch, load, sha256_file, shipped_dirs


def tiny_model(seed: int = 0) -> keras.Model:
    """A small model with a keras_spm custom layer, so loading needs the family module's registrations."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 2))
    x = ReflectionPadding((1, 1))(inputs)
    outputs = keras.layers.Conv2D(3, 3, name="conv")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """zoo/tiny/tiny.keras in a folder named by KERAS_SPM_ZOO_DIR; returns (registry, model, zoo dir)."""
    model = tiny_model()
    folder = tmp_path / "zoo" / "tiny"
    folder.mkdir(parents=True)
    model.save(folder / "tiny.keras")
    monkeypatch.setenv("KERAS_SPM_ZOO_DIR", str(tmp_path / "zoo"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "not-a-real-token")  # never send a developer's token to a test endpoint
    entry = ZooEntry(
        repo_id="zoo-test/tiny",
        revision=None,
        sha256=sha256_file(folder / "tiny.keras"),
        kind="afm.tiny",
        description="A tiny test model.",
    )
    return {"tiny": entry}, model, tmp_path / "zoo"


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_shipped_dirs_env_first_then_repo_zoo(shipped):
    _, _, zoo_dir = shipped
    dirs = shipped_dirs()
    assert dirs[0] == zoo_dir
    assert dirs[1] == Path(__file__).resolve().parents[2] / "zoo"


def test_unpublished_entry_loads_the_shipped_copy_ready_for_predict(shipped, tmp_path):
    registry, model, zoo_dir = shipped
    fetched = fetch("tiny", registry=registry, cache_dir=tmp_path / "hf")
    assert fetched.source == "shipped" and fetched.path == zoo_dir / "tiny" / "tiny.keras"
    loaded = load("tiny", registry=registry, cache_dir=tmp_path / "hf")
    assert loaded.compiled and loaded.optimizer is None
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 2)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    assert not (tmp_path / "hf").exists()  # nothing to download for an unpublished entry


def test_unreachable_hub_falls_back_to_shipped_copy_and_says_why(shipped, tmp_path, caplog):
    registry, _, _ = shipped
    registry["tiny"] = replace(registry["tiny"], revision="1" * 40)
    with caplog.at_level(logging.WARNING, logger="keras_spm.zoo"):
        fetched = fetch("tiny", registry=registry, cache_dir=tmp_path / "hf", endpoint=closed_port_url())
    assert fetched.source == "shipped"
    assert "using the shipped copy" in caplog.text and "ConnectError" in caplog.text


def test_no_source_raises_with_what_was_tried_and_the_fix(shipped, tmp_path, monkeypatch):
    registry, _, _ = shipped
    registry["tiny"] = replace(registry["tiny"], revision="1" * 40)
    monkeypatch.setenv("KERAS_SPM_ZOO_DIR", str(tmp_path / "empty"))
    with pytest.raises(ZooError, match="not available") as err:
        fetch("tiny", registry=registry, cache_dir=tmp_path / "hf", endpoint=closed_port_url())
    message = str(err.value)
    assert str(tmp_path / "empty" / "tiny" / "tiny.keras") in message
    assert "unset HF_HUB_OFFLINE" in message and "KERAS_SPM_ZOO_DIR" in message


def test_shipped_copy_with_wrong_sha256_is_refused(shipped, tmp_path):
    registry, _, zoo_dir = shipped
    registry["tiny"] = replace(registry["tiny"], sha256="0" * 64)
    with pytest.raises(ChecksumError) as err:
        load("tiny", registry=registry, cache_dir=tmp_path / "hf")
    message = str(err.value)
    assert str(zoo_dir / "tiny" / "tiny.keras") in message and "0" * 64 in message
    assert "zoo/publish.py" in message and "git checkout" in message


def test_truncated_shipped_copy_is_refused_before_keras_sees_it(shipped, tmp_path):
    registry, _, zoo_dir = shipped
    path = zoo_dir / "tiny" / "tiny.keras"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ChecksumError, match="tiny.keras"):
        load("tiny", registry=registry, cache_dir=tmp_path / "hf")


def test_file_that_matches_but_is_no_model_raises_zoo_error(shipped, tmp_path):
    registry, _, zoo_dir = shipped
    path = zoo_dir / "tiny" / "tiny.keras"
    path.write_bytes(b"not a keras archive")
    registry["tiny"] = replace(registry["tiny"], sha256=sha256_file(path))
    with pytest.raises(ZooError, match="Keras cannot load it"):
        load("tiny", registry=registry, cache_dir=tmp_path / "hf")


def test_unknown_name(shipped):
    registry, _, _ = shipped
    with pytest.raises(ValueError, match="unknown zoo model 'tiny2'; available: tiny"):
        load("tiny2", registry=registry)
