"""``dbn-loglik`` from a clone: ``python scripts/loglik.py --help``.

The program is :mod:`dbn.cli.loglik`; installing the package puts the same command on the
``PATH`` as ``dbn-loglik``.
"""

from dbn.cli.commands import loglik

loglik()
