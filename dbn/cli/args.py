"""What the scripts share: one-line errors instead of tracebacks, a clean Ctrl-C, and a
clean exit from torchrun's process group."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Iterable, Sequence

import torch

from dbn.datasets import DataUnavailableError
from dbn.io import CheckpointError
from dbn.training import TrainingDivergedError
from dbn.training.distributed import teardown
from dbn.training.rbm_trainer import AUTOCAST_DTYPES
from dbn.utils import MATMUL_CHOICES, RNG_STREAMS

__all__ = [
    "EXECUTION_OPTIONS",
    "ArgumentParser",
    "add_autocast_argument",
    "add_common_arguments",
    "add_execution_arguments",
    "add_matmul_argument",
    "add_tensorboard_argument",
    "check_input_size",
    "check_resume_options",
    "given_options",
    "positive_int",
    "run_cli",
    "seed_value",
]

EXPECTED_ERRORS = (
    ValueError,
    CheckpointError,
    DataUnavailableError,
    TrainingDivergedError,
    OSError,
)


# numpy's range; leaves room for the seed strides of dbn._utils.rng
MAX_SEED = 2**32 - 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line on stderr (``prog: error: ...``,
    exit status 2), like every other expected failure of the scripts, and whose
    namespace says which options the user typed (``typed``, their names): a resumed
    run compares those with the run's own (:class:`dbn.cli.runs.RunDirectory`).

    Examples
    --------
    >>> from dbn.cli import ArgumentParser
    >>> parser = ArgumentParser(prog="my-program")
    >>> _ = parser.add_argument("--epochs", type=int, default=10)
    >>> _ = parser.add_argument("--lr", type=float, default=0.1)
    >>> args = parser.parse_args(["--epochs", "5"])
    >>> args.epochs, args.lr, args.typed
    (5, 0.1, ('epochs',))
    """

    def error(self, message: str):
        """Exit with status 2 and one line, ``prog: error: message (see --help)``.

        Parameters
        ----------
        message : str
        """
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """argparse's parse, with ``typed`` on the namespace: the options given.

        Parameters
        ----------
        args : list of str, optional
            The command line (``sys.argv[1:]`` by default).
        namespace : argparse.Namespace, optional

        Returns
        -------
        (argparse.Namespace, list of str)
            The options, and the arguments left unparsed.
        """
        parsed, extras = super().parse_known_args(args, namespace)
        if namespace is None:
            # parsed again with every default suppressed, the namespace holds only the
            # options on the command line
            defaults = [(action, action.default) for action in self._actions]
            try:
                for action, _ in defaults:
                    action.default = argparse.SUPPRESS
                given = super().parse_known_args(args, argparse.Namespace())[0]
            finally:
                for action, default in defaults:
                    action.default = default
            parsed.typed = tuple(sorted(vars(given)))
        return parsed, extras


def seed_value(text: str) -> int:
    """An argparse type: an integer seed that a ``torch.Generator`` accepts."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: not an integer") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seed must lie in 0..2**32-1, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=seed_value, help="random seed (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")


def add_tensorboard_argument(parser: argparse.ArgumentParser) -> None:
    """``--tensorboard``: event files in the run directory (:class:`dbn.cli.runs.RunDirectory`)."""
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard event files into the run directory "
        "(needs the tensorboard extra)",
    )


def add_autocast_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--autocast`` with the mixed-precision dtypes that ``TrainConfig`` accepts."""
    names = [name for name in AUTOCAST_DTYPES if name is not None]
    parser.add_argument("--autocast", choices=names, help=help)


# TrainConfig's options of how a step runs on the machine at hand, each a flag of
# every script that trains RBMs (add_execution_arguments)
EXECUTION_OPTIONS = ("rng", "matmul")


def add_execution_arguments(parser: argparse.ArgumentParser, stage: str = "") -> None:
    """``--rng`` and ``--matmul``: the sampling stream and the products' route of
    ``TrainConfig`` (``--rng torch --matmul mm`` reproduce the runs made before the
    choices existed)."""
    where = f" of {stage}" if stage else ""
    parser.add_argument(
        "--rng",
        choices=RNG_STREAMS,
        help=f"the sampling stream{where}: pcg64 (numpy's, faster on the CPU), torch (the "
        "stream of the shipped models and every run before the choice) or auto (pcg64 on "
        "the CPU, torch elsewhere; the default)",
    )
    add_matmul_argument(parser, stage)


