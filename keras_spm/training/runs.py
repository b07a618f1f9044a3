"""Atomic writes for run folders: a file is either the old complete one or the new complete one, even after ``kill -9``.

Every write goes to a temporary file in the same folder and is moved over the target with ``os.replace`` (atomic on
POSIX), so a crash never leaves a half-written checkpoint, state or log behind.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON, atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def read_json(path: Path, default: dict | None = None) -> dict:
    """The JSON object in ``path``, or ``default`` (an empty dict) when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return dict(default or {})
    return json.loads(path.read_text())


def save_model_atomically(model, path: Path) -> None:
    """``model.save(path)`` (``model.save_weights`` for a ``.weights.h5`` path) through a temporary file beside it."""
    path = Path(path)
    if path.name.endswith(".weights.h5"):
        tmp = path.with_name(path.name[: -len(".weights.h5")] + ".tmp.weights.h5")
        model.save_weights(tmp)
    else:
        tmp = path.with_name(path.stem + ".tmp.keras")
        model.save(tmp)
    os.replace(tmp, path)


def read_csv(path: Path) -> list[dict]:
    """Rows of a CSV log as dicts (strings); an absent file has none."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_csv(path: Path, row: dict) -> None:
    """Append ``row`` to a CSV log, rewriting it atomically (new columns are added, old rows keep theirs blank)."""
    write_csv(path, read_csv(path) + [{k: ("" if v is None else v) for k, v in row.items()}])


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` as a CSV file, atomically; the columns are every key in order of first appearance."""
    path = Path(path)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
