"""The label-budget study: its subsets, its budget rule and `compare.py --preset labels`."""

import csv
import math

import pytest
import torch
from helpers import load_script
from sklearn.linear_model import LogisticRegression

from dbn._utils.rng import new_generator
from dbn.datasets._loading import load_digits
from dbn.models.mlp import build_mlp
from dbn.training.finetuning import FinetuneConfig, finetune
from studies.labels import (
    balanced_subset,
    budget_epochs,
    fit_logistic_regression,
    validation_interval,
)
from studies.presets import COMPARE_PRESETS


def _labels(counts):
    """A shuffled label vector with ``counts[c]`` examples of class ``c``."""
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    return y[torch.randperm(len(y), generator=new_generator(0))]


def test_balanced_subset_takes_equal_shares_without_repeats():
    y = _labels([50, 80, 30, 60])
    index = balanced_subset(y, 40, new_generator(1))
    assert len(set(index.tolist())) == 40
    assert torch.bincount(y[index]).tolist() == [10, 10, 10, 10]
    # the remainder goes to distinct classes: no class gets more than one extra
    counts = torch.bincount(y[balanced_subset(y, 42, new_generator(1))])
    assert sorted(counts.tolist()) == [10, 10, 11, 11]


def test_balanced_subset_is_the_same_for_a_seed_and_differs_between_seeds():
    y = _labels([100] * 10)
    first = balanced_subset(y, 100, new_generator(3))
    assert torch.equal(first, balanced_subset(y, 100, new_generator(3)))
    assert not torch.equal(first, balanced_subset(y, 100, new_generator(4)))


@pytest.mark.parametrize(
    "n, message",
    [(0, "n must be an integer >= 1"), (500, "cannot draw 500"), (80, "class 2 has 5 examples")],
)
def test_balanced_subset_refuses_what_it_cannot_draw(n, message):
    with pytest.raises(ValueError, match=message):
        balanced_subset(_labels([100, 100, 5, 100]), n, new_generator(0))


def test_budget_grows_for_small_label_sets_and_validation_follows_examples():
    assert budget_epochs(100, epochs=10, min_examples=100_000) == 1000
    assert budget_epochs(3000, epochs=10, min_examples=100_000) == 34
    assert budget_epochs(50_000, epochs=10, min_examples=100_000) == 10
    assert validation_interval(100, 5000) == 50
    assert validation_interval(50_000, 5000) == 1
    assert validation_interval(100, 0) == 1


def test_validate_every_validates_on_its_epochs_and_the_last():
    digits = load_digits()
    model = build_mlp([64, 16], 10, generator=new_generator(0))
    config = FinetuneConfig(epochs=7, validate_every=3, lr=0.1)
    train, valid = digits["train"], digits["valid"]
    result = finetune(model, (train.x, train.y), (valid.x, valid.y), config, progress=False)
    validated = [row["epoch"] for row in result.history if "valid_error" in row]
    assert validated == [3, 6, 7]
    assert result.best_epoch in validated


def test_logistic_regression_baseline_matches_scikit_learn_directly():
    digits = load_digits()
    train, valid, test = digits["train"], digits["valid"], digits["test"]
    fitted = fit_logistic_regression(train, valid, test, C=0.1)
    reference = LogisticRegression(C=0.1, max_iter=300).fit(train.x.numpy(), train.y.numpy())
    expected = (reference.predict(test.x.numpy()) != test.y.numpy()).mean()
    assert fitted["test_error"] == pytest.approx(expected)
    assert 0 < fitted["test_loss"] < math.log(10)
    assert fitted["converged"]


def _run(tmp_path, *extra):
    compare = load_script("compare")
    argv = ["--preset", "labels", "--quick", "--out", str(tmp_path), "--no-progress", *extra]
    return compare.main(compare.get_args_parser().parse_args(argv))


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels")
    return path, _run(path)


def test_quick_label_study_writes_every_output_with_its_seeds(quick_study):
    path, table = quick_study
    preset = COMPARE_PRESETS["labels-quick"]
    for name in ("results.csv", "lr_grid.csv", "table.md", "table.csv", "labels.png"):
        assert (path / name).is_file(), name
    n_train = len(load_digits()["train"])
    budgets = {n or n_train for n in preset["label_sizes"]}
    rows = _rows(path / "results.csv")
    for spec in preset["inits"]:
        init, _, activation = spec.partition(":")
        for n in budgets:
            mine = [
                r
                for r in rows
                if (r["init"], r["activation"], int(r["labels"])) == (init, activation, n)
            ]
            # one tuned setting per contender and budget, every seed of the preset
            assert sorted(int(r["seed"]) for r in mine) == preset["seeds"], (spec, n)
            assert len({r["lr"] for r in mine}) == 1
    grid = _rows(path / "lr_grid.csv")
    assert {float(r["lr"]) for r in grid if r["spec"] == "logreg:dbn-cd"} == {0.01, 0.1, 1, 10}
    text = (path / "table.md").read_text()
    assert "| contender | 50 labels | 200 labels |" in text
    assert all(row["seeds"] == 2 for row in table)


def test_a_resumed_label_study_reruns_only_the_missing_runs_and_gets_their_results(
    quick_study, tmp_path
):
    path, _ = quick_study
    rows = _rows(path / "results.csv")
    for name in ("config.json", "lr_grid.csv", "dbn-cd.pt", "histories.jsonl"):
        (tmp_path / name).write_bytes((path / name).read_bytes())
    kept = rows[: len(rows) // 2]
    with open(tmp_path / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    _run(tmp_path, "--resume")
    resumed = _rows(tmp_path / "results.csv")
    assert resumed[: len(kept)] == kept  # the done runs are not run again

    def key(row):
        return tuple(row[k] for k in ("init", "activation", "labels", "lr", "seed"))

    assert {key(r): r["test_error"] for r in resumed} == {key(r): r["test_error"] for r in rows}


def test_the_label_study_refuses_a_budget_above_its_training_images(tmp_path):
    with pytest.raises(ValueError, match="label budget 999999 exceeds the 1257 training"):
        _run(tmp_path, "--labels", "999999")
    assert not any(tmp_path.iterdir())


def test_quick_exists_only_for_presets_with_a_quick_variant(tmp_path):
    compare = load_script("compare")
    argv = ["--preset", "digits", "--quick", "--out", str(tmp_path)]
    with pytest.raises(ValueError, match="preset 'digits' has no quick variant"):
        compare.main(compare.get_args_parser().parse_args(argv))
