import json

import numpy as np
import pytest

from keras_spm.data.samples import SampleSpec, WorkerPool
from keras_spm.data.shards import ShardError, read_metadata, shard_dataset, write_shard

SPEC = SampleSpec(("CO",), ("height",), augmentation=None)


@pytest.fixture(scope="module")
def samples(small_molecules):
    with WorkerPool(SPEC, 1) as pool:
        made = list(pool.map([(m, i) for i, m in enumerate(small_molecules[:4])]))
    return [(xs, ys, m.name) for (xs, ys), m in zip(made, small_molecules, strict=False)]


@pytest.fixture
def shard_dir(tmp_path, samples):
    write_shard(tmp_path / "s-00000-of-00002", samples[:2], SPEC)
    write_shard(tmp_path / "s-00001-of-00002", samples[2:], SPEC)
    return tmp_path


def stacks(ds):
    return np.concatenate([x.numpy() for x, _ in ds])


def test_round_trip_gives_every_sample_once(shard_dir, samples):
    ds = shard_dataset(shard_dir, batch_size=3, seed=0, augmentation=None)
    assert ds.num_samples == 4
    got = {float(x.sum()) for x in stacks(ds)}
    assert got == {float(s[0]["CO"].sum()) for s in samples}
    x, y = next(iter(ds))
    assert x.shape == (3, 128, 128, 10) and y["height"].shape == (3, 128, 128)


def test_reading_is_seeded(shard_dir):
    a = stacks(shard_dataset(shard_dir, batch_size=2, seed=3))
    b = stacks(shard_dataset(shard_dir, batch_size=2, seed=3))
    c = stacks(shard_dataset(shard_dir, batch_size=2, seed=4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(float(a.mean())) < 0.2  # augmented: standardised


def test_truncated_shard_is_named(shard_dir):
    record = shard_dir / "s-00001-of-00002.tfrecord"
    record.write_bytes(record.read_bytes()[:-50])
    with pytest.raises(ShardError, match="s-00001-of-00002.tfrecord.*truncated"):
        shard_dataset(shard_dir)


def test_corrupted_shard_is_named(shard_dir):
    record = shard_dir / "s-00000-of-00002.tfrecord"
    data = bytearray(record.read_bytes())
    data[len(data) // 2] ^= 0xFF
    record.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="s-00000-of-00002.tfrecord.*corrupted"):
        shard_dataset(shard_dir)
    # Without the up-front hash, the record checksum still stops the stream with the file's name.
    with pytest.raises(Exception, match="s-00000-of-00002.tfrecord.*corrupted"):
        stacks(shard_dataset(shard_dir, verify=False))


def test_count_mismatch_is_an_error_not_fewer_samples(shard_dir):
    meta_path = shard_dir / "s-00000-of-00002.json"
    meta = json.loads(meta_path.read_text())
    meta["count"] = 3
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(Exception, match="holds 2 samples but its metadata says 3"):
        stacks(shard_dataset(shard_dir, augmentation=None))


def test_shard_of_another_shape(shard_dir, samples):
    other = SampleSpec(("CO",), ("height", "disks"), augmentation=None)
    extra = [(xs, {**ys, "disks": ys["height"]}, n) for xs, ys, n in samples[:1]]
    write_shard(shard_dir / "t-00000-of-00001", extra, other)
    with pytest.raises(ShardError, match="t-00000-of-00001.tfrecord.*different shapes"):
        shard_dataset(shard_dir)
    with pytest.raises(ShardError, match="not \\['es'\\]"):
        shard_dataset(shard_dir / "t-00000-of-00001.tfrecord", descriptors=("es",))


def test_nothing_written_half_way(tmp_path, samples):
    def failing():
        yield samples[0]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_shard(tmp_path / "x-00000-of-00001", failing(), SPEC)
    assert list(tmp_path.iterdir()) == []
    bad = [({"CO": np.zeros((64, 64, 10), np.float32)}, samples[0][1], "small")]
    with pytest.raises(ShardError, match="'CO' has shape \\(64, 64, 10\\), expected \\(128, 128, 10\\)"):
        write_shard(tmp_path / "x-00000-of-00001", bad, SPEC)
    assert list(tmp_path.iterdir()) == []


def test_missing_metadata_and_paths(tmp_path, shard_dir):
    (shard_dir / "s-00000-of-00002.json").unlink()
    with pytest.raises(ShardError, match="no metadata file 's-00000-of-00002.json'"):
        read_metadata(shard_dir / "s-00000-of-00002.tfrecord")
    with pytest.raises(ShardError, match="no .tfrecord shards"):
        shard_dataset(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)
    with pytest.raises(ShardError, match="no shard at"):
        shard_dataset(tmp_path / "nowhere.tfrecord")


def test_generate_cli_writes_a_readable_shard(tmp_path):
    import subprocess
    import sys

    from keras_spm.data.sets import load_set

    cmd = [
        sys.executable,
        "-m",
        "keras_spm.data.generate",
        "--set",
        "light",
        "--split",
        "test",
        "--shard",
        "1/50",
        "--limit",
        "2",
        "--workers",
        "1",
        "--descriptors",
        "height,xyz",
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    record = tmp_path / "light-test-00001-of-00050.tfrecord"
    meta = read_metadata(record, verify=True)
    expected = [m.name for i, m in enumerate(load_set("light", "test")) if i % 50 == 1][:2]
    assert meta["count"] == 2 and meta["molecules"] == 2 and meta["shard"] == [1, 50]
    assert meta["settings"]["label_frame"] == "image"  # the default
    x, y = next(iter(shard_dataset(tmp_path, batch_size=2, augmentation=None)))
    assert x.shape == (2, 128, 128, 10) and y["xyz"].shape == (2, 16, 16, 4) and len(expected) == 2

    nominal = subprocess.run(
        [*cmd[:-1], str(tmp_path / "nominal"), "--limit", "1", "--label-frame", "nominal"],
        capture_output=True,
        text=True,
    )
    assert nominal.returncode == 0, nominal.stderr[-2000:]
    assert read_metadata(tmp_path / "nominal" / record.name)["settings"]["label_frame"] == "nominal"

    bad = subprocess.run(cmd[:8] + ["3/2"] + cmd[9:], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "--shard K/N needs 0 <= K < N, got 3/2" in bad.stderr
