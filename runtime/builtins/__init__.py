"""DML's builtin functions, one module per family; importing this package registers them all."""
from . import (aggregates, casts, compression, construct, distinct, distributions, dnn,  # noqa: F401
               dynamic_calls, elementwise, existence, io, linalg, lists, output, paramserv, reorg,
               script_builtins, script_classifiers, script_cleaning, script_images, script_statistics,
               statistics)
from .registry import BUILTINS, Builtin, builtin  # noqa: F401
