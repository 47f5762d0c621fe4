"""The shipped models by name, in the manner of torchvision's ``weights=``.

``dbn.load("mnist-784-500-500-2000")`` loads a shipped model by its name: the file is
looked for in the directory ``root`` names, else in ``$DBN_WEIGHTS``, else in the
``pretrained/`` directory of the clone this package runs from, and its SHA-256 is
checked against the table below before anything is read. Each file carries its model
card (what made it, the data it saw, its figures) as ``model.card``;
``pretrained/README.md`` has the long cards.

Examples
--------
>>> import dbn.weights
>>> dbn.weights.WEIGHTS["mnist-784-500-500-2000"].summary
'DBN 784-500-500-2000, hinton2006 recipe, pretrained on all 60,000 MNIST images'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dbn.io import CheckpointError, sha256_file

__all__ = ["WEIGHTS", "Weights", "resolve", "weights_path"]

# Where a clone keeps the shipped files: next to the package.
CLONE_DIRECTORY = Path(__file__).resolve().parent.parent / "pretrained"
ENVIRONMENT_VARIABLE = "DBN_WEIGHTS"


@dataclass(frozen=True)
class Weights:
    """One shipped file: its name, SHA-256 and what it holds."""

    name: str
    sha256: str
    summary: str

    @property
    def filename(self) -> str:
        return f"{self.name}.safetensors"


WEIGHTS: dict[str, Weights] = {
    entry.name: entry
    for entry in (
        Weights(
            "mnist-784-500-500-2000",
            "5fd8331674404073998ee70c8e9f9c98baecd79dcb4d5382c6f11a1caf719e94",
            "DBN 784-500-500-2000, hinton2006 recipe, pretrained on all 60,000 MNIST images",
        ),
        Weights(
            "mnist-dbn-hinton2006-classifier",
            "e861b6d2ca515080d9e9867f15dfdc29b481ac3c4ae114d32cd84013a9e1f00e",
            "784-500-500-2000-10 classifier fine-tuned from the hinton2006 DBN",
        ),
        Weights(
            "mnist-dbn-dropout2014-classifier",
            "3b58b3ad5629b12e275d9160f6f5774f06b0bed25bba7e930e5060af89335e9c",
            "DBN-initialised classifier fine-tuned with dropout (Srivastava et al. 2014)",
        ),
        Weights(
            "mnist-rbm-500-pcd1-2000-lr001",
            "b17cf0221977f11604ab90bfcb1dfbe52e798aff96e9d1ba7264ecd5a17e1f83",
            "RBM-500 on binarised MNIST, PCD-1 for 2,000 epochs: the best held-out likelihood",
        ),
        Weights(
            "mnist-rbm-500-pcd1-1000-lr001-60k",
            "d9aa55fd437431ef3f32049786a7c0f562765c2bf526b17a7d3a30e9890ad6ef",
            "RBM-500 on all 60,000 binarised MNIST images, PCD-1 for 1,000 epochs",
        ),
        Weights(
            "mnist-rbm-500-cd1to25",
            "12fd082053519a3673f91744dae77a34ad2921e9294c5be860545a052def957b",
            "RBM-500 on binarised MNIST, CD with k growing from 1 to 25",
        ),
        Weights(
            "mnist-dbn-updown",
            "2eb79132a8b3e935290c83d29a859f45e4afe9569cec303e49b96d03e50d49ff",
            "generative DBN 784-500-500-2000 with labels, up-down fine-tuned (Hinton et al. 2006)",
        ),
        Weights(
            "mnist-dbm-784-500-1000",
            "b52f48aa3ab7888ec40fa35ded6d79da7ea1e6a45c6b96cebcf5283d9159732a",
            "Deep Boltzmann Machine 784-500-1000 (Salakhutdinov & Hinton 2009)",
        ),
        Weights(
            "mnist-dbm-784-500-1000-classifier",
            "8bf7a4cb5e4f38f74ee362c327aea76d3197eb884dd4496e8339a44c29c4707b",
            "classifier fine-tuned from the DBM 784-500-1000 with mean-field features",
        ),
    )
}


def weights_path(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The verified file of the shipped model ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`WEIGHTS`.
    root : path, optional
        The directory to look in; by default ``$DBN_WEIGHTS``, else the clone's
        ``pretrained/``.

    Raises
    ------
    dbn.io.CheckpointError
        For an unknown name, a file found nowhere (naming every place looked) or a
        file whose SHA-256 is not the table's.

    Examples
    --------
    >>> import dbn.weights
    >>> try:
    ...     dbn.weights.weights_path("mnist-rbm-1000")
    ... except dbn.io.CheckpointError as error:
    ...     print(str(error)[:46])
    no shipped model is named 'mnist-rbm-1000'; th
    """
    entry = WEIGHTS.get(name)
    if entry is None:
        raise CheckpointError(
            f"no shipped model is named {name!r}; the names are {sorted(WEIGHTS)}"
        )
    if root is not None:
        places = [Path(root)]
    elif os.environ.get(ENVIRONMENT_VARIABLE):
        places = [Path(os.environ[ENVIRONMENT_VARIABLE])]
    else:
        places = [CLONE_DIRECTORY]
    for place in places:
        path = place / entry.filename
        if path.is_file():
            found = sha256_file(path)
            if found != entry.sha256:
                raise CheckpointError(
                    f"{str(path)!r} is not the shipped {name!r}: its SHA-256 is {found}, "
                    f"the shipped file's {entry.sha256}"
                )
            return path
    looked = ", ".join(str(place / entry.filename) for place in places)
    raise CheckpointError(
        f"the shipped model {name!r} is not here (looked for {looked}); set "
        f"${ENVIRONMENT_VARIABLE} to a directory holding {entry.filename} (every clone "
        f"of the project has them all in pretrained/)"
    )


def resolve(source: str | os.PathLike[str]) -> Path:
    """The file ``source`` names: a path as it is, or, for a string that is no existing
    path and has neither a directory nor a suffix, a shipped model's name as
    :func:`weights_path` finds it (an unknown name is refused, listing the names).

    Examples
    --------
    >>> import dbn.weights
    >>> dbn.weights.resolve("my-dbn.safetensors")
    PosixPath('my-dbn.safetensors')
    """
    if isinstance(source, str) and not Path(source).exists():
        if os.sep not in source and "/" not in source and not Path(source).suffix:
            return weights_path(source)
    return Path(source)
