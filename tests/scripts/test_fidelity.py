"""The fidelity study: the papers' fine-tuning protocols, select-then-refit, every init."""

import csv
import json

import pytest
from helpers import load_script

from dbn.datasets._loading import load_digits
from dbn.recipes import split_finetune_recipe
from studies.presets import COMPARE_PRESETS


def read_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("recipe_name", ["dropout2014", "hinton2006"])
def test_fidelity_study_selects_on_seed_0_then_refits_every_seed(recipe_name, tmp_path, trainings):
    compare = load_script("compare")
    argv = [f"--preset=fidelity-{recipe_name}", "--quick", "--no-progress", "--out", str(tmp_path)]
    compare.main(compare.get_args_parser().parse_args(argv))
    preset = COMPARE_PRESETS[f"fidelity-{recipe_name}-quick"]
    config = json.loads((tmp_path / "config.json").read_text())["config"]
    assert config["refit"] and config["finetune_recipe"] == recipe_name
    layers, values = split_finetune_recipe(recipe_name)
    for key, value in layers.items():
        assert config[key] == value, key
    # every recipe value reaches the runs, but those the preset sets (its grid, the lr)
    overridden = {"epochs", "lr"} if preset.get("lr_grid") else {"epochs"}
    for key, value in values.items():
        assert key in overridden or config["finetune"][key] == value, key
    assert config["finetune"]["epochs"] == preset["epochs"]

    splits = load_digits()
    n_train, n_valid = len(splits["train"].x), len(splits["valid"].x)
    grid, results = read_rows(tmp_path / "lr_grid.csv"), read_rows(tmp_path / "results.csv")
    selections = [t for t in trainings if t[:2] == (n_train, False)]
    refits = [t for t in trainings if t[:2] == (n_train + n_valid, True)]
    n_lrs = len(preset.get("lr_grid") or [None])  # no grid: the recipe's lr alone
    n_inits, n_seeds = len(preset["inits"]), len(preset["seeds"])
    assert len(selections) == n_inits * n_lrs == len(grid)  # no selection beyond the grid
    assert len(refits) == n_inits * n_seeds == len(results)
    assert len(trainings) == len(selections) + len(refits)
    for spec in preset["inits"]:
        init, _, activation = spec.partition(":")
        scored = [row for row in grid if row["spec"] == spec]
        chosen = min(scored, key=lambda row: float(row["best_valid_error"]))
        runs = [row for row in results if (row["init"], row["activation"]) == (init, activation)]
        assert [int(row["seed"]) for row in runs] == preset["seeds"]
        for row in runs:
            assert float(row["lr"]) == float(chosen["lr"])
            assert int(row["best_epoch"]) == int(chosen["best_epoch"])
        # each seed's refit ran for the epochs its selection chose
        assert sum(t[2] == int(chosen["best_epoch"]) for t in refits) >= n_seeds
    assert "select, then refit" in (tmp_path / "table.md").read_text()
