import numpy as np
import pytest

from keras_spm.training.curve import (
    chained_curve,
    curve_status,
    format_table,
    plot_status,
    runs_of,
    shipped_hours,
    shipped_totals,
)


def row(run, event, hours, score="", start="", promoted=""):
    """A campaign.csv row; 100 molecules and 800 samples per logged hour."""
    return {
        "molecules_simulated": str(100 * hours),
        "samples_trained": str(800 * hours),
        "run_id": run,
        "event": event,
        "wall_hours": str(hours),
        "score": str(score),
        "start_sha": start,
        "promoted_sha": promoted,
    }


def log():
    """Run a from scratch (best at 1.0 h, promoted at 1.5 h); run b ships nothing; run c restarts from a's file on a
    new validation set, where a's weights score 2.0, and promotes its best at 3.5 h."""
    return [
        row("a", "start", 0.0),
        row("a", "eval", 0.5, 0.30),
        row("a", "eval", 1.0, 0.20),
        row("a", "eval", 1.5, 0.21),
        row("a", "promote", 1.5, 0.20, promoted="sha_a"),
        row("b", "start", 1.5, 0.20, start="sha_a"),
        row("b", "eval", 2.0, 0.22),
        row("c", "start", 2.0, 2.0, start="sha_a"),
        row("c", "eval", 2.5, 1.9),
        row("c", "eval", 3.0, 1.8),
        row("c", "eval", 3.5, 1.79),
        row("c", "eval", 4.0, 1.80),
        row("c", "promote", 4.0, 1.79, start="sha_a", promoted="sha_c"),
    ]


def test_shipped_hours_follow_the_promoted_files_up_to_their_best_checkpoints():
    runs = runs_of(log())
    assert [r.run_id for r in runs] == ["a", "b", "c"]
    # c: 2.0 -> 3.5 h, then a: 0.0 -> 1.0 h; b shipped nothing
    assert shipped_hours(runs) == pytest.approx(1.5 + 1.0)
    assert shipped_totals(runs) == pytest.approx((2.5, 250, 2000))


def test_the_window_chains_runs_by_the_ratio_of_their_own_scores():
    s = curve_status("dsh_6slice", log(), window=2.0)
    # window 2.0 -> 4.0 h: b is before it, c goes from 2.0 (its start) to 1.79
    assert s.window_start == pytest.approx(2.0)
    assert s.improvement == pytest.approx(1 - 1.79 / 2.0)
    assert not s.flat and s.enough_hours and not s.done_when_met
    # a window across runs: a from its best at 1.0 h (0.20) stays 0.20, b does not improve, c 2.0 -> 1.79
    wide = curve_status("dsh_6slice", log(), window=3.0)
    assert wide.improvement == pytest.approx(1 - (0.20 / 0.20) * (0.20 / 0.20) * (1.79 / 2.0))


def test_a_curve_that_stopped_falling_is_flat_and_meets_the_clause():
    rows = log() + [row("c", "eval", 5.0 + i / 2, 1.79 - 0.001 * i) for i in range(5)]
    s = curve_status("dsh_6slice", rows, window=2.0, flat=0.02)
    assert s.improvement < 0.02 and s.flat and s.done_when_met
    assert curve_status("edafm", rows).enough_hours is None  # the issue asks no hours of edafm
    assert "| dsh_6slice |" in format_table([s], 2.0, 0.02)


def test_a_log_without_scores_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="run training/campaign.py"):
        curve_status("xyz", [row("a", "start", 0.0)])


def test_the_chained_curve_carries_each_run_s_ratio_into_the_next_and_is_drawn(tmp_path):
    hours, level = chained_curve(runs_of(log()))
    assert hours[-1] == 4.0 and level[0] == 1.0
    # a: 0.30 -> 0.20 (2/3); b: no better than its start; c: 2.0 -> 1.79
    assert level[-1] == pytest.approx((0.20 / 0.30) * 1.0 * (1.79 / 2.0))
    assert all(np.diff(level) <= 1e-12)  # best-so-far never rises
    (tmp_path / "m").mkdir()
    header = ",".join(log()[0])
    lines = [header] + [",".join(str(v) for v in r.values()) for r in log()]
    (tmp_path / "m" / "campaign.csv").write_text("\n".join(lines) + "\n")
    out = plot_status(tmp_path, tmp_path / "status.png")
    assert out.stat().st_size > 0


def test_a_run_under_another_loss_is_not_chained_into_the_curve(tmp_path):
    """Run d tries another loss after c and falls 10 % in its own units; the shipped weights are c's, so the curve
    and the window stay on c's loss and end where c ended."""
    excursion = [
        {**row("d", "start", 4.0, 5.0, start="sha_c"), "loss": "es_scale=0.02"},
        {**row("d", "eval", 5.0, 4.5), "loss": "es_scale=0.02"},
    ]
    rows = log() + excursion
    s = curve_status("dsh_6slice", rows, window=2.0)
    assert s.log_hours == 5.0  # every hour is in the log ...
    assert s.window_start == pytest.approx(2.0)  # ... but the window is the chained runs' last 2 h
    assert s.improvement == pytest.approx(1 - 1.79 / 2.0)
    hours, _ = chained_curve(runs_of(rows))
    assert hours[-1] == 4.0
    (tmp_path / "m").mkdir()
    keys = list(rows[-1])
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    (tmp_path / "m" / "campaign.csv").write_text("\n".join(lines) + "\n")
    assert plot_status(tmp_path, tmp_path / "status.png").stat().st_size > 0
    # had d been promoted, its loss would be the shipped one, and the curve would be d alone
    promoted = rows + [{**row("d", "promote", 5.0, 4.5, start="sha_c", promoted="sha_d"), "loss": "es_scale=0.02"}]
    assert curve_status("dsh_6slice", promoted, window=2.0).improvement == pytest.approx(0.1)


def test_the_window_s_validation_over_training_loss_is_reported_where_logged():
    assert curve_status("dsh_6slice", log()).gap is None  # an old log: no training loss
    rows = [
        {**r, "val_loss": "0.3", "train_loss": "0.2" if float(r["wall_hours"]) >= 2.0 else "0.1"}
        for r in log()
        if r["event"] != "promote"
    ]
    rows[-1]["train_loss"] = "nan"  # an evaluation that trained no batch is left out
    s = curve_status("dsh_6slice", rows, window=2.0)
    assert s.gap == pytest.approx(1.5)  # only the window's evaluations (from 2.0 h): 0.3 / 0.2
    assert "| 1.50 |" in format_table([s], 2.0, 0.02)
