"""dbn: Restricted Boltzmann Machines and Deep Belief Networks on PyTorch."""

__version__ = "0.1.0"
