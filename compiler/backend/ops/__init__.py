"""The op context functions, one module per family; importing this package registers them all."""
from . import conv, core, merge, norm, recurrent, spatial

__all__ = ["conv", "core", "merge", "norm", "recurrent", "spatial"]
