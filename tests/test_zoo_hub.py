"""End to end over HTTP: zoo/publish.py pushes a model to the loopback fake Hub, keras_spm.zoo loads it back.

huggingface_hub is used as is (no monkeypatching): publish.py runs in a subprocess with HF_ENDPOINT pointing at
tests/hub_server.py; in-process loads pass ``endpoint=`` and an empty ``cache_dir``. The model is a DSH network
(32x32x10 input, random weights) built on the fly; nothing is committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hub_server import HubServer

from keras_spm.zoo import ChecksumError, ZooEntry, fetch, load, sha256_file

REPO = Path(__file__).resolve().parents[1]
PUBLISH = REPO / "zoo" / "publish.py"
TOKEN = "fake-test-token"
NAME = "tiny_dsh"
REPO_ID = "zoo-test/tiny_dsh"
CARD = """---
license: mit
library_name: keras
tags: [afm, test]
---
# tiny_dsh
DSH with random weights, for the zoo's publishing tests only.
"""


def make_model_folder(zoo_dir: Path, seed: int):
    """zoo_dir/tiny_dsh/{tiny_dsh.keras, README.md}; returns (test input, expected outputs)."""
    import keras

    from keras_spm.models import afm

    keras.utils.set_random_seed(seed)
    model = afm.dsh(input_shape=(32, 32, 10))
    folder = zoo_dir / NAME
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / f"{NAME}.keras")
    (folder / "README.md").write_text(CARD)
    x = np.random.default_rng(seed).normal(size=(2, 32, 32, 10)).astype("float32")
    return x, model.predict(x, verbose=0)


def client_env(hub: HubServer, home: Path, **extra: str) -> dict:
    """Environment of a huggingface_hub subprocess talking to the fake Hub, with its own empty HF_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_TOKEN=TOKEN,
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",  # the fake Hub speaks git-LFS, not Xet
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    env.update(extra)
    return env


