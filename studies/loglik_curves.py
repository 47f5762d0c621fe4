"""Held-out log-likelihood curves of several `loglik.py --eval-every` runs, in one plot.

python -m studies.loglik_curves runs/curve-* --out results/loglik/curves.png
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen before pyplot loads)

from dbn.cli.args import ArgumentParser, run_cli  # noqa: E402

STYLES = ["-", "--", "-.", ":"]
MARKERS = "osD^v<>"


def read_loglik_run(path: Path) -> tuple[str, list[dict]]:
    """The run's label (its method, and its learning rate and epochs where the run
    directory keeps its ``config.json``) and its curve rows (epoch, held-out log-likelihood)."""
    curve, result, config = path / "curve.csv", path / "result.json", path / "config.json"
    if not curve.is_file() or not result.is_file():
        raise ValueError(f"{str(path)!r} holds no finished `loglik.py --eval-every` run")
    with open(curve, newline="") as handle:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    label = json.loads(result.read_text())["method"]
    if config.is_file():
        train = json.loads(config.read_text())["train"]
        label += f", lr {train['lr']:g}, {train['epochs']} epochs"
    return label, rows


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories of loglik.py")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> None:
    curves = [read_loglik_run(path) for path in args.runs]  # all read before anything is written
    figure, axis = plt.subplots(figsize=(8, 5))
    for index, (label, rows) in enumerate(curves):
        axis.plot(
            [row["epoch"] for row in rows],
            [row["held_out_log_likelihood"] for row in rows],
            linestyle=STYLES[index % len(STYLES)],
            marker=MARKERS[index % len(MARKERS)],
            color=f"C{index % 10}",
            label=label,
        )
    axis.set(
        xlabel="epoch",
        ylabel="held-out mean log-likelihood (nats, AIS)",
        title="RBM-500 on binarised MNIST: likelihood during training",
    )
    axis.grid(alpha=0.3)
    axis.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out, dpi=110, bbox_inches="tight")
    plt.close(figure)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
