"""The layer handlers, one module per family; importing this package registers all of them."""
from . import activations, conv, core, merge, normalization, pooling, recurrent, reshaping

__all__ = ["activations", "conv", "core", "merge", "normalization", "pooling", "recurrent",
           "reshaping"]
