"""What programs built on dbn share with the library: seeded generators, JSON-able
configs and the argument checks behind every error message.

=============================  ======================================================
:func:`new_generator`          a ``torch.Generator`` on a device, seeded
:class:`PCG64Stream`           the CPU sampling stream of ``TrainConfig(rng="pcg64")``
:data:`RNG_STREAMS`            the streams ``TrainConfig.rng`` names
:func:`sampling_stream`        a new stream of one of them, seeded
:func:`uniform_`               fill a tensor with uniform numbers from either kind
:func:`scoped_global_seed`     seed torch's global generators for a block, then restore
:data:`MATMUL_CHOICES`         the product routes ``TrainConfig.matmul`` names
:class:`Products`              named products, each by its route (the fused step's)
:class:`LinearRoutes`          every ``nn.Linear`` by its layer's route (fine-tuning's)
:func:`linear_routes_for`      the :class:`LinearRoutes` a fine-tuning runs in, if any
:func:`chosen_routes`          the routes ``"auto"`` chose by timing in this process
:data:`SUBSET_SEED_STRIDE`     the seed stride that draws a label budget's subset
:class:`JSONConfig`            ``to_dict``/``from_dict``/``check_saved`` for a dataclass
:func:`check_int`              and the other ``check_*``: ``ValueError`` naming the value
=============================  ======================================================

The project's own programs (``scripts/``, ``studies/``) import these from here, never
from the private modules behind them.
"""

from dbn._utils.checks import (
    check_choice,
    check_device,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)
from dbn._utils.config import JSONConfig
from dbn._utils.pcg64 import PCG64Stream
from dbn._utils.products import (
    MATMUL_CHOICES,
    LinearRoutes,
    Products,
    chosen_routes,
    linear_routes_for,
)
from dbn._utils.rng import (
    RNG_STREAMS,
    SUBSET_SEED_STRIDE,
    new_generator,
    sampling_stream,
    scoped_global_seed,
    uniform_,
)

__all__ = [
    "JSONConfig",
    "LinearRoutes",
    "MATMUL_CHOICES",
    "PCG64Stream",
    "Products",
    "RNG_STREAMS",
    "SUBSET_SEED_STRIDE",
    "check_choice",
    "check_device",
    "check_fraction",
    "check_int",
    "check_nonnegative",
    "check_positive",
    "chosen_routes",
    "linear_routes_for",
    "new_generator",
    "sampling_stream",
    "scoped_global_seed",
    "uniform_",
]
