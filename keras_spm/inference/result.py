"""What :func:`keras_spm.predict` returns: the arrays, what was done to get them, a figure and a ``save``."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import matplotlib.figure


@dataclass
class Prediction:
    """One prediction of a zoo model on one input.

    ``arrays`` holds the model's input as it saw it (``input`` or ``input_<tip>``), its outputs after
    post-processing and, for AFM stacks, ``valid`` (True where the input was measured, False where it was padded).
    ``notes`` says in words what was done (resampling, padding, levelling, thresholds). ``table`` is one row per
    particle for the segmentation model. ``meta`` has the pixel size and units the figure needs.
    """

    model: str
    source: str
    arrays: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    figure: str = "afm_maps"
    meta: dict = field(default_factory=dict)
    table: list[dict] | None = None

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    @property
    def maps(self) -> dict[str, np.ndarray]:
        """The outputs alone: ``arrays`` without the inputs and the ``valid`` mask."""
        return {k: v for k, v in self.arrays.items() if k != "valid" and k != "input" and not k.startswith("input_")}

    @property
    def stem(self) -> str:
        """File name stem of the outputs: the input's name without extension."""
        return Path(str(self.source).rstrip("/")).stem or "input"

    def plot(self, path: str | Path | None = None) -> matplotlib.figure.Figure:
        """The preset's figure (a matplotlib ``Figure``); saved to ``path`` when given."""
        from .figures import FIGURES

        fig = FIGURES[self.figure](self)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=110)
        return fig

    def save(self, directory: str | Path, stem: str | None = None) -> list[Path]:
        """Write ``<stem>_prediction.npz`` (all arrays), ``<stem>_prediction.png`` and, with a table, ``.csv``."""
        import matplotlib.pyplot as plt

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        stem = stem or self.stem
        written = [out / f"{stem}_prediction.npz"]
        np.savez_compressed(written[0], **self.arrays, notes=np.array(self.notes))
        fig = self.plot(out / f"{stem}_prediction.png")
        plt.close(fig)
        written.append(out / f"{stem}_prediction.png")
        if self.table is not None:
            path = out / f"{stem}_particles.csv"
            columns = list(self.table[0]) if self.table else self.meta.get("columns", ["label"])  # none found: header
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(self.table)
            written.append(path)
            from .figures import size_histogram

            fig = size_histogram(self)
            fig.savefig(out / f"{stem}_sizes.png", dpi=110)
            plt.close(fig)
            written.append(out / f"{stem}_sizes.png")
        return written
