"""studies/first_hour.py --select: every candidate scored on every fold of the training
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


def test_a_cut_results_file_is_refused_and_a_bad_seed_writes_nothing(tmp_path, monkeypatch, capsys):
    import pytest
    from helpers import run_script

    script = load_script("first_hour")
    out = tmp_path / "selection.csv"
    out.write_text("candidate,seed,fold,valid_error\na,100,0\n")  # cut mid-row
    before = out.read_bytes()
    with pytest.raises(ValueError, match="is not a results file of this program"):
        script.select(None, None, [100], out)
    status, err = run_script(
        "first_hour", ["--seeds", "-1", "--out", str(out)], monkeypatch, capsys
    )
    assert status == 2 and "seed must lie in" in err
    assert out.read_bytes() == before
