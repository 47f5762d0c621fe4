"""The documentation site builds offline with warnings as errors, its gallery executed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_build_with_warnings_as_errors(tmp_path):
    out = tmp_path / "html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "docs"),
            str(out),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        # no timeout: on a loaded machine the build is slow but correct, and CI's own
        # limit catches a hang
    )
    assert done.returncode == 0, done.stderr[-5000:]
    gallery = sorted(path.name for path in (out / "gallery").glob("plot_*.html"))
    assert len(gallery) >= 5, gallery
    assert (out / "api" / "generated" / "dbn.RBM.html").is_file()
    assert "--epochs" in (out / "cli" / "pretrain.html").read_text()
    for page in out.rglob("*.html"):
        assert "cdn." not in page.read_text(), f"{page} loads from a CDN"
