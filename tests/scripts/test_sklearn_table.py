"""studies/sklearn_table.py: every dataset, contender and fold scored once, resumable,
and the committed table is what its rows give."""

import csv

import pytest
from helpers import load_script
from sklearn.datasets import load_digits

from dbn.sklearn import DBNClassifier


def test_each_fold_of_each_contender_is_scored_once_and_resume_adds_nothing(tmp_path, monkeypatch):
    table = load_script("sklearn_table")
    small = lambda: tuple(part[:150] for part in load_digits(return_X_y=True))  # noqa: E731
    monkeypatch.setattr(table, "DATASETS", {"digits": small})
    monkeypatch.setitem(
        table.CONTENDERS,
        "DBNClassifier()",
        lambda: DBNClassifier((8,), pretrain_epochs=1, epochs=2, random_state=0),
    )
    parser = table.get_args_parser()
    rows = table.main(parser.parse_args(["--out", str(tmp_path)]))
    assert sorted((r["contender"], r["fold"]) for r in rows) == sorted(
        (name, fold) for name in table.CONTENDERS for fold in range(3)
    )
    assert all(0 <= r["accuracy"] <= 1 and r["seconds"] > 0 for r in rows)
    with pytest.raises(ValueError, match="exists: --resume continues it"):
        table.main(parser.parse_args(["--out", str(tmp_path)]))
    again = table.main(parser.parse_args(["--out", str(tmp_path), "--resume"]))
    with (tmp_path / "results.csv").open(newline="") as file:
        assert len(list(csv.DictReader(file))) == len(again) == 6
