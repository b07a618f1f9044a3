"""Sharded offline training data: TFRecord files with a JSON sidecar each.

Generating samples is the slow part of training, so it can be split into independent
shards (``python -m keras_spm.data.generate ... --shard K/N``) that a cluster's batch
system runs on many machines. A shard is ``<stem>.tfrecord`` plus ``<stem>.json``
(count, byte size, tips, descriptors, shapes, simulation settings). Both are written to
temporary names and renamed at the end, so an interrupted job leaves nothing behind.

Shards hold raw (unaugmented) samples; :func:`shard_dataset` streams them back as the
same ``(X, Y)`` batches as :func:`keras_spm.data.afm_dataset`, augmenting on the fly.
Truncated, corrupted or mismatched shards raise :class:`ShardError` naming the file;
samples are never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .augment import AUGMENTATIONS
from .pipeline import sample_seed
from .samples import SampleSpec

FORMAT = "keras_spm-afm-shard/1"


class ShardError(RuntimeError):
    """A shard file is missing, truncated, corrupted or of another shape."""


def shard_stem(set_name: str, split: str, index: int, count: int) -> str:
    return f"{set_name}-{split}-{index:05d}-of-{count:05d}"


def _example(xs: dict, ys: dict, name: str):
    import tensorflow as tf

    feature = {"name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()]))}
    for prefix, arrays in (("x", xs), ("y", ys)):
        for key, arr in arrays.items():
            data = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
            feature[f"{prefix}/{key}"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_shard(
    path_stem: str | Path, samples: Iterable[tuple[dict, dict, str]], spec: SampleSpec, extra: dict | None = None
) -> dict:
    """Write ``(xs, ys, name)`` samples to ``<path_stem>.tfrecord`` + ``.json`` atomically; return the metadata."""
    import tensorflow as tf

    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    record, meta_path = stem.with_suffix(".tfrecord"), stem.with_suffix(".json")
    tmp_record, tmp_meta = Path(str(record) + ".tmp"), Path(str(meta_path) + ".tmp")
    xs_shapes, ys_shapes = spec.shapes()
    count = 0
    try:
        with tf.io.TFRecordWriter(str(tmp_record)) as writer:
            for xs, ys, name in samples:
                for key, shape in {**xs_shapes, **ys_shapes}.items():
                    arr = xs.get(key) if key in xs_shapes else ys.get(key)
                    if arr is None or tuple(arr.shape) != tuple(shape):
                        raise ShardError(
                            f"sample '{name}': '{key}' has shape {None if arr is None else arr.shape}, "
                            f"expected {shape}."
                        )
                writer.write(_example(xs, ys, name))
                count += 1
        meta = {
            "format": FORMAT,
            "count": count,
            "bytes": tmp_record.stat().st_size,
            "sha256": file_sha256(tmp_record),
            "tips": list(spec.tips),
            "descriptors": list(spec.descriptors),
            "x_shapes": {k: list(v) for k, v in xs_shapes.items()},
            "y_shapes": {k: list(v) for k, v in ys_shapes.items()},
            "settings": asdict(spec.settings),
            **(extra or {}),
        }
        tmp_meta.write_text(json.dumps(meta, indent=1))
        os.replace(tmp_record, record)
        os.replace(tmp_meta, meta_path)
    finally:
        for tmp in (tmp_record, tmp_meta):
            tmp.unlink(missing_ok=True)
    return meta


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def find_shards(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The ``.tfrecord`` files named by a directory, a file or a list of them."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(p.glob("*.tfrecord"))
        elif p.suffix == ".tfrecord" and p.exists():
            found.append(p)
        else:
            raise ShardError(f"no shard at '{p}': give a directory of .tfrecord shards or .tfrecord files.")
    if not found:
        raise ShardError(f"no .tfrecord shards in {', '.join(map(str, paths))}.")
    return found


def read_metadata(record: Path, verify: bool = False) -> dict:
    """Load and check a shard's sidecar: byte size always (truncation), sha256 with ``verify`` (corruption)."""
    meta_path = record.with_suffix(".json")
    if not meta_path.exists():
        raise ShardError(f"shard '{record}' has no metadata file '{meta_path.name}' (incomplete generation?).")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise ShardError(f"metadata '{meta_path}' is not valid JSON: {err}.") from None
    if meta.get("format") != FORMAT:
        raise ShardError(f"'{meta_path}' is not a keras_spm shard (format {meta.get('format')!r}, expected {FORMAT}).")
    size = record.stat().st_size
    if size != meta["bytes"]:
        raise ShardError(
            f"shard '{record}' is {size} bytes but was written with {meta['bytes']}: it is truncated "
            "or was modified; regenerate it."
        )
    if verify and file_sha256(record) != meta["sha256"]:
        raise ShardError(
            f"shard '{record}' is corrupted (its sha256 differs from the one in '{meta_path.name}'); regenerate it."
        )
    return meta


