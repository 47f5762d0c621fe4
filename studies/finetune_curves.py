"""The training curves of fine-tuning run groups, mean over each group's seeds, as a PNG.

Each argument after the output path is a run name's prefix: the runs are the
directories ``PREFIX-s<seed>`` (each holding the ``config.json`` and ``metrics.jsonl``
of ``scripts/finetune.py``)::

    python -m studies.finetune_curves results/finetune/hinton2006-curves.png \\
        results/finetune/hinton2006-cg-e40 results/finetune/hinton2006-cg-he-relu

A line per prefix, named by its initialisation, activation and run name; the curves end
at the shortest seed's last epoch. Validation error is drawn beside the training loss
when the runs validated (not for ``--use-valid`` runs).
"""

import argparse
import json
from pathlib import Path

from dbn.cli.args import ArgumentParser
from studies.finetune_summary import runs_of
from studies.plots import plot_comparison


def read_finetune_run(run: Path) -> tuple[str, list[dict]]:
    """A run's ``INIT:ACTIVATION`` (the DBN named ``dbn-cd`` as in ``compare.py``'s
    figures) and its per-epoch metrics."""
    try:
        config = json.loads((run / "config.json").read_text())
        metrics = (run / "metrics.jsonl").read_text().splitlines()
        history = [json.loads(line) for line in metrics]
        init = "dbn-cd" if config["init"] == "dbn" else config["init"]
        return f"{init}:{config['activation']}", history
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(f"{run} is not a readable fine-tuning run: {error}") from None


def histories_of(prefix: str) -> tuple[str, list[list[dict]]]:
    """The group's label and each seed's per-epoch metrics."""
    specs, histories = zip(*(read_finetune_run(run) for run in runs_of(prefix)), strict=True)
    if len(set(specs)) != 1:
        raise SystemExit(f"the runs {prefix}-s<seed> differ in init or activation")
    seeds = f"{len(histories)} seed{'s' if len(histories) > 1 else ''}"
    return f"{specs[0]} {Path(prefix).name} ({seeds})", list(histories)


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the PNG to write")
    parser.add_argument(
        "prefixes", nargs="+", metavar="PREFIX", help="a run group: the runs PREFIX-s<seed>"
    )
    return parser


def main(args: argparse.Namespace) -> None:
    if len(set(args.prefixes)) != len(args.prefixes):
        raise SystemExit(f"a prefix is given twice: {args.prefixes}")
    groups = dict(histories_of(prefix) for prefix in args.prefixes)  # all read before writing
    plot_comparison(groups, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
