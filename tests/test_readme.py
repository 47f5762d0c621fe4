"""The README: short, its tour runs as written, its headline table matches results/."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def tour() -> str:
    """The README's tour: its only Python code block."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, f"expected one Python block in README.md, found {len(blocks)}"
    return blocks[0]


def test_the_readme_is_at_most_12_kb():
    assert README.stat().st_size <= 12 * 1024


def test_the_tour_runs_as_written_from_a_fresh_folder(tmp_path):
    code = tour()
    assert len(code.strip().splitlines()) <= 32
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert [line.split(":")[0] for line in printed] == [
        "test log-likelihood",
        "DBN test error",
        "He/ReLU test error",
    ]
    nats = float(re.search(r"(-?\d+\.\d+) nats", printed[0]).group(1))
    assert -64 * 0.7 < nats < 0  # better than 0.7 nat a pixel; a log-probability is negative
    for line in printed[1:]:
        assert float(line.rsplit(" ", 1)[1].rstrip("%")) < 10  # the digits are easy
    assert (tmp_path / "my-dbn.safetensors").is_file()


def test_the_readme_imports_no_private_module():
    private = re.findall(r"(?:from|import) dbn\S*\._\w+", README.read_text())
    assert private == []
