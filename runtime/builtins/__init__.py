"""DML's builtin functions, one module per family; importing this package registers them all."""
from . import (aggregates, casts, construct, distinct, dnn, elementwise, io, linalg,  # noqa: F401
               lists, output, paramserv, reorg, statistics)
from .registry import BUILTINS, Builtin, builtin  # noqa: F401
