"""studies/first_hour.py --select: every candidate scored on every fold of the training
part alone, one row each, and a resumed run adds nothing; a cut results file is refused
and changes nothing."""

import csv

from helpers import load_script, run_script, snapshot


def test_select_scores_each_candidate_on_each_fold_and_resumes(tmp_path, monkeypatch):
    script = load_script("first_hour")
    cheap = {"hidden_layer_sizes": (8,), "pretrain_epochs": 1, "epochs": 2}
    monkeypatch.setattr(script, "CANDIDATES", {"a": cheap, "b": {**cheap, "learning_rate": 0.5}})
    parser = script.get_args_parser()
    script.main(parser.parse_args(["--select", "--seeds", "100", "--out", str(tmp_path)]))
    out = tmp_path / "selection.csv"
    rows = list(csv.DictReader(out.open()))
    assert sorted((row["candidate"], row["fold"]) for row in rows) == [
        (name, str(fold)) for name in "ab" for fold in range(script.FOLDS)
    ]
    assert all(0 <= float(row["valid_error"]) < 0.9 for row in rows)
    before = snapshot(tmp_path)
    argv = ["--select", "--seeds", "100", "--out", str(tmp_path), "--resume"]
    script.main(parser.parse_args(argv))
    assert snapshot(tmp_path) == before


def test_a_cut_results_file_is_refused_and_a_bad_seed_writes_nothing(tmp_path, monkeypatch, capsys):
    script = load_script("first_hour")
    monkeypatch.setattr(script, "CANDIDATES", {})  # a run with nothing to score: its files
    parser = script.get_args_parser()
    script.main(parser.parse_args(["--select", "--seeds", "100", "--out", str(tmp_path)]))
    (tmp_path / "selection.csv").write_text("candidate,seed,fold,valid_error\na,100,0\n")
    before = snapshot(tmp_path)
    argv = ["--select", "--seeds", "100", "--out", str(tmp_path), "--resume"]
    status, err = run_script("first_hour", argv, monkeypatch, capsys)
    assert status == 2 and "cut or edited" in err and len(err.splitlines()) == 1
    status, err = run_script(
        "first_hour", ["--seeds", "-1", "--out", str(tmp_path)], monkeypatch, capsys
    )
    assert status == 2 and "seed must lie in" in err
    assert snapshot(tmp_path) == before
