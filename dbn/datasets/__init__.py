"""Data sets as tensors: MNIST (found, fetched or read offline) and scikit-learn's digits.

=========================  ==================================================
:func:`load_mnist`         MNIST's splits as floats in [0, 1], cached once
:func:`load_digits`        scikit-learn's 8x8 digits, split and scaled to [0, 1]
:func:`load_dataset`       either of them by name
:class:`DataSplit`         one split: ``x`` of shape (n, features), ``y`` of shape (n,)
=========================  ==================================================
"""

from dbn.datasets._loading import (
    DATASETS,
    DataSplit,
    DataUnavailableError,
    load_dataset,
    load_digits,
    load_mnist,
)

__all__ = [
    "DATASETS",
    "DataSplit",
    "DataUnavailableError",
    "load_dataset",
    "load_digits",
    "load_mnist",
]
