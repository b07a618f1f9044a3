"""training/fit.py's custom distributed loop: two workers on loopback, and the gradient arithmetic.

Keras 3's ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585), so
fit.py trains distributed runs with its own loop; these tests pin down that it trains, that all
workers end with the same weights (also after a resume), and that gradients are averaged once.
"""

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIT = [sys.executable, str(ROOT / "training" / "fit.py")]
TINY = ["--molecules", "2", "--val-molecules", "3", "--batch-size", "2", "--workers", "1"]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


PORT_TAKEN = ("Could not start gRPC server", "Address already in use", "Failed to bind")


def run_workers(args: list[str], logs: Path, n: int = 2, timeout: float = 300) -> list[str]:
    """Run fit.py as ``n`` workers of one TF_CONFIG cluster on loopback; returns their output.

    Output goes to files (a full pipe would block a worker, and the others with it in the next
    all-reduce). Once a worker fails the rest get 20 s. Free ports are only free when picked: if
    another process took one before TensorFlow bound it, the run is repeated once on new ports.
    """
    logs.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(n)]}
        files = [logs / f"{len(list(logs.iterdir()))}-worker-{task}.log" for task in range(n)]
        procs = []
        for task, path in enumerate(files):
            config = {"cluster": cluster, "task": {"type": "worker", "index": task}}
            with open(path, "w") as f:
                env = {**os.environ, "TF_CONFIG": json.dumps(config)}
                procs.append(subprocess.Popen(FIT + args, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        try:
            while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
                if any(p.poll() not in (None, 0) for p in procs):
                    deadline = min(deadline, time.monotonic() + 20)
                time.sleep(0.5)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        outputs = [path.read_text() for path in files]
        if all(p.returncode == 0 for p in procs):
            return outputs
        if attempt == 0 and any(marker in out for out in outputs for marker in PORT_TAKEN):
            continue
        report = "\n".join(
            f"--- worker {task}: exit code {p.returncode}\n{out[-4000:]}"
            for task, (p, out) in enumerate(zip(procs, outputs, strict=True))
        )
        raise AssertionError(f"fit.py {' '.join(args)} failed on loopback:\n{report}")


def history(out: Path) -> list[dict]:
    import csv

    with open(out / "history.csv") as f:
        return list(csv.DictReader(f))


def load(path: Path):
    import keras

    import keras_spm.models.afm  # noqa: F401  (registers the serializable layers)

    return keras.models.load_model(path)


def test_two_workers_train_resume_and_agree(tmp_path):
    out = tmp_path / "mw"
    args = ["--model", "dsh", *TINY, "--steps-per-epoch", "2", "--distribute", "multi-worker", "--out", str(out)]
    run_workers([*args, "--epochs", "1"], tmp_path / "logs")
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 1
    rows = history(out)
    assert [int(r["epoch"]) for r in rows] == [1]
    assert math.isfinite(float(rows[0]["loss"])) and math.isfinite(float(rows[0]["val_loss"]))
    assert {"disks_loss", "val_height_loss"} <= set(rows[0])  # per-output losses, as model.fit logs them
    # the other worker wrote only its own copy of the weights, in its own folder
    assert sorted(p.name for p in out.iterdir()) == [
        ".worker-1",
        "best.keras",
        "history.csv",
        "last.keras",
        "state.json",
        "tensorboard",
    ]
    assert [p.name for p in (out / ".worker-1").iterdir()] == ["last.keras"]
    after_one = load(out / "last.keras").get_weights()

    # Resume: the chief loads last.keras and sends weights, optimizer state and epoch to worker 1,
    # which starts from a fresh model; without that their weights would differ afterwards.
    outputs = run_workers([*args, "--epochs", "2"], tmp_path / "logs")
    assert f"resuming dsh from {out / 'last.keras'} after epoch 1" in outputs[0]
    assert [int(r["epoch"]) for r in history(out)] == [1, 2]
    chief, other = load(out / "last.keras"), load(out / ".worker-1" / "last.keras")
    assert int(chief.optimizer.iterations.numpy()) == 4 == int(other.optimizer.iterations.numpy())
    for a, b in zip(chief.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(chief.get_weights(), after_one, strict=True))
    for a, b in zip(chief.optimizer.variables, other.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


GRADIENT_CHECK = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    sys.path.insert(0, sys.argv[1])
    from fit import fit_distributed

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5)).astype("float32")
    y = {"a": rng.normal(size=(6, 2)).astype("float32"), "b": rng.normal(size=(6, 1)).astype("float32")}

    def build():
        inp = keras.Input((5,))
        hidden = keras.layers.Dense(4, activation="tanh")(inp)
        outputs = {"a": keras.layers.Dense(2, name="a")(hidden), "b": keras.layers.Dense(1, name="b")(hidden)}
        model = keras.Model(inp, outputs)
        model.compile(
            optimizer=keras.optimizers.SGD(0.5), loss={"a": "mse", "b": "mse"}, loss_weights={"a": 1.0, "b": 3.0}
        )
        return model

    keras.utils.set_random_seed(1)
    reference = build()
    start = [w.copy() for w in reference.get_weights()]
    with tf.GradientTape() as tape:  # one plain SGD step on all 6 samples
        loss = reference.compute_loss(x=x, y=y, y_pred=reference(x, training=True), training=True)
    grads = tape.gradient(loss, reference.trainable_weights)
    reference.optimizer.apply_gradients(zip(grads, reference.trainable_weights))
    val_loss = reference.compute_loss(x=x, y=y, y_pred=reference(x, training=False), training=False)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = build()
        model.set_weights(start)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(3).repeat()  # 3 samples per replica
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(3).map(lambda a, b: (a, b, 1.0)).repeat()
    with strategy.scope():
        model._symbolic_build(data_batch=train.element_spec)
    logs = {}
    log = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, epoch_logs: logs.update(epoch_logs))
    fit_distributed(model, strategy, train, val, epochs=1, initial_epoch=0, steps=1, val_steps=1, callbacks=[log],
                    verbose=0)
    error = max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), reference.get_weights()))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(start, reference.get_weights()))
    print(f"RESULT {error} {moved} {logs['loss']} {float(loss)} {logs['val_loss']} {float(val_loss)}")
    """
)


def test_replicas_average_gradients_exactly_once():
    """Two replicas on 3 samples each make the same SGD step, and log the same losses, as one device on all 6.

    Keras scales each replica's mean loss by 1/replicas and the optimizer sums gradients over
    replicas; scaling again, or all-reducing twice, would halve or double the step. (Adam hides
    such factors, hence SGD.)
    """
    result = subprocess.run(
        [sys.executable, "-c", GRADIENT_CHECK, str(ROOT / "training")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    error, moved, loss, expected_loss, val_loss, expected_val_loss = map(
        float, result.stdout.split("RESULT")[1].split()
    )
    assert moved > 1e-2  # the step is large enough to tell factors of two apart
    assert error < 1e-5 * max(1.0, moved), (error, moved)
    # the logged losses are those of all 6 samples: before the step (training), after it (validation)
    assert abs(loss - expected_loss) < 1e-5 * expected_loss and abs(val_loss - expected_val_loss) < 1e-5 * val_loss
