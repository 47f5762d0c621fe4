"""The fidelity study: the papers' fine-tuning protocols, select-then-refit, every init."""

import csv
import json

from helpers import load_script

from dbn.data import load_digits
from dbn.recipes import COMPARE_PRESETS, FINETUNE_RECIPES


def read_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_fidelity_study_selects_on_seed_0_then_refits_every_seed(tmp_path, trainings):
    compare = load_script("compare")
    argv = ["--preset", "fidelity-dropout2014", "--quick", "--no-progress", "--out", str(tmp_path)]
    compare.main(compare.get_args_parser().parse_args(argv))
    preset = COMPARE_PRESETS["fidelity-dropout2014-quick"]
    config = json.loads((tmp_path / "config.json").read_text())["config"]
    recipe = FINETUNE_RECIPES["dropout2014"]
    assert config["refit"] and config["finetune_recipe"] == "dropout2014"
    assert config["dropout"] == recipe["dropout"]
    assert config["input_dropout"] == recipe["input_dropout"]
    assert config["finetune"]["final_momentum"] == recipe["final_momentum"]
    assert config["finetune"]["epochs"] == preset["epochs"]

    splits = load_digits()
    n_train, n_valid = len(splits["train"].x), len(splits["valid"].x)
    grid, results = read_rows(tmp_path / "lr_grid.csv"), read_rows(tmp_path / "results.csv")
    selections = [t for t in trainings if t[:2] == (n_train, False)]
    refits = [t for t in trainings if t[:2] == (n_train + n_valid, True)]
    n_inits, n_lrs, n_seeds = len(preset["inits"]), len(preset["lr_grid"]), len(preset["seeds"])
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
