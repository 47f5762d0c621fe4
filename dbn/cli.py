"""What the scripts share: one-line errors instead of tracebacks, a clean Ctrl-C, and a
clean exit from torchrun's process group."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable

from dbn.checkpoint import CheckpointError
from dbn.data import DataUnavailableError
from dbn.distributed import teardown
from dbn.train import AUTOCAST_DTYPES, TrainingDivergedError

__all__ = ["add_autocast_argument", "add_common_arguments", "given_options", "run_cli"]

EXPECTED_ERRORS = (
    ValueError,
    CheckpointError,
    DataUnavailableError,
    TrainingDivergedError,
    OSError,
)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")


def add_autocast_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--autocast`` with the mixed-precision dtypes that ``TrainConfig`` accepts."""
    names = [name for name in AUTOCAST_DTYPES if name is not None]
    parser.add_argument("--autocast", choices=names, help=help)


def given_options(args: argparse.Namespace, names: Iterable[str]) -> dict:
    """The options among ``names`` that the user gave (those not None), by name: the
    overrides a script applies to a recipe's or a config's values."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def run_cli(main: Callable[[argparse.Namespace], object], parser: argparse.ArgumentParser) -> None:
    """Parse arguments and run ``main``; expected failures print one line and exit 2."""
    args = parser.parse_args()
    finished = False
    try:
        main(args)
        finished = True
    except EXPECTED_ERRORS as error:
        if args.debug:
            raise
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(
            f"{parser.prog}: interrupted; the last checkpoint is kept (use --resume)",
            file=sys.stderr,
        )
        sys.exit(130)
    finally:
        teardown(wait_for_all=finished)