def add_matmul_argument(parser: argparse.ArgumentParser, stage: str = "") -> None:
    """``--matmul``: the products' route of ``TrainConfig`` or ``FinetuneConfig``."""
    where = f" of {stage}" if stage else ""
    parser.add_argument(
        "--matmul",
        choices=MATMUL_CHOICES,
        help=f"the route of the matrix products{where} on the CPU: mm (MKL, every run "
        "before the choice), onednn, or auto (each product timed once, oneDNN taken where "
        "it is clearly faster; the default). The routes that ran are in metrics.jsonl",
    )


def given_options(args: argparse.Namespace, names: Iterable[str]) -> dict:
    """The options among ``names`` that the user gave (those not None), by name: the
    overrides a script applies to a recipe's or a config's values."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def check_input_size(sizes: list[int], dataset: str, n_features: int) -> None:
    """Refuse layer sizes whose input layer does not match the data's features."""
    if sizes[0] != n_features:
        raise ValueError(f"sizes start with {sizes[0]} but {dataset} has {n_features} features")


def check_resume_options(saved: dict, typed: dict, out: str) -> None:
    """Refuse ``--resume`` with options that differ from the saved run's.

    Parameters
    ----------
    saved : dict
        The saved run's resolved values, by option name.
    typed : dict
        The options the user gave on this command line, by name.
    out : str
        The run directory, for the message.
    """
    differing = [
        f"--{name.replace('_', '-')} {value!r} (the run has {saved.get(name)!r})"
        for name, value in typed.items()
        if saved.get(name) != value
    ]
    if differing:
        raise ValueError(
            f"--resume continues the run in {out!r} with its own options, but these differ: "
            f"{', '.join(differing)}; drop them, or start a new run with another --out"
        )


def run_cli(
    main: Callable[[argparse.Namespace], object],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
) -> None:
    """Parse ``argv`` (the command line's by default) and run ``main`` on it.

    An expected failure (``ValueError``, a bad checkpoint, missing data, a diverged
    run, an ``OSError``, running out of memory) prints one line, ``prog: error: ...``,
    on stderr and exits with status 2; ``--debug`` (which ``parser`` must define)
    shows the traceback instead. Ctrl-C exits with status 130 and says whether the run
    can be resumed.

    Examples
    --------
    >>> from dbn.cli import ArgumentParser, run_cli
    >>> parser = ArgumentParser(prog="square")
    >>> _ = parser.add_argument("n", type=int)
    >>> _ = parser.add_argument("--debug", action="store_true")
    >>> def main(args):
    ...     if args.n < 0:
    ...         raise ValueError(f"n must be at least 0, got {args.n}")
    ...     print(args.n**2)
    >>> run_cli(main, parser, ["3"])
    9
    >>> run_cli(main, parser, ["-1"])  # stderr: square: error: n must be at least 0, got -1
    Traceback (most recent call last):
        ...
    SystemExit: 2
    """
    args = parser.parse_args(argv)
    finished = False
    try:
        main(args)
        finished = True
    except EXPECTED_ERRORS as error:
        if args.debug:
            raise
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except RuntimeError as error:
        # CUDA raises OutOfMemoryError; the CPU allocator a RuntimeError saying so
        out_of_memory = isinstance(error, torch.OutOfMemoryError) or (
            "can't allocate memory" in str(error)
        )
        if args.debug or not out_of_memory:
            raise
        reason = str(error).strip().splitlines()[0]
        print(
            f"{parser.prog}: error: out of memory: the model or the data is too large for "
            f"the device ({reason}); use smaller layers or another --device",
            file=sys.stderr,
        )
        sys.exit(2)
    except KeyboardInterrupt:
        resumable = "resume" in vars(args)
        kept = "the last checkpoint is kept (use --resume)" if resumable else "it has no --resume"
        print(f"{parser.prog}: interrupted; {kept}", file=sys.stderr)
        sys.exit(130)
    finally:
        # main's trainers may hold DistributedDataParallel wrappers in reference cycles,
        # which only the cyclic collector frees: collect them now, while the process
        # group they belong to still exists (freed after it, a wrapper aborts its rank)
        gc.collect()
        teardown(wait_for_all=finished)
