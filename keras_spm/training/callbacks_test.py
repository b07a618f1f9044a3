"""The shared run-folder callbacks on a tiny model: files, best choice, history rewrite on resume, time limit."""

import numpy as np
import pytest

from keras_spm.training.callbacks import cosine_lr, cosine_lr_callback, epoch_checkpoint, time_limit, write_history
from keras_spm.training.runs import read_csv, read_json


def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], "float32")


def test_epoch_checkpoint_writes_the_run_folder_and_keeps_the_best(tmp_path):
    x, y = data()
    state = {}
    history = tiny_model().fit(
        x, y, validation_data=(x[:8], y[:8]), epochs=3, verbose=0, callbacks=[epoch_checkpoint(tmp_path, state)]
    )
    val = history.history["val_loss"]
    saved = read_json(tmp_path / "state.json")
    assert saved["epoch"] == 3 and saved["monitor"] == "val_loss"
    assert saved["best"] == pytest.approx(min(val)) and saved["best_epoch"] == int(np.argmin(val)) + 1
    assert (tmp_path / "last.keras").exists() and (tmp_path / "best.keras").exists()
    rows = read_csv(tmp_path / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["val_loss"]) for r in rows] == pytest.approx(val)


def test_custom_save_validate_and_monitor(tmp_path):
    x, y = data()
    saved = []
    calls = iter([0.5, 0.7, 0.1])

    def save(model, out, kind):
        saved.append(kind)

    state = {}
    checkpoint = epoch_checkpoint(tmp_path, state, monitor="score", save=save, validate=lambda: {"score": next(calls)})
    tiny_model().fit(x, y, epochs=3, verbose=0, callbacks=[checkpoint])
    assert saved == ["last", "best", "last", "last", "best"]
    assert state["best"] == pytest.approx(0.1) and state["best_epoch"] == 3 and state["monitor"] == "score"


def test_non_chief_writes_nothing(tmp_path):
    x, y = data()
    tiny_model().fit(x, y, epochs=1, verbose=0, callbacks=[epoch_checkpoint(tmp_path, {}, chief=False)])
    assert list(tmp_path.iterdir()) == []


def test_history_drops_rows_a_killed_run_left_after_the_resumed_epoch(tmp_path):
    path = tmp_path / "history.csv"
    for epoch in (1, 2, 3):
        write_history(path, epoch, {"epoch": epoch, "loss": 1.0 / epoch})
    write_history(path, 2, {"epoch": 2, "loss": 0.4, "val_loss": 0.5})  # resumed after epoch 1
    rows = read_csv(path)
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[1]["val_loss"] == "0.5" and rows[0]["val_loss"] == ""


def test_time_limit_stops_after_the_epoch_that_passes_it(tmp_path):
    x, y = data()
    state = {}
    history = tiny_model().fit(x, y, epochs=5, verbose=0, callbacks=[time_limit(0.0, state)])
    assert len(history.history["loss"]) == 1 and state["stopped"]
    history = tiny_model().fit(x, y, epochs=2, verbose=0, callbacks=[time_limit(None, state={})])
    assert len(history.history["loss"]) == 2


def test_cosine_callback_sets_the_rate_from_the_epoch_index():
    x, y = data()
    model = tiny_model()
    model.fit(x, y, epochs=3, initial_epoch=2, verbose=0, callbacks=[cosine_lr_callback(1e-2, 3)])
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(cosine_lr(2, 3, 1e-2), rel=1e-5)
