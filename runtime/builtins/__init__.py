"""DML's builtin functions, one module per family; importing this package registers them all."""
from . import (aggregates, casts, construct, dnn, elementwise, io, linalg, lists,  # noqa: F401
               output, paramserv, reorg, statistics)
from .registry import BUILTINS, Builtin, builtin  # noqa: F401
