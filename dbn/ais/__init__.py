"""Partition functions and log-likelihoods: exact enumeration, AIS and RAISE.

=================================  ==================================================
:func:`exact_log_partition`        log Z of a small RBM or DBM by enumeration
:func:`log_partition`              log Z by annealed importance sampling (:class:`AISResult`)
:func:`log_likelihood`             mean log p(v) of an RBM; a DBM's mean variational bound
:func:`reverse_log_likelihood`     RAISE's conservative estimate (:class:`RAISEResult`)
:func:`variational_bound`          a DBM's per-example mean-field lower bound on log p(v)
:func:`dbm_exact_log_likelihood`   a tiny DBM's exact per-example log p(v)
:func:`beta_schedule`              the inverse temperatures AIS anneals through
=================================  ==================================================
"""

from dbn.ais._common import MAX_ENUMERATED_UNITS, AISResult, beta_schedule
from dbn.ais.dbm import dbm_exact_log_likelihood, variational_bound
from dbn.ais.rbm import (
    RAISEResult,
    exact_log_partition,
    log_likelihood,
    log_partition,
    reverse_log_likelihood,
)

__all__ = [
    "AISResult",
    "MAX_ENUMERATED_UNITS",
    "RAISEResult",
    "beta_schedule",
    "dbm_exact_log_likelihood",
    "exact_log_partition",
    "log_likelihood",
    "log_partition",
    "reverse_log_likelihood",
    "variational_bound",
]
