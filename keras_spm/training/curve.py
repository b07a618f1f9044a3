"""Where a campaign's learning curve stands: hours in the log, hours in the shipped file, and whether it is flat.

Issue #14 closes a model's campaign when its target is met, or when ``zoo/<name>/campaign.csv`` holds enough hours
(``DONE_WHEN_HOURS``) and the validation curve is flat over its last ``window`` hours. "Flat" is measured, not
eyeballed: the best validation score fell by less than ``FLAT_FRACTION`` over the window. Where the log has the
training loss (since 2026-12-08), the window's validation / training loss says what a flat curve asks for next: well
above 1, the model learns its replayed samples better than new molecules (more, or more varied, data); near 1, it
cannot fit even those better (a larger model, or a schedule).

Runs are chained by *ratios*: each run scores on the validation set it was started with (its ``start`` row scores
the weights it started from), so a run's progress is its best score over the score it had when the window (or the
run) began, and the window's improvement is one minus the product of those ratios. A run that shipped nothing and
a successor that restarted from older weights both count, which can only overstate the improvement, never hide it.
Only runs scored under one loss are chained (the ``loss`` column; blank is the model's own loss): a run that tried
another loss (``--es-scale``) measured its progress in other units, so the curve follows the loss of the shipped
weights and the other runs' hours are shown, not chained.

    python training/campaign_status.py             # every zoo model with a campaign log
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .runs import read_csv

DONE_WHEN_HOURS = {"xyz": 8.0, "es": 8.0, "dsh_heavy": 3.0, "dsh_6slice": 3.0, "es_6slice": 3.0}
FLAT_FRACTION = 0.02


@dataclass(frozen=True)
class Run:
    """One run of a campaign: its ``(wall hours, validation score)`` points in log order and what it shipped."""

    run_id: str
    start_sha: str
    points: tuple[tuple[float, float], ...]
    counts: tuple[tuple[float, float, float], ...]  # (wall hours, molecules simulated, samples trained) of each row
    promoted: tuple[tuple[float, str, float], ...]  # (wall hours, sha, score) of each promotion
    first_hours: float
    last_hours: float
    loss: str = ""  # the score's loss ("" the model's own; "es_scale=0.02" ...)

    def best_at(self, hours: float) -> float:
        """The lowest score of the points up to ``hours`` (the first point's score before it)."""
        seen = [s for h, s in self.points if h <= hours + 1e-9]
        return min(seen) if seen else self.points[0][1]

    def best_checkpoint_hours(self, score: float, until: float) -> float:
        """Wall hours of the evaluation that gave ``score`` (the promoted checkpoint) at or before ``until``."""
        near = [h for h, s in self.points if h <= until + 1e-9 and math.isclose(s, score, rel_tol=1e-3)]
        return near[-1] if near else until

    def totals_between(self, start: float, end: float) -> tuple[float, float, float]:
        """Wall hours, molecules simulated and samples trained from ``start`` to ``end`` (cumulative log columns)."""
        at = {h: (m, n) for h, m, n in self.counts}
        (m0, n0), (m1, n1) = at[min(at, key=lambda h: abs(h - start))], at[min(at, key=lambda h: abs(h - end))]
        return end - start, m1 - m0, n1 - n0


def _score(row: dict) -> float | None:
    value = row.get("score") or row.get("val_loss")
    return float(value) if value not in (None, "") else None


def runs_of(rows: list[dict]) -> list[Run]:
    """The log's runs in the order they started (a resumed run keeps its id and goes on)."""
    order: list[str] = []
    by_id: dict[str, list[dict]] = {}
    for row in rows:
        rid = row["run_id"]
        if rid not in by_id:
            order.append(rid)
            by_id[rid] = []
        by_id[rid].append(row)
    runs = []
    for rid in order:
        own = by_id[rid]
        points = tuple(
            (float(r["wall_hours"]), _score(r))
            for r in own
            if r["event"] in ("start", "eval") and _score(r) is not None
        )
        promoted = tuple(
            (float(r["wall_hours"]), r["promoted_sha"], _score(r) or math.nan) for r in own if r["event"] == "promote"
        )
        hours = [float(r["wall_hours"]) for r in own]
        starts = [r.get("start_sha", "") for r in own if r.get("start_sha")]
        counts = tuple(
            (float(r["wall_hours"]), float(r.get("molecules_simulated") or 0), float(r.get("samples_trained") or 0))
            for r in own
        )
        if points:
            loss = own[0].get("loss") or ""
            runs.append(Run(rid, starts[0] if starts else "", points, counts, promoted, min(hours), max(hours), loss))
    return runs


def curve_runs(runs: list[Run]) -> list[Run]:
    """The runs scored under the loss of the shipped weights (that of the last promotion; the model's own loss
    if nothing was promoted): the ones a learning curve can chain."""
    promoted = [(hours, run.loss) for run in runs for hours, _, _ in run.promoted]
    loss = max(promoted)[1] if promoted else ""
    return [run for run in runs if run.loss == loss]


def improvement_over(runs: list[Run], window: float) -> tuple[float, float]:
    """``(fractional fall of the best validation score over the last window hours, the window's start)``: the
    window ends at the last hour of :func:`curve_runs`."""
    runs = curve_runs(runs)
    end = max(r.last_hours for r in runs)
    start = max(0.0, end - window)
    ratio = 1.0
    for run in runs:
        if run.last_hours <= start:
            continue
        ratio *= run.best_at(run.last_hours) / run.best_at(max(start, run.first_hours))
    return 1.0 - ratio, start


def chained_curve(runs: list[Run]) -> tuple[np.ndarray, np.ndarray]:
    """``(wall hours, best score relative to the log's first)`` at every evaluation, runs chained by their ratios as
    in :func:`improvement_over`, so one curve spans validation sets of different sizes."""
    hours, level, carried = [], [], 1.0
    for run in curve_runs(runs):
        first = run.points[0][1]
        for h, _ in run.points:
            hours.append(h)
            level.append(carried * run.best_at(h) / first)
        carried *= run.best_at(run.last_hours) / first
    return np.array(hours), np.array(level)


def plot_status(zoo: Path, out: Path, window: float = 2.0, flat: float = FLAT_FRACTION) -> Path:
    """One panel per campaign log: the chained best validation score against hours, the last ``window`` h shaded
    (green when flat); the figure the done-when clause is read from."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = {name: rows for name, rows in campaign_logs(zoo).items() if runs_of(rows)}
    fig, axes = plt.subplots(1, len(logs), figsize=(3.3 * len(logs), 3.0), squeeze=False)
    for ax, (name, rows) in zip(axes[0], logs.items(), strict=True):
        s = curve_status(name, rows, window, flat)
        runs = runs_of(rows)
        hours, level = chained_curve(runs)
        ax.semilogy(hours, level, ".-", ms=3)
        chained = curve_runs(runs)
        others = [run for run in runs if run not in chained]
        for i, run in enumerate(others):
            ax.axvspan(run.first_hours, run.last_hours, color="0.6", alpha=0.3, label=None if i else "other loss")
        if others:
            ax.legend(fontsize=7)
        ax.axvspan(s.window_start, hours[-1], color="tab:green" if s.flat else "tab:orange", alpha=0.2)
        ax.set_title(f"{s.model}: {-s.improvement:+.1%} in {window:g} h", fontsize=9)
        ax.set_xlabel("training wall hours (log)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("best validation score / first")
    fig.suptitle(f"campaign curves: the last {window:g} h shaded (green: flat, best score down < {flat:.0%})")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return Path(out)


def shipped_totals(runs: list[Run]) -> tuple[float, float, float]:
    """Wall hours, molecules simulated and samples trained in the shipped weights: the last promotion's run up to
    its best checkpoint, then the run that shipped the file it started from, and so on (runs that shipped nothing
    are not in it)."""
    by_sha = {sha: (run, hours, score) for run in runs for hours, sha, score in run.promoted}
    last = [(hours, sha) for run in runs for hours, sha, _ in run.promoted]
    totals = np.zeros(3)
    sha, seen = (max(last)[1] if last else None), set()
    while sha in by_sha and sha not in seen:
        seen.add(sha)
        run, hours, score = by_sha[sha]
        totals += run.totals_between(run.first_hours, run.best_checkpoint_hours(score, hours))
        sha = run.start_sha
    return tuple(float(t) for t in totals)


def shipped_hours(runs: list[Run]) -> float:
    """Training wall hours in the shipped weights (:func:`shipped_totals`)."""
    return shipped_totals(runs)[0]


@dataclass(frozen=True)
class CurveStatus:
    model: str
    log_hours: float
    shipped_hours: float
    shipped_molecules: int
    shipped_samples: int
    window_start: float
    improvement: float
    flat: bool
    enough_hours: bool | None  # None: the issue sets no hours for this model
    gap: float | None = None  # validation / training loss over the window's evaluations (None: not logged)

    @property
    def done_when_met(self) -> bool:
        """Issue #14's clause without the targets: enough hours in the log and flat over the window."""
        return bool(self.enough_hours) and self.flat


def curve_status(model: str, rows: list[dict], window: float = 2.0, flat: float = FLAT_FRACTION) -> CurveStatus:
    """Where ``model``'s log stands (``rows``: its ``campaign.csv``)."""
    runs = runs_of(rows)
    if not runs:
        raise ValueError(f"{model}: the campaign log has no validation scores yet; run training/campaign.py first.")
    improvement, start = improvement_over(runs, window)
    log_hours = max(r.last_hours for r in runs)
    needed = DONE_WHEN_HOURS.get(model)
    hours, molecules, samples = shipped_totals(runs)
    chained = curve_runs(runs)
    chained_hours = max(r.last_hours for r in chained)
    ids = {r.run_id for r in chained}
    pairs = [
        (float(r["val_loss"]), float(r["train_loss"]))
        for r in rows
        if r["run_id"] in ids and r.get("train_loss") and r.get("val_loss") and float(r["wall_hours"]) >= start
    ]
    pairs = [(v, t) for v, t in pairs if math.isfinite(t)]
    return CurveStatus(
        model=model,
        log_hours=log_hours,
        shipped_hours=hours,
        shipped_molecules=int(molecules),
        shipped_samples=int(samples),
        window_start=start,
        improvement=improvement,
        flat=chained_hours >= window and improvement < flat,
        enough_hours=None if needed is None else log_hours >= needed,
        gap=float(np.mean([v for v, _ in pairs]) / np.mean([t for _, t in pairs])) if pairs else None,
    )


def campaign_logs(zoo: Path) -> dict[str, list[dict]]:
    """``{model: rows}`` of every non-empty ``zoo/<model>/campaign.csv``, by name."""
    logs = {log.parent.name: read_csv(log) for log in sorted(Path(zoo).glob("*/campaign.csv"))}
    return {name: rows for name, rows in logs.items() if rows}


def status_table(zoo: Path, window: float = 2.0, flat: float = FLAT_FRACTION) -> list[CurveStatus]:
    """:func:`curve_status` of every ``zoo/<name>/campaign.csv``."""
    return [curve_status(name, rows, window, flat) for name, rows in campaign_logs(zoo).items()]


def format_table(statuses: list[CurveStatus], window: float, flat: float) -> str:
    lines = [
        f"| model | hours in the log | in the shipped file: hours / molecules / samples | best score, last {window:g} h | flat (< {flat:.0%}) "
        "| hours asked | done-when (hours + flat) | val / train loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in statuses:
        asked = DONE_WHEN_HOURS.get(s.model)
        lines.append(
            f"| {s.model} | {s.log_hours:.2f} | {s.shipped_hours:.2f} / {s.shipped_molecules:,} / {s.shipped_samples:,} "
            f"| {-s.improvement:+.1%} "
            f"(from {s.window_start:.2f} h) | {'yes' if s.flat else 'no'} | {asked if asked else '-'} "
            f"| {'yes' if s.done_when_met else 'no' if asked else '-'} | {f'{s.gap:.2f}' if s.gap else '-'} |"
        )
    return "\n".join(lines)
