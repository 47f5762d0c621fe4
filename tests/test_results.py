"""Every generated results table, and the README's headline, match the committed data."""

from pathlib import Path

import pytest

from studies import results

ROOT = Path(__file__).resolve().parents[1]


def test_every_generated_page_is_what_the_data_gives():
    stale = [
        str(path.relative_to(ROOT))
        for path, text in results.rendered().items()
        if path.read_text() != text
    ]
    assert stale == [], f"run `make results`: {stale} differ from results/"


def test_a_changed_figure_makes_the_check_fail(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    start = text.index(results.markers(results.HEADLINE)[0])
    row = text.index("| MNIST test error %, 60,000 labels", start)
    readme.write_text(text[:row] + text[row:].replace("1.", "9.", 1))
    monkeypatch.setattr(results, "README", readme)
    assert results.main(["--check"]) == 1


def test_the_headline_markers_are_required(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("# no table here\n")
    monkeypatch.setattr(results, "README", readme)
    with pytest.raises(SystemExit, match="headline markers"):
        results.rendered()


def test_a_diverged_seed_is_counted_not_hidden():
    assert results._seeds_cell([10.0, float("nan"), 12.0]) == "11.00 ± 1.41 (2 seeds; 1 diverged)"
    assert results._seeds_cell([float("nan")]) == "all 1 diverged"
