"""The fine-tuning curves: what is drawn, and the script that draws committed runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studies import plots

ROOT = Path(__file__).resolve().parents[2]


def history(epochs, validated):
    """A fine-tuning history whose loss halves an epoch."""
    rows = [{"epoch": e, "train_loss": 2.0**-e} for e in range(1, epochs + 1)]
    for row in rows if validated else []:
        row |= {"valid_error": 0.1 / row["epoch"], "valid_loss": 1.0 / row["epoch"]}
    return rows


@pytest.fixture
def drawn(monkeypatch):
    """Records, instead of saving, each figure's axes and their lines' colours."""
    figures = []

    def record(figure, axes, path, title=None):
        figures.append([[line.get_color() for line in axis.get_lines()] for axis in figure.axes])

    monkeypatch.setattr(plots, "_finish", record)
    return figures


def test_runs_without_validation_get_the_loss_panel_only(drawn, tmp_path):
    plots.plot_comparison({"dbn-cd:sigmoid a": [history(5, False)]}, tmp_path / "x.png")
    plots.plot_comparison({"dbn-cd:sigmoid a": [history(5, True)]}, tmp_path / "y.png")
    assert [len(axes) for axes in drawn] == [1, 2]


def test_several_runs_of_one_contender_get_their_own_colours(drawn, tmp_path):
    histories = {f"he_normal:relu run{i}": [history(4, True)] for i in range(3)}
    plots.plot_comparison(histories, tmp_path / "x.png")
    loss_colours, error_colours = drawn[0]
    assert len(set(loss_colours)) == 3 and loss_colours == error_colours


def write_run(directory, init, activation, epochs):
    directory.mkdir(parents=True)
    config = {"init": init, "activation": activation, "recipe": "hinton2006"}
    (directory / "config.json").write_text(json.dumps(config))
    lines = [json.dumps(row) for row in history(epochs, False)]
    (directory / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def run_curves(*args):
    return subprocess.run(
        [sys.executable, "-m", "studies.finetune_curves", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_curves_script_draws_each_group_of_seeds(tmp_path):
    for seed in range(2):
        write_run(tmp_path / f"dbn-s{seed}", "dbn", "sigmoid", 6 + seed)
    write_run(tmp_path / "he-s0", "he_normal", "relu", 6)
    done = run_curves(tmp_path / "out.png", tmp_path / "dbn", tmp_path / "he")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.png").stat().st_size > 0


def test_curves_script_refuses_a_group_that_mixes_contenders(tmp_path):
    write_run(tmp_path / "mixed-s0", "dbn", "sigmoid", 3)
    write_run(tmp_path / "mixed-s1", "he_normal", "relu", 3)
    done = run_curves(tmp_path / "out.png", tmp_path / "mixed")
    assert done.returncode != 0 and "differ in init or activation" in done.stderr
    assert not (tmp_path / "out.png").exists()


def test_curves_script_names_a_run_without_metrics(tmp_path):
    write_run(tmp_path / "dbn-s0", "dbn", "sigmoid", 3)
    (tmp_path / "dbn-s0" / "metrics.jsonl").unlink()
    done = run_curves(tmp_path / "out.png", tmp_path / "dbn")
    assert done.returncode != 0 and "dbn-s0 is not a readable fine-tuning run" in done.stderr
    assert not (tmp_path / "out.png").exists()


def test_redraw_draws_each_layer_of_a_pretraining_run_from_its_rows(tmp_path, monkeypatch):
    from studies import redraw

    run = tmp_path / "pretrain"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"script": "pretrain", "sizes": [64, 16, 8]}))
    rows = [
        {"layer": layer, "epoch": e, "recon_error": 10.0 / e} for layer in (1, 2) for e in (1, 2, 3)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    drawn = []
    monkeypatch.setattr(redraw, "plot_pretraining_curves", lambda h, path: drawn.append((h, path)))
    redraw.main(redraw.get_args_parser().parse_args([str(run)]))
    [(histories, path)] = drawn
    assert path == run / "curves.png"
    assert [[row["epoch"] for row in layer] for layer in histories] == [[1, 2, 3], [1, 2, 3]]
    (run / "config.json").write_text(json.dumps({"script": "finetune", "sizes": [64, 16]}))
    with pytest.raises(ValueError, match="not a pretraining run"):
        redraw.main(redraw.get_args_parser().parse_args([str(run)]))


def test_init_stats_panels_each_draw_a_different_statistic(monkeypatch, tmp_path):
    titles = []

    def record(figure, axes, path, title=None):
        titles.extend(axis.get_title() for axis in axes)
        # each panel's line: the values of its own statistic
        titles.extend(tuple(axis.get_lines()[0].get_ydata()) for axis in axes)

    monkeypatch.setattr(plots, "_finish", record)
    rows = [{"activation_mean": 0.5, "activation_std": 0.2, "unit_spread": 0.19, "grad_norm": 1.0}]
    plots.plot_init_stats({"he_normal:relu": rows}, tmp_path / "init_stats.png")
    names, values = titles[:3], titles[3:]
    assert len(set(names)) == 3 and len(set(values)) == 3, titles
    assert not any("std across" in name for name in names)  # nearly the spread's twin