class ShardStream:
    """Seeded epochs over shards: shard order and a shuffle buffer from the seed, augmentation per sample."""

    def __init__(self, records: list[Path], spec: SampleSpec, seed: int, shuffle_buffer: int):
        self.records, self.spec, self.seed, self.shuffle_buffer = records, spec, seed, shuffle_buffer
        self.epoch = 0
        self.vary_epochs = True

    def _read(self, record: Path, meta: dict):
        import tensorflow as tf

        n = 0
        try:
            for raw in tf.data.TFRecordDataset(str(record)).as_numpy_iterator():
                example = tf.train.Example.FromString(raw).features.feature
                xs = {
                    t: np.frombuffer(example[f"x/{t}"].bytes_list.value[0], np.float32).reshape(meta["x_shapes"][t])
                    for t in self.spec.tips
                }
                ys = {
                    d: np.frombuffer(example[f"y/{d}"].bytes_list.value[0], np.float32).reshape(meta["y_shapes"][d])
                    for d in self.spec.descriptors
                }
                n += 1
                yield xs, ys
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError, ValueError, KeyError) as err:
            raise ShardError(f"shard '{record}' is corrupted at record {n}: {str(err).splitlines()[0]}") from None
        if n != meta["count"]:
            raise ShardError(f"shard '{record}' holds {n} samples but its metadata says {meta['count']}.")

    def __call__(self):
        epoch = self.epoch
        self.epoch += self.vary_epochs
        rng = np.random.default_rng([self.seed, epoch])
        buffer, index = [], 0

        def emit(xs, ys):
            nonlocal index
            if self.spec.augmentation is not None:
                r = np.random.default_rng(sample_seed(self.seed, epoch, index))
                augment = AUGMENTATIONS[self.spec.augmentation]
                xs = {t: augment(x, r) for t, x in xs.items()}
            index += 1
            return tuple(xs[t] for t in self.spec.tips) + tuple(ys[d] for d in self.spec.descriptors)

        order = rng.permutation(len(self.records))
        for i in order:
            record = self.records[i]
            for sample in self._read(record, read_metadata(record)):
                buffer.append(sample)
                if len(buffer) >= max(1, self.shuffle_buffer):
                    yield emit(*buffer.pop(rng.integers(len(buffer))))
        while buffer:
            yield emit(*buffer.pop(rng.integers(len(buffer))))


def shard_dataset(
    paths: str | Path | Sequence[str | Path],
    batch_size: int = 32,
    seed: int = 0,
    augmentation: str | None = "asd-afm",
    tips: Sequence[str] | None = None,
    descriptors: Sequence[str] | None = None,
    shuffle_buffer: int = 256,
    drop_remainder: bool = False,
    verify: bool = True,
    vary_epochs: bool = True,
):
    """Stream shards as ``(X, Y)`` batches, the same structure as :func:`keras_spm.data.afm_dataset`.

    ``tips`` / ``descriptors`` select a subset of what the shards hold (default: all of it).
    ``verify`` checks every shard's sha256 up front (about 1 s per GB), so corruption is
    reported before training starts rather than mid-epoch. ``vary_epochs=False`` repeats the
    same order and augmentation every pass (validation data). ``augmentation`` names a recipe of
    :data:`keras_spm.data.augment.AUGMENTATIONS` (``None``: the samples as stored).
    """
    from .pipeline import to_dataset

    records = find_shards(paths)
    metas = [read_metadata(r, verify) for r in records]
    first = metas[0]
    for record, meta in zip(records, metas, strict=True):
        for key in ("x_shapes", "y_shapes"):
            if meta[key] != first[key]:
                raise ShardError(
                    f"shard '{record}' has {key} {meta[key]} but '{records[0]}' has {first[key]}: "
                    "shards of different shapes cannot be mixed."
                )
    tips = tuple(tips or first["tips"])
    descriptors = tuple(first["descriptors"] if descriptors is None else descriptors)
    missing = [n for n in tips if n not in first["tips"]] + [d for d in descriptors if d not in first["descriptors"]]
    if missing:
        raise ShardError(
            f"shards in '{records[0].parent}' hold tips {first['tips']} and descriptors "
            f"{first['descriptors']}, not {missing}."
        )
    from ..sim.afm import SimulationSettings

    stored = dict(first["settings"])
    if "labels_follow_tilt" in stored:  # shards written before the setting was named label_frame
        stored["label_frame"] = "image" if stored.pop("labels_follow_tilt") else "nominal"
    settings = SimulationSettings(
        **{
            k: tuple(map(tuple, v)) if k == "scan_window" else (tuple(v) if isinstance(v, list) else v)
            for k, v in stored.items()
        }
    )
    spec = SampleSpec(tips, descriptors, settings, augmentation=augmentation)
    stream = ShardStream(records, spec, seed, shuffle_buffer)
    stream.vary_epochs = vary_epochs
    ds = to_dataset(stream, spec, batch_size, drop_remainder)
    ds.num_samples = sum(m["count"] for m in metas)
    ds.stream = stream
    return ds
