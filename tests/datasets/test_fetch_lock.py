"""Two processes that need MNIST at once: the second waits for the first's fetch and
reads its cache instead of downloading into the same files."""

import subprocess
import sys
from pathlib import Path

import torch

from dbn.datasets._loading import CACHE_NAME, EXPECTED_SHAPES, _fetch_lock, _write_cache

LOADER = """
import sys
import dbn
mnist = dbn.load_mnist("standard", cache_dir=sys.argv[1])
print(int(mnist["train"].y.sum()), flush=True)
"""


def _waiting_on_a_lock(pid: int) -> bool:
    """Whether ``pid`` is blocked on a file lock (Linux: /proc/locks lists waiters with
    ``->``)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and str(pid) in fields:
            return True
    return False


def test_a_second_loader_waits_for_the_first_fetch_and_reads_its_cache(tmp_path):
    raw = {name: torch.zeros(shape, dtype=torch.uint8) for name, shape in EXPECTED_SHAPES.items()}
    raw["train_labels"] = torch.arange(60000) % 10
    raw["test_labels"] = torch.arange(10000) % 10
    with _fetch_lock(tmp_path):  # a fetch in progress
        loader = subprocess.Popen(
            [sys.executable, "-c", LOADER, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while not _waiting_on_a_lock(loader.pid):  # the event: blocked on the lock
            assert loader.poll() is None, loader.communicate()
        _write_cache(tmp_path / CACHE_NAME, raw, "the first process")
    out, err = loader.communicate()
    assert loader.returncode == 0, err
    assert int(out) == int(raw["train_labels"].sum())
    assert "fetching" not in err  # it read the cache, downloaded nothing
