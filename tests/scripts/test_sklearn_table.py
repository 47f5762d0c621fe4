"""studies/sklearn_table.py: every dataset, contender and fold scored once, resumable,
and the committed table is what its rows give."""

import csv

import pytest
from helpers import load_script
from sklearn.datasets import load_digits

from dbn.sklearn import DBNClassifier


def test_each_fold_of_each_contender_is_scored_once_and_resume_adds_nothing(tmp_path, monkeypatch):
    table = load_script("sklearn_table")
    small = lambda seed: tuple(part[:150] for part in load_digits(return_X_y=True))  # noqa: E731
    monkeypatch.setattr(table, "DATASETS", {"digits": small})
    monkeypatch.setitem(
        table.CONTENDERS,
        "DBNClassifier()",
        lambda n: DBNClassifier((8,), pretrain_epochs=1, epochs=2, random_state=0),
    )
    parser = table.get_args_parser()
    rows = table.main(parser.parse_args(["--out", str(tmp_path)]))
    assert sorted((r["contender"], r["fold"]) for r in rows) == sorted(
        (name, fold) for name in table.CONTENDERS for fold in range(3)
    )
    assert all(0 <= r["accuracy"] <= 1 and r["seconds"] > 0 for r in rows)
    with pytest.raises(ValueError, match="already holds a run; continue it with --resume"):
        table.main(parser.parse_args(["--out", str(tmp_path)]))
    before = (tmp_path / "results.csv").read_bytes()
    again = table.main(parser.parse_args(["--out", str(tmp_path), "--resume"]))
    assert (tmp_path / "results.csv").read_bytes() == before and len(again) == 6
    with (tmp_path / "results.csv").open(newline="") as file:
        assert [row["contender"] for row in csv.DictReader(file)] == [r["contender"] for r in rows]


def test_a_cut_results_file_is_refused_on_resume_and_left_as_it_was(tmp_path, capsys, monkeypatch):
    from helpers import run_script, snapshot

    table = load_script("sklearn_table")
    monkeypatch.setattr(table, "DATASETS", {})  # a run with nothing to score: its files only
    table.main(table.get_args_parser().parse_args(["--out", str(tmp_path)]))
    (tmp_path / "results.csv").write_text("dataset,contender,fold,accuracy,seconds\ndigits,x\n")
    before = snapshot(tmp_path)
    status, err = run_script(
        "sklearn_table", ["--out", str(tmp_path), "--resume"], monkeypatch, capsys
    )
    assert status == 2 and "cut or edited" in err and len(err.splitlines()) == 1
    assert snapshot(tmp_path) == before
