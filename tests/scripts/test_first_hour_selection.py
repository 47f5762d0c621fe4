"""scripts/first_hour.py --select: every candidate scored on every fold of the training
part alone, one row each, and a second call resumes instead of repeating."""

import csv

from helpers import load_script
from sklearn.datasets import load_digits


def test_select_scores_each_candidate_on_each_fold_and_resumes(tmp_path, monkeypatch):
    script = load_script("first_hour")
    cheap = {"hidden_layer_sizes": (8,), "pretrain_epochs": 1, "epochs": 2}
    monkeypatch.setattr(script, "CANDIDATES", {"a": cheap, "b": {**cheap, "learning_rate": 0.5}})
    x, y = load_digits(return_X_y=True)
    out = tmp_path / "selection.csv"
    script.select(x / 16, y, [100], out)
    rows = list(csv.DictReader(out.open()))
    assert sorted((row["candidate"], row["fold"]) for row in rows) == [
        (name, str(fold)) for name in "ab" for fold in range(script.FOLDS)
    ]
    assert all(0 <= float(row["valid_error"]) < 0.9 for row in rows)
    before = out.read_text()
    script.select(x / 16, y, [100], out)
    assert out.read_text() == before
