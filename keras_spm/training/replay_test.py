import numpy as np
import pytest

from keras_spm.training.replay import ReplayBuffer, ReplayBufferError, iterate, produce, producer_order
from keras_spm.training.runs import append_csv, read_csv, read_json, write_json


def sample(value: float):
    return {"CO": np.full((128, 128, 10), value, np.float32)}, {"xyz": np.full((16, 16, 4), value, np.float32)}


def test_buffer_stores_draws_and_evicts_the_oldest(tmp_path):
    buffer = ReplayBuffer(tmp_path, ("CO",), ("xyz",), capacity=3)
    for i in range(5):
        buffer.add("p", i, *sample(i))
    names = sorted(p.name for p in buffer.files(refresh=True))
    assert names == ["p-000000002.npz", "p-000000003.npz", "p-000000004.npz"]
    rng = np.random.default_rng(0)
    values = {float(buffer.draw(rng)[0]["CO"][0, 0, 0]) for _ in range(30)}
    assert values == {2.0, 3.0, 4.0}


def test_buffer_refuses_another_kind_of_sample(tmp_path):
    ReplayBuffer(tmp_path, ("CO",), ("xyz",))
    with pytest.raises(ReplayBufferError, match="another buffer folder"):
        ReplayBuffer(tmp_path, ("CO", "Xe"), ("es", "height"))
    with pytest.raises(ValueError, match="lacks"):
        ReplayBuffer(tmp_path, ("CO",), ("xyz",)).add("p", 0, {"CO": np.zeros((128, 128, 10))}, {})


def test_an_empty_buffer_says_what_to_start(tmp_path):
    buffer = ReplayBuffer(tmp_path, ("CO",), ("xyz",))
    with pytest.raises(ReplayBufferError, match="producers running"):
        buffer.draw(np.random.default_rng(0), wait=0.0)


def test_draws_are_augmented_afresh(tmp_path):
    buffer = ReplayBuffer(tmp_path, ("CO",), ("xyz",))
    buffer.add("p", 0, *sample(1.0))
    draws = iterate(buffer, lambda x, rng: x + rng.random(), seed=0)
    a, b = next(draws)[0]["CO"], next(draws)[0]["CO"]
    assert not np.allclose(a, b)  # one stored sample, two different training inputs


def test_producer_orders_cover_each_molecule_once_per_pass():
    shards = [producer_order(10, k, 3, seed=1, cycle=0) for k in range(3)]
    assert sorted(np.concatenate(shards).tolist()) == list(range(10))
    assert producer_order(10, 0, 3, 1, 0).tolist() != producer_order(10, 0, 3, 1, 1).tolist() or len(shards[0]) < 3


def test_a_restarted_producer_goes_on_with_new_molecules(tmp_path, small_molecules):
    from keras_spm.data.samples import SampleSpec

    spec = SampleSpec(("CO",), ("xyz",), augmentation=None)
    buffer = ReplayBuffer(tmp_path, ("CO",), ("xyz",))
    assert produce(buffer, small_molecules, spec, limit=2, progress=False) == 2
    first = read_json(tmp_path / "producers" / "0-of-1.json")
    assert produce(buffer, small_molecules, spec, limit=2, progress=False) == 2  # a new process would do the same
    state = read_json(tmp_path / "producers" / "0-of-1.json")
    assert (first["made"], state["made"], state["cursors"]["molecules"]["position"]) == (2, 4, 4)
    assert buffer.molecules_simulated() == 4
    names = {str(np.load(p)["name"]) for p in buffer.files(refresh=True)}
    assert len(names) == 4  # four different molecules, none repeated


def test_logs_are_written_whole(tmp_path):
    write_json(tmp_path / "s.json", {"a": 1})
    assert read_json(tmp_path / "s.json") == {"a": 1} and read_json(tmp_path / "absent.json") == {}
    append_csv(tmp_path / "log.csv", {"a": 1})
    append_csv(tmp_path / "log.csv", {"a": 2, "b": 3})
    assert read_csv(tmp_path / "log.csv") == [{"a": "1", "b": ""}, {"a": "2", "b": "3"}]
    assert not list(tmp_path.glob("*.tmp"))
