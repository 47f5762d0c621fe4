"""Redraw a committed pretraining run's curves.png from its metrics.jsonl.

With the plotting code of today (integer epoch ticks, plain log-axis labels)::

    python -m studies.redraw results/finetune/rbm-m-init/pretrain

The figure is data drawn again, not a new measurement: the rows are the run's own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dbn.cli import ArgumentParser, run_cli
from dbn.cli.pretrain import plot_pretraining_curves


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="pretraining run directories")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def layer_histories(run: Path) -> list[list[dict]]:
    """The run's epoch rows grouped by layer (``metrics.jsonl``, 1-based ``layer``)."""
    config = json.loads((run / "config.json").read_text())
    if config.get("script") != "pretrain":
        raise ValueError(f"{str(run)!r} is not a pretraining run")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    histories: list[list[dict]] = [[] for _ in range(len(config["sizes"]) - 1)]
    for row in rows:
        histories[row["layer"] - 1].append(row)
    return histories


def main(args: argparse.Namespace) -> None:
    every = {run: layer_histories(run) for run in args.runs}  # all read before any write
    for run, histories in every.items():
        plot_pretraining_curves(histories, run / "curves.png")
        print(f"wrote {run / 'curves.png'}")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
