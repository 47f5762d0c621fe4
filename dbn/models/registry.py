"""Saved models by kind: the one place that turns a file back into a model.

Each model module registers the ``kind`` its ``save`` writes with the callable that
builds an empty model from the saved constructor arguments; :func:`load` reads a file
(:func:`dbn.io.safe_load`: checksummed, pickle-free), looks its kind up here, builds
the model on the meta device and puts the stored tensors in place. A training
checkpoint (kind ``"<model kind>-training"``) carries its model's constructor
arguments and weights too, so it loads as that model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dbn.io import FORMAT_VERSION, CheckpointError, safe_load
from dbn.weights import resolve

__all__ = ["TRAINING_SUFFIX", "load", "register"]

# A training checkpoint's kind is its model's kind with this suffix.
TRAINING_SUFFIX = "-training"

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_NAMES: dict[str, str] = {}


def register(kind: str, build: Callable[..., nn.Module], name: str) -> None:
    """Make files of ``kind`` load as ``build(**config)``.

    Parameters
    ----------
    kind : str
        What the model's ``save`` records as the file's ``"kind"``.
    build : callable
        Takes the saved constructor arguments (``config``) and returns the model.
    name : str
        The model in words, for messages ("a DBN").
    """
    if kind in _BUILDERS and _BUILDERS[kind] is not build:
        raise ValueError(f"kind {kind!r} is registered already")
    _BUILDERS[kind], _NAMES[kind] = build, name


def _config_and_state(blob: dict, kind: str) -> tuple[Any, Any]:
    """The constructor arguments and tensors of the model a file of ``kind`` holds."""
    trainer = blob.get("trainer")
    if kind.endswith(TRAINING_SUFFIX) and isinstance(trainer, dict) and "model_config" in trainer:
        return trainer["model_config"], trainer["model"]
    return blob["config"], blob["state"]


def load(path: str | os.PathLike[str], expect: type | tuple[type, ...] | None = None) -> Any:
    """Load what a model's ``save``, a training checkpoint or
    :func:`dbn.models.export.save_classifier` wrote, without running code.

    Parameters
    ----------
    path : path or str
        A file, or the name of a shipped model (a key of :data:`dbn.weights.WEIGHTS`,
        such as ``"mnist-784-500-500-2000"``), found and verified by
        :func:`dbn.weights.weights_path`.
    expect : type or tuple of type, optional
        What the caller needs (``DBN``, ``RBM``, ``nn.Sequential`` for a classifier,
        ``GenerativeDBN``, ``DBM``, ``DBMClassifier``): a file holding something else
        is refused with a :class:`~dbn.io.CheckpointError` naming the file, what it
        holds and what was expected.

    Returns
    -------
    nn.Module
        A DBN for ``dbn`` and ``dbn-training`` checkpoints, an RBM for ``rbm`` ones, a
        :class:`~dbn.models.GenerativeDBN` ready to ``predict`` and ``generate`` for
        ``generative-dbn`` ones, a :class:`~dbn.models.DBM` for ``dbm`` ones, a
        :class:`~dbn.models.DBMClassifier` in eval mode for ``dbm-classifier`` ones
        (images to logits), the model of a ``<kind>-training`` checkpoint, and for a
        ``classifier`` the ``nn.Sequential`` in eval mode: it maps (n, n_features)
        floats (in [0, 1] for MNIST) to (n, num_classes) logits. Its ``card``
        attribute holds the file's model card (a dict: what made it, the data it saw,
        its figures), or None.

    Raises
    ------
    dbn.io.CheckpointError
        For a missing, corrupt, unsafe or foreign file.

    Examples
    --------
    >>> import os, tempfile, dbn
    >>> path = os.path.join(tempfile.mkdtemp(), "dbn.safetensors")
    >>> _ = dbn.DBN([64, 32, 16]).save(path)
    >>> dbn.load(path).sizes
    [64, 32, 16]
    """
    path = resolve(path)
    blob = safe_load(path)
    kind = blob.get("kind")
    version = blob.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{str(path)!r} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} has format version {version}; this dbn reads up to {FORMAT_VERSION}. "
            f"Upgrade dbn."
        )
    model_kind = kind.removesuffix(TRAINING_SUFFIX) if isinstance(kind, str) else None
    if model_kind not in _BUILDERS:
        raise CheckpointError(f"{str(path)!r} is not a dbn checkpoint (kind {kind!r})")
    try:
        config, state = _config_and_state(blob, kind)
        # Built on the meta device: the declared sizes allocate nothing until the stored
        # tensors, checked against them, are put in place.
        with torch.device("meta"):
            model = _BUILDERS[model_kind](**config)
        model.load_state_dict(state, assign=True)
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        if isinstance(error, CheckpointError):
            raise
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise CheckpointError(f"{str(path)!r} does not hold a valid {kind}: {reason}") from None
    if expect is not None and not isinstance(model, expect):
        wanted = expect if isinstance(expect, tuple) else (expect,)
        names = " or ".join(_describe(cls) for cls in wanted)
        raise CheckpointError(f"{str(path)!r} holds {_NAMES[model_kind]}, not {names}")
    # what made the file, the data it saw, its figures (None for a file without a card)
    extra = blob.get("extra")
    model.card = extra.get("card") if isinstance(extra, dict) else None
    return model


def _describe(cls: type) -> str:
    """What a caller expects, in words: the name a registered kind of it gave."""
    if issubclass(cls, nn.Sequential):
        return "a classifier"
    for kind, build in _BUILDERS.items():
        if build is cls:
            return _NAMES[kind]
    return f"a {cls.__name__}"
