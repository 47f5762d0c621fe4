"""The seeds of fine-tuning runs, side by side, as Markdown table rows.

A group of runs is named by a prefix: the runs are the directories ``PREFIX-s<seed>``
(each holding the ``result.json`` and ``metrics.jsonl`` of ``scripts/finetune.py``).
``studies/results.py`` writes the tables. A row per prefix gives each seed's test error
(%), their mean and sample standard deviation, each seed's epoch count (the selected one
for a ``--refit`` run), the last epoch's training loss of each seed, and each run's wall
time in minutes. A prefix without a finished run is an error, not a shorter row.
"""

import json
import statistics
from pathlib import Path

TABLE_HEADER = [
    "| runs | seeds | test error % | mean ± std | epochs | last training loss | minutes |",
    "|---|---|---|---|---|---|---|",
]


def seed_of(run: Path) -> int:
    """The seed in a run directory's name ``PREFIX-s<seed>``."""
    return int(run.name.rsplit("-s", 1)[1])


def runs_of(prefix: str) -> list[Path]:
    """The run directories ``PREFIX-s<seed>``, in seed order."""
    prefix_path = Path(prefix)
    runs = [
        path
        for path in prefix_path.parent.glob(f"{prefix_path.name}-s*")
        if path.name.rsplit("-s", 1)[1].isdigit()
    ]
    if not runs:
        raise SystemExit(f"no run directories {prefix}-s<seed>")
    return sorted(runs, key=seed_of)


def row(prefix: str) -> str:
    """A table row for the runs ``PREFIX-s<seed>``."""
    errors, epochs, losses, minutes, seeds = [], [], [], [], []
    for run in runs_of(prefix):
        if not (run / "result.json").is_file():
            raise SystemExit(f"{run} has no result.json: the run has not finished")
        result = json.loads((run / "result.json").read_text())
        last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
        seeds.append(str(seed_of(run)))
        errors.append(100 * result["test_error"])
        epochs.append(str(result["epochs_trained"]))
        losses.append(f"{last['train_loss']:.2g}")
        minutes.append(f"{result['seconds'] / 60:.0f}")
    spread = f" ± {statistics.stdev(errors):.2f}" if len(errors) > 1 else ""
    return (
        f"| {Path(prefix).name} | {', '.join(seeds)} | "
        f"{', '.join(f'{error:.2f}' for error in errors)} | "
        f"**{statistics.mean(errors):.2f}{spread}** ({statistics.mean(errors):.3f}) | "
        f"{', '.join(epochs)} | "
        f"{', '.join(losses)} | {', '.join(minutes)} |"
    )