def publish(hub: HubServer, zoo_dir: Path, home: Path, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(PUBLISH), NAME, "--repo-id", REPO_ID, "--zoo-dir", str(zoo_dir), *args]
    env = client_env(hub, home, HF_TOKEN=token)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def pushed_revision(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("commit: ")]
    assert len(lines) == 1, result.stdout
    return lines[0].split()[1]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One push of tiny_dsh to a fake Hub that lives for this module (at most 5 minutes)."""
    root = tmp_path_factory.mktemp("zoo_hub")
    zoo_dir = root / "zoo"
    x, expected = make_model_folder(zoo_dir, seed=1)
    with HubServer(root / "hub", token=TOKEN, lifetime=300) as hub:
        result = publish(hub, zoo_dir, root / "publisher", "--revision-note", "random weights for tests")
        revision = pushed_revision(result)
        sha256 = sha256_file(zoo_dir / NAME / f"{NAME}.keras")
        entry = ZooEntry(repo_id=REPO_ID, revision=revision, sha256=sha256, kind="afm.dsh", description="test DSH")
        yield {
            "hub": hub,
            "root": root,
            "zoo_dir": zoo_dir,
            "stdout": result.stdout,
            "registry": {NAME: entry},
            "x": x,
            "expected": expected,
        }


@pytest.fixture(autouse=True)
def _no_real_token(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # in-process calls never send a developer's token to the fake Hub
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("KERAS_SPM_ZOO_DIR", raising=False)


def test_publish_creates_repo_and_prints_pinned_entry(published):
    hub, entry = published["hub"], published["registry"][NAME]
    repo = hub.store.read_repo(REPO_ID)
    assert repo["refs"]["main"] == entry.revision
    commit = repo["commits"][entry.revision]
    assert commit["description"] == "random weights for tests"
    tree = commit["tree"]
    assert sorted(tree) == [".gitattributes", "README.md", f"{NAME}.keras"]
    assert tree[f"{NAME}.keras"]["lfs"]["oid"] == entry.sha256  # weights went through git-LFS
    assert tree["README.md"]["lfs"] is None  # the card is a regular git blob
    routes = hub.routes()
    for route in ("create", "validate-yaml", "preupload", "lfs-batch", "lfs-upload", "lfs-verify", "commit"):
        assert route in routes, routes
    stdout = published["stdout"]
    assert f'revision="{entry.revision}"' in stdout and f'sha256="{entry.sha256}"' in stdout


def test_load_from_empty_cache_then_from_cache_without_network(published, tmp_path):
    hub, registry = published["hub"], published["registry"]
    cache = tmp_path / "hf" / "hub"
    assert fetch(NAME, registry=registry, cache_dir=cache, endpoint=hub.url).source == "hub"
    snapshot = cache / "models--zoo-test--tiny_dsh" / "snapshots" / registry[NAME].revision / f"{NAME}.keras"
    assert snapshot.is_file()
    assert [r for r in hub.routes() if r.startswith("resolve")][-2:] == ["resolve-head", "resolve-get"]

    before = len(hub.requests)
    model = load(NAME, registry=registry, cache_dir=cache, endpoint=hub.url)
    assert len(hub.requests) == before  # pinned revision in the cache: no request at all
    assert fetch(NAME, registry=registry, cache_dir=cache, endpoint=hub.url).source == "cache"
    outputs = model.predict(published["x"], verbose=0)
    assert sorted(outputs) == ["disks", "height", "spheres"]
    for key, want in published["expected"].items():
        np.testing.assert_allclose(outputs[key], want, rtol=1e-5, atol=1e-6)


def test_snapshot_download_returns_the_pushed_folder(published, tmp_path):
    from huggingface_hub import HfApi, snapshot_download

    hub, entry = published["hub"], published["registry"][NAME]
    folder = Path(snapshot_download(REPO_ID, revision=entry.revision, cache_dir=tmp_path / "hf", endpoint=hub.url))
    for name in ("README.md", f"{NAME}.keras"):
        assert (folder / name).read_bytes() == (published["zoo_dir"] / NAME / name).read_bytes()
    info = HfApi(endpoint=hub.url).model_info(REPO_ID, revision=entry.revision)
    assert info.sha == entry.revision
    assert {s.rfilename for s in info.siblings} == {".gitattributes", "README.md", f"{NAME}.keras"}


def test_corrupted_cache_names_the_file_and_the_fix(published, tmp_path):
    hub, registry = published["hub"], published["registry"]
    cache = tmp_path / "hf" / "hub"
    path = fetch(NAME, registry=registry, cache_dir=cache, endpoint=hub.url).path
    blob = path.resolve()
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    blob.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        load(NAME, registry=registry, cache_dir=cache, endpoint=hub.url)
    message = str(err.value)
    assert str(path) in message and "source: cache" in message
    assert "force_download=True" in message and str(cache / "models--zoo-test--tiny_dsh") in message
    model = load(NAME, registry=registry, cache_dir=cache, endpoint=hub.url, force_download=True)
    assert sha256_file(path) == registry[NAME].sha256
    np.testing.assert_allclose(
        model.predict(published["x"], verbose=0)["height"], published["expected"]["height"], atol=1e-6
    )


def test_registry_errors_against_a_live_hub(published, tmp_path, caplog, monkeypatch):
    """A wrong sha256 is an error even when fresh from the Hub; a revision the Hub lacks falls back to zoo/."""
    hub, entry = published["hub"], published["registry"][NAME]
    wrong_sha = {NAME: replace(entry, sha256="0" * 64)}
    with pytest.raises(ChecksumError, match="source: hub.*registry entry is the one zoo/publish.py printed"):
        fetch(NAME, registry=wrong_sha, cache_dir=tmp_path / "a", endpoint=hub.url)
    missing_revision = {NAME: replace(entry, revision="f" * 40)}
    monkeypatch.setenv("KERAS_SPM_ZOO_DIR", str(published["zoo_dir"]))
    with caplog.at_level("WARNING", logger="keras_spm.zoo"):
        fetched = fetch(NAME, registry=missing_revision, cache_dir=tmp_path / "b", endpoint=hub.url)
    assert fetched.source == "shipped" and "RevisionNotFoundError" in caplog.text


def test_pinned_revision_survives_a_new_push(published, tmp_path):
    """A second push of new weights moves main, but the registry's pinned revision still serves the old file."""
    hub, old = published["hub"], published["registry"][NAME]
    zoo_dir = tmp_path / "zoo"
    x, expected_new = make_model_folder(zoo_dir, seed=2)
    new_revision = pushed_revision(publish(hub, zoo_dir, tmp_path / "publisher"))
    assert new_revision != old.revision
    assert hub.store.read_repo(REPO_ID)["commits"][new_revision]["parent"] == old.revision
    new = replace(old, revision=new_revision, sha256=sha256_file(zoo_dir / NAME / f"{NAME}.keras"))
    cache = tmp_path / "hf"
    old_model = load(NAME, registry={NAME: old}, cache_dir=cache, endpoint=hub.url)
    new_model = load(NAME, registry={NAME: new}, cache_dir=cache, endpoint=hub.url)
    old_height = old_model.predict(published["x"], verbose=0)["height"]
    np.testing.assert_allclose(old_height, published["expected"]["height"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_model.predict(x, verbose=0)["height"], expected_new["height"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(old_model.predict(x, verbose=0)["height"], expected_new["height"])


OFFLINE_SCRIPT = """
import json, os, sys
from keras_spm.zoo import ZooEntry, ZooError, fetch
args = json.loads(sys.argv[1])
registry = {args["name"]: ZooEntry(**args["entry"])}
out = {}
out["empty_cache"] = fetch(args["name"], registry=registry).source  # HF_HOME is empty: shipped copy
out["warm_cache"] = fetch(args["name"], registry=registry, cache_dir=args["warm_cache"]).source
os.environ["KERAS_SPM_ZOO_DIR"] = args["nowhere"]
try:
    fetch(args["name"], registry=registry)
except ZooError as err:
    out["nothing"] = str(err)
print(json.dumps(out))
"""


def test_offline_uses_cache_then_shipped_copy_and_never_the_network(published, tmp_path):
    hub, registry = published["hub"], published["registry"]
    entry = registry[NAME]
    warm = tmp_path / "warm"
    fetch(NAME, registry=registry, cache_dir=warm, endpoint=hub.url)  # fill one cache while online
    args = {
        "name": NAME,
        "entry": entry.__dict__,
        "warm_cache": str(warm),
        "nowhere": str(tmp_path / "nowhere"),
    }
    env = client_env(hub, tmp_path / "empty_home", HF_HUB_OFFLINE="1", KERAS_SPM_ZOO_DIR=str(published["zoo_dir"]))
    before = len(hub.requests)
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, json.dumps(args)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["empty_cache"] == "shipped"
    assert out["warm_cache"] == "cache"
    assert "HF_HUB_OFFLINE is set" in out["nothing"] and "nowhere" in out["nothing"]
    assert len(hub.requests) == before  # offline means offline


def test_publish_refuses_bad_token_and_bad_folders(published, tmp_path):
    hub = published["hub"]
    denied = publish(hub, published["zoo_dir"], tmp_path / "home", token="wrong-token")
    assert denied.returncode != 0 and "401" in denied.stderr

    zoo_dir = tmp_path / "zoo"
    folder = zoo_dir / NAME
    missing = publish(hub, zoo_dir, tmp_path / "home")
    assert missing.returncode != 0 and f"{folder} does not exist" in missing.stderr

    folder.mkdir(parents=True)
    (folder / f"{NAME}.keras").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n")
    (folder / "README.md").write_text(CARD)
    pointer = publish(hub, zoo_dir, tmp_path / "home")
    assert pointer.returncode != 0 and "git-LFS pointer" in pointer.stderr and "git lfs pull" in pointer.stderr

    (folder / f"{NAME}.keras").write_bytes((published["zoo_dir"] / NAME / f"{NAME}.keras").read_bytes())
    (folder / "README.md").write_text("# no front matter\n")
    card = publish(hub, zoo_dir, tmp_path / "home")
    assert card.returncode != 0 and "license:" in card.stderr
